"""Tune retrieval (chunking, fusion) on the TUNE splits only: SciFact train, SQuAD tune articles.

    python -m train.tune_retrieval --chunking 256:0 --chunking 200:40     # grids, printed as tables

For each chunking it indexes SciFact and the SQuAD passages through the real pipeline (cached
under ``.data/index``), then takes each query's candidates once: the dense top ``--depth`` and
the BM25 top ``--depth`` with exact scores of both signals for their union. The fusion methods
of ``assistant/retrieve/fusion.py`` are then compared on those candidates in memory, over

- SciFact train (809 claims; nDCG@10, documents ranked by their best chunk),
- the 48 paraphrased SQuAD tune questions (hit@5, MRR; the constraint: fused >= dense),
- the SQuAD tune articles' answerable questions (hit@5, MRR; a sanity check).

Never run against SciFact test or the SQuAD report articles: those are for ``eval.bench.retrieval``.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from assistant.config import load_settings
from eval import metrics as M

ROOT = Path(__file__).resolve().parents[1]
INDEX_ROOT = ROOT / ".data" / "index"  # indexes shared with eval/bench/retrieval.py


@dataclass
class QueryCandidates:
    """One query's candidate chunks with both exact scores (for offline fusion experiments)."""

    qid: str
    query: str
    relevant: dict[str, float]  # doc id -> grade
    ids: list[str]
    docs: list[str]
    dense: np.ndarray  # cosine per candidate
    keyword: np.ndarray  # BM25 per candidate (0 = no shared term)
    dense_rank: np.ndarray  # 1-based rank in the dense list, 0 = not in it
    keyword_rank: np.ndarray
    keyword_ideal: float  # BM25 of a document holding every query term (see fusion.keyword_ceiling)


def settings_for(dataset: str, chunk_tokens: int, overlap: int, backend: str, data_root: Path = INDEX_ROOT, **extra):
    tag = f"{dataset}-{chunk_tokens}-{overlap}-{backend}"
    return load_settings({
        "data_dir": data_root / tag, "collection": f"tune-{dataset}", "chunk_tokens": chunk_tokens,
        "chunk_overlap": overlap, "embed_backend": backend, **extra,
    })


def scifact_records():
    from eval.beir import find_dir, load_corpus

    return list(load_corpus(find_dir(None)))


def squad_records():
    from eval.squad import corpus_records, find_dir

    return corpus_records(find_dir(None), "all")


def scifact_queries(split: str = "train") -> list[tuple[str, str, dict[str, float]]]:
    from eval.beir import find_dir, load_qrels, load_queries

    d = find_dir(None)
    qrels, queries = load_qrels(d, split), load_queries(d)
    return [(q, queries[q], qrels[q]) for q in qrels if q in queries]


def squad_queries(kind: str) -> list[tuple[str, str, dict[str, float]]]:
    from eval.squad import find_dir, paraphrased_tune, questions

    d = find_dir(None)
    qs = paraphrased_tune(d) if kind == "paraphrased" else [q for q in questions(d, "tune") if q.answerable]
    return [(q.id, q.question, {q.passage_id: 1.0}) for q in qs]


def index(settings, records, progress=True):
    from assistant.client import Assistant

    a = Assistant(settings)
    t = time.perf_counter()
    report = a.ingest_records(records, progress=None if progress else False)
    if report.chunks_written:
        print(f"  indexed {settings.data_dir.name}: {report.summary().splitlines()[0]} in {time.perf_counter() - t:.0f} s",
              file=sys.stderr, flush=True)
    return a


def candidates(assistant, queries, depth: int) -> list[QueryCandidates]:
    """Dense and BM25 top ``depth`` per query, with exact scores of both for their union."""
    from assistant.retrieve.fusion import keyword_ceiling
    from assistant.index.keyword import keyword_index
    from assistant.text import terms

    col = assistant.collection()
    kw = keyword_index(assistant.settings, col)
    position = {cid: i for i, cid in enumerate(kw.ids)}
    out = []
    for qid, query, relevant in queries:
        qvec = assistant.embedder.embed_query(query)
        dense = col.query(qvec, depth)
        keyword = kw.search(query, depth)
        ids = list(dict.fromkeys([c.id for c, _ in dense] + [cid for cid, _ in keyword]))
        got = col.get_chunks(ids, with_embeddings=True)
        ids = [i for i in ids if i in got]
        vecs = np.asarray([got[i][1] for i in ids], dtype=np.float32)
        qterms = terms(query)
        full = kw.bm25.get_scores(qterms) if qterms else np.zeros(len(kw.ids))
        d_rank = {c.id: r for r, (c, _) in enumerate(dense, 1)}
        k_rank = {cid: r for r, (cid, _) in enumerate(keyword, 1)}
        out.append(QueryCandidates(
            qid, query, relevant, ids, [got[i][0].doc_id for i in ids],
            vecs @ qvec, np.asarray([float(full[position[i]]) for i in ids]),
            np.asarray([d_rank.get(i, 0) for i in ids]), np.asarray([k_rank.get(i, 0) for i in ids]),
            keyword_ceiling(kw, qterms),
        ))
    return out


