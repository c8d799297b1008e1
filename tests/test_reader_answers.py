"""The default answerer reads: the shipped reader model, offline, on a real index of the sample
article (with distractor documents), gives the exact words that answer with their offsets, answers
questions worded unlike the text, abstains when the documents do not say, reranks, and carries a
follow-up's subject over from the previous answer.

The questions here are not those of the sample-article eval suite (which tunes nothing, but is the
suite people run); they are worded away from the article on purpose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.client import Assistant
from tests.conftest import SAMPLE

DISTRACTORS = {
    "harbour.md": "The harbour at Skerry was rebuilt in 1911 after a storm destroyed the old pier. "
    "Fishing boats land herring and mackerel there each autumn, and the ferry to the mainland runs twice a day.",
    "bread.txt": "Sourdough needs a mature starter, about twenty percent of the flour weight. "
    "Bake it at 230 degrees for forty minutes, the first twenty with the lid on.",
}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    docs = tmp_path_factory.mktemp("reader-docs")
    for name, text in DISTRACTORS.items():
        (docs / name).write_text(text)
    a = Assistant(data_dir=tmp_path_factory.mktemp("reader-index"), collection="reader")
    report = a.ingest([SAMPLE, docs])
    assert report.count("added") == 3
    return a


def _verbatim(answer) -> None:
    """Every sentence shown is a verbatim quote of the passage its marker names, and each
    citation's span is the short answer's words in its passage."""
    by_n = {c.n: c for c in answer.citations}
    for sentence, n in re.findall(r"(.+?) \[(\d+)\]\s*", answer.text):
        passage = " ".join(by_n[int(n)].passage.split())
        assert " ".join(sentence.split()) in passage, (sentence, n)
    first = answer.citations[0]
    assert first.span_start is not None and 0 <= first.span_start < first.span_end <= len(first.passage)
    words = " ".join(first.passage[first.span_start:first.span_end].split())
    assert words in answer.short_answer.split("; ")


def test_the_shipped_reader_loads_offline_without_torch():
    import subprocess
    import sys

    code = (
        "import sys; from assistant.answer.reading import load_reader; r = load_reader('packaged'); "
        "out = r.read('How many targets were struck?', ['The operation involved striking over 85 targets.']); "
        "assert out[0].span is not None, out; print(out[0].span_text); "
        "assert 'torch' not in sys.modules, 'the reader imported torch'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "85" in proc.stdout


def test_a_reworded_question_gets_the_exact_words_and_their_offsets(assistant):
    answer = assistant.ask("What number of sites did the American military hit?")
    assert not answer.abstained, answer.text
    assert "85" in answer.short_answer and len(answer.short_answer.split()) <= 6, answer.short_answer
    assert Path(answer.citations[0].source).name == SAMPLE.name
    _verbatim(answer)
    data = answer.to_dict()
    assert data["short_answer"] == answer.short_answer
    assert data["citations"][0]["span_start"] == answer.citations[0].span_start


def test_who_question_is_answered_with_a_name(assistant):
    answer = assistant.ask("Which coalition was held responsible for the drone strike?")
    assert not answer.abstained, answer.text
    assert "Islamic Resistance" in answer.short_answer, answer.short_answer
    _verbatim(answer)


@pytest.mark.parametrize("question", [
    "How much money did the airstrikes cost?",  # on topic, not in the article
    "Who won the football World Cup in 2018?",  # off topic
])
def test_abstains_when_the_documents_do_not_say(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained, (answer.short_answer, answer.text)
    assert not answer.citations and answer.related and answer.short_answer == ""


def test_reranking_puts_the_answering_passage_first(assistant):
    from assistant.answer.base import Question

    question = "When are herring landed at the rebuilt harbour?"
    retrieval = assistant.retrieve(question, k=6)
    reranked = assistant.answerer.rerank(Question(question, question, vector=retrieval.query_vector), retrieval.hits)
    assert sorted(h.chunk.id for h in reranked) == sorted(h.chunk.id for h in retrieval.hits)
    assert Path(reranked[0].chunk.source).name == "harbour.md"


def test_a_follow_up_retrieves_with_the_previous_answer(assistant):
    chat = assistant.chat()
    first = chat.ask("Who was the deadly drone attack blamed on?")
    assert "Islamic Resistance" in first.short_answer, first.short_answer
    follow = chat.ask("What kind of coalition are they?")
    assert first.short_answer in follow.standalone_question
    assert not follow.abstained and "militias" in follow.text, follow.text


def test_reader_off_keeps_the_older_sentence_answerer(assistant):
    old = Assistant(assistant.settings.replace(reader="off"))
    answer = old.ask("How many targets did the US strike?")
    assert not answer.abstained and "85" in answer.text and answer.short_answer == ""


def test_a_missing_reader_model_is_a_clear_error(assistant, tmp_path):
    from assistant.errors import ConfigError

    broken = Assistant(assistant.settings.replace(reader=str(tmp_path / "no-model")))
    with pytest.raises(ConfigError, match="reader"):
        broken.ask("How many targets did the US strike?")
