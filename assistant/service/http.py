"""The HTTP API on FastAPI: served with the web chat (``assistant chat``) and alone (``assistant serve``).

- OpenAI-compatible: ``POST /v1/chat/completions`` (``stream: true`` as server-sent events) and
  ``GET /v1/models``. A "model" is a collection (``default`` = the configured one); the messages
  are the conversation (earlier user/assistant turns are the history of the last user message).
  The reply's content is the grounded answer with its [n] markers and a "Sources:" list; the
  citations as data are in the extra field ``citations`` (and the whole ``ask --json`` answer in
  ``answer``); in a stream both come with the last chunk. ``conversation_id`` (an extra body
  field: an id, or ``"new"``) also records the turn in a stored conversation.
- REST for what the web chat does: ``/api/ask``, ``/api/documents`` (list, upload, delete),
  ``/api/collections``, ``/api/conversations`` (list, create, show, rename, delete, export, ask).
- ``/docs``: the OpenAPI schema of these routes.

Security: with ``api_keys`` set, every request needs ``Authorization: Bearer KEY`` (401
otherwise); without keys but with the web login, HTTP Basic with that login; else (loopback
only, see ``check_exposure``) no key. Request bodies over ``api_max_request_mb`` get 413.
Errors are JSON, ``{"error": {"message", "type", "code"}}``, the message the CLI prints.
"""

import base64
import hmac
import json
import logging
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from assistant.config import Settings
from assistant.conversations import (
    ConversationNotFound,
    ConversationStore,
    new_conversation_id,
    sources_markdown,
    to_json,
    to_markdown,
)
from assistant.errors import AssistantError, CollectionNotFound, ConfigError, EmptyIndex
from assistant.types import Answer

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SOURCES_HEADING = "\n\nSources:\n"


# --- who is asking -------------------------------------------------------------------------------
def parse_api_keys(spec: str) -> dict[str, str]:
    """``api_keys`` as {key: owner}: ``KEY`` (owner "") or ``NAME:KEY`` (owner NAME)."""
    keys: dict[str, str] = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, key = item.partition(":")
        keys[key if sep else name] = name if sep else ""
    return keys


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to serve beyond loopback when nothing asks who is calling."""
    if host not in LOOPBACK and not settings.api_keys and not settings.ui_username:
        raise ConfigError(
            f"refusing to listen on {host} without an API key or a login: anyone on the network could "
            "read your documents. Set api_keys (ASSISTANT_API_KEYS) or ui_username/ui_password, "
            "or listen on 127.0.0.1"
        )


class Unauthorized(HTTPException):
    def __init__(self, message: str, scheme: str = "Bearer"):
        super().__init__(401, message, headers={"WWW-Authenticate": scheme})


def make_auth(settings: Settings) -> Callable[[Request], str]:
    """A FastAPI dependency returning the owner of the request's conversations."""
    keys = parse_api_keys(settings.api_keys)

    def owner(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if keys:
            if scheme.lower() != "bearer" or not credentials:
                raise Unauthorized("missing API key: send the header 'Authorization: Bearer KEY' (api_keys)")
            for key, name in keys.items():
                if hmac.compare_digest(key.encode(), credentials.encode()):
                    return name
            raise Unauthorized("wrong API key (api_keys)")
        if settings.ui_username:
            if scheme.lower() == "basic":
                try:
                    user, _, password = base64.b64decode(credentials).decode().partition(":")
                except ValueError:
                    user = password = ""
                if hmac.compare_digest(user.encode(), settings.ui_username.encode()) and hmac.compare_digest(
                    password.encode(), settings.ui_password.encode()
                ):
                    return user
            raise Unauthorized("log in with the web chat's login (HTTP Basic), or set api_keys", "Basic")
        return ""

    return owner


# --- errors and limits -----------------------------------------------------------------------------
def error_response(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}}, status_code=status, headers=headers
    )


def status_of(exc: AssistantError) -> tuple[int, str]:
    if isinstance(exc, (ConversationNotFound, CollectionNotFound)):
        return 404, "not_found"
    if isinstance(exc, EmptyIndex):
        return 409, "empty_collection"
    return 400, type(exc).__name__


class _TooLarge(Exception):
    pass


