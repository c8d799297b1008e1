"""Ingest progress events, and files written (answerable) while the run goes on: real PDF
reading, the real encoder, a real on-disk Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.config import Settings
from assistant.index.store import Store
from ingest import pipeline
from ingest.progress import IngestProgress
from tests.documents import write_manual_pdf


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", collection="progress")


def test_progress_reports_pages_passages_and_the_end(tmp_path):
    pdf = write_manual_pdf(tmp_path / "manual.pdf")
    note = tmp_path / "note.txt"
    note.write_text("The harbour office opens at seven. " * 40, encoding="utf-8")
    events: list[IngestProgress] = []
    report = Assistant(_settings(tmp_path)).ingest([pdf, note], on_progress=events.append)
    assert report.count("added") == 2

    pages = [(e.pages_done, e.pages_total) for e in events if e.stage == "reading" and e.source == str(pdf)]
    assert (4, 4) in pages and [d for d, _ in pages if d] == sorted(d for d, _ in pages if d)
    embedded = [e.chunks_done for e in events if e.stage == "embedding"]
    assert embedded == sorted(embedded) and embedded[-1] > 0
    last = events[-1]
    assert last.stage == "done" and last.files_done == last.files_total == 2
    assert last.chunks_done == last.chunks_total == report.chunks_written
    assert "page 4 of 4" in next(e for e in events if e.pages_done == 4).describe()
    assert last.describe().startswith("2/2 files · done")


def test_unchanged_and_skipped_files_count_as_done(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("The harbour office opens at seven.", encoding="utf-8")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    assistant = Assistant(_settings(tmp_path))
    assistant.ingest([note])
    events: list[IngestProgress] = []
    report = assistant.ingest([note, bad], on_progress=events.append)
    assert report.count("unchanged") == 1 and report.count("skipped") == 1
    assert events[-1].stage == "done" and events[-1].files_done == 2 and events[-1].chunks_done == 0


def test_a_file_is_written_before_the_next_one_is_read(tmp_path, monkeypatch):
    """The first file is searchable while the second is still being read (an upload of a big
    PDF does not keep what is already read from being answered)."""
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 0.0)
    first = tmp_path / "a-first.txt"
    first.write_text("The harbour office opens at seven in the morning.", encoding="utf-8")
    second = write_manual_pdf(tmp_path / "b-second.pdf")
    settings = _settings(tmp_path)
    seen: list[int] = []

    def look(event: IngestProgress) -> None:
        if event.stage == "reading" and event.source == str(second) and not seen:
            collection = Store(settings).open(settings.collection)
            seen.append(len(collection.chunk_ids_of([pipeline.doc_id_for_path(first)])))

    Assistant(settings).ingest([first, second], on_progress=look)
    assert seen and seen[0] >= 1


def test_records_report_progress_too(tmp_path):
    events: list[IngestProgress] = []
    records = [{"id": f"r{i}", "text": f"Record {i} says the tide turns at {i} o'clock."} for i in range(5)]
    report = Assistant(_settings(tmp_path)).ingest_records(records, on_progress=events.append)
    assert report.count("added") == 5
    assert events[-1].stage == "done" and events[-1].files_total == 5 and events[-1].chunks_done == 5
