"""Fit the joint gate (``reader_mode = joint``) on the ask path: how the reader's scores and the
sentence model's combine to choose the answer's span and to decide when to abstain.

    python -m train.calibrate_joint [--model DIR] [--articles 10-11] [--write]

For each question of SQuAD 2.0 tune articles held out from the reader's training (10-11 by
default; retrieval over all tune passages, as in the eval) it runs the answerer's own
``joint_reading`` and records every read tile's three features (the reader's answer logit, its
normalised span logit, the sentence model's logit for the sentence that holds the span, its
relevance logit) and
whether the tile's span is right (token F1 >= 0.5 against a gold answer). A logistic regression
over those gives the weights; the abstention threshold is the one with the best SQuAD 2.0-style
overall F1 (an abstention scores 1 on an unanswerable question) among those that abstain on at
most 5% of the answerable ones (``--max-wrong``); the margin for quoting
runners-up is chosen for the short answer's F1. The figures are first reported with the two
articles crossed (fit on one, scored on the other), then the gate is fitted on both. The 48
paraphrased tune questions are scored too, never fitted on. ``--write`` stores the gate as
``"joint"`` in the model's ``reader_config.json``. Never run on the report articles (12-16).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MARGINS = (0.0, 0.05, 0.1, 0.2)


def collect(a, questions, log_every=100) -> list[dict]:
    """Per question: whether it is answerable, and every read tile's features, span text and F1."""
    from eval import metrics as M
    from train.askpath import asked

    answerer = a.answerer
    rows = []
    for q, question, hits in asked(a, questions, log_every):
        reading = answerer.joint_reading(question, hits)
        tiles = []
        for t in reading.tiles:
            if t.joint_features is None:
                continue
            f1 = M.best_f1(t.reading.span_text, q.answers) if q.answerable else 0.0
            tiles.append({"features": t.joint_features, "span": " ".join(t.reading.span_text.split()), "f1": f1,
                          "where": (t.hit_index, t.start, t.reading.span)})
        spans_answer = answerer.sentences.answer(question, hits)
        rows.append({"id": q.id, "title": q.title, "answerable": q.answerable, "answers": list(q.answers),
                     "tiles": tiles, "sentence_abstained": spans_answer.abstained,
                     "sentence_contains": M.contains_answer(spans_answer.text, q.answers) if q.answerable else False})
    return rows


def fit(rows: list[dict]) -> dict:
    """Logistic weights over the tiles' features (label: the span is right)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([t["features"] for r in rows for t in r["tiles"]], dtype=float)
    y = np.array([t["f1"] >= 0.5 for r in rows for t in r["tiles"]], dtype=int)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    w = model.coef_[0]
    return {"weights": {"answer": round(float(w[0]), 5), "span": round(float(w[1]), 5),
                        "sentence": round(float(w[2]), 5), "relevance": round(float(w[3]), 5)},
            "bias": round(float(model.intercept_[0]), 5)}


def probability(gate: dict, features) -> float:
    """The answerer's own formula (``JointGate.probability``) with these weights."""
    from assistant.answer.reading import JointGate

    return JointGate.of({"threshold": 0.0, **gate}).probability(features)


def outcomes(gate: dict, rows: list[dict], threshold: float, margin: float) -> list[tuple[bool, bool, str, float]]:
    """(answerable, abstained, short answer, its F1) per question, as the answerer decides."""
    from eval import metrics as M

    out = []
    for r in rows:
        scored = sorted(((probability(gate, t["features"]), t) for t in r["tiles"]), key=lambda st: -st[0])
        if not scored or scored[0][0] < threshold:
            out.append((r["answerable"], True, "", 0.0))
            continue
        floor = max(threshold, scored[0][0] - margin)
        shorts = []
        for p, t in scored:
            if p >= floor and t["span"] and t["span"] not in shorts and len(shorts) < 3:
                shorts.append(t["span"])
        short = "; ".join(shorts)
        out.append((r["answerable"], False, short, M.best_f1(short, r["answers"]) if r["answerable"] else 0.0))
    return out


def summary(results) -> dict:
    """SQuAD 2.0 overall F1, short-answer F1/EM on answerable questions, abstention precision/recall."""
    answerable = [o for o in results if o[0]]
    abstained = [o for o in results if o[1]]
    unanswerable = [o for o in results if not o[0]]
    right = sum(1 for o in abstained if not o[0])
    overall = sum((0.0 if o[0] else 1.0) if o[1] else o[3] for o in results) / max(len(results), 1)
    return {"overall_f1": round(overall, 4),
            "hasans_f1": round(sum(o[3] for o in answerable) / max(len(answerable), 1), 4),
            "wrong_abstentions": sum(1 for o in answerable if o[1]), "answerable": len(answerable),
            "abstention_precision": round(right / len(abstained), 4) if abstained else None,
            "abstention_recall": round(right / len(unanswerable), 4) if unanswerable else None}


