"""Tables as Markdown rows: a header row, its rule, then one line per row whose cells carry
their column's name ("| Model: Heron 7 | Price: 2,450 |"), so a row quoted on its own (a
citation, a sentence the answerer weighs, a passage the encoder embeds) still says what each
value is.

A table becomes one ``Section`` whose ``table_header`` holds the header and rule; the chunker
cuts the rows into chunks that each start with that header (see ``ingest.chunking.expand_tables``),
so a chunk holding part of a table still says what each column is.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def markdown_rows(rows: Iterable[Sequence[object]]) -> tuple[str, str] | None:
    """(header lines, body lines) of a table, or None when it has no cell with text.

    The first row with text is the header; empty columns and rows are dropped; ragged rows
    are padded.
    """
    cleaned = [[_cell(c) for c in row] for row in rows]
    cleaned = [r for r in cleaned if any(r)]
    if not cleaned:
        return None
    width = max(len(r) for r in cleaned)
    cleaned = [r + [""] * (width - len(r)) for r in cleaned]
    keep = [i for i in range(width) if any(r[i] for r in cleaned)]
    cleaned = [[r[i] for i in keep] for r in cleaned]
    header = cleaned[0]
    lines = ["| " + " | ".join(_named(h, c) for h, c in zip(header, r)) + " |" for r in cleaned[1:]]
    head = "| " + " | ".join(header) + " |\n|" + "|".join(" --- " for _ in header) + "|"
    return head, "\n".join(lines)


def _named(column: str, value: str) -> str:
    if not value or not column or column == value:
        return value
    return f"{column}: {value}"


def table_text(head: str, body: str) -> str:
    return head + ("\n" + body if body else "")
