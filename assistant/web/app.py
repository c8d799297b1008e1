"""The web chat (``assistant chat``): a Gradio app over the same ``Assistant`` the CLI uses.

- Chat: answers with [n] markers and their sources underneath (document, page, quoted passage,
  relevance; click to open). Conversations are stored (``assistant/web/conversations.py``): the
  sidebar lists them, newest first, to reopen, rename, delete or export; a reload reopens the
  open one.
- Documents: upload files into the selected collection, see what is indexed, remove a document.
- Settings: which embedding model and answerer are in use; top-k for this session.

API endpoints (``gradio_client``): ``/chat`` (the conversation), ``/ask`` (one question, the
``ask --json`` answer), ``/documents`` (what is indexed), ``/collections``; the HTTP API of
``assistant/service/`` (/v1, /api, /mcp, /docs) is served beside the page.
"""

import logging
import threading
import time
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator

from assistant.config import Settings
from assistant.errors import AssistantError, CollectionNotFound, EmptyIndex
from assistant.answer.followup import Turn
from assistant.types import Answer, DocumentRecord
from assistant.web.render import (
    display_name,
    escape_text,
    new_message_id,
    render_answer,
    render_error,
    render_partial,
)

log = logging.getLogger(__name__)

MAX_TURNS = 50  # a session keeps this many turns of history

# Example questions shown in an empty chat when the collection holds the sample article.
SAMPLE_QUESTIONS = {
    "us-strikes-iran-militias.txt": [
        "How many targets did the US strike?",
        "What attack were the airstrikes a response to?",
        "Who condemned the airstrikes?",
        "Who won the 2022 World Cup?",
    ]
}

CSS = """
.gradio-container { max-width: 1100px !important; margin: 0 auto; }
#app-title h1 { margin-bottom: 0; }
#status { opacity: 0.8; font-size: 0.9em; }
#chat .message a.cite { text-decoration: none; font-weight: 600; font-size: 0.85em;
  vertical-align: super; padding: 0 2px; border-radius: 4px; cursor: pointer; }
#chat .message a.cite:hover { background: var(--color-accent-soft); }
#chat .sources { margin-top: 0.6em; border-top: 1px solid var(--border-color-primary); padding-top: 0.4em; }
#chat .sources-title { font-size: 0.8em; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em; opacity: 0.7; margin-bottom: 0.3em; }
#chat details.source { margin: 0.25em 0; border: 1px solid var(--border-color-primary);
  border-radius: 6px; padding: 0.3em 0.6em; background: var(--background-fill-secondary); }
#chat details.source[open] { background: var(--background-fill-primary); }
#chat details.source.flash { outline: 2px solid var(--color-accent); }
#chat details.source summary { cursor: pointer; list-style-position: inside; }
#chat .source-n { font-weight: 700; }
#chat .source-doc { font-weight: 600; }
#chat .source-score { float: right; font-size: 0.8em; opacity: 0.75; font-variant-numeric: tabular-nums; }
#chat details.source[open] .source-quote { display: none; }
#chat .source-quote { display: block; font-style: italic; font-size: 0.9em; opacity: 0.85; margin: 0.15em 0 0 1.2em; }
#chat .source-passage { white-space: normal; font-size: 0.9em; margin: 0.4em 0 0.2em 0;
  padding-left: 0.6em; border-left: 3px solid var(--border-color-accent); }
#chat .source-passage mark { background: var(--color-accent-soft); color: inherit; padding: 0 1px; }
#chat .answer-span { background: #ffe066; color: #111; font-weight: 700; padding: 0 2px; border-radius: 2px; }
#chat .short-answer { font-weight: 700; font-size: 1.1em; }
#chat .abstained-badge { display: inline-block; font-weight: 700; font-size: 0.85em; padding: 0.15em 0.6em;
  border-radius: 999px; background: #fdecc8; color: #6b4500; }
#chat .sources.related .sources-title { color: #8a5a00; opacity: 1; }
#chat .chat-error { color: #a11; }
#chat .answer-meta { font-size: 0.75em; opacity: 0.6; margin-top: 0.3em; }
.upload-results table, .doc-list table { width: 100%; border-collapse: collapse; font-size: 0.92em; }
.upload-results td, .upload-results th, .doc-list td, .doc-list th { padding: 4px 8px;
  border-bottom: 1px solid var(--border-color-primary); text-align: left; }
.status-added, .status-updated { color: #17702f; font-weight: 600; }
.status-unchanged { color: #555; font-weight: 600; }
.status-skipped, .status-removed { color: #a15c00; font-weight: 600; }
"""

