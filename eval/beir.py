"""BEIR-format retrieval benchmarks (SciFact in ../shared/eval-data/scifact).

    assistant eval --beir ../shared/eval-data/scifact --split test
    assistant eval scifact-train                                    # the shipped suite

A BEIR directory holds ``corpus.jsonl`` (or ``.jsonl.gz``: ``{"_id", "title", "text"}``),
``queries.jsonl`` (``{"_id", "text"}``) and ``qrels/<split>.tsv`` (``query-id corpus-id score``).
The corpus is ingested as records (incrementally: a second run embeds nothing), then every
query of the split is retrieved with each mode, dense, keyword (BM25) and fused, through
``Assistant.retrieve(mode=...)``; documents are ranked by their best chunk.

SciFact: tune on ``train``, report on ``test`` (never tune on test).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError
from eval import metrics as M
from eval.metrics import MODE_LABELS, RETRIEVAL_METRICS
from eval.results import EvalResults
from eval.suite import SuiteError, pick
from eval.suite import find_beir_dir as find_dir

MODES = ("dense", "keyword", "fused")
RANK_DEPTH = 10
RANK_CHUNKS = 30  # chunks fetched to rank 10 distinct documents (abstracts may span chunks)


def corpus_file(directory: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (directory / name).exists():
            return directory / name
    raise SuiteError(f"{directory} is not a BEIR directory: corpus.jsonl(.gz) is missing")


def load_corpus(directory: Path) -> Iterator[dict[str, Any]]:
    """Corpus documents as ingest records ``{"id", "title", "text"}``."""
    path = corpus_file(directory)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            yield {"id": str(d["_id"]), "title": d.get("title") or "", "text": d.get("text") or ""}


def load_queries(directory: Path) -> dict[str, str]:
    out = {}
    with (directory / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                out[str(d["_id"])] = d["text"]
    return out


def splits(directory: Path) -> list[str]:
    return sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))


def load_qrels(directory: Path, split: str) -> dict[str, dict[str, float]]:
    """query id -> {doc id: relevance grade} for ``split``, in file order."""
    path = directory / "qrels" / f"{split}.tsv"
    if not path.exists():
        raise SuiteError(f"no split {split!r} in {directory}; available: {', '.join(splits(directory)) or 'none'}")
    out: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qid, did, grade = row[0].strip(), row[1].strip(), float(row[2])
            out.setdefault(qid, {})[did] = grade
    return out


def run_beir(
    directory: str | Path,
    split: str = "test",
    *,
    settings: Settings | None = None,
    modes: tuple[str, ...] = MODES,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    progress: bool = False,
    name: str | None = None,
    out_dir: str | Path | None = None,
) -> EvalResults:
    """Ingest the corpus (incrementally) and score retrieval of ``split``'s queries per mode."""
    from assistant.client import Assistant

    directory = find_dir(directory)
    name = name or f"beir-{directory.name}"
    if settings is None:
        settings = load_settings({})
        settings = settings.replace(data_dir=settings.data_dir / "eval", collection=f"eval-beir-{directory.name}")
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SuiteError(f"unknown retrieval mode(s) {', '.join(bad)}; use {', '.join(MODES)}")
    qrels = load_qrels(directory, split)
    queries = load_queries(directory)
    missing = [q for q in qrels if q not in queries]
    qids = pick([q for q in qrels if q in queries], limit, sample, seed)

    started = time.time()
    assistant = Assistant(settings)
    if progress:
        print(f"indexing {corpus_file(directory)} into {settings.collection!r} under {settings.data_dir}",
              file=sys.stderr, flush=True)
    t = time.perf_counter()
    report = assistant.ingest_records(load_corpus(directory), progress=None if progress else False)
    ingest_seconds = time.perf_counter() - t
    if progress:
        print(f"index ready: {report.summary().splitlines()[0]}", file=sys.stderr, flush=True)

    # Load the keyword index and the encoder before the clock starts (steady-state latency).
    for mode in modes:
        assistant.retrieve("warm up", k=RANK_CHUNKS, mode=mode)

    records: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(qids), unit="q", desc=f"retrieving {split}", file=sys.stderr, dynamic_ncols=True)
    t_queries = time.perf_counter()
    mode_seconds = {m: 0.0 for m in modes}
    try:
        for qid in qids:
            grades = qrels[qid]
            rec: dict[str, Any] = {"id": qid, "question": queries[qid], "relevant": grades, "modes": {}}
            for mode in modes:
                t_mode = time.perf_counter()
                retrieval = assistant.retrieve(queries[qid], k=RANK_CHUNKS, mode=mode)
                mode_seconds[mode] += time.perf_counter() - t_mode
                docs = []
                for h in retrieval.hits:
                    if h.chunk.doc_id not in {d["doc"] for d in docs}:
                        docs.append({"doc": h.chunk.doc_id, "title": h.chunk.title,
                                     "score": round(float(h.score), 4), "relevant": h.chunk.doc_id in grades})
                    if len(docs) >= RANK_DEPTH:
                        break
                scores = M.retrieval_scores([d["doc"] for d in docs], grades)
                rec["modes"][mode] = {
                    "retrieved": docs,
                    "scores": scores,
                    "latency_ms": round(retrieval.timings_ms.get("retrieval", 0.0), 2),
                }
            main = "fused" if "fused" in rec["modes"] else modes[0]
            rec["scores"] = rec["modes"][main]["scores"]
            rec["outcome"] = "found" if rec["scores"]["hit@10"] else "missed"
            first = next((i for i, d in enumerate(rec["modes"][main]["retrieved"], 1) if d["relevant"]), None)
            rec["why"] = [
                f"{MODE_LABELS[m]}: nDCG@10 {rec['modes'][m]['scores']['ndcg@10']:.2f}, "
                f"first relevant at rank {next((i for i, d in enumerate(rec['modes'][m]['retrieved'], 1) if d['relevant']), '>10')}"
                for m in modes
            ]
            rec["first_relevant_rank"] = first
            records.append(rec)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    metrics: dict[str, Any] = {}
    for mode in modes:
        for metric in RETRIEVAL_METRICS:
            metrics[f"{mode}.{metric}"] = M.mean(r["modes"][mode]["scores"][metric] for r in records)
        lat = [r["modes"][mode]["latency_ms"] for r in records]
        metrics[f"{mode}.latency_p50_ms"] = M.percentile(lat, 50)
        metrics[f"{mode}.latency_p95_ms"] = M.percentile(lat, 95)
    main = "fused" if "fused" in modes else modes[0]
    for metric in (*RETRIEVAL_METRICS, "latency_p50_ms", "latency_p95_ms"):
        metrics[metric] = metrics[f"{main}.{metric}"]
    metrics["questions"] = len(records)

    info = {
        "suite": name,
        "description": f"BEIR {directory.name}, {split} split: retrieval of the relevant documents per query",
        "beir_dir": str(directory),
        "split": split,
        "modes": list(modes),
        "main_mode": main,
        "corpus": str(corpus_file(directory)),
        "data_dir": str(settings.data_dir),
        "collection": settings.collection,
        "queries_in_split": len(qrels),
        "queries_missing_text": len(missing),
        "questions_run": len(records),
        "limit": limit,
        "sample": sample,
        "seed": seed if sample is not None else None,
        "settings": {k: getattr(settings, k) for k in ("embed_model", "fetch_k", "fusion", "rrf_k", "dense_weight",
                                                        "keyword_weight", "chunk_tokens", "chunk_overlap")},
        "ingest": {**report.to_dict(), "files": None, "summary": report.summary().splitlines()[0]},
        "seconds": {
            "ingest": round(ingest_seconds, 2),
            "questions": round(time.perf_counter() - t_queries, 2),
            **{f"retrieval_{m}": round(v, 2) for m, v in mode_seconds.items()},
            "total": round(time.time() - started, 2),
        },
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
    }
    del info["ingest"]["files"]
    results = EvalResults(name, "beir", metrics, records, info)
    if out_dir is not None:
        results.write(out_dir)
    return results
