"""Retrieval: dense (Chroma, cosine) and BM25 keyword search, fused.

The default fusion ("adaptive") scores every candidate of either list by both signals, puts
both on a common scale, and mixes them with a dense share that depends on how much of the
question BM25 matched: keyword search helps a lot when the question shares the document's
rare words (SciFact claims, names, codes) and only adds noise when it is reworded. "rrf" is
plain weighted reciprocal-rank fusion. Figures: eval/bench/retrieval.py, README "Performance".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from assistant.config import Settings
from assistant.embed.encoder import Embedder
from assistant.retrieve import fusion
from assistant.index.keyword import keyword_index
from assistant.index.store import ChunkCollection
from assistant.types import Chunk, Hit

if TYPE_CHECKING:
    import numpy as np

MODES = ("fused", "dense", "keyword")


@dataclass
class Retrieval:
    hits: list[Hit]
    query_vector: "np.ndarray | None" = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)  # adaptive fusion: the shares used


class Retriever:
    def __init__(self, settings: Settings, collection: ChunkCollection, embedder: Embedder):
        self.settings = settings
        self.collection = collection
        self.embedder = embedder

    def retrieve(self, query: str, k: int | None = None, mode: str = "fused",
                 doc_ids: "Sequence[str] | None" = None) -> Retrieval:
        """The ``k`` best chunks for ``query``, best first; with ``doc_ids`` (a resolved scope,
        ``assistant/index/scope.py``) only chunks of those documents, on both sides: the dense
        search filters inside Chroma, the keyword side masks its rows before taking its top."""
        s = self.settings
        k = k or s.top_k
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        qvec = self.embedder.embed_query(query)
        timings["embed_query"] = (time.perf_counter() - t0) * 1000

        dense: list[tuple[Chunk, float]] = []
        if mode in ("fused", "dense"):
            t = time.perf_counter()
            dense = self.collection.query(qvec, max(s.fetch_k, k), doc_ids)
            timings["dense"] = (time.perf_counter() - t) * 1000
        keyword: list[tuple[str, float]] = []
        keyword_scores = None
        index = None
        if mode in ("fused", "keyword"):
            from assistant.text import terms

            t = time.perf_counter()
            index = keyword_index(s, self.collection)
            query_terms = terms(query)
            keyword_scores = index.within(index.scores(query_terms), doc_ids)
            keyword = index.top(keyword_scores, max(s.fetch_k, k))
            timings["keyword"] = (time.perf_counter() - t) * 1000

        dense_ids = [c.id for c, _ in dense]
        keyword_ids = [cid for cid, _ in keyword]
        by_id = {c.id: (c, score) for c, score in dense}
        weights: dict[str, float] = {}
        t = time.perf_counter()
        if mode == "dense":
            fused = {cid: score for cid, (_, score) in by_id.items()}
        elif mode == "keyword":
            fused = dict(keyword)
        elif s.fusion == "rrf":
            fused = fusion.rrf([(dense_ids, s.dense_weight), (keyword_ids, s.keyword_weight)], s.rrf_k)
        else:
            fused, weights = self._adaptive(dense, keyword, keyword_scores, index, query_terms, qvec, by_id)
        order = sorted(fused, key=lambda cid: -fused[cid])[:k]
        timings["fuse"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        missing = [cid for cid in order if cid not in by_id]
        if missing:
            import numpy as np

            for cid, (chunk, vec) in self.collection.get_chunks(missing, with_embeddings=True).items():
                by_id[cid] = (chunk, float(np.dot(np.asarray(vec, dtype=np.float32), qvec)))
        dense_rank = {cid: r for r, cid in enumerate(dense_ids, 1)}
        keyword_rank = {cid: r for r, cid in enumerate(keyword_ids, 1)}
        hits = [
            Hit(
                chunk=by_id[cid][0],
                score=by_id[cid][1],
                fused=fused[cid],
                dense_rank=dense_rank.get(cid),
                keyword_rank=keyword_rank.get(cid),
            )
            for cid in order
            if cid in by_id  # a chunk deleted between the two lookups is dropped
        ]
        timings["fetch"] = (time.perf_counter() - t) * 1000
        timings["retrieval"] = (time.perf_counter() - t0) * 1000
        return Retrieval(hits, qvec, timings, weights)

    def _adaptive(self, dense, keyword, keyword_scores, index, query_terms, qvec, by_id):
        """Score fusion over the union of both lists, each candidate scored by both signals."""
        import numpy as np

        s = self.settings
        ids = list(dict.fromkeys([c.id for c, _ in dense] + [cid for cid, _ in keyword]))
        if not ids:
            return {}, {}
        # Cosines of keyword-only candidates (their vectors are in Chroma; no re-encoding).
        missing = [cid for cid in ids if cid not in by_id]
        if missing:
            for cid, (chunk, vec) in self.collection.get_chunks(missing, with_embeddings=True).items():
                by_id[cid] = (chunk, float(np.dot(np.asarray(vec, dtype=np.float32), qvec)))
            ids = [cid for cid in ids if cid in by_id]  # deleted meanwhile
        dense_scores = np.asarray([by_id[cid][1] for cid in ids], dtype=np.float64)
        if keyword_scores is None:
            kw = np.zeros(len(ids))
        else:
            position = index.position
            kw = np.asarray([float(keyword_scores[position[cid]]) if cid in position else 0.0 for cid in ids])
        fused, w = fusion.adaptive(dense_scores, kw, index.ceiling(query_terms) if index else 0.0,
                                   s.fusion_coverage_low, s.fusion_coverage_high, s.fusion_min_dense_weight)
        return dict(zip(ids, (float(x) for x in fused))), {"dense": w, "keyword": 1.0 - w}
