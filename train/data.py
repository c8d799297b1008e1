"""Training and held-out data for the reader, built only from the allowed splits.

- SQuAD 2.0 dev subset: the first 11 articles in file order are the tune split. Articles 1-9 train,
  10-11 are held out for checkpoints and thresholds. Articles 12-16 (the report split) are never
  read past their title: ``squad_articles`` stops at article 11.
- SciFact: only ``qrels/train.tsv`` claims and abstracts (cited ones as positives, others as
  negatives). ``qrels/test.tsv`` is never opened. A seeded 20% of the train claims is held out.
- Self-made cloze questions from the allowed passages (SQuAD articles 1-9, train-cited SciFact
  abstracts): a name, number or date in a sentence replaced by a wh-phrase.
- Self-made rewordings of a share of those SQuAD questions: words they share with their window
  replaced by near words from the base model's own embeddings (``reword_examples``).

An example is a dict: question, window (text), span (char start, end in the window, or None),
has_answer (1/0, -1 = no label), relevant (1/0, -1 = no label), source.
"""
from __future__ import annotations

import gzip
import json
import math
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from assistant.answer.reader import make_windows, split_sentences

SHARED = Path("/work/shared/eval-data")
SQUAD = SHARED / "squad2-dev"
SCIFACT = SHARED / "scifact"
N_TUNE_ARTICLES = 11
N_TRAIN_ARTICLES = 9
PARAPHRASED = Path(__file__).resolve().parent.parent / "eval" / "data" / "squad_paraphrased_tune.jsonl"


# --- SQuAD -----------------------------------------------------------------------------------

