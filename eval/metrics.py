"""Answer, citation, abstention, retrieval and latency metrics.

Answers are compared after SQuAD's normalisation (lowercase, no punctuation, no articles,
single spaces), taking the best over the acceptable answers. Citation markers like ``[2]``
are removed from an answer before it is scored, so a marker never counts as the number 2.

Every function here is pure and small, so each can be checked against a hand-computed case.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

# The metrics each kind of run reports, in the order they are shown.
QA_METRICS = (
    "hit@5", "recall@10", "mrr", "ndcg@10",
    "em", "f1", "containment",
    "citation_precision", "citation_recall",
    "abstention_precision", "abstention_recall",
    "latency_p50_ms", "latency_p95_ms",
)
RETRIEVAL_METRICS = ("ndcg@10", "recall@10", "recall@5", "hit@1", "hit@5", "hit@10", "mrr")
MODE_LABELS = {"dense": "dense", "keyword": "BM25", "fused": "fused (RRF)"}


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


# --- normalisation -------------------------------------------------------------------

def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation and articles, squeeze spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def strip_citation_markers(text: str) -> str:
    """``"Paris [1] is big [2, 3]."`` -> ``"Paris is big."``"""
    return _MARKER.sub("", text or "")


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


# --- answers ---------------------------------------------------------------------------

def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised acceptable answer."""
    pred = normalize_answer(strip_citation_markers(prediction))
    return float(any(pred == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answer: str) -> float:
    """SQuAD token F1 between one prediction and one reference.

    When either side normalises to nothing, F1 is 1.0 if both do, else 0.0.
    """
    pred = answer_tokens(strip_citation_markers(prediction))
    gold = answer_tokens(answer)
    if not pred or not gold:
        return float(pred == gold)
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, answers: Sequence[str]) -> float:
    """The best token F1 over the acceptable answers (0.0 when there are none)."""
    return max((token_f1(prediction, a) for a in answers), default=0.0)


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Does ``text`` contain any acceptable answer (after normalisation, on word boundaries)?"""
    hay = f" {normalize_answer(strip_citation_markers(text))} "
    return any(f" {normalize_answer(a)} " in hay for a in answers if normalize_answer(a))


def contains_all(text: str, answers: Sequence[str]) -> bool:
    """Does ``text`` contain every one of ``answers`` (``all_required`` questions)?"""
    wanted = [a for a in answers if normalize_answer(a)]
    return bool(wanted) and all(contains_answer(text, [a]) for a in wanted)


def missing_answers(text: str, answers: Sequence[str]) -> list[str]:
    """The answer strings that ``text`` does not contain (for explaining a score)."""
    return [a for a in answers if normalize_answer(a) and not contains_answer(text, [a])]


def references(answers: Sequence[str], all_required: bool = False) -> list[str]:
    """The references EM and F1 compare against.

    For an ``all_required`` question the one reference is every required string, joined:
    an answer naming only some of them gets partial F1 and no exact match.
    """
    answers = [a for a in answers if normalize_answer(a)]
    if all_required and answers:
        return [" ".join(answers)]
    return answers


def answer_scores(prediction: str, answers: Sequence[str], all_required: bool = False) -> dict[str, float]:
    """``em``, ``f1`` and ``containment`` of one answer to an answerable question."""
    refs = references(answers, all_required)
    contained = contains_all(prediction, answers) if all_required else contains_answer(prediction, answers)
    return {
        "em": exact_match(prediction, refs),
        "f1": best_f1(prediction, refs),
        "containment": float(contained),
    }


# --- citations ------------------------------------------------------------------------

def citation_supports(passage: str, answers: Sequence[str]) -> bool:
    """A cited passage supports the answer when it contains an acceptable answer string.

    For ``all_required`` questions a passage that holds any one of the required strings
    supports (the answer may draw the parts from several passages).
    """
    return contains_answer(passage, answers)


def citations_found_answer(passages: Sequence[str], answers: Sequence[str], all_required: bool = False) -> bool:
    """Is the answer found in the cited passages (for ``all_required``: all parts, across them)?"""
    if not passages:
        return False
    if all_required:
        wanted = [a for a in answers if normalize_answer(a)]
        return bool(wanted) and all(any(contains_answer(p, [a]) for p in passages) for a in wanted)
    return any(contains_answer(p, answers) for p in passages)


# --- abstention -----------------------------------------------------------------------

def abstention_counts(records: Iterable[tuple[bool, bool]]) -> dict[str, int]:
    """Count outcomes from (answerable, abstained) pairs.

    ``correct_abstentions``: abstained on an unanswerable question;
    ``wrong_abstentions``: abstained on an answerable one;
    ``missed_abstentions``: answered an unanswerable one.
    """
    c = Counter()
    for answerable, abstained in records:
        c["questions"] += 1
        c["answerable" if answerable else "unanswerable"] += 1
        if abstained:
            c["abstentions"] += 1
            c["wrong_abstentions" if answerable else "correct_abstentions"] += 1
        elif not answerable:
            c["missed_abstentions"] += 1
    keys = ("questions", "answerable", "unanswerable", "abstentions", "correct_abstentions",
            "wrong_abstentions", "missed_abstentions")
    return {k: c.get(k, 0) for k in keys}


def abstention_metrics(records: Iterable[tuple[bool, bool]]) -> dict[str, float | int | None]:
    """Precision and recall of abstaining, where abstaining is right on unanswerable questions.

    Precision is None when nothing was abstained on, recall None when no question is unanswerable.
    """
    c = abstention_counts(records)
    return {
        "abstention_precision": ratio(c["correct_abstentions"], c["abstentions"]),
        "abstention_recall": ratio(c["correct_abstentions"], c["unanswerable"]),
        "wrong_abstentions": c["wrong_abstentions"],
        "missed_abstentions": c["missed_abstentions"],
    }


# --- retrieval --------------------------------------------------------------------------

def dedupe(ranked: Iterable[str]) -> list[str]:
    """A ranking of chunks' documents -> a ranking of distinct documents (first place wins)."""
    return list(dict.fromkeys(ranked))


