"""Load on the web chat: N concurrent conversations through its API for a fixed time.

    .venv/bin/python -m eval.bench.web_load                       # 8 conversations, 60 s
    .venv/bin/python -m eval.bench.web_load --conversations 4 --seconds 30 --json
    .venv/bin/python -m eval.bench.web_load --url http://127.0.0.1:7860/   # a chat already running
    .venv/bin/python -m eval.bench.web_load --api                 # the HTTP API (OpenAI-compatible)

With ``--api`` each conversation is an ``openai`` client streaming ``/v1/chat/completions`` on
the same server, sending its whole message list each time (as OpenAI clients do); the time to
the first streamed token is reported beside the latency of the whole answer.

Each conversation is its own ``gradio_client`` session on ``/chat`` (what a browser tab uses),
asking its own questions about the sample article, each followed by a follow-up that only
makes sense in that conversation ("How many did it injure?"). Checked on every turn:

- no error (an exception, or an error message instead of an answer);
- the conversation keeps its own history: the chat returned holds exactly this session's
  questions, in order, and the follow-up was understood from this session's previous question
  (with the extractive answerer its standalone form starts with that question).

Prints requests, errors, throughput and latency percentiles (client-side, queueing included),
after one warm-up answer (not counted).
Without ``--url`` it starts ``assistant chat`` on a free loopback port over a temporary data
dir holding the sample article (ingested first, not timed).
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.ui_helpers

TOPICS = [
    "How many targets did the US strike?",
    "What attack were the airstrikes a response to?",
    "Who condemned the airstrikes?",
    "Who is the Defense Secretary?",
    "Where did the drone attack happen?",
    "Who was blamed for the drone attack?",
    "How many US soldiers were killed?",
    "What did the US tell the Iraqi government?",
]
FOLLOW_UPS = ["How many did it injure?", "And what about them?", "Why did they do it?"]


@dataclass
class Conversation:
    index: int
    questions: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    history_errors: list[str] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)


@dataclass
class LoadResult:
    conversations: int
    seconds: float
    requests: int
    errors: int
    history_errors: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    turns_per_conversation: list[int]
    examples: list[str]
    way_in: str = "web chat (/chat)"
    first_token_p50_ms: float = 0.0
    first_token_p95_ms: float = 0.0

    def table(self) -> str:
        head = f"{'conversations':>13} {'seconds':>8} {'requests':>9} {'errors':>7} {'history errors':>15} " \
               f"{'req/s':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        row = f"{self.conversations:>13} {self.seconds:>8.1f} {self.requests:>9} {self.errors:>7} " \
              f"{self.history_errors:>15} {self.requests_per_second:>6.2f} {self.p50_ms:>8.0f} " \
              f"{self.p95_ms:>8.0f} {self.max_ms:>8.0f}"
        turns = "turns per conversation: " + ", ".join(map(str, self.turns_per_conversation))
        lines = [f"way in: {self.way_in}", head, row, turns]
        if self.first_token_p50_ms:
            lines.append(f"time to first streamed token: p50 {self.first_token_p50_ms:.0f} ms, "
                         f"p95 {self.first_token_p95_ms:.0f} ms")
        if self.examples:
            lines.append("first problems:")
            lines += [f"  {e}" for e in self.examples]
        return "\n".join(lines)


def _text(content) -> str:
    """A chat message's text, whatever shape Gradio gives it."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, list):
        return " ".join(_text(c) for c in content)
    return str(content)


def _script(index: int):
    """This conversation's questions: its own topics in its own order, each with a follow-up."""
    i = 0
    while True:
        topic = TOPICS[(index + i) % len(TOPICS)]
        yield topic, False
        yield FOLLOW_UPS[(index + i) % len(FOLLOW_UPS)], True
        i += 1


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _check_follow_up(conv: Conversation, question: str, follow_up: bool, answer: dict, previous: str) -> str:
    """A follow-up must be read after the conversation's previous question; returns the question
    the next follow-up leans on."""
    if follow_up and answer.get("backend") == "extractive":
        if not str(answer.get("standalone_question", "")).startswith(previous):
            conv.history_errors.append(
                f"conversation {conv.index}: {question!r} read as {answer.get('standalone_question')!r}, "
                f"not after {previous!r}"
            )
    return previous if follow_up else str(answer.get("standalone_question") or question)


def run_conversation(url: str, conv: Conversation, clock: dict, collection: str, top_k: int,
                     auth: tuple[str, str] | None, ready: threading.Barrier, turns: int | None = None) -> None:
    """One session: connect, wait for the others, then ask until ``clock["deadline"]`` (or,
    given ``turns``, that many questions)."""
    from gradio_client import Client

    try:
        client = Client(url, auth=auth, verbose=False)
    finally:
        ready.wait()  # the clock starts once every session is connected
    script = _script(conv.index)
    previous = ""
    while (len(conv.latencies_ms) < turns) if turns is not None else (time.monotonic() < clock["deadline"]):
        question, follow_up = next(script)
        started = time.perf_counter()
        try:
            _, messages, answer = client.predict(question, collection, top_k, api_name="/chat")
        except Exception as exc:  # the client raises on server errors and timeouts
            conv.errors.append(f"conversation {conv.index}: {type(exc).__name__}: {exc}")
            return
        conv.latencies_ms.append((time.perf_counter() - started) * 1000)
        conv.questions.append(question)
        if not answer:
            shown = _text(messages[-1].get("content")) if messages else ""
            conv.errors.append(f"conversation {conv.index}: no answer to {question!r}: {shown[:200]}")
            continue
        asked = [html.unescape(_text(m.get("content"))) for m in messages if m.get("role") == "user"]
        if asked != conv.questions[-50:]:  # the chat keeps the last 50 turns
            conv.history_errors.append(
                f"conversation {conv.index}: history ends {asked[-3:]} instead of {conv.questions[-3:]}"
            )
        previous = _check_follow_up(conv, question, follow_up, answer, previous)


