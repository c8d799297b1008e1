"""The Ollama backend against a loopback server that speaks Ollama's chat API (/api/chat,
streamed NDJSON). The point is the protocol and what the assistant does with a reply (citation
checks, streaming, follow-up rewriting, errors); the replies are scripted from the passages the
server is sent, so every case is exact. Real index, real embedding model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.errors import BackendError
from assistant.types import Answer
from tests.llm_helpers import FakeOllama, free_port

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What did Defense Secretary Lloyd Austin promise?"
REWRITE = "How many people did the drone attack on the Tower 22 base injure?"


def passages_sent(request: dict) -> dict[int, str]:
    """The numbered passages in the answering prompt, as the model sees them."""
    user = request["messages"][-1]["content"]
    block = user.split("<passages>", 1)[1].split("</passages>", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\[(\d+)\] (.*)$", block, re.M)}


def number_of(request: dict, phrase: str) -> int:
    return next(n for n, text in passages_sent(request).items() if phrase in text)


def scripted_reply(request: dict) -> str:
    system = request["messages"][0]["content"]
    if "rewrite" in system.lower():
        return REWRITE
    asked = request["messages"][-1]["content"]
    if "drone attack" in asked and "injure" in asked:
        n = number_of(request, "80 injuries")
        return f"The attack caused over 80 injuries at the Tower 22 logistics base in Jordan [{n}]."
    if "capital of Peru" in asked:
        return "The documents don't say."
    austin = number_of(request, "Lloyd Austin")
    return (
        # Cited right, plus a marker naming a passage that was never given.
        f"Defense Secretary Lloyd Austin has promised a multi-tiered response [{austin}][7]. "
        # True to the documents, but the model forgot the marker.
        "The airstrikes were a response to a deadly drone attack attributed to the Islamic Resistance in Iraq. "
        # Invented: nothing in the passages says it.
        "The strikes were planned with the French navy in Marseille."
    )


@pytest.fixture(scope="module")
def ollama():
    with FakeOllama(scripted_reply, models=("fake",)) as server:
        yield server


@pytest.fixture(autouse=True)
def _server_state_is_per_test(ollama):
    """A test that holds the server back or cuts its stream cannot leave it so for the next."""
    ollama.reset()
    yield
    ollama.reset()


@pytest.fixture
def assistant(sample_data_dir, ollama):
    # The evidence gate has a test of its own below; here every question reaches the server,
    # whose replies are the point.
    return Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake",
                     llm_base_url=ollama.url, llm_timeout=10, llm_max_tokens=200, llm_evidence_gate=False)


def test_ollama_chat_protocol_request_and_streamed_reply(assistant, ollama):
    items = list(assistant.ask_stream(QUESTION))
    request = ollama.requests[-1]
    assert request["model"] == "fake" and request["stream"] is True
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert request["options"]["num_predict"] == 200
    assert request["options"]["num_ctx"] == 4096 and request["options"]["temperature"] == 0.0
    assert "Question: " + QUESTION in request["messages"][-1]["content"]
    answer = items[-1]
    assert isinstance(answer, Answer) and answer.backend == "ollama:fake"
    assert all(isinstance(x, str) for x in items[:-1]) and len(items) > 3
    assert "".join(items[:-1]) == answer.text


def test_hallucinated_marker_removed_and_uncited_sentences_handled(assistant, ollama):
    answer = assistant.ask(QUESTION)
    sent = passages_sent(ollama.requests[-1])
    assert not answer.abstained
    assert "[7]" not in answer.text
    first, second, third = re.split(r"(?<=[.\]])\s+(?=[A-Z])", answer.text)
    # Renumbered in order of first use: the Austin passage is [1] whatever its rank was.
    assert first == "Defense Secretary Lloyd Austin has promised a multi-tiered response. [1]"
    assert "Lloyd Austin" in answer.citations[0].passage
    # The uncited but true sentence got the marker of the passage that says it.
    assert re.fullmatch(r"The airstrikes were .* Islamic Resistance in Iraq\. \[(\d)\]", second)
    n = int(second[-2])
    assert "Islamic Resistance in Iraq" in answer.citations[n - 1].passage
    assert "Islamic Resistance in Iraq" in answer.citations[n - 1].quote
    # The invented one stays uncited and is reported.
    assert third == "The strikes were planned with the French navy in Marseille."
    assert answer.unsupported == [third]
    # Only cited passages are listed, each once, numbered 1..k; quotes are verbatim.
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert len({c.chunk_id for c in answer.citations}) == len(answer.citations) <= len(sent)
    for c in answer.citations:
        assert all(part in c.passage for part in c.quote.split(" … "))


def test_model_saying_documents_dont_say_is_an_abstention(assistant):
    answer = assistant.ask("What is the capital of Peru, according to the strikes article?",)
    assert answer.abstained and not answer.citations
    assert answer.text.startswith("The documents don't say")


def test_a_reply_that_only_restates_the_question_is_an_abstention(sample_data_dir):
    with FakeOllama(lambda request: "Defense Secretary Lloyd Austin promised. [1]") as server:
        a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake", llm_base_url=server.url,
                      llm_timeout=10, llm_evidence_gate=False)
        answer = a.ask(QUESTION)
        assert len(server.requests) == 1
    assert answer.abstained and not answer.citations and answer.related
    assert answer.text.startswith("The documents don't say")


def test_follow_up_is_rewritten_by_the_model_before_retrieval(assistant, ollama):
    chat = assistant.chat()
    first = chat.ask("Who was blamed for the drone attack?")
    assert not first.abstained
    followup = chat.ask("How many did it injure?")
    rewrite_request, answer_request = ollama.requests[-2], ollama.requests[-1]
    assert "rewrite" in rewrite_request["messages"][0]["content"].lower()
    assert "Who was blamed for the drone attack?" in rewrite_request["messages"][-1]["content"]
    assert rewrite_request["stream"] is False
    assert followup.standalone_question == REWRITE
    assert "rewrite" in followup.timings_ms and followup.timings_ms["rewrite"] > 0
    # The answer was asked for the standalone question, with the earlier turn as history.
    assert "Question: " + REWRITE in answer_request["messages"][-1]["content"]
    roles = [m["role"] for m in answer_request["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "[" not in answer_request["messages"][2]["content"]  # old markers would mislead
    assert "80 injuries" in followup.text and followup.citations


def test_history_keeps_the_most_recent_turns_that_fit(sample_data_dir, ollama):
    small = Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake", llm_base_url=ollama.url,
                      llm_context_window=1400, llm_max_tokens=100, llm_rewrite="off", llm_evidence_gate=False)
    history = [(f"Old question {i} about the strikes?", f"Old answer number {i}. " * 25) for i in range(8)]
    small.ask(QUESTION, history=history)
    messages = ollama.requests[-1]["messages"]
    sent = [m["content"] for m in messages if m["role"] == "user"][:-1]
    assert sent, "some history should fit"
    assert len(sent) < len(history)
    kept = [int(re.search(r"\d+", q).group()) for q in sent]
    assert kept == list(range(8 - len(kept), 8))  # the newest, in order


def test_evidence_gate_decides_what_reaches_the_server(sample_data_dir, ollama):
    """With the gate on (the default), a question without evidence in the documents gets "the
    documents don't say" and no request; one with evidence is sent to the server."""
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake", llm_base_url=ollama.url,
                  llm_timeout=10)
    before = len(ollama.requests)
    off_topic = a.ask("What is the boiling point of mercury in Kelvin?")
    assert off_topic.abstained and off_topic.related and "gate" in off_topic.timings_ms
    assert len(ollama.requests) == before  # the server was never asked
    answer = a.ask(QUESTION)
    assert len(ollama.requests) == before + 1 and "Question: " + QUESTION in ollama.requests[-1]["messages"][-1]["content"]
    assert not answer.abstained and answer.citations and "Lloyd Austin" in answer.citations[0].passage


