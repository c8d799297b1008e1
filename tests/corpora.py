"""Tiny documents of every supported format, written on the fly (facts are invented, distinct)."""

from __future__ import annotations

from pathlib import Path

TXT = (
    "The lighthouse at Port Amsel was built in 1871 by the engineer Maria Kessel. "
    "Its lamp burned whale oil until 1903, when it was converted to kerosene.\n\n"
    "The keeper's cottage has four rooms and a slate roof."
)
MD = (
    "# Orchard notes\n\n"
    "The orchard grows seventeen varieties of apple. The oldest tree, a Bramley, was planted in 1912.\n\n"
    "## Pests\n\nCodling moths are controlled with pheromone traps placed in May."
)
HTML = (
    "<html><head><title>Glacier survey</title><style>.x{color:red}</style>"
    "<script>window.injected = 'should not be indexed';</script></head>"
    "<body><h1>Glacier survey</h1><p>The Hallström glacier retreated 412 metres between 1990 and 2020.</p>"
    "<p>Survey teams measured the ice thickness with ground-penetrating radar.</p></body></html>"
)
PDF_PAGES = [
    "Page one describes the bridge. The Varden bridge spans 340 metres across the fjord.",
    "Page two describes the tunnel. The Ostby tunnel opened to traffic in 1998 after six years of work.",
]
DOCX_PARAGRAPHS = [
    ("Title", "Beekeeping handbook"),
    (None, "A healthy colony holds about forty thousand bees in midsummer."),
    (None, "Queens are marked with a dot of paint whose colour encodes the year."),
]


def write_pdf(path: Path, pages: list[str] = PDF_PAGES) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        line = ""
        for word in text.split():
            if len(line) + len(word) > 80:
                c.drawString(50, y, line)
                y -= 16
                line = ""
            line += word + " "
        c.drawString(50, y, line)
        c.showPage()
    c.save()
    return path


def write_docx(path: Path, paragraphs=DOCX_PARAGRAPHS) -> Path:
    import docx

    d = docx.Document()
    for style, text in paragraphs:
        if style == "Title":
            d.add_heading(text, level=0)
        else:
            d.add_paragraph(text)
    d.save(str(path))
    return path


def write_all_formats(root: Path, corrupt: bool = False, extra: bool = False) -> None:
    (root / "lighthouse.txt").write_text(TXT, encoding="utf-8")
    (root / "orchard.md").write_text(MD, encoding="utf-8")
    (root / "glacier.html").write_text(HTML, encoding="utf-8")
    write_pdf(root / "bridges.pdf")
    write_docx(root / "bees.docx")
    if corrupt:
        (root / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n% truncated")
        (root / "fake.docx").write_bytes(b"this is not a zip archive")
        (root / "empty.txt").write_bytes(b"")
        (root / "binary.txt").write_bytes(bytes(range(256)) * 8)
        (root / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
