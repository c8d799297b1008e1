"""Sentence-aware chunking sized to the embedding model's input.

A chunk is a run of whole sentences whose word-piece count fits the budget; the next chunk
repeats trailing sentences up to the overlap. A sentence longer than the budget is cut at
word boundaries (a word longer than the budget, into windows). Chunks are packed by adding
word-piece counts, then checked by counting the joined text, since counts do not always add
up. Chunk text is always ``text[start:end]`` of the input, so offsets are exact, and every
non-whitespace character of the input lands in at least one chunk.
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
    """An over-long sentence as pieces of at most ``budget`` tokens: its words, and a word
    longer than the budget (a URL, base64, CJK without spaces) cut into windows."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    counts = count([text[s:e] for s, e in words])
    units: list[Piece] = []
    for (s, e), n in zip(words, counts):
        if n <= budget:
            units.append(Piece(s, e, n))
        else:
            step = max(budget // 2, 1)
            for cs in range(s, e, step):
                ce = min(cs + step, e)
                units.append(Piece(cs, ce, count([text[cs:ce]])[0]))
    return units


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

    def fits(i: int, j: int) -> bool:
        return count([text[pieces[i].start : pieces[j - 1].end]])[0] <= budget

    def end_of_chunk(i: int) -> int:
        """One past the last piece of the chunk starting at piece ``i``."""
        j, total = i, 0
        while j < len(pieces) and (total + pieces[j].tokens <= budget or j == i):
            total += pieces[j].tokens
            j += 1
        # Word pieces do not always add up (windows cut from one word, joined again, can
        # take more pieces than apart): count the joined text and give back pieces until it
        # fits. One piece always fits on its own.
        while j - 1 > i and not fits(i, j):
            j -= 1
        return j

    chunks: list[tuple[int, int]] = []
    i, last = 0, -1  # last: the previous chunk's last piece
    while i < len(pieces):
        j = end_of_chunk(i)
        if j - 1 <= last:  # the overlap left no room for new text: start after the previous chunk
            i = last + 1
            j = end_of_chunk(i)
        chunks.append((pieces[i].start, pieces[j - 1].end))
        last = j - 1
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


def table_row_groups(header: str, body: str, count: TokenCounter, budget: int) -> list[str]:
    """A table's rows cut into groups that fit ``budget`` with the header on top of each, so
    every chunk of a table says what its columns are. A row too long on its own is a group
    of its own (the chunker then cuts it like any long text)."""
    rows = [r for r in body.split("\n") if r.strip()]
    if not rows:
        return [header]
    head_tokens = count([header])[0]
    counts = count(rows)
    groups: list[list[str]] = [[]]
    used = head_tokens
    for row, n in zip(rows, counts):
        if groups[-1] and used + n + 1 > budget:
            groups.append([])
            used = head_tokens
        groups[-1].append(row)
        used += n + 1
    return [header + "\n" + "\n".join(g) for g in groups]


def chunk_id(doc_id: str, ordinal: int, text: str) -> str:
    """Deterministic id: the same document, position and text always give the same id."""
    content = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return hashlib.blake2b(f"{doc_id}\x1f{ordinal}\x1f{content}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
