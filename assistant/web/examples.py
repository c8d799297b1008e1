"""Example questions for an empty chat, made from the collection's own documents: their titles
and section headings (no language model; nothing is written in advance for any document).

The most recently indexed documents come first, so an upload changes the examples at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from assistant.types import DocumentRecord

MAX_EXAMPLES = 4
MAX_TOPIC_CHARS = 60
# Headings that name a part of a document rather than what it is about.
_GENERIC = {"contents", "table of contents", "references", "bibliography", "index", "appendix", "notes",
            "acknowledgements", "acknowledgments", "introduction", "summary", "abstract", "conclusion",
            "conclusions", "foreword", "preface", "copyright", "about", "overview", "untitled"}


def topic_of(text: str) -> str:
    """A title or heading as it reads inside a question ("" when it makes no good topic)."""
    text = " ".join(str(text or "").split()).strip(" .:;,-–—#*")
    text = re.sub(r"^(\d+(\.\d+)*|[IVX]+\.|chapter \d+[:.]?)\s+", "", text, flags=re.I)
    if len(text) < 3 or not re.search(r"[^\W\d_]{3}", text) or text.lower() in _GENERIC:
        return ""
    if len(text) > MAX_TOPIC_CHARS:
        text = text[:MAX_TOPIC_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
    return text


def name_of(doc: DocumentRecord) -> str:
    """What a document is called: its title, else its file name without the extension, tidied."""
    stem = Path(doc.source).stem if doc.kind == "file" else doc.source
    title = topic_of(doc.title)
    if title and title != stem:
        return title
    return topic_of(re.sub(r"[_-]+", " ", stem))


def questions(docs: Sequence[DocumentRecord], sections: dict[str, list[str]], limit: int = MAX_EXAMPLES) -> list[str]:
    """Up to ``limit`` questions: per document (newest first) one about the whole of it, then its
    headings in turn (``sections`` maps doc_id to headings in reading order)."""
    per_doc: list[list[str]] = []
    for doc in sorted(docs, key=lambda d: d.ingested_at, reverse=True):
        name = name_of(doc)
        if not name:
            continue
        asked = [f"What is “{name}” about?"]
        seen = {name.lower()}
        for heading in sections.get(doc.doc_id, []):
            topic = topic_of(heading.split(" › ")[-1])
            if topic and topic.lower() not in seen:
                seen.add(topic.lower())
                asked.append(f"What does “{name}” say about “{topic}”?" if len(docs) > 1
                             else f"What does it say about “{topic}”?")
        per_doc.append(asked)
    out: list[str] = []
    depth = 0
    while len(out) < limit and any(depth < len(q) for q in per_doc):
        for asked in per_doc:  # round robin: every document gets a turn before any gets two
            if depth < len(asked) and len(out) < limit:
                out.append(asked[depth])
        depth += 1
    return out


def heading_lines(text: str) -> list[str]:
    """Lines of a plain text that read as headings: alone between blank lines, a few capitalised
    words, no sentence punctuation at the end (how plain-text articles mark their sections)."""
    lines = (text or "").splitlines()
    out = []
    for i, line in enumerate(lines):
        line = line.strip()
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 >= len(lines) or not lines[i + 1].strip())
        words = line.split()
        if (alone and 2 <= len(words) <= 10 and len(line) <= 70 and line[0].isupper()
                and not line.endswith((".", "!", "?", ":", ";", ",")) and i + 1 < len(lines)):
            out.append(line)
    return out


def sections_of(chunks: Iterable[tuple[dict, str | None]]) -> dict[str, list[str]]:
    """doc_id -> its distinct section headings, in reading order, from the chunks' metadata (the
    section path) or, where a format has none, from heading-like lines of the chunk text."""
    found: dict[str, list[tuple[int, str]]] = {}
    for meta, text in chunks:
        ordinal = int(meta.get("ordinal", 0) or 0)
        section = str(meta.get("section") or "")
        headings = [section] if section else heading_lines(text or "")
        for heading in headings:
            found.setdefault(str(meta.get("doc_id", "")), []).append((ordinal, heading))
    out: dict[str, list[str]] = {}
    for doc_id, items in found.items():
        ordered = [s for _, s in sorted(items)]
        out[doc_id] = list(dict.fromkeys(ordered))
    return out


def examples_for(settings, docs: Sequence[DocumentRecord], limit: int = MAX_EXAMPLES) -> list[str]:
    """The example questions for the collection of ``settings`` holding ``docs``."""
    if not docs:
        return []
    from assistant.errors import AssistantError
    from assistant.index.store import Store

    try:
        col = Store(settings).open(settings.collection)
        sections = sections_of((meta, text) for _id, meta, text in col.scan(("metadatas", "documents")))
    except AssistantError:
        sections = {}
    return questions(docs, sections, limit)


__all__ = ["questions", "sections_of", "examples_for", "topic_of", "name_of"]
