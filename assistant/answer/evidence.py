"""Sentence-level evidence: does this sentence answer this question?

Retrieval scores cannot tell an answerable question from an on-topic unanswerable one
(measured on SQuAD 2.0: top-1 cosine 0.63 vs 0.64). So each sentence of the retrieved
passages is scored on what an answer needs: the question's key terms (or close variants),
semantic closeness, an expression of the expected answer type (a number for "how many",
a date for "when", a name for "who"), and something the question does not already say.
A logistic model over those features, calibrated on SQuAD 2.0's tune articles
(``train/calibrate_extractive.py``), turns them into a probability.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from assistant.sentences import sentence_spans
from assistant.text import STOPWORDS, normalize, stem, words
from assistant.types import Hit

if TYPE_CHECKING:
    import numpy as np

MODEL_FILE = Path(__file__).with_name("extractive_model.json")

FEATURES = (
    "cos_sentence",  # cosine(question, sentence)
    "cos_relative",  # cos_sentence minus the best among candidates
    "coverage",  # IDF-weighted share of question terms in the sentence
    "coverage_window",  # same, over the sentence and its neighbours
    "key_terms",  # share of the question's two rarest terms in the sentence
    "bigrams",  # share of the question's adjacent term pairs found adjacent in the sentence
    "expects_type",  # the question asks for a number / date / person / place
    "type_found",  # ... and the sentence has one the question does not already contain
    "novelty",  # share of the sentence's terms that are not in the question
    "chunk_score",  # cosine(question, passage)
    "top_passage",  # the sentence comes from the best-ranked passage
    "log_length",  # log of the sentence's word count
    "passage_coverage",  # IDF-weighted share of question terms anywhere in the sentence's passage
    "negation_mismatch",  # one of question and sentence is negated, the other not
)

_NEGATIONS = frozenset("not no never none nor neither cannot without n't nobody nothing".split())


def _negated(text: str) -> bool:
    low = text.lower()
    return "n't" in low or any(w in _NEGATIONS for w in words(low))


# --- answer types --------------------------------------------------------------------

_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands million millions billion billions trillion dozen dozens "
    "half quarter twice once percent"
).split()
_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_DATE_WORDS = _MONTHS + (
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow tonight "
    "morning afternoon evening night century centuries decade decades year years week weeks "
    "month months day days hour hours minute minutes era age period dynasty season summer "
    "winter spring autumn fall later earlier ago since until during"
).split()

_RE_DIGITS = re.compile(r"\d")
_RE_CAP = re.compile(r"\b[A-Z][\w'’.-]*")

TYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("number", re.compile(r"^(how (many|much|long|far|old|big|large|tall|high|often|fast|deep|wide|heavy)|what (percentage|percent|proportion|number|amount|fraction|share|size))\b")),
    ("date", re.compile(r"^(when|what (year|years|date|day|time|month|century|decade|era|period|season)|which (year|years|date|day|month|century|decade|era|period)|in what (year|century|decade|month)|how long ago|since when)\b")),
    ("person", re.compile(r"^(who|whom|whose|which (person|people|man|woman|king|queen|president|leader|author|scientist|group|organi[sz]ation|company|team|army|country))\b")),
    ("place", re.compile(r"^(where|what (country|city|place|region|state|town|continent|location|area|island|river|mountain)|which (country|city|place|region|state|town|continent|location|area|island|river|mountain)|in what (country|city|region|state|place))\b")),
]


def expected_type(question: str) -> str | None:
    """The kind of thing the question asks for, when its wording says so."""
    q = normalize(question).strip()
    q = re.sub(r"^(and|but|so|then|also|ok|okay|well)[, ]+", "", q)
    # "In 1066, who ..." -> look at the clause with the question word too.
    candidates = [q] + [m.group(0) for m in re.finditer(r"\b(how|what|which|who|whom|whose|when|where|in what)\b.*", q)]
    for text in candidates:
        for name, pattern in TYPE_PATTERNS:
            if pattern.search(text):
                return name
    return None


def _has_type(kind: str, sentence: str, question_words: set[str]) -> bool:
    """Does the sentence express an answer of ``kind`` that the question does not already hold?"""
    toks = [t for t in re.findall(r"[\w'’.-]+", sentence)]
    new = [t for t in toks if normalize(t).strip(".-'’") not in question_words]
    lowered = [normalize(t).strip(".-'’") for t in new]
    if kind == "number":
        return any(_RE_DIGITS.search(t) for t in new) or any(t in _NUMBER_WORDS for t in lowered)
    if kind == "date":
        return any(re.fullmatch(r"\d{3,4}s?|\d{1,2}(:\d\d)?(am|pm)?|\d+(st|nd|rd|th)", t) for t in lowered) or any(
            t in _DATE_WORDS for t in lowered
        )
    if kind in ("person", "place"):
        # A capitalised word that does not start the sentence and is not in the question.
        caps = [m.group(0) for m in _RE_CAP.finditer(sentence) if m.start() > 0]
        return any(normalize(c).strip(".-'’") not in question_words for c in caps)
    return False


# --- lexical matching ------------------------------------------------------------------

def _fuzzy_in(term: str, terms: set[str]) -> bool:
    """Exact stem match, or one stem a prefix of the other (injur / injuri)."""
    if term in terms:
        return True
    if len(term) < 4:
        return False
    return any(len(t) >= 4 and (t.startswith(term) or term.startswith(t)) for t in terms)


def _fuzzy_matches(term: str, vocabulary: set[str]) -> set[str]:
    """The terms of ``vocabulary`` that ``_fuzzy_in(term, ...)`` would accept."""
    if len(term) < 4:
        return {term} & vocabulary
    return {t for t in vocabulary if t == term or (len(t) >= 4 and (t.startswith(term) or term.startswith(t)))}


@dataclass
class QuestionTerms:
    """The question's content terms with weights (IDF; earlier turns count half)."""

    terms: list[str]
    weights: dict[str, float]
    words: set[str]  # normalised surface words of the question (for "not already in the question")

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0