def test_model_not_found_names_the_fix(sample_data_dir, ollama):
    a = Assistant(data_dir=sample_data_dir, collection="sample", llm="ollama:llama9", llm_base_url=ollama.url,
                  llm_evidence_gate=False)
    with pytest.raises(BackendError) as err:
        a.ask(QUESTION)
    msg = str(err.value)
    assert "ollama:llama9" in msg and "404" in msg and "ollama pull llama9" in msg


def test_unreachable_server_names_the_fix(sample_data_dir):
    url = f"http://127.0.0.1:{free_port()}"
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake", llm_base_url=url,
                  llm_evidence_gate=False)
    with pytest.raises(BackendError) as err:
        a.ask(QUESTION)
    msg = str(err.value)
    assert f"cannot reach ollama:fake at {url}" in msg and "llm_base_url" in msg


def test_timeout_then_the_chat_stays_usable(sample_data_dir, ollama):
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake", llm_base_url=ollama.url,
                  llm_timeout=0.5, llm_evidence_gate=False)
    chat = a.chat()
    ollama.hold = True  # the server answers nothing until released: the timeout must fire
    with pytest.raises(BackendError) as err:
        list(chat.stream(QUESTION))
    assert "did not answer within 0.5 s" in str(err.value) and "llm_timeout" in str(err.value)
    assert chat.turns == []
    ollama.hold = False
    answer = chat.ask(QUESTION)
    assert not answer.abstained and len(chat.turns) == 1


