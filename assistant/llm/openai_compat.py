"""``answerer = openai:MODEL``: any server that speaks OpenAI's chat-completions API.

OpenAI itself, vLLM, llama.cpp's server (``python -m llama_cpp.server``), LM Studio, LiteLLM...
``llm_base_url`` is the URL that ends in ``/v1``; ``llm_api_key`` (or ``$OPENAI_API_KEY``) is
sent as a bearer token. Streaming uses server-sent events (``data: {...}`` lines, ``[DONE]``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Iterator, Sequence

from assistant.errors import BackendError
from assistant.llm.base import ChatBackend, Generation, Message
from assistant.llm.http import HTTPBackendMixin, truncated_stream

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIBackend(HTTPBackendMixin, ChatBackend):
    def __init__(self, model: str, base_url: str = "", api_key: str = "", timeout: float = 120.0,
                 context_window: int = 4096):
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "")
        self.timeout = timeout
        self.context_window = context_window
        self.last = Generation()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _fix_for_404(self, detail: str) -> str:
        return (f"check the model name {self.model!r} (GET {self.base_url}/models lists what the server has) "
                "and that llm_base_url is the URL ending in /v1")

    def _payload(self, messages, max_tokens, temperature, stop, stream: bool) -> dict:
        payload = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        }
        if stop:
            payload["stop"] = list(stop)[:4]  # OpenAI accepts at most four
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def complete(self, messages: Sequence[Message], *, max_tokens: int, temperature: float,
                 stop: Sequence[str] = ()) -> str:
        started = time.perf_counter()
        with self._request("/chat/completions", self._payload(messages, max_tokens, temperature, stop, False),
                           stream=False) as response:
            body = _json(response, self.name)
        try:
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.name} at {self.base_url} sent an unexpected reply: {str(body)[:200]}") from None
        usage = body.get("usage") or {}
        elapsed = (time.perf_counter() - started) * 1000
        self.last = Generation(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), elapsed, elapsed,
                               choice.get("finish_reason") or "")
        return text

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float,
               stop: Sequence[str] = ()) -> Iterator[str]:
        started = time.perf_counter()
        gen = Generation()
        self.last = gen
        done = False
        try:
            with self._request("/chat/completions", self._payload(messages, max_tokens, temperature, stop, True),
                               stream=True) as response:
                for line in response.iter_lines():
                    line = line.strip()
                    if not line.startswith("data:"):
                        continue  # comments (": ping"), event names, blank keep-alives
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    event = _loads(data, self.name)
                    if "error" in event:
                        raise BackendError(f"{self.name} at {self.base_url} failed: {event['error']}")
                    if event.get("usage"):
                        gen.prompt_tokens = event["usage"].get("prompt_tokens", 0)
                        gen.completion_tokens = event["usage"].get("completion_tokens", gen.completion_tokens)
                    for choice in event.get("choices") or []:
                        if choice.get("finish_reason"):
                            gen.finish_reason = choice["finish_reason"]
                        text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            if not gen.first_token_ms:
                                gen.first_token_ms = (time.perf_counter() - started) * 1000
                            gen.extra["chunks"] = gen.extra.get("chunks", 0) + 1
                            yield text
            if not done:
                raise truncated_stream(self.name, self.base_url, self.context_window)
        finally:
            gen.total_ms = (time.perf_counter() - started) * 1000
            if not gen.completion_tokens:
                gen.completion_tokens = gen.extra.get("chunks", 0)


def _json(response, name: str) -> dict:
    try:
        return response.json()
    except ValueError:
        raise BackendError(f"{name}: the server did not answer in JSON: {response.text[:200]!r}") from None


def _loads(data: str, name: str) -> dict:
    try:
        return json.loads(data)
    except ValueError:
        raise BackendError(f"{name}: the server sent a malformed stream event: {data[:200]!r}") from None