# Words that frame the question ("how many", "what year", "what kind of") rather than name its
# subject; the answer sentence has "85", not "many". Dropped when among the first words.
QUESTION_FRAME = frozenset(
    "many much year years date day percentage percent proportion amount number kind type sort name named called long far old".split()
)


@functools.lru_cache(maxsize=100_000)
def rarity(word: str) -> float:
    """How informative a word is in general English (7.5 minus its Zipf frequency, in [0.3, 6]).

    Corpus IDF alone misleads on small collections: in a three-chunk index every word that is
    absent looks maximally rare ("take", "place"), while general-English frequency knows better.
    """
    # A hard dependency: without it every word would weigh the same and the calibrated evidence
    # model would abstain on most questions, so an incomplete install fails loudly instead.
    from wordfreq import zipf_frequency

    z = zipf_frequency(word, "en")
    if z == 0:  # unknown to wordfreq: names, codes, numbers
        return 6.0
    return min(max(7.5 - z, 0.3), 6.0)


def term_weight(word: str, term: str, idf: Callable[[str], float]) -> float:
    """General rarity of the word, damped by up to half when the collection uses it everywhere."""
    unseen = idf("\x00unseen\x00") or 1.0
    return rarity(word) * (0.5 + 0.5 * min(idf(term) / unseen, 1.0))


def question_terms(question: str, idf: Callable[[str], float], context: str = "") -> QuestionTerms:
    weights: dict[str, float] = {}
    order: list[str] = []
    for text, factor in ((question, 1.0), (context, 0.5)):
        for position, w in enumerate(words(text)):
            if w in STOPWORDS or (position < 4 and w in QUESTION_FRAME):
                continue
            t = stem(w)
            if t not in weights:
                order.append(t)
                weights[t] = 0.0
            weights[t] = max(weights[t], term_weight(w, t, idf) * factor)
    qwords = {w for w in words(question + " " + context)}
    return QuestionTerms(order, weights, qwords)


@dataclass
class Candidate:
    """One sentence of one retrieved passage."""

    hit_index: int  # index into the hits list
    start: int  # offsets within the chunk text
    end: int
    text: str
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0


