"""The chat-model interface every LLM backend implements, and what they share.

A backend turns chat messages (``[{"role": "system"|"user"|"assistant", "content": str}]``)
into text, either all at once (``complete``) or piece by piece as it is generated
(``stream``). Backends know nothing about documents or citations: that is the answerer's job
(``assistant/answer/llm.py``). Every failure a user can fix is raised as ``BackendError``
with a message that names the backend and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from assistant.errors import BackendError

Message = dict  # {"role": ..., "content": ...}

# Special tokens of chat templates (ChatML, Llama, Gemma...): text from documents or users
# must never be read as one, or a document could close the system turn and open its own.
_SPECIAL_MARKS = ("<|", "|>", "<s>", "</s>", "[INST]", "[/INST]", "<start_of_turn>", "<end_of_turn>")


def defuse(text: str) -> str:
    """Text with chat-template control sequences broken up, so it stays plain data."""
    for mark in _SPECIAL_MARKS:
        if mark in text:
            text = text.replace(mark, " ".join(mark))
    return text


@dataclass
class Generation:
    """Statistics of the last generation, for benchmarks and timings."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_ms: float = 0.0
    total_ms: float = 0.0
    finish_reason: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        gen_ms = self.total_ms - self.first_token_ms
        if self.completion_tokens <= 1 or gen_ms <= 0:
            return 0.0
        return (self.completion_tokens - 1) / (gen_ms / 1000)


class ChatBackend:
    """Base class: ``name`` (as configured, e.g. ``ollama:llama3``), ``context_window`` in tokens."""

    name: str = "llm"
    context_window: int = 4096
    last: Generation

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's context. Servers don't say, so estimate high:
        English averages about 4 characters a token; 3 keeps a margin for names and numbers."""
        return math.ceil(len(text) / 3)

    def message_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens a list of messages takes, template overhead included (about 6 per message)."""
        return sum(self.count_tokens(m["content"]) + 6 for m in messages) + 3

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        """Yield the reply's text in pieces as the model writes them."""
        raise NotImplementedError

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stop: Sequence[str] = ()
    ) -> str:
        """The whole reply."""
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))

    def close(self) -> None:  # pragma: no cover - default: nothing held
        pass


def context_error(backend: str, window: int, needed: int | None = None, detail: str = "") -> BackendError:
    need = f" (needs about {needed})" if needed else ""
    extra = f": {detail}" if detail else ""
    return BackendError(
        f"{backend}: the context window of {window} tokens is too small for the question, one passage "
        f"and the answer{need}{extra}. Fix: raise llm_context_window (and the server's context size), "
        "or lower llm_max_tokens, top_k or chunk_tokens"
    )
