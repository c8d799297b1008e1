"""Turn a file into text: one function per format, chosen by the file's suffix.

Each reader returns a ``ParsedDocument`` (title and text sections, with page numbers for
paged formats, section paths and tables) or raises ``Unreadable`` with a one-line reason the
user can act on. Text formats are in ``ingest.textformats``, PDF in ``ingest.pdf``, the rest in
``ingest.formats``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ingest import formats
from ingest.document import SECTION_SEPARATOR, ParsedDocument, Section, Unreadable
from ingest.document import title_from_name as _title_from_name
from ingest.textformats import decode_text, read_docx, read_html, read_markdown, read_pdf, read_text

__all__ = ["SECTION_SEPARATOR", "ParsedDocument", "Section", "Unreadable", "READERS", "SUPPORTED_SUFFIXES",
           "parse", "decode_text"]

READERS: dict[str, Callable[[Path, bytes], ParsedDocument]] = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    **formats.READERS,
    # an e-mail's attachments are read as documents of their own kind
    ".eml": lambda path, data: formats.read_eml(path, data, parse),
}

SUPPORTED_SUFFIXES = tuple(sorted(READERS))


def parse(path: Path, data: bytes) -> ParsedDocument:
    """Parse file bytes by the file's suffix; raises ``Unreadable`` with the reason."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise Unreadable(f"unsupported file type {path.suffix or '(no extension)'}")
    if not data:
        raise Unreadable("empty file")
    try:
        doc = reader(path, data)
    except Unreadable:
        raise
    except RecursionError:
        raise Unreadable("document too deeply nested to parse") from None
    except MemoryError:
        raise Unreadable("document too large to parse in memory") from None
    except Exception as exc:  # a damaged file must cost that file only, never the whole ingest
        detail = " ".join(str(exc).split())[:80]
        raise Unreadable(
            f"cannot parse this {path.suffix.lower()} file ({type(exc).__name__}{': ' + detail if detail else ''})"
        ) from None
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise Unreadable("no text")
    doc.title = re.sub(r"\s+", " ", doc.title).strip()[:300] or _title_from_name(path)
    return doc