def squad_articles() -> tuple[list[str], dict[str, dict], list[dict]]:
    """Titles of the tune articles (1-11), their passages and questions. Reading stops at the
    first line of article 12, so report-split questions are never loaded."""
    titles: list[str] = []
    passages: dict[str, dict] = {}
    with open(SQUAD / "passages.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            if p["title"] not in titles:
                if len(titles) == N_TUNE_ARTICLES:
                    break
                titles.append(p["title"])
            passages[p["_id"]] = p
    questions = []
    with open(SQUAD / "qa.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q["title"] not in titles:
                break  # questions are in article order: the rest is the report split
            questions.append(q)
    return titles, passages, questions


def split_squad():
    titles, passages, questions = squad_articles()
    train_titles = set(titles[:N_TRAIN_ARTICLES])
    held_titles = set(titles[N_TRAIN_ARTICLES:N_TUNE_ARTICLES])
    train_p = {k: p for k, p in passages.items() if p["title"] in train_titles}
    held_p = {k: p for k, p in passages.items() if p["title"] in held_titles}
    train_q = [q for q in questions if q["title"] in train_titles]
    held_q = [q for q in questions if q["title"] in held_titles]
    return train_p, train_q, held_p, held_q


def answer_in_window(q: dict, ws: int, we: int, text: str) -> tuple[int, int] | None:
    """The answer's char span relative to the window [ws, we): an annotated position inside the
    window first, else the first occurrence of an answer string in the window."""
    for a, s in zip(q["answers"], q["answer_starts"]):
        if a and ws <= s and s + len(a) <= we:
            return s - ws, s - ws + len(a)
    window = text[ws:we].lower()
    for a in sorted(set(q["answers"]), key=len):
        if not a.strip():
            continue
        i = window.find(a.lower())
        if i >= 0:
            return i, i + len(a)
    return None


def passage_windows(passages: dict[str, dict], tokenizer, window_tokens: int) -> dict[str, list[tuple[int, int]]]:
    return {pid: make_windows(p["text"], tokenizer, window_tokens) for pid, p in passages.items()}


def squad_examples(passages, questions, windows, rng: random.Random, neg_same=1, neg_unans=2,
                   neg_other=1) -> list[dict]:
    """Real questions: answer windows (span), same-passage windows without the answer (on topic,
    no answer), windows of an unanswerable question's passage (plausible-answer window first),
    and windows of other passages (off topic)."""
    by_title = defaultdict(list)
    for pid, p in passages.items():
        by_title[p["title"]].append(pid)
    all_pids = sorted(passages)
    out = []
    for q in questions:
        pid = q["passage_id"]
        text = passages[pid]["text"]
        wins = windows[pid]
        if not q["is_impossible"]:
            pos, neg = [], []
            for ws, we in wins:
                span = answer_in_window(q, ws, we, text)
                (pos if span else neg).append((ws, we, span))
            for ws, we, span in pos[:2]:
                out.append(dict(question=q["question"], window=text[ws:we], span=span, has_answer=1,
                                relevant=1, source="squad"))
            for ws, we, _ in rng.sample(neg, min(neg_same, len(neg))):
                out.append(dict(question=q["question"], window=text[ws:we], span=None, has_answer=0,
                                relevant=1, source="squad_neg_same"))
        else:
            plausible = [w for w in wins if any(a and a.lower() in text[w[0]:w[1]].lower()
                                                for a in q.get("plausible_answers", []))]
            rest = [w for w in wins if w not in plausible]
            chosen = plausible[:1] + rng.sample(rest, min(len(rest), neg_unans - len(plausible[:1])))
            for ws, we in chosen:
                out.append(dict(question=q["question"], window=text[ws:we], span=None, has_answer=0,
                                relevant=1, source="squad_unans"))
        for k in range(neg_other):
            pool = by_title[q["title"]] if k % 2 == 0 and len(by_title[q["title"]]) > 1 else all_pids
            other = rng.choice(pool)
            while other == pid:
                other = rng.choice(pool)
            ws, we = rng.choice(windows[other])
            out.append(dict(question=q["question"], window=passages[other]["text"][ws:we], span=None,
                            has_answer=0, relevant=0, source="squad_neg_other"))
    return out


# --- cloze questions -------------------------------------------------------------------------

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:(?:{_MONTHS}) \d{{1,2}}, \d{{4}}|\d{{1,2}} (?:{_MONTHS}) \d{{4}}|(?:{_MONTHS}) \d{{4}})\b")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_NUMBER = re.compile(r"\b(\d[\d,]*(?:\.\d+)?)( ?%| percent| million| billion| thousand)?(?= ([a-z][a-z-]+))")
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b([A-Z][\w'\-]+(?:(?: of| de| the| and| von| van)? [A-Z][\w'\-]+)*)")
_STOP = set("a an the of in on at to for by with and or is was were are be been as that this it its from".split())


def _cloze_candidates(sentence: str) -> list[tuple[int, int, str, str]]:
    """(start, end, replaced_start_end_text, wh) candidates: the span [start,end) is the answer;
    the question replaces [r0, r1) (the answer, maybe with a preposition or unit noun)."""
    cands = []
    taken = []

    def free(a, b):
        return all(b <= x or a >= y for x, y in taken)

    for m in _DATE.finditer(sentence):
        a, b = m.span()
        pre = sentence[max(0, a - 3):a].lower()
        if pre in ("in ", "on "):
            cands.append((a, b, a - 3, b, "when"))
        else:
            cands.append((a, b, a, b, "what date"))
        taken.append((a, b))
    for m in _YEAR.finditer(sentence):
        a, b = m.span()
        if not free(a, b):
            continue
        pre = sentence[max(0, a - 3):a].lower()
        if pre == "in ":
            cands.append((a, b, a - 3, b, "in what year"))
        else:
            cands.append((a, b, a, b, "what year"))
        taken.append((a, b))
    for m in _NUMBER.finditer(sentence):
        a, b = m.span()
        if not free(a, b):
            continue
        noun = m.group(3)
        if noun in _STOP:
            continue
        if m.group(2):
            cands.append((a, b, a, b, "how much" if "%" not in m.group(2) and "percent" not in m.group(2)
                          else "what percentage"))
        else:
            cands.append((a, b, a, b + 1 + len(noun), f"how many {noun}"))
        taken.append((a, b))
    for m in _NAME.finditer(sentence):
        a, b = m.span(1)
        if not free(a, b) or sentence[a:b].lower() in _STOP:
            continue
        after = sentence[b:b + 12].lower()
        wh = "who" if re.match(r" (was|is|were|had|has|said|became|led|wrote|founded|died)\b", after) else "what"
        cands.append((a, b, a, b, wh))
        taken.append((a, b))
    return [(a, b, r0, r1, wh) for a, b, r0, r1, wh in cands]


