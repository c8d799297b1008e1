"""Documents as people have them (issue 14), on real files the tests write: PDF text that
reads right, page labels and outlines, tables in place, sections in citations, scanned pages
and images through Tesseract, and the other formats (pptx, xlsx, csv, epub, odt, rtf, eml,
ipynb), each ingested, asked about and cited with its page, slide, sheet or section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import format_sources
from assistant.client import Assistant
from assistant.index.store import Store
from assistant.web.render import source_item
from ingest import ocr
from ingest.readers import parse
from ingest.textquality import measure
from tests import documents as D
from tests import requires


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("documents")
    D.write_kerned_pdf(root / "quillon.pdf", D.KERNED_PAGES)
    D.write_manual_pdf(root / "crane.pdf")
    D.write_table_pdf(root / "boilers.pdf")
    D.write_table_docx(root / "ferry.docx")
    (root / "observatory.html").write_text(D.HTML_SECTIONS, encoding="utf-8")
    (root / "sourdough.md").write_text(D.MD_SECTIONS, encoding="utf-8")
    D.write_pptx(root / "review.pptx")
    D.write_xlsx(root / "orders.xlsx")
    (root / "stations.csv").write_text(D.CSV, encoding="utf-8")
    D.write_epub(root / "lanterns.epub")
    D.write_odt(root / "tower.odt")
    (root / "skarv.rtf").write_text(D.RTF, encoding="ascii")
    D.write_eml(root / "roof.eml")
    D.write_ipynb(root / "gauge.ipynb")
    return root


@pytest.fixture(scope="module")
def assistant(corpus, tmp_path_factory) -> Assistant:
    a = Assistant(data_dir=tmp_path_factory.mktemp("data"), collection="documents")
    report = a.ingest([corpus])
    assert report.count("skipped") == 0, report.summary()
    assert report.count("added") == len(list(corpus.iterdir())), report.summary()
    return a


def _chunks(a: Assistant, name: str) -> list:
    col = Store(a.settings).open(a.settings.collection)
    rows = [(m, t) for _, m, t in col.scan(include=("metadatas", "documents")) if Path(m["source"]).name == name]
    return sorted(rows, key=lambda r: r[0]["ordinal"])


def _cited(a: Assistant, question: str, name: str, *expected: str):
    """Ask; the answer holds every expected string and its first citation is ``name``."""
    answer = a.ask(question)
    assert not answer.abstained, (question, answer.text)
    for e in expected:
        assert e in answer.text, (question, answer.text)
    assert answer.citations and Path(answer.citations[0].source).name == name, (
        question, [(c.source, c.quote) for c in answer.citations])
    return answer, answer.citations[0]


# --- PDF text that reads right -------------------------------------------------------------

def test_words_kept_apart_where_pypdfs_default_runs_them_together(corpus):
    """A real multi-page PDF (two-byte font, word gaps as kerning, as TeX writes them)."""
    from pypdf import PdfReader

    path = corpus / "quillon.pdf"
    pypdf_text = "\n".join(p.extract_text() for p in PdfReader(str(path)).pages)
    ours = parse(path, path.read_bytes())
    before, after = measure(pypdf_text), measure(ours.text)
    assert "Youcanalsocheckfortheexistence" in pypdf_text  # the failure this guards against
    assert before.dictionary_share < 0.5 and before.run_together_share > 0.3
    assert after.dictionary_share > 0.9 and after.run_together == 0  # the rest: invented names
    assert "You can also check for the existence of a file before" in ours.text
    assert [s.page for s in ours.sections] == [1, 2, 3]


def test_kerned_pdf_is_answered_with_words_apart(assistant):
    answer, c = _cited(assistant, "How many sheets a minute does the Quillon press print?", "quillon.pdf", "forty sheets")
    assert c.page == 1
    assert "prints forty sheets a minute" in c.quote


def test_pdf_page_labels_and_outline_give_page_printed_page_and_section(assistant):
    answer, c = _cited(assistant, "At what wind speed does the crane stop?", "crane.pdf", "72 kilometres")
    assert (c.page, c.page_label, c.section) == (3, "1", "1 Safety")
    line = format_sources(answer).splitlines()[0]
    assert "crane.pdf › 1 Safety › page 3, printed 1" in line
    cited = answer.to_dict()["citations"][0]
    assert cited["section"] == "1 Safety" and cited["page"] == 3 and cited["page_label"] == "1"
    assert "crane.pdf › 1 Safety › page 3, printed 1" in source_item(c, "m1")
    answer, c = _cited(assistant, "How do you start the crane?", "crane.pdf", "amber key")
    assert (c.page, c.page_label, c.section) == (4, "2", "2 Operation")


# --- tables --------------------------------------------------------------------------------

def test_pdf_table_stays_in_place_as_rows_and_a_cell_is_answered(assistant):
    rows = _chunks(assistant, "boilers.pdf")
    texts = [t for _, t in rows]
    table = next(i for i, t in enumerate(texts) if "| Boiler model: Heron 7 | Output (kW): 18 | Price (EUR): 2,450 |" in t)
    assert texts[table].startswith("| Boiler model | Output (kW) | Price (EUR) |")
    assert "price list" in " ".join(texts[:table]) and "fitting within the county" in " ".join(texts[table + 1:])
    _cited(assistant, "What is the price of the Kestrel 12 boiler?", "boilers.pdf", "3,720")


def test_docx_table_stays_where_it_is_with_its_section(assistant):
    rows = _chunks(assistant, "ferry.docx")
    texts = [t for _, t in rows]
    order = [next(i for i, t in enumerate(texts) if s in t)
             for s in ("runs from May to September", "| Route: Oskar to Lindholm | Departure: 07:15 |", "Bicycles travel free", "only on Saturdays")]
    assert order == sorted(order), texts  # not moved to the end of the document
    table_meta = rows[order[1]][0]
    assert table_meta["section"] == "Summer sailings"
    answer, c = _cited(assistant, "How long is the crossing from Lindholm to Brask?", "ferry.docx", "1 hour 35 minutes")
    assert c.section == "Summer sailings"


def test_long_table_repeats_its_header_in_every_chunk(tmp_path):
    rows = [["Part number", "Shelf", "Description"]] + [
        [f"P-{i:04d}", f"aisle {i % 7}", f"brass fitting number {i} for the pump housing"] for i in range(150)]
    html = "<html><body><h1>Stores</h1><table>" + "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table></body></html>"
    (tmp_path / "stores.html").write_text(html, encoding="utf-8")
    a = Assistant(data_dir=tmp_path / "data", collection="tables")
    a.ingest([tmp_path / "stores.html"])
    chunks = [t for _, t in _chunks(a, "stores.html") if "| Part number: P-" in t]
    assert len(chunks) > 3
    assert all(t.startswith("| Part number | Shelf | Description |\n| --- | --- | --- |\n") for t in chunks)
    all_rows = [ln for t in chunks for ln in t.splitlines()[2:]]
    assert sorted(set(all_rows)) == sorted(f"| Part number: P-{i:04d} | Shelf: aisle {i % 7} | Description: brass fitting number {i} for the pump housing |"
                                           for i in range(150))
    answer, c = _cited(a, "Which shelf holds part P-0123?", "stores.html", "aisle 4")


def test_html_table_is_answered_and_cited_with_its_section(assistant):
    answer, c = _cited(assistant, "When is the observatory open to visitors on Friday?", "observatory.html", "21:00 to midnight")
    assert c.section == "Observatory guide › Telescopes"


# --- sections ------------------------------------------------------------------------------

def test_markdown_sections_reach_the_citation_and_chunks_keep_within_them(assistant):
    rows = _chunks(assistant, "sourdough.md")
    for meta, text in rows:
        assert text.count("## ") <= 1 and (not text.lstrip().startswith("## ") or meta["section"].endswith(text.split("\n")[0][3:]))
    answer, c = _cited(assistant, "At what temperature is the loaf baked?", "sourdough.md", "245 degrees")
    assert c.section == "Sourdough notes › Baking"
    assert "sourdough.md › Sourdough notes › Baking, chunk" in format_sources(answer)
    assert json.loads(json.dumps(answer.to_dict()))["citations"][0]["section"] == "Sourdough notes › Baking"


# --- more formats --------------------------------------------------------------------------

@pytest.mark.parametrize("question, name, expected, page, section", [
    ("How many crates did the Northern depot ship in March?", "review.pptx", "8,200 crates", 2, "Northern depot"),
    ("How many forklift drivers work at the Harbour depot?", "review.pptx", "17 forklift drivers", 4, "Depot staff"),
    ("How many copper pipes did Castel Farm order?", "orders.xlsx", "340", None, "sheet Orders"),
    ("What is the elevation of Kettle Moor station?", "stations.csv", "412", None, "stations.csv"),
    ("What oil do the lantern wicks burn?", "lanterns.epub", "colza oil", None, "Wicks"),
    ("Where were the bell tower bells cast?", "tower.odt", "Whitechapel", None, "Bell tower"),
    ("How strong are the gusts on Skarv island?", "skarv.rtf", "140 kilometres an hour", None, ""),
    ("When will the Fenwick depot roof be replaced?", "roof.eml", "16 March", None, "Roof repair at the Fenwick depot"),
    ("How much does the scaffolding hire cost?", "roof.eml", "1,150 pounds", None,
     "Roof repair at the Fenwick depot › attachment quote.txt"),
    ("At what gauge level does the Alder flood?", "gauge.ipynb", "3.4 metres", None, "River gauge analysis › Flood threshold"),
])
def test_each_format_is_answered_and_cited_with_its_place(assistant, question, name, expected, page, section):
    answer, c = _cited(assistant, question, name, expected)
    assert (c.page, c.section) == (page, section)


def test_spreadsheet_rows_keep_their_row_numbers(assistant):
    text = "\n".join(t for _, t in _chunks(assistant, "orders.xlsx"))
    assert "| row | Customer | Item | Quantity |" in text
    assert "| row: 3 | Customer: Castel Farm | Item: copper pipes | Quantity: 340 |" in text
    assert "| row: 2 | Supplier: Ravnsborg Timber | Country: Norway |" in text


def test_email_headers_are_text(assistant):
    text = "\n".join(t for _, t in _chunks(assistant, "roof.eml"))
    assert "From: Ines Marlow <ines@example.org>" in text and "Subject: Roof repair at the Fenwick depot" in text


# --- OCR -----------------------------------------------------------------------------------

def _ocr_needed():
    requires.command("tesseract", "tesseract-ocr tesseract-ocr-eng")
    reason = ocr.available()
    if reason:
        requires.missing(reason)


def test_scanned_pdf_is_ocred_page_by_page_and_never_again(tmp_path, capfd):
    _ocr_needed()
    path = D.write_scanned_pdf(tmp_path / "minutes.pdf")
    from pypdf import PdfReader

    assert not "".join(p.extract_text() for p in PdfReader(str(path)).pages).strip()  # no text layer
    # The reader reports each page as it is read.
    seen: list[tuple[str, int, int]] = []
    token = ocr.OCR_PROGRESS.set(lambda *args: seen.append(args))
    try:
        doc = parse(path, path.read_bytes())
    finally:
        ocr.OCR_PROGRESS.reset(token)
    assert seen == [("minutes.pdf", 0, 2), ("minutes.pdf", 1, 2), ("minutes.pdf", 2, 2)]
    assert [s.page for s in doc.sections] == [1, 2]
    # Ingest shows it on a bar, page by page; the pages keep their numbers in the citation.
    a = Assistant(data_dir=tmp_path / "data", collection="scans")
    before = ocr.PAGES_OCRED[0]
    report = a.ingest([path], progress=True)
    assert report.count("added") == 1, report.summary()
    assert ocr.PAGES_OCRED[0] - before == 2
    assert "OCR minutes.pdf" in capfd.readouterr().err
    answer, c = _cited(a, "How much will the new pier cost?", "minutes.pdf", "four million crowns")
    assert c.page == 2
    # A re-run: the file is unchanged, so it is not read (nor OCRed) again.
    report = a.ingest([path])
    assert report.count("unchanged") == 1 and ocr.PAGES_OCRED[0] - before == 2
    # Another collection with other chunk settings reads the file again; the OCR cache answers.
    other = Assistant(data_dir=tmp_path / "data", collection="scans-again", chunk_tokens=96)
    report = other.ingest([path])
    assert report.count("added") == 1 and ocr.PAGES_OCRED[0] - before == 2
    _cited(other, "How much will the new pier cost?", "minutes.pdf", "four million crowns")


def test_image_is_ocred_and_answered(tmp_path):
    _ocr_needed()
    D.scanned_page(["Notice to boat owners: the lock keeper opens the sluice gates at six in the morning and closes "
                    "them at nine in the evening."], size=(1700, 500)).save(tmp_path / "notice.png")
    a = Assistant(data_dir=tmp_path / "data", collection="images")
    report = a.ingest([tmp_path / "notice.png"])
    assert report.count("added") == 1, report.summary()
    _cited(a, "When does the lock keeper open the sluice?", "notice.png", "six in the morning")


def test_without_tesseract_a_scan_is_skipped_naming_what_to_install(tmp_path, monkeypatch):
    D.write_scanned_pdf(tmp_path / "minutes.pdf")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no tesseract on the PATH
    a = Assistant(data_dir=tmp_path / "data", collection="no-ocr")
    report = a.ingest([tmp_path / "minutes.pdf"])
    (r,) = report.results
    assert r.status == "skipped" and "apt-get install tesseract-ocr tesseract-ocr-eng" in r.reason, r.reason


# --- the eval suite of real manuals --------------------------------------------------------

def test_cited_page_is_scored_from_a_questions_pages():
    from eval.runner import aggregate_qa, score_record

    def rec(page):
        return score_record({"id": "q", "question": "?", "answers": ["forty"], "pages": [3, 4], "answer": "forty [1]",
                             "abstained": False, "citations": [{"n": 1, "passage": "forty", "page": page}]})

    right, wrong = rec(4), rec(9)
    assert right["scores"]["cited_page"] == 1.0 and wrong["scores"]["cited_page"] == 0.0
    assert aggregate_qa([right, wrong])["cited_page"] == 0.5


def test_a_suite_whose_corpus_is_not_fetched_says_how_to_fetch_it(tmp_path):
    from eval.suite import SuiteError, load_suite

    (tmp_path / "q.jsonl").write_text('{"id": "a", "question": "?", "answers": ["x"]}\n')
    (tmp_path / "s.toml").write_text('name = "s"\ncorpus = ["missing"]\nquestions = "q.jsonl"\nfetch = "scripts/get-it"\n')
    with pytest.raises(SuiteError, match="fetch it with: scripts/get-it"):
        load_suite(tmp_path / "s.toml")
    shipped = load_suite(Path(__file__).resolve().parents[1] / "eval" / "suites" / "debian-docs.jsonl")
    assert len(shipped.questions) >= 30
    assert sum(1 for q in shipped.questions if q.extra.get("pages")) >= 25


def test_a_garbage_text_layer_is_ocred_instead(tmp_path):
    _ocr_needed()
    path = D.write_garbage_layer_pdf(tmp_path / "survey.pdf", [
        "The survey of the northern moor counted two hundred and twelve curlew nests in the spring of that year."])
    from pypdf import PdfReader

    layer = PdfReader(str(path)).pages[0].extract_text()
    assert measure(layer).dictionary_share < 0.3  # the layer is there, and it is garbage
    doc = parse(path, path.read_bytes())
    assert "two hundred and twelve curlew nests" in " ".join(doc.text.split())