# Clicking an [n] marker opens that source under the answer and brings it into view.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.cite") : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var id = link.getAttribute("data-cite") || (link.getAttribute("href") || "").replace(/^#/, "");
  var target = id ? document.getElementById(id) : null;
  if (!target) return;
  target.open = true;
  target.scrollIntoView({block: "nearest"});
  target.classList.add("flash");
  setTimeout(function () { target.classList.remove("flash"); }, 1500);
}, true);
</script>
"""


def _theme():
    import gradio as gr

    # System fonts only: the default theme would fetch web fonts, and this app runs offline.
    return gr.themes.Soft(
        primary_hue="indigo",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def _session() -> dict[str, Any]:
    return {"turns": [], "messages": [], "conversation_id": None}


class ChatApp:
    """The web chat for one base configuration; builds the Gradio Blocks."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._assistants: dict[Settings, Any] = {}
        self._lock = threading.Lock()
        from assistant.web.conversations import ConversationList

        self.conversations = ConversationList(settings)

    # --- the assistant behind each (collection, top-k) ---------------------------------
    def settings_for(self, collection: str | None, top_k: int | float | None = None) -> Settings:
        settings = self.settings.for_collection(collection, top_k)
        return settings

    def assistant_for(self, collection: str | None = None, top_k: int | float | None = None):
        """A shared ``Assistant`` (models load once for everybody; conversations are per session)."""
        from assistant.client import Assistant

        settings = self.settings_for(collection, top_k)
        with self._lock:
            if settings not in self._assistants:
                self._assistants[settings] = Assistant(settings)
            return self._assistants[settings]

    def warm_up(self) -> None:
        """Load everything the first answer needs (encoder, keyword index, sentence splitter)
        while the page loads, so the first question is answered as fast as the next ones."""
        try:
            self.assistant_for().ask("What are these documents about?")
        except Exception as exc:  # an empty or missing collection is fine at start
            log.debug("warm-up: %s", exc)

    # --- data for the page ------------------------------------------------------------
    def collections(self) -> list[str]:
        try:
            names = self.assistant_for().collections()
        except AssistantError:
            names = []
        if self.settings.collection not in names:
            names = [self.settings.collection, *names]
        return names

    def documents(self, collection: str | None) -> list[DocumentRecord]:
        try:
            return self.assistant_for(collection).sources()
        except CollectionNotFound:
            return []

    def examples_for(self, docs: list[DocumentRecord]) -> list[dict[str, str]]:
        names = {Path(d.source).name for d in docs}
        return [{"text": q} for name, qs in SAMPLE_QUESTIONS.items() if name in names for q in qs]

    def status_line(self, collection: str, docs: list[DocumentRecord]) -> str:
        n = len(docs)
        chunks = sum(d.chunks for d in docs)
        s = self.settings
        docs_text = f"{n} document{'s' if n != 1 else ''}, {chunks} passages" if n else "no documents yet: add some in the Documents tab"
        return (
            f"Collection **{escape_text(collection)}** · {docs_text} · "
            f"answers: **{escape_text(answerer_label(s))}** · embeddings: {escape_text(embedding_label(s))}"
        )

    # --- chat ----------------------------------------------------------------------------
    def respond(self, question: str, session: dict, collection: str, top_k: float,
                scope_sources: list[str] | None = None, scope_tags: list[str] | None = None,
                request=None) -> Iterator[tuple]:
        """Answer ``question`` in this session's conversation (stored once answered), within the
        picked documents/tags.

        Yields (textbox, chat messages, session, answer as ``ask --json`` or None until done)."""
        from assistant.web import scope_picker

        scope = scope_picker.scope_of(scope_sources, scope_tags)
        session = {**session, "scope": scope}  # the conversation's scope goes with it
        scoped = {"scope": scope} if scope else {}
        question = (question or "").strip()
        if not question:
            yield "", session["messages"], session, None
            return
        messages = list(session["messages"])
        messages.append({"role": "user", "content": escape_text(question)})
        messages.append({"role": "assistant", "content": '<span class="thinking">Searching your documents…</span>'})
        yield "", messages, session, None
        turns = [Turn(**t) for t in session["turns"]]
        started = time.perf_counter()
        answer: Answer | None = None
        try:
            assistant = self.assistant_for(collection, top_k)
            stream = getattr(assistant, "ask_stream", None)
            if callable(stream):
                text = ""
                for piece in stream(question, history=turns, **scoped):
                    if isinstance(piece, Answer):
                        answer = piece
                        break
                    text += str(piece)
                    messages[-1] = {"role": "assistant", "content": render_partial(text)}
                    yield "", messages, session, None
            if answer is None:
                answer = assistant.ask(question, history=turns, **scoped)
        except (CollectionNotFound, EmptyIndex):
            messages[-1] = {
                "role": "assistant",
                "content": render_error(
                    f"Collection '{collection}' has no documents yet. Add some in the Documents tab, then ask again."
                ),
            }
            yield "", messages, {**session, "messages": messages}, None
            return
        except AssistantError as exc:
            messages[-1] = {"role": "assistant", "content": render_error(str(exc))}
            yield "", messages, {**session, "messages": messages}, None
            return
        except Exception as exc:  # keep the page alive; the details go to the server log
            log.exception("answering failed")
            messages[-1] = {"role": "assistant", "content": render_error(f"Something went wrong: {type(exc).__name__}: {exc}")}
            yield "", messages, {**session, "messages": messages}, None
            return
        seconds = time.perf_counter() - started
        content = render_answer(answer, new_message_id())
        within = f" · within {escape_text(scope_picker.label(scope_sources, scope_tags))}" if scope else ""
        content += f'\n\n<div class="answer-meta">{escape_text(answer.backend)} · {seconds:.2f} s{within}</div>'
        messages[-1] = {"role": "assistant", "content": content}
        turn = Turn(answer.question, answer.standalone_question or answer.question, answer.text, answer.short_answer)
        new_turns = [*session["turns"], vars(turn)][-MAX_TURNS:]
        from assistant.web.conversations import owner_of

        conv_id = self.conversations.record(session, answer, collection, owner_of(request, self.settings))
        new_session = {"turns": new_turns, "messages": messages[-2 * MAX_TURNS :], "conversation_id": conv_id,
                       "scope": scope}
        yield "", messages, new_session, answer.to_dict()

    def ask_api(self, question: str, collection: str = "") -> dict:
        """Answer one question (no conversation); the same JSON as ``assistant ask --json``."""
        return self.assistant_for(collection or None).ask(question).to_dict()

    # --- documents ---------------------------------------------------------------------------
    def add_files(self, files: list[str] | None, collection: str, progress=None) -> str:
        from assistant.web.uploads import store_and_ingest

        if not files:
            return ""
        pairs = [(Path(f).name, f) for f in files]

        def report(i: int, n: int, name: str) -> None:
            if progress is not None:
                progress((i, n), desc=f"indexing {name}" if name else "done", unit="files")

        try:
            results = store_and_ingest(self.assistant_for(collection), pairs, report)
        except AssistantError as exc:
            return render_error(str(exc))
        except Exception as exc:  # keep the page alive; the details go to the server log
            log.exception("upload failed")
            return render_error(f"The upload failed: {type(exc).__name__}: {exc}")
        return upload_results_html(results)

    def remove_document(self, source: str, collection: str) -> str:
        from assistant.web.uploads import is_upload

        if not source:
            return render_error("Pick a document to remove.")
        try:
            assistant = self.assistant_for(collection)
            known = {d.source for d in self.documents(collection)}
        except AssistantError as exc:
            return render_error(str(exc))
        if source not in known:
            return render_error("That document is not in this collection (any more).")
        try:
            removed = assistant.forget(source)
        except AssistantError as exc:
            return render_error(str(exc))
        if is_upload(assistant.settings, source):
            Path(source).unlink(missing_ok=True)
        names = ", ".join(escape_text(Path(d.source).name) for d in removed)
        return f'<div class="status-removed">Removed {names}.</div>'

    # --- the page ------------------------------------------------------------------------------
    def build(self):
        import gradio as gr

        from assistant.web.uploads import supported_types_text
        from ingest.readers import SUPPORTED_SUFFIXES

        s = self.settings
        first_docs = self.documents(s.collection)

        def refresh(collection: str):
            try:
                docs = self.documents(collection)
            except AssistantError as exc:
                return (render_error(str(exc)), "", gr.update(choices=[], value=None), gr.update(examples=None))
            choices = [(f"{Path(d.source).name}  ({_passages(d.chunks)})", d.source) for d in docs]
            return (
                self.status_line(collection, docs),
                documents_html(docs),
                gr.update(choices=choices, value=None),
                gr.update(examples=self.examples_for(docs) or None),
            )

        with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
            session = gr.State(_session())
            self.conversations.build_panel()
            # The finished answer as JSON, for API clients of /chat (not shown on the page).
            last_answer = gr.JSON(visible=False, label="answer")
            with gr.Row(equal_height=True):
                gr.Markdown("# Ask your documents", elem_id="app-title")
                collection = gr.Dropdown(
                    choices=self.collections(),
                    value=s.collection,
                    label="Collection (type a new name to start one)",
                    allow_custom_value=True,
                    elem_id="collection",
                    scale=0,
                    min_width=340,
                )
            status = gr.Markdown(self.status_line(s.collection, first_docs), elem_id="status")
            with gr.Tabs():
                with gr.Tab("Chat", id="chat-tab"):
                    from assistant.web import scope_picker

                    scope_sources, scope_tags = scope_picker.build(first_docs)
                    chatbot = gr.Chatbot(
                        value=[],
                        elem_id="chat",
                        label="Conversation",
                        show_label=False,
                        height="64vh",
                        min_height=420,
                        layout="bubble",
                        sanitize_html=True,
                        render_markdown=True,
                        latex_delimiters=[],
                        allow_tags=False,
                        buttons=[],
                        feedback_options=None,
                        examples=self.examples_for(first_docs) or None,
                        placeholder=(
                            "**Ask a question about your documents.**<br>"
                            "Answers quote the documents, with numbered sources [n] you can open."
                        ),
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="Ask a question about your documents… (Enter to send)",
                            show_label=False,
                            elem_id="question",
                            scale=6,
                            autofocus=True,
                            max_length=s.max_question_chars,
                            lines=1,
                        )
                        send = gr.Button("Ask", variant="primary", elem_id="send", scale=0, min_width=90)
                        clear = gr.Button("Clear conversation", elem_id="clear", scale=0, min_width=230)
                with gr.Tab("Documents", id="docs-tab"):
                    gr.Markdown(
                        f"Add files to the selected collection ({escape_text(supported_types_text())}; "
                        f"up to {min(s.ui_max_upload_mb, s.max_file_mb):g} MB each, "
                        f"{s.ui_max_upload_files} at a time). Uploading a file again is a no-op; "
                        "a different file with a name already taken is kept beside it as name (2)."
                    )
                    uploads = gr.File(
                        file_count="multiple",
                        file_types=list(SUPPORTED_SUFFIXES),
                        label="Upload documents",
                        elem_id="upload",
                        height=140,
                    )
                    upload_result = gr.HTML(elem_id="upload-result", elem_classes=["upload-results"])
                    gr.Markdown("### Indexed documents")
                    doc_list = gr.HTML(documents_html(first_docs), elem_id="doc-list", elem_classes=["doc-list"])
                    with gr.Row():
                        to_remove = gr.Dropdown(
                            choices=[(f"{Path(d.source).name}  ({_passages(d.chunks)})", d.source) for d in first_docs],
                            value=None,
                            label="Remove a document from the index",
                            elem_id="remove-choice",
                            scale=4,
                        )
                        remove = gr.Button("Remove", variant="stop", elem_id="remove", scale=0, min_width=110)
                    remove_result = gr.HTML(elem_id="remove-result")
                with gr.Tab("Settings", id="settings-tab"):
                    gr.Markdown(settings_markdown(s), elem_id="settings")
                    top_k = gr.Slider(
                        1, 20, value=s.top_k, step=1,
                        label="Passages to answer from (top-k), for this session",
                        elem_id="top-k",
                    )

            # chat
            chat_inputs = [question, session, collection, top_k, scope_sources, scope_tags]
            chat_outputs = [question, chatbot, session, last_answer]

            def respond(question, session, collection, top_k, scope_sources, scope_tags, request: gr.Request):
                """Ask in this session's conversation. Returns (textbox, messages, answer JSON)."""
                yield from self.respond(question, session, collection, top_k, scope_sources, scope_tags, request)

            asked = gr.on(
                [question.submit, send.click],
                respond,
                chat_inputs,
                chat_outputs,
                api_name="chat",
                concurrency_limit=4,
                show_progress="hidden",
            )

            def pick_example(evt: gr.SelectData):
                value = evt.value if isinstance(evt.value, dict) else {"text": str(evt.value)}
                return value.get("text", "")

            asked_example = chatbot.example_select(pick_example, None, question, api_visibility="private").then(
                respond, chat_inputs, chat_outputs, api_visibility="private", concurrency_limit=4,
                show_progress="hidden",
            )

            def clear_conversation():
                return [], _session(), ""

            cleared = clear.click(clear_conversation, None, [chatbot, session, question], api_name="clear")
            chatbot_cleared = chatbot.clear(clear_conversation, None, [chatbot, session, question], api_visibility="private")
            self.conversations.wire(demo, chatbot, session, question, [asked, asked_example, cleared, chatbot_cleared],
                                    MAX_TURNS)

            # documents
            def add(files, collection_name, progress=gr.Progress()):
                return self.add_files(files, collection_name, progress)

            refresh_outputs = [status, doc_list, to_remove, chatbot]
            uploads.upload(
                add, [uploads, collection], upload_result, api_visibility="private",
                concurrency_id="index", concurrency_limit=1,
            ).then(lambda: None, None, uploads, api_visibility="private").then(
                refresh, collection, refresh_outputs, api_visibility="private", show_progress="hidden"
            ).then(
                lambda: gr.update(choices=self.collections()), None, collection, api_visibility="private",
                show_progress="hidden",
            )
            remove.click(
                self.remove_document, [to_remove, collection], remove_result, api_visibility="private",
                concurrency_id="index", concurrency_limit=1,
            ).then(refresh, collection, refresh_outputs, api_visibility="private", show_progress="hidden")
            collection.change(refresh, collection, refresh_outputs, api_visibility="private", show_progress="hidden")
            demo.load(refresh, collection, refresh_outputs, api_visibility="private", show_progress="hidden")

            # the scope picker follows the documents (the list's HTML changes whenever they do)
            def refresh_picker(collection_name, sources_now, tags_now):
                try:
                    docs = self.documents(collection_name)
                except AssistantError:
                    docs = []
                return scope_picker.refreshed(docs, sources_now, tags_now)

            picker_io = ([collection, scope_sources, scope_tags], [scope_sources, scope_tags])
            for event in (doc_list.change, demo.load):
                event(refresh_picker, *picker_io, api_visibility="private", show_progress="hidden")

            # API-only endpoints
            def ask(question: str, collection: str = "") -> dict:
                """Answer one question (no conversation). Returns the `assistant ask --json` object."""
                try:
                    return self.ask_api(question, collection)
                except AssistantError as exc:  # the client sees the message, not "Error"
                    raise gr.Error(str(exc), print_exception=False) from None

            def documents(collection: str = "") -> list:
                """The documents indexed in a collection."""
                return [d.to_dict() for d in self.documents(collection or s.collection)]

            def collections() -> list:
                """The collections in the store."""
                return self.collections()

            gr.api(ask, api_name="ask", concurrency_limit=4)
            gr.api(documents, api_name="documents")
            gr.api(collections, api_name="collections")
        return demo


