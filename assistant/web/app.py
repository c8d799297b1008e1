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

CSS = """
html { scrollbar-gutter: stable; overflow-x: hidden; }
.gradio-container { max-width: 1100px !important; margin: 0 auto; }
#header { flex-wrap: wrap; align-items: center; gap: 8px 16px; }
#app-title { flex: 1 1 220px; min-width: 0; }
#app-title h1 { margin-bottom: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#collection-row { flex: 1 1 320px; max-width: 460px; min-width: 0; align-items: end; }
#status { opacity: 0.85; font-size: 0.9em; }
#clear { white-space: nowrap; }
#new-collection { align-self: center; }
#chat { width: 100% !important; height: calc(100vh - 500px) !important; min-height: 300px !important; }
@media (min-width: 641px) {
  #header { flex-wrap: nowrap; }
  #app-title { flex: 0 1 auto; }
  #collection-row { flex: 0 1 460px; }
  #collection-row #collection { min-width: 0 !important; }
}
#chat button[aria-label="Clear"] { display: none !important; }  /* one clear control: the button below */
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
#chat .source-doc { font-weight: 600; overflow-wrap: anywhere; }
#chat .source-score { float: right; font-size: 0.8em; opacity: 0.85; cursor: help; white-space: nowrap; }
#chat .score-bar { display: inline-block; width: 44px; height: 7px; border-radius: 4px; vertical-align: middle;
  background: var(--border-color-primary); overflow: hidden; }
#chat .score-bar > span { display: block; height: 100%; background: #4c6ef5; border-radius: 4px; }
#chat .score-bar.level-1 > span { width: 20%; background: #adb5bd; }
#chat .score-bar.level-2 > span { width: 40%; background: #91a7ff; }
#chat .score-bar.level-3 > span { width: 60%; }
#chat .score-bar.level-4 > span { width: 80%; }
#chat .score-bar.level-5 > span { width: 100%; }
#chat details.source[open] .source-quote { display: none; }
#chat .source-quote { display: block; font-style: italic; font-size: 0.9em; opacity: 0.85; margin: 0.15em 0 0 1.2em; }
#chat .source-passage { white-space: normal; font-size: 0.9em; margin: 0.4em 0 0.2em 0;
  padding-left: 0.6em; border-left: 3px solid var(--border-color-accent); }
#chat .source-passage mark { background: #fff3bf; color: inherit; padding: 1px 2px; border-radius: 2px;
  box-shadow: inset 0 -2px 0 #fcc419; }
#chat .answer-span { background: #ffd43b; color: #111; font-weight: 700; padding: 1px 3px; border-radius: 3px;
  outline: 2px solid #f59f00; }
#chat .cited-page { margin: 0.5em 0 0.2em 0; }
#chat .cited-page-link { font-weight: 600; font-size: 0.9em; }
#chat .cited-page-image { display: block; max-width: 100%; width: 720px; margin-top: 0.4em;
  border: 1px solid var(--border-color-primary); border-radius: 4px; }
#chat .short-answer { font-weight: 700; font-size: 1.1em; }
#chat .abstained-badge { display: inline-block; font-weight: 700; font-size: 0.85em; padding: 0.15em 0.6em;
  border-radius: 999px; background: #fdecc8; color: #6b4500; }
#chat .sources.related .sources-title { color: #8a5a00; opacity: 1; }
#chat .chat-error { color: #a11; }
#chat .answer-meta { font-size: 0.75em; opacity: 0.6; margin-top: 0.3em; }
#chat .examples button, #chat button.example { border: 1px solid var(--color-accent) !important;
  background: var(--color-accent-soft) !important; border-radius: 999px !important; cursor: pointer; }
#chat .examples button:hover, #chat button.example:hover { background: var(--color-accent) !important;
  color: white !important; }
.upload-results table, .doc-list table { width: 100%; border-collapse: collapse; font-size: 0.92em; table-layout: auto; }
.upload-results td, .upload-results th, .doc-list td, .doc-list th { padding: 4px 8px;
  border-bottom: 1px solid var(--border-color-primary); text-align: left; vertical-align: top; }
.doc-list td.doc-name { overflow-wrap: anywhere; word-break: normal; }
.doc-list .doc-title { font-size: 0.88em; opacity: 0.75; }
.doc-list .doc-incomplete { font-size: 0.88em; color: #a15c00; }
.doc-list td.doc-passages, .doc-list td.doc-when { white-space: nowrap; }
.upload-results td { overflow-wrap: anywhere; }
.status-added, .status-updated { color: #17702f; font-weight: 600; }
.status-unchanged { color: #555; font-weight: 600; }
.status-skipped, .status-removed { color: #a15c00; font-weight: 600; }
.upload-progress { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 0.5em 0.8em; }
.upload-progress progress { width: 100%; height: 10px; accent-color: var(--color-accent); }
.upload-progress ul { margin: 0.3em 0; padding-left: 1.2em; }
.upload-progress .upload-file { font-weight: 600; overflow-wrap: anywhere; }
.upload-progress .upload-note { font-size: 0.85em; opacity: 0.8; }
.upload-progress .bar { height: 8px; border-radius: 4px; background: var(--border-color-primary); overflow: hidden; margin: 0.3em 0; }
.upload-progress .bar > span { display: block; height: 100%; background: var(--color-accent); }
#indexing-note { font-size: 0.9em; color: #5c3c00; background: #fff4d6; border-radius: 6px; padding: 0.3em 0.7em; }
#upload-result.stale { display: none !important; }
/* A refused file is explained by the message the browser shows; no lasting red "Error" on the box. */
#upload .error { display: none !important; }
#remove-confirm { border: 2px solid #e03131; border-radius: 8px; padding: 0.5em; }
@media (max-width: 640px) {
  .gradio-container { padding: 0 6px !important; }
  #app-title h1 { font-size: 1.35em; }
  #header { gap: 2px; }
  #collection-row { max-width: none; flex-wrap: nowrap; }
  #collection-row #new-collection { align-self: end; margin-bottom: 6px; }
  #status, #status * { font-size: 12px !important; line-height: 1.35 !important; }
  #scope-picker { flex-wrap: nowrap !important; gap: 6px !important; }
  #scope-picker > * { min-width: 0 !important; }
  #scope-picker .info-text { display: none !important; }
  #chat { height: 34vh !important; min-height: 220px !important; }
  .gradio-container .column, .gradio-container .tabitem { gap: 8px !important; }
  #scope-picker label span, #scope-picker [data-testid=block-info] { font-size: 12px !important; }
  #chat .examples button, #chat button.example { border-radius: 12px !important; padding: 4px 10px !important;
    font-size: 0.85em !important; }
  #ask-row { flex-wrap: wrap; }
  #ask-row #question { flex: 1 1 100%; }
  #ask-row #send, #ask-row #clear { flex: 1 1 40% !important; min-width: 0 !important; min-height: 36px;
    padding: 4px 8px !important; }
  #ask-row #clear { white-space: normal; font-size: 0.95em; }
  .doc-list th:nth-child(3), .doc-list td.doc-when { display: none; }
  #chat .source-score { float: none; display: block; }
}
"""

