"""The answerer interface: retrieved passages in, a cited ``Answer`` out.

The extractive default implements it without a language model; LLM backends implement the
same interface, so ``ask()``, ``Chat``, the CLI, the UI and the eval never care which is active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from assistant.types import Answer, Citation, Hit

if TYPE_CHECKING:
    import numpy as np

    from assistant.embed.encoder import Embedder


ABSTAIN_TEXT = "The documents don't say. None of the passages found answers this question; the closest ones are listed below."
EMPTY_TEXT = "The documents don't say: nothing relevant was found."


@dataclass
class Question:
    """Everything an answerer may use about the question being asked."""

    text: str  # as the user asked it
    standalone: str  # what retrieval used (differs for follow-ups)
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (question, answer text)
    context: str = ""  # earlier questions a follow-up leans on
    vector: "np.ndarray | None" = None  # embedding of ``standalone``
    previous_short_answer: str = ""  # a follow-up's subject, when the previous answer named it


class Answerer(Protocol):
    name: str

    def answer(self, question: Question, hits: Sequence[Hit]) -> Answer:
        """Answer from ``hits`` only, citing them by ``[n]``; abstain when they don't say."""


@dataclass
class AnswerTools:
    """What answerers share: the encoder (for sentence evidence) and the keyword statistics."""

    embedder: "Embedder"
    idf: Callable[[str], float]


def citation_for(n: int, hit: Hit, quote: str) -> Citation:
    c = hit.chunk
    return Citation(
        n=n,
        source=c.source,
        title=c.title,
        page=c.page,
        chunk_id=c.id,
        quote=quote,
        score=round(float(hit.score), 4),
        ordinal=c.ordinal,
        passage=c.text,
        section=c.section,
        page_label=c.page_label,
    )


def related_from_hits(hits: Sequence[Hit], limit: int = 3) -> list[Citation]:
    """The closest passages, offered when abstaining."""
    return [citation_for(i, h, _lead(h.chunk.text)) for i, h in enumerate(hits[:limit], start=1)]


def _lead(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"
