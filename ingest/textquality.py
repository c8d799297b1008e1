"""How well extracted text reads: the share of dictionary words and of run-together words.

A run-together word is a letters-only token that is not a word itself but splits into two or
more common words ("Youcanalsocheck"): the mark of a PDF extractor that lost the spaces. The
same measure tells a garbage text layer (few dictionary words) from a real one, so such pages
are OCRed instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[A-Za-z]+")
MIN_RUN_TOGETHER = 8  # shorter unknown tokens are names and codes more often than joined words


@lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_word(token: str) -> bool:
    return _zipf(token.lower()) > 0


@lru_cache(maxsize=50_000)
def splits_into_words(token: str, min_zipf: float = 3.0) -> bool:
    """True when ``token`` is two or more common words written together."""
    t = token.lower()
    n = len(t)
    # best[i]: fewest common words covering t[:i] (0 = empty), None = not coverable
    best: list[int | None] = [0] + [None] * n
    for i in range(1, n + 1):
        for j in range(max(0, i - 20), i):
            if best[j] is None:
                continue
            piece = t[j:i]
            if (len(piece) > 1 or piece in ("a", "i")) and _zipf(piece) >= min_zipf:
                cand = best[j] + 1
                if best[i] is None or cand < best[i]:
                    best[i] = cand
    return best[n] is not None and best[n] >= 2


@dataclass(frozen=True)
class TextQuality:
    tokens: int  # letters-only tokens of 2+ letters
    dictionary: int  # of them, words in the dictionary
    run_together: int  # of them, unknown tokens that split into 2+ common words

    @property
    def dictionary_share(self) -> float:
        return self.dictionary / self.tokens if self.tokens else 0.0

    @property
    def run_together_share(self) -> float:
        return self.run_together / self.tokens if self.tokens else 0.0


def measure(text: str) -> TextQuality:
    tokens = [t for t in _TOKEN.findall(text) if len(t) >= 2]
    dictionary = run_together = 0
    for t in tokens:
        if is_word(t):
            dictionary += 1
        elif len(t) >= MIN_RUN_TOGETHER and splits_into_words(t):
            run_together += 1
    return TextQuality(len(tokens), dictionary, run_together)


def looks_like_text(text: str, min_tokens: int = 20, min_share: float = 0.5) -> bool:
    """False for a text layer that is garbage (wrong font encoding, OCR noise): too few of its
    tokens are dictionary words. Short texts are given the benefit of the doubt."""
    q = measure(text)
    if q.tokens < min_tokens:
        return True
    return q.dictionary_share >= min_share