def choose(gate: dict, rows: list[dict], max_wrong: float) -> tuple[float, float]:
    """The threshold with the best overall F1 (runners-up off) among those that abstain on at most
    ``max_wrong`` of the answerable questions, then the margin with the best short-answer F1 at it.
    Saying "not in your documents" when it is there is the worse mistake, and SQuAD 2.0's half of
    unanswerable questions would otherwise pull the threshold far up."""
    probs = sorted({round(probability(gate, t["features"]), 4) for r in rows for t in r["tiles"]})
    grid = [0.0, *probs[:: max(1, len(probs) // 400)], 1.01]
    allowed = []
    for t in grid:
        s = summary(outcomes(gate, rows, t, 0.0))
        if s["wrong_abstentions"] <= max_wrong * s["answerable"]:
            allowed.append((s["overall_f1"], t))
    threshold = max(allowed)[1]
    margin = max(MARGINS, key=lambda m: (summary(outcomes(gate, rows, threshold, m))["hasans_f1"], -m))
    return threshold, margin


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="packaged", help="reader model directory (default: the packaged one)")
    ap.add_argument("--articles", default="10-11", help="two tune articles to fit on (1-based, inclusive)")
    ap.add_argument("--squad", help="SQuAD directory (default: the shared eval data)")
    ap.add_argument("--data-dir", help="index location (default: a temporary directory)")
    ap.add_argument("--cache", type=Path, help="pickle of the collected rows (reused when it exists)")
    ap.add_argument("--max-wrong", type=float, default=0.05,
                    help="largest share of answerable questions the threshold may abstain on (default 0.05)")
    ap.add_argument("--write", action="store_true", help="store the fitted gate in the model's config")
    args = ap.parse_args(argv)

    from assistant.answer.reader import MODEL_DIR
    from assistant.answer.reading import JointGate
    from assistant.config import offline_environment
    from train.askpath import held_out_articles, rows_of

    def features_only(a):  # the gate's weights are fitted here; reading only needs its features
        a.answerer.joint = JointGate(1.0, 0.0, 0.0, 0.0, 0.0, 0.5)

    offline_environment()
    directory, names, chosen = held_out_articles(ap, args.squad, args.articles)
    model_dir = MODEL_DIR if args.model == "packaged" else Path(args.model)
    rows, para_rows = rows_of(args, directory, names, chosen, collect, prefix="calibrate-joint-",
                              prepare=features_only)

    report = {"questions": len(rows), "articles": chosen, "paraphrased": len(para_rows)}
    # crossed: fit on one article, score on the other
    crossed = []
    for held in chosen:
        train_rows = [r for r in rows if r["title"] != held]
        test_rows = [r for r in rows if r["title"] == held]
        gate = fit(train_rows)
        threshold, margin = choose(gate, train_rows, args.max_wrong)
        crossed += outcomes(gate, test_rows, threshold, margin)
    report["crossed"] = summary(crossed)
    report["sentence_model_spans_mode"] = {
        "wrong_abstentions": sum(1 for r in rows if r["answerable"] and r["sentence_abstained"]),
        "abstention_recall": round(sum(1 for r in rows if not r["answerable"] and r["sentence_abstained"])
                                   / max(sum(1 for r in rows if not r["answerable"]), 1), 4),
        "containment": round(sum(r["sentence_contains"] for r in rows if r["answerable"])
                             / max(sum(1 for r in rows if r["answerable"]), 1), 4)}
    gate = fit(rows)
    threshold, margin = choose(gate, rows, args.max_wrong)
    gate.update({"threshold": round(float(threshold), 4), "margin": margin})
    report["gate"] = gate
    report["fitted"] = summary(outcomes(gate, rows, threshold, margin))
    report["paraphrased_not_fitted"] = summary(outcomes(gate, para_rows, threshold, margin))
    report["paraphrased_sentence_model_wrong_abstentions"] = sum(1 for r in para_rows if r["sentence_abstained"])
    # the precision/recall trade-off, for the closing note
    curve = []
    for t in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5):
        s = summary(outcomes(gate, rows, t, margin))
        curve.append({"threshold": t, **{k: s[k] for k in ("overall_f1", "hasans_f1", "wrong_abstentions",
                                                             "abstention_precision", "abstention_recall")}})
    report["curve"] = curve
    print(json.dumps(report, indent=2))
    if args.write:
        path = model_dir / "reader_config.json"
        config = json.loads(path.read_text())
        config["joint"] = {**gate, "source": f"python -m train.calibrate_joint --articles {args.articles} "
                                             f"--max-wrong {args.max_wrong} (ask path)"}
        path.write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote the joint gate to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
