"""Conversations that persist: SQLite in the data directory (``<data_dir>/conversations.sqlite3``).

Each conversation has an id, an owner (the logged-in user; "" without a login), a title (its
first question unless renamed), the collection it asks, times, and its turns, each with the full
``Answer`` (citations included, as ``Answer.to_dict()``). The web chat, the HTTP API and
``assistant history`` / ``assistant ask --conversation`` all read and write this one store.

The database uses a rollback journal (not WAL), so copying the data directory while nothing is
being written is a complete backup, as it is for the index.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.types import Answer, Citation

FILE_NAME = "conversations.sqlite3"
MAX_TITLE_CHARS = 120

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    collection TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated_at);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
"""


class ConversationNotFound(AssistantError):
    """No conversation with that id (for this user)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def answer_from_dict(d: dict[str, Any]) -> Answer:
    """The ``Answer`` back from ``Answer.to_dict()`` (unknown keys are ignored)."""
    known = set(Citation.__dataclass_fields__)

    def cites(items) -> list[Citation]:
        return [Citation(**{k: v for k, v in c.items() if k in known}) for c in items or []]

    return Answer(
        question=d.get("question", ""),
        text=d.get("answer", ""),
        citations=cites(d.get("citations")),
        abstained=bool(d.get("abstained", False)),
        related=cites(d.get("related")),
        timings_ms=dict(d.get("timings_ms") or {}),
        standalone_question=d.get("standalone_question", ""),
        backend=d.get("backend", "extractive"),
        unsupported=list(d.get("unsupported") or []),
        short_answer=str(d.get("short_answer") or ""),
        scope=dict(d.get("scope") or {}),
    )


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:16]


def title_for(question: str) -> str:
    text = " ".join(str(question).split())
    return text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1].rstrip() + "…"


@dataclass
class Conversation:
    id: str
    owner: str
    title: str
    collection: str
    created_at: str
    updated_at: str
    turns: int = 0
    answers: list[Answer] = field(default_factory=list)  # filled by ConversationStore.get

    def to_dict(self, with_turns: bool = True) -> dict[str, Any]:
        d = {
            "id": self.id,
            "title": self.title,
            "collection": self.collection,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "turns": self.turns,
        }
        if with_turns:
            d["messages"] = [a.to_dict() for a in self.answers]
        return d


class ConversationStore:
    """The conversations of one data directory. Thread-safe; several processes may share it."""

    def __init__(self, path: str | Path):
        path = Path(path)
        self.path = path / FILE_NAME if path.is_dir() or not path.suffix else path
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def for_settings(cls, settings) -> "ConversationStore":
        return cls(Path(settings.data_dir) / FILE_NAME)

    # --- plumbing --------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    try:
                        self.path.parent.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise AssistantError(f"cannot create {self.path.parent} for conversations: {exc}") from None
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise AssistantError(f"cannot open the conversation store {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        if not self._ready:
            with self._lock:
                try:
                    conn.executescript(SCHEMA)
                except sqlite3.DatabaseError as exc:
                    conn.close()
                    raise AssistantError(f"the conversation store {self.path} is unreadable: {exc}") from None
                self._ready = True
        return conn

    @staticmethod
    def _row(row: sqlite3.Row) -> Conversation:
        return Conversation(
            id=row["id"], owner=row["owner"], title=row["title"], collection=row["collection"],
            created_at=row["created_at"], updated_at=row["updated_at"], turns=row["turns"],
        )

    _SELECT = (
        "SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS turns FROM conversations c "
    )

    # --- the API ----------------------------------------------------------------------------
    def create(self, owner: str = "", collection: str = "", title: str = "", id: str | None = None) -> Conversation:
        now = _now()
        conv = Conversation(id or new_conversation_id(), owner or "", title_for(title), collection, now, now)
        with closing(self._connect()) as conn:
            conn.execute(
                "INSERT INTO conversations (id, owner, title, collection, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (conv.id, conv.owner, conv.title, conv.collection, now, now),
            )
        return conv

    def list(self, owner: str = "", limit: int = 200) -> list[Conversation]:
        """This owner's conversations, the most recently used first."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                self._SELECT + "WHERE c.owner = ? ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?",
                (owner or "", int(limit)),
            ).fetchall()
        return [self._row(r) for r in rows]

    def get(self, conversation_id: str, owner: str = "") -> Conversation:
        """The conversation with its answers; ``ConversationNotFound`` if it is not this owner's."""
        with closing(self._connect()) as conn:
            row = conn.execute(self._SELECT + "WHERE c.id = ? AND c.owner = ?", (str(conversation_id), owner or "")).fetchone()
            if row is None:
                raise ConversationNotFound(
                    f"no conversation {conversation_id!r}; list them with: assistant history"
                )
            conv = self._row(row)
            for t in conn.execute(
                "SELECT answer FROM turns WHERE conversation_id = ? ORDER BY n", (conv.id,)
            ).fetchall():
                conv.answers.append(answer_from_dict(json.loads(t["answer"])))
        return conv

    def add_turn(self, conversation_id: str, answer: Answer, owner: str = "") -> Conversation:
        """Append an answered question; the first one also names an untitled conversation."""
        now = _now()
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT title FROM conversations WHERE id = ? AND owner = ?", (str(conversation_id), owner or "")
                ).fetchone()
                if row is None:
                    raise ConversationNotFound(f"no conversation {conversation_id!r}; list them with: assistant history")
                (n,) = conn.execute(
                    "SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE conversation_id = ?", (conversation_id,)
                ).fetchone()
                conn.execute(
                    "INSERT INTO turns (conversation_id, n, question, answer, created_at) VALUES (?,?,?,?,?)",
                    (conversation_id, n, answer.question, json.dumps(answer.to_dict(), ensure_ascii=False), now),
                )
                title = row["title"] or title_for(answer.question)
                conn.execute(
                    "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?", (title, now, conversation_id)
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return self.get(conversation_id, owner)

    def rename(self, conversation_id: str, title: str, owner: str = "") -> Conversation:
        title = title_for(title)
        if not title:
            raise AssistantError("the new title is empty")
        with closing(self._connect()) as conn:
            cur = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title, str(conversation_id), owner or "")
            )
            if cur.rowcount == 0:
                raise ConversationNotFound(f"no conversation {conversation_id!r}; list them with: assistant history")
        return self.get(conversation_id, owner)

    def delete(self, conversation_id: str, owner: str = "") -> None:
        with closing(self._connect()) as conn:
            cur = conn.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (str(conversation_id), owner or ""))
            if cur.rowcount == 0:
                raise ConversationNotFound(f"no conversation {conversation_id!r}; list them with: assistant history")


# --- exports ------------------------------------------------------------------------------------
def sources_markdown(answer: Answer) -> str:
    """The numbered sources of an answer as a Markdown list (empty when it cites none)."""
    lines = []
    for c in answer.citations:
        where = Path(c.source).name or c.source
        where += f", page {c.page}" if c.page else ""
        quote = " ".join(c.quote.split())
        lines.append(f'{c.n}. **{where}**: "{quote}"')
    return "\n".join(lines)


def to_markdown(conv: Conversation) -> str:
    out = [f"# {conv.title or 'Conversation'}", "",
           f"Collection `{conv.collection}` · started {conv.created_at} · {conv.turns} questions", ""]
    for a in conv.answers:
        out += [f"## {a.question}", "", a.text, ""]
        sources = sources_markdown(a)
        if sources:
            out += ["Sources:", "", sources, ""]
    return "\n".join(out).rstrip() + "\n"


def to_json(conv: Conversation) -> str:
    return json.dumps(conv.to_dict(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "Conversation",
    "ConversationNotFound",
    "ConversationStore",
    "answer_from_dict",
    "sources_markdown",
    "to_json",
    "to_markdown",
]
