"""Embeddings from a server (``embed_backend = openai:MODEL | ollama:MODEL``), against a real one:
llama.cpp's server on loopback serving the packaged all-MiniLM-L6-v2 (the ``embedding_server``
fixture). Ollama's protocol is tested through ``tests.embedding_servers.OllamaEmbedProxy``, a small
HTTP server in this process that speaks Ollama's ``/api/embed`` and forwards to that real server:
there is no Ollama binary here, so the Ollama side is our reading of its API, the vectors are real.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.errors import ConfigError, EmbeddingServerError
from eval.bench.embedding_server import MODEL_NAME
from tests import quality_suite
from tests.embedding_servers import OllamaEmbedProxy

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assistant" / "samples" / "us-strikes-iran-militias.txt"
SERVER = f"openai:{MODEL_NAME}"


def questions() -> list[str]:
    sample = [json.loads(line)["question"] for line in (ROOT / "eval/suites/sample-article.jsonl").open()]
    return sample + [q["question"] for q in quality_suite.QUESTIONS]



# No test inherits another's embedding-server client (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("fresh_server_clients")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The sample article and the quality suite's twelve documents (pairs of near misses)."""
    root = tmp_path_factory.mktemp("remote-corpus")
    docs = quality_suite.write(root).parent / "docs"
    shutil.copy(SAMPLE, docs)
    return docs


def top5(assistant: Assistant, mode: str) -> list[list[str]]:
    return [[h.chunk.id for h in assistant.retrieve(q, 5, mode).hits] for q in questions()]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_server_embeddings_rank_like_the_in_process_encoder(corpus, tmp_path, embedding_server):
    """The same documents, ingested in-process and through the server, give the same top-5 (in
    order, dense alone and fused) for every sample-article and quality-suite question. In-process
    runs the fp32 ONNX export: the server computes fp32 too, while the int8 default reorders
    near ties among the unrelated passages."""
    local = Assistant(data_dir=tmp_path / "local", collection="docs", embed_backend="onnx")
    remote = Assistant(data_dir=tmp_path / "remote", collection="docs", embed_backend=SERVER,
                       embed_base_url=embedding_server)
    made = local.ingest([corpus])
    report = remote.ingest([corpus])
    assert report.count("added") == made.count("added") == 13
    assert report.chunks_written == made.chunks_written  # chunks are sized alike (the same tokenizer)
    col = remote.collection()
    assert (col.embed_model, col.dimension) == (SERVER, 384)
    for mode in ("dense", "fused"):
        assert top5(remote, mode) == top5(local, mode), mode
    answer = remote.ask("How many targets did the US strike?")
    assert not answer.abstained and "85" in answer.text


def test_ollama_endpoint_embeds_documents_and_questions(corpus, tmp_path, embedding_server):
    with OllamaEmbedProxy(embedding_server, MODEL_NAME) as ollama:
        remote = Assistant(data_dir=tmp_path / "ollama", collection="docs", embed_backend="ollama:all-minilm",
                           embed_base_url=ollama.url)
        remote.ingest([corpus])
        local = Assistant(data_dir=tmp_path / "local", collection="docs", embed_backend="onnx")
        local.ingest([corpus])
        assert top5(remote, "dense") == top5(local, "dense")
        question = "Who designed the Hallan Bay lighthouse?"
        answer = remote.ask(question)
        assert question in ollama.inputs  # the question was embedded by the server too
        assert "Thomas Reed" in answer.text
        assert remote.collection().embed_model == "ollama:all-minilm"


def test_unknown_model_is_refused_with_the_fix(tmp_path, embedding_server):
    """llama.cpp's server answers any model name with the one it has; the client checks the
    server's model list. Ollama says 404 itself. Nothing is written either way."""
    wrong = Assistant(data_dir=tmp_path, collection="docs", embed_backend="openai:nomic-embed-text",
                      embed_base_url=embedding_server)
    with pytest.raises(EmbeddingServerError, match=rf"does not serve model 'nomic-embed-text'.*{MODEL_NAME}"):
        wrong.ingest([SAMPLE])
    with OllamaEmbedProxy(embedding_server, MODEL_NAME) as ollama:
        wrong = Assistant(data_dir=tmp_path, collection="docs", embed_backend="ollama:llama3", embed_base_url=ollama.url)
        with pytest.raises(EmbeddingServerError, match=r"model 'llama3' not found.*ollama pull llama3"):
            wrong.ingest([SAMPLE])
    from assistant.index.store import Store

    assert "docs" not in Store(wrong.settings).collection_names()


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT, timeout=300)


