"""Chunking: sentence-aware, within the model's input, exact offsets, full coverage."""

from __future__ import annotations

import pytest

from assistant.embed.encoder import get_embedder
from ingest.chunking import chunk_id, chunk_spans


@pytest.fixture(scope="module")
def count():
    return get_embedder().count_tokens


def test_chunks_fit_the_budget_and_break_at_sentences(count):
    sentences = [f"Sentence {i} talks about the weather in town number {i} today." for i in range(100)]
    text = " ".join(sentences)
    spans = chunk_spans(text, count, budget=64, overlap=16)
    assert len(spans) > 5
    for s, e in spans:
        piece = text[s:e]
        assert count([piece])[0] <= 64
        assert piece.startswith("Sentence") and piece.endswith(".")


def test_overlap_repeats_trailing_sentences(count):
    text = " ".join(f"Line {i} is here." for i in range(60))
    spans = chunk_spans(text, count, budget=40, overlap=12)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s2 < e1  # the next chunk starts inside the previous one
        assert s2 > s1  # but always moves forward


def test_every_character_lands_in_a_chunk(count):
    text = "Intro\n\n" + "word " * 700 + "\n\nA final sentence. " + "x" * 900
    spans = chunk_spans(text, count, budget=50, overlap=10)
    covered = set()
    for s, e in spans:
        covered.update(range(s, e))
        assert count([text[s:e]])[0] <= 50
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chunk_id_depends_on_document_position_and_text():
    a = chunk_id("doc", 0, "text")
    assert a == chunk_id("doc", 0, "text")
    assert len({a, chunk_id("doc", 1, "text"), chunk_id("other", 0, "text"), chunk_id("doc", 0, "text!")}) == 4


def test_default_chunks_fit_the_embedding_model(count):
    """The packaged MiniLM reads 256 word pieces: title + chunk + 2 special tokens must fit."""
    from assistant.config import Settings

    s = Settings()
    assert s.chunk_tokens + 24 * 2 + 2 <= get_embedder().max_tokens
