"""The OpenAI-compatible backend against a real server: ``python -m llama_cpp.server`` serving the
packaged SmolLM2 file on loopback (the session's ``llama_server`` fixture, with an API key, so a
wrong one is refused). Real index, real embedding model, real model output: it must produce a
cited answer whose sentences its passages back, streamed in pieces; SmolLM2-135M is weak, so
answer quality beyond that is not asserted."""

from __future__ import annotations

import pytest

from assistant.client import Assistant
from assistant.errors import BackendError
from assistant.types import Answer
from tests.llm_helpers import (
    ANSWERABLE,
    LLAMA_KEY,
    LLAMA_WINDOW,
    SilentServer,
    assert_grounded,
    first_answered,
    free_port,
    record_calls,
)

KEY = LLAMA_KEY
WINDOW = LLAMA_WINDOW


def openai_assistant(data_dir, url, **overrides):
    settings = {"answerer": "openai:smollm2", "llm_base_url": url, "llm_api_key": KEY, "llm_max_tokens": 64,
                "llm_context_window": WINDOW, **overrides}
    return Assistant(data_dir=data_dir, collection="sample", **settings)


def test_answer_streams_from_the_server_and_ends_with_a_checked_answer(sample_data_dir, llama_server):
    a = openai_assistant(sample_data_dir, llama_server, llm_evidence_gate=False)
    calls = record_calls(a)
    _question, items = first_answered(a, ANSWERABLE, lambda q: list(a.ask(q, stream=True)))
    answer = items[-1]
    assert isinstance(answer, Answer) and answer.backend == "openai:smollm2"
    pieces = items[:-1]
    assert all(isinstance(p, str) for p in pieces) and "".join(pieces) == answer.text
    assert {kind for kind, _ in calls.calls} == {"stream"}
    assert a.answerer.backend.last.completion_tokens > 0  # the server really generated
    assert len(pieces) > 2  # streamed as generated, not in one piece at the end
    assert "first_token" in answer.timings_ms and answer.timings_ms["generate"] >= answer.timings_ms["first_token"]


def test_evidence_gate_keeps_off_topic_questions_from_the_server(sample_data_dir, llama_server):
    """The gate is on by default: a question the documents have no evidence for is answered
    "the documents don't say" without a request to the server."""
    a = openai_assistant(sample_data_dir, llama_server)
    calls = record_calls(a)
    answer = a.ask("What is the boiling point of mercury in Kelvin?")
    assert answer.abstained and answer.backend == "openai:smollm2" and answer.related
    assert calls.calls == [] and "generate" not in answer.timings_ms and "gate" in answer.timings_ms


def test_follow_up_rewritten_through_the_server(sample_data_dir, llama_server):
    a = openai_assistant(sample_data_dir, llama_server, llm_max_tokens=32)
    calls = record_calls(a)
    chat = a.chat()
    chat.ask("Who was blamed for the drone attack?")
    followup = chat.ask("How many did it injure?")
    kinds = [kind for kind, _ in calls.calls]
    assert "complete" in kinds  # the rewrite: one non-streamed request
    rewrite_messages = calls.calls[kinds.index("complete")][1]
    assert "Who was blamed for the drone attack?" in rewrite_messages[-1]["content"]
    assert followup.timings_ms["rewrite"] > 0
    # Standalone: the model's rewrite when it is a usable one, else the question completed
    # from the conversation without the model. Either way it names the drone attack.
    assert "drone attack" in followup.standalone_question.lower()
    assert_grounded(followup, a)


def test_wrong_api_key_names_the_setting(sample_data_dir, llama_server):
    a = openai_assistant(sample_data_dir, llama_server, llm_api_key="wrong", llm_evidence_gate=False)
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?")
    msg = str(err.value)
    assert msg.startswith(f"openai:smollm2 at {llama_server} refused the API key (HTTP 401")
    assert "llm_api_key" in msg


def test_wrong_endpoint_is_not_found(sample_data_dir, llama_server):
    a = openai_assistant(sample_data_dir, llama_server.removesuffix("/v1"), llm_evidence_gate=False)
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?")
    msg = str(err.value)
    assert "HTTP 404" in msg and "ending in /v1" in msg and "/models" in msg


def test_server_context_window_too_small(sample_data_dir, llama_server):
    # We claim a big window, so a long conversation is sent; the server has 2048 tokens and refuses.
    a = openai_assistant(sample_data_dir, llama_server, llm_context_window=16384, llm_evidence_gate=False,
                         llm_rewrite="off")
    history = [(f"Question {i} about the strikes?", "An earlier answer about the strikes. " * 40) for i in range(8)]
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?", history=history)
    msg = str(err.value)
    assert "context window" in msg and "llm_context_window (now 16384)" in msg and "broke off" in msg


def test_timeout_names_the_setting(sample_data_dir):
    with SilentServer() as silent:  # accepts the connection, never answers
        a = openai_assistant(sample_data_dir, silent.url + "/v1", llm_timeout=0.5, llm_evidence_gate=False)
        with pytest.raises(BackendError) as err:
            a.ask("How many targets did the US strike?")
    assert "did not answer within 0.5 s" in str(err.value) and "llm_timeout" in str(err.value)


def test_unreachable_server(sample_data_dir):
    url = f"http://127.0.0.1:{free_port()}/v1"
    a = openai_assistant(sample_data_dir, url, llm_evidence_gate=False)
    with pytest.raises(BackendError) as err:
        a.ask("How many targets did the US strike?")
    assert f"cannot reach openai:smollm2 at {url}" in str(err.value)
