"""OCR speed on scanned pages: pages of a real PDF rendered to images (a scan with no text
layer), read back through the PDF reader with Tesseract. Prints pages/s and how well the OCR
text reads (share of dictionary words), against the text layer of the same pages.

    python -m eval.bench.ocr_speed .data/debian-docs/corpus/R-intro.pdf --pages 8-17
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from ingest import ocr
from ingest.pdf import pdfium_pages, read_pdf
from ingest.textquality import measure


def scanned_copy(data: bytes, first: int, last: int, dpi: int = 200) -> bytes:
    """Pages first..last (1-based) of a PDF as page images wrapped in a PDF without text."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        images = [pdf[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(first - 1, last)]
    finally:
        pdf.close()
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdf")
    ap.add_argument("--pages", default="1-10", help="page range of the source PDF to scan (default 1-10)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    first, _, last = args.pages.partition("-")
    first, last = int(first), int(last or first)
    data = Path(args.pdf).read_bytes()
    scan = scanned_copy(data, first, last)
    reason = ocr.available()
    if reason:
        print(f"cannot OCR: {reason}", file=sys.stderr)
        return 2
    token = ocr.OCR_CACHE_DIR.set(None)  # measure OCR itself, not the cache
    try:
        started = time.perf_counter()
        doc = read_pdf(Path("scan.pdf"), scan)
        seconds = time.perf_counter() - started
    finally:
        ocr.OCR_CACHE_DIR.reset(token)
    pages = last - first + 1
    text_layer = "\n".join(pdfium_pages(data)[first - 1:last])
    q_ocr, q_layer = measure(doc.text), measure(text_layer)
    row = {"pages": pages, "seconds": round(seconds, 1), "pages_per_second": round(pages / seconds, 3),
           "ocr_dictionary_share": round(q_ocr.dictionary_share, 4), "text_layer_dictionary_share": round(q_layer.dictionary_share, 4),
           "ocr_tokens": q_ocr.tokens, "text_layer_tokens": q_layer.tokens, "dpi": ocr.OCR_DPI}
    print(f"OCR {pages} pages in {seconds:.1f} s: {pages / seconds:.2f} pages/s; dictionary words "
          f"{q_ocr.dictionary_share:.1%} (text layer {q_layer.dictionary_share:.1%}), tokens {q_ocr.tokens} "
          f"(text layer {q_layer.tokens})", file=sys.stderr)
    if args.json:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
