"""The same assistant against a real Chroma server (`chroma run`) on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.errors import StoreUnavailable

SAMPLE = Path(__file__).resolve().parents[1] / "assistant" / "samples" / "us-strikes-iran-militias.txt"
CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("chroma run exited early")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_ingest_reingest_and_ask_against_a_chroma_server(chroma_url, tmp_path):
    a = Assistant(chroma_url=chroma_url, data_dir=tmp_path / "local", collection="server-sample")
    first = a.ingest([SAMPLE])
    assert first.count("added") == 1 and first.chunks_written > 0
    second = a.ingest([SAMPLE])
    assert second.count("unchanged") == 1 and second.chunks_written == 0
    # Nothing was written to the local embedded store: the server holds the index.
    assert not (tmp_path / "local" / "chroma").exists()
    answer = a.ask("How many targets did the US strike?")
    assert not answer.abstained and "85" in answer.text
    # A second client (another machine, in effect) sees the same index.
    b = Assistant(chroma_url=chroma_url, data_dir=tmp_path / "other", collection="server-sample")
    assert [d.chunks for d in b.sources()] == [first.chunks_written]
    assert "85" in b.ask("How many targets did the US strike?").text


def test_changed_document_is_replaced_on_the_server(chroma_url, tmp_path):
    doc = tmp_path / "log.txt"
    doc.write_text("The pump was serviced on Monday. The valve was replaced on Tuesday.")
    a = Assistant(chroma_url=chroma_url, data_dir=tmp_path / "local", collection="server-changes")
    a.ingest([doc])
    doc.write_text("The pump was serviced on Friday.")
    assert a.ingest([doc]).count("updated") == 1
    [record] = a.sources()
    assert record.complete and record.chunks == 1
    assert "Friday" in a.ask("When was the pump serviced?").text


def _names(docs) -> set[str]:
    return {Path(d.source).name for d in docs}


def _keyword_sources(a: Assistant, query: str) -> set[str]:
    return {Path(h.chunk.source).name for h in a.retrieve(query, mode="keyword").hits}


def test_local_and_server_collections_of_one_name_keep_their_own_caches(chroma_url, tmp_path):
    data = tmp_path / "data"
    windmill, canal = tmp_path / "windmill.txt", tmp_path / "canal.txt"
    windmill.write_text("The Ormsby windmill grinds barley every Thursday.")
    canal.write_text("The Tarrant canal lock lifts barges nine feet.")
    local = Assistant(data_dir=data, collection="same-name")
    server = Assistant(data_dir=data, chroma_url=chroma_url, collection="same-name")
    local.ingest([windmill])
    server.ingest([canal])
    assert _names(local.sources()) == {"windmill.txt"}
    assert _names(server.sources()) == {"canal.txt"}
    assert _keyword_sources(local, "windmill barley canal barges") == {"windmill.txt"}
    assert _keyword_sources(server, "windmill barley canal barges") == {"canal.txt"}
    # One data dir, two caches of each kind: the local store's and the server's.
    manifests = sorted(p.parent.name for p in (data / "manifest").rglob("same-name.json"))
    assert len(manifests) == 2 and "local" in manifests
    assert len([p for p in (data / "keyword").glob("*/same-name")]) == 2
    local_cache = data / "manifest" / "local" / "same-name.json"
    before = local_cache.read_bytes()

    server.ingest([windmill])  # the server collection changes; the local one does not
    assert _names(server.sources()) == {"canal.txt", "windmill.txt"}
    assert _keyword_sources(server, "windmill barley") == {"windmill.txt"}
    assert local_cache.read_bytes() == before
    assert _names(local.sources()) == {"windmill.txt"}
    assert _keyword_sources(local, "canal barges") == set()
    assert local.ingest([windmill]).count("unchanged") == 1
    assert server.ingest([canal, windmill]).count("unchanged") == 2


def test_a_second_client_sees_what_the_first_changed_on_the_server(chroma_url, tmp_path):
    # Two machines (two data dirs, so two cached copies) sharing one server collection.
    first_doc, second_doc = tmp_path / "first.txt", tmp_path / "second.txt"
    first_doc.write_text("The Wexley observatory opened its copper dome in 1887.")
    second_doc.write_text("The Pellam aqueduct carries the canal over the river Ouse.")
    a = Assistant(chroma_url=chroma_url, data_dir=tmp_path / "a", collection="shared-caches")
    b = Assistant(chroma_url=chroma_url, data_dir=tmp_path / "b", collection="shared-caches")
    a.ingest([first_doc])
    assert _names(b.sources()) == {"first.txt"}  # b's caches are made now
    assert _keyword_sources(b, "observatory aqueduct") == {"first.txt"}
    a.ingest([second_doc])
    assert _names(b.sources()) == {"first.txt", "second.txt"}
    assert _keyword_sources(b, "observatory aqueduct") == {"first.txt", "second.txt"}
    b.forget(first_doc)
    assert _names(a.sources()) == {"second.txt"}
    assert _keyword_sources(a, "observatory aqueduct") == {"second.txt"}
    assert a.ingest([first_doc, second_doc]).count("added") == 1

def test_unreachable_server_is_a_clear_error(tmp_path):
    a = Assistant(chroma_url=f"http://127.0.0.1:{_free_port()}", data_dir=tmp_path, collection="nowhere")
    with pytest.raises(StoreUnavailable, match="is the server running"):
        a.ask("anything?")
