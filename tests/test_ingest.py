"""Ingestion on real parts: every format, bad files among good ones, incremental re-runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.errors import IngestLocked, PathNotFound
from assistant.index.store import Store
from tests import corpora


def _chunks_by_source(assistant: Assistant) -> dict[str, list]:
    col = Store(assistant.settings).open(assistant.settings.collection)
    out: dict[str, list] = {}
    for cid, meta, text in col.scan(include=("metadatas", "documents")):
        out.setdefault(Path(meta["source"]).name, []).append((cid, meta, text))
    return out


def test_every_format_is_ingested_with_its_text_title_and_pages(data_dir, make_corpus):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="formats")
    report = a.ingest([root])
    assert report.count("added") == 5, report.summary()
    assert report.count("skipped") == 0
    chunks = _chunks_by_source(a)
    assert set(chunks) == {"lighthouse.txt", "orchard.md", "glacier.html", "bridges.pdf", "bees.docx"}
    text_of = {name: " ".join(t for _, _, t in rows) for name, rows in chunks.items()}
    assert "whale oil" in text_of["lighthouse.txt"]
    assert "seventeen varieties" in text_of["orchard.md"]
    assert "412 metres" in text_of["glacier.html"]
    assert "window.injected" not in text_of["glacier.html"]  # scripts are not text
    assert "color:red" not in text_of["glacier.html"]
    assert "forty thousand bees" in text_of["bees.docx"]
    titles = {name: rows[0][1]["title"] for name, rows in chunks.items()}
    assert titles["glacier.html"] == "Glacier survey"
    assert titles["orchard.md"] == "Orchard notes"
    assert titles["bees.docx"] == "Beekeeping handbook"
    pages = {m["page"]: t for _, m, t in chunks["bridges.pdf"]}
    assert set(pages) == {1, 2}
    assert "Varden bridge" in pages[1] and "Ostby tunnel" in pages[2]


def test_chunk_offsets_point_into_the_document(data_dir, make_corpus):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="offsets")
    a.ingest([root / "lighthouse.txt"])
    source_text = (root / "lighthouse.txt").read_text()
    rows = _chunks_by_source(a)["lighthouse.txt"]
    for _, meta, text in rows:
        assert source_text[meta["start"] : meta["end"]] == text


def test_bad_files_are_skipped_with_reasons_and_the_rest_ingested(data_dir, make_corpus):
    root = make_corpus(corrupt=True)
    a = Assistant(data_dir=data_dir, collection="corrupt")
    report = a.ingest([root])
    reasons = {Path(r.source).name: r.reason for r in report.results if r.status == "skipped"}
    assert set(reasons) == {"broken.pdf", "fake.docx", "empty.txt", "binary.txt", "picture.png"}
    assert "pdf" in reasons["broken.pdf"].lower()
    assert "zip" in reasons["fake.docx"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "corrupt or unreadable image" in reasons["picture.png"]  # images are read by OCR
    assert report.count("added") == 5
    assert all("\n" not in r for r in reasons.values())  # one line each
    answer = a.ask("How long is the Varden bridge?")
    assert not answer.abstained and "340 metres" in answer.text


def test_rerun_skips_unchanged_documents_without_reembedding(data_dir, make_corpus):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="rerun")
    first = a.ingest([root])
    count = Store(a.settings).open("rerun").count()
    second = a.ingest([root])
    assert second.count("unchanged") == 5
    assert second.chunks_written == 0
    assert Store(a.settings).open("rerun").count() == count
    assert first.chunks_written == count


def test_changed_document_replaces_its_chunks_exactly(data_dir, tmp_path):
    doc = tmp_path / "notes.txt"
    sentences = [f"Fact number {i} says the sensor {i} reads {i * 7} units at noon." for i in range(60)]
    doc.write_text(" ".join(sentences))
    a = Assistant(data_dir=data_dir, collection="changes")
    a.ingest([doc])
    before = _chunks_by_source(a)["notes.txt"]
    assert len(before) > 2  # long enough to need several chunks

    doc.write_text(" ".join(sentences[:20]) + " The calibration was redone on Tuesday.")
    report = a.ingest([doc])
    assert report.count("updated") == 1
    after = _chunks_by_source(a)["notes.txt"]
    expected = a.sources()[0].expected_chunks
    assert len(after) == expected < len(before)
    ids = [cid for cid, _, _ in after]
    assert len(ids) == len(set(ids))
    assert all("Fact number 59" not in t for _, _, t in after)
    assert any("calibration was redone" in t for _, _, t in after)
    assert sorted(m["ordinal"] for _, m, _ in after) == list(range(expected))


def test_chunk_ids_are_deterministic(tmp_path, make_corpus):
    root = make_corpus()
    ids = []
    for name in ("one", "two"):
        a = Assistant(data_dir=tmp_path / name, collection="ids")
        a.ingest([root / "lighthouse.txt", root / "bridges.pdf"])
        ids.append(sorted(cid for rows in _chunks_by_source(a).values() for cid, _, _ in rows))
    assert ids[0] == ids[1]


def test_prune_removes_documents_whose_files_are_gone(data_dir, make_corpus):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="prune")
    a.ingest([root])
    os.remove(root / "orchard.md")
    report = a.ingest([root], prune=True)
    assert [Path(r.source).name for r in report.results if r.status == "removed"] == ["orchard.md"]
    assert "orchard.md" not in _chunks_by_source(a)
    assert len(a.sources()) == 4


def test_forget_removes_exactly_one_document(data_dir, make_corpus):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="forget")
    a.ingest([root])
    chunks_before = _chunks_by_source(a)
    removed = a.forget(root / "glacier.html")
    assert [Path(d.source).name for d in removed] == ["glacier.html"]
    after = _chunks_by_source(a)
    assert set(after) == set(chunks_before) - {"glacier.html"}
    for name in after:
        assert after[name] == chunks_before[name]
    with pytest.raises(PathNotFound):
        a.forget(root / "glacier.html")


def test_interrupted_document_is_completed_by_the_next_run(data_dir, tmp_path):
    doc = tmp_path / "long.txt"
    doc.write_text(" ".join(f"Entry {i} records a rainfall of {i} millimetres in the valley." for i in range(80)))
    a = Assistant(data_dir=data_dir, collection="heal")
    a.ingest([doc])
    col = Store(a.settings).open("heal")
    total = col.count()
    # Simulate a crash that wrote only part of the document's chunks.
    ids = col.chunk_ids_of([a.sources()[0].doc_id])
    col.delete_ids(ids[: len(ids) // 2])
    assert not a.sources()[0].complete
    report = a.ingest([doc])
    assert report.count("updated") == 1
    assert col.count() == total
    assert a.sources()[0].complete


def test_missing_path_is_an_error_before_any_work(data_dir, tmp_path):
    a = Assistant(data_dir=data_dir, collection="missing")
    with pytest.raises(PathNotFound, match="no-such-dir"):
        a.ingest([tmp_path / "no-such-dir"])


def test_second_concurrent_ingest_refuses(data_dir, tmp_path):
    from assistant.config import load_settings
    from ingest.pipeline import collection_lock

    settings = load_settings({"data_dir": data_dir, "collection": "locked"})
    doc = tmp_path / "a.txt"
    doc.write_text("Some text about tides.")
    with collection_lock(settings, "locked"):
        with pytest.raises(IngestLocked, match="being changed"):
            Assistant(settings).ingest([doc])
    assert Assistant(settings).ingest([doc]).count("added") == 1


def test_record_ingest_is_incremental(data_dir):
    a = Assistant(data_dir=data_dir, collection="records")
    recs = [{"id": f"r{i}", "title": f"Record {i}", "text": f"Record {i} is about topic {i}."} for i in range(5)]
    assert a.ingest_records(recs).count("added") == 5
    recs[2]["text"] = "Record 2 changed its topic."
    report = a.ingest_records(recs)
    assert (report.count("unchanged"), report.count("updated")) == (4, 1)
