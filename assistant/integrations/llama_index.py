"""Our retrieval and grounded answers inside a llama-index pipeline.

    from assistant.integrations.llama_index import AssistantRetriever, AssistantQueryEngine

    retriever = AssistantRetriever(collection="notes", scope={"tags": ["current"]})
    nodes = retriever.retrieve("Where do staff park?")        # NodeWithScore, fused dense + BM25
    engine = AssistantQueryEngine(collection="notes", scope={"tags": ["current"]})
    response = engine.query("Where do staff park?")           # response.response: our cited answer
    response.source_nodes                                      # our citations, with scores and pages
    chat = AssistantChatEngine(collection="notes")             # follow-ups keep their subject

Nothing here needs a llama-index LLM or embedding model: answers come from our answerer (the
``answerer`` setting) and vectors from our encoder, so ``Settings.llm`` can stay unset and
llama-index never reaches for a cloud default.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ConfigDict, PrivateAttr

from assistant.client import Assistant, Chat, get_assistant
from assistant.index.scope import Scope
from assistant.types import Answer, Chunk, Citation


def _assistant(assistant: Assistant | None, overrides: dict[str, Any]) -> Assistant:
    if assistant is not None and overrides:
        raise TypeError("give an Assistant or settings overrides, not both")
    return assistant if assistant is not None else get_assistant(**overrides)


def _scope(scope: Any) -> Scope | None:
    return None if scope is None else Scope.of(scope)


def node_from_chunk(chunk: Chunk, **extra: Any) -> TextNode:
    """A retrieved chunk as a llama-index node (its id is our chunk id)."""
    meta = {"source": chunk.source, "title": chunk.title, "doc_id": chunk.doc_id, "ordinal": chunk.ordinal,
            "start": chunk.start, "end": chunk.end}
    if chunk.page is not None:
        meta["page"] = chunk.page
    section = getattr(chunk, "section", None)  # chunks carry their section when ingest knows it
    if section:
        meta["section"] = section
    meta.update(extra)
    return TextNode(id_=chunk.id, text=chunk.text, metadata=meta, ref_doc_id=None)


def node_from_citation(c: Citation) -> NodeWithScore:
    """A citation of an answer as a source node: the cited passage, its number [n], the quote."""
    meta = {"n": c.n, "source": c.source, "title": c.title, "chunk_id": c.chunk_id, "ordinal": c.ordinal,
            "quote": c.quote}
    if c.page is not None:
        meta["page"] = c.page
    section = getattr(c, "section", None)
    if section:
        meta["section"] = section
    node = TextNode(id_=c.chunk_id, text=c.passage or c.quote, metadata=meta)
    return NodeWithScore(node=node, score=float(c.score))


def response_from_answer(answer: Answer) -> Response:
    """Our answer as a llama-index ``Response``: text, citations as source nodes, the rest in metadata."""
    return Response(
        response=answer.text,
        source_nodes=[node_from_citation(c) for c in answer.citations],
        metadata={"abstained": answer.abstained, "backend": answer.backend, "scope": dict(answer.scope),
                  "related": [c.to_dict() for c in answer.related], "timings_ms": dict(answer.timings_ms),
                  "standalone_question": answer.standalone_question},
    )


class AssistantRetriever(BaseRetriever):
    """A llama-index retriever over our fused (dense + BM25) retrieval, within ``scope``.

    ``score`` of each node is the passage's cosine similarity to the query, as our citations show.
    """

    def __init__(self, assistant: Assistant | None = None, *, scope: Any = None, k: int | None = None,
                 mode: str = "fused", **overrides: Any):
        self._assistant = _assistant(assistant, overrides)
        self._scope = _scope(scope)
        self._k = k
        self._mode = mode
        super().__init__()

    def _retrieve(self, query_bundle: QueryBundle) -> List[NodeWithScore]:
        retrieval = self._assistant.retrieve(query_bundle.query_str, self._k, self._mode, scope=self._scope)
        return [NodeWithScore(node=node_from_chunk(h.chunk, fused=h.fused), score=float(h.score))
                for h in retrieval.hits]


class AssistantQueryEngine(CustomQueryEngine):
    """A llama-index query engine whose response is our grounded answer and whose
    ``source_nodes`` are its citations (abstentions have none; ``metadata["related"]`` lists
    the closest passages)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    _assistant: Assistant = PrivateAttr()
    _scope: Optional[Scope] = PrivateAttr(default=None)

    def __init__(self, assistant: Assistant | None = None, *, scope: Any = None, **overrides: Any):
        super().__init__()
        self._assistant = _assistant(assistant, overrides)
        self._scope = _scope(scope)

    def custom_query(self, query_str: str) -> Response:
        return response_from_answer(self._assistant.ask(query_str, scope=self._scope))