def cloze_questions(text: str, rng: random.Random, per_sentence: int = 2, drop: float = 0.08) -> list[tuple[str, int, int]]:
    """(question, answer_start, answer_end) with char offsets into ``text``."""
    out = []
    for s0, s1 in split_sentences(text):
        sentence = text[s0:s1]
        words = sentence.split()
        if not (6 <= len(words) <= 60):
            continue
        cands = _cloze_candidates(sentence)
        rng.shuffle(cands)
        for a, b, r0, r1, wh in cands[:per_sentence]:
            if b - a > 60:
                continue
            left, right = sentence[:r0], sentence[r1:]
            q = (left + wh + right).strip().rstrip(".;:!").strip()
            if r0 == 0:
                q = q[0].upper() + q[1:]
            # light noise: drop a few non-key words so the question is not a verbatim copy
            qw = q.split()
            droppable = [i for i, w in enumerate(qw) if w.lower() not in _STOP and w not in wh.split()
                         and not any(c.isdigit() for c in w)]
            dropped = {i for i in droppable if rng.random() < drop}
            if len(dropped) > 2:
                dropped = set(rng.sample(sorted(dropped), 2))
            q = " ".join(w for i, w in enumerate(qw) if i not in dropped) + "?"
            out.append((q, s0 + a, s0 + b))
    return out


def cloze_examples(texts: list[str], tokenizer, window_tokens: int, rng: random.Random, source: str,
                   limit: int | None = None, neg_prob: float = 0.5) -> list[dict]:
    out = []
    for text in texts:
        wins = make_windows(text, tokenizer, window_tokens)
        if not wins:
            continue
        for q, a, b in cloze_questions(text, rng):
            containing = [w for w in wins if w[0] <= a and b <= w[1]]
            if not containing:
                continue
            ws, we = rng.choice(containing)
            out.append(dict(question=q, window=text[ws:we], span=(a - ws, b - ws), has_answer=1,
                            relevant=1, source=source))
            others = [w for w in wins if not (w[0] <= a and b <= w[1]) and text[a:b].lower() not in text[w[0]:w[1]].lower()]
            if others and rng.random() < neg_prob:
                ws, we = rng.choice(others)
                out.append(dict(question=q, window=text[ws:we], span=None, has_answer=0, relevant=1,
                                source=source + "_neg"))
    rng.shuffle(out)
    return out[:limit] if limit else out


# --- swapped-entity questions (made unanswerable) ------------------------------------------

