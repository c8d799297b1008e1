"""The cited page of a PDF, in view: ``/cited/page.png`` (the page rendered with ``pdftoppm``,
the cited words boxed in yellow) and ``/cited/file`` (the original file, for ``#page=N``).

Only documents indexed in the named collection are served (the path is looked up in its
manifest, never taken from the request), and only while the file is still where it was
indexed. Rendered pages are small PNGs cached under ``<data_dir>/page-images``; a page is
rendered the first time someone opens that source. With a login, both routes need it too.
"""


import hashlib
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

PAGE_WIDTH_PX = 900  # wide enough to read a page's text, small enough to load at once
MAX_WORDS_CHARS = 300
BAND_PX = 160  # page shown above and below the cited words


class NotServed(Exception):
    """The request names no document this collection has indexed (or no such page)."""


def indexed_file(documents: Callable[[str], list], collection: str, source: str) -> Path:
    """The file of ``source`` if it is a document indexed in ``collection`` and still exists."""
    if not collection or not source:
        raise NotServed("name a collection and a source")
    try:
        records = documents(collection)
    except Exception as exc:  # a missing or broken collection serves nothing
        raise NotServed(str(exc)) from None
    record = next((d for d in records if d.source == source and d.kind == "file"), None)
    if record is None:
        raise NotServed("not a document of this collection")
    path = Path(record.source)
    if not path.is_file():
        raise NotServed("the file is no longer where it was indexed")
    return path