def run_api_conversation(url: str, conv: Conversation, clock: dict, collection: str, top_k: int,
                         auth, ready: threading.Barrier) -> None:
    """One OpenAI client streaming /v1/chat/completions with its own message list."""
    import openai

    try:
        client = openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key=auth or "none", max_retries=0, timeout=300)
    finally:
        ready.wait()
    script = _script(conv.index)
    messages: list[dict] = []
    previous = ""
    while time.monotonic() < clock["deadline"]:
        question, follow_up = next(script)
        messages.append({"role": "user", "content": question})
        started = time.perf_counter()
        first, text, answer = None, "", None
        try:
            for chunk in client.chat.completions.create(model=collection, messages=messages[-100:], stream=True):
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece and first is None:
                    first = (time.perf_counter() - started) * 1000
                text += piece or ""
                answer = (chunk.model_extra or {}).get("answer") or answer
        except Exception as exc:
            conv.errors.append(f"conversation {conv.index}: {type(exc).__name__}: {exc}")
            return
        conv.latencies_ms.append((time.perf_counter() - started) * 1000)
        conv.first_token_ms.append(first or conv.latencies_ms[-1])
        conv.questions.append(question)
        messages.append({"role": "assistant", "content": text})
        if not answer:
            conv.errors.append(f"conversation {conv.index}: no answer to {question!r}: {text[:200]}")
            continue
        previous = _check_follow_up(conv, question, follow_up, answer, previous)


def run_load(url: str, conversations: int = 8, seconds: float = 60.0, collection: str = "default",
             top_k: int = 5, auth: tuple[str, str] | None = None, api: bool = False,
             turns: int | None = None) -> LoadResult:
    """Drive ``conversations`` sessions against the chat at ``url`` for ``seconds`` (through the
    OpenAI-compatible API with ``api``), or, given ``turns``, until each has asked that many
    questions (all at once: a count, not a clock)."""
    from gradio_client import Client

    # One answer first, so the figures are the steady state, not the server's first load.
    Client(url, auth=None if api else auth, verbose=False).predict(TOPICS[0], collection, api_name="/ask")
    run = run_api_conversation if api else run_conversation
    convs = [Conversation(i) for i in range(conversations)]
    ready = threading.Barrier(conversations + 1)
    clock = {"deadline": float("inf")}
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        futures = [
            pool.submit(run, url, c, clock, collection, top_k, auth, ready, *([] if api else [turns])) for c in convs
        ]
        ready.wait()
        began = time.monotonic()
        clock["deadline"] = began + seconds
        for f in futures:
            f.result()
        elapsed = time.monotonic() - began
    latencies = [ms for c in convs for ms in c.latencies_ms]
    errors = [e for c in convs for e in c.errors]
    history = [e for c in convs for e in c.history_errors]
    return LoadResult(
        conversations=conversations,
        seconds=elapsed,
        requests=len(latencies),
        errors=len(errors),
        history_errors=len(history),
        requests_per_second=len(latencies) / elapsed if elapsed else 0.0,
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p95_ms=_percentile(latencies, 0.95),
        max_ms=max(latencies, default=0.0),
        turns_per_conversation=[len(c.latencies_ms) for c in convs],
        examples=(errors + history)[:5],
        way_in="HTTP API (/v1/chat/completions, streamed)" if api else "web chat (/chat)",
        first_token_p50_ms=statistics.median(firsts) if (firsts := [ms for c in convs for ms in c.first_token_ms]) else 0.0,
        first_token_p95_ms=_percentile(firsts, 0.95),
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running web chat (default: start one on the sample article)")
    ap.add_argument("--conversations", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--collection", default="default")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--api", action="store_true", help="load the OpenAI-compatible HTTP API instead of /chat")
    args = ap.parse_args(argv)

    proc = tmp = None
    url = args.url
    try:
        if not url:
            from assistant.client import Assistant
            from assistant.samples import sample_files
            from tests.ui_helpers import free_port, start_chat_process, wait_http

            tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
            Assistant(data_dir=tmp / "data", collection=args.collection).ingest(sample_files())
            port = free_port()
            log = tmp / "chat.log"
            proc = start_chat_process(tmp / "data", port, log)
            url = f"http://127.0.0.1:{port}/"
            wait_http(url, timeout=180, proc=proc, log=log)
        result = run_load(url, args.conversations, args.seconds, args.collection, args.top_k, api=args.api)
    finally:
        if proc is not None:
            from tests.ui_helpers import stop

            stop(proc)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(asdict(result), indent=2) if args.json else result.table())
    return 0 if result.errors == 0 and result.history_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
