"""The document / tag picker above the chat: ask within chosen documents.

Its two multi-selects (documents, tags) are inputs of every question; the scope they make is
recorded in the conversation's session state (``session["scope"]``), so it goes with the
conversation. Empty pickers: the whole collection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from assistant.index.scope import all_tags
from assistant.types import DocumentRecord


def document_choices(docs: Sequence[DocumentRecord]) -> list[tuple[str, str]]:
    """(label, source) per document: the file name, its folder when two names clash."""
    names = [Path(d.source).name or d.source for d in docs]
    clash = {n for n in names if names.count(n) > 1}
    return [((f"{n}  ({Path(d.source).parent.name})" if n in clash else n), d.source) for n, d in zip(names, docs)]


def tag_choices(docs: Sequence[DocumentRecord]) -> list[str]:
    return all_tags(docs)


def scope_of(sources: Sequence[str] | None, tags: Sequence[str] | None) -> dict[str, Any] | None:
    """The scope the pickers describe (None: everything). Picking documents and tags means
    those documents *and* the tagged ones."""
    sources = [str(s) for s in sources or []]
    tags = [str(t) for t in tags or []]
    if sources and tags:
        return {"where": {"$or": [{"source": {"$in": sources}}, {"tags": {"$in": tags}}]}}
    if sources:
        return {"sources": sources}
    if tags:
        return {"tags": tags}
    return None


def pickers_of(scope: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """The pickers' values for a scope they made (``scope_of``'s inverse): a reopened
    conversation shows the documents and tags it was asked within."""
    scope = scope or {}
    sources, tags = list(scope.get("sources") or []), list(scope.get("tags") or [])
    for part in ((scope.get("where") or {}).get("$or") or []):
        sources += list((part.get("source") or {}).get("$in") or [])
        tags += list((part.get("tags") or {}).get("$in") or [])
    return [str(x) for x in sources], [str(x) for x in tags]


def label(sources: Sequence[str] | None, tags: Sequence[str] | None) -> str:
    """What the pickers chose, for the line under an answer."""
    return ", ".join([Path(str(p)).name for p in sources or []] + [f"#{t}" for t in tags or []])


def build(docs: Sequence[DocumentRecord]):
    """The picker row (call inside a ``gr.Blocks``); returns (documents dropdown, tags dropdown)."""
    import gradio as gr

    with gr.Row(elem_id="scope-picker", equal_height=True):
        sources = gr.Dropdown(
            choices=document_choices(docs), value=[], multiselect=True, label="Only these documents",
            info="empty: all documents", elem_id="scope-docs", scale=3, min_width=120,
        )
        tags = gr.Dropdown(
            choices=tag_choices(docs), value=[], multiselect=True, label="Only these tags",
            info="documents with any of them", elem_id="scope-tags", scale=2, min_width=120,
        )
    return sources, tags


def refreshed(docs: Sequence[DocumentRecord], sources: Sequence[str] | None, tags: Sequence[str] | None):
    """Updates for both pickers after the documents changed (choices gone are unselected)."""
    import gradio as gr

    doc_opts = document_choices(docs)
    tag_opts = tag_choices(docs)
    known = {v for _, v in doc_opts}
    return (gr.update(choices=doc_opts, value=[s for s in sources or [] if s in known]),
            gr.update(choices=tag_opts, value=[t for t in tags or [] if t in tag_opts]))
