"""Checks of what an answer claims against the text of the passages it cites, written without
the library's own support scores (``Passages.support``), so they cannot agree with it by
construction."""

from __future__ import annotations

import re

SEGMENT = re.compile(r"(.+?)\s*((?:\[\d+\])+)")
MARKERS = re.compile(r"\[(\d+)\]")
# A small stop list of its own (not assistant.text's).
STOP = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that "
    "these those which who whom whose what when where why how than then there their they them he she his her "
    "we our you your i not no so such also has have had do does did will would can could may might into over "
    "about after before during while any all some more most other very just only".split()
)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'s", ""))


def quotes_only(answer) -> None:
    """The answer is sentences quoted word for word from the passages they cite, each with its
    marker (what the extractive answerer writes), and nothing else."""
    by_n = {c.n: " ".join(c.passage.split()) for c in answer.citations}
    segments = SEGMENT.findall(answer.text)
    assert segments, answer.text
    rebuilt = "".join(f"{t} {m}" for t, m in segments)
    assert rebuilt.replace(" ", "") == answer.text.replace(" ", ""), answer.text
    for text, markers in segments:
        for n in MARKERS.findall(markers):
            assert " ".join(text.split()) in by_n[int(n)], (text, n)


def claim_problems(sentence: str, passage: str) -> list[str]:
    """Why ``passage`` does not back ``sentence`` (empty when it does): every number and every
    capitalised name of the sentence must be in the passage, and most of its content words."""
    have = set(_words(passage))
    problems = []
    for number in re.findall(r"\d+(?:[.,]\d+)*", sentence):
        if number.replace(",", "") not in passage.replace(",", ""):
            problems.append(f"number {number} is not in the passage")
    tokens = re.findall(r"[A-Za-z][\w'’-]*", sentence)
    for i, tok in enumerate(tokens):
        w = _words(tok)
        if i > 0 and tok[0].isupper() and w and w[0] not in STOP and not all(x in have for x in w):
            problems.append(f"name {tok} is not in the passage")
    content = [w for w in _words(sentence) if w not in STOP and len(w) > 2]
    if content:
        found = sum(1 for w in content if w in have or any(h.startswith(w[:5]) for h in have if len(w) > 5))
        if found / len(content) < 0.6:
            problems.append(f"only {found} of its {len(content)} content words are in the passage")
    else:
        problems.append("no content words")
    return problems


def cited_claims(answer) -> list[tuple[str, list[int]]]:
    """(sentence without markers, the citation numbers right after it) for each cited sentence;
    an uncited sentence before it is not part of it."""
    out = []
    for text, markers in SEGMENT.findall(answer.text):
        sentence = re.split(r"(?<=[.!?])\s+(?=\S)", text.strip())[-1]
        out.append((" ".join(sentence.split()), [int(n) for n in MARKERS.findall(markers)]))
    return out


def backed_claims(answer) -> list[str]:
    """The cited sentences of ``answer`` that the passage of every marker they carry backs
    (``claim_problems`` empty); raises when a cited sentence is not backed."""
    by_n = {c.n: c.passage for c in answer.citations}
    backed = []
    for sentence, numbers in cited_claims(answer):
        for n in numbers:
            assert n in by_n, (sentence, n, sorted(by_n))
            problems = claim_problems(sentence, by_n[n])
            assert not problems, (sentence, n, problems, by_n[n][:300])
        backed.append(sentence)
    return backed
