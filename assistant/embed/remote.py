"""Embeddings from a server: ``embed_backend = openai:MODEL`` (any OpenAI-compatible
``POST /v1/embeddings``: vLLM, text-embeddings-inference, llama.cpp's server, LiteLLM, OpenAI)
or ``ollama:MODEL`` (Ollama's ``POST /api/embed``).

Texts go in batches of ``embed_batch_size``, ``embed_concurrency`` requests at a time, so a
GPU box stays busy; connection failures, 5xx and 429 are retried with exponential back-off.
Chunks are still sized on this machine, with the tokenizer of ``embed_model`` (the packaged
MiniLM's by default: a WordPiece count is a fair, slightly high, estimate for most servers'
models; point ``embed_model`` at a local copy of the served model's tokenizer for an exact one).
Vectors are L2-normalised here whatever the server does, so a dot product is the cosine.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Sequence

from assistant.errors import EmbeddingServerError
from assistant.llm.http import _reason, server_message as _server_message

if TYPE_CHECKING:
    import numpy as np

    from assistant.embed.encoder import Embedder

DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "ollama": "http://127.0.0.1:11434"}
RETRY_STATUS = {429, 500, 502, 503, 504}
BACKOFF_S = 0.5  # first wait; doubled after every failed attempt, at most MAX_BACKOFF_S
MAX_BACKOFF_S = 8.0


class RemoteEmbedder:
    """The ``Embedder`` interface (``embed``, ``embed_query``, ``count_tokens``, ``max_tokens``,
    ``dimension``, ``backend``) over an embedding server."""

    def __init__(self, kind: str, model: str, *, base_url: str = "", api_key: str = "", timeout: float = 60.0,
                 batch_size: int = 32, concurrency: int = 4, retries: int = 3, tokenizer: "Embedder"):
        if kind not in DEFAULT_URLS:
            raise EmbeddingServerError(f"unknown embedding server kind {kind!r}: use openai:MODEL or ollama:MODEL")
        self.kind = kind
        self.model = model
        self.name = f"{kind}:{model}"
        self.base_url = (base_url or DEFAULT_URLS[kind]).rstrip("/")
        self.api_key = api_key or (os.environ.get("OPENAI_API_KEY", "") if kind == "openai" else "")
        self.timeout = timeout
        self.batch_size = max(1, batch_size)
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self.tokenizer = tokenizer  # a local Embedder, used for its tokenizer only (never loaded)
        self._client = None
        self._dimension: int | None = None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # --- what the rest of the code asks of an encoder ----------------------------------
    @property
    def backend(self) -> str:
        return self.name

    @property
    def model_spec(self) -> str:
        return self.name

    @property
    def max_tokens(self) -> int:
        return self.tokenizer.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.tokenizer.count_tokens(texts)

    @property
    def dimension(self) -> int:
        """The served model's vector size (one request the first time: it also checks that the
        server is there and serves the model)."""
        if self._dimension is None:
            with self._lock:
                if self._dimension is None:
                    self._check_model_listed()
                    self._dimension = int(self._post_batch(["dimension probe"]).shape[1])
        return self._dimension

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
              batch_size: int | None = None) -> "np.ndarray":
        """Normalised float32 vectors, one row per text, in input order. ``batch_size`` is
        accepted for the local encoder's sake and ignored: the server batches as it likes."""
        import numpy as np

        texts = list(texts)
        dim = self.dimension
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        out: list[np.ndarray] = []
        if len(batches) == 1:
            out.append(self._post_batch(batches[0]))
            if progress:
                progress(len(batches[0]))
        else:
            for batch, vectors in zip(batches, self._executor().map(self._post_batch, batches)):
                out.append(vectors)
                if progress:
                    progress(len(batch))
        vectors = np.vstack(out)
        if vectors.shape[1] != dim:
            raise EmbeddingServerError(
                f"{self._where()} now returns {vectors.shape[1]}-dimensional vectors, not {dim}: "
                "the served model changed during the run; run again"
            )
        return vectors

    def embed_query(self, text: str) -> "np.ndarray":
        return self.embed([text])[0]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- HTTP ------------------------------------------------------------------------
    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="embed-request")
        return self._pool

    @property
    def client(self):
        if self._client is None:
            import httpx

            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.Client(
                base_url=self.base_url, headers=headers, trust_env=False,  # a loopback server: no proxy
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                limits=httpx.Limits(max_connections=self.concurrency + 1),
            )
        return self._client

    def _where(self) -> str:
        return f"embedding server {self.name} at {self.base_url}"

    def _request(self, method: str, path: str, payload: dict | None = None):
        """The response to one request, retried with back-off on connection errors, 5xx and 429."""
        import httpx

        wait = BACKOFF_S
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.client.request(method, path, json=payload)
            except httpx.TimeoutException:
                if last:
                    raise EmbeddingServerError(
                        f"{self._where()} did not answer within {self.timeout:g} s. Fix: raise embed_timeout, "
                        "or lower embed_batch_size"
                    ) from None
            except httpx.HTTPError as exc:
                if last:
                    raise EmbeddingServerError(
                        f"cannot reach {self._where()} ({_reason(exc)}). Fix: start the server, or set "
                        "embed_base_url (ASSISTANT_EMBED_BASE_URL) to where it runs"
                    ) from None
            else:
                if response.status_code not in RETRY_STATUS or last:
                    return response
                wait = max(wait, _retry_after(response))
            time.sleep(min(wait, MAX_BACKOFF_S))
            wait *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_model_listed(self) -> None:
        """Refuse a model the server does not list. Some servers (llama.cpp's) answer any model
        name with the one they have, which would build a collection under the wrong name."""
        if self.kind != "openai":
            return  # Ollama answers an unknown model with 404 itself
        response = self._request("GET", "/models")
        if response.status_code != 200:
            return  # not every server lists its models; the first request will tell
        try:
            served = [str(m["id"]) for m in response.json().get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if served and self.model not in served:
            raise EmbeddingServerError(
                f"{self._where()} does not serve model {self.model!r} (it serves: {', '.join(served[:10])}). "
                f"Fix: set embed_backend to openai:{served[0]} or to the name the server gives your model"
            )

    def _post_batch(self, texts: list[str]) -> "np.ndarray":
        import numpy as np

        if self.kind == "openai":
            response = self._request("POST", "/embeddings", {"model": self.model, "input": texts})
        else:
            response = self._request("POST", "/api/embed", {"model": self.model, "input": texts, "truncate": True})
        self._raise_for(response)
        try:
            body = response.json()
            if self.kind == "openai":
                rows = sorted(body["data"], key=lambda d: d.get("index", 0))
                vectors = [row["embedding"] for row in rows]
            else:
                vectors = body["embeddings"]
            array = np.asarray(vectors, dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingServerError(
                f"{self._where()} sent a reply that is not an embeddings response ({_reason(exc)}): "
                f"{response.text[:200]!r}"
            ) from None
        if array.ndim != 2 or array.shape[0] != len(texts) or array.shape[1] == 0:
            raise EmbeddingServerError(
                f"{self._where()} returned {array.shape[0] if array.ndim else 0} vectors for {len(texts)} texts"
            )
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        return array / np.maximum(norms, 1e-12)

    def _raise_for(self, response) -> None:
        code = response.status_code
        if code < 400:
            return
        detail = _server_message(response)
        where = self._where()
        if code in (401, 403):
            raise EmbeddingServerError(
                f"{where} refused the API key (HTTP {code}: {detail}). Fix: set embed_api_key (ASSISTANT_EMBED_API_KEY)"
            )
        if code == 404 or (code in (400, 422) and "model" in detail.lower()):
            fix = (f"pull it first (ollama pull {self.model}), or pick one listed by `ollama list`"
                   if self.kind == "ollama" else
                   f"check the model name (GET {self.base_url}/models lists what the server has) and that "
                   "embed_base_url is the URL ending in /v1")
            raise EmbeddingServerError(f"{where}: model {self.model!r} not found (HTTP {code}: {detail}). Fix: {fix}")
        if code == 429:
            raise EmbeddingServerError(f"{where} is still rate-limiting after {self.retries} retries (HTTP 429: "
                                       f"{detail}). Fix: lower embed_concurrency, or wait and run again")
        raise EmbeddingServerError(f"{where} failed (HTTP {code}: {detail})")


def _retry_after(response) -> float:
    try:
        return float(response.headers.get("retry-after", 0))
    except ValueError:
        return 0.0

