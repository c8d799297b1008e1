"""Eval metrics against cases computed by hand."""

import math

import numpy as np
import pytest

from eval import metrics as M
from eval.results import EvalResults, GateError, parse_gates
from eval.runner import aggregate_qa, score_record


# --- normalisation ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Quds Force.", "quds force"),
        ("  an  Apple,   a pear ", "apple pear"),
        ("Deir ez-Zor", "deir ezzor"),  # SQuAD drops punctuation without adding a space
        ("THE", ""),
        ("there is a theme", "there is theme"),  # articles only as whole words
        ("4pm (eastern)", "4pm eastern"),
    ],
)
def test_normalize_answer_follows_squad(text, expected):
    assert M.normalize_answer(text) == expected


def test_citation_markers_are_stripped_before_scoring():
    assert M.strip_citation_markers("It struck 85 targets [1] in Syria [2, 3].") == "It struck 85 targets in Syria."
    # a marker is not the number 1
    assert not M.contains_answer("Three reservists died [1].", ["1"])
    assert M.exact_match("Quds Force [1]", ["Quds Force"]) == 1.0


def test_containment_is_on_word_boundaries():
    assert M.contains_answer("It struck over 85 targets.", ["85"])
    assert not M.contains_answer("It struck 185 targets.", ["85"])
    assert M.contains_answer("the Tower-22 base", ["Tower22"])  # both sides normalised
    assert not M.contains_answer("anything", ["the"])  # an answer that normalises to nothing never matches


def test_exact_match_takes_any_acceptable_answer():
    assert M.exact_match("The Islamic Resistance in Iraq!", ["IRI", "Islamic Resistance in Iraq"]) == 1.0
    assert M.exact_match("Islamic Resistance", ["Islamic Resistance in Iraq"]) == 0.0


# --- token F1 ---------------------------------------------------------------------------

def test_token_f1_by_hand():
    # pred tokens: us struck over 85 targets (5); gold: over 85 targets (3); common 3
    # P = 3/5, R = 1 -> F1 = 2 * 0.6 / 1.6 = 0.75
    assert M.token_f1("The US struck over 85 targets.", "over 85 targets") == pytest.approx(0.75)


def test_token_f1_counts_repeated_tokens_once_per_occurrence():
    # pred: 80 80 injuries; gold: 80 -> common 1; P = 1/3, R = 1 -> F1 = 0.5
    assert M.token_f1("80 80 injuries", "80") == pytest.approx(0.5)


def test_best_f1_is_the_max_over_answers():
    # "three reservists" vs "three": P = 1/2, R = 1 -> 2/3; vs "3": 0
    assert M.best_f1("three reservists", ["3", "three"]) == pytest.approx(2 / 3)
    assert M.best_f1("anything", []) == 0.0


def test_token_f1_empty_sides():
    assert M.token_f1("", "") == 1.0
    assert M.token_f1("a", "the") == 1.0  # both normalise to nothing
    assert M.token_f1("x", "the") == 0.0
    assert M.token_f1("", "x") == 0.0


# --- all_required ----------------------------------------------------------------------

def test_all_required_needs_every_string():
    answers = ["command centers", "weapon storage sites", "logistics networks"]
    partial = "Strikes hit command centers and weapon storage sites."
    s = M.answer_scores(partial, answers, all_required=True)
    assert s["containment"] == 0.0
    assert s["em"] == 0.0
    # reference = the three joined (7 tokens); pred has 8 tokens, 5 in common
    # P = 5/8, R = 5/7 -> F1 = 2PR/(P+R) = 2/3
    assert s["f1"] == pytest.approx(2 / 3)
    assert M.missing_answers(partial, answers) == ["logistics networks"]
    full = partial + " And logistics networks."
    assert M.answer_scores(full, answers, all_required=True)["containment"] == 1.0
    # without all_required, one of them is enough
    assert M.answer_scores(partial, answers)["containment"] == 1.0


def test_citations_found_answer_with_all_required_spans_passages():
    answers = ["Deir ez-Zor", "Albu Kamal"]
    passages = ["from Deir ez-Zor eastwards", "to Albu Kamal near the border"]
    assert M.citations_found_answer(passages, answers, all_required=True)
    assert not M.citations_found_answer(passages[:1], answers, all_required=True)
    assert M.citations_found_answer(passages[:1], answers)
    assert not M.citations_found_answer([], answers)


# --- abstention -------------------------------------------------------------------------

def test_abstention_counts_and_rates_by_hand():
    # (answerable, abstained)
    records = [(True, True), (True, False), (False, True), (False, True), (False, False)]
    c = M.abstention_counts(records)
    assert c == {
        "questions": 5, "answerable": 2, "unanswerable": 3, "abstentions": 3,
        "correct_abstentions": 2, "wrong_abstentions": 1, "missed_abstentions": 1,
    }
    m = M.abstention_metrics(records)
    assert m["abstention_precision"] == pytest.approx(2 / 3)
    assert m["abstention_recall"] == pytest.approx(2 / 3)
    assert m["wrong_abstentions"] == 1 and m["missed_abstentions"] == 1


