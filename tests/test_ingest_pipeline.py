"""The bounded ingest pipeline: reading, embedding and writing overlap, so an embedding server is
kept busy while the next file is read; a failure of the encoder mid-run keeps what was written and
a re-run completes the rest. Real encoder behind a real server (llama.cpp's, through the Ollama
``/api/embed`` proxy of ``tests/embedding_servers.py``, which is what lets a test hold a request),
real Chroma on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.errors import EmbeddingServerError
from assistant.index.store import Store
from eval.bench.embedding_server import MODEL_NAME
from ingest import pipeline
from tests.embedding_servers import OllamaEmbedProxy

FIRST = "The harbour office opens at seven in the morning and closes at noon."
SECOND = "The ferry to Vatnafell leaves from pier four every second hour."
THIRD = "The lighthouse keeper rows out to the skerry on Sundays."



# No test inherits another's embedding-server client (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("fresh_server_clients")


@pytest.fixture
def notes(tmp_path) -> list[Path]:
    paths = []
    for name, text in (("a-first.txt", FIRST), ("b-second.txt", SECOND), ("c-third.txt", THIRD)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    return paths


def test_the_next_file_is_read_while_the_server_embeds(tmp_path, notes, embedding_server, monkeypatch):
    """The server holds the request embedding the first file until the second file is being
    read (a barrier both must reach, with a 30 s timeout): a pipeline that read the next file
    only after embedding the last would break the barrier."""
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 0.0)
    meet = threading.Barrier(2, timeout=30)
    parse = pipeline.parse

    def parse_meeting_the_server(path, data):
        if path == notes[1]:
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                pass
        return parse(path, data)

    monkeypatch.setattr(pipeline, "parse", parse_meeting_the_server)
    with OllamaEmbedProxy(embedding_server, MODEL_NAME) as ollama:
        a = Assistant(data_dir=tmp_path / "data", collection="notes", embed_backend="ollama:all-minilm",
                      embed_base_url=ollama.url)
        assert a.embedder.dimension == 384  # the size probe is not held
        ollama.meet, ollama.meet_requests = meet, 1
        report = a.ingest(notes)
        assert not meet.broken
        assert report.count("added") == 3
        assert [h.chunk.text for h in a.retrieve("When does the ferry leave?", 1, "dense").hits] == [SECOND]


def test_an_encoder_failure_keeps_what_was_written_and_a_rerun_completes(tmp_path, notes, embedding_server,
                                                                          monkeypatch):
    """The server fails every request for the second file (after its retries): the ingest
    stops with the one-line error, the first file is written and answerable, and once the
    server is well again a re-run adds what is missing and leaves the first file alone."""
    monkeypatch.setattr(pipeline, "GROUP_CHUNKS", 1)  # one file per request
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 0.0)
    with OllamaEmbedProxy(embedding_server, MODEL_NAME) as ollama:
        a = Assistant(data_dir=tmp_path / "data", collection="notes", embed_backend="ollama:all-minilm",
                      embed_base_url=ollama.url, embed_retries=1)
        ollama.poison = "ferry to Vatnafell"
        with pytest.raises(EmbeddingServerError, match="simulated failure"):
            a.ingest(notes)
        col = Store(a.settings).open("notes")
        written = {d.source: d.complete for d in col.documents().values()}
        assert written.get(str(notes[0].resolve())) is True and str(notes[1].resolve()) not in written
        assert [h.chunk.text for h in a.retrieve("When does the harbour office open?", 1).hits] == [FIRST]
        ollama.poison = ""
        again = a.ingest(notes)
    statuses = {Path(r.source).name: r.status for r in again.results}
    assert statuses["a-first.txt"] == "unchanged" and statuses["b-second.txt"] == "added"
    assert {d.source for d in Store(a.settings).open("notes").documents().values()} == {str(p.resolve()) for p in notes}


def test_progress_shows_chunks_per_second(tmp_path, notes, embedding_server):
    events = []
    a = Assistant(data_dir=tmp_path / "data", collection="notes", embed_backend=f"openai:{MODEL_NAME}",
                  embed_base_url=embedding_server)
    report = a.ingest(notes, on_progress=events.append)
    assert events[-1].stage == "done" and events[-1].chunks_done == 3 and events[-1].chunks_per_second > 0
    assert "passages/s" in events[-1].describe()
    assert report.chunks_per_second > 0 and "chunks/s" in report.summary().splitlines()[0]
    assert report.to_dict()["chunks_per_second"] > 0