def _key(path: Path, *parts: Any) -> str:
    st = path.stat()
    raw = "\0".join([str(path.resolve()), str(st.st_size), str(st.st_mtime_ns), *map(str, parts)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def render_page(path: Path, page: int, cache_dir: Path) -> Path:
    """``page`` (1-based) of the PDF at ``path`` as a PNG ``PAGE_WIDTH_PX`` wide (cached)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / f"{_key(path, page, PAGE_WIDTH_PX)}.png"
    if out.is_file():
        return out
    pdftoppm = shutil.which("pdftoppm")
    if not pdftoppm:
        raise NotServed("pdftoppm (poppler-utils) is not installed")
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        prefix = Path(tmp) / "page"
        done = subprocess.run(
            [pdftoppm, "-f", str(page), "-l", str(page), "-png", "-singlefile", "-scale-to-x", str(PAGE_WIDTH_PX),
             "-scale-to-y", "-1", str(path), str(prefix)],
            capture_output=True, timeout=60,
        )
        made = prefix.with_suffix(".png")
        if done.returncode != 0 or not made.is_file():
            raise NotServed(f"page {page} cannot be rendered: {done.stderr.decode(errors='replace').strip()[:200]}")
        made.replace(out)
    return out


def word_boxes(path: Path, page: int, words: str) -> "tuple[list[tuple[float, float, float, float]], tuple[float, float]]":
    """Where ``words`` stand on the page: line boxes (left, top, right, bottom) in PDF points from
    the page's top-left, and the page size. Whitespace and case are ignored; [] when not found."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pg = pdf[page - 1]
        width, height = pg.get_size()
        text_page = pg.get_textpage()
        n = text_page.count_chars()
        chars = [text_page.get_text_range(i, 1) for i in range(n)]
        # The page's text with whitespace runs as one space, and where each character came from.
        flat, where = [], []
        for i, ch in enumerate(chars):
            ch = (ch or " ")[:1]
            if ch.isspace():
                if flat and flat[-1] != " ":
                    flat.append(" ")
                    where.append(i)
                continue
            flat.append(ch.lower())
            where.append(i)
        needle = " ".join(words.lower().split())
        at = "".join(flat).find(needle) if needle else -1
        if at < 0:
            return [], (width, height)
        lines: list[list[float]] = []
        for i in where[at: at + len(needle)]:
            if chars[i].isspace():
                continue
            left, bottom, right, top = text_page.get_charbox(i)
            box = [left, height - top, right, height - bottom]
            if lines and abs(lines[-1][1] - box[1]) < (box[3] - box[1]) * 0.6 and box[0] >= lines[-1][0] - 1:
                line = lines[-1]
                line[0], line[1] = min(line[0], box[0]), min(line[1], box[1])
                line[2], line[3] = max(line[2], box[2]), max(line[3], box[3])
            else:
                lines.append(box)
        return [tuple(b) for b in lines], (width, height)
    finally:
        pdf.close()


def page_with_words(path: Path, page: int, words: str, cache_dir: Path, span: str = "") -> Path:
    """The rendered page with ``words`` (the quote) marked in yellow and ``span`` (the exact
    words that answer) boxed in orange, cut to the band around them; the plain whole page when
    neither can be found."""
    plain = render_page(path, page, cache_dir)
    words = " ".join((words or "").split())[:MAX_WORDS_CHARS]
    span = " ".join((span or "").split())[:MAX_WORDS_CHARS]
    if not words and not span:
        return plain
    out = cache_dir / f"{_key(path, page, PAGE_WIDTH_PX, words, span)}.png"
    if out.is_file():
        return out
    try:
        boxes, (width, _height) = word_boxes(path, page, words) if words else ([], (1.0, 1.0))
        exact, (width, _height) = word_boxes(path, page, span) if span else ([], (width, _height))
    except Exception as exc:  # an odd PDF: the page without highlight is still worth showing
        log.debug("no word boxes on %s page %s: %s", path, page, exc)
        return plain
    if not boxes and not exact:
        return plain
    from PIL import Image, ImageDraw

    with Image.open(plain) as img:
        base = img.convert("RGBA")
    scale = base.width / width
    marked = exact + boxes
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, top, right, bottom in boxes:
        draw.rectangle([left * scale - 2, top * scale - 2, right * scale + 2, bottom * scale + 2],
                       fill=(255, 230, 80, 90))
    for left, top, right, bottom in exact:
        draw.rectangle([left * scale - 3, top * scale - 3, right * scale + 3, bottom * scale + 3],
                       fill=(255, 170, 0, 120), outline=(214, 90, 0, 255), width=3)
    page_image = Image.alpha_composite(base, overlay).convert("RGB")
    # The part of the page around the cited words, at full width, so the words are readable
    # where the image is shown (the link opens the whole page).
    top = max(0, int(min(b[1] for b in marked) * scale) - BAND_PX)
    bottom = min(page_image.height, int(max(b[3] for b in marked) * scale) + BAND_PX)
    page_image.crop((0, top, page_image.width, bottom)).save(out, optimize=True)
    return out


def routes(documents: Callable[[str], list], cache_dir: Path) -> list:
    """The two routes, for the FastAPI app that serves the page (``documents(collection)`` lists
    a collection's indexed documents)."""
    from fastapi import APIRouter, HTTPException, Request
    from fastapi.responses import FileResponse

    router = APIRouter()

    def check_login(request: Request) -> None:
        app = request.app
        if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
            return
        cookie_id = getattr(app, "cookie_id", "")
        token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
            f"access-token-unsecure-{cookie_id}")
        if not token or getattr(app, "tokens", {}).get(token) is None:
            raise HTTPException(status_code=401, detail="log in first")

    def found(collection: str, source: str) -> Path:
        try:
            return indexed_file(documents, collection, source)
        except NotServed as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @router.get("/cited/page.png", include_in_schema=False)
    def cited_page(request: Request, collection: str, source: str, page: int, words: str = "",
                   span: str = "") -> FileResponse:
        check_login(request)
        path = found(collection, source)
        if path.suffix.lower() != ".pdf" or page < 1:
            raise HTTPException(status_code=404, detail="only pages of PDFs are shown")
        try:
            png = page_with_words(path, page, words, cache_dir, span)
        except (NotServed, subprocess.TimeoutExpired) as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return FileResponse(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/cited/file", include_in_schema=False)
    def cited_file(request: Request, collection: str, source: str, page: int = 0) -> FileResponse:
        check_login(request)
        path = found(collection, source)
        media = "application/pdf" if path.suffix.lower() == ".pdf" else None
        return FileResponse(path, media_type=media, filename=path.name, content_disposition_type="inline")

    return list(router.routes)


__all__ = ["routes", "indexed_file", "render_page", "page_with_words", "word_boxes", "NotServed"]
