"""Citations that hold: a model's [n] markers checked against the passages it was given.

A language model's answer is checked one sentence at a time, as it is generated:

- a marker that names no passage (a "[7]" when 4 passages were given) is removed;
- a marker whose passage does not support its sentence is moved to a passage that does,
  or removed when none does;
- a sentence without a marker gets one when a passage clearly supports it, and is left
  uncited (and listed in ``Answer.unsupported``) otherwise;
- passages are renumbered [1], [2], ... in order of first use, and only cited ones are listed.

"Supports" (``Passages.support``): every number and every proper name in the sentence occurs
in the passage, each number next to a word it stands with in the sentence ("85 targets" does
not support "85 soldiers"; small models invent and mix up numbers and names more than anything
else), and the mean of
(a) the sentence's best cosine similarity to one of the passage's sentences and (b) the share of
its content words found in the passage reaches ``SUPPORT_THRESHOLD``.

The same ``CitationChecker`` serves streaming and non-streaming answers, so both give the same
text: the pieces it releases, concatenated, are exactly the final answer text. Nothing is
released before the first supported sentence, so an answer that turns out to have no support
at all (and becomes an abstention) never shows the user its unsupported draft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from assistant.sentences import sentence_spans
from assistant.text import STOPWORDS, stem, words
from assistant.types import Hit

if TYPE_CHECKING:
    import numpy as np

# Mean of best-sentence cosine (all-MiniLM-L6-v2) and content-word coverage. A sentence copied
# from a passage scores ~1.0; a paraphrase 0.55-0.85; a sentence on the same topic that the
# passage does not say 0.35-0.5. Calibrated by train/calibrate_support.py on SmolLM2-135M's answers
# to 100 questions of SQuAD's tune articles: the highest threshold that keeps every answer that
# held a gold answer (0.80 loses some); from 0.55 to 0.75 the answers shown without holding the
# answer fell from 45% to 29% of answerable questions, the unanswerable ones answered from 32% to
# 12%. Models that paraphrase more than they copy may want less (setting llm_support_threshold).
SUPPORT_THRESHOLD = 0.75

# [3]  [1, 2]  [1][2]  [Passage 3]  [source 2]
MARKER = re.compile(r"\[\s*(?:(?:passage|source|doc(?:ument)?)\s*)?(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]", re.I)
_MARKER_WITH_SPACE = re.compile(r"[ \t]*" + MARKER.pattern, re.I)

REFUSAL = re.compile(
    r"\b(documents?|passages?|context|texts?|sources?)\b[^.]{0,40}\b(do(es)?n['’]?t|do(es)? not|never)\s+"
    r"(say|mention|contain|state|specify|provide|include|answer|discuss|tell)"
    r"|\b(no|not enough) (information|mention|details?)\b"
    r"|\bi (do not|don['’]?t) know\b|\b(cannot|can['’]?t|unable to) (answer|find|determine|tell)\b"
    r"|\bnot (mentioned|stated|specified|provided|given) in\b",
    re.I,
)

QUOTE_GAP = " … "  # between non-adjacent excerpts of one passage (as in extractive.py)
_TAGS = re.compile(r"</?\s*[a-z]+\s*>", re.I)
# Words a model uses to talk about the passages rather than to answer from them.
_META_TERMS = {stem(w) for w in (
    "passage passages document documents text texts article context question answer information "
    "discuss discusses discussed discussing mention mentions mentioned mentioning describe describes "
    "described talk talks talking state states stated say says said provide provides provided "
    "according explain explains explained refer refers referred"
).split()}
# "The passage is about ...", "The document discusses ...": a description of a passage, not an answer.
_ABOUT_THE_PASSAGE = re.compile(
    r"^\W*(the|this|that)\s+(passages?|documents?|texts?|articles?|context)\s+"
    r"(is|are)?\s*(about|discuss(es|ing)?|is discussing|focus(es)? on|deals? with|describes?|talks? about)\b",
    re.I,
)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr vs etc e.g i.e no fig inc ltd co gen col lt sgt sen rep gov prof approx est".split()
)


def key_tokens(sentence: str) -> tuple[set[str], set[str]]:
    """(numbers, proper names) a claim makes: these must occur in a passage that supports it."""
    numbers = {n.replace(",", "") for n in _NUMBER.findall(sentence)}
    names: set[str] = set()
    for i, m in enumerate(re.finditer(r"\w+", sentence)):
        token = m.group(0)
        low = words(token)
        if not low:
            continue
        w = low[0]
        if w in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[w])
        elif i > 0 and token[0].isupper() and w not in STOPWORDS and not token.isdigit():
            names.add(w)
    return numbers, names


_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+")


def _number_windows(text: str, reach: int) -> list[tuple[str, set[str]]]:
    """(number, content stems within ``reach`` tokens of it) for each number in ``text``.
    A number means something only with what it counts: "85 targets" is not "85 soldiers"."""
    tokens = []
    for t in _TOKEN.findall(text):
        w = words(t)[0] if words(t) else t.lower()
        tokens.append(t.replace(",", "") if t[0].isdigit() else _NUMBER_WORDS.get(w, w))
    out = []
    for j, tok in enumerate(tokens):
        if tok[0].isdigit():
            near = tokens[max(0, j - reach) : j] + tokens[j + 1 : j + 1 + reach]
            out.append((tok, {stem(w) for w in near if not w[0].isdigit() and w not in STOPWORDS}))
    return out


def _numbers_in_context(claim: list[tuple[str, set[str]]], passage: list[tuple[str, set[str]]]) -> tuple[str, ...]:
    """Numbers of the claim that the passage has, but never next to any word the claim puts them with."""
    wrong = []
    for number, near in claim:
        if not near:
            continue
        places = [ctx for n, ctx in passage if n == number]
        if places and not any(any(_covered(w, ctx) for w in near) for ctx in places):
            wrong.append(number)
    return tuple(wrong)


def _passage_keys(text: str) -> set[str]:
    keys = {n.replace(",", "") for n in _NUMBER.findall(text)}
    for w in words(text):
        keys.add(w)
        if w in _NUMBER_WORDS:
            keys.add(_NUMBER_WORDS[w])
    return keys


def _content_stems(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def _covered(term: str, terms: set[str]) -> bool:
    if term in terms:
        return True
    return len(term) >= 4 and any(len(t) >= 4 and (t.startswith(term) or term.startswith(t)) for t in terms)


@dataclass
class Support:
    score: float  # 0..1; 0 when a number or name of the claim is missing from the passage
    quote: str  # the passage sentence closest to the claim
    missing: tuple[str, ...] = ()  # numbers and names of the claim the passage lacks
    cosine: float = 0.0  # best cosine of the claim to one of the passage's sentences
    coverage: float = 0.0  # share of the claim's content words found in the passage
    sentence: int = 0  # index of ``quote`` among the passage's sentences


class Passages:
    """The retrieved passages, split into sentences and embedded once per answer."""

    def __init__(self, hits: Sequence[Hit], embedder):
        import numpy as np

        self.hits = list(hits)
        self.embedder = embedder
        self.sentences: list[list[str]] = []
        self.spans: list[list[tuple[int, int]]] = []
        for h in self.hits:
            text = h.chunk.text
            spans = sentence_spans(text) or [(0, len(text))]
            self.spans.append(spans)
            self.sentences.append([text[s:e] for s, e in spans])
        flat = [s for ss in self.sentences for s in ss]
        vecs = embedder.embed(flat) if flat else np.zeros((0, 1), dtype=np.float32)
        self.vectors: list[np.ndarray] = []
        at = 0
        for ss in self.sentences:
            self.vectors.append(vecs[at : at + len(ss)])
            at += len(ss)
        self.keys = [_passage_keys(h.chunk.text) for h in self.hits]
        self.stems = [set(_content_stems(h.chunk.text)) for h in self.hits]
        self.number_windows = [_number_windows(h.chunk.text, 4) for h in self.hits]

    def __len__(self) -> int:
        return len(self.hits)

    def quote(self, i: int, sentences: Sequence[int]) -> str:
        """Verbatim excerpt of passage ``i`` made of these sentences: adjacent ones joined as in
        the text, separate ones by " … " (the extractive answerer's convention)."""
        text = self.hits[i].chunk.text
        parts: list[str] = []
        last_end = None
        for k in sorted(set(sentences)):
            s, e = self.spans[i][k]
            if last_end is not None and text[last_end:s].strip() == "":
                parts[-1] += text[last_end:e]
            else:
                parts.append(text[s:e])
            last_end = e
        return QUOTE_GAP.join(parts)

    def support(self, sentence: str, vector: "np.ndarray | None" = None) -> list[Support]:
        """How well each passage supports ``sentence`` (one ``Support`` per passage, in order)."""
        if vector is None:
            vector = self.embedder.embed([sentence])[0]
        numbers, names = key_tokens(sentence)
        claim_terms = _content_stems(sentence)
        claim_numbers = _number_windows(sentence, 3)
        out = []
        for i in range(len(self.hits)):
            sims = self.vectors[i] @ vector
            best = int(sims.argmax())
            missing = tuple(sorted(k for k in numbers | names if k not in self.keys[i]))
            missing += tuple(f"{n} (with other words)" for n in _numbers_in_context(claim_numbers, self.number_windows[i]))
            coverage = (sum(1 for t in claim_terms if _covered(t, self.stems[i])) / len(claim_terms)) if claim_terms else 0.0
            score = 0.0 if missing else (float(sims[best]) + coverage) / 2
            out.append(Support(score, self.sentences[i][best], missing, float(sims[best]), coverage, best))
        return out


@dataclass
class SentenceCheck:
    """What the checker decided about one sentence of the model's answer."""

    text: str  # the sentence without markers
    kind: str  # "claim" | "refusal" | "aside" (lead-in, fragment: shown, never cited) | "empty" (dropped)
    model_markers: list[int] = field(default_factory=list)  # what the model wrote
    passages: list[int] = field(default_factory=list)  # 0-based passages it now cites
    removed: list[int] = field(default_factory=list)  # markers dropped: no such passage
    unsupported_markers: list[int] = field(default_factory=list)  # markers dropped: passage doesn't support it
    attached: bool = False  # had no marker; one was added
    support: float = 0.0  # best support score among the passages

    @property
    def cited(self) -> bool:
        return bool(self.passages)


def _is_sentence_end(buf: str, i: int) -> bool:
    """Is the '.' at ``buf[i]`` the end of a sentence rather than an abbreviation?"""
    m = re.search(r"([\w.]+)$", buf[:i])
    if not m:
        return True
    word = m.group(1).lower()
    if word in _ABBREVIATIONS:
        return False
    return not (len(word.replace(".", "")) == 1 and word.isalpha() or re.fullmatch(r"(\w\.)+\w", word))


_END = re.compile(r"[.!?…]|\n")
_CLOSERS = re.compile(r"[\"'”’)\]]*")
_SPACE = re.compile(r"\s*")
_TRAILING_MARKERS = re.compile(r"(?:\s*" + MARKER.pattern + r")*", re.I)


def next_sentence(buf: str, final: bool) -> tuple[int, int] | None:
    """(end of the first sentence incl. its trailing markers, end of the whitespace after it),
    or None when the buffer does not yet hold a whole sentence."""
    for m in _END.finditer(buf):
        i = m.start()
        if buf[i] == "\n":
            j = i
        else:
            if buf[i] == "." and not _is_sentence_end(buf, i):
                continue
            j = _CLOSERS.match(buf, i + 1).end()
            # Markers right after the stop belong to this sentence ("Claim. [1]", "Claim.[1][2]").
            j = _TRAILING_MARKERS.match(buf, j).end()
        ws = _SPACE.match(buf, j).end()
        if ws == len(buf):
            if final:
                return j, ws
            return None  # more may come: a marker, or the rest of an abbreviation
        if ws == j and buf[i] != "\n":
            continue  # "3.5", "U.S.A": no space after the stop
        if buf[ws] == "[" and "]" not in buf[ws:] and not final:
            return None  # a marker is arriving
        return j, ws
    if final and buf.strip():
        return len(buf.rstrip()), len(buf)
    return None


def strip_markers(text: str) -> str:
    return _MARKER_WITH_SPACE.sub("", text)


class CitationChecker:
    """Checks a model's answer sentence by sentence as it arrives (see the module docstring).

    ``feed(piece)`` returns the text that may be shown now; ``finish()`` the rest. The
    concatenation of everything returned is ``self.text``.
    """

    def __init__(self, passages: Passages, threshold: float = SUPPORT_THRESHOLD, question: str = "",
                 drop_unsupported: bool = False):
        self.passages = passages
        self.threshold = threshold
        # Leave out claims no passage supports (instead of showing them uncited). Each sentence
        # is then held until it is complete, since it may be left out.
        self.drop_unsupported = drop_unsupported
        self.question_terms = set(_content_stems(question)) | _META_TERMS
        self.numbers: dict[int, int] = {}  # passage index -> marker number in the answer
        self.quoted: dict[int, list[int]] = {}  # passage index -> its sentences the answer relies on
        self.checks: list[SentenceCheck] = []
        self.raw = ""  # everything the model wrote
        self._buf = ""  # received, not yet split into a sentence
        self._held: list[str] = []  # checked text waiting for the first supported sentence
        self._shown_prefix = 0  # chars of the current sentence (in _buf) already released
        self._out: list[str] = []
        self._pending_sep = ""
        self.confirmed = False

    # --- streaming ------------------------------------------------------------------
    def feed(self, piece: str) -> str:
        self.raw += piece
        self._buf += piece
        return self._drain(final=False)

    def finish(self) -> str:
        return self._drain(final=True)

    @property
    def text(self) -> str:
        return "".join(self._out) if self.confirmed else ""

    def _emit(self, text: str) -> str:
        """Queue ``text`` (after the separator owed to the previous sentence); return what shows now."""
        if not text:
            return ""
        text, self._pending_sep = self._pending_sep + text, ""
        if self.confirmed:
            self._out.append(text)
            return text
        self._held.append(text)
        return ""

    def _drain(self, final: bool) -> str:
        shown: list[str] = []
        while self._buf:
            span = next_sentence(self._buf, final)
            if span is None:
                break
            end, sep_end = span
            segment, sep = self._buf[:end], self._buf[end:sep_end]
            self._buf = self._buf[sep_end:]
            already, self._shown_prefix = self._shown_prefix, 0
            check = self._check(segment)
            if check.kind == "empty":
                continue
            if check.cited and not self.confirmed:
                self.confirmed = True
                held, self._held = "".join(self._held), []
                self._out.append(held)
                shown.append(held)
            # The start of the sentence may already be out (streamed before its end was known).
            rendered = self._render(check)
            if self.drop_unsupported and check.kind == "claim" and not check.cited:
                continue
            shown.append(self._emit(rendered[already:]))
            self._pending_sep = "\n\n" if "\n\n" in sep else "\n" if "\n" in sep else " "
        if self.confirmed and not final and self._buf and not self.drop_unsupported:
            # Release the current sentence up to its first "[": what follows may still change.
            cut = self._buf.find("[")
            visible = (self._buf if cut < 0 else self._buf[:cut]).rstrip()
            if len(visible) > self._shown_prefix:
                shown.append(self._emit(visible[self._shown_prefix :]))
                self._shown_prefix = len(visible)
        return "".join(shown)

    # --- one sentence -----------------------------------------------------------------
    def _check(self, segment: str) -> SentenceCheck:
        markers: list[int] = []
        for m in MARKER.finditer(segment):
            markers.extend(int(x) for x in re.split(r"\s*[,;]\s*", m.group(1)))
        text = strip_markers(segment).strip()
        if not re.search(r"\w", _TAGS.sub("", text)):
            check = SentenceCheck(text, "empty", markers)  # a stray marker, or an echoed delimiter
            self.checks.append(check)
            return check
        if text.endswith(":") or (len(text.split()) < 4 and not re.search(r"[.!?]['\"”’)]*$", text)):
            # A lead-in ("The passage says:") or a fragment such as an echoed heading: no claim.
            check = SentenceCheck(text, "aside", markers, removed=markers)
            self.checks.append(check)
            return check
        if REFUSAL.search(text):
            check = SentenceCheck(text, "refusal", markers, removed=markers)
            self.checks.append(check)
            return check
        if _ABOUT_THE_PASSAGE.match(text) or (self.question_terms != _META_TERMS and self._restates_question(text)):
            # "The passage discusses <the question's own words>": true of the passage, but it
            # answers nothing, so it must not make the answer look supported.
            check = SentenceCheck(text, "aside", markers, removed=markers)
            self.checks.append(check)
            return check
        k = len(self.passages)
        valid = list(dict.fromkeys(n - 1 for n in markers if 1 <= n <= k))
        check = SentenceCheck(text, "claim", markers, removed=[n for n in markers if not 1 <= n <= k])
        supports = self.passages.support(text)
        best = max(range(k), key=lambda i: supports[i].score) if k else None
        check.support = supports[best].score if best is not None else 0.0
        kept = [i for i in valid if supports[i].score >= self.threshold]
        check.unsupported_markers = [i + 1 for i in valid if i not in kept]
        if not kept and best is not None and supports[best].score >= self.threshold:
            kept = [best]
            check.attached = not valid
        check.passages = kept
        for i in kept:
            self.numbers.setdefault(i, len(self.numbers) + 1)
            self.quoted.setdefault(i, []).append(supports[i].sentence)
        self.checks.append(check)
        return check

    def _restates_question(self, text: str) -> bool:
        if re.match(r"^\W*(yes|no)\b", text, re.I):
            return False
        return all(_covered(t, self.question_terms) for t in _content_stems(text))

    def _render(self, check: SentenceCheck) -> str:
        if not check.passages:
            return check.text
        return check.text + " " + "".join(f"[{self.numbers[i]}]" for i in check.passages)

    # --- results ----------------------------------------------------------------------
    @property
    def cited_passages(self) -> list[int]:
        """0-based passage indexes, in the order of their new numbers."""
        return sorted(self.numbers, key=self.numbers.get)

    def quote(self, i: int) -> str:
        """The verbatim excerpt of passage ``i`` that supports what the answer cites it for."""
        return self.passages.quote(i, self.quoted.get(i, []))

    @property
    def unsupported(self) -> list[str]:
        return [c.text for c in self.checks if c.kind == "claim" and not c.cited]

    @property
    def refused(self) -> bool:
        return any(c.kind == "refusal" for c in self.checks)


def check_answer(text: str, passages: Passages, threshold: float = SUPPORT_THRESHOLD,
                 question: str = "", drop_unsupported: bool = False) -> CitationChecker:
    """Check a whole answer at once (same rules as streaming)."""
    checker = CitationChecker(passages, threshold, question, drop_unsupported)
    checker.feed(text)
    checker.finish()
    return checker
