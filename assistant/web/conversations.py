"""The web chat's conversation list: stored conversations (``assistant/conversations.py``), newest
first, to open, rename, delete and export (Markdown with the sources, and JSON).

A conversation is stored when its first question is answered; each later answer is added to it.
With a login, each user sees only their own; without one, everybody using this data directory
shares the list (it is one person's machine).
"""

import logging
import tempfile
from pathlib import Path
from typing import Any

from assistant.conversations import Conversation, ConversationStore, to_json, to_markdown
from assistant.errors import AssistantError
from assistant.types import Answer
from assistant.web.render import escape_text, new_message_id, render_answer, render_error

log = logging.getLogger(__name__)

MAX_LISTED = 200

# Gradio measures how far an open sidebar overlaps the page before the sidebar has a width (so
# it overlaps the chat); on wide screens make room for it.
CSS = """
@media (min-width: 1000px) {
  .column:has(> #conversations-panel.open) { padding-left: 310px !important; }
}
#conversations label { width: 100%; font-size: 0.9em; }
"""


def owner_of(request: Any, settings) -> str:
    """Whose conversations: the logged-in user's, or "" without a login."""
    if not settings.ui_username or request is None:
        return ""
    return getattr(request, "username", None) or ""


def answer_message(answer: Answer, collection: str | None = None) -> dict[str, str]:
    content = render_answer(answer, new_message_id(), collection)
    seconds = answer.timings_ms.get("total", 0.0) / 1000
    content += f'\n\n<div class="answer-meta">{escape_text(answer.backend)} · {seconds:.2f} s</div>'
    return {"role": "assistant", "content": content}


def messages_of(conv: Conversation) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for a in conv.answers:
        out.append({"role": "user", "content": escape_text(a.question)})
        out.append(answer_message(a, conv.collection or None))
    return out


def choices(convs: list[Conversation], zone=None) -> list[tuple[str, str]]:
    from assistant.web.dates import human_time

    return [(f"{c.title or 'Untitled'}  ·  {human_time(c.updated_at, zone)}", c.id) for c in convs]


def empty_session(collection: str | None = None) -> dict[str, Any]:
    return {"turns": [], "messages": [], "conversation_id": None, "collection": collection}


