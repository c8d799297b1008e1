"""The shortcuts that keep a 100k-chunk collection fast give what the long way gives.

- the extractive answerer encodes only the sentences that could be quoted, yet picks exactly
  what scoring every sentence picks; a sentence's vector does not depend on its batch;
- BM25 built with array operations scores like bm25s's own index;
- the keyword index's incremental rebuild reads only the chunks of changed documents;
- a collection counts its chunks once per opening, and again after a write;
- discovery's resolved paths (document ids) are what ``Path.resolve`` gives, links included.

Speed itself is measured by eval/bench/scale.py, not here.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from assistant.index import keyword
from assistant.answer.base import Question
from assistant.client import Assistant
from assistant.index.store import Store

QUESTIONS = [
    "How many targets did the US strike?",
    "What attack were the airstrikes a response to?",
    "Who condemned the airstrikes?",
    "Who is the Defense Secretary?",
    "Where did the drone attack happen?",
    "How many US soldiers were killed?",
    "What did the US tell the Iraqi government?",
    "What is the capital of France?",
    "How many people were injured in the drone attack?",
    "Why did the US strike?",
    "When did the strikes happen?",
    "What is photosynthesis?",
]


def test_pruned_scoring_picks_what_scoring_every_sentence_picks(sample_assistant):
    answerer = sample_assistant.answerer
    encoded = {"pruned": 0, "all": 0}
    for q in QUESTIONS:
        r = sample_assistant.retrieve(q)
        question = Question(q, q, vector=r.query_vector)
        answerer._vectors.clear()
        before = answerer.cache_misses
        every = answerer.select(answerer.score(question, r.hits))
        encoded["all"] += answerer.cache_misses - before
        answerer._vectors.clear()
        before = answerer.cache_misses
        pruned = answerer.select(answerer.score_for_answer(question, r.hits))
        encoded["pruned"] += answerer.cache_misses - before
        assert [(c.hit_index, c.start, c.end) for c in pruned] == [(c.hit_index, c.start, c.end) for c in every], q
    assert encoded["pruned"] < encoded["all"]  # it did skip sentences


def test_a_sentence_vector_does_not_depend_on_what_it_is_encoded_with(sample_assistant):
    answerer = sample_assistant.answerer
    a = "The strikes hit 85 targets in Iraq and Syria."
    others = ["A much longer sentence about drones, militias, bases and the many soldiers who were injured there.",
              "Short one."]
    answerer._vectors.clear()
    alone = answerer.sentence_vectors([a])[0]
    answerer._vectors.clear()
    together = answerer.sentence_vectors(others + [a])[-1]
    np.testing.assert_array_equal(alone, together)
    hits = answerer.cache_hits
    again = answerer.sentence_vectors([a, a])
    assert answerer.cache_hits == hits + 2  # remembered, not encoded again
    np.testing.assert_array_equal(again[0], together)


def test_array_bm25_scores_like_bm25s():
    import bm25s

    rng = np.random.default_rng(4)
    vocab_size = 300
    docs = [rng.integers(0, vocab_size, size=rng.integers(1, 60)).tolist() for _ in range(400)]
    docs[7] = [0]  # a chunk with nothing but the empty token
    vocab = {f"t{i}": i for i in range(vocab_size)}
    reference = bm25s.BM25(k1=keyword.K1, b=keyword.B)
    reference.index((docs, dict(vocab)), show_progress=False)
    fast = keyword._ArrayBM25(k1=keyword.K1, b=keyword.B)
    lengths = np.asarray([len(d) for d in docs])
    fast.index((keyword._Corpus(np.concatenate([np.asarray(d) for d in docs]), lengths), dict(vocab)),
               show_progress=False)
    for query in (["t1"], ["t2", "t5", "t9"], ["t0", "t299"], [f"t{i}" for i in range(0, 300, 7)]):
        np.testing.assert_allclose(fast.get_scores(query), reference.get_scores(query), rtol=1e-5, atol=1e-6)


def test_incremental_keyword_rebuild_reads_only_changed_documents(data_dir, monkeypatch):
    a = Assistant(data_dir=data_dir, collection="kw-reads")
    records = [{"id": f"doc{i}", "title": f"Report {i}",
                "text": f"Station {i} measured {i * 3} millimetres of rain in week {i}. The gauge was cleaned."}
               for i in range(30)]
    a.ingest_records(records)
    keyword.keyword_index(a.settings, Store(a.settings).open("kw-reads"))
    keyword._MEMO.clear()  # as in a new process: the terms come from disk

    read: list[str] = []
    real_get = type(Store(a.settings).open("kw-reads").raw).get

    def counting_get(self, ids=None, include=None, **kw):
        if include and ("metadatas" in include or "documents" in include):
            read.extend(ids or ["<scan>"])
        return real_get(self, ids=ids, include=include, **kw)

    records[4] = {**records[4], "text": "Station 4 was closed for repairs; no rain was measured."}
    a.ingest_records(records)
    monkeypatch.setattr(type(Store(a.settings).open("kw-reads").raw), "get", counting_get)
    index = keyword.keyword_index(a.settings, Store(a.settings).open("kw-reads"))
    monkeypatch.undo()
    changed = Store(a.settings).open("kw-reads").chunk_ids_of(["doc4"])
    assert sorted(read) == sorted(changed)  # no scan, no other document's chunks
    assert [cid for cid, _ in index.search("repairs closed", 3)][:1] == changed[:1]
    assert len(index.ids) == 30


def test_count_is_read_once_per_opening_and_again_after_a_write(data_dir, monkeypatch):
    a = Assistant(data_dir=data_dir, collection="counting")
    a.ingest_records([{"id": "one", "text": "The first record is short."}])
    col = Store(a.settings).open("counting")
    calls = []
    real = col.raw.count
    monkeypatch.setattr(col.raw, "count", lambda: calls.append(1) or real())
    assert col.count() == col.count() == 1
    assert len(calls) == 1
    col.delete_ids(col.chunk_ids_of(["one"]))
    assert col.count() == 0 and len(calls) == 2


def test_questions_in_a_row_count_once_while_the_store_file_is_unchanged(data_dir, monkeypatch):
    import os

    from assistant.index import store as store_module

    a = Assistant(data_dir=data_dir, collection="recount")
    a.ingest_records([{"id": "one", "text": "The first record is short."},
                      {"id": "two", "text": "The second record is short too."}])
    calls = []

    def counted(raw_count):
        return lambda: calls.append(1) or raw_count()

    def opened():
        col = Store(a.settings).open("recount")
        monkeypatch.setattr(col.raw, "count", counted(col.raw.count))
        return col

    db = a.settings.chroma_path / store_module.STORE_FILE
    st = os.stat(db)
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns - 5_000_000_000))  # as if written seconds ago
    assert opened().count() == 2 and len(calls) == 1
    assert opened().count() == 2 and len(calls) == 1  # the next question's opening reuses it
    # Another tool writes to the store behind our back: the file changes, so it is counted again.
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    other = chromadb.PersistentClient(path=str(a.settings.chroma_path), settings=ChromaSettings(anonymized_telemetry=False))
    other.get_collection("recount").delete(where={"doc_id": "one"})
    st = os.stat(db)
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns - 5_000_000_000))  # old enough to be trusted
    assert opened().count() == 1 and len(calls) == 2


def test_discovered_document_ids_are_resolved_paths(tmp_path):
    from ingest.pipeline import discover

    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "a.txt").write_text("alpha")
    (real / "b.md").write_text("beta")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("gamma")
    os.symlink(elsewhere, real / "link.txt")
    os.symlink(real, tmp_path / "via-link")
    resolved: dict = {}
    files, problems = discover([tmp_path / "via-link"], resolved)
    assert not problems and len(files) == 3
    for f in files:
        assert resolved[f] == str(f.resolve())
    assert str(elsewhere.resolve()) in resolved.values()


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    return d