def cached_candidates(settings, records_fn, queries, depth: int, name: str) -> list[QueryCandidates]:
    key = hashlib.sha1(repr((settings.data_dir, depth, name, len(queries))).encode()).hexdigest()[:12]
    path = settings.data_dir / f"candidates-{name}-{depth}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    a = index(settings, records_fn())
    cands = candidates(a, queries, depth)
    path.write_bytes(pickle.dumps(cands))
    return cands


def doc_ranking(ids_docs: list[str], scores: np.ndarray, k: int = 10) -> list[str]:
    """Documents ranked by their best chunk."""
    ranked: list[str] = []
    for i in np.argsort(-scores, kind="stable"):
        d = ids_docs[i]
        if d not in ranked:
            ranked.append(d)
            if len(ranked) >= k:
                break
    return ranked


def evaluate(cands: list[QueryCandidates], score_fn: Callable[[QueryCandidates], np.ndarray]) -> dict[str, float]:
    rows = [M.retrieval_scores(doc_ranking(c.docs, score_fn(c)), c.relevant) for c in cands]
    return {m: float(np.mean([r[m] for r in rows])) for m in ("ndcg@10", "hit@5", "mrr", "recall@10")}


def methods(rrf_k: int = 60, depth: int = 30) -> dict[str, Callable[[QueryCandidates], np.ndarray]]:
    """Named scoring functions to compare (each builds on assistant/retrieve/fusion.py)."""
    from assistant.retrieve import fusion as F

    def restrict(c: QueryCandidates, d: int):
        # what a retriever fetching ``d`` from each side would see
        return ((c.dense_rank > 0) & (c.dense_rank <= d)) | ((c.keyword_rank > 0) & (c.keyword_rank <= d))

    def masked(fn, d=depth):
        def run(c):
            keep = restrict(c, d)
            s = fn(c)
            return np.where(keep, s, -np.inf)
        return run

    out: dict[str, Callable] = {
        "dense": lambda c: np.where(c.dense_rank > 0, c.dense, -np.inf),
        "bm25": lambda c: np.where(c.keyword_rank > 0, c.keyword, -np.inf),
    }
    for w in (1.0, 0.7, 0.5):
        out[f"rrf kw={w}"] = masked(lambda c, w=w: F.rrf_scores(c.dense_rank, c.keyword_rank, rrf_k, 1.0, w))
    from assistant.config import load_settings

    s = load_settings({})
    for low, high, wmin in ((s.fusion_coverage_low, s.fusion_coverage_high, s.fusion_min_dense_weight),
                            (0.10, 0.26, 0.5), (0.15, 0.20, 0.5), (0.12, 0.20, 0.4), (0.12, 0.20, 0.6)):
        out[f"adaptive {low}-{high} w>={wmin}"] = masked(
            lambda c, lo=low, hi=high, w=wmin: F.adaptive(c.dense, c.keyword, c.keyword_ideal, lo, hi, w)[0])
    for a in (0.3, 0.4, 0.5, 0.6, 0.7):
        out[f"minmax a={a}"] = masked(lambda c, a=a: F.convex(c.dense, c.keyword, a, "minmax"))
        out[f"z a={a}"] = masked(lambda c, a=a: F.convex(c.dense, c.keyword, a, "zscore"))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunking", action="append", default=None, help="TOKENS:OVERLAP (repeatable)")
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--depth", type=int, default=100, help="candidates taken from each side, cached")
    ap.add_argument("--fetch", type=int, default=30, help="fusion depth evaluated")
    ap.add_argument("--only", default="", help="comma-separated method name prefixes to print")
    args = ap.parse_args(argv)
    for spec in args.chunking or ["256:0"]:
        ct, ov = (int(x) for x in spec.split(":"))
        print(f"\n== chunking {ct}:{ov}, backend {args.backend}, fusion depth {args.fetch}", flush=True)
        sets = {
            "scifact-train": cached_candidates(settings_for("scifact", ct, ov, args.backend), scifact_records,
                                               scifact_queries("train"), args.depth, "scifact-train"),
            "squad-para": cached_candidates(settings_for("squad", ct, ov, args.backend), squad_records,
                                            squad_queries("paraphrased"), args.depth, "squad-para"),
            "squad-tune": cached_candidates(settings_for("squad", ct, ov, args.backend), squad_records,
                                            squad_queries("tune"), args.depth, "squad-tune"),
        }
        table = []
        for name, fn in methods(depth=args.fetch).items():
            if args.only and not any(name.startswith(p) for p in args.only.split(",")) and name not in ("dense", "bm25"):
                continue
            row = [name]
            for cands in sets.values():
                r = evaluate(cands, fn)
                row += [r["ndcg@10"], r["hit@5"], r["mrr"]]
            table.append(row)
        head = ["method"] + [f"{s} {m}" for s in sets for m in ("nDCG", "hit@5", "MRR")]
        print(" | ".join(f"{h:>14s}" for h in head))
        for row in table:
            print(" | ".join([f"{row[0]:>14s}"] + [f"{v:14.3f}" for v in row[1:]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
