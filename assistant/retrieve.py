"""Retrieval: dense (Chroma, cosine) and BM25 keyword search, fused by reciprocal rank."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.fusion import rrf
from assistant.keyword import keyword_index
from assistant.store import ChunkCollection
from assistant.types import Chunk, Hit

if TYPE_CHECKING:
    import numpy as np

MODES = ("fused", "dense", "keyword")


@dataclass
class Retrieval:
    hits: list[Hit]
    query_vector: "np.ndarray | None" = None
    timings_ms: dict[str, float] = field(default_factory=dict)


class Retriever:
    def __init__(self, settings: Settings, collection: ChunkCollection, embedder: Embedder):
        self.settings = settings
        self.collection = collection
        self.embedder = embedder

    def retrieve(self, query: str, k: int | None = None, mode: str = "fused") -> Retrieval:
        """The ``k`` best chunks for ``query``, best first."""
        s = self.settings
        k = k or s.top_k
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        qvec = self.embedder.embed_query(query)
        timings["embed_query"] = (time.perf_counter() - t0) * 1000

        dense: list[tuple[Chunk, float]] = []
        if mode in ("fused", "dense"):
            t = time.perf_counter()
            dense = self.collection.query(qvec, max(s.fetch_k, k))
            timings["dense"] = (time.perf_counter() - t) * 1000
        keyword: list[tuple[str, float]] = []
        if mode in ("fused", "keyword"):
            t = time.perf_counter()
            keyword = keyword_index(s, self.collection).search(query, max(s.fetch_k, k))
            timings["keyword"] = (time.perf_counter() - t) * 1000

        dense_ids = [c.id for c, _ in dense]
        keyword_ids = [cid for cid, _ in keyword]
        if mode == "dense":
            fused = {cid: 1.0 / (s.rrf_k + r) for r, cid in enumerate(dense_ids, 1)}
        elif mode == "keyword":
            fused = {cid: 1.0 / (s.rrf_k + r) for r, cid in enumerate(keyword_ids, 1)}
        else:
            fused = rrf([(dense_ids, s.dense_weight), (keyword_ids, s.keyword_weight)], s.rrf_k)
        order = sorted(fused, key=lambda cid: -fused[cid])[:k]

        t = time.perf_counter()
        by_id = {c.id: (c, score) for c, score in dense}
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
        return Retrieval(hits, qvec, timings)