_SWAP_KINDS = (("year", _YEAR), ("number", re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")), ("name", _NAME))


def entity_pool(texts: list[str]) -> dict[str, list[str]]:
    """Names, years and numbers seen in the allowed passages, by kind (the values a swap draws)."""
    pool: dict[str, set[str]] = {k: set() for k, _ in _SWAP_KINDS}
    for text in texts:
        for kind, rx in _SWAP_KINDS:
            for m in rx.finditer(text):
                value = m.group(1) if kind == "name" else m.group(0)
                if value.lower() not in _STOP and len(value) > 1:
                    pool[kind].add(value)
    return {k: sorted(v) for k, v in pool.items()}


def swapped_question(question: str, window: str, pool: dict[str, list[str]], rng: random.Random,
                     keep: tuple[int, int] | None = None) -> str | None:
    """The question with one of its names, years or numbers that the window also holds replaced by
    another of the same kind that the window does not hold: the window no longer answers it (the
    "entity swap" of SQuAD 2.0's unanswerable questions). ``keep`` is a character range of the
    question not to touch (a cloze question's wh-phrase). None when nothing can be swapped."""
    low = window.lower()
    spots = []
    for kind, rx in _SWAP_KINDS:
        for m in rx.finditer(question):
            a, b = m.span(1) if kind == "name" else m.span()
            value = question[a:b]
            if value.lower() in _STOP or len(value) < 2 or value.lower() not in low:
                continue
            if keep and not (b <= keep[0] or a >= keep[1]):
                continue
            if any(not (b <= x or a >= y) for x, y, _ in spots):
                continue
            spots.append((a, b, kind))
    rng.shuffle(spots)
    for a, b, kind in spots:
        for _ in range(8):
            other = rng.choice(pool[kind]) if pool.get(kind) else None
            if other and other.lower() not in low and other.lower() != question[a:b].lower():
                return question[:a] + other + question[b:]
    return None


def swap_negatives(examples: list[dict], pool: dict[str, list[str]], rng: random.Random, share: float,
                   source: str) -> list[dict]:
    """For a ``share`` of the examples with an answer: the same window with a swapped-entity
    question, labelled no answer (relevance left unlabelled: the window is on topic)."""
    out = []
    for ex in examples:
        if ex["has_answer"] != 1 or rng.random() >= share:
            continue
        q = swapped_question(ex["question"], ex["window"], pool, rng)
        if q:
            out.append(dict(question=q, window=ex["window"], span=None, has_answer=0, relevant=-1, source=source))
    return out


# --- reworded questions ---------------------------------------------------------------------

def word_neighbours(vocab: list[str], embeddings, k: int = 3) -> dict[str, list[str]]:
    """For each whole-word, lower-case entry of ``vocab`` (token id -> text): its ``k`` nearest
    other such words in the base model's input embeddings, leaving out forms of itself (the same
    first four letters). They are near-synonyms or related words ("tumors" -> cancers, lesions; "founded" -> established;
    "parliament" -> legislature), sometimes opposites ("increase" -> decrease)."""
    import numpy as np

    words = [i for i, v in enumerate(vocab) if v.isalpha() and v.islower() and len(v) > 2]
    e = embeddings[words]
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    out = {}
    for start in range(0, len(words), 2048):
        sims = e[start:start + 2048] @ e.T
        for row, i in enumerate(range(start, min(start + 2048, len(words)))):
            w = vocab[words[i]]
            order = np.argsort(-sims[row])[: 4 * k + 8]
            near = [vocab[words[j]] for j in order if j != i and vocab[words[j]][:4] != w[:4]][:k]
            if near:
                out[w] = near
    return out


def reworded_question(question: str, window: str, neighbours: dict[str, list[str]], rng: random.Random,
                      share: float = 0.5) -> str | None:
    """The question with its lower-case words that also occur in the window replaced, each with
    probability ``share``, by one of their embedding neighbours: a question that shares fewer
    words with its passage, as a user's often does (names and numbers are kept). None when no
    word was replaced."""
    in_window = set(_words(window))
    changed = False

    def swap(m: re.Match) -> str:
        nonlocal changed
        w = m.group(0)
        if w in _STOP or w not in in_window or w not in neighbours or rng.random() >= share:
            return w
        changed = True
        return rng.choice(neighbours[w])

    out = re.sub(r"\b[a-z]{3,}\b", swap, question)
    return out if changed else None


def reword_examples(examples: list[dict], neighbours: dict[str, list[str]], rng: random.Random,
                    share: float, word_share: float = 0.5) -> int:
    """Reword the questions of a ``share`` of the real SQuAD examples in place, each shared word
    with probability ``word_share`` (labels unchanged: answerable ones still answerable,
    unanswerable ones still not). Returns how many."""
    n = 0
    for ex in examples:
        if not ex["source"].startswith("squad") or rng.random() >= share:
            continue
        q = reworded_question(ex["question"], ex["window"], neighbours, rng, word_share)
        if q:
            ex["question"] = q
            ex["source"] += "_reworded"
            n += 1
    return n


# --- SciFact ---------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class BM25:
    def __init__(self, docs: dict[str, str], k1=0.9, b=0.4):
        self.ids = list(docs)
        self.tf = [Counter(_words(docs[i])) for i in self.ids]
        self.len = [sum(t.values()) for t in self.tf]
        self.avg = sum(self.len) / max(1, len(self.len))
        df = Counter(w for t in self.tf for w in t)
        n = len(self.ids)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
        self.post = defaultdict(list)
        for i, t in enumerate(self.tf):
            for w, c in t.items():
                self.post[w].append((i, c))
        self.k1, self.b = k1, b

    def top(self, query: str, k: int) -> list[str]:
        scores = defaultdict(float)
        for w in set(_words(query)):
            idf = self.idf.get(w)
            if idf is None:
                continue
            for i, c in self.post[w]:
                scores[i] += idf * c * (self.k1 + 1) / (c + self.k1 * (1 - self.b + self.b * self.len[i] / self.avg))
        return [self.ids[i] for i, _ in sorted(scores.items(), key=lambda x: -x[1])[:k]]


def scifact_split(seed: int = 13, held_share: float = 0.2):
    """Train-qrels claims split into train / held-out, the corpus, and a BM25 index. Test qrels are
    never opened."""
    qrels = defaultdict(set)
    with open(SCIFACT / "qrels" / "train.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, did, _ = line.rstrip("\n").split("\t")
            qrels[qid].add(did)
    claims = {}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q["_id"] in qrels:
                claims[q["_id"]] = q["text"]
    corpus = {}
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[d["_id"]] = (d["title"] + ". " + d["text"]).strip()
    qids = sorted(qrels, key=int)
    random.Random(seed).shuffle(qids)
    n_held = int(len(qids) * held_share)
    return qids[n_held:], qids[:n_held], claims, dict(qrels), corpus


def _overlap(a: str, b: str) -> float:
    wa = set(_words(a)) - _STOP
    wb = set(_words(b)) - _STOP
    return len(wa & wb) / (len(wa) or 1)


def scifact_examples(qids, claims, qrels, corpus, bm25: BM25, tokenizer, window_tokens, rng,
                     pos_per=2, hard_per=2, rand_per=1) -> list[dict]:
    """Relevance pairs: a claim with the best-overlapping windows of its cited abstracts (relevant)
    and windows of BM25-retrieved non-cited abstracts and random abstracts (not relevant)."""
    all_ids = sorted(corpus)
    out = []
    cache = {}

    def wins(did):
        if did not in cache:
            cache[did] = make_windows(corpus[did], tokenizer, window_tokens)
        return cache[did]

    for qid in qids:
        claim = claims[qid]
        for did in sorted(qrels[qid]):
            text = corpus[did]
            ranked = sorted(wins(did), key=lambda w: -_overlap(claim, text[w[0]:w[1]]))
            for ws, we in ranked[:pos_per]:
                out.append(dict(question=claim, window=text[ws:we], span=None, has_answer=-1, relevant=1,
                                source="scifact"))
        hard = [d for d in bm25.top(claim, 10) if d not in qrels[qid]][:hard_per]
        negs = hard + [rng.choice(all_ids) for _ in range(rand_per)]
        for did in negs:
            if did in qrels[qid]:
                continue
            text = corpus[did]
            ranked = sorted(wins(did), key=lambda w: -_overlap(claim, text[w[0]:w[1]]))
            ws, we = ranked[0]
            out.append(dict(question=claim, window=text[ws:we], span=None, has_answer=-1, relevant=0,
                            source="scifact_neg"))
    return out


def paraphrased_questions(questions: list[dict]) -> list[dict]:
    """The project's 48 reworded tune questions, joined to their SQuAD records (checkpoint choice
    only, never training)."""
    by_id = {q["id"]: q for q in questions}
    out = []
    with open(PARAPHRASED, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            q = by_id.get(p["squad_id"])
            if q is not None:
                out.append({**q, "question": p["question"], "original_question": q["question"]})
    return out
