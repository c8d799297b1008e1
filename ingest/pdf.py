"""PDF to text as a person reads it.

Text comes from PDFium (pypdfium2): measured on real manuals (eval/bench/pdf_extraction.py) it
keeps words apart where pypdf's default mode runs them together, and is the fastest. Around it:

- page labels (pypdf): the printed page number ("page 29, printed 21");
- the outline (pypdf): each page's section path, split where a heading starts on the page;
- tables (pdfplumber, on pages with ruling lines): Markdown rows in their place on the page;
- OCR (Tesseract, ``ingest.ocr``): pages with no text layer but images, or a garbage layer.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from ingest import ocr
from ingest.progress import report_pages
from ingest.document import HeadingStack, ParsedDocument, Section, Unreadable, title_from_name
from ingest.tables import markdown_rows, table_text
from ingest.textquality import looks_like_text

# Titles PDF writers fill in when the author gave none
_PLACEHOLDER_TITLE = re.compile(r"(?i)^(untitled|\(anonymous\)|anonymous|microsoft word - .*|document\d*)$")
MIN_RULES = 3  # a ruled table of 2x2 cells has 3 horizontal and 3 vertical rules


def _may_hold_table(page) -> bool:
    """Cheap test before pdfplumber's (slow) table finder: rules or cell edges drawn at 3 or
    more distinct heights and 3 or more distinct x positions. A frame or the shaded lines of
    a code listing have only 2 x positions."""
    import pypdfium2.raw as pdfium_c

    xs: set[int] = set()
    ys: set[int] = set()
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2):
        try:
            left, bottom, right, top = obj.get_bounds()
        except Exception:
            continue
        w, h = right - left, top - bottom
        if h <= 2 and w >= 10:  # a horizontal rule
            ys.add(round(bottom))
        elif w <= 2 and h >= 6:  # a vertical rule
            xs.add(round(left))
        elif w >= 10 and h >= 6:  # a rectangle: a cell or a frame
            xs.update((round(left), round(right)))
            ys.update((round(bottom), round(top)))
    return len(xs) >= MIN_RULES and len(ys) >= MIN_RULES


def pdfium_pages(data: bytes, password: str | None = None) -> list[str]:
    """Plain text of each page (what the benchmark compares)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data, password=password)
    try:
        return [_page_text(pdf[i]) for i in range(len(pdf))]
    finally:
        pdf.close()


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # PDFium marks a hyphen it saw at a line end as \x02: join the word again.
    text = re.sub(r"\w\x02\n(?=\w)", lambda m: m.group(0)[0], text)
    return text.replace("\x02", "-").replace("\ufffe", "-")


def _page_text(page, box: tuple[float, float, float, float] | None = None) -> str:
    tp = page.get_textpage()
    try:
        text = tp.get_text_bounded(*box) if box else tp.get_text_bounded()
    finally:
        tp.close()
    return _clean(text)


@dataclass
class _Segment:
    text: str
    table_header: str = ""


