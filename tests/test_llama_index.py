"""Our retrieval and answers inside a plain llama-index pipeline, with ``Settings.llm`` unset:
the retriever returns our fused, scoped passages as nodes; the query engine's response is our
cited answer and its ``source_nodes`` our citations; the chat engine keeps follow-ups and scope.
Any attempt by llama-index to resolve a default LLM or embedding model fails the test."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.test_scope import NEW, OLD


@pytest.fixture(scope="module")
def memo_assistant(tmp_path_factory):
    from assistant.client import Assistant

    root = tmp_path_factory.mktemp("li-memos")
    (root / "memo-2023.md").write_text(OLD)
    (root / "memo-2024.md").write_text(NEW)
    a = Assistant(data_dir=tmp_path_factory.mktemp("li-index"), collection="li-memos")
    a.ingest([root / "memo-2023.md"], tags=["old"])
    a.ingest([root / "memo-2024.md"], tags=["current"])
    return a


@pytest.fixture
def no_default_llm(monkeypatch):
    """llama-index's Settings with no LLM and no embedding model, and resolving a default one
    (llama-index's fallback is OpenAI) made to fail loudly."""
    import llama_index.core.settings as li_settings
    from llama_index.core import Settings

    monkeypatch.setattr(Settings, "_llm", None)
    monkeypatch.setattr(Settings, "_embed_model", None)
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("llama-index tried to resolve a default LLM / embedding model")

    monkeypatch.setattr(li_settings, "resolve_llm", refuse)
    monkeypatch.setattr(li_settings, "resolve_embed_model", refuse)
    # Other tests (the HTTP API's) import the openai client themselves: look only at what this
    # test brings in.
    before = set(sys.modules)
    yield calls
    assert calls == []
    assert Settings._llm is None and Settings._embed_model is None
    assert not any(m.startswith(("llama_index.llms.openai", "openai")) for m in set(sys.modules) - before)


def names(nodes) -> set[str]:
    return {Path(n.node.metadata["source"]).name for n in nodes}


def test_retriever_returns_our_scoped_fused_passages(memo_assistant, no_default_llm):
    from llama_index.core.postprocessor import SimilarityPostprocessor
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import QueryBundle

    from assistant.integrations.llama_index import AssistantRetriever

    retriever = AssistantRetriever(memo_assistant, scope={"tags": ["current"]}, k=4)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("Where do staff park?")
    assert nodes and names(nodes) == {"memo-2024.md"}
    ours = memo_assistant.retrieve("Where do staff park?", k=4, tags=["current"]).hits
    assert [n.node.node_id for n in nodes] == [h.chunk.id for h in ours]
    assert [round(n.score, 6) for n in nodes] == [round(h.score, 6) for h in ours]
    assert "lot D" in nodes[0].node.get_content()
    # A llama-index postprocessor over our nodes, as a pipeline would chain it.
    kept = SimilarityPostprocessor(similarity_cutoff=0.3).postprocess_nodes(nodes, QueryBundle("Where do staff park?"))
    assert kept and all(n.score >= 0.3 for n in kept)
    # Unscoped, the old memo is a candidate too; the keyword side is scoped as well.
    assert names(AssistantRetriever(memo_assistant, k=4).retrieve("staff park lot")) == {"memo-2023.md", "memo-2024.md"}
    assert names(AssistantRetriever(memo_assistant, scope={"tags": ["old"]}, mode="keyword").retrieve(
        "bicycles rack river entrance lot")) <= {"memo-2023.md"}


def test_query_engine_response_is_our_answer_with_our_citations(memo_assistant, no_default_llm):
    from llama_index.core.base.response.schema import Response
    from llama_index.core.tools import QueryEngineTool

    from assistant.integrations.llama_index import AssistantQueryEngine

    engine = AssistantQueryEngine(memo_assistant, scope={"tags": ["old"]})
    response = engine.query("When does the cafeteria close?")
    ours = memo_assistant.ask("When does the cafeteria close?", tags=["old"])
    assert isinstance(response, Response)
    assert response.response == ours.text and "2pm" in response.response
    assert [n.node.node_id for n in response.source_nodes] == [c.chunk_id for c in ours.citations]
    first = response.source_nodes[0]
    assert first.score == pytest.approx(ours.citations[0].score)
    assert first.node.metadata["n"] == 1 and first.node.metadata["quote"] in first.node.get_content()
    assert Path(first.node.metadata["source"]).name == "memo-2023.md"
    assert response.metadata["abstained"] is False and response.metadata["scope"] == {"tags": ["old"]}

    # As a tool, the way agents and routers use query engines.
    tool = QueryEngineTool.from_defaults(query_engine=engine, name="memos", description="office memos")
    out = tool.call("Where do staff park?")
    assert "lot B" in str(out) and names(out.raw_output.source_nodes) == {"memo-2023.md"}

    # Async, and an abstention (no citations; the closest passages in metadata).
    off = asyncio.run(engine.aquery("Who won the 2018 football World Cup?"))
    assert off.metadata["abstained"] is True and off.source_nodes == []
    assert off.metadata["related"]


def test_chat_engine_keeps_follow_ups_and_scope(memo_assistant, no_default_llm):
    from llama_index.core.base.llms.types import MessageRole

    from assistant.integrations.llama_index import AssistantChatEngine

    chat = AssistantChatEngine(memo_assistant, scope={"tags": ["current"]})
    first = chat.chat("Where do staff park?")
    assert "lot D" in first.response and names(first.source_nodes) == {"memo-2024.md"}
    second = chat.chat("And when does the cafeteria close?")
    assert "4pm" in second.response and "2pm" not in second.response
    assert names(second.source_nodes) == {"memo-2024.md"}
    assert [m.role for m in chat.chat_history] == [MessageRole.USER, MessageRole.ASSISTANT] * 2

    streamed = chat.stream_chat("Where do visitors sign in?")
    text = "".join(streamed.response_gen)
    assert "front desk" in text
    assert names(streamed.source_nodes) == {"memo-2024.md"}
    assert len(chat.chat_history) == 6
    chat.reset()
    assert chat.chat_history == []
