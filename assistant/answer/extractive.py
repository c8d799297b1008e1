"""The default answerer: quotes the sentences that answer the question, with citations.

No language model and no key: every word of an answer is a sentence from a retrieved
passage, so a citation always supports what it is attached to. When no sentence has enough
evidence of answering (see ``evidence.py``), it abstains and lists the closest passages.
"""

from __future__ import annotations

import time
from typing import Sequence

from assistant.answer.base import (
    ABSTAIN_TEXT,
    EMPTY_TEXT,
    AnswerTools,
    Question,
    citation_for,
    related_from_hits,
)
from assistant.answer.evidence import Candidate, answer_candidates, candidates_from_hits, featurize, load_model
from assistant.types import Answer, Citation, Hit


QUOTE_GAP = " … "  # between non-adjacent excerpts of one passage


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, tools: AnswerTools, max_sentences: int = 3, model_path: str | None = None):
        self.tools = tools
        self.max_sentences = max_sentences
        self.model = load_model(model_path)

    def score(self, question: Question, hits: Sequence[Hit]) -> list[Candidate]:
        """Every sentence of ``hits`` with its probability of answering the question."""
        candidates = candidates_from_hits(hits)
        if not candidates:
            return []
        qvec = question.vector
        if qvec is None:
            qvec = self.tools.embedder.embed_query(question.standalone or question.text)
        svecs = self.tools.embedder.embed([c.text for c in candidates])
        featurize(question.text, hits, candidates, qvec, svecs, self.tools.idf, context=question.context)
        for c in candidates:
            c.probability = self.model.probability(c.features)
        return candidates

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
        candidates = self.score(question, hits)
        chosen = self.select(candidates)
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