def _open_pypdf(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly on odd files
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
    return reader


def _labels(reader, n: int) -> list[str | None]:
    try:
        labels = list(reader.page_labels)
    except Exception:
        return [None] * n
    if len(labels) != n:
        return [None] * n
    return [lab if lab and lab != str(i + 1) else None for i, lab in enumerate(labels)]


def _outline(reader) -> list[tuple[int, int, str]]:
    """(page index, level, title) of each outline entry, in document order."""
    out: list[tuple[int, int, str]] = []

    def walk(items, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = " ".join(str(item.title or "").split())
            except Exception:
                continue
            if page is not None and page >= 0 and title:
                out.append((page, level, title))

    try:
        walk(reader.outline, 1)
    except Exception:
        return []
    return out


def _title_pattern(title: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in title.split()]
    # At a line start, after an optional section number ("3.2 "): where a heading is printed.
    return re.compile(r"(?m)^[\dA-Z.]{0,12}\s*" + r"\s+".join(words))


def _tables(plumber, index: int, height: float) -> list[tuple[float, float, str, str]]:
    """(top, bottom, header, body) of the ruled tables on a page, top to bottom (PDF points
    from the page top)."""
    found = []
    try:
        page = plumber.pages[index]
        for t in page.find_tables():
            rows = t.extract()
            if len(rows) < 2 or max((len(r) for r in rows), default=0) < 2:
                continue
            md = markdown_rows(rows)
            if md and md[0].split("\n")[0].count(" | ") >= 1:  # 2+ columns with text
                x0, top, x1, bottom = t.bbox
                found.append((float(top), float(bottom), md[0], md[1]))
    except Exception:
        return []
    return sorted(found)


def read_pdf(path, data: bytes) -> ParsedDocument:
    from pypdf.errors import PyPdfError

    if not data.strip():
        raise Unreadable("empty file")
    try:
        reader = _open_pypdf(data)
        n_pages = len(reader.pages)
        labels = _labels(reader, n_pages)
        outline = _outline(reader)
        meta_title = ""
        try:
            meta_title = str((reader.metadata.title or "") if reader.metadata else "")
        except Exception:
            pass
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AssertionError, IndexError) as exc:
        raise Unreadable(f"corrupt or truncated PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise Unreadable(f"corrupt PDF ({type(exc).__name__})") from None

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data, password="" if reader.is_encrypted else None)
    except Exception as exc:
        raise Unreadable(f"corrupt or truncated PDF (PDFium: {str(exc)[:80]})") from None
    plumber = None
    pages: list[list[_Segment]] = []
    to_ocr: list[int] = []
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            try:
                text = _page_text(page)
                kinds = [o.type for o in page.get_objects(max_depth=2)]
                if not looks_like_text(text) or (len(text.strip()) < 10 and pdfium_c.FPDF_PAGEOBJ_IMAGE in kinds):
                    to_ocr.append(i)
                    pages.append([])
                    continue
                segments = [_Segment(text)]
                if pdfium_c.FPDF_PAGEOBJ_PATH in kinds and _may_hold_table(page):
                    if plumber is None:
                        import pdfplumber

                        plumber = pdfplumber.open(io.BytesIO(data), password="" if reader.is_encrypted else None)
                    height, width = page.get_height(), page.get_width()
                    tables = _tables(plumber, i, height)
                    if tables:
                        segments, y = [], 0.0
                        for top, bottom, head, body in tables:
                            # PDFium's boxes count from the page bottom
                            segments.append(_Segment(_page_text(page, (0, height - top, width, height - y))))
                            segments.append(_Segment(table_text(head, body), table_header=head))
                            y = bottom
                        segments.append(_Segment(_page_text(page, (0, 0, width, height - y))))
                pages.append(segments)
            finally:
                page.close()
                report_pages(i + 1, len(pdf))
        if to_ocr:
            scale = ocr.OCR_DPI / 72

            def render(index: int):
                return lambda: pdf[index].render(scale=scale, grayscale=True).to_pil()

            try:
                texts = ocr.ocr_images(data, path.name, [(i, render(i)) for i in to_ocr], len(to_ocr))
            except ocr.OCRUnavailable as exc:
                if not any(pages):
                    raise Unreadable(f"scanned PDF (no text layer): OCR needs {exc}") from None
                texts = {}
            for i, text in texts.items():
                pages[i] = [_Segment(text.strip())]
    finally:
        if plumber is not None:
            plumber.close()
        pdf.close()

    if _PLACEHOLDER_TITLE.match(meta_title.strip()):
        meta_title = ""
    sections = _sections(pages, labels, outline)
    if not sections:
        raise Unreadable("no extractable text in the PDF")
    return ParsedDocument(meta_title.strip() or title_from_name(path), sections)


def _sections(pages: list[list[_Segment]], labels: list[str | None], outline) -> list[Section]:
    """Sections of every page, split where an outline heading starts on it."""
    starts: dict[int, list[tuple[int, str]]] = {}
    for page, level, title in outline:
        starts.setdefault(page, []).append((level, title))
    stack = HeadingStack()
    out: list[Section] = []
    for i, segments in enumerate(pages):
        page_no, label = i + 1, labels[i] if i < len(labels) else None
        pending = list(starts.get(i, []))
        # A heading not printed in the page's text (typeset differently): it starts the page.
        page_text = "\n".join(s.text for s in segments if not s.table_header)
        for level, title in [e for e in pending if not _title_pattern(e[1]).search(page_text)]:
            stack.push(level, title)
        pending = [e for e in pending if _title_pattern(e[1]).search(page_text)]
        for seg in segments:
            if seg.table_header:
                out.append(Section(seg.text, page_no, stack.path, label, seg.table_header))
                continue
            text, pos = seg.text, 0
            while pending:
                level, title = pending[0]
                m = _title_pattern(title).search(text, pos)
                if m is None:
                    break
                if text[pos:m.start()].strip():
                    out.append(Section(text[pos:m.start()].strip(), page_no, stack.path, label))
                stack.push(level, title)
                pending.pop(0)
                pos = m.start()
            if text[pos:].strip():
                out.append(Section(text[pos:].strip(), page_no, stack.path, label))
        for level, title in pending:  # found out of order: they still hold from here on
            stack.push(level, title)
    return out
