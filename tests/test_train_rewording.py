"""The reader's training data: questions reworded away from their window's words (train.data)."""
from __future__ import annotations

import random

import numpy as np

from train import data as D

NEAR = {"received": ["obtained"], "engine": ["motor"], "patent": ["licence"], "first": ["earliest"],
        "steam": ["vapour"]}
WINDOW = "The first steam engine patent was received by Ayanz in 1606."


def test_only_words_the_window_holds_are_replaced_and_names_and_numbers_stay():
    question = "Who received the first steam engine patent in 1606, Ayanz or the engineer?"
    out = D.reworded_question(question, WINDOW, NEAR, random.Random(0), share=1.0)
    assert out == "Who obtained the earliest vapour motor licence in 1606, Ayanz or the engineer?"
    # "engineer" is not in the window; "the" is a stop word; names and numbers are never touched


def test_a_question_with_nothing_to_replace_is_left_alone():
    assert D.reworded_question("Who was Ayanz?", WINDOW, NEAR, random.Random(0), share=1.0) is None
    assert D.reworded_question("Who received the patent?", WINDOW, NEAR, random.Random(0), share=0.0) is None


def test_rewording_keeps_the_labels_and_touches_only_real_squad_questions():
    examples = [dict(question="Who received the first patent?", window=WINDOW, span=(45, 50), has_answer=1,
                     relevant=1, source="squad"),
                dict(question="Who received the first patent?", window=WINDOW, span=None, has_answer=0,
                     relevant=1, source="squad_unans"),
                dict(question="Who received the first patent?", window=WINDOW, span=None, has_answer=0,
                     relevant=-1, source="cloze_squad")]
    assert D.reword_examples(examples, NEAR, random.Random(0), share=1.0, word_share=1.0) == 2
    assert [e["source"] for e in examples] == ["squad_reworded", "squad_unans_reworded", "cloze_squad"]
    assert [(e["span"], e["has_answer"], e["relevant"]) for e in examples] == [((45, 50), 1, 1), (None, 0, 1),
                                                                              (None, 0, -1)]
    assert examples[0]["question"] != examples[2]["question"]


def test_neighbours_are_the_nearest_other_words_not_forms_of_the_word_itself():
    vocab = ["[PAD]", "##ing", "tumor", "tumors", "cancer", "bread", "lesion", "Paris"]
    e = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 0], [1, 0.01, 0], [0.9, 0.1, 0], [0, 1, 0], [0.7, 0.3, 0],
                  [1, 0, 0.001]], dtype=np.float32)
    near = D.word_neighbours(vocab, e, k=2)
    assert near["tumor"] == ["cancer", "lesion"]  # not "tumors" (the same word), nor "Paris" (a name)
    assert "##ing" not in near and "Paris" not in near and "[PAD]" not in near


def test_a_share_outside_0_to_1_is_a_one_line_error_before_any_work():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-m", "train.reader", "--reword-share", "1.5"], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].endswith("--reword-share must be between 0 and 1")
    assert "Traceback" not in run.stderr
