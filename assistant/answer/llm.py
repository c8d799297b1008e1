"""Answers written by a language model, grounded in the retrieved passages.

1. Gate: when the extractive evidence model finds no sentence likely to answer the question
   (the extractive answerer would abstain), the model is not called: "the documents don't say".
2. Prompt (``prompts/answer.md``): the passages numbered [1]..[k], as delimited data, as many as
   fit the context window with room for the answer; then the most recent earlier turns that
   still fit; then the question.
3. Generation, streamed; every sentence is checked as it completes (``citations.py``): markers
   naming no passage are removed, unsupported markers moved or removed, uncited supported
   sentences get a marker, passages are renumbered by first use.
4. An answer with no supported sentence, or in which the model says the documents don't
   answer, is an abstention (``abstained=True``), with the closest passages listed.

Follow-ups are rewritten into standalone questions by the model (``prompts/rewrite.md``)
before retrieval; a rewrite that is not a question about the conversation is discarded.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from assistant.answer.base import ABSTAIN_TEXT, EMPTY_TEXT, AnswerTools, Question, citation_for, related_from_hits
from assistant.answer.citations import MARKER, CitationChecker, Passages, strip_markers
from assistant.llm.base import ChatBackend, context_error, defuse
from assistant.text import STOPWORDS, stem, words
from assistant.types import Answer, Hit

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.answer.followup import Turn


# --- prompt files -------------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    """A prompt file: a system message and a user message template (``$name`` variables)."""

    name: str
    system: str
    user: string.Template

    def messages(self, **values: str) -> list[dict]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.substitute(values)},
        ]


@functools.lru_cache(maxsize=8)
def load_prompt(name: str) -> Prompt:
    """``prompts/<name>.md`` (or a path to such a file): HTML comments dropped, split at the
    ``## system`` / ``## user`` lines."""
    if name.endswith(".md"):
        text = Path(name).read_text(encoding="utf-8")
    else:
        text = resources.files("prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    parts = re.split(r"^## (system|user)\s*$", text, flags=re.M)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompts/{name}.md needs a '## system' and a '## user' section")
    return Prompt(name, sections["system"], string.Template(sections["user"]))


# A model that starts echoing the prompt's structure has stopped answering.
ANSWER_STOP = ["<passages", "</passages", "\nQuestion:"]

_DELIMITERS = re.compile(r"</?\s*passages?\b[^>]*>", re.I)


def passage_text(text: str) -> str:
    """A passage as the model sees it: one paragraph of plain data. Footnote markers like "[12]"
    are dropped (they would read as citations) and nothing can close the passages block or
    open a chat turn."""
    text = MARKER.sub("", text)
    text = _DELIMITERS.sub(" ", text)
    return defuse(" ".join(text.split()))


# --- embeddings shared by the gate and the citation check -------------------------------------

class _MemoEmbedder:
    """Remembers recent sentence vectors: the evidence gate and the citation check embed the
    same passage sentences."""

    def __init__(self, embedder, size: int = 4096):
        self.embedder = embedder
        self.size = size
        self._memo: OrderedDict[str, object] = OrderedDict()

    def embed(self, texts, **options):
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for t, v in zip(missing, self.embedder.embed(missing, **options)):
                self._memo[t] = v
        out = []
        for t in texts:
            self._memo.move_to_end(t)
            out.append(self._memo[t])
        while len(self._memo) > self.size:
            self._memo.popitem(last=False)
        return np.vstack(out) if out else self.embedder.embed([])

    def embed_query(self, text: str):
        return self.embedder.embed_query(text)

    def __getattr__(self, name):
        return getattr(self.embedder, name)


# --- the answerer ----------------------------------------------------------------------------

class LLMAnswerer:
    """Implements the answerer interface with a chat model (``assistant.llm``)."""

    def __init__(self, backend: ChatBackend, tools: AnswerTools, settings: "Settings",
                 support_threshold: float | None = None):
        self.backend = backend
        self.name = backend.name
        self.settings = settings
        self.embedder = _MemoEmbedder(tools.embedder)
        self.support_threshold = settings.llm_support_threshold if support_threshold is None else support_threshold
        self.gate = None
        if settings.llm_evidence_gate:
            from assistant.answer.extractive import ExtractiveAnswerer

            self.gate = ExtractiveAnswerer(AnswerTools(self.embedder, tools.idf), settings.max_answer_sentences)
        self.answer_prompt = "answer"  # a prompts/ name or a .md path (eval compares variants)
        self.last_check: CitationChecker | None = None  # diagnostics: the last answer's sentence checks
        self.last_messages: list[dict] = []  # diagnostics: what the model was last sent

    # --- prompt building -------------------------------------------------------------------
    def build_messages(self, question: Question, hits: Sequence[Hit]) -> tuple[list[dict], int]:
        """(messages, how many passages they hold). Passages come first in the budget, then the
        most recent earlier turns; raises BackendError when not even one passage fits."""
        prompt = load_prompt(self.answer_prompt)
        asked = defuse(question.standalone or question.text)
        window = self.backend.context_window
        budget = window - self.settings.llm_max_tokens

        def build(n: int, history: list[dict]) -> list[dict]:
            body = "\n\n".join(f"[{i}] {passage_text(h.chunk.text)}" for i, h in enumerate(hits[:n], start=1))
            system, user = prompt.messages(passages=body, question=asked)
            return [system, *history, user]

        n = 0
        for k in range(1, len(hits) + 1):
            if self.backend.message_tokens(build(k, [])) > budget:
                break
            n = k
        if hits and n == 0:
            raise context_error(self.name, window, self.backend.message_tokens(build(1, [])) + self.settings.llm_max_tokens)
        history: list[dict] = []
        for q, a in reversed(question.history):
            turn = [{"role": "user", "content": defuse(q)}, {"role": "assistant", "content": defuse(strip_markers(a))}]
            if self.backend.message_tokens(build(n, turn + history)) > budget:
                break
            history = turn + history
        return build(n, history), n

    # --- answering ---------------------------------------------------------------------------
    def answer(self, question: Question, hits: Sequence[Hit]) -> Answer:
        answer = None
        for item in self.answer_stream(question, hits):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def _abstain(self, question: Question, hits: Sequence[Hit], timings: dict, unsupported=()) -> Answer:
        return Answer(
            question.text,
            ABSTAIN_TEXT if hits else EMPTY_TEXT,
            abstained=True,
            related=related_from_hits(hits),
            timings_ms=timings,
            backend=self.name,
            standalone_question=question.standalone,
            unsupported=list(unsupported),
        )

    def evidence_found(self, question: Question, hits: Sequence[Hit]) -> bool:
        """Would the extractive evidence model answer (some sentence likely answers)?"""
        if self.gate is None:
            return True
        asked = question.text if question.context else (question.standalone or question.text)
        q = Question(asked, question.standalone, question.history, question.context, question.vector)
        return bool(self.gate.select(self.gate.score(q, hits)))

    def answer_stream(self, question: Question, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Text pieces as they are checked, then the final ``Answer`` (see ``Assistant.ask_stream``)."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if not hits:
            answer = self._abstain(question, hits, timings)
            yield answer.text
            yield answer
            return
        if self.gate is not None:
            t = time.perf_counter()
            found = self.evidence_found(question, hits)
            timings["gate"] = (time.perf_counter() - t) * 1000
            if not found:
                timings["answer"] = (time.perf_counter() - started) * 1000
                answer = self._abstain(question, hits, timings)
                yield answer.text
                yield answer
                return
        messages, n = self.build_messages(question, hits)
        self.last_messages = messages
        used = list(hits[:n])
        checker = CitationChecker(Passages(used, self.embedder), self.support_threshold,
                                  question.standalone or question.text, self.settings.llm_drop_unsupported)
        self.last_check = checker
        t = time.perf_counter()
        first = None
        for piece in self.backend.stream(
            messages, max_tokens=self.settings.llm_max_tokens, temperature=self.settings.llm_temperature,
            stop=ANSWER_STOP,
        ):
            if first is None:
                first = time.perf_counter()
            shown = checker.feed(piece)
            if shown:
                yield shown
        shown = checker.finish()
        if shown:
            yield shown
        end = time.perf_counter()
        timings["first_token"] = ((first or end) - t) * 1000
        timings["generate"] = (end - t) * 1000
        timings["answer"] = (end - started) * 1000
        if not checker.confirmed:
            # Nothing the model wrote is supported by a passage (or it said the documents
            # don't answer): nothing was shown yet, so the abstention is all the user sees.
            answer = self._abstain(question, hits, timings, checker.unsupported)
            yield answer.text
            yield answer
            return
        citations = [
            citation_for(checker.numbers[i], used[i], checker.quote(i)) for i in checker.cited_passages
        ]
        yield Answer(
            question.text,
            checker.text,
            citations=citations,
            abstained=False,
            timings_ms=timings,
            standalone_question=question.standalone,
            backend=self.name,
            unsupported=checker.unsupported,
        )

    # --- follow-ups --------------------------------------------------------------------------
    def rewrite(self, question: str, turns: Sequence["Turn"]) -> str | None:
        """A standalone version of the follow-up ``question``, or None when the model's reply
        is not a usable rewrite (then the caller completes the question without the model)."""
        prompt = load_prompt("rewrite")
        max_tokens = 96
        budget = self.backend.context_window - max_tokens
        lines: list[str] = []
        for t in reversed(turns):
            answer = " ".join(strip_markers(t.answer).split())
            answer = answer if len(answer) <= 400 else answer[:399].rsplit(" ", 1)[0] + " …"
            turn = [f"User: {defuse(t.question)}"] + ([f"Assistant: {defuse(answer)}"] if answer else [])
            candidate = turn + lines
            if self.backend.message_tokens(prompt.messages(conversation="\n".join(candidate), question=question)) > budget:
                break
            lines = candidate
        if not lines:
            return None
        messages = prompt.messages(conversation="\n".join(lines), question=defuse(question))
        self.last_messages = messages
        reply = self.backend.complete(messages, max_tokens=max_tokens, temperature=0.0, stop=["\n"])
        return acceptable_rewrite(reply, question, turns)


_QUESTION_START = re.compile(
    r"^(who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|will|would|"
    r"should|has|have|had|in|on|at|for|from|to|by|with|according)\b", re.I)


def acceptable_rewrite(reply: str, question: str, turns: Sequence["Turn"]) -> str | None:
    """The model's rewrite, cleaned, if it is one question that keeps the follow-up's words and
    draws on the conversation; otherwise None (small models often answer instead of rewriting)."""
    text = reply.strip().splitlines()[0] if reply.strip() else ""
    text = re.sub(r"^(standalone question|rewritten question|question)\s*:\s*", "", text, flags=re.I)
    text = text.strip().strip("\"'“”‘’").strip()
    if not text or not text.endswith("?") or text.count("?") > 1 or not _QUESTION_START.match(text):
        return None
    if len(text) > max(3 * len(question), len(question) + 200):
        return None
    if any(text.lower() == t.question.lower().strip() for t in turns) and text.lower() != question.lower():
        return None  # the model repeated an earlier question
    new = {stem(w) for w in words(text) if w not in STOPWORDS}
    own = {stem(w) for w in words(question) if w not in STOPWORDS}
    context = {stem(w) for t in turns for w in words(t.question + " " + t.answer) if w not in STOPWORDS}
    if own and len(own & new) < max(1, len(own) // 2):
        return None  # not a rewrite of this question
    if not (new - own) & context and new != own:
        return None  # nothing taken from the conversation
    return text
