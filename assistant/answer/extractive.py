"""The default answerer: quotes the sentences that answer the question, with citations.

No language model and no key: every word of an answer is a sentence from a retrieved
passage, so a citation always supports what it is attached to. When no sentence has enough
evidence of answering (see ``evidence.py``), it abstains and lists the closest passages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

from assistant.answer.base import (
    ABSTAIN_TEXT,
    EMPTY_TEXT,
    AnswerTools,
    Question,
    citation_for,
    related_from_hits,
)
from assistant.answer.evidence import (
    Candidate,
    answer_candidates,
    candidates_from_hits,
    featurize,
    is_heading,
    load_model,
    sigmoid,
)
from assistant.types import Answer, Citation, Hit

if TYPE_CHECKING:
    import numpy as np


QUOTE_GAP = " … "  # between non-adjacent excerpts of one passage
SENTENCE_CACHE = 20_000  # sentence vectors kept (about 30 MB): follow-ups and popular passages reuse them


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, tools: AnswerTools, max_sentences: int = 3, model_path: str | None = None):
        self.tools = tools
        self.max_sentences = max_sentences
        self.model = load_model(model_path)
        self._vectors: OrderedDict[str, "np.ndarray"] = OrderedDict()
        self._vectors_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def sentence_vectors(self, texts: Sequence[str]) -> "np.ndarray":
        """One vector per sentence, each encoded alone and remembered by its text.

        Alone, because the int8 encoder quantises activations per batch: a sentence encoded
        with others gets a slightly different vector each time (and on this CPU one at a time
        is no slower). So a sentence always has the same vector, and reusing it is exact.
        """
        import numpy as np

        out: list = [None] * len(texts)
        todo: dict[str, list[int]] = {}
        with self._vectors_lock:
            for i, text in enumerate(texts):
                vec = self._vectors.get(text)
                if vec is None:
                    todo.setdefault(text, []).append(i)
                else:
                    self._vectors.move_to_end(text)
                    out[i] = vec
            self.cache_hits += len(texts) - sum(len(v) for v in todo.values())
            self.cache_misses += len(todo)
        if todo:
            vecs = self.tools.embedder.embed(list(todo), batch_size=1)
            with self._vectors_lock:
                for (text, rows), vec in zip(todo.items(), vecs):
                    for i in rows:
                        out[i] = vec
                    self._vectors[text] = vec
                while len(self._vectors) > SENTENCE_CACHE:
                    self._vectors.popitem(last=False)
        return np.vstack(out) if out else np.zeros((0, 0), dtype=np.float32)

    def score(self, question: Question, hits: Sequence[Hit]) -> list[Candidate]:
        """Every sentence of ``hits`` with its probability of answering the question."""
        candidates = candidates_from_hits(hits)
        if not candidates:
            return []
        qvec = question.vector
        if qvec is None:
            qvec = self.tools.embedder.embed_query(question.standalone or question.text)
        svecs = self.sentence_vectors([c.text for c in candidates])
        featurize(question.text, hits, candidates, qvec, svecs, self.tools.idf, context=question.context)
        for c in candidates:
            c.probability = self.model.probability(c.features)
        return candidates

    def score_for_answer(self, question: Question, hits: Sequence[Hit]) -> list[Candidate]:
        """The candidates ``select`` needs, encoding only the sentences that could be chosen.

        Encoding every sentence of the passages is most of an answer's time. The lexical
        features are computed first; a sentence's probability can then rise by at most
        ``w_cos`` (its cosine is at most 1, and at most the best cosine), so a sentence whose
        bound stays below the lowest possible acceptance floor is never encoded. The sentences
        left unencoded can only change the best cosine (``cos_relative``), which shifts every
        encoded logit by the same amount within a known range; when ``select`` gives the same
        answer across that range the result is exactly what ``score`` gives, and otherwise the
        rest is encoded too. Unencoded candidates are returned with probability 0.
        """
        candidates = candidates_from_hits(hits)
        if not candidates:
            return []
        model = self.model
        w_cos = model.weights.get("cos_sentence", 0.0)
        w_rel = model.weights.get("cos_relative", 0.0)
        if w_cos < 0 or w_rel < 0:  # the bounds below assume closeness can only help
            return self.score(question, hits)
        qvec = question.vector
        if qvec is None:
            qvec = self.tools.embedder.embed_query(question.standalone or question.text)
        featurize(question.text, hits, candidates, qvec, None, self.tools.idf, context=question.context)
        lexical = [model.logit(c.features) for c in candidates]  # the cosine features are 0 here
        eligible = sorted((i for i, c in enumerate(candidates) if not is_heading(c.text)), key=lambda i: -lexical[i])
        if not eligible:  # only headings: nothing can be quoted
            for c in candidates:
                c.probability = 0.0
            return candidates
        eligible_set = set(eligible)
        cos: dict[int, float] = {}

        def encode(indices: list[int]) -> None:
            if indices:
                vecs = self.sentence_vectors([candidates[i].text for i in indices])
                for i, v in zip(indices, vecs @ qvec):
                    cos[i] = float(v)

        # Best first, in rounds: each round raises the lower bound of the best probability,
        # which raises the floor a sentence must be able to reach.
        encode(eligible[: max(self.max_sentences * 2, 4)])
        while True:
            # Lower bound of the true best probability: logits shift by w_rel * (best cos among
            # the encoded - true best cos) >= -w_rel * (1 - best encoded); see the docstring.
            top = max((lexical[i] + (w_cos + w_rel) * c for i, c in cos.items() if i in eligible_set), default=None)
            best_low = sigmoid(top - w_rel) if top is not None else 0.0
            floor = max(model.threshold, best_low - model.margin)
            more = [i for i in eligible if i not in cos and sigmoid(lexical[i] + w_cos) >= floor]
            if not more:
                break
            encode(more)
        if not self._same_for_any_best(candidates, lexical, cos, eligible_set, w_cos, w_rel):
            encode([i for i in range(len(candidates)) if i not in cos])
        best_cos = max(cos.values())
        for i, c in enumerate(candidates):
            if i in cos:
                c.features["cos_sentence"] = cos[i]
                c.features["cos_relative"] = cos[i] - best_cos
                c.probability = model.probability(c.features)
            else:
                c.probability = 0.0
        return candidates

    def _same_for_any_best(self, candidates, lexical, cos, eligible, w_cos, w_rel) -> bool:
        """Does ``select`` pick the same sentences whatever the unencoded sentences' cosines?"""
        if len(cos) == len(candidates):
            return True
        best_cos = max(cos.values())
        z = {i: lexical[i] + w_cos * c + w_rel * (c - best_cos) for i, c in cos.items() if i in eligible}
        if not z:
            return True
        shift_max = w_rel * (1.0 - best_cos)  # the true best cosine is in [best_cos, 1]
        m, thr = self.model.margin, self.model.threshold
        zb = max(z.values())

        # A sentence is picked when the best is above the threshold (falls as the shift grows),
        # it is above the threshold itself (likewise), and it is within the margin of the best:
        # that gap, between two points of a sigmoid, peaks once, when they straddle 0. Each
        # condition is the same over the whole range if it is the same at both ends (and, for
        # the margin, at the gap's peak when that lies inside).
        def answers(shift: float) -> bool:
            return sigmoid(zb - shift) >= thr

        def above(zi: float, shift: float) -> bool:
            return sigmoid(zi - shift) >= thr

        def near(zi: float, shift: float) -> bool:
            return sigmoid(zi - shift) >= sigmoid(zb - shift) - m

        if answers(0.0) != answers(shift_max):
            return False
        for zi in z.values():
            if above(zi, 0.0) != above(zi, shift_max):
                return False
            ends = {near(zi, 0.0), near(zi, shift_max)}
            peak = (zb + zi) / 2
            if 0.0 < peak < shift_max:
                ends.add(near(zi, peak))
            if len(ends) > 1:
                return False
        return True

    def select(self, candidates: list[Candidate]) -> list[Candidate]:
        """The sentences to quote: the best, plus close runners-up, in reading order."""
        candidates = answer_candidates(candidates)
        if not candidates:
            return []
        best = max(candidates, key=lambda c: c.probability)
        if best.probability < self.model.threshold:
            return []
        floor = max(self.model.threshold, best.probability - self.model.margin)
        chosen = sorted(
            (c for c in candidates if c.probability >= floor), key=lambda c: -c.probability
        )[: self.max_sentences]
        return sorted(chosen, key=lambda c: (c.hit_index, c.start))

    def answer(self, question: Question, hits: Sequence[Hit]) -> Answer:
        t0 = time.perf_counter()
        if not hits:
            return Answer(question.text, EMPTY_TEXT, abstained=True, backend=self.name,
                          standalone_question=question.standalone)
        candidates = self.score_for_answer(question, hits)
        return self.compose(question, hits, self.select(candidates), t0)

    def compose(self, question: Question, hits: Sequence[Hit], chosen: list[Candidate], t0: float) -> Answer:
        """The answer quoting ``chosen`` (in that order; a passage's sentences in reading order),
        or the abstention when nothing is chosen. ``t0``: when answering began."""
        elapsed = (time.perf_counter() - t0) * 1000
        if not chosen:
            return Answer(
                question.text,
                ABSTAIN_TEXT,
                abstained=True,
                related=related_from_hits(hits),
                timings_ms={"answer": elapsed},
                backend=self.name,
                standalone_question=question.standalone,
            )
        # Number passages in order of first use; one citation per passage, quoting what was used.
        numbers: dict[int, int] = {}
        quotes: dict[int, list[str]] = {}
        last_end: dict[int, int] = {}
        parts = []
        for cand in chosen:
            n = numbers.setdefault(cand.hit_index, len(numbers) + 1)
            excerpts = quotes.setdefault(cand.hit_index, [])
            gap = hits[cand.hit_index].chunk.text[last_end.get(cand.hit_index, cand.start) : cand.start]
            if excerpts and gap.strip() == "":
                excerpts[-1] += gap + cand.text  # adjacent sentences: one verbatim excerpt
            else:
                excerpts.append(cand.text)
            last_end[cand.hit_index] = cand.end
            parts.append(f"{' '.join(cand.text.split())} [{n}]")
        citations: list[Citation] = [
            citation_for(n, hits[i], QUOTE_GAP.join(quotes[i])) for i, n in sorted(numbers.items(), key=lambda kv: kv[1])
        ]
        return Answer(
            question.text,
            " ".join(parts),
            citations=citations,
            abstained=False,
            timings_ms={"answer": elapsed},
            backend=self.name,
            standalone_question=question.standalone,
        )