def answerer_label(s: Settings) -> str:
    """Which answerer is active, and its model when it has one."""
    if s.answerer == "extractive":
        return "extractive (quotes the documents; no LLM)"
    return s.answerer


def embedding_label(s: Settings) -> str:
    """The embedding model, and the server it comes from when not computed in-process."""
    from assistant.embed.encoder import embedding_identity, is_remote

    return f"{embedding_identity(s)} at {s.embed_base_url or 'its default URL'}" if is_remote(s) else s.embed_model


def settings_markdown(s: Settings) -> str:
    rows = [
        ("Embedding model", embedding_label(s)),
        ("Answerer", answerer_label(s)),
        ("Passages to answer from (top-k)", str(s.top_k)),
        ("Candidates per retriever before fusion", str(s.fetch_k)),
        ("Index", s.chroma_url or str(s.data_dir)),
    ]
    # Settings added by LLM backends show up here without the UI knowing them in advance.
    for f in fields(s):
        if f.name.startswith("llm") and not f.metadata.get("secret") and not any(
            word in f.name for word in ("key", "token", "password", "secret")
        ):
            rows.append((f.name, str(getattr(s, f.name))))
    lines = ["| Setting | Value |", "|---|---|"]
    lines += [f"| {escape_text(k)} | {escape_text(v)} |" for k, v in rows]
    lines.append("")
    lines.append("Change them with `assistant chat --help` options, `ASSISTANT_*` environment variables or the config file (`assistant config`).")
    return "\n".join(lines)


