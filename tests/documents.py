"""Real documents of the formats issue 14 added, written by the tests (facts are invented)."""

from __future__ import annotations

import io
from pathlib import Path


def write_kerned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose words are apart only by kerning gaps in TJ arrays of a two-byte (Type0,
    Identity-H) font, no space characters: how TeX (xdvipdfmx) writes text. pypdf's default
    mode runs such words together; a reader must see the gaps. ``pages``: lines of each page
    (printable ASCII)."""
    objects: list[bytes] = []

    def obj(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: bytes = b"") -> bytes:
        return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"

    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            b"1 beginbfrange <0004> <0061> <0021> endbfrange\n"
            b"endcmap CMapName currentdict /CMap defineresource pop end end")
    catalog = obj(b"")  # filled in below
    pages_id = obj(b"")
    tounicode = obj(stream(cmap))
    descriptor = obj(b"<< /Type /FontDescriptor /FontName /KernedSerif /Flags 32 /FontBBox [0 -200 1000 900] "
                     b"/ItalicAngle 0 /Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >>")
    cid_font = obj(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /KernedSerif /CIDSystemInfo << /Registry (Adobe) "
                   b"/Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 500 /W [32 [838]] /CIDToGIDMap /Identity >>" % descriptor)
    font = obj(b"<< /Type /Font /Subtype /Type0 /BaseFont /KernedSerif /Encoding /Identity-H "
               b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, tounicode))
    kids = []
    for lines in pages:
        ops = [b"BT /F1 10 Tf 72 740 Td"]
        for line in lines:
            # glyph ids in TrueType order (space 3, "A" 36), as TeX writes them; the font maps
            # no glyph to a space, since none is drawn. Glyph 32 ("=") is wide, as in DejaVu:
            # pypdf takes the width of code 32 for a space's, and then sees no gap as a space.
            words = ["<" + "".join(f"{ord(ch) - 29:04X}" for ch in w) + ">" for w in line.split()]
            ops.append(("[" + " -300 ".join(words) + "] TJ 0 -14 Td").encode())
        ops.append(b"ET")
        content = obj(stream(b"\n".join(ops)))
        kids.append(obj(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
                        b"/Contents %d 0 R >>" % (pages_id, font, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    path.write_bytes(out.getvalue())
    return path


# Facts the tests ask about (invented, one per file, so a citation names one file).
KERNED_PAGES = [
    ["Chapter one of the Quillon guide.", "The Quillon press prints forty sheets a minute when it is warm."],
    ["You can also check for the existence of a file before", "reading it with the quillon probe command."],
    ["So far they have been characters and numbers, and the", "probe reports them in the order they were found."],
]


def write_manual_pdf(path: Path) -> Path:
    """A 4-page PDF with page labels (i, ii, then 1, 2) and an outline: how books are made."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.constants import PageLabelStyle
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pages = [
        ["Harbour crane manual", "Contents: Safety, Operation"],
        ["Preface", "This manual covers the Tarrant harbour crane."],
        ["1 Safety", "Never stand under a suspended load.", "The crane stops when the wind exceeds 72 kilometres an hour."],
        ["2 Operation", "To start the crane, turn the amber key twice and wait for the bell."],
    ]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for lines in pages:
        y = 780
        for i, line in enumerate(lines):
            c.setFont("Helvetica-Bold" if i == 0 else "Helvetica", 16 if i == 0 else 11)
            c.drawString(60, y, line)
            y -= 24
        c.showPage()
    c.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.set_page_label(0, 1, style=PageLabelStyle.LOWERCASE_ROMAN)
    writer.set_page_label(2, 3, style=PageLabelStyle.DECIMAL, start=1)
    writer.add_outline_item(title="Preface", page_number=1)
    writer.add_outline_item(title="1 Safety", page_number=2)
    writer.add_outline_item(title="2 Operation", page_number=3)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def write_table_pdf(path: Path) -> Path:
    """A PDF page with a paragraph, a ruled table, and a paragraph after it."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    rows = [["Boiler model", "Output (kW)", "Price (EUR)"],
            ["Heron 7", "18", "2,450"], ["Heron 9", "24", "2,980"], ["Kestrel 12", "31", "3,720"]]
    table = Table(rows)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.8, colors.black)]))
    story = [Paragraph("Boiler price list of the Vellmar workshop.", styles["Normal"]), Spacer(1, 12), table,
             Spacer(1, 12), Paragraph("Prices include fitting within the county of Vellmar.", styles["Normal"])]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def write_table_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Ferry timetable", level=0)
    d.add_heading("Summer sailings", level=1)
    d.add_paragraph("The summer timetable runs from May to September.")
    t = d.add_table(rows=1, cols=3)
    for cell, text in zip(t.rows[0].cells, ["Route", "Departure", "Crossing time"]):
        cell.text = text
    for route, dep, crossing in [("Oskar to Lindholm", "07:15", "50 minutes"), ("Lindholm to Brask", "09:40", "1 hour 35 minutes")]:
        cells = t.add_row().cells
        cells[0].text, cells[1].text, cells[2].text = route, dep, crossing
    d.add_paragraph("Bicycles travel free on every summer sailing.")
    d.add_heading("Winter sailings", level=1)
    d.add_paragraph("In winter the Brask ferry sails only on Saturdays.")
    d.save(str(path))
    return path


HTML_SECTIONS = """<html><head><title>Observatory guide</title></head><body>
<h1>Observatory guide</h1>
<h2>Telescopes</h2><p>The main refractor has a 62 centimetre lens ground in 1894.</p>
<table><tr><th>Night</th><th>Open to visitors</th></tr><tr><td>Tuesday</td><td>20:00 to 23:00</td></tr>
<tr><td>Friday</td><td>21:00 to midnight</td></tr></table>
<h2>Getting there</h2><p>Bus 14 stops at the observatory gate every half hour.</p>
</body></html>"""

MD_SECTIONS = """# Sourdough notes

