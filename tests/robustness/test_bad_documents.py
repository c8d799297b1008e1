"""Bad documents among good ones: each is ingested or skipped with a one-line reason, the good
ones are ingested and answerable, and nothing crashes. Real readers, real Chroma, real encoder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.index.store import Store
from tests.robustness.badfiles import write_bad_corpus
from tests.ui_helpers import ROOT, TEST_ENV

pytestmark = pytest.mark.robustness


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs") / "corpus"
    cases = write_bad_corpus(root, tmp_path_factory.mktemp("scratch"))
    assistant = Assistant(data_dir=tmp_path_factory.mktemp("bad-data"), collection="bad-inputs")
    report = assistant.ingest([root])
    yield root, cases, assistant, report
    (root / "huge.txt").unlink()  # 50 MB: pytest keeps the last runs' temporary directories


def _relative(source: str, root: Path) -> str:
    for base in (root, root.resolve()):
        try:
            return str(Path(source).relative_to(base))
        except ValueError:
            continue
    return source


def _stored_text(assistant: Assistant, root: Path) -> dict[str, str]:
    col = Store(assistant.settings).open(assistant.settings.collection)
    text: dict[str, list[str]] = {}
    for _, meta, doc in col.scan(include=("metadatas", "documents")):
        text.setdefault(_relative(meta["source"], root), []).append(doc or "")
    return {k: " ".join(v) for k, v in text.items()}


def test_every_bad_input_is_ingested_or_skipped_with_its_reason(bad_run):
    root, cases, assistant, report = bad_run
    results = {}
    for r in report.results:
        results.setdefault(_relative(r.source, root), []).append(r)
    stored = _stored_text(assistant, root)
    problems = []
    table = []
    for case in cases:
        if case.name == "too-deep":
            got = [r for name, rs in results.items() if name.startswith("too-deep/") for r in rs]
        else:
            got = results.get(case.name, [])
        if len(got) != 1:
            problems.append(f"{case.name}: expected one result, got {got}")
            continue
        r = got[0]
        table.append(f"{case.what:58s} {r.status:8s} {r.reason or f'{r.chunks} chunks'}")
        if case.outcome == "ingested":
            if r.status != "added":
                problems.append(f"{case.name}: expected ingested, got {r.status} ({r.reason})")
            elif case.expect not in stored.get(case.name, ""):
                problems.append(f"{case.name}: stored text lacks {case.expect!r}: {stored.get(case.name, '')[:120]!r}")
        else:
            if r.status != "skipped" or case.expect not in r.reason:
                problems.append(f"{case.name}: expected skipped with {case.expect!r}, got {r.status} ({r.reason})")
            if "\n" in r.reason:
                problems.append(f"{case.name}: reason is not one line: {r.reason!r}")
    print("\n" + "\n".join(table))
    assert not problems, "\n".join(problems)
    # Nothing unexpected was reported, and nothing skipped was stored.
    listed = {c.name for c in cases}
    extra = [n for n in results if n not in listed and not n.startswith("too-deep/")]
    assert not extra, extra
    skipped = {c.name for c in cases if c.outcome == "skipped"}
    assert not skipped & set(stored)


def test_the_good_documents_in_the_same_run_are_answerable(bad_run):
    _, _, assistant, report = bad_run
    assert report.count("added") >= 5
    answer = assistant.ask("How long is the Varden bridge?")
    assert not answer.abstained and "340 metres" in answer.text
    answer = assistant.ask("How deep is the old well?")
    assert not answer.abstained and "forty metres" in answer.text


def test_a_second_run_over_the_same_bad_inputs_changes_nothing(bad_run):
    root, _, assistant, first = bad_run
    count = Store(assistant.settings).open(assistant.settings.collection).count()
    again = assistant.ingest([root])
    assert again.chunks_written == 0 and again.chunks_deleted == 0
    assert again.count("unchanged") == first.count("added")
    assert again.count("skipped") == first.count("skipped")
    assert Store(assistant.settings).open(assistant.settings.collection).count() == count


def test_the_file_size_limit_can_be_raised(tmp_path):
    """About 58 KB of text: over a 0.05 MB limit it is skipped; with the limit raised it is ingested whole."""
    doc = tmp_path / "ledgers.txt"
    lines = [f"Ledger {i} records barley at {i % 97} pence a bushel in the year {1700 + i % 200}." for i in range(900)]
    lines[400] = "Ledger 400 records that the harbour master was named Tobias Quill."
    doc.write_text(" ".join(lines))
    assert 55_000 < doc.stat().st_size < 80_000
    small = Assistant(data_dir=tmp_path / "data", collection="limits", max_file_mb=0.05)
    report = small.ingest([doc])
    assert report.results[0].status == "skipped" and "0.05 MB limit" in report.results[0].reason
    raised = Assistant(data_dir=tmp_path / "data", collection="limits", max_file_mb=0.1)
    report = raised.ingest([doc])
    assert report.count("added") == 1
    record = raised.sources()[0]
    assert record.complete and record.chunks > 30
    hits = raised.retrieve("What was the name of the harbour master?", k=3).hits
    assert "Tobias Quill" in hits[0].chunk.text  # the middle of the file is in the index


def test_absurdly_nested_html_is_read_in_linear_time():
    """A 50,000-deep page (about 600 KB) must not take minutes: the old tree-based reader was
    quadratic (about 50 s at 20,000 levels). The alarm is a hang guard, not a speed target."""
    from ingest.readers import parse

    depth = 50_000
    data = ("<div>" * depth + "Deep text." + "</div>" * depth).encode()

    def hung(*_):
        raise TimeoutError("reading the nested page took more than 60 s")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        doc = parse(Path("nested.html"), data)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert doc.text == "Deep text."


def _without_dac_override():
    """For a child of root: drop the capabilities that let root read any file, so file modes
    apply to it as to any user (prctl PR_CAPBSET_DROP; the exec then loses them)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "cannot drop capabilities")


