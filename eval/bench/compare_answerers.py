"""Side by side: the extractive answerer and the local LLM (SmolLM2-135M) on the sample article,
plus the local model's speed (time to first token, tokens per second).

    python -m eval.bench.compare_answerers [--data-dir DIR] [--max-tokens 128] [--threads 0] [--json FILE]

Ten questions about the bundled sample article (nine it answers, one it does not). For each:
the extractive answer; the local LLM's answer as a user gets it (evidence gate on, citations
checked); and, with the gate off so the model always runs, what the model wrote and what the
citation check made of it. Speed comes from those ungated runs: each is one generation.
Timings depend on the machine's load, printed alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = [
    "How many targets did the US strike?",
    "When did the strikes take place?",
    "Who was blamed for the drone attack?",
    "How many US army reservists were killed?",
    "Where is the Tower 22 base?",
    "Who is the US Defense Secretary?",
    "What did the Iraqi military spokesperson say about the strikes?",
    "Did the US inform the Iraqi government before the strikes?",
    "How long was the area targeted in eastern Syria?",
    "Who is Iran's foreign minister?",  # not in the article
]


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def shown(answer) -> str:
    return "(abstains) " + answer.text if answer.abstained else answer.text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", help="index to use (default: a fresh one holding the sample article)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0 = half the cores)")
    ap.add_argument("--json", help="also write every answer and timing here")
    args = ap.parse_args(argv)

    from assistant.client import Assistant
    from assistant.config import offline_environment
    from assistant.samples import sample_files

    offline_environment()
    tmp = None
    data_dir = args.data_dir
    if not data_dir:
        tmp = tempfile.TemporaryDirectory(prefix="compare-")
        data_dir = tmp.name
        Assistant(data_dir=data_dir).ingest(sample_files())
    common = {"data_dir": data_dir}
    llm = {"answerer": "local", "llm_max_tokens": args.max_tokens, "llm_threads": args.threads}
    extractive = Assistant(**common)
    gated = Assistant(**common, **llm)
    ungated = Assistant(**common, **llm, llm_evidence_gate=False)

    t = time.perf_counter()
    backend = ungated.answerer.backend
    backend.count_tokens("warm up")  # loads the model
    load_s = time.perf_counter() - t
    gated.answerer.backend = backend  # one model in memory

    rows = []
    from assistant.answer.citations import check_answer

    for q in QUESTIONS:
        ex = extractive.ask(q)
        local = gated.ask(q)
        backend.model.reset()  # no prompt cache from the gated run: time the whole prompt
        free = ungated.ask(q)
        gen = backend.last
        check = ungated.answerer.last_check
        dropped = check_answer(check.raw, check.passages, question=q, drop_unsupported=True) if check else None
        rows.append({
            "question": q,
            "extractive": shown(ex),
            "local": shown(local),
            "local_called_model": "generate" in local.timings_ms,
            "ungated_raw": check.raw if check else "",
            "ungated_checked": shown(free),
            "ungated_dropped": (dropped.text or "(abstains)") if dropped and dropped.confirmed else "(abstains)",
            "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens,
            "first_token_ms": gen.first_token_ms,
            "tokens_per_s": gen.tokens_per_second,
            "total_ms": free.timings_ms.get("total", 0.0),
        })
        print(f"  {q} ({rows[-1]['total_ms'] / 1000:.1f} s)", file=sys.stderr)

    print("## Extractive vs local LLM (SmolLM2-135M-Instruct Q4_1), sample article\n")
    print("| # | question | extractive | local (as users get it) |")
    print("|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        print(f"| {i} | {cell(r['question'])} | {cell(r['extractive'])} | {cell(r['local'])} |")
    print("\n## What the local model wrote (evidence gate off) and what the citation check kept\n")
    print("| # | model output | after the citation check | ... with llm_drop_unsupported |")
    print("|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        print(f"| {i} | {cell(r['ungated_raw'])} | {cell(r['ungated_checked'])} | {cell(r['ungated_dropped'])} |")

    ttft = [r["first_token_ms"] for r in rows if r["completion_tokens"]]
    tps = [r["tokens_per_s"] for r in rows if r["tokens_per_s"]]
    prompt = [r["prompt_tokens"] for r in rows if r["completion_tokens"]]
    load = os.getloadavg()
    print("\n## Local generation speed (gate off, prompt cache cleared before each question)\n")
    print(f"model load {load_s:.2f} s; threads {backend.threads}; context window {backend.context_window}; "
          f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("| | median | min | max |")
    print("|---|---|---|---|")
    if ttft:
        print(f"| time to first token (ms) | {statistics.median(ttft):.0f} | {min(ttft):.0f} | {max(ttft):.0f} |")
        print(f"| prompt tokens | {statistics.median(prompt):.0f} | {min(prompt)} | {max(prompt)} |")
    if tps:
        print(f"| generation (tokens/s) | {statistics.median(tps):.1f} | {min(tps):.1f} | {max(tps):.1f} |")
    answered = sum(1 for r in rows if not r["local"].startswith("(abstains)"))
    print(f"\nlocal answered {answered}/10 (model called for {sum(r['local_called_model'] for r in rows)}); "
          f"extractive answered {sum(1 for r in rows if not r['extractive'].startswith('(abstains)'))}/10")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
