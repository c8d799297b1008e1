"""The data that crosses layers: chunks in the index, retrieval hits, answers and their citations.

Every consumer (CLI, web UI, ``ask()``, the eval harness) reads the same ``Answer``;
``Answer.to_dict()`` is the JSON schema printed by ``assistant ask --json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A passage of one document as stored in the index.

    ``text`` is exactly ``document_text[start:end]`` of the document it came from.
    """

    id: str
    doc_id: str
    text: str
    source: str  # file path or a corpus id; what the user recognises
    title: str
    ordinal: int  # position of the chunk within its document, from 0
    start: int
    end: int
    page: int | None = None  # 1-based page for paged formats (PDF)
    section: str = ""  # section path in the document ("Install › On Linux"), "" if none
    page_label: str | None = None  # the printed page number where it differs from ``page``


@dataclass
class Hit:
    """A chunk returned by retrieval for a query.

    ``score`` is the cosine similarity of the chunk to the query (what users see);
    ``fused`` is the fusion score that ordered the hits (see assistant/retrieve/retriever.py).
    """

    chunk: Chunk
    score: float
    fused: float = 0.0
    dense_rank: int | None = None  # 1-based rank in the dense list, None if absent
    keyword_rank: int | None = None  # 1-based rank in the BM25 list, None if absent


@dataclass
class Citation:
    """A numbered reference from an answer's ``[n]`` marker to the passage that supports it."""

    n: int
    source: str
    title: str
    page: int | None
    chunk_id: str
    quote: str  # the supporting text, taken verbatim from the chunk
    score: float  # cosine similarity of the chunk to the question
    ordinal: int = 0  # chunk ordinal within its document
    passage: str = ""  # the whole chunk, for "show me the passage"
    section: str = ""  # section path of the passage ("Install › On Linux"), "" if none
    page_label: str | None = None  # the printed page number where it differs from ``page``
    # The exact words that answer, as character offsets into ``passage`` (the reader's span).
    span_start: int | None = None
    span_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def place(self) -> list[str]:
        """Where in its file the passage is, as shown after the file name: the section path
        and the page ("page 29, printed 21")."""
        parts = [self.section] if self.section else []
        if self.page:
            page = f"page {int(self.page)}"
            if self.page_label and self.page_label != str(self.page):
                page += f", printed {self.page_label}"
            parts.append(page)
        return parts


@dataclass
class Answer:
    """What the assistant says about a question, with the evidence for it."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    # When abstaining, the closest passages found, so the user can look for themselves.
    related: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The query actually used for retrieval (differs from ``question`` for follow-ups).
    standalone_question: str = ""
    backend: str = "extractive"
    # Sentences of a generated answer that no passage supports: shown without a citation.
    unsupported: list[str] = field(default_factory=list)
    # The answer in a few words, verbatim from a passage (the reader's span), e.g. "over 85
    # targets"; "" when abstaining or when no span stands out. ``text`` holds the sentences.
    short_answer: str = ""
    # The scope the question was asked within (``Scope.to_dict()``); empty: the whole collection.
    scope: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "short_answer": self.short_answer,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "standalone_question": self.standalone_question or self.question,
            "backend": self.backend,
            "unsupported": list(self.unsupported),
            **({"scope": dict(self.scope)} if self.scope else {}),
        }


@dataclass
class DocumentRecord:
    """One indexed document, as listed by ``assistant sources``."""

    doc_id: str
    source: str
    title: str
    content_hash: str
    chunks: int  # chunks present in the index
    expected_chunks: int  # chunks the document was split into
    ingested_at: str
    kind: str = "file"  # "file" for paths on disk, "record" for corpus records (eval)
    # Metadata every chunk of the document carries (scopes filter on it; see assistant/index/scope.py).
    folder: str = ""  # the directory holding the file ("" for records)
    file_type: str = ""  # extension without the dot: "pdf", "md" ("" for records)
    modified: float = 0.0  # the file's modification time, seconds since the epoch (0: unknown)
    tags: list[str] = field(default_factory=list)  # given at ingest or by `assistant tag`

    @property
    def complete(self) -> bool:
        """False when an ingest was interrupted half way through this document."""
        return self.chunks == self.expected_chunks

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["complete"] = self.complete
        d["modified_at"] = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.modified))
                            if self.modified else "")
        return d
