"""Retrieval quality, side by side: the plain llama-index pipeline and ours, on two kinds of question.

    python -m eval.bench.retrieval                  # SciFact test + paraphrased/plain SQuAD questions
    python -m eval.bench.retrieval --skip-plain     # ours only (the plain pipeline needs '.[bench]')
    python -m eval.bench.retrieval --json out.json

Question sets (doc-level ranking: chunks are ranked, each document counts at its best chunk):

- ``scifact-test``: BEIR SciFact test split, 300 claims (report split; tuning used train only);
  nDCG@10 as BEIR reports it. Claims share rare words with their abstracts: BM25 is strong.
- ``squad-para``: the 48 paraphrased SQuAD tune questions (``eval/data/``), worded away from
  their passage: BM25 is weak and a fusion that trusts it blindly loses answers.
- ``squad-report``: answerable questions of the SQuAD report articles (12-16), as written.

Methods: plain llama-index (SimpleDirectoryReader + VectorStoreIndex, HuggingFaceEmbedding,
1024-token chunks; BM25Retriever; QueryFusionRetriever reciprocal_rerank and relative_score) and
ours through the real ``Assistant.retrieve``: dense, BM25, RRF (``fusion = "rrf"``) and the
default adaptive score fusion. Indexes are built once and cached under ``.data/index``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

from eval import metrics as M

ROOT = Path(__file__).resolve().parents[2]
INDEX_ROOT = ROOT / ".data" / "index"
RANK_CHUNKS = 30
QUESTION_SETS = ("scifact-test", "squad-para", "squad-report")


def _questions(name: str, limit: int | None) -> list[tuple[str, str, dict[str, float]]]:
    if name == "scifact-test":
        from eval.beir import find_dir, load_qrels, load_queries

        d = find_dir(None)
        qrels, queries = load_qrels(d, "test"), load_queries(d)
        qs = [(q, queries[q], qrels[q]) for q in qrels if q in queries]
    else:
        from eval.squad import find_dir, paraphrased_tune, questions

        d = find_dir(None)
        if name == "squad-para":
            raw = paraphrased_tune(d)
        else:
            raw = [q for q in questions(d, "report") if q.answerable]
        qs = [(q.id, q.question, {q.passage_id: 1.0}) for q in raw]
    return qs[:limit] if limit else qs


def _records(dataset: str):
    if dataset == "scifact":
        from eval.beir import find_dir, load_corpus

        return list(load_corpus(find_dir(None)))
    from eval.squad import corpus_records, find_dir

    return corpus_records(find_dir(None), "all")


def _dataset(question_set: str) -> str:
    return "scifact" if question_set.startswith("scifact") else "squad"


def score(rank: Callable[[str], list[str]], questions) -> dict[str, float]:
    rows = [M.retrieval_scores(rank(q), rel) for _, q, rel in questions]
    out = {m: sum(r[m] for r in rows) / len(rows) for m in ("ndcg@10", "hit@5", "mrr", "recall@10")}
    return out


def ours(dataset: str, backend: str, progress: bool):
    """An Assistant over ``dataset`` at the default chunking (built once, then reused)."""
    from assistant.client import Assistant
    from assistant.config import load_settings

    s = load_settings({})
    settings = load_settings({
        "data_dir": INDEX_ROOT / f"{dataset}-{s.chunk_tokens}-{s.chunk_overlap}-{backend}",
        "collection": f"tune-{dataset}", "embed_backend": backend,
    })
    a = Assistant(settings)
    t = time.perf_counter()
    report = a.ingest_records(_records(dataset), progress=None if progress else False)
    if report.chunks_written:
        print(f"  built {settings.data_dir.name}: {report.chunks_written} chunks in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
    return a


def our_rankers(a) -> dict[str, Callable[[str], list[str]]]:
    rrf = a.settings.replace(fusion="rrf")
    from assistant.client import Assistant

    a_rrf = Assistant(rrf)

    def docs(assistant, mode):
        def run(q):
            hits = assistant.retrieve(q, k=RANK_CHUNKS, mode=mode).hits
            return M.dedupe(h.chunk.doc_id for h in hits)[:10]
        return run

    return {
        "ours dense": docs(a, "dense"),
        "ours BM25": docs(a, "keyword"),
        "ours RRF": docs(a_rrf, "fused"),
        "ours adaptive (default)": docs(a, "fused"),
    }


def plain_rankers(dataset: str) -> dict[str, Callable[[str], list[str]]]:
    from eval.bench.plain_llamaindex import MODE_LABELS, build, ranked_docs, write_files

    files = INDEX_ROOT / f"plain-{dataset}-files"
    write_files(_records(dataset), files)
    index = build(files, INDEX_ROOT / f"plain-{dataset}", timed_embed=False)
    retrievers = index.retrievers(20)
    return {f"plain {MODE_LABELS[m]}": (lambda q, r=r: ranked_docs(r, q)) for m, r in retrievers.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(QUESTION_SETS), help="question sets, comma-separated")
    ap.add_argument("--backend", default="onnx-int8", help="encoder for our index (default: the app's default)")
    ap.add_argument("--skip-plain", action="store_true", help="leave out the plain llama-index pipeline")
    ap.add_argument("--limit", type=int, default=None, help="first N questions of each set (quick runs)")
    ap.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    sets = [s for s in args.sets.split(",") if s]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for dataset in dict.fromkeys(_dataset(s) for s in sets):
        rankers = our_rankers(ours(dataset, args.backend, progress=True))
        if not args.skip_plain:
            rankers = {**plain_rankers(dataset), **rankers}
        for qset in (s for s in sets if _dataset(s) == dataset):
            qs = _questions(qset, args.limit)
            for name, rank in rankers.items():
                t = time.perf_counter()
                r = score(rank, qs)
                r["ms_per_query"] = (time.perf_counter() - t) * 1000 / max(len(qs), 1)
                results.setdefault(name, {})[qset] = r
            print(f"  scored {qset} ({len(qs)} questions)", file=sys.stderr)

    cols = [(s, m) for s in sets for m in (("ndcg@10", "hit@5", "mrr") if s.startswith("scifact") else ("hit@5", "mrr", "ndcg@10"))]
    head = f"{'method':44s}" + "".join(f"{s[:12] + ' ' + m:>22s}" for s, m in cols)
    print(f"\nRetrieval quality (load average {os.getloadavg()[0]:.1f})")
    print(head)
    for name, per in results.items():
        print(f"{name:44s}" + "".join(f"{per.get(s, {}).get(m, float('nan')):22.3f}" for s, m in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