def test_abstention_rates_undefined_without_abstentions_or_unanswerables():
    m = M.abstention_metrics([(True, False), (True, False)])
    assert m["abstention_precision"] is None
    assert m["abstention_recall"] is None
    assert m["wrong_abstentions"] == 0


# --- retrieval ----------------------------------------------------------------------------

def test_ndcg_binary_by_hand():
    # relevant a, b, c; ranked a, x, b: DCG = 1/log2(2) + 1/log2(4) = 1.5
    # IDCG = 1 + 1/log2(3) + 1/log2(4)
    idcg = 1 + 1 / math.log2(3) + 0.5
    assert M.ndcg_at_k(["a", "x", "b"], {"a", "b", "c"}, 10) == pytest.approx(1.5 / idcg)
    assert M.ndcg_at_k(["a", "b", "c"], {"a", "b", "c"}) == pytest.approx(1.0)
    assert M.ndcg_at_k(["x", "y"], {"a"}) == 0.0


def test_ndcg_graded_by_hand():
    # grades a=2, b=1; ranked b, a: DCG = 1/1 + 2/log2(3); IDCG = 2/1 + 1/log2(3)
    dcg = 1 + 2 / math.log2(3)
    idcg = 2 + 1 / math.log2(3)
    assert M.ndcg_at_k(["b", "a"], {"a": 2.0, "b": 1.0}) == pytest.approx(dcg / idcg)


def test_ndcg_cuts_at_k():
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert M.ndcg_at_k(ranked, {"a"}, 10) == 0.0
    assert M.ndcg_at_k(ranked, {"a"}, 11) == pytest.approx(1 / math.log2(12))


def test_mrr_recall_hit_by_hand():
    assert M.reciprocal_rank(["x", "y", "a"], {"a", "b"}) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(["x", "y"], {"a"}) == 0.0
    assert M.reciprocal_rank(["x", "a"], {"a"}, k=1) == 0.0
    assert M.recall_at_k(["a", "x", "b", "y"], {"a", "b", "c"}, 2) == pytest.approx(1 / 3)
    assert M.recall_at_k(["a", "x", "b", "y"], {"a", "b", "c"}, 4) == pytest.approx(2 / 3)
    assert M.hit_at_k(["x", "a"], {"a"}, 1) == 0.0
    assert M.hit_at_k(["x", "a"], {"a"}, 5) == 1.0
    assert M.dedupe(["d1", "d1", "d2", "d1", "d3"]) == ["d1", "d2", "d3"]


# --- latency ------------------------------------------------------------------------------

def test_percentiles_match_numpy_linear_interpolation():
    vals = [10, 20, 30, 40]
    assert M.percentile(vals, 50) == pytest.approx(25.0)
    assert M.percentile(vals, 95) == pytest.approx(38.5)  # pos 2.85 -> 30 + 0.85 * 10
    rng = np.random.default_rng(0)
    sample = rng.exponential(100, size=37).tolist()
    for q in (5, 50, 95, 99):
        assert M.percentile(sample, q) == pytest.approx(float(np.percentile(sample, q)))
    assert M.percentile([], 50) is None
    assert M.percentile([7], 95) == 7


def test_latency_metrics_per_stage():
    timings = [{"retrieval": 10, "answer": 30, "total": 40}, {"retrieval": 20, "answer": 50, "total": 70}]
    m = M.latency_metrics(timings)
    assert m["latency_p50_ms"] == pytest.approx(55)
    assert m["latency_retrieval_p50_ms"] == pytest.approx(15)
    assert m["latency_answer_p95_ms"] == pytest.approx(49)  # 30 + 0.95 * 20


# --- scoring records and aggregating ------------------------------------------------------

def _rec(**kw):
    base = {"id": "q", "question": "?", "answers": [], "answerable": True, "sources": [], "all_required": False,
            "turns": [], "answer": "", "abstained": False, "citations": [], "retrieved": [], "timings_ms": {}}
    base.update(kw)
    return score_record(base)


