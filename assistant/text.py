"""Lexical helpers shared by keyword retrieval and the extractive answerer."""

from __future__ import annotations

import functools
import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)

# A compact English stop list (function words only: content words must stay searchable).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t d ll m o re ve y also may might
    must shall did does doing done get got us""".split()
)


@functools.lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer, installed with bm25s

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover
        return None


class _Uncombined(dict):
    """``str.translate`` table that drops combining marks (filled in as characters are met)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_UNCOMBINED = _Uncombined()


def normalize(text: str) -> str:
    """Lowercase, strip accents (so "café" matches "cafe")."""
    if text.isascii():  # nothing to strip
        return text.lower()
    # translate() instead of a per-character generator: stemming 100k chunks spent most of
    # its time here.
    return unicodedata.normalize("NFKD", text.lower()).translate(_UNCOMBINED)


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    s = _stemmer()
    return s.stemWord(word) if s else word


def terms(text: str) -> list[str]:
    """Stemmed content words, in order (duplicates kept): the unit of keyword matching."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def terms_batch(texts: list[str]) -> list[list[str]]:
    s = _stemmer()
    out = []
    for t in texts:
        ws = [w for w in words(t) if w not in STOPWORDS]
        out.append(s.stemWords(ws) if s else ws)
    return out