def test_stream_broken_off_by_the_server_is_an_error_not_an_answer(sample_data_dir, ollama):
    a = Assistant(data_dir=sample_data_dir, collection="sample", answerer="ollama:fake", llm_base_url=ollama.url,
                  llm_evidence_gate=False)
    ollama.truncate = True
    try:
        with pytest.raises(BackendError) as err:
            a.ask(QUESTION)
    finally:
        ollama.truncate = False
    assert "broke off its reply" in str(err.value) and "llm_context_window" in str(err.value)


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_LLM_EVIDENCE_GATE": "false"}
    return subprocess.run([sys.executable, "-m", "assistant", *args, "--data-dir", str(data_dir), "-c", "sample"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)


def test_cli_streams_the_checked_answer(sample_data_dir, ollama):
    r = run_cli("ask", "--llm", "ollama:fake", "--llm-base-url", ollama.url, QUESTION, data_dir=sample_data_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Defense Secretary Lloyd Austin has promised a multi-tiered response. [1]")
    assert "[7]" not in r.stdout
    assert re.search(r"^\[1\] us-strikes-iran-militias\.txt, chunk \d+: \"", r.stdout, re.M)


def test_cli_backend_error_is_one_line(sample_data_dir, ollama, capsys, monkeypatch):
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_LLM_EVIDENCE_GATE", "false")
    code = main(["ask", "--llm", "ollama:nope", "--llm-base-url", ollama.url, QUESTION,
                 "--data-dir", str(sample_data_dir), "-c", "sample"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ollama:nope at") and "ollama pull nope" in err


def test_cli_writes_the_answer_piece_by_piece(sample_data_dir, ollama, monkeypatch):
    import io

    from assistant.cli import main

    class RecordingStdout(io.StringIO):
        def __init__(self):
            super().__init__()
            self.writes: list[str] = []

        def write(self, text):
            self.writes.append(text)
            return super().write(text)

    out = RecordingStdout()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("ASSISTANT_LLM_EVIDENCE_GATE", "false")
    code = main(["ask", "--llm", "ollama:fake", "--llm-base-url", ollama.url, QUESTION,
                 "--data-dir", str(sample_data_dir), "-c", "sample"])
    assert code == 0
    answer_writes = [w for w in out.writes if w and not w.startswith("\n[")]
    assert len(answer_writes) > 5  # the answer arrived in many writes, not one
    assert out.getvalue().startswith("Defense Secretary Lloyd Austin has promised a multi-tiered response. [1]")
