"""Crashes and concurrent ingests, with real processes: an ingest killed with SIGKILL leaves a
usable index and a re-run completes it exactly; a second ingest of the same collection at the
same time refuses with a clear message; neither corrupts the store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.index.store import Store
from tests.ui_helpers import ROOT, TEST_ENV

pytestmark = pytest.mark.robustness

DOCS = 400  # one chunk each: groups of 256 chunks are committed one after the other


def _station(i: int) -> str:
    return f"Station {i} logbook. The pump at station {i} delivers {(i * 37) % 900 + 100} litres per minute."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stations")
    for i in range(DOCS):
        (root / f"station-{i:03d}.txt").write_text(_station(i))
    return root


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """A clean, uninterrupted ingest of the same files: what every other run must end up as."""
    a = Assistant(data_dir=tmp_path_factory.mktemp("reference"), collection="stations")
    report = a.ingest([corpus])
    assert report.count("added") == DOCS
    return _snapshot(a)


def _snapshot(a: Assistant) -> dict:
    col = Store(a.settings).open(a.settings.collection)
    ids = [cid for cid, _, _ in col.scan()]
    docs = {d.doc_id: (d.content_hash, d.chunks, d.expected_chunks) for d in col.documents().values()}
    return {"count": col.count(), "ids": sorted(ids), "docs": docs}


def _env(data_dir: Path) -> dict:
    return {**os.environ, **TEST_ENV, "ASSISTANT_CONFIG": str(data_dir / "no-config.toml")}


def _ingest_process(corpus: Path, data_dir: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest", str(corpus), "--data-dir", str(data_dir),
         "--collection", "stations", "--json", "--quiet"],
        cwd=ROOT, env=_env(data_dir), stdout=subprocess.PIPE, stderr=open(log, "wb"), text=True,
    )


def _committed(data_dir: Path) -> int:
    """Rows Chroma has committed, read from its SQLite file without opening a client."""
    path = data_dir / "chroma" / "chroma.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2) as db:
            return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error:  # busy, or the tables are not created yet
        return 0


def test_ingest_killed_mid_way_leaves_a_usable_index_and_a_rerun_completes_it(corpus, reference, tmp_path):
    data_dir = tmp_path / "data"
    proc = _ingest_process(corpus, data_dir, tmp_path / "ingest.log")
    deadline = time.monotonic() + 600
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        committed = _committed(data_dir)
        if committed:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (
        f"the ingest was not killed mid-way (exit {proc.returncode}, {committed} rows committed)"
    )
    assert 0 < committed < DOCS

    # The index is usable: what was committed is there, complete, and answers questions.
    a = Assistant(data_dir=data_dir, collection="stations")
    after_kill = _snapshot(a)
    assert 0 < after_kill["count"] < DOCS
    assert set(after_kill["ids"]) <= set(reference["ids"])
    complete = [doc for doc, (_, chunks, expected) in after_kill["docs"].items() if chunks == expected]
    assert complete
    first = sorted(complete)[0]
    n = int(Path(first).stem.split("-")[1])
    answer = a.ask(f"How many litres per minute does the pump at station {n} deliver?")
    assert not answer.abstained
    assert f"{(n * 37) % 900 + 100} litres" in answer.text
    assert answer.citations[0].source == first
    dense = a.retrieve(f"pump at station {n} litres per minute", k=1, mode="dense").hits
    assert dense[0].chunk.doc_id == first  # the vector index has the committed chunks too

    # A re-run (a fresh process, as a user would) completes it exactly.
    rerun = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(corpus), "--data-dir", str(data_dir),
         "--collection", "stations", "--json", "--quiet"],
        cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["added"] + report["updated"] == DOCS - len(complete)
    assert report["unchanged"] == len(complete)
    final = _snapshot(Assistant(data_dir=data_dir, collection="stations"))
    assert final == reference  # same chunk ids, no duplicates, nothing missing, same documents
    print(f"\nkilled after {after_kill['count']} of {DOCS} chunks committed "
          f"({len(complete)} documents complete); re-run wrote {report['chunks_written']}, "
          f"final {final['count']} chunks = clean ingest {reference['count']}")


PRE_WARMED = """
import sys
from assistant.cli import main
import ingest.pipeline  # everything imported: the ingest below starts at once
sys.stdin.readline()
sys.exit(main(sys.argv[1:]))
"""


def test_a_second_ingest_at_the_same_time_refuses_and_neither_corrupts_the_store(tmp_path):
    data_dir = tmp_path / "data"
    corpus = tmp_path / "stations"
    corpus.mkdir()
    small = 60
    for i in range(small):
        (corpus / f"station-{i:03d}.txt").write_text(_station(i))
    other = tmp_path / "other"
    other.mkdir()
    (other / "late.txt").write_text("The late note says the ferry timetable changed in April.")
    # The second process is started first and waits, fully imported, for the go signal.
    second = subprocess.Popen(
        [sys.executable, "-c", PRE_WARMED, "ingest", str(other), "--data-dir", str(data_dir),
         "--collection", "stations", "--json", "--quiet"],
        cwd=ROOT, env=_env(data_dir), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    first = _ingest_process(corpus, data_dir, tmp_path / "first.log")
    lock = data_dir / "locks" / "stations.lock"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if lock.exists() and lock.read_text().startswith("pid"):
            break
        time.sleep(0.02)
    assert first.poll() is None, "the first ingest ended before the second could start"
    out, err = second.communicate("go\n", timeout=300)
    assert first.poll() is None, "the first ingest ended while the second ran: the test proved nothing"
    assert second.returncode == 1
    assert f"error: collection 'stations' is being changed by pid {first.pid}" in err
    assert "wait for it to finish" in err and "Traceback" not in err
    assert out == ""

    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0
    assert json.loads(out)["added"] == small
    snapshot = _snapshot(Assistant(data_dir=data_dir, collection="stations"))
    assert snapshot["count"] == len(set(snapshot["ids"])) == small
    assert len(snapshot["docs"]) == small
    assert all(chunks == expected == 1 for _, chunks, expected in snapshot["docs"].values())
    # Once the first is done, the refused ingest goes through.
    again = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(other), "--data-dir", str(data_dir),
         "--collection", "stations", "--json", "--quiet"],
        cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0 and json.loads(again.stdout)["added"] == 1
    a = Assistant(data_dir=data_dir, collection="stations")
    assert Store(a.settings).open("stations").count() == small + 1
    assert "April" in a.ask("When did the ferry timetable change?").text
