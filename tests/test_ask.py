"""ask() on the sample article: cited answers that hold, abstention, follow-ups, the JSON shape."""

from __future__ import annotations

import json
import re

import pytest

from assistant.errors import CollectionNotFound, EmptyIndex, EmptyQuestion, QuestionTooLong
from eval.metrics import contains_answer

QUESTIONS = [
    ("How many targets did the US strike?", ["85"]),
    ("Who was blamed for the drone attack?", ["Islamic Resistance in Iraq"]),
    ("How many US army reservists were killed?", ["three"]),
    ("Who is the Defense Secretary?", ["Lloyd Austin"]),
]


@pytest.mark.parametrize("question,answers", QUESTIONS)
def test_answers_carry_a_citation_that_contains_the_answer(sample_assistant, question, answers):
    answer = sample_assistant.ask(question)
    assert not answer.abstained, answer.text
    assert contains_answer(answer.text, answers)
    assert answer.citations
    # Every marker names a listed citation, and every citation is used.
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations}
    assert any(contains_answer(c.quote, answers) for c in answer.citations)
    for c in answer.citations:
        excerpts = c.quote.split(" … ")
        assert all(e and e in c.passage for e in excerpts)  # quotes are verbatim excerpts
        assert c.source.endswith("us-strikes-iran-militias.txt")
        assert 0.0 < c.score <= 1.0


@pytest.mark.parametrize(
    "question",
    ["What is the capital of Australia?", "How do I bake sourdough bread?", "Who won the 2018 football World Cup?"],
)
def test_off_topic_questions_are_abstained_on(sample_assistant, question):
    answer = sample_assistant.ask(question)
    assert answer.abstained
    assert answer.citations == []
    assert "documents don't say" in answer.text
    assert answer.related  # the closest passages are offered instead


def test_follow_up_uses_the_conversation(sample_assistant):
    chat = sample_assistant.chat()
    first = chat.ask("Who was blamed for the drone attack?")
    assert not first.abstained
    second = chat.ask("How many did it injure?")
    assert not second.abstained, second.text
    assert "80" in second.text
    assert "drone attack" in second.standalone_question
    assert len(chat.history) == 2


def test_history_argument_works_without_a_chat_object(sample_assistant):
    answer = sample_assistant.ask("How many did it injure?", history=["Who was blamed for the drone attack?"])
    assert "80" in answer.text


def test_answer_to_dict_has_the_documented_schema(sample_assistant):
    d = sample_assistant.ask("How many targets did the US strike?").to_dict()
    assert {"question", "answer", "abstained", "citations", "timings_ms"} <= set(d)
    assert isinstance(d["abstained"], bool)
    c = d["citations"][0]
    assert {"n", "source", "title", "page", "chunk_id", "quote", "score"} <= set(c)
    assert set(d["timings_ms"]) >= {"retrieval", "answer", "total"}
    json.dumps(d)  # serialisable as is


def test_ask_function_uses_configuration_keywords(sample_data_dir):
    from assistant import ask

    answer = ask("How many targets did the US strike?", data_dir=sample_data_dir, collection="sample")
    assert "85" in answer.text


def test_bad_questions_give_clear_errors(sample_assistant):
    with pytest.raises(EmptyQuestion):
        sample_assistant.ask("   \n\t ")
    with pytest.raises(QuestionTooLong, match="limit"):
        sample_assistant.ask("why " * 5000)
    # Control characters are dropped, not fatal.
    assert not sample_assistant.ask("How many targets\x00 did the US\x07 strike?").abstained


def test_missing_collection_and_empty_index_are_errors(data_dir):
    from assistant.client import Assistant

    with pytest.raises(CollectionNotFound, match="ingest"):
        Assistant(data_dir=data_dir, collection="nothing-here").ask("anything?")
    from assistant.index.store import Store

    a = Assistant(data_dir=data_dir, collection="empty-one")
    Store(a.settings).open("empty-one", create=True)
    with pytest.raises(EmptyIndex, match="empty"):
        a.ask("anything?")


def test_a_missing_or_broken_calibrated_model_is_a_clear_error(sample_data_dir, tmp_path, monkeypatch, capsys):
    """Without its calibration file the answerer would decide with weights nobody calibrated: it
    refuses instead, naming the file and the fix (ask, the CLI's one-line error)."""
    from assistant.answer import evidence
    from assistant.cli import main
    from assistant.client import Assistant
    from assistant.errors import ModelFileError

    gone = tmp_path / "extractive_model.json"
    monkeypatch.setattr(evidence, "MODEL_FILE", gone)
    evidence.load_model.cache_clear()
    try:
        with pytest.raises(ModelFileError, match=r"evidence model .*extractive_model\.json is missing; .*reinstall"):
            Assistant(data_dir=sample_data_dir, collection="sample").ask("How many targets did the US strike?")
        code = main(["ask", "How many targets did the US strike?", "--data-dir", str(sample_data_dir), "-c", "sample"])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and err.startswith("error: the calibrated evidence model")
        gone.write_text('{"weights": {"coverage": 1.0}')  # cut short
        evidence.load_model.cache_clear()
        with pytest.raises(ModelFileError, match="cannot be read"):
            Assistant(data_dir=sample_data_dir, collection="sample").ask("How many targets did the US strike?")
    finally:
        monkeypatch.undo()
        evidence.load_model.cache_clear()
    assert evidence.load_model().info  # the packaged one loads again
