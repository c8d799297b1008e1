"""Embeddings in-process vs from an embedding server, on this machine; and what a million chunks
would take with a GPU encoder (a projection, stated as such).

    python -m eval.bench.remote_embeddings                    # 1,000 SciFact abstracts (about 8 min here)
    python -m eval.bench.remote_embeddings --docs 300         # a quick run
    python -m eval.bench.remote_embeddings --scale-json out/scale-server.json   # add Chroma-server figures

The server is llama.cpp's (``llama_cpp.server --embedding``, fp32 GGUF of the packaged
all-MiniLM-L6-v2, see ``eval/bench/embedding_server.py``), started on loopback on the same
2 cores the ingest runs on: client and server compete for the CPU, so the server figure is what
a remote encoder gives *without* extra hardware, not what a GPU box gives. Requests carry 8
texts (``embed_batch_size = 8``; this server was faster so than with 32), 4 in flight.

Measured, on the same corpus (SciFact abstracts written as Markdown files, ingested with
``Ingestor.ingest_paths`` into a fresh on-disk Chroma each time; models loaded before the clock):

- the encoders alone on the chunks' texts (in-process int8 ONNX, the default; the server);
- ingestion end to end (discover, read, chunk, embed, write; the pipeline overlaps reading,
  embedding and writing) with each encoder;
- ingestion with the vectors looked up instead of encoded (everything else real): the ceiling
  of this machine's side of the pipeline, which is what bounds ingestion once the encoder is a
  GPU box;
- ``ask()`` latency (warm, extractive answerer) over SciFact test claims with each encoder.

The projection for 1,000,000 chunks divides by the slower of (a) the measured ceiling of the
local pipeline and (b) an *assumed* GPU encoder rate (``--gpu-rate``, default 2,000 chunks/s for
a MiniLM-sized model: an assumption, not a measurement here). Chroma server figures at 100k come
from ``python -m eval.bench.scale --server`` (pass its ``--json`` output with ``--scale-json``);
they are not re-measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".data" / "bench-remote-embeddings"

from eval.bench.scale import percentile  # noqa: E402


def write_corpus(records: list[dict], root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for rec in records:
        title = (rec.get("title") or "").replace("\n", " ").strip()
        (root / f"{rec['id']}.md").write_text((f"# {title}\n\n" if title else "") + rec["text"], encoding="utf-8")
    return root


def fresh_assistant(name: str, **settings):
    from assistant.client import Assistant

    data = WORK / name
    shutil.rmtree(data, ignore_errors=True)
    return Assistant(data_dir=data, collection="bench", **settings)


def encoder_rate(embedder, texts: list[str]) -> float:
    embedder.embed(texts[:8])  # warm: first request / session
    t = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t)


def ingest_rate(assistant, corpus: Path) -> dict:
    t = time.perf_counter()
    report = assistant.ingest([corpus])
    seconds = time.perf_counter() - t
    return {"chunks": report.chunks_written, "seconds": round(seconds, 1),
            "chunks_per_second": round(report.chunks_written / seconds, 1)}


def lookup_rate(settings, corpus: Path, vectors: dict) -> dict:
    """Ingest with every vector looked up by chunk id (taken from an earlier real run)."""
    import numpy as np

    from ingest.pipeline import Ingestor

    class LookupIngestor(Ingestor):
        def embed_chunks(self, chunks, progress=None):
            out = np.stack([vectors[c.id] for c in chunks])
            if progress:
                progress(len(chunks))
            return out

    ingestor = LookupIngestor(settings, progress=False)
    t = time.perf_counter()
    report = ingestor.ingest_paths([corpus])
    seconds = time.perf_counter() - t
    return {"chunks": report.chunks_written, "seconds": round(seconds, 1),
            "chunks_per_second": round(report.chunks_written / seconds, 1)}


def ask_latency(assistant, questions: list[str]) -> dict:
    assistant.ask(questions[0])  # warm
    times = []
    for q in questions:
        t = time.perf_counter()
        assistant.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(statistics.median(times)), "p95_ms": round(percentile(times, 95)), "n": len(times)}


def stored_vectors(assistant) -> dict:
    import numpy as np

    col = assistant.collection()
    out = {}
    ids = col.ids()
    for i in range(0, len(ids), 1000):
        got = col.raw.get(ids=ids[i : i + 1000], include=["embeddings"])
        for cid, vec in zip(got["ids"], got["embeddings"]):
            out[cid] = np.asarray(vec, dtype=np.float32)
    return out


def run(docs: int, questions: int, threads: int, gpu_rate: float, scale_json: str | None, log) -> dict:
    from assistant.config import default_model_cache_dir
    from eval.beir import find_dir, load_corpus, load_queries
    from eval.bench.embedding_server import MODEL_NAME, llama_cpp_embedding_server, minilm_gguf

    data = find_dir(None)
    records = list(load_corpus(data))[:docs]
    claims = list(load_queries(data).values())[:questions]
    corpus = write_corpus(records, WORK / "corpus")
    out: dict = {"docs": len(records), "questions": len(claims), "server_threads": threads,
                 "loadavg_start": os.getloadavg()[0]}

    local = fresh_assistant("local")
    log("in-process: ingest, then the encoder alone")
    out["ingest_local"] = ingest_rate(local, corpus)
    # The encoders alone on texts as the pipeline sends them: chunks (at most 256 word pieces).
    texts = [text for _cid, _meta, text in local.collection().scan(include=("documents",))][:300]
    out["encoder_local"] = round(encoder_rate(local.embedder, texts), 1)
    out["ask_local"] = ask_latency(local, claims)

    gguf_file = minilm_gguf(default_model_cache_dir())
    with llama_cpp_embedding_server(gguf_file, threads=threads, log=WORK / "server.log") as url:
        remote = fresh_assistant("remote", embed_backend=f"openai:{MODEL_NAME}", embed_base_url=url,
                                 embed_batch_size=8)  # this server: 8 a request beat 32 (embedding_server.py)
        log(f"server at {url}: encoder alone, then ingest")
        out["encoder_server"] = round(encoder_rate(remote.embedder, texts), 1)
        out["ingest_server"] = ingest_rate(remote, corpus)
        out["ask_server"] = ask_latency(remote, claims)
        vectors = stored_vectors(remote)
    log("vectors looked up (the local pipeline's ceiling)")
    lookup = fresh_assistant("lookup")
    out["ingest_lookup"] = lookup_rate(lookup.settings, corpus, vectors)
    ceiling = out["ingest_lookup"]["chunks_per_second"]
    bound = min(ceiling, gpu_rate)
    out["projection"] = {"chunks": 1_000_000, "gpu_rate_assumed": gpu_rate, "local_ceiling": ceiling,
                         "bound_by": "this machine's pipeline (read, chunk, write)" if ceiling < gpu_rate
                         else "the GPU encoder", "hours": round(1_000_000 / bound / 3600, 2),
                         "hours_in_process": round(1_000_000 / out["ingest_local"]["chunks_per_second"] / 3600, 1)}
    if scale_json:
        out["chroma_server"] = chroma_server_figures(scale_json)
    out["loadavg_end"] = os.getloadavg()[0]
    return out


def chroma_server_figures(path: str) -> dict:
    """Write and query figures from a ``python -m eval.bench.scale --server --json PATH`` run."""
    scale = json.loads(Path(path).read_text())
    return {"chunks": scale["build"].get("chunks"),
            "write_chunks_per_second": scale["build"].get("copy_chunks_per_second"),
            "ask": scale.get("ask", {}), "retrieval": scale.get("retrieval", {})}


def format_table(r: dict) -> str:
    lines = [
        f"Embeddings in-process vs from a server: {r['docs']} SciFact abstracts, {r['ingest_local']['chunks']} chunks; "
        f"server = llama.cpp, {r['server_threads']} threads, same 2-core machine; load average "
        f"{r['loadavg_start']:.1f} -> {r['loadavg_end']:.1f}",
        "",
        "| | in-process (int8 ONNX, default) | embedding server (openai:, llama.cpp fp32) |",
        "|---|---|---|",
        f"| encoder alone, chunks/s | {r['encoder_local']} | {r['encoder_server']} |",
        f"| ingest end to end, chunks/s | {r['ingest_local']['chunks_per_second']} "
        f"({r['ingest_local']['seconds']} s) | {r['ingest_server']['chunks_per_second']} ({r['ingest_server']['seconds']} s) |",
        f"| ask() p50 / p95 ms ({r['ask_local']['n']} claims, warm) | {r['ask_local']['p50_ms']} / {r['ask_local']['p95_ms']} "
        f"| {r['ask_server']['p50_ms']} / {r['ask_server']['p95_ms']} |",
        "",
        f"Local pipeline with vectors looked up (read, chunk, write; no encoder): "
        f"{r['ingest_lookup']['chunks_per_second']} chunks/s ({r['ingest_lookup']['seconds']} s).",
    ]
    p = r["projection"]
    lines.append(
        f"Projection (not a measurement) for {p['chunks']:,} chunks: with a GPU encoder serving an assumed "
        f"{p['gpu_rate_assumed']:,.0f} chunks/s, bound by {p['bound_by']} at {min(p['local_ceiling'], p['gpu_rate_assumed']):,.0f} "
        f"chunks/s: about {p['hours']} h (in-process here: about {p['hours_in_process']} h)."
    )
    if "chroma_server" in r:
        c = r["chroma_server"]
        ask, ret = c.get("ask", {}), c.get("retrieval", {})
        lines.append(
            f"Chroma server (eval.bench.scale --server, {c['chunks']:,} chunks): writes {c['write_chunks_per_second']} "
            f"chunks/s (vectors looked up); ask() p50/p95 {ask.get('p50_ms', '?')}/{ask.get('p95_ms', '?')} ms; "
            f"retrieval p50/p95 {ret.get('p50_ms', '?')}/{ret.get('p95_ms', '?')} ms."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.bench.remote_embeddings",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="The million-chunk figure is a projection from measured rates and an assumed GPU rate.")
    p.add_argument("--docs", type=int, default=1000, help="SciFact abstracts ingested (default 1000)")
    p.add_argument("--questions", type=int, default=50, help="claims asked for the latency figures (default 50)")
    p.add_argument("--threads", type=int, default=2, help="the embedding server's CPU threads (default 2)")
    p.add_argument("--gpu-rate", type=float, default=2000.0,
                   help="assumed chunks/s of a GPU embedding server, for the projection (default 2000)")
    p.add_argument("--scale-json", metavar="PATH", help="figures of `python -m eval.bench.scale --server --json PATH`")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--report", metavar="PATH", help="measure nothing: print the table of an earlier --json "
                   "(with --scale-json: the Chroma-server figures added)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    from assistant.config import offline_environment
    from assistant.errors import AssistantError

    offline_environment()

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[remote-embeddings {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        if args.report:
            result = json.loads(Path(args.report).read_text())
            if args.scale_json:
                result["chroma_server"] = chroma_server_figures(args.scale_json)
        else:
            result = run(args.docs, args.questions, args.threads, args.gpu_rate, args.scale_json, log)
    except (AssistantError, RuntimeError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
