"""Embedding servers for the tests: the real one (llama.cpp's server with the packaged MiniLM, see
``eval/bench/embedding_server.py``) and ``OllamaEmbedProxy``, a small HTTP server that speaks
Ollama's ``POST /api/embed`` by forwarding every request to the real server (there is no Ollama
binary on this machine). The proxy can also fail on purpose (5xx, 429), hold requests until
several are in flight, and cut vectors short (a stand-in for a model of another size)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OllamaEmbedProxy:
    """``/api/embed`` for the model names in ``models`` (others get Ollama's 404), answered with
    the real server's vectors for ``upstream_model`` at ``upstream`` (a ``/v1`` URL).

    Knobs, all off by default: ``fail`` = a list of HTTP codes to answer the next requests with
    (then it forwards again); ``poison`` = a text whose requests always get 500; ``dimensions`` = keep only the first N numbers of each vector;
    ``meet`` = a ``threading.Barrier`` the next ``meet_requests`` requests wait at first (so a
    test sees whether things happen at once without timing anything). ``inputs`` records what was embedded.
    """

    def __init__(self, upstream: str, upstream_model: str, models=("all-minilm",)):
        import httpx

        self.upstream = httpx.Client(base_url=upstream, timeout=60, trust_env=False)
        self.upstream_model = upstream_model
        self.models = set(models)
        self.fail: list[int] = []
        self.poison = ""  # any request with a text containing this gets HTTP 500
        self.dimensions = 0
        self.meet: threading.Barrier | None = None
        self.meet_requests = 0
        self.inputs: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path != "/api/embed":
                    return self._send(404, {"error": "404 page not found"})
                with proxy._lock:
                    proxy.requests += 1
                    code = proxy.fail.pop(0) if proxy.fail else 0
                if code:
                    return self._send(code, {"error": f"simulated HTTP {code}"}, {"Retry-After": "0"} if code == 429 else None)
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                if proxy.poison and any(proxy.poison in t for t in texts):
                    return self._send(500, {"error": "simulated failure on this text"})
                model = body.get("model", "")
                if model not in proxy.models:
                    return self._send(404, {"error": f'model "{model}" not found, try pulling it first'})
                with proxy._lock:
                    meet = proxy.meet if proxy.meet_requests > 0 else None
                    proxy.meet_requests -= 1 if meet else 0
                if meet is not None:
                    try:
                        meet.wait()
                    except threading.BrokenBarrierError:
                        pass
                with proxy._lock:
                    proxy.inputs.extend(texts)
                reply = proxy.upstream.post("/embeddings", json={"model": proxy.upstream_model, "input": texts})
                vectors = [d["embedding"] for d in sorted(reply.json()["data"], key=lambda d: d["index"])]
                if proxy.dimensions:
                    vectors = [v[: proxy.dimensions] for v in vectors]
                self._send(200, {"model": model, "embeddings": vectors, "prompt_eval_count": 0})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OllamaEmbedProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()
