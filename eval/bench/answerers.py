"""Answerers side by side, in one run: the reader (spans, the default; joint; reranking), the sentence-scoring model alone,
the naive best-cosine sentence, and the packaged local LLM, on the same questions.

    python -m eval.bench.answerers                                   # all suites, all answerers
    python -m eval.bench.answerers --suites sample-article,squad-paraphrased --answerers reader,sentences
    python -m eval.bench.answerers --sample 300 --seed 0             # a seeded sample of each suite
    python -m eval.bench.answerers --rerank scifact,squad-paraphrased --rerank-k 20

Question suites (``assistant eval`` suites): ``sample-article``, ``squad-paraphrased`` (48 tune
questions reworded away from their passage), ``squad-reworded`` (180 more, of tune articles 10-11,
60 of them unanswerable), ``squad-report`` (SQuAD 2.0 report articles, retrieval
over every passage). Reported per answerer: short-answer EM/F1 (the answer text when there is no
short answer), containment, abstention precision/recall, wrong abstentions, latency p50/p95.
``--rerank`` measures retrieval with and without the reader's reranking of the fused top
``--rerank-k``: SciFact test nDCG@10 (documents ranked by their best chunk) and paraphrased hit@5.
Results go to ``eval/out/bench-answerers/`` (one results.json + report.html per run, and
``summary.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "eval" / "out" / "bench-answerers"
SUITES = ("sample-article", "squad-paraphrased", "squad-reworded", "squad-report")
ANSWERERS = {
    "reader": {"answerer": "extractive", "reader": "packaged", "reader_mode": "spans", "rerank_k": 0},
    "reader-joint": {"answerer": "extractive", "reader": "packaged", "reader_mode": "joint", "rerank_k": 0},
    "reader-rerank": {"answerer": "extractive", "reader": "packaged", "reader_mode": "spans", "rerank_k": 6},
    "sentences": {"answerer": "extractive", "reader": "off"},
    "best-cosine": {"answerer": "extractive", "reader": "off"},  # the answerer is swapped below
    "local-llm": {"answerer": "local", "reader": "packaged"},
}


class BestCosineAnswerer:
    """The naive baseline: quote the retrieved sentence closest to the question, never abstain."""

    name = "best-cosine"

    def __init__(self, tools):
        self.tools = tools

    def answer(self, question, hits):
        import numpy as np

        from assistant.answer.base import EMPTY_TEXT, citation_for
        from assistant.sentences import sentence_spans
        from assistant.types import Answer

        sentences = [(i, hit.chunk.text[s:e]) for i, hit in enumerate(hits) for s, e in sentence_spans(hit.chunk.text)]
        if not sentences:
            return Answer(question.text, EMPTY_TEXT, abstained=True, backend=self.name)
        qvec = question.vector if question.vector is not None else self.tools.embedder.embed_query(question.text)
        vecs = self.tools.embedder.embed([t for _, t in sentences])
        i, text = sentences[int(np.argmax(vecs @ qvec))]
        return Answer(question.text, f"{text} [1]", citations=[citation_for(1, hits[i], text)], backend=self.name)


def _patch_best_cosine():
    """Make Assistant build the naive answerer (this benchmark's process only)."""
    from assistant import client

    original = client.Assistant._make_answerer

    def make(self):
        from assistant.answer.base import AnswerTools

        extractive = original(self)
        self._reranker = None
        return BestCosineAnswerer(AnswerTools(self.embedder, extractive.tools.idf))

    client.Assistant._make_answerer = make
    return lambda: setattr(client.Assistant, "_make_answerer", original)


def run_answerers(suites, answerers, sample, seed, data_dir) -> list[dict[str, Any]]:
    from eval import run_suite

    rows = []
    for suite in suites:
        for name in answerers:
            restore = _patch_best_cosine() if name == "best-cosine" else None
            try:
                overrides = dict(ANSWERERS[name])
                if data_dir:
                    overrides["data_dir"] = data_dir
                t = time.perf_counter()
                results = run_suite(suite, out_dir=OUT / f"{suite}-{name}", sample=sample, seed=seed, progress=True,
                                    **overrides)
                m = results.metrics
                rows.append({
                    "suite": suite, "answerer": name, "questions": m.get("questions"),
                    "em": m.get("em"), "f1": m.get("f1"), "containment": m.get("containment"),
                    "abstention_precision": m.get("abstention_precision"),
                    "abstention_recall": m.get("abstention_recall"),
                    "wrong_abstentions": m.get("wrong_abstentions"),
                    "answerable": m.get("answerable"),
                    "latency_p50_ms": m.get("latency_p50_ms"), "latency_p95_ms": m.get("latency_p95_ms"),
                    "seconds": round(time.perf_counter() - t, 1),
                })
            finally:
                if restore:
                    restore()
            print(_table(rows[-1:]), file=sys.stderr, flush=True)
    return rows


def rerank_figures(which, rerank_k, limit, data_dir) -> list[dict[str, Any]]:
    """Retrieval before and after the reader reranks the fused top ``rerank_k``."""
    from assistant.answer.base import Question
    from assistant.client import Assistant
    from eval import metrics as M
    from eval.runner import eval_settings
    from eval.suite import load_suite

    rows = []
    for name in which:
        suite_name = {"scifact": "scifact-test", "squad-paraphrased": "squad-paraphrased"}[name]
        suite = load_suite(suite_name)
        base = Assistant(**({"data_dir": data_dir} if data_dir else {})).settings
        s = eval_settings(base, suite)
        assistant = Assistant(s.replace(rerank_k=rerank_k, reader_extra_windows=0))
        if suite.beir is not None:
            from eval.beir import load_corpus, load_qrels, load_queries

            assistant.ingest_records(load_corpus(suite.beir.dir), progress=None)
            qrels = load_qrels(suite.beir.dir, suite.beir.split)
            queries = load_queries(suite.beir.dir)
            items = [(queries[q], qrels[q]) for q in qrels if q in queries]
        else:
            if suite.corpus_records is not None:
                assistant.ingest_records(suite.corpus_records(), progress=None)
            items = [(q.question, {src: 1.0 for src in q.sources}) for q in suite.questions if q.sources]
        items = items[:limit] if limit else items
        reader = assistant.answerer
        assistant.retrieve("warm up", k=rerank_k)
        before, after, ms = [], [], []
        for text, relevant in items:
            retrieval = assistant.retrieve(text, k=rerank_k)
            t = time.perf_counter()
            reranked = reader.rerank(Question(text, text, vector=retrieval.query_vector), retrieval.hits)
            ms.append((time.perf_counter() - t) * 1000)
            for hits, out in ((retrieval.hits, before), (reranked, after)):
                ranked = M.dedupe(_label(h) for h in hits)
                out.append(M.ndcg_at_k(ranked, relevant, 10) if suite.beir is not None else M.hit_at_k(ranked, relevant, 5))
        metric = "ndcg@10" if suite.beir is not None else "hit@5"
        rows.append({"set": suite_name, "metric": metric, "questions": len(items), "rerank_k": rerank_k,
                     "fused": round(M.mean(before), 3), "reranked": round(M.mean(after), 3),
                     "rerank_p50_ms": round(M.percentile(ms, 50), 1), "rerank_p95_ms": round(M.percentile(ms, 95), 1)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _label(hit) -> str:
    c = hit.chunk
    return c.doc_id if c.source.startswith(("/", ".")) else c.source


def _table(rows) -> str:
    cols = ["suite", "answerer", "questions", "em", "f1", "containment", "abstention_precision",
            "abstention_recall", "wrong_abstentions", "latency_p50_ms", "latency_p95_ms"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
    return "" if v is None else str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--answerers", default=",".join(ANSWERERS))
    ap.add_argument("--sample", type=int, help="a seeded sample of N questions per suite")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rerank", default="", help="comma list of scifact, squad-paraphrased")
    ap.add_argument("--rerank-k", type=int, default=20)
    ap.add_argument("--rerank-limit", type=int, help="only the first N queries of each rerank set")
    ap.add_argument("--data-dir", help="data dir (evals index under DATA_DIR/eval)")
    args = ap.parse_args(argv)

    from assistant.config import offline_environment

    offline_environment()
    OUT.mkdir(parents=True, exist_ok=True)
    suites = [s for s in args.suites.split(",") if s]
    answerers = [a for a in args.answerers.split(",") if a]
    unknown = [a for a in answerers if a not in ANSWERERS]
    if unknown:
        ap.error(f"unknown answerer(s) {', '.join(unknown)}; choose from {', '.join(ANSWERERS)}")
    rows = run_answerers(suites, answerers, args.sample, args.seed, args.data_dir) if answerers and suites else []
    rerank = rerank_figures([r for r in args.rerank.split(",") if r], args.rerank_k, args.rerank_limit,
                            args.data_dir) if args.rerank else []
    (OUT / "summary.json").write_text(json.dumps({"answers": rows, "rerank": rerank}, indent=2) + "\n")
    print(_table(rows))
    for r in rerank:
        print(f"{r['set']}: {r['metric']} fused {r['fused']:.3f} -> reranked {r['reranked']:.3f} "
              f"(top {r['rerank_k']}, {r['questions']} queries, rerank p50 {r['rerank_p50_ms']} ms, "
              f"p95 {r['rerank_p95_ms']} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
