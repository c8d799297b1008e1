"""OCR with Tesseract (through pytesseract): scanned PDF pages and images to text.

OCR is slow (seconds a page), so the pipeline shows it page by page (``OCR_PROGRESS``) and keeps
what it read in a cache keyed by the file's bytes (``OCR_CACHE_DIR``): the same file is never
OCRed twice, even after a change of chunk settings or in another collection.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable

from ingest.progress import report_pages

OCR_LANG = "eng"
OCR_DPI = 200  # render scale for PDF pages: 200 dpi reads body text well at half the time of 300
INSTALL_HINT = "install Tesseract: sudo apt-get install tesseract-ocr tesseract-ocr-eng"

# (label, pages done, pages in all): set by the pipeline to show progress
OCR_PROGRESS: contextvars.ContextVar[Callable[[str, int, int], None] | None] = contextvars.ContextVar(
    "OCR_PROGRESS", default=None)
# Directory of the OCR cache (None: no cache)
OCR_CACHE_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("OCR_CACHE_DIR", default=None)
# Pages actually OCRed in this process (tests and the benchmark read it)
PAGES_OCRED = [0]


class OCRUnavailable(Exception):
    """Tesseract (or its English data) is not installed; the message says what to install."""


def available() -> str | None:
    """None when OCR can run, else the reason it cannot (naming what to install)."""
    if shutil.which("tesseract") is None:
        return f"tesseract is not installed ({INSTALL_HINT})"
    try:
        import pytesseract
    except ImportError:
        return "the pytesseract package is not installed (pip install pytesseract)"
    try:
        langs = pytesseract.get_languages(config="")
    except Exception as exc:  # pragma: no cover - a broken install
        return f"tesseract does not run ({type(exc).__name__}); {INSTALL_HINT}"
    if OCR_LANG not in langs:
        return f"tesseract has no English data ({INSTALL_HINT})"
    return None


def _cache_path(key: str) -> Path | None:
    base = OCR_CACHE_DIR.get()
    return None if base is None else base / f"{key}.json"


def ocr_images(key_data: bytes, label: str, images: Iterable[tuple[int, Callable[[], "object"]]], total: int) -> dict[int, str]:
    """Text of each image ``(number, make_image)``; cached under the hash of ``key_data``.

    Raises ``OCRUnavailable`` when Tesseract is missing.
    """
    key = hashlib.sha256(key_data).hexdigest() + f"-{OCR_LANG}-{OCR_DPI}"
    cache_file = _cache_path(key)
    cached: dict[str, str] = {}
    if cache_file is not None and cache_file.exists():
        try:
            cached = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = {}
    todo = [(n, make) for n, make in images if str(n) not in cached]
    if todo:
        reason = available()
        if reason:
            raise OCRUnavailable(reason)
    import pytesseract

    # Tesseract's OpenMP threads spin against each other on a busy machine: one thread a page
    # read 3.4x faster here (eval/bench/ocr_speed.py, 2 shared cores). A user's own setting wins.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    progress = OCR_PROGRESS.get()
    out = {int(k): v for k, v in cached.items()}
    done = total - len(todo)
    if progress and todo:
        progress(label, done, total)
    for n, make in todo:
        image = make()
        out[n] = pytesseract.image_to_string(image, lang=OCR_LANG)
        PAGES_OCRED[0] += 1
        done += 1
        report_pages(done, total)
        if progress:
            progress(label, done, total)
        if cache_file is not None:  # after every page: an interrupted run keeps what it read
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({str(k): v for k, v in out.items()}), encoding="utf-8")
            os.replace(tmp, cache_file)
    return out
