"""The project's own reader: one small cross-encoder that reads (question, window) pairs.

For each window (a short stretch of a passage: a few sentences) it gives
- ``answer_score``: calibrated probability that the answer to the question is in this window
  (SQuAD 2.0-style no-answer when low);
- ``relevance``: a cross-encoder relevance score for reranking passages (higher is more relevant);
- the best answer span, as character offsets into the window string.

Runs on onnxruntime + tokenizers + numpy only (no torch). The model is trained by
``python -m train.reader``; the shipped copy lives in ``reader_model/`` next to this file.
Reading is cheap only because windows are short: pass the few windows the caller's cheap scores
rank highest, and they are read in one batched call.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "reader_model"
ONNX_FILE = "model-int8.onnx"
CONFIG_FILE = "reader_config.json"


@dataclass(frozen=True)
class WindowReading:
    """What the reader found in one window."""

    answer_score: float  # calibrated P(answer is in this window)
    relevance: float  # reranking score (a probability-like value in [0, 1])
    span: tuple[int, int] | None  # (char_start, char_end) into the window string; None if no valid span
    span_text: str
    span_score: float  # start logit + end logit of the best span
    confidence: float = 0.0  # what answering and abstaining go by (``Reader.confidence_kind``), in [0, 1]


# --- windows ---------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each sentence: a plain punctuation splitter, good enough for windows."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start()
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def make_windows(text: str, tokenizer, max_tokens: int = 80) -> list[tuple[int, int]]:
    """Character spans of windows over ``text``: runs of whole sentences of at most ``max_tokens``
    word pieces, one window starting at each sentence (so consecutive windows overlap); a
    sentence longer than that is cut into pieces by word-piece offsets."""
    sentences = split_sentences(text)
    if not sentences:
        return []
    encodings = tokenizer.encode_batch([text[a:b] for a, b in sentences], add_special_tokens=False)
    units: list[tuple[int, int, int]] = []  # (char_start, char_end, n_tokens)
    for (a, b), enc in zip(sentences, encodings):
        n = len(enc.ids)
        if n <= max_tokens:
            units.append((a, b, n))
            continue
        offsets = enc.offsets
        for i in range(0, n, max_tokens):
            piece = offsets[i:i + max_tokens]
            units.append((a + piece[0][0], a + piece[-1][1], len(piece)))
    windows, seen = [], set()
    for i in range(len(units)):
        total, j = 0, i
        while j < len(units) and total + units[j][2] <= max_tokens:
            total += units[j][2]
            j += 1
        j = max(j, i + 1)
        span = (units[i][0], units[j - 1][1])
        if span not in seen:
            seen.add(span)
            windows.append(span)
        if j == len(units):
            break
    return windows


# --- encoding shared with training -----------------------------------------------------------

def encode_pairs(tokenizer, question: str, windows: Sequence[str], max_question_tokens: int, max_length: int):
    """Token ids, type ids, attention mask and, per row, the word-piece char offsets into the
    window and a mask of window tokens. Rows are padded to the longest row."""
    q = tokenizer.encode(question, add_special_tokens=False)
    q_ids = q.ids[:max_question_tokens]
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    budget = max_length - len(q_ids) - 3
    rows = []
    for enc in tokenizer.encode_batch(list(windows), add_special_tokens=False):
        w_ids, w_off = enc.ids[:budget], enc.offsets[:budget]
        ids = [cls_id] + q_ids + [sep_id] + w_ids + [sep_id]
        types = [0] * (len(q_ids) + 2) + [1] * (len(w_ids) + 1)
        offsets = [(0, 0)] * (len(q_ids) + 2) + list(w_off) + [(0, 0)]
        context = [0] * (len(q_ids) + 2) + [1] * len(w_ids) + [0]
        rows.append((ids, types, offsets, context))
    width = max((len(r[0]) for r in rows), default=0)
    n = len(rows)
    input_ids = np.zeros((n, width), dtype=np.int64)
    token_type_ids = np.zeros((n, width), dtype=np.int64)
    attention_mask = np.zeros((n, width), dtype=np.int64)
    context_mask = np.zeros((n, width), dtype=bool)
    offsets = []
    for i, (ids, types, offs, ctx) in enumerate(rows):
        input_ids[i, :len(ids)] = ids
        token_type_ids[i, :len(ids)] = types
        attention_mask[i, :len(ids)] = 1
        context_mask[i, :len(ids)] = ctx
        offsets.append(offs)
    return input_ids, token_type_ids, attention_mask, context_mask, offsets


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, context_mask: np.ndarray,
              max_answer_tokens: int) -> tuple[int, int, float] | None:
    """Best (start, end, score) with start <= end < start + max_answer_tokens, over window tokens."""
    idx = np.flatnonzero(context_mask)
    if idx.size == 0:
        return None
    s = start_logits[idx].astype(np.float64)
    e = end_logits[idx].astype(np.float64)
    scores = s[:, None] + e[None, :]
    n = idx.size
    i, j = np.indices((n, n))
    valid = (j >= i) & (j - i < max_answer_tokens) & (idx[j] - idx[i] == j - i)  # contiguous window tokens
    scores = np.where(valid, scores, -np.inf)
    flat = int(np.argmax(scores))
    a, b = divmod(flat, n)
    if not np.isfinite(scores[a, b]):
        return None
    return int(idx[a]), int(idx[b]), float(scores[a, b])


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


class Reader:
    """Reads (question, window) pairs with the int8 ONNX reader model."""

    def __init__(self, path: Path, session, tokenizer, config: dict, threads: int = 1):
        self.path = path
        self.session = session
        self.tokenizer = tokenizer
        self.config = config
        self.max_length = int(config["max_length"])
        self.max_question_tokens = int(config["max_question_tokens"])
        self.max_answer_tokens = int(config.get("max_answer_tokens", 30))
        self.window_tokens = int(config.get("window_tokens", 80))
        self.answer_threshold = float(config.get("answer_threshold", 0.5))
        # What a reading's confidence is: "answer" (the calibrated answer-in-window head) or
        # "span" (the best span's start+end logits, squashed into [0, 1]). The answering modes
        # weigh these themselves (mode joint: ``JointGate``); this is the model's own view.
        self.confidence_kind = config.get("confidence", "answer")
        squash = config.get("span_confidence", {})
        self._span_center = float(squash.get("center", 6.0))
        self._span_scale = float(squash.get("scale", 2.0))
        cal = config.get("calibration", {})
        self._cal_a = float(cal.get("a", 1.0))
        self._cal_b = float(cal.get("b", 0.0))
        self._input_names = {i.name for i in session.get_inputs()}
        self._threads = threads
        self._alone = None  # (one-thread session, pool) for windows read each on its own
        self._alone_lock = threading.Lock()
        self._alone_calls = 0
        self.fingerprint = config.get("fingerprint") or _file_digest(path / config.get("onnx_file", ONNX_FILE))

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int = 2, onnx_file: str | None = None) -> "Reader":
        from tokenizers import Tokenizer

        path = Path(path) if path is not None else MODEL_DIR
        config_file = path / CONFIG_FILE
        if not config_file.exists():
            raise FileNotFoundError(f"no reader model in {path} (missing {CONFIG_FILE}); "
                                    "train one with `python -m train.reader`")
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if onnx_file:
            config = {**config, "onnx_file": onnx_file, "fingerprint": None}
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        threads = max(1, int(threads))
        session = _session(path / config.get("onnx_file", ONNX_FILE), threads)
        return cls(path, session, tokenizer, config, threads)

    def windows(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the windows this reader was trained on, over a passage."""
        return make_windows(text, self.tokenizer, self.window_tokens)

    def logits(self, question: str, windows: Sequence[str], session=None):
        """Raw outputs: (start_logits, end_logits, answer_logit, relevance_logit, context_mask, offsets)."""
        ids, types, mask, context, offsets = encode_pairs(self.tokenizer, question, windows,
                                                          self.max_question_tokens, self.max_length)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        start, end, cls = (session or self.session).run(["start_logits", "end_logits", "cls_logits"], feeds)
        return start, end, cls[:, 0], cls[:, 1], context, offsets

    def calibrated(self, answer_logit: float) -> float:
        return sigmoid(self._cal_a * float(answer_logit) + self._cal_b)

    def span_z(self, span_score: float) -> float:
        """The best span's start+end logits, centred and scaled (what ``span_confidence`` squashes)."""
        return (span_score - self._span_center) / self._span_scale

    def span_confidence(self, span_score: float) -> float:
        return sigmoid(self.span_z(span_score)) if span_score > float("-inf") else 0.0

    def read(self, question: str, windows: list[str], alone: bool = False) -> list[WindowReading]:
        """One reading per window, in input order: all windows in one batched onnxruntime call,
        or with ``alone`` each in a run of its own (side by side on one-thread sessions). The
        int8 model quantises activations over the whole batch, padding included, so only a
        window read alone has scores that do not depend on what it was read with."""
        if not windows:
            return []
        if not question.strip():
            raise ValueError("empty question")
        if alone and len(windows) > 1:
            runner = self._alone_runner()
            if runner is not None:
                session, pool = runner
                return list(pool.map(lambda w: self._read(question, [w], session)[0], windows))
            return [self._read(question, [w])[0] for w in windows]
        return self._read(question, windows)

    def _alone_runner(self):
        """(one-thread session, pool) for side-by-side runs, made at the second call: a one-shot
        ``assistant ask`` should not load the model twice (0.13-0.19 s) to save 4 ms. Runs on
        either session give the same scores."""
        with self._alone_lock:
            self._alone_calls += 1
            if self._alone is None and self._threads > 1 and self._alone_calls >= 2:
                from concurrent.futures import ThreadPoolExecutor

                self._alone = (_session(self.path / self.config.get("onnx_file", ONNX_FILE), 1),
                               ThreadPoolExecutor(self._threads, thread_name_prefix="read-one"))
            return self._alone

    def _read(self, question: str, windows: Sequence[str], session=None) -> list[WindowReading]:
        start, end, answer, relevance, context, offsets = self.logits(question, windows, session)
        readings = []
        for i, window in enumerate(windows):
            best = best_span(start[i], end[i], context[i], self.max_answer_tokens)
            span, text, score = None, "", float("-inf")
            if best is not None:
                a, b, score = best
                c0, c1 = offsets[i][a][0], offsets[i][b][1]
                if c1 > c0:
                    span, text = (c0, c1), window[c0:c1]
            answer_score = self.calibrated(answer[i])
            confidence = self.span_confidence(score) if self.confidence_kind == "span" else answer_score
            readings.append(WindowReading(answer_score=answer_score, relevance=sigmoid(relevance[i]), span=span,
                                          span_text=text, span_score=score, confidence=confidence))
        return readings


def _session(file: Path, threads: int):
    from assistant.embed.onnx_encoder import cpu_session

    return cpu_session(file, threads)


def _file_digest(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


__all__ = ["Reader", "WindowReading", "make_windows", "split_sentences", "MODEL_DIR"]