def route_class(settings: Settings) -> type[APIRoute]:
    """Routes that refuse oversized bodies before reading them and answer errors as JSON."""
    limit = int(settings.api_max_request_mb * 1024 * 1024)
    too_large = f"the request is over the {settings.api_max_request_mb:g} MB limit (api_max_request_mb)"

    class ServiceRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                length = request.headers.get("content-length")
                if length is not None:
                    if not length.isdigit():
                        return error_response(400, "bad Content-Length header")
                    if int(length) > limit:
                        return error_response(413, too_large, code="request_too_large")
                else:  # a chunked body: count as it arrives
                    receive, seen = request._receive, [0]

                    async def counted():
                        message = await receive()
                        if message.get("type") == "http.request":
                            seen[0] += len(message.get("body", b""))
                            if seen[0] > limit:
                                raise _TooLarge()
                        return message

                    request._receive = counted
                try:
                    return await handler(request)
                except _TooLarge:
                    return error_response(413, too_large, code="request_too_large")
                except HTTPException as exc:
                    kind = "authentication_error" if exc.status_code == 401 else "invalid_request_error"
                    return error_response(exc.status_code, str(exc.detail), kind, headers=exc.headers)
                except RequestValidationError as exc:
                    first = exc.errors()[0] if exc.errors() else {}
                    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
                    return error_response(400, f"bad request: {where + ': ' if where else ''}{first.get('msg', exc)}")
                except AssistantError as exc:
                    status, code = status_of(exc)
                    return error_response(status, str(exc), code=code)

            return route

    return ServiceRoute


# --- request bodies ----------------------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field("default", description="a collection name; 'default' = the configured collection")
    messages: list[ChatMessage]
    stream: bool = False
    conversation_id: str | None = Field(
        None, description="record the turn in this stored conversation ('new' starts one)"
    )


class AskRequest(BaseModel):
    question: str
    collection: str | None = Field(None, description="default: the configured collection")
    conversation_id: str | None = Field(
        None, description="continue this stored conversation ('new' starts one); none = not stored"
    )
    top_k: int | None = Field(None, ge=1, le=50)


class NewConversation(BaseModel):
    title: str = ""
    collection: str | None = None


class Rename(BaseModel):
    title: str


class Question(BaseModel):
    question: str
    top_k: int | None = Field(None, ge=1, le=50)


def message_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content if part.get("type", "text") == "text")