def documents_html(docs: list[DocumentRecord]) -> str:
    if not docs:
        return '<p class="doc-empty">No documents in this collection yet.</p>'
    rows = "".join(
        f"<tr><td>{escape_text(Path(d.source).name if d.kind == 'file' else d.source)}</td>"
        f"<td>{escape_text(d.title)}</td><td>{d.chunks}</td><td>{escape_text(d.ingested_at)}</td>"
        f"<td>{'' if d.complete else 'incomplete: re-upload'}</td></tr>"
        for d in docs
    )
    return (
        "<table><thead><tr><th>Document</th><th>Title</th><th>Passages</th><th>Indexed</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _passages(n: int) -> str:
    return f"{n} passage{'s' if n != 1 else ''}" if n else ""


def upload_results_html(results) -> str:
    if not results:
        return ""
    rows = "".join(
        f'<tr><td>{escape_text(r.name)}</td><td class="status-{escape_text(r.status)}">{escape_text(r.status)}</td>'
        f"<td>{escape_text(r.reason or _passages(r.chunks))}</td></tr>"
        for r in results
    )
    batch = uuid.uuid4().hex[:8]  # every upload's table differs, even when the results are the same
    return (
        f'<table data-batch="{batch}"><thead><tr><th>File</th><th>Result</th><th>Detail</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def launch(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    block: bool = True,
    quiet: bool = False,
    app: "ChatApp | None" = None,
):
    """Start the web chat. Returns the Gradio Blocks (already serving when ``block`` is False)."""
    from assistant.config import offline_environment

    offline_environment()
    import gradio as gr

    from assistant.service.http import Service
    from assistant.service.server import ApiParts
    from assistant.web.conversations import CSS as CONVERSATIONS_CSS

    app = app or ChatApp(settings)
    demo = app.build()
    # The HTTP API (OpenAI-compatible, REST, MCP, /docs) on the same server as the page.
    api = ApiParts(Service(settings, app.assistant_for), host or settings.ui_host)
    demo.queue(default_concurrency_limit=2)
    auth = (settings.ui_username, settings.ui_password) if settings.ui_username else None
    limit_mb = min(settings.ui_max_upload_mb, settings.max_file_mb)
    try:
        demo.launch(
            server_name=host or settings.ui_host,
            server_port=port or settings.ui_port,
            share=share,
            auth=auth,
            auth_message="Log in to ask your documents." if auth else None,
            max_file_size=f"{limit_mb:g}mb",
            ssr_mode=False,
            footer_links=["api"],
            quiet=quiet,
            prevent_thread_lock=True,
            theme=_theme(),
            css=CSS + CONVERSATIONS_CSS,
            head=HEAD,
            show_error=False,
            app_kwargs=api.app_kwargs(),
        )
    except OSError as exc:
        where = f"{host or settings.ui_host}:{port or settings.ui_port}"
        if "empty port" in str(exc):
            raise AssistantError(f"port {where} is in use (another web chat?); pick another with --port") from None
        raise AssistantError(f"cannot serve the web chat on {where}: {exc}") from None
    api.document(demo.app)
    threading.Thread(target=app.warm_up, name="warm-up", daemon=True).start()
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo


__all__ = ["ChatApp", "launch", "SAMPLE_QUESTIONS"]
