"""Held-out metrics for the reader (SQuAD tune articles 10-11, SciFact held-out train claims,
the paraphrased tune questions). A scorer is ``f(question, windows) -> (start, end, answer_logit,
relevance_logit, context_mask, offsets)``: the training network and the ONNX runtime both give one."""
from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

from assistant.answer.reader import best_span
from train.data import _STOP, _words


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if not p or not g:
        return float(p == g)
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def em_f1(pred: str, answers: list[str]) -> tuple[float, float]:
    answers = [a for a in answers if normalize_answer(a)] or [""]
    return (max(float(normalize_answer(pred) == normalize_answer(a)) for a in answers),
            max(f1_score(pred, a) for a in answers))


def auc(scores, labels) -> float:
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    pos, neg = labels.sum(), (1 - labels).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):  # average ranks for ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def top_windows(question: str, text: str, windows, k: int):
    """The k windows sharing the most (content) words with the question: the cheap selection a
    caller can do before reading."""
    qw = set(_words(question)) - _STOP
    scored = []
    for i, (a, b) in enumerate(windows):
        ww = set(_words(text[a:b]))
        scored.append((-len(qw & ww), i))
    return [windows[i] for _, i in sorted(scored)[:k]]


def read_question(scorer, question, text, windows, max_answer_tokens=30):
    texts = [text[a:b] for a, b in windows]
    start, end, ans, rel, ctx, offsets = scorer(question, texts)
    spans = []
    for i in range(len(texts)):
        best = best_span(start[i], end[i], ctx[i], max_answer_tokens)
        if best is None:
            spans.append(("", float("-inf")))
            continue
        a, b, sc = best
        spans.append((texts[i][offsets[i][a][0]:offsets[i][b][1]], sc))
    return np.asarray(ans, float), np.asarray(rel, float), spans


def eval_squad(scorer, questions, passages, windows, neg_windows=None, top_k=None, label=""):
    """Question level: forced-answer EM/F1 on answerable questions (span of the window with the
    highest answer logit), AUC of max answer logit (answerable vs not). Window level: answer-logit
    and relevance-logit arrays with labels, for calibration and head comparison."""
    from train.data import answer_in_window

    em, f1, q_scores, q_labels = [], [], [], []
    win_ans, win_rel, win_has, win_relv = [], [], [], []
    preds = []
    for q in questions:
        text = passages[q["passage_id"]]["text"]
        wins = windows[q["passage_id"]]
        if top_k:
            wins = top_windows(q["question"], text, wins, top_k)
        ans, rel, spans = read_question(scorer, q["question"], text, wins)
        best = int(np.argmax(ans))
        pred = spans[best][0]
        answerable = not q["is_impossible"]
        q_scores.append(float(ans.max()))
        q_labels.append(int(answerable))
        preds.append((q, pred, float(ans.max())))
        if answerable:
            e, f = em_f1(pred, q["answers"])
            em.append(e)
            f1.append(f)
        for (a, b), sa, sr in zip(wins, ans, rel):
            win_ans.append(sa)
            win_rel.append(sr)
            win_has.append(int(answerable and answer_in_window(q, a, b, text) is not None))
            win_relv.append(1)
    if neg_windows:
        for question, wtext in neg_windows:
            _, _, ans, rel, _, _ = scorer(question, [wtext])
            win_ans.append(float(ans[0]))
            win_rel.append(float(rel[0]))
            win_has.append(0)
            win_relv.append(0)
    out = {
        "n": len(questions),
        "hasans_em": 100 * float(np.mean(em)) if em else float("nan"),
        "hasans_f1": 100 * float(np.mean(f1)) if f1 else float("nan"),
        "answer_auc": auc(q_scores, q_labels),
        "q_scores": np.asarray(q_scores), "q_labels": np.asarray(q_labels),
        "win_ans": np.asarray(win_ans), "win_rel": np.asarray(win_rel),
        "win_has": np.asarray(win_has), "win_relv": np.asarray(win_relv),
        "preds": preds,
    }
    out["window_answer_auc"] = auc(out["win_ans"], out["win_has"])
    out["window_answer_auc_by_rel_head"] = auc(out["win_rel"], out["win_has"])
    if neg_windows:
        out["relevance_auc"] = auc(out["win_rel"], out["win_relv"])
        out["relevance_auc_by_answer_head"] = auc(out["win_ans"], out["win_relv"])
    return out


def eval_pairs(scorer, examples) -> dict:
    """Window-level relevance AUC for (claim, window, relevant) pairs, by both [CLS] outputs."""
    rel, ans, lab = [], [], []
    for ex in examples:
        _, _, a, r, _, _ = scorer(ex["question"], [ex["window"]])
        rel.append(float(r[0]))
        ans.append(float(a[0]))
        lab.append(ex["relevant"])
    return {"n": len(examples), "relevance_auc": auc(rel, lab), "relevance_auc_by_answer_head": auc(ans, lab)}


def fit_platt(logits, labels, iters=50) -> tuple[float, float]:
    """1-D logistic regression p = sigmoid(a*x + b) by Newton's method (small L2 for stability)."""
    x, y = np.asarray(logits, float), np.asarray(labels, float)
    a, b = 1.0, 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(a * x + b)))
        w = p * (1 - p) + 1e-9
        g = np.array([np.sum((p - y) * x) + 1e-3 * a, np.sum(p - y)])
        h = np.array([[np.sum(w * x * x) + 1e-3, np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def abstention_at(q_prob, q_labels, f1_by_q, threshold):
    """Abstain when the question's best calibrated answer score < threshold. Abstention precision =
    share of abstentions that are on unanswerable questions; recall = share of unanswerable
    questions abstained on; overall F1 in the SQuAD 2.0 way (abstaining on unanswerable = 1)."""
    abstain = q_prob < threshold
    unans = q_labels == 0
    n_abs = abstain.sum()
    precision = float((abstain & unans).sum() / n_abs) if n_abs else float("nan")
    recall = float((abstain & unans).sum() / unans.sum()) if unans.sum() else float("nan")
    overall = np.where(abstain, unans.astype(float), np.where(unans, 0.0, f1_by_q))
    return {"threshold": float(threshold), "abstain_precision": precision, "abstain_recall": recall,
            "overall_f1": 100 * float(overall.mean()), "answered": float((~abstain).mean()),
            "wrong_abstentions": int((abstain & ~unans).sum())}
