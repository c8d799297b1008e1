"""Ingestion throughput, side by side: the plain llama-index pipeline and ours, on the same corpus.

    python -m eval.bench.ingest_speed                   # SciFact's 5,183 abstracts (about 25 min here)
    python -m eval.bench.ingest_speed --limit 500       # a quick run
    python -m eval.bench.ingest_speed --json out.json

Each pipeline ingests the corpus end to end into a fresh Chroma directory (read, chunk, embed,
store; models are loaded before the clock starts, as a long-running app would have them):

- plain llama-index: ``SimpleDirectoryReader`` over one file per abstract ->
  ``VectorStoreIndex.from_documents`` with ``HuggingFaceEmbedding`` (packaged all-MiniLM-L6-v2)
  into Chroma; its default ``SentenceSplitter`` makes 1024-token chunks, which the encoder then
  truncates at 256 word pieces: the rest of a long abstract is never embedded;
- ours with each encoder backend (``torch`` = sentence-transformers; ``onnx-int8`` = the default):
  ``Assistant.ingest_records``; chunks sized to the encoder's 256-word-piece input with the
  title, so every word of every abstract is embedded (more chunks than the plain pipeline).

Then the encoders alone on the same texts (a sample of our chunks): raw
``SentenceTransformer.encode`` (batch 32) beside our ONNX encoders. Quality: nDCG@10 on SciFact
test for each index built here (fused for ours, reciprocal-rank fusion for the plain one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Full runs build the indexes eval/bench/retrieval.py then reuses; quick runs (--limit) their own.
INDEX_ROOT = ROOT / ".data" / "index"


def corpus(limit: int | None):
    from eval.beir import find_dir, load_corpus

    records = list(load_corpus(find_dir(None)))
    return records[:limit] if limit else records


def run_plain(records, work: Path) -> dict:
    from eval.bench.plain_llamaindex import build, write_files

    files = work / "plain-scifact-files"
    shutil.rmtree(files, ignore_errors=True)
    write_files(records, files)
    index = build(files, work / "plain-scifact", rebuild=True)
    t = index.timings
    return {"pipeline": "plain llama-index", "seconds": t["total"], "embed_seconds": t["embed"],
            "chunks": index.chunks, "index": index}


def run_ours(records, work: Path, backend: str) -> dict:
    from assistant.client import Assistant
    from assistant.config import load_settings

    defaults = load_settings({})
    data = work / f"scifact-{defaults.chunk_tokens}-{defaults.chunk_overlap}-{backend}"
    shutil.rmtree(data, ignore_errors=True)
    settings = load_settings({"data_dir": data, "collection": "tune-scifact", "embed_backend": backend})
    a = Assistant(settings)
    a.embedder.embed(["load the model before the clock starts"])
    seconds = [0.0]
    original = a.embedder.embed

    def timed(texts, progress=None):
        t = time.perf_counter()
        try:
            return original(texts, progress=progress)
        finally:
            seconds[0] += time.perf_counter() - t

    a.embedder.embed = timed  # type: ignore[method-assign]
    try:
        t = time.perf_counter()
        report = a.ingest_records(records, progress=False)
        total = time.perf_counter() - t
    finally:
        a.embedder.embed = original  # type: ignore[method-assign]
    return {"pipeline": f"ours ({backend})", "seconds": total, "embed_seconds": seconds[0],
            "chunks": report.chunks_written, "assistant": a}


def chunk_texts(assistant, n: int) -> list[str]:
    """The texts our encoder saw for ``n`` chunks spread over the collection (title + chunk)."""
    from ingest.pipeline import Ingestor

    col = assistant.collection()
    ing = Ingestor(assistant.settings, assistant.embedder, progress=False)
    texts = []
    for cid, meta, text in col.scan(include=("metadatas", "documents")):
        from assistant.types import Chunk

        chunk = Chunk(id=cid, doc_id=meta.get("doc_id", ""), source=meta.get("source", ""),
                      title=meta.get("title", ""), text=text or "", ordinal=0, start=0, end=0)
        texts.append(ing.embedding_text(chunk))
    step = max(len(texts) // n, 1)
    return texts[::step][:n]


def encoders(texts: list[str]) -> list[dict]:
    from sentence_transformers import SentenceTransformer

    from assistant.embed.encoder import Embedder, resolve_model_path

    rows = []
    st = SentenceTransformer(resolve_model_path(""), device="cpu")
    st.encode(["warm up"])
    t = time.perf_counter()
    st.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    dt = time.perf_counter() - t
    rows.append({"encoder": "SentenceTransformer.encode (batch 32)", "texts_per_s": len(texts) / dt})
    for backend in ("onnx", "onnx-int8"):
        e = Embedder(backend=backend)
        e.embed(["warm up"])
        t = time.perf_counter()
        e.embed(texts)
        dt = time.perf_counter() - t
        rows.append({"encoder": f"ours {backend}", "texts_per_s": len(texts) / dt})
    return rows


def quality(results: list[dict], corpus_records: list[dict]) -> None:
    from eval.beir import find_dir, load_qrels, load_queries
    from eval.bench.retrieval import RANK_CHUNKS, score
    from eval.bench.plain_llamaindex import ranked_docs
    from eval import metrics as M

    d = find_dir(None)
    qrels, queries = load_qrels(d, "test"), load_queries(d)
    present = {r["id"] for r in corpus_records}
    # Quick runs index part of the corpus: score only the claims whose abstracts are all in it.
    qs = [(q, queries[q], qrels[q]) for q in qrels if q in queries and set(qrels[q]) <= present]
    for r in results:
        if "index" in r:
            retriever = r["index"].retrievers(20)["rrf"]
            r["ndcg@10"] = score(lambda q: ranked_docs(retriever, q), qs)["ndcg@10"]
        else:
            a = r["assistant"]
            r["ndcg@10"] = score(lambda q: M.dedupe(h.chunk.doc_id for h in a.retrieve(q, k=RANK_CHUNKS).hits)[:10],
                                 qs)["ndcg@10"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N abstracts only (quick runs)")
    ap.add_argument("--backends", default="onnx-int8", help="our encoder backends to run (e.g. onnx-int8,torch)")
    ap.add_argument("--skip-plain", action="store_true", help="leave out the plain llama-index pipeline")
    ap.add_argument("--encode-sample", type=int, default=1500, help="chunks for the encoder-only comparison")
    ap.add_argument("--no-quality", action="store_true", help="skip nDCG@10 on SciFact test")
    ap.add_argument("--work", type=Path, default=None,
                    help="where the indexes are built (default .data/index, or .data/index/limit-N with --limit)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.work is None:
        args.work = INDEX_ROOT / f"limit-{args.limit}" if args.limit else INDEX_ROOT
    args.work.mkdir(parents=True, exist_ok=True)

    records = corpus(args.limit)
    load = [os.getloadavg()[0]]
    results = []
    if not args.skip_plain:
        results.append(run_plain(records, args.work))
        load.append(os.getloadavg()[0])
    for backend in [b for b in args.backends.split(",") if b]:
        results.append(run_ours(records, args.work, backend))
        load.append(os.getloadavg()[0])
    ours_default = next((r for r in results if r["pipeline"] == "ours (onnx-int8)"), results[-1])
    enc = encoders(chunk_texts(ours_default["assistant"], args.encode_sample)) if args.encode_sample else []
    if not args.no_quality:
        quality(results, records)

    base = results[0]["seconds"] if not args.skip_plain else None
    print(f"\nIngesting {len(records)} SciFact abstracts end to end (load average {min(load):.1f}-{max(load):.1f}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    print(f"{'pipeline':26s}{'chunks':>8s}{'total s':>9s}{'embed s':>9s}{'chunks/s':>10s}{'docs/s':>8s}"
          f"{'speed-up':>10s}{'nDCG@10':>9s}")
    for r in results:
        speed = f"{base / r['seconds']:.2f}x" if base else "-"
        nd = f"{r['ndcg@10']:.3f}" if "ndcg@10" in r else "-"
        print(f"{r['pipeline']:26s}{r['chunks']:8d}{r['seconds']:9.1f}{r['embed_seconds']:9.1f}"
              f"{r['chunks'] / r['seconds']:10.1f}{len(records) / r['seconds']:8.1f}{speed:>10s}{nd:>9s}")
    if enc:
        print(f"\nEncoders alone on {args.encode_sample} of our chunks (title + text, up to 256 word pieces)")
        raw = enc[0]["texts_per_s"]
        for row in enc:
            print(f"{row['encoder']:42s}{row['texts_per_s']:8.1f} texts/s{row['texts_per_s'] / raw:7.2f}x")
    if args.json:
        out = {"documents": len(records), "load_average": load,
               "pipelines": [{k: v for k, v in r.items() if k not in ("index", "assistant")} for r in results],
               "encoders": enc}
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
