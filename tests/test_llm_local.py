"""``llm = local``: the packaged SmolLM2-135M run in-process by llama-cpp-python, on the sample
article (real index, real embedding model, real model). SmolLM2-135M is weak: these tests hold
it to the grounding rules (what reaches the user is cited and backed by the cited passage's
text, or an abstention) and require it to give at least one real, cited answer, streamed; not
to answer quality beyond that (eval/bench/compare_answerers.py shows what it actually says)."""

from __future__ import annotations

import sys

import pytest

from assistant.client import Assistant
from assistant.errors import BackendError
from assistant.llm import local as local_backend
from assistant.types import Answer
from tests.llm_helpers import ANSWERABLE, assert_grounded, first_answered, record_calls


@pytest.fixture
def llama_cpp():
    """The tests that run the model need llama-cpp-python (the [llm] extra): skipped without it,
    a failure under CI."""
    from tests import requires

    requires.module("llama_cpp")


@pytest.fixture(scope="module")
def local(sample_data_dir):
    return Assistant(data_dir=sample_data_dir, collection="sample", answerer="local", llm_max_tokens=48)


def test_off_topic_question_abstains_without_calling_the_model(llama_cpp, local):
    calls = record_calls(local)
    answer = local.ask("What is the boiling point of mercury in Kelvin?")
    assert answer.abstained and answer.backend == "local"
    assert answer.text.startswith("The documents don't say") and answer.related and not answer.citations
    assert calls.calls == [] and "generate" not in answer.timings_ms and "gate" in answer.timings_ms
    # The same assistant does call the model when the documents have evidence.
    answer = local.ask("How many targets did the US strike?")
    assert [kind for kind, _ in calls.calls] == ["stream"]
    assert "first_token" in answer.timings_ms
    assert_grounded(answer, local)


def test_local_stream_ends_with_a_checked_answer(sample_data_dir, llama_cpp):
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="local", llm_max_tokens=64,
                  llm_evidence_gate=False)
    _question, items = first_answered(a, ANSWERABLE, lambda q: list(a.chat().stream(q)))
    answer = items[-1]
    assert isinstance(answer, Answer) and all(isinstance(p, str) for p in items[:-1])
    assert "".join(items[:-1]) == answer.text
    generated = a.answerer.backend.last
    assert generated.completion_tokens > 1 and generated.first_token_ms > 0
    # Held back until the first supported sentence; what follows it streams as generated.
    checks = [c for c in a.answerer.last_check.checks if c.kind != "empty"]
    first_cited = next(i for i, c in enumerate(checks) if c.cited)
    assert first_cited < len(checks) - 1, "the answer ends with its first cited sentence: nothing streamed after it"
    assert len(items) - 1 > 2


def test_prompt_is_chatml_and_stops_at_the_end_of_the_turn(llama_cpp, local):
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert local_backend.chatml(messages) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")
    backend = local.answerer.backend
    reply = backend.complete(messages + [{"role": "assistant", "content": "Hello"},
                                         {"role": "user", "content": "Say hello."}], max_tokens=24, temperature=0)
    assert "<|im_end|>" not in reply and "<|im_start|>" not in reply
    assert backend.last.finish_reason in ("stop", "length")


def test_context_window_too_small(sample_data_dir, llama_cpp):
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="local", llm_context_window=256)
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?")
    msg = str(err.value)
    assert msg.startswith("local: the context window of 256 tokens is too small") and "llm_context_window" in msg


def test_missing_model_file(sample_data_dir, tmp_path):
    missing = tmp_path / "nope.gguf"
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer=f"local:{missing}")
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?")
    assert f"local: model file not found: {missing}" in str(err.value) and "llm_model_path" in str(err.value)


def test_llama_cpp_not_installed(sample_data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what an install without the [llm] extra sees
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="local", llm_context_window=1234)
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?")
    assert "llama-cpp-python is not installed" in str(err.value) and "[llm]" in str(err.value)