def _run_unprivileged(args, **kwargs):
    preexec = _without_dac_override if os.geteuid() == 0 else None
    env = {**os.environ, **TEST_ENV, **kwargs.pop("env", {})}
    return subprocess.run(args, preexec_fn=preexec, capture_output=True, text=True, cwd=ROOT, env=env, **kwargs)


def test_unreadable_files_and_directories_are_skipped_with_a_reason(tmp_path):
    """Runs the real CLI as a process for which file modes apply (tests run as root here and in
    CI, and root reads anything: the child drops that power first)."""
    import json

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "readable.txt").write_text("The readable note says the gate is painted blue.")
    secret = corpus / "secret.txt"
    secret.write_text("The secret note says the key is under the mat.")
    locked_dir = corpus / "locked"
    locked_dir.mkdir()
    (locked_dir / "inside.txt").write_text("The note inside says nothing much.")
    secret.chmod(0)
    locked_dir.chmod(0)
    try:
        try:
            probe = _run_unprivileged([sys.executable, "-c", f"open({str(secret)!r}).read()"])
        except subprocess.SubprocessError as exc:
            pytest.fail(f"cannot drop root's power to read any file here (prctl needs CAP_SETPCAP): {exc}")
        assert probe.returncode != 0 and "PermissionError" in probe.stderr, (
            "could not make a file unreadable for the ingest process: " + probe.stderr
        )
        result = _run_unprivileged(
            [sys.executable, "-m", "assistant", "ingest", str(corpus), "--data-dir", str(tmp_path / "data"),
             "--collection", "perms", "--json", "--quiet"],
            env={"ASSISTANT_CONFIG": str(tmp_path / "none.toml")},
            timeout=300,
        )
    finally:
        secret.chmod(0o644)
        locked_dir.chmod(0o755)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {Path(f["source"]).name: f for f in report["files"]}
    assert by_name["readable.txt"]["status"] == "added"
    assert by_name["secret.txt"]["status"] == "skipped"
    assert by_name["secret.txt"]["reason"] == "cannot read: Permission denied"
    assert by_name["locked"]["status"] == "skipped"
    assert by_name["locked"]["reason"] == "cannot read directory: Permission denied"
    assert report["added"] == 1 and report["skipped"] == 2


def test_a_reader_failing_unexpectedly_costs_that_file_only(tmp_path, monkeypatch):
    """Parsers raise all sorts of errors on odd files; whatever a reader raises skips that file
    with the reason and the run goes on. (The failing reader is simulated: any real one we know
    of is already handled above.)"""
    from ingest import readers

    def broken_reader(path, data):
        raise KeyError("word/document.xml")

    monkeypatch.setitem(readers.READERS, ".md", broken_reader)
    (tmp_path / "a.md").write_text("# A\n\nText.")
    (tmp_path / "b.txt").write_text("The b note says the bell rings at noon.")
    report = Assistant(data_dir=tmp_path / "data", collection="reader-bug").ingest([tmp_path / "a.md", tmp_path / "b.txt"])
    by_name = {Path(r.source).name: r for r in report.results}
    assert by_name["b.txt"].status == "added"
    assert by_name["a.md"].status == "skipped"
    assert by_name["a.md"].reason == "cannot parse this .md file (KeyError: 'word/document.xml')"


def test_records_with_invalid_unicode_are_ingested(tmp_path):
    """Text handed to ``ingest_records`` may hold lone surrogates (from a careless decode);
    the encoder and Chroma refuse them, which used to fail the whole batch."""
    a = Assistant(data_dir=tmp_path / "data", collection="records")
    report = a.ingest_records([
        {"id": "bad", "title": "Broken \udc80 title", "text": "The surrogate \ud800 note says the ferry leaves at nine."},
        {"id": "good", "text": "The good note says the market opens on Fridays."},
    ])
    assert report.count("added") == 2
    hit = a.retrieve("When does the ferry leave?", k=1).hits[0]
    assert hit.chunk.text == "The surrogate ? note says the ferry leaves at nine."
    assert hit.chunk.title == "Broken ? title"
