"""Shared fixtures: real Chroma directories, the real packaged embedding model, tiny corpora."""

from __future__ import annotations

import os

# Before anything imports transformers, chromadb or gradio: never reach for the network.
for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[_k] = _v
# The user's own config must not leak into tests.
os.environ["ASSISTANT_CONFIG"] = os.path.join(os.path.dirname(__file__), "no-such-config.toml")
for _k in list(os.environ):
    if _k.startswith("ASSISTANT_") and _k != "ASSISTANT_CONFIG":
        del os.environ[_k]

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests import corpora, properties  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "assistant" / "samples" / "us-strikes-iran-militias.txt"


def pytest_configure(config):
    """The ONNX export of the embedding model goes to a cache of this checkout's test runs
    (``.pytest_cache/d/assistant-models``), never the user's ~/.cache/assistant/models: tests
    neither read a developer's files nor leave theirs behind. It is made once per checkout
    (about 25 s of CPU; a fresh clone, as in CI, always makes it, so the export path is tested);
    ``pytest --cache-clear`` makes it anew. Subprocesses (the CLI, ``assistant chat``) inherit it."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        models = cache.mkdir("assistant-models")
    else:  # -p no:cacheprovider: one export per session
        models = Path(tempfile.mkdtemp(prefix="assistant-test-models-"))
    os.environ["ASSISTANT_MODEL_CACHE_DIR"] = str(models)


def pytest_report_header(config):
    return [properties.describe(), f"model cache (ONNX export): {os.environ.get('ASSISTANT_MODEL_CACHE_DIR')}"]


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where this session's ONNX export lives (see ``pytest_configure``)."""
    return Path(os.environ["ASSISTANT_MODEL_CACHE_DIR"])


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory) -> Path:
    """A data directory holding the sample article, ingested once per test session."""
    from assistant.client import Assistant

    data_dir = tmp_path_factory.mktemp("sample-index")
    report = Assistant(data_dir=data_dir, collection="sample").ingest([SAMPLE])
    assert report.count("added") == 1
    return data_dir


@pytest.fixture(scope="session")
def sample_assistant(sample_data_dir):
    from assistant.client import Assistant

    return Assistant(data_dir=sample_data_dir, collection="sample")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """A real OpenAI-compatible server (``llama_cpp.server`` with the packaged SmolLM2) on
    loopback, started once for the tests that need one (the OpenAI backend, the web chat's
    streaming); its URL ends in /v1 and it wants ``tests.llm_helpers.LLAMA_KEY``."""
    from tests.llm_helpers import LlamaServer

    server = LlamaServer(tmp_path_factory.mktemp("llama-server") / "server.log")
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def embedding_server(tmp_path_factory, model_cache_dir):
    """A real embedding server on loopback: llama.cpp's server (``llama_cpp.server --embedding``)
    serving the packaged all-MiniLM-L6-v2, converted to GGUF once per checkout into the test
    model cache. Yields its OpenAI-compatible URL (ending in /v1); the model is
    ``eval.bench.embedding_server.MODEL_NAME``."""
    from tests import requires

    requires.module("llama_cpp")
    requires.module("gguf", "scripts/setup --dev installs the [test] extra")
    from eval.bench.embedding_server import llama_cpp_embedding_server, minilm_gguf

    gguf_file = minilm_gguf(model_cache_dir)
    log = tmp_path_factory.mktemp("embedding-server") / "server.log"
    with llama_cpp_embedding_server(gguf_file, threads=1, log=log) as url:
        yield url


@pytest.fixture
def fresh_server_clients():
    """Clients of embedding servers are cached per process by their settings; a proxy started
    by a later test may get the port of an earlier one, so each test's clients are dropped."""
    from assistant.embed import encoder

    yield
    for client in encoder._REMOTE.values():
        client.close()
    encoder._REMOTE.clear()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def make_corpus(tmp_path):
    """Write files of every supported format into a fresh directory."""

    def make(**kwargs) -> Path:
        root = tmp_path / "corpus"
        root.mkdir(exist_ok=True)
        corpora.write_all_formats(root, **kwargs)
        return root

    return make


# --- network guard (issue 7) ---------------------------------------------------------------
# Nothing may leave the machine during tests: no telemetry, no model hub, no update check.
# Every connection or lookup beyond loopback, in this process or in any Python process a test
# starts, is blocked and logged (tests/netguard.py); the test it happened in fails, and the
# session fails for attempts made outside any test.
import shutil  # noqa: E402

from tests import netguard  # noqa: E402

NETGUARD_LOG = Path(tempfile.mkdtemp(prefix="assistant-netguard-")) / "attempts.log"
netguard.install(NETGUARD_LOG)
os.environ.update(netguard.child_environment(NETGUARD_LOG))
_netguard_reported = [0]


@pytest.fixture(autouse=True)
def _no_outbound_network():
    before = len(netguard.logged(NETGUARD_LOG))
    yield
    seen = netguard.logged(NETGUARD_LOG)
    _netguard_reported[0] = len(seen)
    if len(seen) > before:
        pytest.fail("blocked outbound network attempts:\n" + "\n".join(seen[before:]), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    seen = netguard.logged(NETGUARD_LOG)
    if len(seen) > _netguard_reported[0]:
        print("\nblocked outbound network attempts outside tests:\n" + "\n".join(seen[_netguard_reported[0]:]))
        session.exitstatus = 1
    shutil.rmtree(NETGUARD_LOG.parent, ignore_errors=True)
# --- end of network guard ---------------------------------------------------------------------
