"""Data safety: forget and --prune remove exactly what they say (also while another process
has the index open), and a copy of the data directory is a complete backup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.index.store import Store
from tests import corpora
from tests.ui_helpers import ROOT, TEST_ENV

pytestmark = pytest.mark.robustness


def _chunks(a: Assistant) -> dict[str, set[str]]:
    """Chunk ids per document file name."""
    out: dict[str, set[str]] = {}
    for cid, meta, _ in Store(a.settings).open(a.settings.collection).scan():
        out.setdefault(Path(meta["source"]).name if meta.get("kind") == "file" else meta["source"], set()).add(cid)
    return out


def _cli(*args: str, data_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENV, "ASSISTANT_CONFIG": str(data_dir / "no-config.toml")}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args, "--data-dir", str(data_dir), "--collection", "safety"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def test_forget_a_directory_removes_only_what_is_under_it(tmp_path):
    notes = tmp_path / "notes"
    notes_old = tmp_path / "notes-old"  # shares the prefix "notes": must survive
    (notes / "sub").mkdir(parents=True)
    notes_old.mkdir()
    (notes / "a.txt").write_text("Note A says the boat is red.")
    (notes / "sub" / "b.md").write_text("# B\n\nNote B says the shed is green.")
    (notes_old / "c.txt").write_text("Note C says the gate is blue.")
    (tmp_path / "notes.txt").write_text("The file next to the folder says the roof is grey.")
    a = Assistant(data_dir=tmp_path / "data", collection="safety")
    a.ingest([notes, notes_old, tmp_path / "notes.txt"])
    before = _chunks(a)
    removed = a.forget(notes)
    assert sorted(Path(d.source).name for d in removed) == ["a.txt", "b.md"]
    after = _chunks(a)
    assert set(after) == {"c.txt", "notes.txt"}
    assert after["c.txt"] == before["c.txt"] and after["notes.txt"] == before["notes.txt"]


def test_prune_removes_only_documents_whose_files_are_gone(tmp_path, make_corpus):
    root = make_corpus()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "kept.txt").write_text("A file ingested in another run, still on disk.")
    a = Assistant(data_dir=tmp_path / "data", collection="safety")
    a.ingest([root])
    a.ingest([elsewhere])
    a.ingest_records([{"id": "rec-1", "title": "A record", "text": "Records have no file and are never pruned."}])
    before = _chunks(a)
    (root / "bees.docx").unlink()
    (root / "orchard.md").write_text("")  # still there, now unreadable: not "gone"
    report = a.ingest([root], prune=True)
    assert [(Path(r.source).name, r.status) for r in report.results if r.status == "removed"] == [("bees.docx", "removed")]
    after = _chunks(a)
    assert set(after) == set(before) - {"bees.docx"}
    assert all(after[name] == before[name] for name in after)  # the rest untouched, chunk for chunk
    assert report.chunks_deleted == len(before["bees.docx"])


def test_a_running_assistant_sees_what_another_process_forgot_and_added(tmp_path, make_corpus):
    """The web chat keeps one Assistant open for hours while the user runs ``assistant ingest``
    or ``forget`` in a terminal: it must not keep answering from chunks that were removed."""
    root = make_corpus()
    data_dir = tmp_path / "data"
    a = Assistant(data_dir=data_dir, collection="safety")
    a.ingest([root])
    assert "340 metres" in a.ask("How long is the Varden bridge?").text  # everything is loaded now
    bridges = str((root / "bridges.pdf").resolve())

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "harbour.txt").write_text("The harbour crane at Vesterhavn lifts 80 tonnes.")
    assert _cli("forget", str(root / "bridges.pdf"), data_dir=data_dir).returncode == 0
    assert _cli("ingest", str(extra), "--quiet", data_dir=data_dir).returncode == 0

    for mode in ("dense", "keyword", "fused"):
        hits = a.retrieve("How long is the Varden bridge across the fjord?", k=10, mode=mode).hits
        assert all(h.chunk.doc_id != bridges for h in hits), mode
    answer = a.ask("How long is the Varden bridge?")
    assert all(c.source != bridges for c in answer.citations)
    answer = a.ask("How many tonnes does the harbour crane at Vesterhavn lift?")
    assert not answer.abstained and "80 tonnes" in answer.text
    assert sorted(Path(d.source).name for d in a.sources()) == sorted(
        ["lighthouse.txt", "orchard.md", "glacier.html", "bees.docx", "harbour.txt"]
    )


QUESTIONS = [
    "How long is the Varden bridge?",
    "When was the lighthouse at Port Amsel built?",
    "How many bees does a healthy colony hold?",
]

READ_BACK = """
import json, sys
from assistant.client import Assistant
a = Assistant(data_dir=sys.argv[1], collection="safety")
answers = []
for q in json.loads(sys.argv[2]):
    ans = a.ask(q)
    answers.append([ans.text, [[c.source, c.quote] for c in ans.citations]])
sources = [[d.source, d.content_hash, d.chunks] for d in a.sources()]
print(json.dumps({"answers": answers, "sources": sources}))
"""


def test_a_copy_of_the_data_directory_restores_answers_and_sources(tmp_path, make_corpus):
    root = make_corpus()
    data_dir = tmp_path / "data"
    a = Assistant(data_dir=data_dir, collection="safety")
    a.ingest([root])
    at_backup = {
        "answers": [[ans.text, [[c.source, c.quote] for c in ans.citations]] for ans in map(a.ask, QUESTIONS)],
        "sources": [[d.source, d.content_hash, d.chunks] for d in a.sources()],
    }
    assert all(ans[1] for ans in at_backup["answers"])  # each question was answered with a citation

    backup = tmp_path / "backup"
    shutil.copytree(data_dir, backup)  # the backup, taken with the app idle (no ingest running)

    # Life goes on: a document is forgotten, another added.
    a.forget(root / "bridges.pdf")
    (root / "new.txt").write_text("The new note says the Varden bridge was repainted in 2021.")
    a.ingest([root])
    assert [d.source for d in a.sources()] != [s[0] for s in at_backup["sources"]]

    # Restore: the copy goes back in place; a fresh process reads it.
    shutil.rmtree(data_dir)
    shutil.copytree(backup, data_dir)
    env = {**os.environ, **TEST_ENV, "ASSISTANT_CONFIG": str(tmp_path / "no-config.toml")}
    result = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(data_dir), json.dumps(QUESTIONS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == at_backup
