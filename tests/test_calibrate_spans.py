"""The sentence pick's calibration (``train.calibrate_spans``) on rows whose answer is known: the
fitted weights favour what marks the sentence that holds the answer, the pick then leads with it
more often than the sentence model's own order, and ``k`` bounds the sentences it looks at."""

from __future__ import annotations

import random

from train import calibrate_spans as C


def rows(n=200, seed=5):
    """Questions with their best sentences in the sentence model's order. The right sentence is
    second as often as first; only the reader's span logit (the third feature) marks it."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        right = i % 2
        sentences = []
        for k in range(4):
            hit = k == right
            features = (rng.gauss(0, 0.3) - 0.2 * k, rng.gauss(0, 1), rng.gauss(2.0 if hit else -1.0, 0.7), rng.gauss(0, 1))
            sentences.append({"features": features, "contains": hit, "span_f1": 1.0 if hit else 0.0})
        out.append({"id": str(i), "title": "t", "answers": ["x"], "sentences": sentences})
    return out


def test_the_fitted_pick_weighs_what_marks_the_answers_sentence():
    pick = C.fit(rows(), k=3)
    w = pick["weights"]
    assert pick["k"] == 3
    assert w["span"] > 1.0 and abs(w["answer"]) < 0.5 and abs(w["relevance"]) < 0.5, w


def test_the_pick_leads_with_the_answers_sentence_more_often_than_the_sentence_model():
    data = rows()
    own = C.outcomes(None, data)
    assert 0.45 <= own["lead_contains"] <= 0.55  # first half the time
    picked = C.outcomes(C.fit(data, k=3), data)
    assert picked["lead_contains"] > 0.95 and picked["short_answer_f1"] > 0.95
    # with k = 1 the pick can only take the sentence model's best
    assert C.outcomes(C.fit(data, k=1), data)["lead_contains"] == own["lead_contains"]
