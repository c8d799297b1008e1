"""The reader model (issue 13): the training script runs end to end on a tiny slice and produces a
loadable model; the shipped int8 model loads offline without torch and reads sample-article windows."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assistant" / "samples" / "us-strikes-iran-militias.txt"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
SHIPPED = ROOT / "assistant" / "answer" / "reader_model" / "reader_config.json"


def _sample_windows(reader):
    text = SAMPLE.read_text(encoding="utf-8")
    return [text[a:b] for a, b in reader.windows(text)]


@pytest.mark.slow
def test_tiny_training_run_produces_a_loadable_model(tmp_path):
    out = tmp_path / "model"
    run = subprocess.run([sys.executable, "-m", "train.reader", "--tiny", "--reword-share", "0.5", "--out", str(out)],
                         cwd=ROOT, env=ENV,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "step 3/3" in run.stdout  # the learning curve is printed
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    for needle in ("apache-2.0", "CC BY-SA 4.0", "CC BY 4.0", "ODC-By 1.0", "seed 13", "Self-made rewordings (drawn for 0.5"):
        assert needle in card
    config = json.loads((out / "reader_config.json").read_text())
    assert 0.0 < config["answer_threshold"] < 1.0

    from assistant.answer.reader import Reader

    reader = Reader.load(out, threads=1)
    windows = _sample_windows(reader)[:3]
    readings = reader.read("How many targets did the US strike?", windows)
    assert len(readings) == 3
    for window, r in zip(windows, readings):
        assert 0.0 <= r.answer_score <= 1.0 and 0.0 <= r.relevance <= 1.0 and 0.0 <= r.confidence <= 1.0
        if r.span is not None:
            a, b = r.span
            assert 0 <= a < b <= len(window) and window[a:b] == r.span_text


def test_runtime_does_not_import_torch():
    code = ("import sys; from assistant.answer.reader import Reader, WindowReading, make_windows; "
            "print('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


@pytest.fixture(scope="module")
def reader():
    from assistant.answer.reader import Reader

    return Reader.load()


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped reader model")
class TestShippedReader:
    def _best(self, reader, question):
        windows = _sample_windows(reader)
        readings = reader.read(question, windows)
        i = max(range(len(readings)), key=lambda k: readings[k].confidence)
        return windows[i], readings[i], readings

    def test_short_span_with_offsets(self, reader):
        window, r, _ = self._best(reader, "How many targets did the US strike?")
        assert "85" in r.span_text
        assert window[r.span[0]:r.span[1]] == r.span_text
        assert len(r.span_text.split()) <= 5

    def test_reworded_question(self, reader):
        _, r, _ = self._best(reader, "At which base in Jordan were the reservists killed?")
        assert "Tower 22" in r.span_text

    # The shipped model (6 layers, MODEL_CARD.md) separates answerable from unanswerable
    # questions only weakly (question AUC 0.66 on held-out tune articles). Strict: when a
    # retrained model does this, it must be turned back into a plain test.
    @pytest.mark.xfail(strict=True, reason="shipped reader: answer scores separate weakly (question AUC ~0.66)")
    def test_on_topic_unanswerable_question_scores_below_threshold(self, reader):
        _, r, _ = self._best(reader, "How many Iranian commanders were killed in the US airstrikes?")
        assert r.confidence < reader.answer_threshold
        _, r, _ = self._best(reader, "How many targets did the US strike?")
        assert r.confidence >= reader.answer_threshold

    def test_fingerprint_and_config(self, reader):
        assert isinstance(reader.fingerprint, str) and len(reader.fingerprint) >= 8
        assert reader.config["layers"] in (4, 5, 6)

    def test_windows_read_alone_score_the_same_whatever_they_are_read_with(self, reader):
        # The int8 model quantises activations over the whole batch: read together, each
        # window's scores depend on the other. Read alone (side by side), they do not.
        question = "How many US army reservists died in the drone attack?"
        a = "The attack killed three US army reservists and injured over 80 others at the Tower 22 base in Jordan."
        b = ("President Joe Biden said the US would respond at a time and place of its choosing, and Defense "
             "Secretary Lloyd Austin promised a multi-tiered response to the attack that killed them.")
        single = reader.read(question, [a]) + reader.read(question, [b])
        assert reader.read(question, [a, b], alone=True) == single
        assert reader.read(question, [b, a], alone=True) == single[::-1]
        assert single[0].span_text == "three"


def test_a_first_read_alone_does_not_load_the_model_a_second_time():
    # A one-shot `assistant ask` reads once: the one-thread session for side-by-side runs is only
    # made at the second such read, and both ways give the same scores.
    from assistant.answer.reader import Reader

    reader = Reader.load(threads=2)
    question = "How many targets did the US strike?"
    windows = ["The operation involved striking over 85 targets.", "Biden promised a response."]
    first = reader.read(question, windows, alone=True)
    assert reader._alone is None
    second = reader.read(question, windows, alone=True)
    assert reader._alone is not None
    assert first == second and "85" in first[0].span_text
