"""Sentence-aware chunking sized to the embedding model's input.

A chunk is a run of whole sentences whose word-piece count fits the budget; the next chunk
repeats trailing sentences up to the overlap. A sentence longer than the budget is cut at
word boundaries. Chunk text is always ``text[start:end]`` of the input, so offsets are exact,
and every non-whitespace character of the input lands in at least one chunk.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from assistant.sentences import sentence_spans

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    tokens: int


def _split_long(text: str, start: int, end: int, count: TokenCounter, budget: int) -> list[Piece]:
    """Cut an over-long sentence into word-boundary windows of at most ``budget`` tokens."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    counts = count([text[s:e] for s, e in words])
    units: list[Piece] = []
    for (s, e), n in zip(words, counts):
        if n <= budget:
            units.append(Piece(s, e, n))
        else:  # one "word" longer than the budget (a URL, base64, CJK without spaces)
            step = max(budget // 2, 1)
            for cs in range(s, e, step):
                ce = min(cs + step, e)
                units.append(Piece(cs, ce, count([text[cs:ce]])[0]))
    out: list[Piece] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (total + units[j].tokens <= budget or j == i):
            total += units[j].tokens
            j += 1
        # Windows cut from one word do not add up: "0000" can take more word pieces than
        # "00" and "00". Count the joined text and give back windows until it fits.
        total = count([text[units[i].start : units[j - 1].end]])[0]
        while total > budget and j - 1 > i:
            j -= 1
            total = count([text[units[i].start : units[j - 1].end]])[0]
        out.append(Piece(units[i].start, units[j - 1].end, total))
        i = j
    return out


def chunk_spans(text: str, count: TokenCounter, budget: int, overlap: int) -> list[tuple[int, int]]:
    """Chunk boundaries for ``text``: runs of sentences of at most ``budget`` word pieces."""
    spans = sentence_spans(text)
    if not spans:
        return []
    counts = count([text[s:e] for s, e in spans])
    pieces: list[Piece] = []
    for (s, e), n in zip(spans, counts):
        if n <= budget:
            pieces.append(Piece(s, e, n))
        else:
            pieces.extend(_split_long(text, s, e, count, budget))
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        j, total = i, 0
        while j < len(pieces) and (total + pieces[j].tokens <= budget or j == i):
            total += pieces[j].tokens
            j += 1
        chunks.append((pieces[i].start, pieces[j - 1].end))
        if j >= len(pieces):
            break
        # Start the next chunk with trailing sentences worth at most ``overlap`` tokens,
        # always moving forward by at least one piece, and leaving room for the next piece
        # (else the next chunk would hold only sentences this one has already).
        k, carried = j, 0
        limit = min(overlap, budget - pieces[j].tokens)
        while k - 1 > i and carried + pieces[k - 1].tokens <= limit:
            carried += pieces[k - 1].tokens
            k -= 1
        i = k
    return chunks


def chunk_id(doc_id: str, ordinal: int, text: str) -> str:
    """Deterministic id: the same document, position and text always give the same id."""
    content = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return hashlib.blake2b(f"{doc_id}\x1f{ordinal}\x1f{content}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
