"""The default answerer: the project's reader model finds the words that answer, and quotes them.

Mode ``spans`` (the default): the sentence-scoring model (``extractive.py``) decides when to
abstain and which sentences may be quoted; the reader reads its best few sentences, each on its
own, a fitted pick (``SentencePick``) chooses the one the answer leads with, and the reader's best
span in it becomes ``Answer.short_answer``, with its offsets in the citation. With ``rerank_k``
the reader first reranks the fused candidates by its relevance score.

Mode ``joint``: passages are cut into *tiles* (runs of whole sentences that fit the reader's
window); the best tiles of the first candidates (by a cheap keyword score) and the tiles holding
the sentence model's best sentences are read in one batched call, each span gets the joint
gate's probability (both models' scores weighed together), and the best span answers with the
sentence(s) holding it, each with its ``[n]``, or the answerer abstains.

Every word shown comes from a passage, as with the sentence-scoring answerer alone
(``reader = off``).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Sequence

from assistant.answer.base import (
    ABSTAIN_TEXT,
    EMPTY_TEXT,
    AnswerTools,
    Question,
    citation_for,
    related_from_hits,
)
from assistant.answer.evidence import answer_candidates
from assistant.answer.extractive import QUOTE_GAP
from assistant.answer.reader import sigmoid
from assistant.sentences import sentence_spans
from assistant.text import terms
from assistant.types import Answer, Citation, Hit

if TYPE_CHECKING:
    from assistant.answer.evidence import Candidate
    from assistant.answer.extractive import ExtractiveAnswerer
    from assistant.answer.reader import Reader, WindowReading

TILE_CACHE = 5_000  # passages whose tiles (sentence runs) are remembered
_READERS: dict[str, "Reader"] = {}
_READERS_LOCK = threading.Lock()


def load_reader(spec: str = "packaged") -> "Reader":
    """The reader model ``spec`` names (``packaged`` or a directory), loaded once per process."""
    from pathlib import Path

    from assistant.answer.reader import MODEL_DIR, Reader
    from assistant.errors import ConfigError

    path = MODEL_DIR if spec == "packaged" else Path(spec).expanduser()
    key = str(path)
    with _READERS_LOCK:
        if key not in _READERS:
            try:
                _READERS[key] = Reader.load(path)
            except FileNotFoundError as exc:
                raise ConfigError(f"reader: {exc}. Fix: set reader = packaged (reinstall the package if its "
                                  "model is missing), a directory made by python -m train.reader, or off") from None
        return _READERS[key]


@dataclass
class Tile:
    hit_index: int  # into the candidates
    start: int  # character offsets into the passage (chunk text)
    end: int
    text: str
    keyword: float = 0.0  # the cheap score that picks which tiles are read
    reading: "WindowReading | None" = None
    joint_features: tuple[float, float, float, float] | None = None  # mode joint: what its gate weighs


@dataclass
class Reading:
    """What the reader found for one question: candidates in reranked order and the tiles read."""

    hits: list[Hit]  # reranked: read candidates by relevance, then the rest in fused order
    tiles: list[Tile] = field(default_factory=list)  # read tiles, hit_index into ``hits``
    timings_ms: dict[str, float] = field(default_factory=dict)

    def best(self) -> Tile | None:
        read = [t for t in self.tiles if t.reading is not None and t.reading.span is not None]
        return max(read, key=lambda t: t.reading.confidence, default=None)


@dataclass(frozen=True)
class JointGate:
    """How mode ``joint`` weighs a tile: the reader's answer head, span and relevance logits, and
    the sentence model's probability for the sentence that holds the span, in one logistic score
    (fitted on held-out tune questions by ``python -m train.calibrate_joint``, stored as
    ``"joint"`` in the model's ``reader_config.json``). The best tile answers when its score
    reaches ``threshold``; otherwise the answerer abstains."""

    answer: float
    span: float
    sentence: float
    relevance: float
    bias: float
    threshold: float
    margin: float = 0.15  # runners-up within this much of the best are quoted too (several-part answers)

    @classmethod
    def of(cls, config: dict | None) -> "JointGate | None":
        if not config:
            return None
        w = config["weights"]
        return cls(float(w["answer"]), float(w["span"]), float(w["sentence"]), float(w.get("relevance", 0.0)),
                   float(config["bias"]),
                   float(config["threshold"]), float(config.get("margin", 0.15)))

    def probability(self, features: tuple[float, float, float, float]) -> float:
        a, sp, se, rel = features
        return sigmoid(self.answer * a + self.span * sp + self.sentence * se + self.relevance * rel + self.bias)


@dataclass(frozen=True)
class SentencePick:
    """How mode ``spans`` picks the sentence its answer leads with (and takes the short answer
    from) among the sentence model's ``k`` best: a weighted sum of the sentence model's logit and
    the reader's answer, span and relevance logits for that sentence read alone (fitted on
    held-out tune questions by ``python -m train.calibrate_spans``, stored as ``"spans"`` in the
    model's ``reader_config.json``). Without it the sentence model's best sentence leads."""

    sentence: float
    answer: float
    span: float
    relevance: float
    k: int = 3

    @classmethod
    def of(cls, config: dict | None) -> "SentencePick | None":
        if not config:
            return None
        w = config["weights"]
        return cls(float(w["sentence"]), float(w["answer"]), float(w["span"]), float(w["relevance"]),
                   int(config.get("k", 3)))

    def score(self, features: tuple[float, float, float, float]) -> float:
        se, a, sp, rel = features
        return self.sentence * se + self.answer * a + self.span * sp + self.relevance * rel


@dataclass
class ReadSentence:
    """A sentence of the sentence model's, read alone by the reader."""

    candidate: "Candidate"
    features: tuple[float, float, float, float]  # (sentence, answer, span, relevance) logits; see SentencePick
    span: tuple[int, int] | None  # the best span, as offsets into the passage
    span_score: float


def _logit(p: float, eps: float = 1e-4) -> float:
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


class ReaderAnswerer:
    name = "extractive"

    def __init__(self, tools: AnswerTools, reader: "Reader", *, rerank_k: int = 6, extra_windows: int = 3,
                 max_sentences: int = 3, sentences: "ExtractiveAnswerer", joint: JointGate | None = None,
                 read_k: int = 4, sentence_tiles: int = 3, pick: SentencePick | None = None):
        self.tools = tools
        self.reader = reader
        # Mode "spans" (no ``joint``): the sentence-scoring model chooses what to quote and when
        # to abstain; the reader (reranks and) finds the exact words inside the quotes.
        # Mode "joint": the two models' scores are weighed together; the best-scoring span
        # answers, with the sentence(s) holding it, or the answerer abstains.
        self.sentences = sentences
        self.joint = joint
        self.pick = pick
        self.read_k = read_k
        self.sentence_tiles = sentence_tiles
        self.rerank_k = rerank_k
        self.extra_windows = extra_windows
        self.max_sentences = max_sentences
        self._tiles: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        """The sentence model's caches and counters (``cache_misses``, ``sentence_vectors``...),
        in ``spans`` mode, for benchmarks and tests that look at them."""
        sentences = self.__dict__.get("sentences")
        if sentences is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(sentences, name)

    # --- reading ------------------------------------------------------------------------
    def tiles_of(self, hit: Hit) -> list[tuple[int, int]]:
        """Non-overlapping windows covering the passage, cached by chunk."""
        key = hit.chunk.id
        with self._lock:
            spans = self._tiles.get(key)
            if spans is not None:
                self._tiles.move_to_end(key)
                return spans
        spans = _tiling(self.reader.windows(hit.chunk.text))
        with self._lock:
            self._tiles[key] = spans
            while len(self._tiles) > TILE_CACHE:
                self._tiles.popitem(last=False)
        return spans

    def _keyword_scores(self, question: str, tiles: list[Tile]) -> None:
        q = set(terms(question))
        weights = {t: max(self.tools.idf(t), 0.0) for t in q}
        total = sum(weights.values()) or 1.0
        for tile in tiles:
            present = set(terms(tile.text)) & q
            tile.keyword = sum(weights[t] for t in present) / total

    def read(self, question: Question, hits: Sequence[Hit], k: int | None = None) -> Reading:
        """Rerank ``hits`` (the first ``k``, default ``rerank_k``) and read their best tiles (see
        the module docstring)."""
        t0 = time.perf_counter()
        hits = list(hits)
        asked = reading_question(question)
        first = hits[: max(self.rerank_k if k is None else k, 1)]
        tiles_by_hit: list[list[Tile]] = []
        for i, hit in enumerate(first):
            tiles = [Tile(i, s, e, hit.chunk.text[s:e]) for s, e in self.tiles_of(hit)]
            self._keyword_scores(asked, tiles)
            tiles_by_hit.append(tiles)
        # Round 1: the best tile of each candidate (by keywords; the first one on a tie).
        round1 = [max(ts, key=lambda t: (t.keyword, -t.start)) for ts in tiles_by_hit if ts]
        self._read(asked, round1)
        relevance = {t.hit_index: t.reading.relevance for t in round1}
        order = sorted(relevance, key=lambda i: -relevance[i])
        # Round 2: the other tiles of the most relevant candidates.
        extra = [t for i in order for t in tiles_by_hit[i] if t.reading is None][: self.extra_windows]
        self._read(asked, extra)
        read = round1 + extra
        for t in read:  # a candidate is as relevant as its best tile
            relevance[t.hit_index] = max(relevance[t.hit_index], t.reading.relevance)
        order = sorted(relevance, key=lambda i: -relevance[i])
        rest = [i for i in range(len(hits)) if i not in relevance]
        position = {old: new for new, old in enumerate(order + rest)}
        for t in read:
            t.hit_index = position[t.hit_index]
        return Reading([hits[i] for i in order + rest], read,
                       {"read": (time.perf_counter() - t0) * 1000})

    def _read(self, question: str, tiles: list[Tile]) -> None:
        if not tiles:
            return
        for tile, reading in zip(tiles, self.reader.read(question, [t.text for t in tiles])):
            tile.reading = reading

    def rerank(self, question: Question, hits: Sequence[Hit]) -> list[Hit]:
        """The candidates in the reader's order (for answerers that write their own answer)."""
        return self.read(question, hits).hits if hits else []

    # --- answering ----------------------------------------------------------------------
    def answer(self, question: Question, hits: Sequence[Hit], top_k: int | None = None) -> Answer:
        t0 = time.perf_counter()
        if not hits:
            return Answer(question.text, EMPTY_TEXT, abstained=True, backend=self.name,
                          standalone_question=question.standalone)
        if self.joint is not None:
            reading = self.joint_reading(question, hits)
            chosen = self.choose(reading, self.joint.threshold, self.joint.margin)
            timings = {**reading.timings_ms, "answer": (time.perf_counter() - t0) * 1000}
            if not chosen:
                return Answer(question.text, ABSTAIN_TEXT, abstained=True, related=related_from_hits(list(hits)),
                              timings_ms=timings, backend=self.name, standalone_question=question.standalone)
            return self.compose(question, reading.hits, chosen, timings)
        reading = self.read(question, hits) if self.rerank_k else Reading(list(hits))
        answer = self.spans_answer(question, reading.hits[: top_k or len(reading.hits)], t0)
        answer.timings_ms = {**reading.timings_ms, **answer.timings_ms, "answer": (time.perf_counter() - t0) * 1000}
        answer.backend = self.name
        return answer

    def joint_reading(self, question: Question, hits: Sequence[Hit]) -> Reading:
        """Mode ``joint``: the tiles of the first ``read_k`` candidates that ``read`` picks, and
        the tiles holding the sentence model's best sentences, each read and given
        ``confidence`` = the joint gate's probability (see ``JointGate``). The candidates keep
        the fusion's order."""
        t0 = time.perf_counter()
        hits = list(hits)
        asked = reading_question(question)
        scored = self.sentences.score_for_answer(question, hits)
        t1 = time.perf_counter()
        reading = self.read(question, hits, k=self.read_k)
        # back to the fusion's order: the reranking measured worse than it
        index_of = {h.chunk.id: i for i, h in enumerate(hits)}
        for t in reading.tiles:
            t.hit_index = index_of[reading.hits[t.hit_index].chunk.id]
        known = {(t.hit_index, t.start) for t in reading.tiles}
        best_sentences = sorted((c for c in scored if c.probability > 0), key=lambda c: -c.probability)
        todo = []
        for c in best_sentences[: self.sentence_tiles]:
            for s, e in self.tiles_of(hits[c.hit_index]):
                if s < c.end and e > c.start and (c.hit_index, s) not in known:
                    known.add((c.hit_index, s))
                    todo.append(Tile(c.hit_index, s, e, hits[c.hit_index].chunk.text[s:e]))
        self._read(asked, todo)
        tiles = reading.tiles + todo
        # the sentence model's probability, by (document, absolute offset): overlapping chunks
        # share sentences, which ``score_for_answer`` lists once
        sentence_at = [((hits[c.hit_index].chunk.doc_id, hits[c.hit_index].chunk.start + c.start,
                         hits[c.hit_index].chunk.start + c.end), c.probability) for c in scored]
        for t in tiles:
            r = t.reading
            if r is None or r.span is None:
                continue
            t.joint_features = self.joint_features(hits[t.hit_index], t, sentence_at)
            t.reading = replace(r, confidence=self.joint.probability(t.joint_features))
        return Reading(hits, tiles, {"sentences": (t1 - t0) * 1000, **reading.timings_ms,
                                     "read": (time.perf_counter() - t1) * 1000})

    def joint_features(self, hit: Hit, tile: Tile, sentence_at) -> tuple[float, float, float, float]:
        """(answer logit, normalised span logit, logit of the sentence model's probability for the
        sentence holding the span's first character, relevance logit) of one read tile."""
        r = tile.reading
        at = hit.chunk.start + tile.start + r.span[0]
        doc = hit.chunk.doc_id
        p = max((prob for (d, s, e), prob in sentence_at if d == doc and s <= at < e), default=0.0)
        return _logit(r.answer_score), self.reader.span_z(r.span_score), _logit(p), _logit(r.relevance)

    def spans_answer(self, question: Question, hits: list[Hit], t0: float) -> Answer:
        """Mode ``spans``: the sentence model decides whether to answer and which sentences may
        be quoted; the reader reads its best sentences, each on its own, the best of them by
        ``pick`` leads the answer, and its best span is the short answer.

        On its own, not inside the tiles around it: with its neighbours in view the reader's
        span often lands on a neighbour's words or on worse ones. On the held-out tune articles
        (10-11), given the sentence that holds the answer, reading it alone finds EM 0.62 / F1
        0.75 against 0.51 / 0.66 from its tiles (0.54 / 0.69 with the tiles' spans kept inside
        the sentence)."""
        candidates = self.sentences.score_for_answer(question, hits)
        chosen = self.sentences.select(candidates)
        if not chosen:
            return self.sentences.compose(question, hits, [], t0)
        # Only the candidates for the lead are read (each read costs about 9 ms on this machine);
        # the other quoted sentences keep their citation without a span.
        ranked = sorted((c for c in answer_candidates(candidates) if c.probability > 0), key=lambda c: -c.probability)
        read = self.read_sentences(reading_question(question), hits, ranked[: self.pick.k if self.pick else 1])
        lead = max(read, key=lambda r: self.pick.score(r.features)) if self.pick else read[0]
        quoted = [lead.candidate] + [c for c in chosen if c is not lead.candidate]
        # the lead's passage first ([1]); a passage's sentences in reading order (adjacent ones join)
        quoted = sorted(quoted[: self.max_sentences],
                        key=lambda c: (c.hit_index != lead.candidate.hit_index, c.hit_index, c.start))
        answer = self.sentences.compose(question, hits, quoted, t0)
        # Each citation's span: the lead's in its passage, else the best of its quoted sentences read.
        for citation in answer.citations:
            own = [r for r in read if r.span is not None and hits[r.candidate.hit_index].chunk.id == citation.chunk_id
                   and any(r.candidate is c for c in quoted)]
            best_read = lead if any(r is lead for r in own) else max(own, key=lambda r: r.span_score, default=None)
            if best_read is not None:
                citation.span_start, citation.span_end = best_read.span
        if lead.span is not None:
            a, b = lead.span
            answer.short_answer = " ".join(hits[lead.candidate.hit_index].chunk.text[a:b].split())
        return answer

    def read_sentences(self, asked: str, hits: list[Hit], candidates: list["Candidate"]) -> list[ReadSentence]:
        """Each candidate sentence read on its own (a sentence longer than the reader's window in
        pieces), in its own run: the int8 model quantises activations per batch, so a sentence
        read beside others gets other scores; alone, it always gets the same ones (and, on
        held-out tune articles, better spans: short-answer F1 +1 point)."""
        windows = []  # (candidate index, start, end) in the passage
        for k, c in enumerate(candidates):
            sentence = hits[c.hit_index].chunk.text[c.start:c.end]
            windows.extend((k, c.start + s, c.start + e) for s, e in _tiling(self.reader.windows(sentence)))
        texts = [hits[candidates[k].hit_index].chunk.text[s:e] for k, s, e in windows]
        readings = self.reader.read(asked, texts, alone=True) if texts else []
        by_candidate: dict[int, list] = {}
        for (k, s, _), r in zip(windows, readings):
            by_candidate.setdefault(k, []).append((s, r))
        out = []
        for k, c in enumerate(candidates):
            rs = by_candidate.get(k, [])
            spanned = [(s, r) for s, r in rs if r.span is not None]
            s, best = max(spanned, key=lambda sr: sr[1].span_score, default=(0, None))
            span_z = self.reader.span_z(best.span_score) if best is not None else -10.0
            features = (_logit(c.probability), _logit(max((r.answer_score for _, r in rs), default=0.0)),
                        span_z, _logit(max((r.relevance for _, r in rs), default=0.0)))
            out.append(ReadSentence(c, features, (s + best.span[0], s + best.span[1]) if best is not None else None,
                                    best.span_score if best is not None else float("-inf")))
        return out

    def choose(self, reading: Reading, threshold: float, margin: float) -> list[Tile]:
        """The tiles whose spans answer: the best, and close runners-up from other sentences."""
        best = reading.best()
        if best is None or best.reading.confidence < threshold:
            return []
        floor = max(threshold, best.reading.confidence - margin)
        runners = sorted(
            (t for t in reading.tiles if t is not best and t.reading.span is not None
             and t.reading.confidence >= floor),
            key=lambda t: -t.reading.confidence,
        )
        chosen = [best]
        for t in runners:
            if len(chosen) >= self.max_sentences:
                break
            if not any(_same_words(t, c) for c in chosen):
                chosen.append(t)
        return chosen

    def compose(self, question: Question, hits: list[Hit], chosen: list[Tile], timings: dict) -> Answer:
        numbers: dict[int, int] = {}
        quotes: dict[int, list[tuple[int, int]]] = {}
        spans: dict[int, tuple[int, int]] = {}
        parts, shorts = [], []
        for tile in chosen:
            passage = hits[tile.hit_index].chunk.text
            a, b = tile.start + tile.reading.span[0], tile.start + tile.reading.span[1]
            s, e = _sentences_around(passage, a, b)
            n = numbers.setdefault(tile.hit_index, len(numbers) + 1)
            spans.setdefault(tile.hit_index, (a, b))
            quotes.setdefault(tile.hit_index, []).append((s, e))
            parts.append(f"{' '.join(passage[s:e].split())} [{n}]")
            short = " ".join(passage[a:b].split())
            if short and short not in shorts:
                shorts.append(short)
        citations: list[Citation] = []
        for i, n in sorted(numbers.items(), key=lambda kv: kv[1]):
            passage = hits[i].chunk.text
            excerpts = _merge(sorted(quotes[i]), passage)
            c = citation_for(n, hits[i], QUOTE_GAP.join(passage[s:e] for s, e in excerpts))
            c.span_start, c.span_end = spans[i]
            citations.append(c)
        return Answer(
            question.text,
            " ".join(dict.fromkeys(parts)),  # one sentence holding two spans is quoted once
            citations=citations,
            abstained=False,
            timings_ms=timings,
            backend=self.name,
            standalone_question=question.standalone,
            short_answer="; ".join(shorts),
        )


_ANAPHOR = re.compile(r"\b(it|they|them|he|she|him|her|this|that|these|those)\b", re.I)


def reading_question(question: Question) -> str:
    """The question the reader reads. A follow-up ("Where are they based?") names its subject
    with the previous short answer when there is one ("Where are Islamic Resistance in Iraq
    based?"); otherwise the retrieval query, which holds the previous question."""
    if not question.context:
        return question.text
    if question.previous_short_answer and _ANAPHOR.search(question.text):
        return _ANAPHOR.sub(question.previous_short_answer, question.text, count=1)
    return question.standalone or question.text


def _tiling(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-overlapping windows out of the reader's (which start at every sentence)."""
    spans, covered = [], -1
    for start, end in windows:
        if start >= covered:
            spans.append((start, end))
            covered = end
    return spans


def _same_words(a: Tile, b: Tile) -> bool:
    return a.hit_index == b.hit_index and a.start == b.start and a.reading.span == b.reading.span


def _sentences_around(passage: str, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) of ``passage`` that hold characters ``start:end``."""
    covering = [(s, e) for s, e in sentence_spans(passage) if s < end and e > start]
    if not covering:
        return start, end
    return covering[0][0], covering[-1][1]


def _merge(spans: list[tuple[int, int]], passage: str) -> list[tuple[int, int]]:
    """Excerpts of one passage, joined when they touch or only whitespace separates them."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and (s <= out[-1][1] or not passage[out[-1][1]:s].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
