"""The web chat's parts without a browser: the cited page image, example questions from the
documents, human dates in a time zone, settings in words, the upload's progress."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from assistant.types import DocumentRecord
from tests.corpora import write_pdf


def doc(source: str, title: str = "", when: str = "2026-12-01T08:00:00Z", doc_id: str = "") -> DocumentRecord:
    return DocumentRecord(doc_id=doc_id or source, source=source, title=title, content_hash="h", chunks=2,
                          expected_chunks=2, ingested_at=when)


def test_cited_words_are_found_on_the_pdf_page_and_marked(tmp_path):
    from PIL import Image

    from assistant.web.cited import page_with_words, render_page, word_boxes

    pdf = write_pdf(tmp_path / "r.pdf", ["Nothing on this page.", "The lamp was replaced in 1911 by a Fresnel lens."])
    boxes, (width, height) = word_boxes(pdf, 2, "replaced   in 1911")
    assert len(boxes) == 1 and 0 < boxes[0][0] < boxes[0][2] < width and 0 < boxes[0][1] < boxes[0][3] < height / 4
    assert word_boxes(pdf, 1, "replaced in 1911")[0] == []  # not on page 1
    plain = render_page(pdf, 2, tmp_path / "cache")
    marked = page_with_words(pdf, 2, "The lamp was replaced in 1911", tmp_path / "cache", span="1911")
    assert marked != plain and marked.parent == tmp_path / "cache"
    with Image.open(marked) as img:
        colours = img.convert("RGB").getcolors(1_000_000)
    # The orange box of the exact words is drawn (no such colour on a black-on-white page).
    assert any(r > 200 and 60 < g < 140 and b < 40 for _, (r, g, b) in colours)
    assert page_with_words(pdf, 2, "words that are not there", tmp_path / "cache") == plain


def test_only_documents_indexed_in_the_collection_are_served(tmp_path):
    from assistant.web.cited import NotServed, indexed_file

    pdf = write_pdf(tmp_path / "r.pdf", ["One page."])
    docs = {"notes": [doc(str(pdf))]}
    assert indexed_file(lambda c: docs.get(c, []), "notes", str(pdf)) == pdf
    for collection, source in [("notes", "/etc/passwd"), ("other", str(pdf)), ("notes", str(tmp_path / "x.pdf"))]:
        with pytest.raises(NotServed):
            indexed_file(lambda c: docs.get(c, []), collection, source)
    pdf.unlink()
    with pytest.raises(NotServed, match="no longer"):
        indexed_file(lambda c: docs.get(c, []), "notes", str(pdf))


def test_examples_come_from_titles_and_headings_newest_document_first():
    from assistant.web.examples import heading_lines, questions

    old = doc("/d/iran.txt", "us-strikes", "2026-11-01T08:00:00Z", "a")
    new = doc("/d/bees.md", "Beekeeping at Lindholm", "2026-12-01T08:00:00Z", "b")
    got = questions([old, new], {"a": ["Retaliation"], "b": ["Beekeeping at Lindholm › Winter feeding",
                                                              "Beekeeping at Lindholm › References"]})
    assert got[0] == "What is “Beekeeping at Lindholm” about?"
    assert "What does “Beekeeping at Lindholm” say about “Winter feeding”?" in got
    assert not any("References" in q for q in got)
    assert questions([], {}) == []
    assert heading_lines("Intro sentence here.\n\nRetaliation for Deadly Drone Attack\n\nThe strikes began.") == [
        "Retaliation for Deadly Drone Attack"]


def test_human_times_are_local_and_never_raw_iso():
    from assistant.web.dates import human_time, parse_zone

    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    tokyo = parse_zone("Asia/Tokyo")
    assert human_time("2026-12-01T08:45:43Z", tokyo, now) == "today 17:45"
    assert human_time("2026-11-30T08:45:43Z", tokyo, now) == "yesterday 17:45"
    assert human_time("2026-03-04T08:45:43Z", tokyo, now) == "4 Mar, 17:45"
    assert human_time("2025-03-04T08:45:43Z", tokyo, now) == "4 Mar 2025, 17:45"
    assert human_time("2026-12-01T08:45:43Z", parse_zone("Not/AZone"), now) == "today 08:45 UTC"


def test_settings_show_the_modes_own_settings_in_words(tmp_path):
    from assistant.config import load_settings
    from assistant.web.app import settings_markdown

    extractive = settings_markdown(load_settings({"data_dir": tmp_path}, config_file=tmp_path / "none.toml"))
    llm = settings_markdown(load_settings({"data_dir": tmp_path, "answerer": "ollama:llama3"},
                                          config_file=tmp_path / "none.toml"))
    assert "Sentences quoted per answer" in extractive and "Longest answer" not in extractive
    assert "Longest answer" in llm and "llama3" in llm and "Sentences quoted" not in llm
    for text in (extractive, llm):
        assert "llm_" not in text and str(tmp_path) not in text and "fetch_k" not in text


def test_upload_progress_moves_through_reading_embedding_and_results():
    from ingest.progress import IngestProgress

    from assistant.web.upload_progress import UploadRun
    from assistant.web.uploads import UploadResult

    seen: list[str] = []

    def work(on_progress, on_result):
        on_progress(0, IngestProgress("reading", "/u/a.pdf", 0, 1, pages_done=3, pages_total=10))
        seen.append(run.html())
        on_progress(0, IngestProgress("embedding", "/u/a.pdf", 0, 1, chunks_done=5, chunks_total=20))
        seen.append(run.html())
        on_result(0, UploadResult("a.pdf", "added", chunks=20))
        seen.append(run.html())
        return [UploadResult("a.pdf", "added", chunks=20)]

    import html

    run = UploadRun(["a.pdf", "b.txt"], work)
    run.start().wait(5)
    seen = [html.unescape(s) for s in seen]
    assert "reading page 3 of 10" in seen[0] and "b.txt</span> · <span class=\"upload-stage\">waiting" in seen[0]
    assert "embedding passage 5 of 20" in seen[1]
    assert "added: 20 passages" in seen[2] and "1 of 2 files done" in seen[2]
    fractions = [int(s.split('value="')[1].split('"')[0]) for s in seen]
    assert fractions == sorted(fractions) and fractions[0] < fractions[-1]
    assert run.files_written() == 1 and run.outcome[0].status == "added"
