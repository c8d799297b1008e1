"""Readers of text formats: plain text (with encoding detection), Markdown, HTML, docx; and
the PDF reader's entry point. Registered in ``ingest.readers``."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

from ingest.document import (
    SECTION_SEPARATOR,
    HeadingStack,
    ParsedDocument,
    Section,
    Unreadable,
    title_from_name as _title_from_name,
    zip_or_refuse,
)
from ingest.tables import markdown_rows, table_text



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
_MD_ANY_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


def read_markdown(path: Path, data: bytes) -> ParsedDocument:
    text = decode_text(data)
    fm = _FRONT_MATTER.match(text)
    title = None
    if fm:
        m = re.search(r"^title:\s*[\"']?(.+?)[\"']?\s*$", fm.group(0), re.MULTILINE)
        title = m.group(1) if m else None
        text = text[fm.end():]
    if title is None:
        m = _MD_HEADING.search(text)
        title = m.group(1).strip() if m else _title_from_name(path)
    if not text.strip():
        raise Unreadable("no text")
    return ParsedDocument(title, markdown_sections(text))


def markdown_sections(text: str) -> list[Section]:
    """Markdown cut at its ATX headings (outside code fences), each part with its section path."""
    stack = HeadingStack()
    sections: list[Section] = []
    lines = text.splitlines(keepends=True)
    start, fenced, path = 0, False, ""
    pos = 0
    for line in lines:
        if _MD_FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _MD_ANY_HEADING.match(line.rstrip("\n"))
        if m:
            if text[start:pos].strip():
                sections.append(Section(text[start:pos].strip("\n"), heading=path))
            stack.push(len(m.group(1)), m.group(2).strip())
            path, start = stack.path, pos
        pos += len(line)
    if text[start:].strip():
        sections.append(Section(text[start:].strip("\n"), heading=path))
    return sections


_BLOCK_TAGS = (
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "figcaption",
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


_SKIPPED_TAGS = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}


class _HTMLText(HTMLParser):
    """Visible text of an HTML page in one pass (linear even for absurdly nested pages):
    block elements start new lines; scripts, styles and the head are left out; headings cut
    the text into sections; tables become Markdown rows in their place."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []  # open skipped elements, innermost last
        self.title: list[str] | None = None  # collecting while inside <title>
        self.title_text = ""
        self.h1: list[str] | None = None
        self.h1_text = ""
        self.sections: list[Section] = []
        self.stack = HeadingStack()
        self.heading: tuple[int, list[str]] | None = None  # open heading: level, its text
        self.table_depth = 0
        self.rows: list[list[str]] = []

    def _flush(self) -> None:
        body = _tidy("".join(self.parts))
        if body:
            self.sections.append(Section(body, heading=self.stack.path))
        self.parts = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title" and not self.title_text and self.skipping in ([], ["head"]):  # not an <svg> title
            self.title = []
        elif tag in _SKIPPED_TAGS:
            self.skipping.append(tag)
        elif tag == "h1" and not self.h1_text and not self.skipping:
            self.h1 = []
        if self.skipping:
            return
        if tag == "table":
            self.table_depth += 1
            if self.table_depth == 1:
                self._flush()
                self.rows = []
            return
        if self.table_depth:
            if self.table_depth == 1 and tag == "tr":
                self.rows.append([])
            elif self.table_depth == 1 and tag in ("td", "th"):
                if not self.rows:
                    self.rows.append([])
                self.rows[-1].append("")
            elif tag in _BLOCK_TAGS and self.rows and self.rows[-1]:
                self.rows[-1][-1] += " "
            return
        if tag in _HEADINGS:
            self._flush()
            self.heading = (_HEADINGS[tag], [])
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCK_TAGS and not self.skipping and not self.table_depth:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.title is not None:
            self.title_text, self.title = " ".join("".join(self.title).split()), None
        elif tag in _SKIPPED_TAGS and tag in self.skipping:
            del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag):]
        elif tag == "h1" and self.h1 is not None:
            self.h1_text, self.h1 = " ".join("".join(self.h1).split()), None
        if self.skipping:
            return
        if tag == "table" and self.table_depth:
            self.table_depth -= 1
            if self.table_depth == 0:
                self._table()
            return
        if self.table_depth:
            return
        if tag in _HEADINGS and self.heading is not None:
            level, words = self.heading
            self.heading = None
            self.stack.push(level, "".join(words))
            self.parts = [" ".join("".join(words).split()), "\n"]  # the heading starts its section
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def _table(self) -> None:
        rows = [r for r in self.rows if any(c.strip() for c in r)]
        self.rows = []
        widths = {len([c for c in r if c.strip()]) for r in rows}
        if len(rows) < 2 or max(widths, default=0) < 2:  # a layout table: its text as lines
            self.parts.extend("\n" + " ".join(c.strip() for c in r if c.strip()) + "\n" for r in rows)
            return
        md = markdown_rows(rows)
        if md:
            self.sections.append(Section(table_text(*md), heading=self.stack.path, table_header=md[0]))

    def handle_data(self, data: str) -> None:
        if self.title is not None:
            self.title.append(data)
            return
        if self.skipping:
            return
        if self.h1 is not None:
            self.h1.append(data)
        if self.table_depth:
            if self.rows and self.rows[-1]:
                self.rows[-1][-1] += data
            return
        if self.heading is not None:
            self.heading[1].append(data)
            return
        self.parts.append(data)

    def close(self) -> None:
        super().close()
        if self.table_depth:
            self._table()
        self._flush()


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\r\f\v]+", " ", ln).strip() for ln in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_document(html: str, fallback_title: str) -> ParsedDocument:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    if not parser.sections:
        raise Unreadable("no visible text in the HTML")
    return ParsedDocument(parser.title_text or parser.h1_text or fallback_title, parser.sections)


def read_html(path: Path, data: bytes) -> ParsedDocument:
    return html_document(decode_text(data), _title_from_name(path))


def read_pdf(path: Path, data: bytes) -> ParsedDocument:
    from ingest.pdf import read_pdf as read

    return read(path, data)


def read_docx(path: Path, data: bytes) -> ParsedDocument:
    import io
    zip_or_refuse(data, ".docx")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise Unreadable(f"corrupt .docx ({type(exc).__name__})") from None
    from docx.table import Table

    sections: list[Section] = []
    stack = HeadingStack()
    blocks: list[str] = []
    title = ""

    def flush() -> None:
        if blocks:
            sections.append(Section("\n\n".join(blocks), heading=stack.path))
            blocks.clear()

    # Paragraphs and tables in document order: a table stays where it is.
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = [c.text for c in row.cells]
                # merged cells repeat: keep each once
                rows.append([c if i == 0 or c != cells[i - 1] else "" for i, c in enumerate(cells)])
            md = markdown_rows(rows)
            if md:
                flush()
                sections.append(Section(table_text(*md), heading=stack.path, table_header=md[0]))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if not title and style in ("Title", "Heading 1"):
            title = text
        level = _docx_heading_level(style)
        if level:
            flush()
            stack.push(level, text)
        blocks.append(text)
    flush()
    try:
        title = (document.core_properties.title or "").strip() or title
    except Exception:
        pass
    if not sections:
        raise Unreadable("no text in the .docx")
    return ParsedDocument(title or _title_from_name(path), sections)


def _docx_heading_level(style: str) -> int:
    m = re.fullmatch(r"Heading (\d)", style)
    return int(m.group(1)) if m else 0