def hit_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    return float(any(d in rel for d in ranked[:k]))


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    if not rel:
        return 0.0
    return len(rel & set(ranked[:k])) / len(rel)


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """1/rank of the first relevant document within the top ``k`` (0.0 if none)."""
    rel = set(relevant)
    for i, d in enumerate(ranked[:k], start=1):
        if d in rel:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, float] | Iterable[str], k: int = 10) -> float:
    """nDCG@k with linear gains (as BEIR's pytrec_eval): sum rel_i / log2(i + 1).

    ``relevance`` maps document -> grade, or is a set of relevant documents (grade 1).
    """
    grades = dict(relevance) if isinstance(relevance, Mapping) else {d: 1.0 for d in relevance}
    dcg = sum(grades.get(d, 0.0) / math.log2(i + 1) for i, d in enumerate(ranked[:k], start=1))
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def retrieval_scores(ranked: Sequence[str], relevance: Mapping[str, float] | Iterable[str]) -> dict[str, float]:
    """The retrieval metrics of one query: hit@1/5/10, recall@5/10, reciprocal rank, nDCG@10."""
    grades = dict(relevance) if isinstance(relevance, Mapping) else {d: 1.0 for d in relevance}
    relevant = [d for d, g in grades.items() if g > 0]
    return {
        "hit@1": hit_at_k(ranked, relevant, 1),
        "hit@5": hit_at_k(ranked, relevant, 5),
        "hit@10": hit_at_k(ranked, relevant, 10),
        "recall@5": recall_at_k(ranked, relevant, 5),
        "recall@10": recall_at_k(ranked, relevant, 10),
        "mrr": reciprocal_rank(ranked, relevant, 10),
        "ndcg@10": ndcg_at_k(ranked, grades, 10),
    }


# --- aggregation ------------------------------------------------------------------------

def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    pos = (len(vals) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def latency_metrics(timings: Sequence[Mapping[str, float]], prefix: str = "latency") -> dict[str, float | None]:
    """p50/p95 of the total (``latency_p50_ms``) and of each stage (``latency_<stage>_p50_ms``)."""
    out: dict[str, float | None] = {}
    totals = [t["total"] for t in timings if "total" in t]
    out[f"{prefix}_p50_ms"] = percentile(totals, 50)
    out[f"{prefix}_p95_ms"] = percentile(totals, 95)
    stages = sorted({k for t in timings for k in t if k != "total"})
    for stage in stages:
        vals = [t[stage] for t in timings if stage in t]
        out[f"{prefix}_{stage}_p50_ms"] = percentile(vals, 50)
        out[f"{prefix}_{stage}_p95_ms"] = percentile(vals, 95)
    return out


# Metrics where smaller is better (a --fail-under gate on them makes no sense).
LOWER_IS_BETTER_PREFIXES = ("latency", "wrong_abstentions", "missed_abstentions", "errors")


def lower_is_better(name: str) -> bool:
    base = name.split(".")[-1]
    return base.startswith(LOWER_IS_BETTER_PREFIXES) or base.endswith("_ms")