def history_from_messages(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message and the (question, answer) turns before it; system messages are
    instructions for LLMs, not questions, and are left out."""
    talk = [(m.role, message_text(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not talk or talk[-1][0] != "user":
        raise AssistantError("the last message must be the user's question (role 'user')")
    question = talk[-1][1]
    turns: list[tuple[str, str]] = []
    for role, text in talk[:-1]:
        if role == "user":
            turns.append((text, ""))
        elif turns and not turns[-1][1]:
            turns[-1] = (turns[-1][0], text.split(SOURCES_HEADING, 1)[0])
    return question, turns


def reply_content(answer: Answer) -> str:
    sources = sources_markdown(answer)
    return answer.text + (SOURCES_HEADING + sources if sources else "")


# --- the service -------------------------------------------------------------------------------------------
class Service:
    """What the routes and the MCP tools answer with: assistants shared per collection, the
    conversation store, one lock for index writes."""

    def __init__(self, settings: Settings, assistant_for: Callable[..., Any] | None = None):
        self.settings = settings
        self.store = ConversationStore.for_settings(settings)
        self._assistants: dict[Settings, Any] = {}
        self._lock = threading.Lock()
        self.index_lock = threading.Lock()  # uploads and removals, one at a time
        self._assistant_for = assistant_for

    def assistant_for(self, collection: str | None = None, top_k: int | None = None):
        if self._assistant_for is not None:
            return self._assistant_for(collection, top_k)
        from assistant.client import Assistant

        settings = self.settings.for_collection(collection, top_k)
        with self._lock:
            if settings not in self._assistants:
                self._assistants[settings] = Assistant(settings)
            return self._assistants[settings]

    def collection_of(self, model: str | None) -> str:
        return self.settings.collection if not model or model == "default" else model

    def known_collection(self, name: str) -> str:
        """``name`` if it is a collection in the store (or the configured one), else a 404."""
        if name != self.settings.collection and name not in self.assistant_for().collections():
            raise CollectionNotFound(f"no collection {name!r}; GET /v1/models (or assistant collections) lists them")
        return name

    # --- answering, stored or not ---------------------------------------------------------------------------
    def answer_events(self, question: str, *, owner: str = "", collection: str | None = None,
                      history: list | None = None, conversation_id: str | None = None,
                      top_k: int | None = None) -> tuple[Iterator[str | Answer], str | None]:
        """Start answering: (the ``ask_stream`` events, the stored conversation's id or None).

        The first event is computed here, so a bad question, collection or conversation raises
        before anything is streamed. The turn is stored when the ``Answer`` is produced (a new
        conversation is created then: a failed first question leaves none behind)."""
        collection = collection or self.settings.collection
        conv = None
        if conversation_id == "new":
            conv_id = new_conversation_id()
        elif conversation_id:
            conv = self.store.get(conversation_id, owner)
            conv_id = conv.id
            collection = conv.collection or collection
            if not history:
                history = list(conv.answers)
        else:
            conv_id = None
        events = self.assistant_for(collection, top_k).ask_stream(question, history=history or [])
        first = next(events)

        def run() -> Iterator[str | Answer]:
            for item in _chain(first, events):
                if isinstance(item, Answer) and conv_id:
                    if conv is None:
                        self.store.create(owner, collection, item.question, id=conv_id)
                    self.store.add_turn(conv_id, item, owner)
                yield item

        return run(), conv_id

    def ask(self, question: str, **kwargs: Any) -> tuple[Answer, str | None]:
        events, conv_id = self.answer_events(question, **kwargs)
        answer = None
        for item in events:
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer, conv_id

    # --- documents -----------------------------------------------------------------------------------------
    def documents(self, collection: str | None = None):
        try:
            return self.assistant_for(collection).sources()
        except CollectionNotFound:
            return []

    def upload(self, files: list[tuple[str, bytes]], collection: str | None = None):
        from assistant.web.uploads import store_and_ingest

        with tempfile.TemporaryDirectory(prefix="assistant-upload-") as tmp:
            pairs = []
            for i, (name, data) in enumerate(files):
                path = Path(tmp) / f"{i}"
                path.write_bytes(data)
                pairs.append((name, str(path)))
            with self.index_lock:
                return store_and_ingest(self.assistant_for(collection), pairs)

    def remove_document(self, doc_id: str, collection: str | None = None):
        from assistant.web.uploads import is_upload

        assistant = self.assistant_for(collection)
        docs = {d.doc_id: d for d in self.documents(collection)}
        docs.update({d.source: d for d in docs.values()})
        if doc_id not in docs:
            raise CollectionNotFound(
                f"no document {doc_id!r} in collection {assistant.settings.collection!r}; GET /api/documents lists them"
            )
        source = docs[doc_id].source
        with self.index_lock:
            removed = assistant.forget(source)
            if is_upload(assistant.settings, source):
                Path(source).unlink(missing_ok=True)
        return removed


def _chain(first, rest):
    yield first
    yield from rest


def _sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n".encode()


def build_router(service: Service) -> APIRouter:
    """All the API's routes, with authentication and body limits."""
    s = service.settings
    auth = make_auth(s)
    router = APIRouter(route_class=route_class(s), dependencies=[Depends(auth)])

    # --- OpenAI-compatible ---------------------------------------------------------------------------------
    @router.get("/v1/models", tags=["OpenAI-compatible"], summary="Collections, as models")
    def list_models() -> dict:
        names = ["default", *[n for n in service.assistant_for().collections() if n != "default"]]
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "assistant"} for n in names],
        }

    @router.post("/v1/chat/completions", tags=["OpenAI-compatible"],
                 summary="Answer the last user message from a collection, with citations")
    def chat_completions(body: ChatCompletionRequest, owner: str = Depends(auth)):
        question, turns = history_from_messages(body.messages)
        collection = service.known_collection(service.collection_of(body.model))
        events, conv_id = service.answer_events(
            question, owner=owner, collection=collection, history=turns, conversation_id=body.conversation_id
        )
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        base = {"id": completion_id, "created": created, "model": body.model}
        extra = {"conversation_id": conv_id} if conv_id else {}
        if not body.stream:
            answer = next(item for item in events if isinstance(item, Answer))
            return {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_content(answer)},
                             "finish_reason": "stop"}],
                "citations": [c.to_dict() for c in answer.citations],
                "answer": answer.to_dict(),
                **extra,
            }

        def chunk(delta: dict, finish: str | None = None, **more: Any) -> bytes:
            return _sse({**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more})

        def stream() -> Iterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                for item in events:
                    if isinstance(item, Answer):
                        sources = sources_markdown(item)
                        if sources:
                            yield chunk({"content": SOURCES_HEADING + sources})
                        yield chunk({}, "stop", citations=[c.to_dict() for c in item.citations],
                                    answer=item.to_dict(), **extra)
                    elif item:
                        yield chunk({"content": item})
            except AssistantError as exc:
                yield _sse({"error": {"message": str(exc), "type": "invalid_request_error", "code": None}})
            except Exception as exc:  # the stream has started: report in it, details to the log
                log.exception("streaming an answer failed")
                yield _sse({"error": {"message": f"{type(exc).__name__}: {exc}", "type": "server_error", "code": None}})
            yield _sse("[DONE]")

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # --- REST ---------------------------------------------------------------------------------------------------
    @router.post("/api/ask", tags=["ask"], summary="Answer a question (the `assistant ask --json` object)")
    def ask(body: AskRequest, owner: str = Depends(auth)) -> dict:
        answer, conv_id = service.ask(body.question, owner=owner, collection=body.collection,
                                      conversation_id=body.conversation_id, top_k=body.top_k)
        return {**answer.to_dict(), **({"conversation_id": conv_id} if conv_id else {})}

    @router.get("/api/collections", tags=["documents"], summary="Collections in the store")
    def collections() -> list[str]:
        names = service.assistant_for().collections()
        return names if s.collection in names else [s.collection, *names]

    @router.get("/api/documents", tags=["documents"], summary="Documents indexed in a collection")
    def documents(collection: str | None = None) -> list[dict]:
        return [d.to_dict() for d in service.documents(collection)]

    @router.post("/api/documents", tags=["documents"], summary="Upload and index files")
    def upload(files: list[UploadFile] = File(...), collection: str | None = Form(None)) -> list[dict]:
        data = [(f.filename or "upload", f.file.read()) for f in files]
        return [vars(r) for r in service.upload(data, collection)]

    @router.delete("/api/documents/{doc_id:path}", tags=["documents"],
                   summary="Remove a document from the index (by doc_id or source)")
    def delete_document(doc_id: str, collection: str | None = None) -> list[dict]:
        return [d.to_dict() for d in service.remove_document(doc_id, collection)]

    @router.get("/api/conversations", tags=["conversations"], summary="Your conversations, newest first")
    def conversations(owner: str = Depends(auth)) -> list[dict]:
        return [c.to_dict(with_turns=False) for c in service.store.list(owner)]

    @router.post("/api/conversations", tags=["conversations"], summary="Start a conversation")
    def new_conversation(body: NewConversation, owner: str = Depends(auth)) -> dict:
        collection = service.known_collection(body.collection or s.collection)
        return service.store.create(owner, collection, body.title).to_dict()

    @router.get("/api/conversations/{conversation_id}", tags=["conversations"], summary="A conversation and its answers")
    def conversation(conversation_id: str, owner: str = Depends(auth)) -> dict:
        return service.store.get(conversation_id, owner).to_dict()

    @router.patch("/api/conversations/{conversation_id}", tags=["conversations"], summary="Rename a conversation")
    def rename(conversation_id: str, body: Rename, owner: str = Depends(auth)) -> dict:
        return service.store.rename(conversation_id, body.title, owner).to_dict(with_turns=False)

    @router.delete("/api/conversations/{conversation_id}", tags=["conversations"], summary="Delete a conversation")
    def delete_conversation(conversation_id: str, owner: str = Depends(auth)) -> dict:
        service.store.delete(conversation_id, owner)
        return {"deleted": conversation_id}

    @router.get("/api/conversations/{conversation_id}/export", tags=["conversations"],
                summary="Export a conversation as Markdown (with its sources) or JSON")
    def export(conversation_id: str, format: Literal["markdown", "json"] = Query("markdown"),
               owner: str = Depends(auth)) -> Response:
        conv = service.store.get(conversation_id, owner)
        name = f"conversation-{conv.id}.{'md' if format == 'markdown' else 'json'}"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        if format == "json":
            return Response(to_json(conv), media_type="application/json", headers=disposition)
        return PlainTextResponse(to_markdown(conv), media_type="text/markdown", headers=disposition)

    @router.post("/api/conversations/{conversation_id}/messages", tags=["conversations"],
                 summary="Ask in a conversation (its earlier turns are the history)")
    def ask_in(conversation_id: str, body: Question, owner: str = Depends(auth)) -> dict:
        answer, _ = service.ask(body.question, owner=owner, conversation_id=conversation_id, top_k=body.top_k)
        return {**answer.to_dict(), "conversation_id": conversation_id}

    return router


def openapi_schema(router: APIRouter, title: str = "Ask your documents: HTTP API") -> dict:
    """The schema of the API's own routes (not the web chat's internals)."""
    from fastapi.openapi.utils import get_openapi

    return get_openapi(title=title, version="1", routes=router.routes)
