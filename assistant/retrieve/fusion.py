"""Fusing dense (cosine) and keyword (BM25) evidence into one ranking.

Reciprocal-rank fusion (RRF) throws the scores away: a passage BM25 barely matched at rank 3
counts as much as one it matched on every rare term. That helps on keyword-heavy queries and
hurts on paraphrased ones. Score fusion keeps how strong each signal is: both scores are
normalised over the candidates (the union of both top lists, each scored by both signals),
then mixed with a weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

METHODS = ("adaptive", "rrf")
NORMS = ("minmax", "zscore")


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal-rank fusion: sum of weight / (k + rank) over the rankings."""
    scores: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return scores


def rrf_scores(dense_rank: "np.ndarray", keyword_rank: "np.ndarray", k: int, dense_weight: float = 1.0,
               keyword_weight: float = 1.0) -> "np.ndarray":
    """RRF over candidates given their 1-based ranks (0 = absent from that list)."""
    import numpy as np

    d = np.where(dense_rank > 0, dense_weight / (k + np.maximum(dense_rank, 1)), 0.0)
    kw = np.where(keyword_rank > 0, keyword_weight / (k + np.maximum(keyword_rank, 1)), 0.0)
    return d + kw


def normalise(scores: "np.ndarray", how: str = "minmax") -> "np.ndarray":
    """Scores mapped to a common scale over the candidates (all equal -> all 0)."""
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    if how == "zscore":
        sd = s.std()
        return (s - s.mean()) / sd if sd > 1e-12 else np.zeros_like(s)
    lo, hi = s.min(), s.max()
    return (s - lo) / (hi - lo) if hi - lo > 1e-12 else np.zeros_like(s)


def convex(dense: "np.ndarray", keyword: "np.ndarray", dense_weight: float, how: str = "minmax") -> "np.ndarray":
    """``w * norm(dense) + (1 - w) * norm(keyword)``; ``w`` in [0, 1]."""
    return dense_weight * normalise(dense, how) + (1.0 - dense_weight) * normalise(keyword, how)


def coverage(best_keyword_score: float, ceiling: float) -> float:
    """The best passage's BM25 as a share of the query's ceiling (0 when nothing matched)."""
    return best_keyword_score / ceiling if ceiling > 0 else 0.0


def adaptive_dense_weight(cov: float, low: float, high: float, min_weight: float) -> float:
    """Dense share of the fused score: 1 when BM25 found little of the query (a paraphrase:
    its matches are accidents), falling linearly to ``min_weight`` as coverage goes from
    ``low`` to ``high`` (the passage shares the question's rare words; BM25 knows something).

    Tuned on SciFact train and the paraphrased SQuAD tune questions (train/tune_retrieval.py).
    """
    x = min(max((cov - low) / (high - low), 0.0), 1.0) if high > low else float(cov >= high)
    return 1.0 - (1.0 - min_weight) * x


def adaptive(dense: "np.ndarray", keyword: "np.ndarray", ceiling: float, low: float, high: float,
             min_weight: float, how: str = "minmax") -> "tuple[np.ndarray, float]":
    """Fused scores of candidates given both exact scores; also the dense weight used."""
    import numpy as np

    best = float(np.max(keyword)) if len(keyword) else 0.0
    w = adaptive_dense_weight(coverage(best, ceiling), low, high, min_weight)
    return convex(dense, keyword, w, how), w


def keyword_ceiling(index, query_terms: Sequence[str]) -> float:
    """The BM25 score a passage would get by matching every query term many times.

    BM25's per-term saturation caps each term at ``idf * (k1 + 1)``; the best passage's share
    of this ceiling says how much of the query the keyword side actually found.
    """
    if index is None or getattr(index, "bm25", None) is None:
        return 0.0
    k1 = float(getattr(index.bm25, "k1", 1.5))
    return sum(index.idf(t) for t in query_terms) * (k1 + 1.0)