class ConversationList:
    """What the list's events do; ``ChatApp`` wires them to the page."""

    def __init__(self, settings, store: ConversationStore | None = None):
        self.settings = settings
        self.store = store or ConversationStore.for_settings(settings)
        self._exports = Path(tempfile.mkdtemp(prefix="assistant-exports-"))

    # --- recording ---------------------------------------------------------------------------
    def record(self, session: dict, answer: Answer, collection: str, owner: str) -> str | None:
        """Store an answered question in the session's conversation (started on the first one).
        Returns the conversation id; a store that cannot be written is logged, not fatal."""
        conv_id = session.get("conversation_id")
        try:
            if not conv_id:
                conv_id = self.store.create(owner, collection, answer.question).id
            self.store.add_turn(conv_id, answer, owner)
        except AssistantError as exc:  # e.g. deleted meanwhile in another tab, or a read-only disk
            log.warning("conversation not saved: %s", exc)
            try:
                conv_id = self.store.create(owner, collection, answer.question).id
                self.store.add_turn(conv_id, answer, owner)
            except AssistantError:
                return None
        return conv_id

    # --- the list ----------------------------------------------------------------------------
    def of_collection(self, owner: str, collection: str) -> list[Conversation]:
        """This owner's conversations in ``collection``, newest first."""
        try:
            convs = self.store.list(owner, MAX_LISTED * 5)
        except AssistantError as exc:
            log.warning("cannot list conversations: %s", exc)
            return []
        return [c for c in convs if (c.collection or self.settings.collection) == collection][:MAX_LISTED]

    def listing(self, owner: str, selected: str | None, collection: str, zone=None):
        import gradio as gr

        convs = self.of_collection(owner, collection)
        ids = {c.id for c in convs}
        return gr.update(choices=choices(convs, zone), value=selected if selected in ids else None)

    def exports(self, conv: Conversation | None):
        """The Markdown and JSON files of ``conv`` for the download buttons."""
        import gradio as gr

        if conv is None or not conv.answers:
            return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        folder = self._exports / conv.id
        folder.mkdir(parents=True, exist_ok=True)
        md, js = folder / f"conversation-{conv.id}.md", folder / f"conversation-{conv.id}.json"
        md.write_text(to_markdown(conv), encoding="utf-8")
        js.write_text(to_json(conv), encoding="utf-8")
        return gr.update(value=str(md), interactive=True), gr.update(value=str(js), interactive=True)

    def current(self, session: dict, owner: str) -> Conversation | None:
        conv_id = session.get("conversation_id")
        if not conv_id:
            return None
        try:
            return self.store.get(conv_id, owner)
        except AssistantError:
            return None

    def open(self, conv_id: str | None, owner: str, max_turns: int,
             collection: str | None = None) -> tuple[dict, Conversation | None, str]:
        """(the session that continues ``conv_id``, the conversation, an error message or "").
        With ``collection``, a conversation of another collection is not opened (an empty one is)."""
        if not conv_id:
            return empty_session(collection), None, ""
        try:
            conv = self.store.get(conv_id, owner)
        except AssistantError as exc:
            return empty_session(collection), None, render_error(str(exc))
        conv_collection = conv.collection or self.settings.collection
        if collection is not None and conv_collection != collection:
            return empty_session(collection), None, ""
        turns = [
            {"question": a.question, "standalone": a.standalone_question or a.question, "answer": a.text}
            for a in conv.answers
        ][-max_turns:]
        scope = dict(conv.answers[-1].scope) if conv.answers and conv.answers[-1].scope else None
        return ({"turns": turns, "messages": messages_of(conv), "conversation_id": conv.id,
                 "collection": conv_collection, "scope": scope}, conv, "")

    def latest(self, owner: str, collection: str, max_turns: int) -> tuple[dict, Conversation | None]:
        """The session of ``collection``'s most recent conversation (an empty one when it has none)."""
        convs = self.of_collection(owner, collection)
        if not convs:
            return empty_session(collection), None
        state, conv, _ = self.open(convs[0].id, owner, max_turns, collection)
        return state, conv

    def rename(self, conv_id: str | None, title: str, owner: str) -> str:
        if not conv_id:
            return render_error("Open a conversation first, then rename it.")
        try:
            self.store.rename(conv_id, title, owner)
        except AssistantError as exc:
            return render_error(str(exc))
        return ""

    def delete(self, conv_id: str | None, owner: str) -> str:
        if not conv_id:
            return render_error("Open a conversation first, then delete it.")
        try:
            self.store.delete(conv_id, owner)
        except AssistantError as exc:
            return render_error(str(exc))
        return ""

    # --- the panel ----------------------------------------------------------------------------
    def build_panel(self):
        """The sidebar with the list and its buttons (call inside the page's ``gr.Blocks``)."""
        import gradio as gr

        with gr.Sidebar(label="Conversations", open=True, elem_id="conversations-panel", width=300):
            gr.Markdown("### Conversations")
            new = gr.Button("New conversation", variant="primary", elem_id="new-conversation", size="sm")
            listed = gr.Radio(choices=[], value=None, show_label=False, elem_id="conversations",
                              container=False)
            with gr.Accordion("Rename, delete, export", open=False, elem_id="conversation-actions"):
                title = gr.Textbox(show_label=False, placeholder="New title", elem_id="conversation-title",
                                   max_lines=1)
                with gr.Row():
                    rename = gr.Button("Rename", size="sm", elem_id="rename-conversation")
                    delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-conversation")
                with gr.Row():
                    export_md = gr.DownloadButton("Markdown", size="sm", interactive=False, elem_id="export-md")
                    export_json = gr.DownloadButton("JSON", size="sm", interactive=False, elem_id="export-json")
            status = gr.HTML(elem_id="conversation-status")
        # The open conversation's id, kept in the browser: a reload reopens it.
        remembered = gr.BrowserState(None, storage_key="assistant-open-conversation")
        self.parts = dict(new=new, listed=listed, title=title, rename=rename, delete=delete,
                          export_md=export_md, export_json=export_json, status=status, remembered=remembered)
        return self.parts

    def wire(self, chatbot, session, question, collection, after_answer: list, max_turns: int) -> list:
        """Connect the panel: ``after_answer`` are the events that end with a recorded answer.
        Returns the components ``show`` fills (for the page's load and collection switches)."""
        import gradio as gr

        from assistant.web.dates import zone_of

        p = self.parts
        settings = self.settings
        private = dict(api_visibility="private", show_progress="hidden")
        # The list's events run one at a time, in the order they were triggered: a rename made just
        # after an answer must not be overwritten by that answer's later-arriving list refresh.
        in_order = dict(private, concurrency_id="conversation-list", concurrency_limit=1)

        def refresh(state: dict, collection_name: str, request: gr.Request):
            owner = owner_of(request, settings)
            conv_id = (state or {}).get("conversation_id")
            md, js = self.exports(self.current(state or {}, owner))
            return self.listing(owner, conv_id, collection_name, zone_of(request)), md, js, conv_id

        refresh_out = [p["listed"], p["export_md"], p["export_json"], p["remembered"]]
        for event in after_answer:
            event.then(refresh, [session, collection], refresh_out, **in_order)

        def open_one(conv_id: str | None, collection_name: str, request: gr.Request):
            state, conv, error = self.open(conv_id, owner_of(request, settings), max_turns, collection_name)
            md, js = self.exports(conv)
            return (state["messages"], state, "", error, md, js, state["conversation_id"],
                    conv.title if conv else "")

        open_out = [chatbot, session, question, p["status"], p["export_md"], p["export_json"], p["remembered"],
                    p["title"]]
        p["listed"].input(open_one, [p["listed"], collection], open_out, **in_order)

        def new_one(collection_name: str, request: gr.Request):
            state = empty_session(collection_name)
            md, js = self.exports(None)
            return ([], state, "", "", md, js, None, "",
                    self.listing(owner_of(request, settings), None, collection_name, zone_of(request)))

        p["new"].click(new_one, collection, [*open_out, p["listed"]], **in_order)

        def rename_one(state: dict, title: str, collection_name: str, request: gr.Request):
            owner = owner_of(request, settings)
            error = self.rename((state or {}).get("conversation_id"), title, owner)
            md, js = self.exports(self.current(state or {}, owner))
            return error, self.listing(owner, (state or {}).get("conversation_id"), collection_name,
                                       zone_of(request)), md, js

        p["rename"].click(rename_one, [session, p["title"], collection],
                          [p["status"], p["listed"], p["export_md"], p["export_json"]], **in_order)

        def delete_one(state: dict, collection_name: str, request: gr.Request):
            owner = owner_of(request, settings)
            error = self.delete((state or {}).get("conversation_id"), owner)
            if error:
                return (gr.update(), state, gr.update(), error, gr.update(), gr.update(), gr.update(), gr.update(),
                        self.listing(owner, (state or {}).get("conversation_id"), collection_name, zone_of(request)))
            out = list(new_one(collection_name, request))
            out[3] = '<div class="status-removed">Conversation deleted.</div>'
            return tuple(out)

        p["delete"].click(delete_one, [session, collection], [*open_out, p["listed"]], **in_order)
        return [chatbot, session, p["export_md"], p["export_json"], p["remembered"], p["title"], p["listed"],
                p["status"]]

    def show(self, collection: str, remembered: str | None, request, max_turns: int, latest: bool = True) -> tuple:
        """What the panel and the chat show for ``collection``: the conversation ``remembered`` if it
        is one of that collection's, else (with ``latest``) its most recent one, else an empty chat."""
        from assistant.web.dates import zone_of

        owner = owner_of(request, self.settings)
        state, conv, _ = self.open(remembered, owner, max_turns, collection)
        if conv is None and latest:
            state, conv = self.latest(owner, collection, max_turns)
        md, js = self.exports(conv)
        return (state["messages"], state, md, js, state["conversation_id"], conv.title if conv else "",
                self.listing(owner, state["conversation_id"], collection, zone_of(request)), "")


__all__ = ["ConversationList", "owner_of", "messages_of", "answer_message", "empty_session"]
