"""The joint gate's calibration (``train.calibrate_joint``) on rows whose answer is known: the
fitted weights favour what marks a right span, the chosen tile is the right one, and the threshold
keeps wrong abstentions within the allowed share."""

from __future__ import annotations

import random

from train import calibrate_joint as C


def rows(n=240, seed=3):
    """Questions with read tiles: (answer logit, span, sentence logit, relevance logit). Only the
    sentence feature tells a right span (F1 1) from the others; unanswerable questions score lower."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answerable = i % 2 == 0
        tiles = []
        for k in range(4):
            right = answerable and k == 0
            sentence = rng.gauss(2.0 if right else (-1.0 if answerable else 0.0), 0.8)
            tiles.append({"features": (rng.gauss(0, 1), rng.gauss(0, 1), sentence, rng.gauss(0, 1)),
                          "span": f"span {i}-{k}", "f1": 1.0 if right else 0.0, "where": (k, 0, (0, 4))})
        rng.shuffle(tiles)
        out.append({"id": str(i), "title": "t", "answerable": answerable, "answers": [f"span {i}-0"],
                    "tiles": tiles, "sentence_abstained": False, "sentence_contains": False})
    return out


def test_the_fitted_gate_weighs_what_marks_a_right_span():
    gate = C.fit(rows())
    w = gate["weights"]
    assert w["sentence"] > 1.0 and all(abs(w[k]) < 0.5 for k in ("answer", "span", "relevance")), w


def test_the_chosen_threshold_answers_with_the_right_tile_within_the_allowed_wrong_abstentions():
    data = rows()
    gate = C.fit(data)
    threshold, margin = C.choose(gate, data, max_wrong=0.05)
    s = C.summary(C.outcomes(gate, data, threshold, margin))
    assert s["wrong_abstentions"] <= 0.05 * s["answerable"]
    assert s["hasans_f1"] > 0.9  # the right tile chosen
    assert s["abstention_recall"] > 0.3 and s["abstention_precision"] > 0.8  # the gap is used
    never = C.choose(gate, data, max_wrong=0.0)[0]
    assert C.summary(C.outcomes(gate, data, never, 0.0))["wrong_abstentions"] == 0
