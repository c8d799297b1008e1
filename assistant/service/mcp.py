"""The MCP server (official ``mcp`` SDK): ``assistant mcp`` over stdio for desktop clients and
editors, and streamable HTTP at ``/mcp`` on the web chat and ``assistant serve``.

Tools: ``ask`` (a grounded answer with numbered citations), ``search`` (passages with scores),
``list_documents``. Every result carries its sources and pages, as text for the model to read
and as structured content for programs.
"""

import contextlib
import json
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from assistant.conversations import sources_markdown
from assistant.errors import AssistantError

INSTRUCTIONS = (
    "Answers questions from the user's own documents, offline. Use `ask` for an answer grounded in "
    "numbered citations [n] (it says so when the documents do not contain the answer), `search` for the "
    "passages themselves with relevance scores, `list_documents` to see what is indexed."
)


def _citation(c) -> dict[str, Any]:
    return {"n": c.n, "source": c.source, "title": c.title, "page": c.page, "quote": c.quote,
            "score": round(float(c.score), 4), "chunk_id": c.chunk_id}


def build_mcp(service):
    """An ``MCPServer`` whose tools answer from ``service`` (a ``assistant.service.http.Service``)."""
    server = MCPServer(name="assistant", instructions=INSTRUCTIONS, log_level="WARNING")

    def result(text: str, data: dict[str, Any]) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)

    def failure(exc: AssistantError) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=f"error: {exc}")], is_error=True)

    @server.tool()
    async def ask(question: str, collection: str = "") -> CallToolResult:
        """Answer a question from the indexed documents, citing passages by [n]; the sources
        (document, page, quoted passage) follow the answer."""

        def run():
            answer, _ = service.ask(question, collection=collection or None)
            return answer

        try:
            answer = await anyio.to_thread.run_sync(run)
        except AssistantError as exc:
            return failure(exc)
        sources = sources_markdown(answer)
        text = answer.text + ("\n\nSources:\n" + sources if sources else "")
        return result(text, {"answer": answer.text, "abstained": answer.abstained,
                             "citations": [_citation(c) for c in answer.citations]})

    @server.tool()
    async def search(query: str, k: int = 5, collection: str = "") -> CallToolResult:
        """The passages most relevant to a query, best first, with their source, page and score
        (cosine similarity to the query)."""

        def run():
            return service.assistant_for(collection or None).retrieve(query, k=max(1, min(int(k), 50)))

        try:
            retrieval = await anyio.to_thread.run_sync(run)
        except AssistantError as exc:
            return failure(exc)
        passages = [
            {"rank": i, "source": h.chunk.source, "title": h.chunk.title, "page": h.chunk.page,
             "score": round(float(h.score), 4), "chunk_id": h.chunk.id, "text": h.chunk.text}
            for i, h in enumerate(retrieval.hits, 1)
        ]
        text = "\n\n".join(
            f"{p['rank']}. {p['source']}{', page ' + str(p['page']) if p['page'] else ''} "
            f"(score {p['score']:.2f}):\n{p['text']}"
            for p in passages
        ) or "no passages found"
        return result(text, {"query": query, "passages": passages})

    @server.tool()
    async def list_documents(collection: str = "") -> CallToolResult:
        """The documents indexed in a collection: source, title, passages, when indexed."""
        try:
            docs = await anyio.to_thread.run_sync(lambda: service.documents(collection or None))
        except AssistantError as exc:
            return failure(exc)
        items = [{"source": d.source, "title": d.title, "passages": d.chunks, "ingested_at": d.ingested_at,
                  "doc_id": d.doc_id} for d in docs]
        text = "\n".join(f"- {d['source']} ({d['passages']} passages)" for d in items) or "no documents indexed"
        return result(text, {"documents": items})

    return server


class MCPHttp:
    """Streamable HTTP for an ``MCPServer`` on an existing app: the ``/mcp`` route (behind the
    API's keys) and the lifespan that runs its session manager."""

    def __init__(self, service, host: str = "127.0.0.1"):
        from mcp.server.transport_security import TransportSecuritySettings

        self.server = build_mcp(service)
        security = None
        if host in ("127.0.0.1", "localhost", "::1"):
            security = TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
            )
        app = self.server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
        self.routes = [r for r in app.routes if getattr(r, "path", "") == "/mcp"]
        self._authorize = _asgi_auth(service.settings)
        for route in self.routes:
            route.app = self._authorize(route.app)

    @contextlib.asynccontextmanager
    async def lifespan(self, app=None):
        async with self.server.session_manager.run():
            yield


def _asgi_auth(settings):
    """Wrap an ASGI app so that it asks for the API's key (or login), like the HTTP API."""
    from assistant.service.http import make_auth
    from fastapi import HTTPException
    from starlette.requests import Request

    check = make_auth(settings)

    def wrap(inner):
        async def app(scope, receive, send):
            if scope["type"] == "http":
                try:
                    check(Request(scope))
                except HTTPException as exc:
                    body = json.dumps({"error": {"message": exc.detail, "type": "authentication_error", "code": None}})
                    headers = [(b"content-type", b"application/json")]
                    headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
                    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
                    await send({"type": "http.response.body", "body": body.encode()})
                    return
            await inner(scope, receive, send)

        return app

    return wrap


def run_stdio(service) -> None:
    """Serve the MCP tools on stdin/stdout until the client closes them."""
    build_mcp(service).run("stdio")


__all__ = ["build_mcp", "MCPHttp", "run_stdio"]
