"""The scale benchmark (eval/bench/scale.py) at a tiny scale, on generated text.

It runs the benchmark's whole path on ~1,500 chunks (no eval data needed) and checks what its
report claims: the collection has the size asked for, copies got their base chunk's vector
plus a little noise, an unchanged re-ingest writes nothing, the changed document is re-written
(and really encoded), the keyword index covers every chunk, and ask() gives cited answers.
Figures are not asserted here (benchmarks measure speed; tests assert behaviour).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.bench import scale as B


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = B.Config(chunks=1500, data_dir=tmp_path_factory.mktemp("bench-scale"), synthetic=True,
                   questions=20, base_share=0.15, cli=True)
    return cfg, B.run(cfg)


@pytest.mark.slow
def test_tiny_collection_has_the_size_asked_for_and_copies_of_the_base(tiny):
    cfg, r = tiny
    b = r.build
    assert abs(b["chunks"] - cfg.chunks) <= 0.05 * cfg.chunks
    assert b["base_chunks"] + b["copy_chunks"] == b["chunks"]
    assert b["base_encoded_chunks"] == b["base_chunks"]  # a fresh vector cache: all encoded
    assert b["copy_documents"] > b["base_documents"]  # replicated several times
    assert b["peak_rss_mb"] > 0 and b["chroma_disk_mb"] > 0


@pytest.mark.slow
def test_a_copy_is_a_separate_document_whose_vectors_are_near_its_base(tiny):
    from assistant.index.store import Store

    cfg, r = tiny
    settings = B._settings(cfg, cfg.data_dir / cfg.label, "")
    col = Store(settings).open(B.COLLECTION)
    got = col.raw.get(include=["metadatas", "embeddings"], where={"ordinal": 0}, limit=5000)
    by_source = {m["source"]: (m, np.asarray(e)) for m, e in zip(got["metadatas"], got["embeddings"])}
    copies = [s for s in by_source if "/copies/c001/" in s]
    assert copies
    meta, vec = by_source[copies[0]]
    base_meta, base_vec = by_source[copies[0].replace("/copies/c001/", "/base/")]
    assert meta["title"] == f"copy 1 of {base_meta['title']}"
    assert meta["doc_id"] != base_meta["doc_id"]
    cos = float(vec @ base_vec / (np.linalg.norm(vec) * np.linalg.norm(base_vec)))
    assert 0.8 < cos < 0.9999  # near, not equal: noise was added


@pytest.mark.slow
def test_reingest_unchanged_writes_nothing_and_a_change_rewrites_one_document(tiny):
    _cfg, r = tiny
    docs = r.build["documents"]
    assert r.reingest["unchanged"]["chunks_written"] == 0
    assert r.reingest["unchanged"]["unchanged"] == docs
    assert r.reingest["unchanged_manifest_rebuilt"]["chunks_written"] == 0
    assert r.reingest["unchanged_cli"]["exit_code"] == 0
    assert r.reingest["unchanged_cli"]["chunks_written"] == 0
    changed = r.reingest["one_changed"]
    assert changed["updated"] == 1 and changed["unchanged"] == docs - 1
    assert changed["chunks_written"] >= 1 and changed["chunks_encoded"] >= 1
    assert r.reingest["restored"]["updated"] == 1
    assert r.keyword["chunks"] == r.build["chunks"]


@pytest.mark.slow
def test_ask_returns_cited_answers_and_timings(tiny):
    _cfg, r = tiny
    a = r.ask
    assert a["questions"] == 20
    # The generated questions ask for facts their town's document states.
    assert a["answered_with_citations"] >= 0.8 * a["questions"]
    assert 0 < a["p50_ms"] <= a["p95_ms"] <= a["p99_ms"]
    assert {"retrieval", "answer", "total"} <= set(a["stages_ms"])
    assert {"embed_query", "dense", "keyword", "fuse"} <= set(r.retrieval["stages_ms"])
    assert 0 < r.retrieval["p50_ms"]
    # The second pass encodes every sentence afresh: at least as many as the first.
    fresh = a["no_reuse"]
    assert fresh["answered"] == a["answered"]  # sentence vectors are the same either way
    assert fresh["sentences_encoded_per_question"] >= a["sentences_encoded_per_question"] > 0


@pytest.mark.slow
def test_report_prints_and_serialises_and_a_rerun_reuses_the_build(tiny):
    cfg, r = tiny
    text = B.format_report(r)
    for heading in ("Build", "Re-ingest", "Keyword index (BM25)", "Query latency (warm process", "load average"):
        assert heading in text
    assert json.loads(json.dumps(r.to_dict()))["build"]["chunks"] == r.build["chunks"]
    again = B.Report(config={})
    settings = B._settings(cfg, cfg.data_dir / cfg.label, "")
    corpus = cfg.data_dir / f"corpus-{cfg.source}-{cfg.chunks}"
    B.build(cfg, settings, corpus, cfg.data_dir / cfg.label, B.VectorBook(cfg.data_dir / "base-vectors.npz"), again)
    assert again.build["cached"] is True and again.build["chunks"] == r.build["chunks"]


def test_real_base_puts_the_questions_documents_in_a_partial_base():
    from tests import requires

    docs, questions = requires.eval_data(lambda: B.real_base(400, 20, seed=1))
    sets = {d.set for d in docs}
    assert sets == {"scifact", "squad"}
    assert sum(B._est_chunks(d.text) for d in docs) < 600
    assert len(questions) == 20 and {q.set for q in questions} == {"scifact", "squad"}


def test_perturbed_copy_keeps_most_words_and_paragraphs():
    import random

    text = "one two three four five six seven eight nine ten\n\neleven twelve thirteen fourteen"
    out = B.perturb(text, random.Random(3), drop=0.2, swap=0.2)
    assert out != text and out.count("\n\n") == 1
    assert set(out.split()) <= set(text.split())


@pytest.mark.slow
def test_scoped_asks_are_measured_and_cite_only_inside_their_scope(tiny):
    _, r = tiny
    scoped = r.ask["scoped"]
    measured = {k: v for k, v in scoped.items() if isinstance(v, dict) and "p50_ms" in v}
    assert "unscoped" in measured and len(measured) >= 3
    for name, d in measured.items():
        if name != "unscoped":
            assert d["citations_inside_scope"] is True, name
            assert 0 < d["documents"] < scoped["documents"]
