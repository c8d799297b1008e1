"""Which PDF text extraction reads right: each extractor on real PDFs, measured.

For every PDF given (files or directories), each extractor's text is scored with
``ingest.textquality.measure``: the share of dictionary words and the share of run-together
words (unknown tokens that split into common words). Prints a table and, with --json, the
figures. Usage::

    python -m eval.bench.pdf_extraction .data/debian-docs/corpus
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

from ingest.textquality import TextQuality, measure


def pypdf_default(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages]


def pypdf_layout(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text(extraction_mode="layout") or "" for p in PdfReader(io.BytesIO(data)).pages]


def pdfplumber_text(data: bytes) -> list[str]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def pdftotext(data: bytes) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True).stdout
    return out.decode("utf-8", "replace").split("\f")[:-1] or [""]


def pdfium(data: bytes) -> list[str]:
    from ingest.pdf import pdfium_pages

    return [t for t in pdfium_pages(data)]


EXTRACTORS = {
    "pypdf": pypdf_default,
    "pypdf-layout": pypdf_layout,
    "pdfplumber": pdfplumber_text,
    "pdftotext": pdftotext,
    "pdfium (chosen)": pdfium,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--only", action="append", help="extractor names to run (default all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    files: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        files.extend(sorted(p.rglob("*.pdf")) if p.is_dir() else [p])
    rows = []
    for name, fn in EXTRACTORS.items():
        if args.only and name not in args.only:
            continue
        total = TextQuality(0, 0, 0)
        pages = 0
        started = time.perf_counter()
        for f in files:
            texts = fn(f.read_bytes())
            pages += len(texts)
            for t in texts:
                q = measure(t)
                total = TextQuality(total.tokens + q.tokens, total.dictionary + q.dictionary, total.run_together + q.run_together)
        seconds = time.perf_counter() - started
        rows.append({
            "extractor": name, "files": len(files), "pages": pages, "tokens": total.tokens,
            "dictionary_share": round(total.dictionary_share, 4),
            "run_together_share": round(total.run_together_share, 5),
            "run_together": total.run_together, "seconds": round(seconds, 1),
        })
        print(f"{name:16} pages {pages:5}  tokens {total.tokens:7}  dictionary {total.dictionary_share:6.1%}  "
              f"run-together {total.run_together_share:7.3%} ({total.run_together})  {seconds:6.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
