"""``answerer = ollama:MODEL``: an Ollama server's chat API (``POST /api/chat``).

Streaming replies are newline-delimited JSON objects, each with ``message.content``; the last
one has ``"done": true`` and the token counts. ``num_ctx`` is sent so that Ollama's context
window is the one the prompt was budgeted for (Ollama silently truncates otherwise).
"""

from __future__ import annotations

import json
import time
from typing import Iterator, Sequence

from assistant.errors import BackendError
from assistant.llm.base import ChatBackend, Generation, Message
from assistant.llm.http import HTTPBackendMixin, truncated_stream

DEFAULT_BASE_URL = "http://127.0.0.1:11434"


class OllamaBackend(HTTPBackendMixin, ChatBackend):
    def __init__(self, model: str, base_url: str = "", timeout: float = 120.0, context_window: int = 4096):
        self.model = model
        self.name = f"ollama:{model}"
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.context_window = context_window
        self.last = Generation()

    def _fix_for_404(self, detail: str) -> str:
        return f"pull the model first (ollama pull {self.model}), or pick one listed by `ollama list`"

    def _payload(self, messages, max_tokens, temperature, stop, stream: bool) -> dict:
        options = {"temperature": temperature, "num_predict": max_tokens, "num_ctx": self.context_window}
        if stop:
            options["stop"] = list(stop)
        return {"model": self.model, "messages": list(messages), "stream": stream, "options": options}

    def _record(self, gen: Generation, event: dict) -> None:
        gen.prompt_tokens = event.get("prompt_eval_count", gen.prompt_tokens)
        gen.completion_tokens = event.get("eval_count", gen.completion_tokens)
        gen.finish_reason = event.get("done_reason", "stop")

    def complete(self, messages: Sequence[Message], *, max_tokens: int, temperature: float,
                 stop: Sequence[str] = ()) -> str:
        started = time.perf_counter()
        with self._request("/api/chat", self._payload(messages, max_tokens, temperature, stop, False),
                           stream=False) as response:
            event = _loads(response.text, self.name)
        if "error" in event:
            raise BackendError(f"{self.name} at {self.base_url} failed: {event['error']}")
        gen = Generation()
        self._record(gen, event)
        gen.first_token_ms = gen.total_ms = (time.perf_counter() - started) * 1000
        self.last = gen
        return (event.get("message") or {}).get("content") or ""

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float,
               stop: Sequence[str] = ()) -> Iterator[str]:
        started = time.perf_counter()
        gen = Generation()
        self.last = gen
        done = False
        try:
            with self._request("/api/chat", self._payload(messages, max_tokens, temperature, stop, True),
                               stream=True) as response:
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = _loads(line, self.name)
                    if "error" in event:
                        raise BackendError(f"{self.name} at {self.base_url} failed: {event['error']}")
                    text = (event.get("message") or {}).get("content") or ""
                    if text:
                        if not gen.first_token_ms:
                            gen.first_token_ms = (time.perf_counter() - started) * 1000
                        yield text
                    if event.get("done"):
                        self._record(gen, event)
                        done = True
                        break
            if not done:
                raise truncated_stream(self.name, self.base_url, self.context_window)
        finally:
            gen.total_ms = (time.perf_counter() - started) * 1000


def _loads(data: str, name: str) -> dict:
    try:
        event = json.loads(data)
    except ValueError:
        raise BackendError(f"{name}: the server sent something that is not Ollama's JSON: {data[:200]!r}") from None
    if not isinstance(event, dict):
        raise BackendError(f"{name}: unexpected reply: {data[:200]!r}")
    return event
