"""Answers as chat messages: Markdown text with clickable [n] markers and the sources under it.

Everything that comes from a document or a model is escaped here, so a document containing
``<script>`` or Markdown shows as the text it is. The chat component renders Markdown and keeps
a sanitised subset of HTML; the sources are one raw-HTML block (no blank lines inside, so the
Markdown renderer passes it through untouched) of ``<details>`` elements: clicking a source or
its [n] marker in the answer opens the passage.
"""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path
from typing import Iterable

from assistant.types import Answer, Citation

ABSTAIN_HEADLINE = "Not in your documents"

# Characters that Markdown (or the chat's LaTeX/strikethrough/table extensions) would act on,
# as numeric entities: they display as themselves and never become syntax.
_ESCAPES = {c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-!|~$^=:"}
_MARKER = re.compile(r"\[(\d{1,3})\]")


def escape_text(text: str) -> str:
    """Text that displays literally inside HTML rendered by a Markdown renderer."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def escape_block(text: str) -> str:
    """Like ``escape_text`` for multi-line text: line breaks kept, no blank lines emitted."""
    lines = [escape_text(line) for line in text.strip().splitlines()]
    return "<br>".join(lines)


def escape_markdown_text(text: str) -> str:
    """Answer text: Markdown emphasis and lists still work, HTML and links never do.

    HTML is escaped; square brackets and parentheses are neutralised so no link or image
    syntax survives (citation markers are put back as links by ``link_markers``)."""
    escaped = html.escape(text, quote=False)
    escaped = escaped.replace("[", "&#91;").replace("]", "&#93;").replace("$", "&#36;")
    return escaped


def link_markers(escaped: str, message_id: str, known: Iterable[int]) -> str:
    """Turn ``&#91;n&#93;`` (an escaped [n]) into a link that opens source n under the answer."""
    known = set(known)

    def repl(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in known:
            return m.group(0)
        return (
            f'<a class="cite" href="#{message_id}-{n}" data-cite="{message_id}-{n}" '
            f'title="show source {n}">[{n}]</a>'
        )

    return re.sub(r"&#91;(\d{1,3})&#93;", repl, escaped)


def display_name(c: Citation) -> str:
    """What the user recognises: the file name for files, the title (or id) for records."""
    source = c.source or ""
    if "/" in source or "\\" in source:
        return Path(source.replace("\\", "/")).name or source
    return c.title or source


def _quote_spans(passage: str, quote: str) -> list[tuple[int, int]]:
    """Where the quote's sentences sit in the passage (a quote may join non-adjacent ones)."""
    if not quote:
        return []
    at = passage.find(quote)
    if at >= 0:
        return [(at, at + len(quote))]
    spans = []
    for part in re.split(r"(?<=[.!?…])\s+", quote.strip()):
        part = part.strip().rstrip("…").strip()
        if len(part) < 12:
            continue
        at = passage.find(part)
        if at >= 0:
            spans.append((at, at + len(part)))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _passage_with_quote(passage: str, quote: str, span: tuple[int, int] | None = None) -> str:
    """The passage, escaped, with the quoted sentence(s) highlighted and, inside them, the
    exact words that answer (``span``, offsets into the passage) in bold."""
    if not passage:
        passage, span = quote, None
    out, pos = [], 0

    def words(a: int, b: int) -> str:
        if span is None or span[1] <= a or span[0] >= b:
            return escape_text(passage[a:b])
        s, e = max(a, span[0]), min(b, span[1])
        return (escape_text(passage[a:s]) + f'<strong class="answer-span">{escape_text(passage[s:e])}</strong>'
                + escape_text(passage[e:b]))

    for a, b in _quote_spans(passage, quote):
        out.append(words(pos, a))
        out.append(f"<mark>{words(a, b)}</mark>")
        pos = b
    out.append(words(pos, len(passage)))
    # Line breaks as <br>, never a blank line (which would end the raw-HTML block).
    return "<br>".join("".join(out).splitlines())


# Relevance in words: the score is the cosine similarity of the passage's meaning to the question's
# (0-1); with this embedding model about 0.5 and over is a close match, under 0.25 a loose one.
RELEVANCE_WORDS = ((0.55, "close match"), (0.40, "good match"), (0.25, "partial match"), (-1.0, "loose match"))


def relevance_words(score: float) -> str:
    return next(words for floor, words in RELEVANCE_WORDS if score >= floor)


def relevance_badge(score: float) -> str:
    """A five-step bar and words for a passage's relevance, the number in its tooltip."""
    level = max(1, min(5, round(max(0.0, min(1.0, score)) / 0.7 * 5)))
    tip = (f"How close this passage's meaning is to your question: {score:.2f} on a 0-1 scale "
           "(cosine similarity). About 0.5 and over is a close match; under 0.25 a loose one.")
    return (f'<span class="source-score" title="{escape_text(tip)}">'
            f'<span class="score-bar level-{level}" aria-hidden="true"><span></span></span> '
            f"{escape_text(relevance_words(score))}</span>")


def source_item(c: Citation, message_id: str, open_: bool = False, collection: str | None = None) -> str:
    where = escape_text(" › ".join([display_name(c), *c.place()]))
    quote = " ".join((c.quote or "").split())
    if len(quote) > 220:
        quote = quote[:219].rsplit(" ", 1)[0] + " …"
    return (
        f'<details class="source" id="{message_id}-{c.n}"{" open" if open_ else ""}>'
        f'<summary><span class="source-n">[{c.n}]</span> <span class="source-doc">{where}</span> '
        f"{relevance_badge(c.score)}"
        f'<span class="source-quote">“{escape_text(quote)}”</span></summary>'
        f'<div class="source-passage">{_passage_with_quote(c.passage, c.quote, _span(c))}</div>'
        f"{cited_page_block(c, collection)}"
        f"</details>"
    )


def _span(c: Citation) -> tuple[int, int] | None:
    if c.span_start is None or c.span_end is None or not 0 <= c.span_start < c.span_end <= len(c.passage or ""):
        return None
    return c.span_start, c.span_end


def cited_words(c: Citation) -> dict[str, str]:
    """What to mark on the cited page: the quote and, inside it, the reader's span."""
    span = _span(c)

    def tidy(text: str) -> str:
        return " ".join(text.replace("…", " ").split())[:300]

    return {"words": tidy(c.quote or ""), "span": tidy(c.passage[span[0]:span[1]]) if span else ""}


def cited_page_block(c: Citation, collection: str | None) -> str:
    """For a PDF citation: the cited page as an image (loaded when the source is opened) and a
    link that opens the original file at that page (both served by ``assistant/web/cited.py``)."""
    if collection is None or not c.page or not (c.source or "").lower().endswith(".pdf"):
        return ""
    from urllib.parse import urlencode

    query = urlencode({"collection": collection, "source": c.source, "page": int(c.page)})
    words = urlencode(cited_words(c))
    page = int(c.page)
    return (
        f'<div class="cited-page"><a class="cited-page-link" href="/cited/file?{escape_attr(query)}#page={page}" '
        f'target="_blank" rel="noopener">Open the PDF at page {page} ↗</a>'
        f'<img class="cited-page-image" loading="lazy" alt="page {page} of {escape_attr(display_name(c))}, '
        f'the cited words highlighted" src="/cited/page.png?{escape_attr(query)}&amp;{escape_attr(words)}"></div>'
    )


def escape_attr(text: str) -> str:
    return html.escape(text, quote=True)


def sources_block(citations: list[Citation], message_id: str, title: str, css: str = "sources",
                  collection: str | None = None) -> str:
    if not citations:
        return ""
    items = "".join(source_item(c, message_id, collection=collection) for c in citations)
    return f'<div class="{css}"><div class="sources-title">{escape_text(title)}</div>{items}</div>'


def new_message_id() -> str:
    return "a" + uuid.uuid4().hex[:10]


def render_answer(answer: Answer, message_id: str | None = None, collection: str | None = None) -> str:
    """The chat message for a finished answer (Markdown + one HTML block of sources); with the
    ``collection`` it was asked in, PDF sources offer their cited page."""
    message_id = message_id or new_message_id()
    if answer.abstained:
        head = f'<div class="abstained"><span class="abstained-badge">{ABSTAIN_HEADLINE}</span></div>'
        text = escape_markdown_text(answer.text)
        related = sources_block(
            answer.related, message_id, "Nearest passages (they don't answer it):", "sources related", collection
        )
        return "\n\n".join(part for part in (head, text, related) if part)
    text = link_markers(escape_markdown_text(answer.text), message_id, (c.n for c in answer.citations))
    short = (f'<div class="short-answer">{escape_text(answer.short_answer)}</div>'
             if answer.short_answer else "")
    sources = sources_block(answer.citations, message_id, "Sources", collection=collection)
    return "\n\n".join(part for part in (short, text, sources) if part)


def render_partial(text: str) -> str:
    """A streaming answer so far (markers stay plain until the final answer arrives)."""
    return escape_markdown_text(text) + " ▍"


def render_error(message: str) -> str:
    return f'<div class="chat-error">⚠ {escape_text(message)}</div>'


__all__ = [
    "render_answer",
    "render_partial",
    "render_error",
    "escape_text",
    "escape_block",
    "display_name",
    "ABSTAIN_HEADLINE",
]
