"""Turn a file into text: one function per format.

Each reader returns a ``ParsedDocument`` (title and text sections, with page numbers for
paged formats) or raises ``Unreadable`` with a one-line reason the user can act on.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable


class Unreadable(Exception):
    """This file cannot be ingested; the message says why, in one line."""


@dataclass
class Section:
    text: str
    page: int | None = None


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)

    @property
    def text(self) -> str:
        return SECTION_SEPARATOR.join(s.text for s in self.sections)


SECTION_SEPARATOR = "\n\n"


def _title_from_name(path: Path) -> str:
    return path.stem


def decode_text(data: bytes) -> str:
    """Bytes of a text file to str: UTF-8 (with or without BOM), else the detected encoding.

    Files that look binary (NUL bytes, many control characters) are refused.
    """
    if not data.strip():
        raise Unreadable("empty file")
    sample = data[:8192]
    # UTF-16/32 files have BOMs and NULs; accept them before the binary check.
    for bom, enc in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                     (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if sample.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                raise Unreadable(f"bad {enc} text") from None
    if b"\x00" in sample:
        raise Unreadable("binary content (not a text file)")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    if controls > len(sample) * 0.05:
        raise Unreadable("binary content (not a text file)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if _UTF8_MULTIBYTE.search(data):
        # Mixed encodings (text pasted together from different sources): keep every valid
        # UTF-8 sequence and read each stray byte as Windows-1252, the usual legacy part.
        return data.decode("utf-8", errors=_LEGACY_BYTES).removeprefix("\ufeff")
    try:
        from charset_normalizer import from_bytes

        matches = [m for m in from_bytes(data) if m.encoding]
        if matches:
            # Short texts fit many code pages equally well; among the equally good ones,
            # Windows-1252 (Western Europe, the commonest legacy text) wins.
            top = min((m.chaos, -m.coherence) for m in matches)
            tied = [m for m in matches if (m.chaos, -m.coherence) == top]
            return str(next((m for m in tied if m.encoding == "cp1252"), tied[0]))
    except ImportError:  # pragma: no cover
        pass
    return data.decode("utf-8", errors="replace")


# A well-formed non-ASCII UTF-8 sequence: evidence that (part of) the file is UTF-8.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_LEGACY_BYTES = "assistant-legacy-bytes"


def _legacy_bytes(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start : err.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), err.end


codecs.register_error(_LEGACY_BYTES, _legacy_bytes)


def read_text(path: Path, data: bytes) -> ParsedDocument:
    return ParsedDocument(_title_from_name(path), [Section(decode_text(data))])


_MD_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


def read_markdown(path: Path, data: bytes) -> ParsedDocument:
    text = decode_text(data)
    fm = _FRONT_MATTER.match(text)
    title = None
    if fm:
        m = re.search(r"^title:\s*[\"']?(.+?)[\"']?\s*$", fm.group(0), re.MULTILINE)
        title = m.group(1) if m else None
        # Blank out the front matter so offsets still point into the original file.
        text = " " * fm.end() + text[fm.end():]
    if title is None:
        m = _MD_HEADING.search(text)
        title = m.group(1).strip() if m else _title_from_name(path)
    if not text.strip():
        raise Unreadable("no text")
    return ParsedDocument(title, [Section(text)])


_BLOCK_TAGS = (
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "figcaption",
)


_SKIPPED_TAGS = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}


class _HTMLText(HTMLParser):
    """Visible text of an HTML page in one pass (linear even for absurdly nested pages):
    block elements start new lines; scripts, styles and the head are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []  # open skipped elements, innermost last
        self.title: list[str] | None = None  # collecting while inside <title>
        self.title_text = ""
        self.h1: list[str] | None = None
        self.h1_text = ""

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title" and not self.title_text and self.skipping in ([], ["head"]):  # not an <svg> title
            self.title = []
        elif tag in _SKIPPED_TAGS:
            self.skipping.append(tag)
        elif tag == "h1" and not self.h1_text and not self.skipping:
            self.h1 = []
        if tag in _BLOCK_TAGS and not self.skipping:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCK_TAGS and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.title is not None:
            self.title_text, self.title = " ".join("".join(self.title).split()), None
        elif tag in _SKIPPED_TAGS and tag in self.skipping:
            del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag):]
        elif tag == "h1" and self.h1 is not None:
            self.h1_text, self.h1 = " ".join("".join(self.h1).split()), None
        if tag in _BLOCK_TAGS and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.title is not None:
            self.title.append(data)
            return
        if self.skipping:
            return
        if self.h1 is not None:
            self.h1.append(data)
        self.parts.append(data)


def read_html(path: Path, data: bytes) -> ParsedDocument:
    parser = _HTMLText()
    parser.feed(decode_text(data))
    parser.close()
    lines = [re.sub(r"[ \t\r\f\v]+", " ", ln).strip() for ln in "".join(parser.parts).splitlines()]
    body = "\n".join(lines)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    if not body:
        raise Unreadable("no visible text in the HTML")
    title = parser.title_text or parser.h1_text or _title_from_name(path)
    return ParsedDocument(title, [Section(body)])


def read_pdf(path: Path, data: bytes) -> ParsedDocument:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly on odd files
    if not data.strip():
        raise Unreadable("empty file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except DependencyError:
                raise Unreadable("encrypted PDF (AES): install the cryptography package to read it") from None
            except Exception:
                ok = 0
            if not ok:
                raise Unreadable("encrypted PDF (needs a password)")
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception:
                text = ""
            text = text.replace("\x00", "").strip()
            if text:
                sections.append(Section(text, page=number))
        meta_title = ""
        try:
            meta_title = (reader.metadata.title or "") if reader.metadata else ""
        except Exception:
            pass
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AssertionError, IndexError) as exc:
        raise Unreadable(f"corrupt or truncated PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise Unreadable(f"corrupt PDF ({type(exc).__name__})") from None
    if not sections:
        raise Unreadable("no extractable text in the PDF (scanned images need OCR)")
    return ParsedDocument(str(meta_title).strip() or _title_from_name(path), sections)


def read_docx(path: Path, data: bytes) -> ParsedDocument:
    import io
    import zipfile

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise Unreadable("not a valid .docx (not a zip archive)")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise Unreadable(f"corrupt .docx ({type(exc).__name__})") from None
    blocks: list[str] = []
    title = ""
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if not title and style in ("Title", "Heading 1"):
            title = text
        blocks.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                blocks.append(" | ".join(dict.fromkeys(cells)))
    try:
        title = (document.core_properties.title or "").strip() or title
    except Exception:
        pass
    if not blocks:
        raise Unreadable("no text in the .docx")
    return ParsedDocument(title or _title_from_name(path), [Section("\n\n".join(blocks))])


READERS: dict[str, Callable[[Path, bytes], ParsedDocument]] = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
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