def candidates_from_hits(hits: Sequence[Hit]) -> list[Candidate]:
    """Sentences of the passages, each sentence once (overlapping chunks repeat sentences)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for i, hit in enumerate(hits):
        text = hit.chunk.text
        for s, e in sentence_spans(text):
            key = (hit.chunk.doc_id, hit.chunk.start + s)
            if key in seen:
                continue
            seen.add(key)
            out.append(Candidate(i, s, e, text[s:e]))
    return out


def is_heading(text: str) -> bool:
    """Short lines without end punctuation are headings: context, not answers."""
    return len(text.split()) < 8 and not text.rstrip().endswith((".", "!", "?", ":", ";", '"', "”", ")"))


def answer_candidates(candidates: list[Candidate]) -> list[Candidate]:
    return [c for c in candidates if not is_heading(c.text)]



def _term_set(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def featurize(
    question: str,
    hits: Sequence[Hit],
    candidates: list[Candidate],
    question_vector: "np.ndarray",
    sentence_vectors: "np.ndarray | None",
    idf: Callable[[str], float],
    context: str = "",
) -> None:
    """Fill ``candidate.features`` for every candidate."""
    import numpy as np

    qt = question_terms(question, idf, context)
    kind = expected_type(question)
    key = sorted(qt.terms, key=lambda t: -qt.weights[t])[:2]
    q_bigrams = list(zip(qt.terms, qt.terms[1:]))
    # Without sentence vectors the two cosine features are left at 0 (filled in by the caller).
    cos = sentence_vectors @ question_vector if len(candidates) and sentence_vectors is not None else np.zeros(len(candidates))
    best = float(cos.max()) if len(candidates) else 0.0
    term_lists = [_term_set(c.text) for c in candidates]
    passage_terms = [set(_term_set(h.chunk.text)) for h in hits]
    # Which of the passages' terms each question term matches, found once: the same
    # ``_fuzzy_in`` tests, answered by a set intersection per sentence instead of a scan.
    vocabulary = set().union(*passage_terms, *term_lists)
    matching = {t: _fuzzy_matches(t, vocabulary) for t in qt.weights}
    question_set = set(qt.terms)
    in_question = {v: _fuzzy_in(v, question_set) for v in vocabulary}

    def fuzzy_in(term: str, terms: set[str]) -> bool:
        return not matching[term].isdisjoint(terms)

    passage_cov = [sum(w for t, w in qt.weights.items() if fuzzy_in(t, pt)) / qt.total for pt in passage_terms]
    q_negated = _negated(question)
    for idx, (cand, tl) in enumerate(zip(candidates, term_lists)):
        ts = set(tl)
        window = set(ts)
        for j in (idx - 1, idx + 1):
            if 0 <= j < len(candidates) and candidates[j].hit_index == cand.hit_index:
                window |= set(term_lists[j])
        covered = sum(w for t, w in qt.weights.items() if fuzzy_in(t, ts))
        covered_window = sum(w for t, w in qt.weights.items() if fuzzy_in(t, window))
        pairs = set(zip(tl, tl[1:]))
        hit = hits[cand.hit_index]
        n_words = max(len(cand.text.split()), 1)
        cand.features = {
            "cos_sentence": float(cos[idx]),
            "cos_relative": float(cos[idx]) - best,
            "coverage": covered / qt.total,
            "coverage_window": covered_window / qt.total,
            "key_terms": (sum(1 for t in key if fuzzy_in(t, ts)) / len(key)) if key else 0.0,
            "bigrams": (sum(1 for b in q_bigrams if b in pairs) / len(q_bigrams)) if q_bigrams else 0.0,
            "expects_type": 1.0 if kind else 0.0,
            "type_found": 1.0 if kind and _has_type(kind, cand.text, qt.words) else 0.0,
            "novelty": (sum(1 for t in tl if not in_question[t]) / len(tl)) if tl else 0.0,
            "chunk_score": float(hit.score),
            "top_passage": 1.0 if cand.hit_index == 0 else 0.0,
            "log_length": math.log(n_words),
            "passage_coverage": passage_cov[cand.hit_index],
            "negation_mismatch": 1.0 if _negated(cand.text) != q_negated else 0.0,
        }


@dataclass
class EvidenceModel:
    """Logistic model: P(sentence answers the question) from ``FEATURES``."""

    weights: dict[str, float]
    bias: float
    threshold: float  # answer when the best sentence reaches this; abstain below
    margin: float  # other sentences within this of the best may join the answer
    info: dict = field(default_factory=dict)

    def logit(self, features: dict[str, float]) -> float:
        return self.bias + sum(self.weights.get(name, 0.0) * features.get(name, 0.0) for name in FEATURES)

    def probability(self, features: dict[str, float]) -> float:
        return sigmoid(self.logit(features))

    def to_json(self) -> str:
        return json.dumps(
            {"features": list(FEATURES), "weights": self.weights, "bias": self.bias,
             "threshold": self.threshold, "margin": self.margin, "info": self.info},
            indent=2,
        )


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@functools.lru_cache(maxsize=4)
def load_model(path: str | None = None) -> EvidenceModel:
    """The calibrated evidence model (``extractive_model.json``, or ``path``). Without it every
    answer/abstain decision would be made by weights nobody calibrated, so a missing or broken
    file is an error that says so, never a quiet fallback."""
    from assistant.errors import ModelFileError

    p = Path(path) if path else MODEL_FILE
    fix = ("the package is incomplete: reinstall it (pip install --force-reinstall grounded-assistant), "
           "or recreate the file with python -m train.calibrate_extractive") if not path else "check the path"
    try:
        data = json.loads(p.read_text())
        return EvidenceModel(
            weights=data["weights"], bias=data["bias"], threshold=data["threshold"],
            margin=data.get("margin", 0.15), info=data.get("info", {}),
        )
    except FileNotFoundError:
        raise ModelFileError(f"the calibrated evidence model {p} is missing; {fix}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"the calibrated evidence model {p} cannot be read ({type(exc).__name__}: {exc}); {fix}") from None
