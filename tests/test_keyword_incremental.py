"""The incremental BM25 rebuild gives exactly what a rebuild from scratch gives.

``keyword_index`` reuses each chunk's cached terms and stems only the chunks it has not seen;
a chunk whose title changed must be stemmed again (its id, made from its text, does not change).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.index import keyword
from assistant.client import Assistant
from assistant.index.store import Store
from assistant.text import terms
from tests import corpora
from tests.conftest import SAMPLE

QUERIES = [
    "How many targets did the US strike?",
    "glacier ice thickness radar",
    "lighthouse kerosene whale oil",
    "apple orchard oldest tree",
    "drone attack soldiers killed Jordan",
    "metres",
]


@pytest.fixture
def stemmed(monkeypatch):
    """Counts the chunk texts the keyword index stems (the real stemmer still does the work)."""
    seen: list[str] = []
    real = keyword.terms_batch

    def counting(texts):
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(keyword, "terms_batch", counting)
    return seen


def _open(a: Assistant):
    return Store(a.settings).open(a.settings.collection)


def _scratch(a: Assistant) -> keyword.KeywordIndex:
    """The index as a first build makes it: no cache on disk or in memory."""
    directory = keyword._cache_dir(a.settings, a.settings.collection)
    shutil.rmtree(directory, ignore_errors=True)
    keyword._MEMO.pop(str(directory), None)
    return keyword.keyword_index(a.settings, _open(a))


def _assert_same(inc: keyword.KeywordIndex, ref: keyword.KeywordIndex, queries=QUERIES) -> None:
    assert sorted(inc.ids) == sorted(ref.ids)
    assert inc.df == ref.df
    for term in list(ref.df)[:200] + ["\x00unseen\x00"]:
        assert inc.idf(term) == pytest.approx(ref.idf(term), abs=1e-9)
    for q in queries:
        qt = terms(q)
        a, b = inc.scores(qt), ref.scores(qt)
        assert (a is None) == (b is None)
        if a is None:
            continue
        by_id = dict(zip(ref.ids, b))
        np.testing.assert_allclose(a, [by_id[cid] for cid in inc.ids], atol=1e-6)
        got, want = inc.search(q, 10), ref.search(q, 10)
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-6)
        scores = [s for _, s in want]
        if len(set(np.round(scores, 6))) == len(scores):  # no ties: the same chunks in the same order
            assert [cid for cid, _ in got] == [cid for cid, _ in want]
        assert inc.ceiling(qt) == pytest.approx(ref.ceiling(qt), abs=1e-9)


def test_adding_a_document_stems_only_its_chunks_and_matches_a_full_rebuild(data_dir, make_corpus, stemmed):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="kw-incremental")
    a.ingest([root / "lighthouse.txt", root / "orchard.md", root / "glacier.html"])
    first = keyword.keyword_index(a.settings, _open(a))
    assert len(stemmed) == len(first.ids) > 0

    stemmed.clear()
    report = a.ingest([SAMPLE])  # shares words ("metres"? "attack") with the others: idf moves
    assert report.chunks_written > 0
    inc = keyword.keyword_index(a.settings, _open(a))
    assert len(stemmed) == report.chunks_written  # only the new document's chunks
    assert len(inc.ids) == len(first.ids) + report.chunks_written
    assert inc.search("drone attack Jordan", 3)  # the new document is searchable

    stemmed.clear()
    ref = _scratch(a)
    assert len(stemmed) == len(ref.ids)  # the reference really was built from scratch
    _assert_same(inc, ref)
    # The reloaded-from-disk index (what the next process gets) is the same too.
    keyword._MEMO.clear()
    _assert_same(keyword.keyword_index(a.settings, _open(a)), ref)


def test_removing_and_replacing_documents_matches_a_full_rebuild(data_dir, make_corpus, stemmed):
    root = make_corpus()
    a = Assistant(data_dir=data_dir, collection="kw-replace")
    a.ingest([root, SAMPLE])
    keyword.keyword_index(a.settings, _open(a))
    a.forget(root / "orchard.md")
    (root / "lighthouse.txt").write_text(corpora.TXT + "\n\nA second keeper arrived in 1920 with a radar set.")
    stemmed.clear()
    report = a.ingest([root])
    assert report.count("updated") == 1 and report.count("added") == 1  # orchard.md comes back
    inc = keyword.keyword_index(a.settings, _open(a))
    assert 0 < len(stemmed) <= report.chunks_written
    _assert_same(inc, _scratch(a), QUERIES + ["second keeper radar 1920"])


def test_a_changed_title_invalidates_the_cached_terms(data_dir, stemmed):
    a = Assistant(data_dir=data_dir, collection="kw-titles")
    text = "The survey counted the animals twice each year along the northern trail."
    other = {"id": "other", "title": "Rainfall log", "text": "Rainfall was measured daily at the hilltop station."}
    a.ingest_records([{"id": "doc", "title": "Zebra migration", "text": text}, other])
    before = keyword.keyword_index(a.settings, _open(a))
    [(zebra_hit, _)] = before.search("zebra", 5)
    assert before.search("quokka", 5) == []

    stemmed.clear()
    report = a.ingest_records([{"id": "doc", "title": "Quokka census", "text": text}, other])
    assert report.count("updated") == 1 and report.count("unchanged") == 1
    after = keyword.keyword_index(a.settings, _open(a))
    assert after.ids == before.ids  # same chunk ids: the text did not change
    assert len(stemmed) == 1 and stemmed[0].startswith("Quokka census")
    assert [cid for cid, _ in after.search("quokka", 5)] == [zebra_hit]
    assert after.search("zebra", 5) == []
    _assert_same(after, _scratch(a), ["zebra", "quokka census", "survey animals", "rainfall"])
