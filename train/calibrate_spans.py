"""Fit how mode ``spans`` picks the sentence its answer leads with (``SentencePick``).

    python -m train.calibrate_spans [--model DIR] [--articles 10-11] [--k 2] [--write]

For each answerable question of SQuAD 2.0 tune articles held out from the reader's training
(10-11 by default; retrieval over all tune passages, as in the eval), the sentence model's best
sentences are read alone by the reader, exactly as the answerer does (``read_sentences``), and
each gets its four logits (the sentence model's, the reader's answer, span and relevance) and
whether it holds a gold answer. A logistic regression over those gives the weights. The figures
are first reported with the two articles crossed (fit on one, scored on the other): how often
the lead sentence holds the answer, and the short answer's F1, against the sentence model's own
best sentence. The 48 paraphrased tune questions are scored too, never fitted on. ``--write``
stores the weights as ``"spans"`` in the model's ``reader_config.json``. Never run on the report
articles (12-16).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

K_READ = 6  # sentences read per question when collecting (the fitted k is at most this)


def collect(a, questions, log_every=100) -> list[dict]:
    """Per answerable question: its best sentences (by the sentence model), each read alone."""
    from assistant.answer.evidence import answer_candidates
    from eval import metrics as M
    from train.askpath import asked

    answerer = a.answerer
    rows = []
    for q, question, hits in asked(a, questions, log_every):
        candidates = answerer.sentences.score(question, hits)
        ranked = sorted((c for c in answer_candidates(candidates) if c.probability > 0), key=lambda c: -c.probability)
        sentences = []
        for r in answerer.read_sentences(q.question, hits, ranked[:K_READ]):
            c = r.candidate
            span = hits[c.hit_index].chunk.text[r.span[0]:r.span[1]] if r.span else ""
            sentences.append({"features": r.features, "contains": M.contains_answer(c.text, q.answers),
                              "span_f1": M.best_f1(span, q.answers)})
        rows.append({"id": q.id, "title": q.title, "answers": list(q.answers), "sentences": sentences})
    return rows


def fit(rows: list[dict], k: int) -> dict:
    """Logistic weights over the first ``k`` sentences' features (label: it holds the answer)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([s["features"] for r in rows for s in r["sentences"][:k]], dtype=float)
    y = np.array([s["contains"] for r in rows for s in r["sentences"][:k]], dtype=int)
    w = LogisticRegression(C=1.0, max_iter=1000).fit(x, y).coef_[0]
    return {"weights": {"sentence": round(float(w[0]), 5), "answer": round(float(w[1]), 5),
                        "span": round(float(w[2]), 5), "relevance": round(float(w[3]), 5)}, "k": k}


def outcomes(pick: dict | None, rows: list[dict]) -> dict:
    """How often the lead sentence holds the answer, and the short answer's mean F1 (a question
    without sentences counts 0). ``pick`` None: the sentence model's best leads."""
    from assistant.answer.reading import SentencePick

    chooser = SentencePick.of(pick)
    contains, f1 = [], []
    for r in rows:
        if not r["sentences"]:
            contains.append(0.0)
            f1.append(0.0)
            continue
        pool = r["sentences"][: chooser.k] if chooser else r["sentences"][:1]
        lead = max(pool, key=lambda s: chooser.score(s["features"])) if chooser else pool[0]
        contains.append(float(lead["contains"]))
        f1.append(lead["span_f1"])
    return {"questions": len(rows), "lead_contains": round(float(np.mean(contains)), 4),
            "short_answer_f1": round(float(np.mean(f1)), 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="packaged", help="reader model directory (default: the packaged one)")
    ap.add_argument("--articles", default="10-11", help="two tune articles to fit on (1-based, inclusive)")
    ap.add_argument("--k", type=int, default=2, help=f"sentences the pick chooses among (1-{K_READ}; default 2, as shipped: 3 adds about 9 ms an answer)")
    ap.add_argument("--squad", help="SQuAD directory (default: the shared eval data)")
    ap.add_argument("--data-dir", help="index location (default: a temporary directory)")
    ap.add_argument("--cache", type=Path, help="pickle of the collected rows (reused when it exists)")
    ap.add_argument("--write", action="store_true", help="store the fitted pick in the model's config")
    args = ap.parse_args(argv)
    if not 1 <= args.k <= K_READ:
        ap.error(f"--k must be between 1 and {K_READ}")

    from assistant.answer.reader import MODEL_DIR
    from assistant.config import offline_environment
    from train.askpath import held_out_articles, rows_of

    offline_environment()
    directory, names, chosen = held_out_articles(ap, args.squad, args.articles)
    model_dir = MODEL_DIR if args.model == "packaged" else Path(args.model)
    rows, para_rows = rows_of(args, directory, names, chosen, collect, prefix="calibrate-spans-",
                              answerable_only=True)

    report = {"answerable_questions": len(rows), "articles": chosen, "k": args.k}
    crossed, baseline = [], []
    for held in chosen:
        test_rows = [r for r in rows if r["title"] == held]
        pick = fit([r for r in rows if r["title"] != held], args.k)
        crossed.append({"article": held, **outcomes(pick, test_rows)})
        baseline.append({"article": held, **outcomes(None, test_rows)})
    report["crossed"] = crossed
    report["sentence_model_best"] = baseline
    pick = fit(rows, args.k)
    report["pick"] = pick
    report["paraphrased_not_fitted"] = outcomes(pick, para_rows)
    report["paraphrased_sentence_model_best"] = outcomes(None, para_rows)
    print(json.dumps(report, indent=2))
    if args.write:
        path = model_dir / "reader_config.json"
        config = json.loads(path.read_text())
        config["spans"] = {**pick, "source": f"python -m train.calibrate_spans --articles {args.articles} --k {args.k}"}
        path.write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote the sentence pick to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
