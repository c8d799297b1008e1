"""Sentence boundaries with exact character offsets (Punkt, from the copy llama-index ships)."""

from __future__ import annotations

import os
import re
import threading

_PUNKT = None
_PUNKT_LOCK = threading.Lock()


def _punkt():
    """NLTK's Punkt sentence splitter, from the copy llama-index ships (no download)."""
    global _PUNKT
    with _PUNKT_LOCK:
        if _PUNKT is None:
            nltk = _import_nltk()

            # Locate llama-index's copy without importing llama_index.core (about 1 s).
            import importlib.util

            try:
                spec = importlib.util.find_spec("llama_index.core")
            except (ImportError, ValueError):  # pragma: no cover
                spec = None
            if spec is not None and spec.origin:
                cache = os.path.join(os.path.dirname(spec.origin), "_static", "nltk_cache")
                if cache not in nltk.data.path:
                    nltk.data.path.insert(0, cache)
            from nltk.tokenize import PunktTokenizer

            try:
                _PUNKT = PunktTokenizer("english")
            except LookupError:  # pragma: no cover - no punkt data anywhere
                _PUNKT = False
        return _PUNKT


# nltk/__init__ imports all of NLTK, and with it scipy.stats and scikit-learn for features
# Punkt never uses (collocation statistics, scikit-learn classifiers): 1.2 of its 1.4 s.
# Those imports are optional in NLTK (each guarded by ``except ImportError``).
_NLTK_EXTRAS = ("scipy.stats", "sklearn")


class _SkipInThisThread:
    """A meta-path finder that refuses ``_NLTK_EXTRAS`` to the thread importing nltk only."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self.thread and any(name == m or name.startswith(m + ".") for m in _NLTK_EXTRAS):
            raise ModuleNotFoundError(f"{name} is not needed for sentence splitting", name=name)
        return None  # anything else, or any other thread: the usual finders


def _import_nltk():
    """``import nltk`` without its optional scipy.stats / scikit-learn parts (a new
    ``assistant ask`` spends a quarter of its time on them otherwise).

    Only this thread's imports are refused, only while nltk itself is being imported, and only
    modules not imported yet: other threads, and later imports of scipy.stats or sklearn
    anywhere, work as usual. NLTK then lacks the features that need them (Fisher's exact test
    in collocations, its scikit-learn classifier wrapper), which this project does not use.
    """
    import sys

    if "nltk" in sys.modules:
        import nltk

        return nltk
    finder = _SkipInThisThread()
    sys.meta_path.insert(0, finder)
    try:
        import nltk
    finally:
        sys.meta_path.remove(finder)
    return nltk


_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_CJK_STOP = re.compile(r"(?<=[。！？])")
_SIMPLE_STOP = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def _lines_as_blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Break a paragraph after short lines without end punctuation (headings, list items)."""
    blocks = []
    cursor = start
    for m in re.finditer(r"\n", text[start:end]):
        nl = start + m.start()
        line = text[cursor:nl].strip()
        if line and len(line) <= 60 and not re.search(r"[.,;:!?)\]\"'’”-]$", line):
            blocks.append((cursor, nl))
            cursor = nl + 1
    blocks.append((cursor, end))
    return blocks


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, in order, whitespace trimmed."""
    punkt = _punkt()
    spans: list[tuple[int, int]] = []
    para_start = 0
    bounds = [m.span() for m in _PARAGRAPH.finditer(text)] + [(len(text), len(text))]
    for p_end, next_start in bounds:
        for b_start, b_end in _lines_as_blocks(text, para_start, p_end):
            block = text[b_start:b_end]
            if not block.strip():
                continue
            if punkt:
                local = list(punkt.span_tokenize(block))
            else:  # pragma: no cover
                cuts = [0] + [m.start() for m in _SIMPLE_STOP.finditer(block)] + [len(block)]
                local = list(zip(cuts, cuts[1:]))
            for s, e in local:
                # Punkt does not know CJK full stops; split those too.
                cuts = [s] + [s + m.start() for m in _CJK_STOP.finditer(block[s:e]) if 0 < m.start() < e - s] + [e]
                for cs, ce in zip(cuts, cuts[1:]):
                    span = _strip(text, b_start + cs, b_start + ce)
                    if span:
                        spans.append(span)
        para_start = next_start
    return spans
