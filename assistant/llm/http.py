"""What the HTTP backends share: one httpx client, and failures turned into fixable messages."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator

from assistant.errors import BackendError
from assistant.llm.base import context_error

_CONTEXT_HINTS = ("context length", "context window", "context_length", "maximum context", "too long",
                  "exceed", "num_ctx")


def server_message(response) -> str:
    """The error text a server put in its response body (OpenAI and Ollama shapes), shortened."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()
        return text[:300]
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        err = err.get("message") or err.get("detail") or json.dumps(err)[:300]
    return str(err)[:300]


class HTTPBackendMixin:
    """Requests with error mapping. Subclasses set ``name``, ``base_url``, ``timeout``,
    ``context_window`` and implement ``_fix_for_404``."""

    name: str
    base_url: str
    timeout: float
    context_window: int
    _client = None

    def _headers(self) -> dict[str, str]:
        return {}

    @property
    def client(self):
        if self._client is None:
            import httpx

            # Connecting should be quick; reading may take as long as generation needs.
            self._client = httpx.Client(
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                headers=self._headers(),
                trust_env=False,  # a loopback server must not be sent through a proxy
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _fix_for_404(self, detail: str) -> str:  # pragma: no cover - overridden
        return detail

    def _raise_for(self, response) -> None:
        if response.status_code < 400:
            return
        response.read()
        detail = server_message(response)
        code = response.status_code
        where = f"{self.name} at {self.base_url}"
        if code in (401, 403):
            raise BackendError(
                f"{where} refused the API key (HTTP {code}: {detail}). Fix: set llm_api_key "
                "(ASSISTANT_LLM_API_KEY) to a valid key for this server"
            )
        if code == 404:
            raise BackendError(f"{where}: not found (HTTP 404: {detail}). Fix: {self._fix_for_404(detail)}")
        if code in (400, 413, 422, 500) and any(h in detail.lower() for h in _CONTEXT_HINTS):
            raise context_error(where, self.context_window, detail=detail)
        if code == 429:
            raise BackendError(f"{where} is rate-limiting requests (HTTP 429: {detail}). Fix: wait and retry")
        raise BackendError(f"{where} failed (HTTP {code}: {detail})")

    @contextlib.contextmanager
    def _request(self, path: str, payload: dict[str, Any], stream: bool) -> Iterator[Any]:
        """POST ``payload``; yields the (checked) response. Network failures become BackendError."""
        import httpx

        where = f"{self.name} at {self.base_url}"
        try:
            if stream:
                with self.client.stream("POST", path, json=payload) as response:
                    self._raise_for(response)
                    yield response
            else:
                response = self.client.post(path, json=payload)
                self._raise_for(response)
                yield response
        except httpx.ConnectError as exc:
            raise BackendError(
                f"cannot reach {where} ({_reason(exc)}). Fix: start the server, or set llm_base_url "
                "(ASSISTANT_LLM_BASE_URL) to where it runs"
            ) from None
        except httpx.TimeoutException:
            raise BackendError(
                f"{where} did not answer within {self.timeout:g} s. Fix: raise llm_timeout, "
                "use a smaller model, or lower llm_max_tokens"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendError(f"{where}: connection failed ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def truncated_stream(name: str, base_url: str, window: int) -> BackendError:
    """A streamed reply that ended without its end marker: the server failed mid-way. With
    llama.cpp's Python server this is what a prompt longer than its context looks like."""
    return BackendError(
        f"{name} at {base_url} broke off its reply (the stream ended without its end marker); the "
        f"server's log says why. Most often the prompt did not fit the server's context window. Fix: set "
        f"llm_context_window (now {window}) to the server's context size, or lower llm_max_tokens or top_k"
    )