def test_score_record_outcomes_and_reasons():
    right = _rec(answers=["over 80"], answer="There were over 80 injuries. [1]",
                 citations=[{"n": 1, "passage": "over 80 injuries at Tower 22", "quote": "", "source": "a", "title": "", "score": 0.5},
                            {"n": 2, "passage": "unrelated", "quote": "", "source": "b", "title": "", "score": 0.3}])
    assert right["outcome"] == "correct"
    assert right["scores"]["citations"] == 2 and right["scores"]["supporting_citations"] == 1
    assert any("[1]" in w and "[2]" in w for w in right["why"])

    wrong_abst = _rec(answers=["three"], abstained=True, answer="The documents don't say.")
    assert wrong_abst["outcome"] == "wrong_abstention"
    assert wrong_abst["scores"]["f1"] == 0.0 and wrong_abst["scores"]["containment"] == 0.0

    good_abst = _rec(answerable=False, abstained=True, answer="The documents don't say.")
    assert good_abst["outcome"] == "correct_abstention"

    missed = _rec(answerable=False, answer="Canberra. [1]")
    assert missed["outcome"] == "missed_abstention"

    partial = _rec(answers=["Deir ez-Zor", "Albu Kamal"], all_required=True, answer="It reached Deir ez-Zor. [1]")
    assert partial["outcome"] == "partial"
    assert any("Albu Kamal" in w for w in partial["why"])


def test_score_record_retrieval_against_sources():
    rec = _rec(answers=["x"], answer="x", sources=["b.txt"],
               retrieved=[{"doc": "/d/a.txt", "label": "", "relevant": False, "score": 0.9},
                          {"doc": "/d/b.txt", "label": "b.txt", "relevant": True, "score": 0.8}])
    assert rec["scores"]["mrr"] == pytest.approx(0.5)
    assert rec["scores"]["hit@5"] == 1.0
    assert rec["scores"]["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert "rank 2" in rec["why"][0]


def test_aggregate_by_hand():
    recs = [
        # answerable, right, 2 citations of which 1 holds the answer
        _rec(answers=["over 80"], answer="over 80 [1]", timings_ms={"total": 100},
             citations=[{"n": 1, "passage": "over 80 hurt", "quote": "", "source": "a", "title": "", "score": 0.5},
                        {"n": 2, "passage": "nothing", "quote": "", "source": "a", "title": "", "score": 0.5}]),
        # answerable, wrongly abstained
        _rec(answers=["three"], abstained=True, answer="The documents don't say.", timings_ms={"total": 300}),
        # unanswerable, abstained
        _rec(answerable=False, abstained=True, answer="The documents don't say.", timings_ms={"total": 200}),
        # unanswerable, answered (1 citation, not counted in citation precision)
        _rec(answerable=False, answer="Canberra [1]", timings_ms={"total": 400},
             citations=[{"n": 1, "passage": "p", "quote": "", "source": "a", "title": "", "score": 0.5}]),
    ]
    m = aggregate_qa(recs)
    assert m["containment"] == pytest.approx(0.5)
    assert m["em"] == pytest.approx(0.5)  # "over 80 [1]" scores as "over 80": an exact match
    assert m["f1"] == pytest.approx(0.5)
    assert m["citation_precision"] == pytest.approx(0.5)  # 1 of 2 citations on answered answerable questions
    assert m["citation_recall"] == pytest.approx(0.5)  # 1 of 2 answerable questions
    assert m["abstention_precision"] == pytest.approx(0.5)  # 1 of 2 abstentions was right
    assert m["abstention_recall"] == pytest.approx(0.5)  # 1 of 2 unanswerable abstained
    assert m["wrong_abstentions"] == 1 and m["missed_abstentions"] == 1
    assert m["latency_p50_ms"] == pytest.approx(250)
    assert m["hit@5"] is None  # no sources given: retrieval not scored
    for name in ("hit@5", "recall@10", "mrr", "ndcg@10", "em", "f1", "containment", "citation_precision",
                 "citation_recall", "abstention_precision", "abstention_recall", "latency_p50_ms", "latency_p95_ms"):
        assert name in m


def test_gates():
    r = EvalResults("s", "qa", {"f1": 0.4, "containment": 0.8, "latency_p95_ms": 900.0, "abstention_precision": None})
    assert r.check({"containment": 0.7}) == []
    fails = r.check({"f1": 0.5, "containment": 0.7})
    assert len(fails) == 1 and "f1 = 0.400 is below the required 0.5" in fails[0]
    assert r.check(fail_over={"latency_p95_ms": 500})[0].startswith("latency_p95_ms = 900.0 is above")
    assert "could not be computed" in r.check({"abstention_precision": 0.5})[0]
    with pytest.raises(GateError, match="unknown metric 'F1'"):
        r.check({"F1": 0.5})
    assert parse_gates(["f1=0.5", "hit@5=0.9"]) == {"f1": 0.5, "hit@5": 0.9}
    with pytest.raises(GateError, match="METRIC=VALUE"):
        parse_gates(["f1"])
    with pytest.raises(GateError, match="not a number"):
        parse_gates(["f1=high"])
    with pytest.raises(GateError, match="--fail-over"):
        parse_gates(["latency_p95_ms=100"])
