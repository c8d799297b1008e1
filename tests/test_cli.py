"""The command line, run as a user would: a subprocess, real index, real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, data_dir: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


def test_help_explains_the_commands(tmp_path):
    r = run("--help", data_dir=tmp_path)
    assert r.returncode == 0
    for word in ("ingest", "ask", "sources", "forget", "config"):
        assert word in r.stdout
    r = run("ingest", "--help", data_dir=tmp_path)
    assert "--prune" in r.stdout and "--json" in r.stdout


def test_ingest_ask_sources_forget_round_trip(tmp_path, make_corpus):
    root = make_corpus(corrupt=True)
    data = tmp_path / "data"
    r = run("ingest", str(root), "--json", data_dir=data)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["added"] == 5 and report["skipped"] == 5
    assert {Path(f["source"]).name for f in report["files"] if f["status"] == "skipped"} >= {"broken.pdf", "fake.docx"}

    r = run("ask", "--json", "When was the Ostby tunnel opened?", data_dir=data)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert "1998" in answer["answer"] and not answer["abstained"]
    assert answer["citations"][0]["page"] == 2
    assert answer["citations"][0]["source"].endswith("bridges.pdf")

    r = run("ask", "When", "was", "the", "Ostby", "tunnel", "opened?", data_dir=data)
    assert r.returncode == 0
    assert "[1]" in r.stdout and "bridges.pdf › page 2" in r.stdout

    r = run("sources", "--json", data_dir=data)
    assert len(json.loads(r.stdout)) == 5

    r = run("forget", str(root / "bridges.pdf"), data_dir=data)
    assert r.returncode == 0 and "removed" in r.stdout
    r = run("sources", data_dir=data)
    assert "bridges.pdf" not in r.stdout and "4 documents" in r.stdout


def test_sample_is_ingested_and_answered(tmp_path):
    data = tmp_path / "data"
    r = run("ingest", "--sample", "--quiet", data_dir=data)
    assert r.returncode == 0 and "1 added" in r.stdout, r.stdout + r.stderr
    r = run("ask", "How many targets did the US strike?", data_dir=data)
    assert r.returncode == 0
    assert "85 targets" in r.stdout and "[1] us-strikes-iran-militias.txt" in r.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (("ask", "   "), "question is empty"),
        (("ask", "--collection", "nope", "hello?"), "does not exist"),
        (("ingest", "/no/such/path"), "no such file or directory"),
        (("ask", "--collection", "x"), None),  # argparse: missing question
        (("forget", "/not/indexed.txt"), "does not exist"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    r = run(*args, data_dir=tmp_path / "data")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    if message:
        assert message in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_empty_index_is_reported(tmp_path):
    from assistant.config import load_settings
    from assistant.index.store import Store

    data = tmp_path / "data"
    Store(load_settings({"data_dir": data})).open("default", create=True)
    r = run("ask", "anything?", data_dir=data)
    assert r.returncode == 1 and "is empty" in r.stderr


def test_config_shows_values_and_their_origin(tmp_path):
    r = run("config", "--json", "--top-k", "9", data_dir=tmp_path, env_extra={"ASSISTANT_COLLECTION": "envcol"})
    rows = {row["name"]: row for row in json.loads(r.stdout)["settings"]}
    assert rows["top_k"]["value"] == "9" and rows["top_k"]["origin"] == "command line"
    assert rows["collection"]["value"] == "envcol" and rows["collection"]["origin"] == "env ASSISTANT_COLLECTION"


def _ingest_on_a_terminal(*args: str, data_dir: Path) -> tuple[int, str, str]:
    """``assistant ingest`` with stderr on a pseudo-terminal, as in a user's shell."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 x 100, like a window
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", *args], stdout=subprocess.PIPE,
                            stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    err = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        err += data
    out = proc.stdout.read().decode()
    proc.wait(timeout=300)
    os.close(master)
    return proc.returncode, out, err.decode(errors="replace")


def test_ingest_shows_a_progress_bar_on_a_terminal_and_collections_lists_what_was_made(tmp_path, make_corpus):
    root = make_corpus()
    data = tmp_path / "data"
    code, out, err = _ingest_on_a_terminal(str(root), "--collection", "notes", data_dir=data)
    assert code == 0, err
    assert "embedding 5 documents" in err and "100%" in err and "chunk" in err  # tqdm's bar, to the end
    assert "5 added" in out
    # --quiet (and --json): no bar, even on a terminal.
    code, out, err = _ingest_on_a_terminal(str(root / "lighthouse.txt"), "--collection", "papers", "--quiet",
                                           data_dir=data)
    assert code == 0 and "1 added" in out
    assert "embedding" not in err and "%" not in err

    r = run("collections", data_dir=data)
    assert r.returncode == 0 and r.stdout.split() == ["notes", "papers"]
    r = run("collections", "--json", data_dir=data)
    assert json.loads(r.stdout) == ["notes", "papers"]
    r = run("collections", data_dir=tmp_path / "empty")
    assert r.returncode == 0 and r.stdout.strip() == "no collections"
