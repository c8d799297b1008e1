"""The same assistant against a real Chroma server (`chroma run`) on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.api import Assistant
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


def test_unreachable_server_is_a_clear_error(tmp_path):
    a = Assistant(chroma_url=f"http://127.0.0.1:{_free_port()}", data_dir=tmp_path, collection="nowhere")
    with pytest.raises(StoreUnavailable, match="is the server running"):
        a.ask("anything?")
