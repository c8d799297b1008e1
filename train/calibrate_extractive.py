"""Calibrate the extractive answerer's evidence model on SQuAD 2.0's tune articles.

    python -m train.calibrate_extractive [--squad DIR] [--data-dir DIR] [--write]

Only the tune split (first 11 articles) is looked at. The retrieval corpus is all 646
passages, as in the eval. For every tune question, each sentence of the top passages gets
the evidence features; a sentence is positive when it contains a gold answer. A logistic
regression gives the weights; the abstention threshold is the one that maximises, over the
tune questions, the share handled right (answerable: the best sentence holds the answer;
unanswerable: abstained). With --write the model goes to assistant/answer/extractive_model.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from assistant.answer.base import Question
from assistant.answer.evidence import FEATURES, MODEL_FILE, EvidenceModel, answer_candidates, candidates_from_hits
from eval import squad
from eval.metrics import contains_answer


class CachingEmbedder:
    """Sentences repeat across questions about the same passage: encode each once."""

    def __init__(self, base):
        self.base = base
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts, progress=None):
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.base.embed(todo)):
                self.cache[t] = v
        return np.vstack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def embed_query(self, text):
        return self.base.embed_query(text)


def retrieve_all(assistant, questions, cache_file: Path, log_every=500):
    """Hits and query vectors per question, and sentence vectors: the slow part, cached on disk
    so that feature changes can be re-evaluated in seconds (the cache is keyed by the questions
    and the index generation; delete it after changing retrieval or the index)."""
    import pickle

    collection = assistant.collection()
    key = (tuple(q.question for q in questions), collection.generation, collection.count())
    if cache_file.exists():
        saved = pickle.loads(cache_file.read_bytes())
        if saved["key"] == key:
            return saved["retrievals"], saved["sentences"]
    embedder = CachingEmbedder(assistant.embedder)
    retrievals = []
    for i, q in enumerate(questions):
        r = assistant.retriever().retrieve(q.question)
        retrievals.append((r.hits, r.query_vector))
        embedder.embed([c.text for c in candidates_from_hits(r.hits)])
        if log_every and (i + 1) % log_every == 0:
            print(f"  {i + 1}/{len(questions)} questions", file=sys.stderr)
    cache_file.write_bytes(pickle.dumps({"key": key, "retrievals": retrievals, "sentences": embedder.cache}))
    return retrievals, embedder.cache


def collect(assistant, questions, cache_file: Path):
    retrievals, sentences = retrieve_all(assistant, questions, cache_file)
    answerer = assistant.answerer
    embedder = CachingEmbedder(assistant.embedder)
    embedder.cache.update(sentences)
    answerer.tools.embedder = embedder
    rows = []  # (question index, features, label)
    for i, (q, (hits, qvec)) in enumerate(zip(questions, retrievals)):
        question = Question(q.question, q.question, vector=qvec)
        cands = answer_candidates(answerer.score(question, hits))
        for c in cands:
            label = 1 if q.answerable and contains_answer(c.text, q.answers) else 0
            rows.append((i, [c.features[f] for f in FEATURES], label))
    return rows


# With a 20% cap, the calibrated model answered only 8% of the paraphrased tune questions (users
# rarely use the document's own words); 10% keeps paraphrases answerable while off-topic
# questions still score far below the threshold.
MAX_WRONG_ABSTENTIONS = 0.10


def decide_threshold(probs_by_q, questions, correct_by_q, max_wrong=MAX_WRONG_ABSTENTIONS, para=None):
    """The abstention threshold, from the tune questions.

    Policy: the highest balanced accuracy (mean of "answerable: answered with the answer" and
    "unanswerable: abstained") among thresholds that abstain on at most ``max_wrong`` of the
    answerable questions. Balanced, because SQuAD 2.0's half-unanswerable, adversarial mix is not
    what users ask; capped, because an assistant that refuses most answerable questions is not
    useful, and an extractive answer is a verbatim, cited quote the user can check.
    Returns (balanced accuracy, threshold).
    """
    best = (0.0, 0.05)
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    unanswerable = [i for i, q in enumerate(questions) if not q.answerable]
    for t in np.linspace(0.01, 0.95, 95):
        wrong = sum(1 for i in answerable if probs_by_q.get(i, 0.0) < t) / max(len(answerable), 1)
        if para is not None:  # answerable questions: half as SQuAD asks them, half paraphrased
            pprobs, pquestions = para
            wrong_para = sum(1 for i in range(len(pquestions)) if pprobs.get(i, 0.0) < t) / max(len(pquestions), 1)
            wrong = (wrong + wrong_para) / 2
        if wrong > max_wrong:
            continue
        right = sum(1 for i in answerable if probs_by_q.get(i, 0.0) >= t and correct_by_q.get(i, False))
        abstained = sum(1 for i in unanswerable if probs_by_q.get(i, 0.0) < t)
        score = (right / max(len(answerable), 1) + abstained / max(len(unanswerable), 1)) / 2
        if score > best[0] + 1e-9:
            best = (score, float(t))
    return best


def collect_rows(assistant, questions):
    """Features and labels for a few questions, computed directly (no cache)."""
    answerer = assistant.answerer
    X, y, qidx = [], [], []
    for i, q in enumerate(questions):
        r = assistant.retriever().retrieve(q.question)
        for c in answer_candidates(answerer.score(Question(q.question, q.question, vector=r.query_vector), r.hits)):
            X.append([c.features[f] for f in FEATURES])
            y.append(int(contains_answer(c.text, q.answers)))
            qidx.append(i)
    return np.array(X), np.array(y), np.array(qidx)


def best_per_question(probs, qidx, labels, n):
    best, correct = {}, {}
    for i, p, label in zip(qidx, probs, labels):
        if p > best.get(i, -1.0):
            best[int(i)], correct[int(i)] = float(p), bool(label)
    return best, correct


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad", help="SQuAD 2.0 dev directory (default: ../shared/eval-data/squad2-dev)")
    ap.add_argument("--data-dir", default=".data/calibrate", help="where the SQuAD index is kept")
    ap.add_argument("--write", action="store_true", help="write the model file")
    ap.add_argument("--reuse", action="store_true", help="reuse the features of the last run (same code)")
    args = ap.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    from assistant.client import Assistant

    directory = squad.find_dir(args.squad)
    assistant = Assistant(data_dir=args.data_dir, collection="squad2-dev")
    t0 = time.time()
    report = assistant.ingest_records(squad.passages(directory))
    print(f"index: {report.summary().splitlines()[0]}", file=sys.stderr)
    questions = squad.questions(directory, "tune")
    print(f"tune questions: {len(questions)} ({sum(q.answerable for q in questions)} answerable)", file=sys.stderr)
    paraphrased = squad.paraphrased_tune(directory)
    PX, Py, Pq = collect_rows(assistant, paraphrased)
    cache = Path(args.data_dir) / "calibration-rows.npz"
    if args.reuse and cache.exists():
        saved = np.load(cache)
        X, y, qidx = saved["X"], saved["y"], saved["qidx"]
        rows = list(range(len(y)))
    else:
        rows = collect(assistant, questions, Path(args.data_dir) / "calibration-retrieval.pkl")
        X = np.array([r[1] for r in rows])
        y = np.array([r[2] for r in rows])
        qidx = np.array([r[0] for r in rows])
        np.savez(cache, X=X, y=y, qidx=qidx)
    print(f"sentences: {len(rows)}, positive: {int(y.sum())} ({time.time() - t0:.0f} s)", file=sys.stderr)

    # Two folds by article, to see how well the model generalises within the tune split.
    titles = squad.articles(directory)[: squad.TUNE_ARTICLES]
    fold_of_q = np.array([titles.index(q.title) % 2 for q in questions])
    cv = []
    for fold in (0, 1):
        train = fold_of_q[qidx] != fold
        lr = LogisticRegression(max_iter=2000, C=1.0).fit(X[train], y[train])
        test_q = [i for i in range(len(questions)) if fold_of_q[i] == fold]
        p = lr.predict_proba(X)[:, 1]
        probs, correct = {}, {}
        for i, pi, yi in zip(qidx, p, y):
            if fold_of_q[i] != fold:
                continue
            if pi > probs.get(i, -1):
                probs[i], correct[i] = pi, bool(yi)
        sub = [questions[i] for i in test_q]
        remap = {j: i for j, i in enumerate(test_q)}
        acc, t = decide_threshold({j: probs.get(i, 0.0) for j, i in remap.items()}, sub,
                                  {j: correct.get(i, False) for j, i in remap.items()})
        cv.append((acc, t))
    print("2-fold (by article) balanced accuracy at best threshold: " + ", ".join(f"{a:.3f} @ {t:.2f}" for a, t in cv), file=sys.stderr)

    # The paraphrased tune questions are not fitted on: weighting them in (tried: as much weight
    # as all SQuAD answerable questions) cost 5 points of best-sentence accuracy on SQuAD and half
    # the abstention recall, for paraphrases answered right only 25% of the time. They are a
    # diagnostic, reported below, and they informed the wrong-abstention cap.
    lr = LogisticRegression(max_iter=3000, C=1.0).fit(X, y)
    probs, correct = best_per_question(lr.predict_proba(X)[:, 1], qidx, y, len(questions))
    pprobs, pcorrect = best_per_question(lr.predict_proba(PX)[:, 1], Pq, Py, len(paraphrased))
    acc, threshold = decide_threshold(probs, questions, correct)
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    unanswerable = [i for i, q in enumerate(questions) if not q.answerable]
    top1 = np.mean([correct.get(i, False) for i in answerable])
    abst_recall = np.mean([probs.get(i, 0) < threshold for i in unanswerable])
    wrong_abst = np.mean([probs.get(i, 0) < threshold for i in answerable])
    para_answered = np.mean([pprobs.get(i, 0) >= threshold for i in range(len(paraphrased))])
    para_right = np.mean([pprobs.get(i, 0) >= threshold and pcorrect.get(i, False) for i in range(len(paraphrased))])
    summary = {
        "tune_questions": len(questions),
        "tune_balanced_accuracy": round(acc, 4),
        "best_sentence_has_answer": round(float(top1), 4),
        "abstention_recall": round(float(abst_recall), 4),
        "wrong_abstentions": round(float(wrong_abst), 4),
        "paraphrased_answered": round(float(para_answered), 4),
        "paraphrased_answered_correctly": round(float(para_right), 4),
        "cv_accuracy": [round(a, 4) for a, _ in cv],
    }
    print(json.dumps(summary, indent=2))
    model = EvidenceModel(
        weights={f: round(float(w), 5) for f, w in zip(FEATURES, lr.coef_[0])},
        bias=round(float(lr.intercept_[0]), 5),
        threshold=round(threshold, 3),
        margin=0.1,
        info={"source": "train/calibrate_extractive.py on SQuAD 2.0 dev, tune articles 1-11", **summary},
    )
    print(model.to_json())
    if args.write:
        Path(MODEL_FILE).write_text(model.to_json() + "\n")
        print(f"wrote {MODEL_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