class AssistantChatEngine(BaseChatEngine):
    """A llama-index chat engine over our ``Chat``: follow-ups find their subject, the scope holds
    for the whole conversation, every response carries its citations as ``source_nodes``."""

    def __init__(self, assistant: Assistant | None = None, *, scope: Any = None, **overrides: Any):
        self._chat = Chat(_assistant(assistant, overrides), scope=scope)

    @property
    def chat_history(self) -> List[ChatMessage]:
        out: List[ChatMessage] = []
        for question, answer in self._chat.history:
            out.append(ChatMessage(role=MessageRole.USER, content=question))
            out.append(ChatMessage(role=MessageRole.ASSISTANT, content=answer))
        return out

    def reset(self) -> None:
        self._chat.reset()

    def _use_history(self, chat_history: Optional[List[ChatMessage]]) -> None:
        """A history passed in replaces the conversation's (llama-index's convention)."""
        if chat_history is None:
            return
        from assistant.answer.followup import as_turns

        pairs: list[tuple[str, str]] = []
        for m in chat_history:
            if m.role == MessageRole.USER:
                pairs.append((m.content or "", ""))
            elif m.role == MessageRole.ASSISTANT and pairs:
                pairs[-1] = (pairs[-1][0], m.content or "")
        self._chat.reset()
        self._chat.turns.extend(as_turns(pairs))

    def chat(self, message: str, chat_history: Optional[List[ChatMessage]] = None) -> AgentChatResponse:
        self._use_history(chat_history)
        answer = self._chat.ask(message)
        return AgentChatResponse(response=answer.text, source_nodes=[node_from_citation(c) for c in answer.citations],
                                 metadata={"abstained": answer.abstained, "scope": dict(answer.scope)})

    def stream_chat(self, message: str, chat_history: Optional[List[ChatMessage]] = None) -> StreamingAgentChatResponse:
        """Pieces arrive on ``response_gen`` as our answerer writes them; ``source_nodes`` are
        filled when the answer is complete."""
        self._use_history(chat_history)
        out = StreamingAgentChatResponse()

        def run() -> None:
            try:
                for item in self._chat.stream(message):
                    if isinstance(item, str):
                        out.put_in_queue(item)
                    else:
                        out.source_nodes.extend(node_from_citation(c) for c in item.citations)
                        out.response = item.text
                out.is_done = True
            except Exception as exc:  # raised by response_gen (which waits while not is_done)
                out.exception = exc
            finally:
                out.is_function_not_none_thread_event.set()

        thread = threading.Thread(target=run, name="assistant-stream-chat", daemon=True)
        out.write_response_to_history_thread = thread
        thread.start()
        return out

    async def achat(self, message: str, chat_history: Optional[List[ChatMessage]] = None) -> AgentChatResponse:
        import asyncio

        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(self, message: str, chat_history: Optional[List[ChatMessage]] = None):
        raise NotImplementedError("astream_chat: use stream_chat (or achat for a whole answer)")


__all__ = ["AssistantRetriever", "AssistantQueryEngine", "AssistantChatEngine", "node_from_chunk",
           "node_from_citation", "response_from_answer"]
