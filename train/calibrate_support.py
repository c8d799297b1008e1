"""Calibrate the citation check's support threshold on SQuAD 2.0's tune articles.

    python -m train.calibrate_support [--llm local] [--answerable 40] [--unanswerable 15]
                                     [--prompt answer|FILE.md] [--max-tokens 80] [--seed 0]

Only the tune split (first 11 articles) is looked at. For each sampled question the model gets
three passages: the question's own paragraph and the two paragraphs of the same article closest
to the question (realistic distractors), in a random order. Its raw answer is kept, then
checked with every threshold of a grid (``assistant/answer/citations.py``). A cited sentence
counts as right when it contains a gold answer and cites the question's paragraph.

Printed per threshold, over answerable questions: answered with a right cited sentence,
answered without one (wrong: the user sees cited text that does not hold the answer), abstained;
over unanswerable ones: answered. Raw outputs go to eval/out/support-<prompt>-seed<seed>.jsonl so other
thresholds can be tried without generating again (--from-file).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from assistant.answer.base import AnswerTools, Question
from assistant.answer.citations import Passages, check_answer
from assistant.answer.llm import ANSWER_STOP, LLMAnswerer
from assistant.config import load_settings, offline_environment
from assistant.embed.encoder import get_embedder
from assistant.llm import make_backend
from assistant.types import Chunk, Hit
from eval import squad
from eval.metrics import contains_answer

GRID = (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
OUT = Path(__file__).resolve().parents[1] / "eval" / "out"


def sample_questions(directory: Path, n_ans: int, n_unans: int, seed: int) -> list[squad.SquadQuestion]:
    qs = squad.questions(directory, "tune")
    rng = random.Random(seed)
    ans = [q for q in qs if q.answerable]
    unans = [q for q in qs if not q.answerable]
    return rng.sample(ans, n_ans) + rng.sample(unans, n_unans)


def passages_for(q, by_title, vectors, embedder, rng) -> list[Hit]:
    paras = by_title[q.title]
    qv = embedder.embed_query(q.question)
    sims = [(float(vectors[p["id"]] @ qv), p) for p in paras]
    gold = next(p for s, p in sims if p["id"] == q.passage_id)
    others = [p for s, p in sorted(sims, key=lambda x: -x[0]) if p["id"] != q.passage_id][:2]
    chosen = [gold] + others
    rng.shuffle(chosen)
    score = {p["id"]: s for s, p in sims}
    return [
        Hit(Chunk(p["id"], p["id"], p["text"], p["id"], p["title"], 0, 0, len(p["text"])), score[p["id"]])
        for p in chosen
    ]


def generate(args) -> list[dict]:
    directory = squad.find_dir(args.squad)
    settings = load_settings({"answerer": args.llm, "llm_max_tokens": args.max_tokens, "llm_evidence_gate": False})
    embedder = get_embedder(settings.embed_model)
    backend = make_backend(settings)
    answerer = LLMAnswerer(backend, AnswerTools(embedder, lambda t: 1.0), settings)
    answerer.answer_prompt = args.prompt
    questions = sample_questions(directory, args.answerable, args.unanswerable, args.seed)
    titles = {q.title for q in questions}
    paras = squad.passages(directory, titles)
    by_title: dict[str, list[dict]] = {}
    for p in paras:
        by_title.setdefault(p["title"], []).append(p)
    vecs = embedder.embed([p["text"] for p in paras])
    vectors = {p["id"]: v for p, v in zip(paras, vecs)}
    rng = random.Random(args.seed)
    rows = []
    started = time.perf_counter()
    for i, q in enumerate(questions, 1):
        hits = passages_for(q, by_title, vectors, embedder, rng)
        messages, n = answerer.build_messages(Question(q.question, q.question), hits)
        raw = backend.complete(messages, max_tokens=args.max_tokens, temperature=0.0, stop=ANSWER_STOP)
        rows.append({
            "id": q.id, "question": q.question, "answerable": q.answerable, "answers": q.answers,
            "gold": q.passage_id, "passages": [h.chunk.id for h in hits[:n]],
            "texts": [h.chunk.text for h in hits[:n]], "raw": raw,
        })
        if i % 5 == 0:
            print(f"  {i}/{len(questions)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return rows


def evaluate(rows: list[dict], embedder) -> list[dict]:
    from assistant.answer.llm import _MemoEmbedder

    embedder = _MemoEmbedder(embedder, size=100_000)  # the same sentences are checked at every threshold
    built = []
    for r in rows:
        hits = [Hit(Chunk(pid, pid, text, pid, "", 0, 0, len(text)), 0.0) for pid, text in zip(r["passages"], r["texts"])]
        built.append(Passages(hits, embedder))
    table = []
    for t in GRID:
        right = wrong = abstained = unans_answered = 0
        n_ans = sum(1 for r in rows if r["answerable"])
        for r, passages in zip(rows, built):
            checker = check_answer(r["raw"], passages, threshold=t, question=r["question"])
            if not r["answerable"]:
                unans_answered += checker.confirmed
                continue
            if not checker.confirmed:
                abstained += 1
                continue
            ok = any(
                c.cited and contains_answer(c.text, r["answers"]) and any(r["passages"][i] == r["gold"] for i in c.passages)
                for c in checker.checks
            )
            right += ok
            wrong += not ok
        n_un = len(rows) - n_ans
        table.append({
            "threshold": t,
            "answered_right": right / max(n_ans, 1),
            "answered_wrong": wrong / max(n_ans, 1),
            "abstained": abstained / max(n_ans, 1),
            "precision": right / max(right + wrong, 1),
            "unanswerable_answered": unans_answered / max(n_un, 1),
        })
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", help="SQuAD data directory")
    ap.add_argument("--llm", default="local")
    ap.add_argument("--prompt", default="answer", help="prompt name in prompts/ or a .md file")
    ap.add_argument("--answerable", type=int, default=40)
    ap.add_argument("--unanswerable", type=int, default=15)
    ap.add_argument("--max-tokens", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-file", nargs="+", help="re-check saved outputs (one or more files) instead of generating")
    args = ap.parse_args(argv)
    offline_environment()
    embedder = get_embedder()
    tag = Path(args.prompt).stem
    if args.from_file:
        rows = [json.loads(line) for f in args.from_file for line in open(f, encoding="utf-8")]
    else:
        rows = generate(args)
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"support-{tag}-seed{args.seed}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"raw outputs: {path}", file=sys.stderr)
    found = sum(1 for r in rows if r["answerable"] and contains_answer(r["raw"], r["answers"]))
    n_ans = sum(1 for r in rows if r["answerable"])
    print(f"prompt {tag}: {len(rows)} questions ({n_ans} answerable); raw output holds a gold answer: {found}/{n_ans}")
    print(f"{'threshold':>9}  {'right':>6}  {'wrong':>6}  {'abstain':>7}  {'precision':>9}  {'unans. answered':>15}")
    for row in evaluate(rows, embedder):
        print(f"{row['threshold']:>9.2f}  {row['answered_right']:>6.2f}  {row['answered_wrong']:>6.2f}  "
              f"{row['abstained']:>7.2f}  {row['precision']:>9.2f}  {row['unanswerable_answered']:>15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