# Clicking an [n] marker opens that source under the answer and brings it into view. On a
# narrow screen the conversation list starts closed (it would cover the page); on a wide one
# the question box gets the focus without scrolling the page past its header.
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
// A new pick of files hides the last upload's result until this one's arrives (a file the
// browser refuses never reaches the server, and must not leave the old table on screen).
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input || !input.matches || !input.matches("#upload input[type=file]")) return;
  var result = document.getElementById("upload-result");
  if (!result) return;
  var batch = function () { var b = result.querySelector("[data-batch]"); return b ? b.getAttribute("data-batch") : ""; };
  var before = batch();
  result.classList.add("stale");
  var watch = new MutationObserver(function () {
    if (batch() !== before) { result.classList.remove("stale"); watch.disconnect(); }
  });
  watch.observe(result, {subtree: true, childList: true, characterData: true});
}, true);
(function () {
  var started = Date.now();
  var timer = setInterval(function () {
    var panel = document.getElementById("conversations-panel");
    var box = document.querySelector("#question textarea");
    if (Date.now() - started > 20000) { clearInterval(timer); return; }
    if (!panel || !box || !panel.classList.contains("open")) return;
    clearInterval(timer);
    if (window.innerWidth < 768) {
      var toggle = panel.querySelector(".toggle-button");
      if (toggle) toggle.click();
    } else {
      box.focus({preventScroll: true});
    }
    window.scrollTo(0, 0);
  }, 50);
})();
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
    return {"turns": [], "messages": [], "conversation_id": None, "collection": None}


