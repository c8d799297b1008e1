"""``assistant ask`` in a new process loads only what answering needs.

A cold ``ask`` must stay within a few seconds (eval/bench/cold_start.py measures it); the big costs
are imports. This runs the real command in a fresh interpreter over an indexed collection and
fails if a heavy package that answering does not need comes back on that path — e.g. someone
adds an eager ``import torch`` or ``import gradio`` at the top of a shared module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Not needed to answer with the default (extractive, ONNX encoder) settings.
MUST_NOT_LOAD = (
    "torch",
    "sentence_transformers",
    "transformers",
    "gradio",
    "llama_index.core",  # the sentence splitter only needs the NLTK data it ships
    "llama_cpp",
    "onnx",  # the exporter; running the export needs onnxruntime only
    "scipy.stats",  # pulled in by a plain "import nltk"
    "sklearn",
)

RUN_ASK = """
import json, sys
from assistant.cli import main
rc = main(sys.argv[1:])
print("\\n--modules--\\n" + json.dumps(sorted(m for m, v in sys.modules.items() if v is not None)))
import scipy.stats, sklearn  # left out of nltk's import only: still importable afterwards
sys.exit(rc)
"""


def _ask_in_new_process(data_dir: Path, *args: str) -> tuple[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN_ASK, "ask", "--data-dir", str(data_dir), "--collection", "sample", *args],
        cwd=str(ROOT), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    output, modules = proc.stdout.rsplit("\n--modules--\n", 1)
    return output, json.loads(modules)


def test_ask_in_a_new_process_does_not_import_heavy_packages(sample_data_dir):
    output, modules = _ask_in_new_process(sample_data_dir, "--json", "How many targets did the US strike?")
    answer = json.loads(output)
    assert not answer["abstained"] and "85" in answer["answer"]  # it really answered
    loaded = set(modules)
    assert "onnxruntime" in loaded and "chromadb" in loaded  # the modules it does need
    assert not [m for m in MUST_NOT_LOAD if m in loaded]