Intro line about the starter.

## Feeding

Feed the starter with equal weights of rye flour and water every twelve hours.

## Baking

Bake the loaf at 245 degrees for the first twenty minutes with the lid on.
"""


def write_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, body in [("Quarterly review", "Sales grew in every region."),
                        ("Northern depot", "The Northern depot shipped 8,200 crates in March."),
                        ("Next steps", "Hire two drivers for the coastal route.")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Depot staff"
    shape = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5))
    for r, (a, b) in enumerate([("Depot", "Staff"), ("Northern", "41"), ("Harbour", "17 forklift drivers")]):
        shape.table.cell(r, 0).text, shape.table.cell(r, 1).text = a, b
    deck.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["Customer", "Item", "Quantity"])
    sheet.append(["Brightwater Mill", "oak beams", 12])
    sheet.append(["Castel Farm", "copper pipes", 340])
    other = book.create_sheet("Suppliers")
    other.append(["Supplier", "Country"])
    other.append(["Ravnsborg Timber", "Norway"])
    book.save(str(path))
    return path


CSV = "station,elevation_m,opened\nKettle Moor,412,1931\nSaltby Junction,38,1868\n"


def write_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("lantern-1")
    book.set_title("The lantern makers")
    book.set_language("en")
    chapters = []
    for i, (title, text) in enumerate([("Glass", "The lantern glass is blown at the Orrefors furnace."),
                                       ("Wicks", "Each lantern burns a cotton wick soaked in colza oil for nine hours.")], start=1):
        ch = epub.EpubHtml(title=title, file_name=f"ch{i}.xhtml", lang="en")
        ch.content = f"<html><body><h1>{title}</h1><p>{text}</p></body></html>"
        book.add_item(ch)
        chapters.append(ch)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
    return path


def write_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="Bell tower"))
    doc.text.addElement(P(text="The bell tower holds six bells cast in Whitechapel in 1788."))
    doc.text.addElement(H(outlinelevel=1, text="Visiting"))
    doc.text.addElement(P(text="Tower tours start at the vestry door on Sundays."))
    doc.save(str(path))
    return path


RTF = (r"{\rtf1\ansi\deff0 {\fonttbl {\f0 Times New Roman;}}"
       r"\f0\fs24 The weather station on Skarv island records {\b gusts} of up to 140 kilometres an hour.\par"
       r" It is visited by boat once a month.\par}")


def write_eml(path: Path) -> Path:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Ines Marlow <ines@example.org>"
    msg["To"] = "depot@example.org"
    msg["Subject"] = "Roof repair at the Fenwick depot"
    msg["Date"] = "Mon, 02 Mar 2026 09:30:00 +0000"
    msg.set_content("The roofers will replace the Fenwick depot roof during the week of 16 March.")
    msg.add_attachment("The scaffolding hire costs 1,150 pounds for two weeks.\n".encode(), maintype="text",
                       subtype="plain", filename="quote.txt")
    path.write_bytes(msg.as_bytes())
    return path


def write_ipynb(path: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[
        new_markdown_cell("# River gauge analysis\n\nReadings of the Alder river gauge."),
        new_markdown_cell("## Flood threshold\n\nThe Alder floods when the gauge passes 3.4 metres."),
        new_code_cell("levels = load_gauge('alder')\nprint(max(levels))"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def scanned_page(paragraphs: list[str], size=(1700, 2200)):
    """A page image (200 dpi A4-ish) with the paragraphs typeset on it; no text layer."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 34)
    except OSError:
        font = ImageFont.load_default(size=34)
    y = 150
    for para in paragraphs:
        for line in textwrap.wrap(para, 72):
            draw.text((120, y), line, fill=0, font=font)
            y += 46
        y += 30
    return image


SCANNED_PAGES = [
    ["Minutes of the harbour board meeting held in the town hall on the ninth of June, with nine members present "
     "and the harbour master in the chair."],
    ["After a long debate about the state of the old quay, the board approved a new pier costing four million "
     "crowns, to be built of granite from the Hasle quarry."],
]


def write_scanned_pdf(path: Path, pages: list[list[str]] = SCANNED_PAGES) -> Path:
    """A scanned document: page images wrapped in a PDF, without any text layer."""
    images = [scanned_page(lines) for lines in pages]
    images[0].save(str(path), "PDF", resolution=200.0, save_all=True, append_images=images[1:])
    return path


def write_garbage_layer_pdf(path: Path, paragraphs: list[str]) -> Path:
    """A scan whose invisible text layer is garbage (as a bad OCR or a broken font encoding
    leaves it): the page image says ``paragraphs``, the text layer says nothing readable."""
    import random

    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = scanned_page(paragraphs)
    c = canvas.Canvas(str(path), pagesize=(612, 792))
    c.drawImage(ImageReader(image), 0, 0, width=612, height=792)
    rng = random.Random(7)
    t = c.beginText(40, 700)
    t.setTextRenderMode(3)  # invisible, like an OCR layer
    t.setFont("Helvetica", 10)
    for _ in range(12):
        t.textLine(" ".join("".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(3, 9))) for _ in range(10)))
    c.drawText(t)
    c.showPage()
    c.save()
    return path
