"""Readers for more formats, each through a well-kept library: images (Tesseract OCR), .pptx
(python-pptx, slides as pages), .xlsx (openpyxl) and .csv (sheet and row), .epub (ebooklib),
.odt (odfpy), .rtf (striprtf), .eml (the standard library's email; attachments read as
documents of their own kind), .ipynb (nbformat: markdown and code cells)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ingest import ocr
from ingest.document import (HEADING_SEPARATOR, HeadingStack, ParsedDocument, Section, Unreadable, title_from_name,
                             zip_or_refuse)
from ingest.tables import markdown_rows, table_text

MAX_SHEET_ROWS = 100_000  # rows read from one sheet; the rest is left out


# --- images -----------------------------------------------------------------------------

def read_image(path: Path, data: bytes) -> ParsedDocument:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise Unreadable(f"corrupt or unreadable image ({type(exc).__name__})") from None
    frames = max(getattr(image, "n_frames", 1), 1)  # a multi-page TIFF: one page a frame

    def frame(i: int):
        def make():
            image.seek(i)
            return image.convert("L")
        return make

    try:
        texts = ocr.ocr_images(data, path.name, [(i, frame(i)) for i in range(frames)], frames)
    except ocr.OCRUnavailable as exc:
        raise Unreadable(f"an image needs OCR: {exc}") from None
    sections = [Section(texts[i].strip(), page=i + 1 if frames > 1 else None) for i in range(frames)]
    sections = [s for s in sections if s.text]
    if not sections:
        raise Unreadable("no text found in the image (OCR read nothing)")
    return ParsedDocument(title_from_name(path), sections)


# --- slides -----------------------------------------------------------------------------

def read_pptx(path: Path, data: bytes) -> ParsedDocument:
    zip_or_refuse(data, ".pptx")
    try:
        from pptx import Presentation

        deck = Presentation(io.BytesIO(data))
    except Exception as exc:
        raise Unreadable(f"corrupt .pptx ({type(exc).__name__})") from None
    sections: list[Section] = []
    first_title = ""
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = " ".join((title_shape.text_frame.text if title_shape is not None and title_shape.has_text_frame else "").split())
        first_title = first_title or title
        heading = title or f"Slide {number}"
        lines: list[str] = []
        tables: list[Section] = []
        for shape in slide.shapes:
            if getattr(shape, "has_table", False) and shape.has_table:
                md = markdown_rows([[c.text for c in row.cells] for row in shape.table.rows])
                if md:
                    tables.append(Section(table_text(*md), page=number, heading=heading, table_header=md[0]))
            elif shape.has_text_frame:
                text = shape.text_frame.text.strip()
                if text:
                    lines.append(text)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                lines.append("Notes: " + notes)
        if lines:
            sections.append(Section("\n".join(lines), page=number, heading=heading))
        sections.extend(tables)
    title = ""
    try:
        title = (deck.core_properties.title or "").strip()
    except Exception:
        pass
    return ParsedDocument(title or first_title or title_from_name(path), sections)


# --- spreadsheets -------------------------------------------------------------------------

def _sheet_sections(name: str, rows: Iterable[Sequence[object]], heading_prefix: str = "") -> list[Section]:
    """A sheet as one table: its first row with text is the header; each row keeps its row
    number in the first column, so a citation says sheet and row."""
    numbered: list[list[object]] = []
    for number, row in enumerate(rows, start=1):
        if number > MAX_SHEET_ROWS:
            break
        values = ["" if v is None else v for v in row]
        if any(str(v).strip() for v in values):
            numbered.append([number, *values])
    if not numbered:
        return []
    numbered[0][0] = "row"
    md = markdown_rows(numbered)
    if not md:
        return []
    return [Section(table_text(*md), heading=heading_prefix + name, table_header=md[0])]


def read_xlsx(path: Path, data: bytes) -> ParsedDocument:
    zip_or_refuse(data, ".xlsx")
    try:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise Unreadable(f"corrupt .xlsx ({type(exc).__name__})") from None
    sections: list[Section] = []
    try:
        for sheet in book.worksheets:
            sections.extend(_sheet_sections(f"sheet {sheet.title}", sheet.iter_rows(values_only=True)))
        title = (book.properties.title or "").strip() if book.properties else ""
    finally:
        book.close()
    if not sections:
        raise Unreadable("no cells with text in the workbook")
    return ParsedDocument(title or title_from_name(path), sections)


def read_csv(path: Path, data: bytes) -> ParsedDocument:
    from ingest.textformats import decode_text

    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    sections = _sheet_sections(path.name, rows)
    if not sections:
        raise Unreadable("no cells with text in the CSV")
    return ParsedDocument(title_from_name(path), sections)


# --- e-books and office text ------------------------------------------------------------

def read_epub(path: Path, data: bytes) -> ParsedDocument:
    zip_or_refuse(data, ".epub")
    import tempfile
    import warnings

    from ingest.textformats import decode_text, html_document

    try:
        import ebooklib
        from ebooklib import epub

        with tempfile.NamedTemporaryFile(suffix=".epub") as fh:  # ebooklib reads from a path
            fh.write(data)
            fh.flush()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                book = epub.read_epub(fh.name, options={"ignore_ncx": True})
    except Exception as exc:
        raise Unreadable(f"corrupt .epub ({type(exc).__name__})") from None
    sections: list[Section] = []
    # Chapters in reading order (the spine); each chapter's headings give its section path.
    items = [book.get_item_with_id(idref) for idref, _ in book.spine]
    items = [i for i in items if i is not None and i.get_type() == ebooklib.ITEM_DOCUMENT
             and "nav" not in (getattr(i, "properties", None) or [])]  # the table of contents is not text
    for number, item in enumerate(items, start=1):
        try:
            doc = html_document(decode_text(item.get_content()), "")
        except Unreadable:
            continue
        sections.extend(doc.sections)
    titles = book.get_metadata("DC", "title")
    if not sections:
        raise Unreadable("no text in the .epub")
    return ParsedDocument((titles[0][0] if titles else "") or title_from_name(path), sections)


def read_odt(path: Path, data: bytes) -> ParsedDocument:
    zip_or_refuse(data, ".odt")
    try:
        from odf import opendocument, teletype
        from odf.namespaces import TABLENS, TEXTNS

        document = opendocument.load(io.BytesIO(data))
    except Exception as exc:
        raise Unreadable(f"corrupt .odt ({type(exc).__name__})") from None
    sections: list[Section] = []
    stack = HeadingStack()
    blocks: list[str] = []

    def flush() -> None:
        if blocks:
            sections.append(Section("\n\n".join(blocks), heading=stack.path))
            blocks.clear()

    def walk(node) -> None:
        for child in node.childNodes:
            qname = getattr(child, "qname", None)
            if qname == (TEXTNS, "h"):
                text = teletype.extractText(child).strip()
                level = int(child.getAttrNS(TEXTNS, "outline-level") or 1)
                flush()
                stack.push(level, text)
                if text:
                    blocks.append(text)
            elif qname == (TEXTNS, "p"):
                text = teletype.extractText(child).strip()
                if text:
                    blocks.append(text)
            elif qname == (TABLENS, "table"):
                rows = []
                for row in child.getElementsByType(_odf_table_row()):
                    rows.append([teletype.extractText(c) for c in row.childNodes if getattr(c, "qname", None) == (TABLENS, "table-cell")])
                md = markdown_rows(rows)
                if md:
                    flush()
                    sections.append(Section(table_text(*md), heading=stack.path, table_header=md[0]))
            elif qname is not None:
                walk(child)

    walk(document.text)
    flush()
    if not sections:
        raise Unreadable("no text in the .odt")
    title = ""
    try:
        from odf.dc import Title

        found = document.meta.getElementsByType(Title)
        title = teletype.extractText(found[0]).strip() if found else ""
    except Exception:
        pass
    return ParsedDocument(title or title_from_name(path), sections)


def _odf_table_row():
    from odf.table import TableRow

    return TableRow


def read_rtf(path: Path, data: bytes) -> ParsedDocument:
    from striprtf.striprtf import rtf_to_text

    raw = data.decode("latin-1")  # RTF is 7-bit with escapes; latin-1 never fails
    if not raw.lstrip().startswith("{\\rtf"):
        raise Unreadable("not an RTF file (no {\\rtf header)")
    text = rtf_to_text(raw, errors="ignore").strip()
    if not text:
        raise Unreadable("no text in the RTF")
    return ParsedDocument(title_from_name(path), [Section(text)])


# --- mail and notebooks ---------------------------------------------------------------

def read_eml(path: Path, data: bytes, parse: Callable[[Path, bytes], ParsedDocument]) -> ParsedDocument:
    """An e-mail: its headers, its body, and each attachment read by ``parse`` (by its name)."""
    from email import policy
    from email.parser import BytesParser

    from ingest.textformats import html_document

    msg = BytesParser(policy=policy.default).parsebytes(data)
    if not any(msg.get(h) for h in ("From", "To", "Subject", "Date")):
        raise Unreadable("not an e-mail message (no From, To, Subject or Date header)")
    subject = " ".join(str(msg.get("Subject", "")).split())
    headers = "\n".join(f"{h}: {' '.join(str(msg[h]).split())}" for h in ("From", "To", "Cc", "Date", "Subject") if msg.get(h))
    sections = [Section(headers, heading=subject)]
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        content = body.get_content()
        if body.get_content_subtype() == "html":
            try:
                sections.extend(Section(s.text, heading=HEADING_SEPARATOR.join(p for p in (subject, s.heading) if p))
                                for s in html_document(content, "").sections)
            except Unreadable:
                pass
        elif content.strip():
            sections.append(Section(content.strip(), heading=subject))
    for part in msg.iter_attachments():
        name = part.get_filename() or ""
        payload = part.get_payload(decode=True) or b""
        if not name or not payload:
            continue
        heading = HEADING_SEPARATOR.join(p for p in (subject, f"attachment {name}") if p)
        try:
            doc = parse(Path(name), payload)
        except Unreadable:
            continue  # an attachment we cannot read costs that attachment only
        for s in doc.sections:
            sections.append(Section(s.text, s.page, HEADING_SEPARATOR.join(p for p in (heading, s.heading) if p),
                                    s.page_label, s.table_header))
    return ParsedDocument(subject or title_from_name(path), sections)


def read_ipynb(path: Path, data: bytes) -> ParsedDocument:
    import nbformat

    from ingest.textformats import decode_text, markdown_sections

    try:
        nb = nbformat.reads(decode_text(data), as_version=4)
    except Exception as exc:
        raise Unreadable(f"corrupt notebook ({type(exc).__name__})") from None
    sections: list[Section] = []
    path_now = ""
    stack = HeadingStack()
    first_heading = ""
    for n, cell in enumerate(nb.cells, start=1):
        source = (cell.get("source") or "").strip()
        if not source:
            continue
        if cell.cell_type == "markdown":
            for s in markdown_sections(source):
                # headings inside a cell continue the notebook's own heading path
                m = re.match(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", s.text.split("\n", 1)[0])
                if m:
                    stack.push(len(m.group(1)), m.group(2))
                    path_now = stack.path
                    first_heading = first_heading or m.group(2).strip()
                sections.append(Section(s.text, heading=path_now))
        elif cell.cell_type == "code":
            lang = (nb.metadata.get("kernelspec", {}) or {}).get("language", "") or "python"
            text = f"```{lang}\n{source}\n```"
            outputs = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
            outputs += [o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])
                        if o.get("output_type") in ("execute_result", "display_data")]
            out = "\n".join(str(o).strip() for o in outputs if str(o).strip())
            if out:
                text += "\nOutput:\n" + out
            sections.append(Section(text, heading=path_now))
    if not sections:
        raise Unreadable("no cells with text in the notebook")
    return ParsedDocument(first_heading or title_from_name(path), sections)


READERS: dict[str, Callable[[Path, bytes], ParsedDocument]] = {
    ".png": read_image,
    ".jpg": read_image,
    ".jpeg": read_image,
    ".tif": read_image,
    ".tiff": read_image,
    ".pptx": read_pptx,
    ".xlsx": read_xlsx,
    ".csv": read_csv,
    ".epub": read_epub,
    ".odt": read_odt,
    ".rtf": read_rtf,
    ".ipynb": read_ipynb,
}
