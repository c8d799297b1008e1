"""Adaptive score fusion: the arithmetic (assistant/retrieve/fusion.py) and its use in retrieval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.retrieve import fusion
from assistant.client import Assistant
from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.index.keyword import keyword_index
from assistant.text import terms
from tests import corpora
from tests.conftest import SAMPLE


# --- the arithmetic ----------------------------------------------------------------------

@pytest.mark.parametrize("how", fusion.NORMS)
def test_normalise_edge_cases(how):
    assert fusion.normalise(np.array([]), how).size == 0
    np.testing.assert_array_equal(fusion.normalise(np.array([0.7]), how), [0.0])  # one candidate
    np.testing.assert_array_equal(fusion.normalise(np.array([2.5, 2.5, 2.5]), how), [0.0, 0.0, 0.0])
    out = fusion.normalise(np.array([3.0, 1.0, 2.0]), how)
    assert list(np.argsort(-out)) == [0, 2, 1]  # order kept
    assert np.isfinite(out).all()


def test_normalise_minmax_and_zscore_values():
    np.testing.assert_allclose(fusion.normalise(np.array([1.0, 2.0, 5.0])), [0.0, 0.25, 1.0])
    z = fusion.normalise(np.array([1.0, 2.0, 6.0]), "zscore")
    assert z.mean() == pytest.approx(0.0, abs=1e-12) and z.std() == pytest.approx(1.0)
    # Differences too small to be real count as ties, not as a full 0..1 spread.
    np.testing.assert_array_equal(fusion.normalise(np.array([1.0, 1.0 + 1e-15])), [0.0, 0.0])


def test_convex_mixes_the_normalised_scores():
    dense, kw = np.array([0.9, 0.5, 0.1]), np.array([0.0, 10.0, 5.0])
    np.testing.assert_allclose(fusion.convex(dense, kw, 1.0), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(fusion.convex(dense, kw, 0.0), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(fusion.convex(dense, kw, 0.5), [0.5, 0.75, 0.25])
    # Keyword side all equal (e.g. no keyword match at all): only dense orders the candidates.
    np.testing.assert_allclose(fusion.convex(dense, np.zeros(3), 0.5), [0.5, 0.25, 0.0])
    assert fusion.convex(np.array([]), np.array([]), 0.5).size == 0


def test_adaptive_dense_weight():
    low, high, floor = 0.12, 0.20, 0.5
    assert fusion.adaptive_dense_weight(0.0, low, high, floor) == 1.0
    assert fusion.adaptive_dense_weight(low, low, high, floor) == 1.0
    assert fusion.adaptive_dense_weight(high, low, high, floor) == pytest.approx(floor)
    assert fusion.adaptive_dense_weight(5.0, low, high, floor) == pytest.approx(floor)  # capped
    assert fusion.adaptive_dense_weight(0.16, low, high, floor) == pytest.approx(0.75)  # linear between
    grid = [fusion.adaptive_dense_weight(c, low, high, floor) for c in np.linspace(0, 1, 101)]
    assert all(a >= b for a, b in zip(grid, grid[1:]))  # more coverage never adds dense share
    assert min(grid) == pytest.approx(floor) and max(grid) == 1.0
    # A degenerate band is a step at ``high``.
    assert fusion.adaptive_dense_weight(0.19, 0.2, 0.2, floor) == 1.0
    assert fusion.adaptive_dense_weight(0.2, 0.2, 0.2, floor) == pytest.approx(floor)
    assert fusion.adaptive_dense_weight(1.0, low, high, 1.0) == 1.0  # floor 1: dense only


def test_coverage_and_adaptive():
    assert fusion.coverage(3.0, 0.0) == 0.0  # no ceiling (no query terms): nothing matched
    assert fusion.coverage(1.0, 4.0) == 0.25
    dense = np.array([0.8, 0.6, 0.4])
    # Nothing matched by keyword: dense share 1 and the dense order.
    fused, w = fusion.adaptive(dense, np.zeros(3), 10.0, 0.12, 0.2, 0.5)
    assert w == 1.0 and list(np.argsort(-fused)) == [0, 1, 2]
    fused, w = fusion.adaptive(np.array([]), np.array([]), 10.0, 0.12, 0.2, 0.5)
    assert w == 1.0 and fused.size == 0
    # The best passage matched the whole query: the floor, and BM25 can reorder.
    fused, w = fusion.adaptive(dense, np.array([0.0, 10.0, 0.0]), 10.0, 0.12, 0.2, 0.5)
    assert w == pytest.approx(0.5) and int(np.argmax(fused)) == 1
    fused, w = fusion.adaptive(np.array([0.5]), np.array([3.0]), 10.0, 0.12, 0.2, 0.5)  # one candidate
    assert fused.shape == (1,) and np.isfinite(fused).all()


def test_rrf():
    scores = fusion.rrf([(["a", "b"], 1.0), (["b", "c"], 0.5)], 60)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["b"] == pytest.approx(1 / 62 + 0.5 / 61)
    assert scores["c"] == pytest.approx(0.5 / 62)
    assert fusion.rrf([([], 1.0)], 60) == {}
    np.testing.assert_allclose(
        fusion.rrf_scores(np.array([1, 0, 2]), np.array([0, 1, 1]), 60),
        [1 / 61, 1 / 61, 1 / 62 + 1 / 61])


@pytest.mark.parametrize("overrides,message", [
    ({"fusion": "max"}, "fusion"),
    ({"fusion_min_dense_weight": 1.5}, "fusion_min_dense_weight"),
    ({"fusion_min_dense_weight": -0.1}, "fusion_min_dense_weight"),
    ({"fusion_coverage_low": 0.3, "fusion_coverage_high": 0.2}, "fusion_coverage_low"),
    ({"fusion_coverage_low": 0.2, "fusion_coverage_high": 0.2}, "fusion_coverage_low"),
    ({"fusion_coverage_low": -0.1}, "fusion_coverage_low"),
])
def test_bad_fusion_settings_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides)


def test_good_fusion_settings_load():
    s = load_settings({"fusion": "rrf", "fusion_min_dense_weight": 0.0, "fusion_coverage_low": 0.0,
                       "fusion_coverage_high": 1.0})
    assert s.fusion == "rrf" and s.fusion_min_dense_weight == 0.0


# --- in retrieval, on a small real corpus ----------------------------------------------------

@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fusion-docs")
    (root / "lighthouse.txt").write_text(corpora.TXT, encoding="utf-8")
    (root / "orchard.md").write_text(corpora.MD, encoding="utf-8")
    (root / "glacier.html").write_text(corpora.HTML, encoding="utf-8")
    data = tmp_path_factory.mktemp("fusion-data")
    Assistant(data_dir=data, collection="fusion").ingest([root, SAMPLE])
    return data


def _name(hit) -> str:
    return Path(hit.chunk.source).name


RARE_WORDS = "When did the Hallström glacier retreat 412 metres?"
REWORDED = "Which fuel fed the coastal beacon before paraffin?"  # the lighthouse; no shared word


def test_a_question_with_the_documents_rare_words_gives_bm25_a_share(corpus_dir):
    a = Assistant(data_dir=corpus_dir, collection="fusion", top_k=20)
    r = a.retrieve(RARE_WORDS)
    assert 0.0 < r.weights["keyword"] <= 1.0 - a.settings.fusion_min_dense_weight + 1e-9
    assert r.weights["dense"] + r.weights["keyword"] == pytest.approx(1.0)
    assert _name(r.hits[0]) == "glacier.html"
    assert r.hits[0].keyword_rank == 1

    # The fused scores are the convex mix of both normalised signals over every candidate
    # (the corpus is smaller than fetch_k, so every chunk is a candidate and a hit).
    col = a.collection()
    assert len(r.hits) == col.count()
    index = keyword_index(a.settings, col)
    qt = terms(RARE_WORDS)
    bm25 = index.scores(qt)
    kw = np.array([bm25[index.position[h.chunk.id]] for h in r.hits])
    dense = np.array([h.score for h in r.hits])
    cov = fusion.coverage(kw.max(), index.ceiling(qt))
    w = fusion.adaptive_dense_weight(cov, a.settings.fusion_coverage_low, a.settings.fusion_coverage_high,
                                     a.settings.fusion_min_dense_weight)
    assert r.weights["dense"] == pytest.approx(w)
    np.testing.assert_allclose([h.fused for h in r.hits], fusion.convex(dense, kw, w), atol=1e-9)
    assert [h.fused for h in r.hits] == sorted((h.fused for h in r.hits), reverse=True)


def test_a_reworded_question_is_ranked_by_dense_alone(corpus_dir):
    a = Assistant(data_dir=corpus_dir, collection="fusion", top_k=20)
    index = keyword_index(a.settings, a.collection())
    assert index.search(REWORDED, 5) == []  # shares no word with any passage
    fused = a.retrieve(REWORDED)
    dense = a.retrieve(REWORDED, mode="dense")
    assert fused.weights == {"dense": 1.0, "keyword": 0.0}
    assert _name(fused.hits[0]) == _name(dense.hits[0]) == "lighthouse.txt"
    assert [h.chunk.id for h in fused.hits] == [h.chunk.id for h in dense.hits]


def test_a_partly_matching_question_keeps_dense_share_one_below_the_coverage_band(corpus_dir):
    a = Assistant(data_dir=corpus_dir, collection="fusion", top_k=20)
    index = keyword_index(a.settings, a.collection())
    q = "Which insects threaten the fruit, and what powers the remedy?"
    qt = terms(q)
    matched = index.search(q, 1)
    assert matched  # "powers" matches the sample article's "power": an accident, not evidence
    cov = fusion.coverage(matched[0][1] if matched else 0.0, index.ceiling(qt))
    assert cov <= a.settings.fusion_coverage_low
    r = a.retrieve(q)
    assert r.weights["dense"] == 1.0
    assert _name(r.hits[0]) == _name(a.retrieve(q, mode="dense").hits[0]) == "orchard.md"


def test_rrf_fusion_still_works(corpus_dir):
    a = Assistant(data_dir=corpus_dir, collection="fusion", fusion="rrf", top_k=20)
    r = a.retrieve(RARE_WORDS)
    assert r.weights == {}
    assert _name(r.hits[0]) == "glacier.html"
    s = a.settings
    for h in r.hits:
        expected = (s.dense_weight / (s.rrf_k + h.dense_rank) if h.dense_rank else 0.0) + \
            (s.keyword_weight / (s.rrf_k + h.keyword_rank) if h.keyword_rank else 0.0)
        assert h.fused == pytest.approx(expected)
    assert [h.fused for h in r.hits] == sorted((h.fused for h in r.hits), reverse=True)
    answer = a.ask("How many targets did the US strike?")
    assert not answer.abstained and "85" in answer.text