def test_unreachable_server_is_one_line_error(tmp_path):
    env = {"ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_EMBED_BACKEND": SERVER,
           "ASSISTANT_EMBED_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1", "ASSISTANT_EMBED_RETRIES": "1"}
    r = run_cli("ingest", str(SAMPLE), env=env)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("error: cannot reach embedding server") and "embed_base_url" in lines[0]


def test_a_collection_refuses_another_model(tmp_path, embedding_server):
    """Built in-process (all-MiniLM-L6-v2), a collection refuses the server's model, for ingest
    and for questions, with a message that says how to go on; and the other way round."""
    local = Assistant(data_dir=tmp_path, collection="notes")
    local.ingest([SAMPLE])
    remote = Assistant(data_dir=tmp_path, collection="notes", embed_backend=SERVER, embed_base_url=embedding_server)
    fix = r"was built with embeddings from 'all-MiniLM-L6-v2' \(384 dimensions\), not 'openai:all-MiniLM-L6-v2'.*--collection"
    with pytest.raises(ConfigError, match=fix):
        remote.ingest([SAMPLE])
    with pytest.raises(ConfigError, match="was built with embeddings from 'all-MiniLM-L6-v2'"):
        remote.ask("How many targets did the US strike?")
    assert local.ask("How many targets did the US strike?").citations  # the collection is untouched
    other = Assistant(data_dir=tmp_path, collection="served", embed_backend=SERVER, embed_base_url=embedding_server)
    other.ingest([SAMPLE])
    with pytest.raises(ConfigError, match="was built with embeddings from 'openai:all-MiniLM-L6-v2'"):
        Assistant(data_dir=tmp_path, collection="served").ingest([SAMPLE])


def test_a_collection_refuses_vectors_of_another_size(tmp_path, embedding_server):
    """The server starts returning vectors of another size under the same model name (a model
    swapped behind it; the proxy keeps 192 of the 384 numbers to stand in for such a model)."""
    with OllamaEmbedProxy(embedding_server, MODEL_NAME) as ollama:
        settings = dict(data_dir=tmp_path, collection="docs", embed_backend="ollama:all-minilm", embed_base_url=ollama.url)
        Assistant(**settings).ingest([SAMPLE])
        ollama.dimensions = 192
        # A new process's client (the cached one remembers the size it saw first).
        from assistant.embed import encoder

        encoder._REMOTE.clear()
        with pytest.raises(ConfigError, match=r"\(384 dimensions\), not 'ollama:all-minilm' \(192 dimensions\)"):
            Assistant(**settings).ingest([SAMPLE])
        with pytest.raises(ConfigError, match=r"\(192 dimensions\)"):
            Assistant(**settings).ask("How many targets did the US strike?")


def test_failures_are_retried_and_requests_run_concurrently(tmp_path, embedding_server):
    """503 and 429 answers are retried (with back-off) and the ingest completes; with
    ``embed_concurrency`` 2, two batch requests are in flight at once (each waits at a barrier
    for the other: one at a time would break the barrier after its timeout)."""
    with OllamaEmbedProxy(embedding_server, MODEL_NAME) as ollama:
        a = Assistant(data_dir=tmp_path, collection="docs", embed_backend="ollama:all-minilm",
                      embed_base_url=ollama.url, embed_batch_size=2, embed_concurrency=2)
        embedder = a.embedder
        assert embedder.dimension == 384
        ollama.fail = [503, 429, 502]
        vectors = embedder.embed(["one", "two", "three", "four"])
        assert vectors.shape == (4, 384) and ollama.requests == 1 + 3 + 2
        ollama.meet, ollama.meet_requests = threading.Barrier(2, timeout=20), 2
        embedder.embed(["five", "six", "seven", "eight"])
        assert not ollama.meet.broken
        ollama.meet = None
        ollama.fail = [500] * 10
        with pytest.raises(EmbeddingServerError, match=r"failed \(HTTP 500: simulated HTTP 500\)"):
            embedder.embed(["nine"])


def test_embed_backend_setting_is_checked():
    for bad in ("openai:", "ollama", "http://x", "gpu"):
        with pytest.raises(ConfigError, match="bad embed_backend"):
            Assistant(embed_backend=bad)
    with pytest.raises(ConfigError, match="embed_base_url must start with http"):
        Assistant(embed_backend=SERVER, embed_base_url="localhost:8080")
    assert Assistant(embed_backend="local").embedder.requested_backend == "auto"  # local is today's default
