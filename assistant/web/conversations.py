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


def answer_message(answer: Answer) -> dict[str, str]:
    content = render_answer(answer, new_message_id())
    seconds = answer.timings_ms.get("total", 0.0) / 1000
    content += f'\n\n<div class="answer-meta">{escape_text(answer.backend)} · {seconds:.2f} s</div>'
    return {"role": "assistant", "content": content}


def messages_of(conv: Conversation) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for a in conv.answers:
        out.append({"role": "user", "content": escape_text(a.question)})
        out.append(answer_message(a))
    return out


def choices(convs: list[Conversation]) -> list[tuple[str, str]]:
    return [(f"{c.title or 'Untitled'}  ·  {c.updated_at[:16].replace('T', ' ')}", c.id) for c in convs]


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
    def listing(self, owner: str, selected: str | None):
        import gradio as gr

        try:
            convs = self.store.list(owner, MAX_LISTED)
        except AssistantError as exc:
            log.warning("cannot list conversations: %s", exc)
            convs = []
        ids = {c.id for c in convs}
        return gr.update(choices=choices(convs), value=selected if selected in ids else None)

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

    def open(self, conv_id: str | None, owner: str, max_turns: int) -> tuple[dict, Conversation | None, str]:
        """(the session that continues ``conv_id``, the conversation, an error message or "")."""
        if not conv_id:
            return {"turns": [], "messages": [], "conversation_id": None}, None, ""
        try:
            conv = self.store.get(conv_id, owner)
        except AssistantError as exc:
            return {"turns": [], "messages": [], "conversation_id": None}, None, render_error(str(exc))
        turns = [
            {"question": a.question, "standalone": a.standalone_question or a.question, "answer": a.text}
            for a in conv.answers
        ][-max_turns:]
        return {"turns": turns, "messages": messages_of(conv), "conversation_id": conv.id}, conv, ""

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

    def wire(self, demo, chatbot, session, question, after_answer: list, max_turns: int) -> None:
        """Connect the panel: ``after_answer`` are the events that end with a recorded answer."""
        import gradio as gr

        p = self.parts
        settings = self.settings
        private = dict(api_visibility="private", show_progress="hidden")

        def refresh(state: dict, request: gr.Request):
            owner = owner_of(request, settings)
            conv_id = (state or {}).get("conversation_id")
            md, js = self.exports(self.current(state or {}, owner))
            return self.listing(owner, conv_id), md, js, conv_id

        refresh_out = [p["listed"], p["export_md"], p["export_json"], p["remembered"]]
        for event in after_answer:
            event.then(refresh, session, refresh_out, **private)

        def open_one(conv_id: str | None, request: gr.Request):
            state, conv, error = self.open(conv_id, owner_of(request, settings), max_turns)
            md, js = self.exports(conv)
            return (state["messages"], state, "", error, md, js, state["conversation_id"],
                    conv.title if conv else "")

        open_out = [chatbot, session, question, p["status"], p["export_md"], p["export_json"], p["remembered"],
                    p["title"]]
        p["listed"].input(open_one, p["listed"], open_out, **private)

        def new_one(request: gr.Request):
            state = {"turns": [], "messages": [], "conversation_id": None}
            md, js = self.exports(None)
            return [], state, "", "", md, js, None, "", self.listing(owner_of(request, settings), None)

        p["new"].click(new_one, None, [*open_out, p["listed"]], **private)

        def rename_one(state: dict, title: str, request: gr.Request):
            owner = owner_of(request, settings)
            error = self.rename((state or {}).get("conversation_id"), title, owner)
            md, js = self.exports(self.current(state or {}, owner))
            return error, self.listing(owner, (state or {}).get("conversation_id")), md, js

        p["rename"].click(rename_one, [session, p["title"]],
                          [p["status"], p["listed"], p["export_md"], p["export_json"]], **private)

        def delete_one(state: dict, request: gr.Request):
            owner = owner_of(request, settings)
            error = self.delete((state or {}).get("conversation_id"), owner)
            if error:
                return (gr.update(), state, gr.update(), error, gr.update(), gr.update(), gr.update(), gr.update(),
                        self.listing(owner, (state or {}).get("conversation_id")))
            out = list(new_one(request))
            out[3] = '<div class="status-removed">Conversation deleted.</div>'
            return tuple(out)

        p["delete"].click(delete_one, session, [*open_out, p["listed"]], **private)

        def on_load(remembered: str | None, request: gr.Request):
            owner = owner_of(request, settings)
            state, conv, _ = self.open(remembered, owner, max_turns)
            md, js = self.exports(conv)
            return (state["messages"], state, md, js, state["conversation_id"], conv.title if conv else "",
                    self.listing(owner, state["conversation_id"]))

        demo.load(on_load, p["remembered"],
                  [chatbot, session, p["export_md"], p["export_json"], p["remembered"], p["title"], p["listed"]],
                  **private)


__all__ = ["ConversationList", "owner_of", "messages_of", "answer_message"]
