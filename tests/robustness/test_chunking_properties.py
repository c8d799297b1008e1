"""Properties of the chunker over generated text (hypothesis), with the real tokenizer: every
non-whitespace character lands in a chunk, chunks fit the budget, chunk text is exactly the
document's text at its offsets (across sections, as for PDF pages), ids are stable.

(Ids are also compared across processes by tests/robustness/test_crash_safety.py: a subprocess
ingest must produce exactly the chunk ids of an in-process one.)"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.embed.encoder import get_embedder
from ingest.chunking import chunk_spans
from ingest.readers import ParsedDocument, Section
from tests.properties import examples

pytestmark = pytest.mark.robustness

FAST = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def count():
    return get_embedder().count_tokens


@pytest.fixture(scope="module")
def ingestor(tmp_path_factory):
    from assistant.config import load_settings
    from ingest.pipeline import Ingestor

    settings_ = load_settings({"data_dir": tmp_path_factory.mktemp("unused"), "chunk_tokens": 48, "chunk_overlap": 12})
    return Ingestor(settings_, get_embedder(), progress=False)


word = st.one_of(
    st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    st.from_regex(r"[0-9]{1,6}([.,][0-9]{1,3})?", fullmatch=True),
    st.text(min_size=1, max_size=12),  # any code points
    st.text(st.characters(codec="utf-8"), min_size=40, max_size=400),  # a very long "word"
)
separator = st.sampled_from([" ", " ", " ", ". ", "? ", "! ", "\n", "\n\n", "\t", ", ", "。", " \u3000 ", "...", "  "])
prose = st.lists(st.tuples(word, separator), max_size=120).map(lambda parts: "".join(w + s for w, s in parts))
documents = st.one_of(prose, st.text(max_size=1500))


@FAST
@given(text=documents, budget=st.integers(min_value=6, max_value=120), overlap_share=st.floats(0, 0.6))
# Found by this test: windows of one long word were counted as if their tokens added up (a
# chunk over the budget), and an overlap with no room for the next sentence made a chunk that
# only repeated the end of the one before.
@example(text="0" * 40 + " ", budget=6, overlap_share=0.0)
@example(text="0. A 0 0000000000 ", budget=6, overlap_share=0.5)
# Pieces of one long sentence were packed by adding their counts, never checked joined.
@example(text="0 0000000000000000000000000000000000000000 A A A AABJBVHK ", budget=6, overlap_share=0.1695)
def test_every_character_lands_in_a_chunk_that_fits_the_budget(count, text, budget, overlap_share):
    overlap = int(budget * overlap_share)
    spans = chunk_spans(text, count, budget, overlap)
    covered = bytearray(len(text))
    previous = (-1, -1)
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert start > previous[0] and end > previous[1]  # always moving forward
        assert text[start:end].strip()  # no whitespace-only chunk
        assert count([text[start:end]])[0] <= budget
        covered[start:end] = b"\x01" * (end - start)
        previous = (start, end)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, [text[i] for i in missing[:10]]


sections = st.lists(documents.filter(lambda t: t.strip()), min_size=1, max_size=4)


@FAST
@given(pages=sections)
def test_chunk_text_is_the_document_text_at_its_offsets_and_ids_are_stable(ingestor, pages):
    parsed = ParsedDocument("A title", [Section(text, page=i + 1) for i, text in enumerate(pages)])
    first = ingestor._chunk("/docs/a.pdf", "/docs/a.pdf", parsed, "hash", "file", "now", "added").chunks
    assert first
    whole = parsed.text
    for ordinal, chunk in enumerate(first):
        assert chunk.ordinal == ordinal
        assert whole[chunk.start : chunk.end] == chunk.text
        assert parsed.sections[chunk.page - 1].text.find(chunk.text) >= 0
    assert len({c.id for c in first}) == len(first)
    again = ingestor._chunk("/docs/a.pdf", "/docs/a.pdf", parsed, "hash", "file", "later", "updated").chunks
    assert [c.id for c in again] == [c.id for c in first]  # same document, same ids
    other = ingestor._chunk("/docs/b.pdf", "/docs/b.pdf", parsed, "hash", "file", "now", "added").chunks
    assert not {c.id for c in other} & {c.id for c in first}  # ids are per document