class ChatApp:
    """The web chat for one base configuration; builds the Gradio Blocks."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._assistants: dict[Settings, Any] = {}
        self._lock = threading.Lock()
        self._indexing: dict[str, int] = {}  # collection -> uploads being indexed into it
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

        from assistant.web.conversations import empty_session

        scope = scope_picker.scope_of(scope_sources, scope_tags)
        if session.get("collection") and session["collection"] != collection:
            session = empty_session(collection)  # never continue another collection's conversation
        session = {**session, "scope": scope, "collection": collection}  # the scope goes with it
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
            why = (f"Collection '{collection}' is being indexed and has no passages written yet; ask again in a moment."
                   if self.indexing(collection) else
                   f"Collection '{collection}' has no documents yet. Add some in the Documents tab, then ask again.")
            messages[-1] = {"role": "assistant", "content": render_error(why)}
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
        content = render_answer(answer, new_message_id(), collection)
        within = f" · within {escape_text(scope_picker.label(scope_sources, scope_tags))}" if scope else ""
        content += f'\n\n<div class="answer-meta">{escape_text(answer.backend)} · {seconds:.2f} s{within}</div>'
        messages[-1] = {"role": "assistant", "content": content}
        turn = Turn(answer.question, answer.standalone_question or answer.question, answer.text, answer.short_answer)
        new_turns = [*session["turns"], vars(turn)][-MAX_TURNS:]
        from assistant.web.conversations import owner_of

        conv_id = self.conversations.record(session, answer, collection, owner_of(request, self.settings))
        new_session = {"turns": new_turns, "messages": messages[-2 * MAX_TURNS :], "conversation_id": conv_id,
                       "scope": scope, "collection": collection}
        yield "", messages, new_session, answer.to_dict()

    def ask_api(self, question: str, collection: str = "") -> dict:
        """Answer one question (no conversation); the same JSON as ``assistant ask --json``."""
        return self.assistant_for(collection or None).ask(question).to_dict()

    # --- documents ---------------------------------------------------------------------------
    def add_files_live(self, files: list[str] | None, collection: str) -> Iterator[tuple[str, str, bool]]:
        """Index an upload in the background. Yields (the upload's progress or results, the
        Chat tab's note, whether another file became answerable since the last yield) while it
        runs, and once at the end."""
        from assistant.web.upload_progress import UploadRun
        from assistant.web.uploads import store_and_ingest

        if not files:
            yield "", "", False
            return
        pairs = [(Path(f).name, f) for f in files]
        assistant = self.assistant_for(collection)
        run = UploadRun([name for name, _ in pairs], lambda on_progress, on_result: store_and_ingest(
            assistant, pairs, on_progress=on_progress, on_result=on_result)).start()
        with self._lock:
            self._indexing[collection] = self._indexing.get(collection, 0) + 1
        try:
            written = 0
            while run.running:
                now = run.files_written()
                yield run.html(), run.note(), now != written
                written = now
                run.wait()
            if isinstance(run.error, AssistantError):
                yield _batch(render_error(str(run.error))), "", True
            elif run.error is not None:
                log.error("upload failed", exc_info=run.error)
                yield _batch(render_error(f"The upload failed: {type(run.error).__name__}: {run.error}")), "", True
            else:
                yield upload_results_html(run.outcome), "", True
        finally:
            with self._lock:
                self._indexing[collection] -= 1

    def indexing(self, collection: str) -> bool:
        with self._lock:
            return self._indexing.get(collection, 0) > 0

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

    # --- collections ----------------------------------------------------------------------------
    def create_collection(self, name: str) -> str:
        """Create an empty collection named ``name`` (it is listed from now on, documents or not).
        Returns the name; raises ``AssistantError`` with the reason when it cannot be made."""
        from assistant.index.store import Store

        name = (name or "").strip()
        if not name:
            raise AssistantError("type a name for the new collection")
        settings = self.settings_for(name)  # checks the name (letters, digits, . _ -)
        if name in self.collections():
            raise AssistantError(f"a collection named {name!r} exists already; pick it in the list")
        Store(settings).open(name, create=True, embed_model=settings.embed_model, dimension=0)
        return name

    def examples(self, collection: str, docs: list[DocumentRecord]) -> list[dict[str, str]]:
        from assistant.web.examples import examples_for

        try:
            return [{"text": q} for q in examples_for(self.settings_for(collection), docs)]
        except AssistantError:
            return []

    # --- the page ------------------------------------------------------------------------------
    def build(self):
        import gradio as gr

        from assistant.web import scope_picker
        from assistant.web.conversations import empty_session
        from assistant.web.dates import TIMEZONE_JS, remember, zone_of
        from assistant.web.uploads import supported_types_text
        from ingest.readers import SUPPORTED_SUFFIXES

        s = self.settings
        first_docs = self.documents(s.collection)

        def doc_choices(docs):
            return [(f"{Path(d.source).name}  ({_passages(d.chunks)})", d.source) for d in docs]

        def refresh(collection: str, request: gr.Request):
            try:
                docs = self.documents(collection)
            except AssistantError as exc:
                return (render_error(str(exc)), "", gr.update(choices=[], value=None), gr.update(examples=None))
            return (
                self.status_line(collection, docs),
                documents_html(docs, zone_of(request)),
                gr.update(choices=doc_choices(docs), value=None),
                gr.update(examples=self.examples(collection, docs) or None),
            )

        with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
            session = gr.State(_session())
            self.conversations.build_panel()
            # The finished answer as JSON, for API clients of /chat (not shown on the page).
            last_answer = gr.JSON(visible=False, label="answer")
            # The collection picked last in this browser: a reload comes back to it.
            chosen = gr.BrowserState(None, storage_key="assistant-collection")
            browser_zone = gr.Textbox(visible=False, elem_id="browser-zone")
            with gr.Row(equal_height=True, elem_id="header"):
                gr.Markdown("# Ask your documents", elem_id="app-title")
                with gr.Row(elem_id="collection-row", equal_height=True):
                    collection = gr.Dropdown(
                        choices=self.collections(),
                        value=s.collection,
                        label="Collection",
                        allow_custom_value=False,
                        elem_id="collection",
                        scale=3,
                        min_width=160,
                    )
                    new_collection = gr.Button("+ New collection", elem_id="new-collection", size="sm",
                                               scale=0, min_width=120)
            with gr.Row(visible=False, elem_id="create-collection-row", equal_height=True) as create_row:
                new_name = gr.Textbox(placeholder="Name of the new collection (letters, digits, . _ -)",
                                      show_label=False, elem_id="new-collection-name", max_lines=1, scale=4)
                create = gr.Button("Create", variant="primary", elem_id="create-collection", scale=0, min_width=90)
                cancel_create = gr.Button("Cancel", elem_id="cancel-collection", scale=0, min_width=90)
                create_result = gr.HTML(elem_id="create-collection-result", min_height=0)
            status = gr.Markdown(self.status_line(s.collection, first_docs), elem_id="status")
            with gr.Tabs():
                with gr.Tab("Chat", id="chat-tab"):
                    indexing_note = gr.HTML(visible=False, elem_id="indexing-note")
                    scope_sources, scope_tags = scope_picker.build(first_docs)
                    chatbot = gr.Chatbot(
                        value=[],
                        elem_id="chat",
                        label="Conversation",
                        show_label=False,
                        height="54vh",
                        min_height=360,
                        layout="bubble",
                        sanitize_html=True,
                        render_markdown=True,
                        latex_delimiters=[],
                        allow_tags=False,
                        buttons=[],
                        feedback_options=None,
                        examples=self.examples(s.collection, first_docs) or None,
                        placeholder=(
                            "**Ask a question about your documents.**<br>"
                            "Answers quote the documents, with numbered sources [n] you can open."
                        ),
                    )
                    with gr.Row(elem_id="ask-row"):
                        question = gr.Textbox(
                            placeholder="Ask a question about your documents… (Enter to send)",
                            show_label=False,
                            elem_id="question",
                            scale=6,
                            min_width=180,
                            max_length=s.max_question_chars,
                            lines=1,
                        )
                        send = gr.Button("Ask", variant="primary", elem_id="send", scale=0, min_width=80)
                        clear = gr.Button("Clear conversation", elem_id="clear", scale=0, min_width=200)
                with gr.Tab("Documents", id="docs-tab"):
                    gr.Markdown(
                        f"Add files to the selected collection ({escape_text(supported_types_text())}; "
                        f"up to {min(s.ui_max_upload_mb, s.max_file_mb):g} MB each, "
                        f"{s.ui_max_upload_files} at a time). Uploading a file again is a no-op; "
                        "a different file with a name already taken is kept beside it as name (2).",
                        elem_id="upload-help",
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
                    with gr.Row(elem_id="remove-row", equal_height=True):
                        to_remove = gr.Dropdown(
                            choices=doc_choices(first_docs),
                            value=None,
                            label="Remove a document from the index",
                            elem_id="remove-choice",
                            scale=4,
                            min_width=180,
                        )
                        remove = gr.Button("Remove…", variant="stop", elem_id="remove", scale=0, min_width=110)
                    with gr.Group(visible=False, elem_id="remove-confirm") as confirm_box:
                        confirm_text = gr.Markdown(elem_id="remove-confirm-text")
                        with gr.Row():
                            confirm = gr.Button("Yes, remove it", variant="stop", elem_id="remove-yes", min_width=120)
                            keep = gr.Button("Cancel", elem_id="remove-cancel", min_width=120)
                    remove_result = gr.HTML(elem_id="remove-result")
                with gr.Tab("Settings", id="settings-tab"):
                    top_k = gr.Slider(
                        1, 20, value=s.top_k, step=1,
                        label="Passages an answer may draw on",
                        info="More gives the answer more to go on; fewer keeps it to the closest matches. "
                             "For this browser tab only.",
                        elem_id="top-k",
                    )
                    gr.Markdown(settings_markdown(s), elem_id="settings")

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

            def clear_conversation(collection_name: str = ""):
                return [], empty_session(collection_name or None), ""

            cleared = clear.click(clear_conversation, collection, [chatbot, session, question], api_name="clear")
            shown = self.conversations.wire(chatbot, session, question, collection, [asked, asked_example, cleared],
                                            MAX_TURNS)
            private = dict(api_visibility="private", show_progress="hidden")

            # documents
            def add(files, collection_name, request: gr.Request):
                """Index the upload; the progress (and the Chat tab's note) move while it runs, and
                the document list shows each file as soon as it is answerable."""
                for shown_now, note, written in self.add_files_live(files, collection_name):
                    docs_update = status_update = gr.update()
                    if written:
                        docs = self.documents(collection_name)
                        docs_update = documents_html(docs, zone_of(request))
                        status_update = self.status_line(collection_name, docs)
                    yield shown_now, gr.update(value=note, visible=bool(note)), docs_update, status_update

            refresh_outputs = [status, doc_list, to_remove, chatbot]
            uploads.upload(
                add, [uploads, collection], [upload_result, indexing_note, doc_list, status], api_visibility="private",
                concurrency_id="index", concurrency_limit=1, show_progress="hidden",
            ).then(lambda: None, None, uploads, **private).then(refresh, collection, refresh_outputs, **private)
            # A new pick of files replaces the last result (a refused file must not leave the old table).
            uploads.change(lambda files: "" if files else gr.update(), uploads, upload_result, **private)

            def ask_to_remove(source: str, collection_name: str):
                if not source:
                    return gr.update(visible=False), "", render_error("Pick a document to remove.")
                text = (f"Remove **{escape_text(Path(source).name)}** from collection "
                        f"**{escape_text(collection_name)}**? Its passages leave the index and answers; "
                        "this cannot be undone.")
                return gr.update(visible=True), text, ""

            remove.click(ask_to_remove, [to_remove, collection], [confirm_box, confirm_text, remove_result], **private)
            keep.click(lambda: (gr.update(visible=False), '<div class="status-unchanged">Kept it.</div>'), None,
                       [confirm_box, remove_result], **private)
            confirm.click(lambda: gr.update(visible=False), None, confirm_box, **private).then(
                self.remove_document, [to_remove, collection], remove_result, api_visibility="private",
                concurrency_id="index", concurrency_limit=1,
            ).then(refresh, collection, refresh_outputs, **private)
            to_remove.change(lambda: gr.update(visible=False), None, confirm_box, **private)
            collection.change(refresh, collection, refresh_outputs, **private)

            # collections: switching shows that collection's conversations; the choice is remembered
            def switch(collection_name: str, request: gr.Request):
                shown_now = self.conversations.show(collection_name, None, request, MAX_TURNS)
                return (*shown_now, collection_name, gr.update(visible=False))

            switch_out = [*shown, chosen, confirm_box]
            collection.input(switch, collection, switch_out, **private)

            def open_create():
                return gr.update(visible=True), gr.update(value="", autofocus=True), ""

            new_collection.click(open_create, None, [create_row, new_name, create_result], **private)
            cancel_create.click(lambda: (gr.update(visible=False), ""), None, [create_row, create_result], **private)

            def create_one(name: str, request: gr.Request):
                try:
                    made = self.create_collection(name)
                except AssistantError as exc:
                    return (gr.update(), gr.update(visible=True), render_error(str(exc)), *[gr.update()] * len(switch_out))
                return (gr.update(choices=self.collections(), value=made), gr.update(visible=False),
                        f'<div class="status-added">Collection {escape_text(made)} created: add documents in the '
                        "Documents tab.</div>", *switch(made, request))

            gr.on([create.click, new_name.submit], create_one, new_name,
                  [collection, create_row, create_result, *switch_out], **private)

            # the scope picker follows the documents (the list's HTML changes whenever they do)
            def refresh_picker(collection_name, sources_now, tags_now):
                try:
                    docs = self.documents(collection_name)
                except AssistantError:
                    docs = []
                return scope_picker.refreshed(docs, sources_now, tags_now)

            def refresh_picker_in(collection_name, sources_now, tags_now, state):
                """After the documents changed (or the page loaded): keep what is picked; empty
                pickers in a reopened conversation show the scope it was asked within."""
                if not (sources_now or tags_now) and (state or {}).get("conversation_id") and state.get("scope"):
                    sources_now, tags_now = scope_picker.pickers_of(state["scope"])
                return refresh_picker(collection_name, sources_now, tags_now)

            doc_list.change(refresh_picker_in, [collection, scope_sources, scope_tags, session],
                            [scope_sources, scope_tags], **private)

            # a conversation opened again (the list, a reload, a switch) shows the scope it was asked within
            def picker_of_session(state: dict, collection_name: str):
                """A conversation under way or reopened: the pickers show its scope. A new, empty one
                keeps what is picked (it is asked within that)."""
                if not (state or {}).get("conversation_id"):
                    return gr.update(), gr.update()
                return refresh_picker(collection_name, *scope_picker.pickers_of(state.get("scope")))

            session.change(picker_of_session, [session, collection], [scope_sources, scope_tags], **private)

            # the page's load: the browser's time zone, then its collection and conversation
            def on_load(zone_name: str, remembered_collection: str | None, remembered_conversation: str | None,
                        request: gr.Request):
                remember(request, zone_name)
                names = self.collections()
                name = remembered_collection if remembered_collection in names else s.collection
                shown_now = self.conversations.show(name, remembered_conversation, request, MAX_TURNS,
                                                    latest=False)
                return (gr.update(choices=names, value=name), *shown_now, name)

            demo.load(
                on_load, [browser_zone, chosen, self.conversations.parts["remembered"]],
                [collection, *shown, chosen], js=f"(zone, c, r) => [({TIMEZONE_JS})(), c, r]", **private,
            ).then(refresh, collection, refresh_outputs, **private)

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


def answerer_words(s: Settings) -> str:
    """How answers are written, in a sentence a person follows."""
    kind, _, model = s.answerer.partition(":")
    if kind == "extractive":
        return "extractive: the answer quotes the most relevant sentences of your documents (no language model)"
    if kind == "local":
        return (f"a language model on this computer ({Path(model).name if model else 'SmolLM2, packaged'}), "
                "writing from the passages found")
    where = s.llm_base_url or ("https://api.openai.com/v1" if kind == "openai" else "the local Ollama")
    server = "Ollama" if kind == "ollama" else "an OpenAI-compatible server"
    return f"the language model {model} on {server} ({where}), writing from the passages found"


def settings_rows(s: Settings) -> list[tuple[str, str]]:
    """What is in use, in words; only what matters to the current way of answering."""
    kind = s.answerer.partition(":")[0]
    rows = [("Answers are written by", answerer_words(s))]
    if kind == "extractive":
        rows.append(("Sentences quoted per answer", f"up to {s.max_answer_sentences}"))
    else:
        rows += [
            ("Longest answer", f"about {s.llm_max_tokens} tokens (~{round(s.llm_max_tokens * 0.75)} words)"),
            ("Variation between answers", "none: the same question gets the same answer" if s.llm_temperature == 0
             else f"some (temperature {s.llm_temperature:g})"),
            ("Sentences no passage supports", "left out of the answer" if s.llm_drop_unsupported
             else "kept, without a source"),
            ("Waits for the model", f"up to {s.llm_timeout:g} seconds"),
        ]
        if kind == "local":
            rows.append(("Processor cores used", str(s.llm_threads) if s.llm_threads else "half of them"))
    if s.reader != "off":
        rows.append(("Exact words that answer", "highlighted, found by the packaged reader model"
                     if s.reader == "packaged" else "highlighted, found by your reader model"))
    rows += [
        ("Search", f"by meaning ({embedding_label(s)}) and by keywords, combined"),
        ("Documents are kept", f"on the Chroma server {s.chroma_url}" if s.chroma_url else "on this computer"),
    ]
    return rows


def settings_markdown(s: Settings) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {escape_text(k)} | {escape_text(v)} |" for k, v in settings_rows(s)]
    lines.append("")
    lines.append("To change them, start the chat with other options (`assistant chat --help`) or edit the "
                 "config file (`assistant config` shows where it is).")
    return "\n".join(lines)


def documents_html(docs: list[DocumentRecord], zone=None) -> str:
    from assistant.web.dates import human_time

    if not docs:
        return '<p class="doc-empty">No documents in this collection yet.</p>'

    def name(d: DocumentRecord) -> str:
        return Path(d.source).name if d.kind == "file" else d.source

    rows = "".join(
        f'<tr><td class="doc-name"><div>{escape_text(name(d))}</div>'
        + (f'<div class="doc-title">{escape_text(d.title)}</div>' if d.title and d.title != name(d) else "")
        + ('<div class="doc-incomplete">incomplete: upload it again</div>' if not d.complete else "")
        + f'</td><td class="doc-passages">{d.chunks}</td>'
        f'<td class="doc-when" title="{escape_text(d.ingested_at)}">{escape_text(human_time(d.ingested_at, zone))}</td></tr>'
        for d in docs
    )
    return (
        "<table><thead><tr><th>Document</th><th>Passages</th><th>Indexed</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _batch(html_text: str) -> str:
    """Mark an upload's result as new (the page hides a stale one until a new one arrives)."""
    return f'<div data-batch="{uuid.uuid4().hex[:8]}">{html_text}</div>'


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
    from assistant.web import cited
    from assistant.web.conversations import CSS as CONVERSATIONS_CSS

    app = app or ChatApp(settings)
    demo = app.build()
    # The HTTP API (OpenAI-compatible, REST, MCP, /docs) on the same server as the page.
    api = ApiParts(Service(settings, app.assistant_for), host or settings.ui_host)
    app_kwargs = api.app_kwargs()
    # The cited page of a PDF source and its original file (documents of a collection only).
    app_kwargs["routes"] = [*cited.routes(app.documents, settings.data_dir / "page-images"), *app_kwargs["routes"]]
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
            app_kwargs=app_kwargs,
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


__all__ = ["ChatApp", "launch"]
