"""The on-disk copy of the document list (assistant/index/manifest.py) never hides the truth.

The truth is the chunks' metadata in Chroma (``ChunkCollection.documents()``); the cached copy
is only valid while its stamp (collection id, generation, chunk count) matches. These tests
change the collection behind the cache's back — from another process, by writing to Chroma
directly, by crashing half way through an ingest — and check what the next reader sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ingest.pipeline as pipeline
from assistant.index import manifest
from assistant.client import Assistant
from assistant.index.store import Store

ROOT = Path(__file__).resolve().parents[1]

FACTS = {
    "alpha.txt": "The Alpha pumping station lifts water forty metres into the reservoir above Kettleby.",
    "bravo.txt": "Bravo Mill wove linen until 1958 and now houses a museum of looms and shuttles.",
    "charlie.txt": "The Charlie ferry crosses the estuary every twenty minutes between Hollin and Marsk.",
    "delta.txt": "Delta orchard planted three hundred pear trees along the southern wall in 1931.",
}


def _write(root: Path, names=FACTS, suffix: str = "") -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        p = root / name
        p.write_text(FACTS[name] + suffix, encoding="utf-8")
        paths.append(p)
    return paths


def _truth(a: Assistant) -> dict:
    return Store(a.settings).open(a.settings.collection).documents()


def _listed(a: Assistant) -> dict:
    return {d.doc_id: d for d in a.sources()}


def _names(docs) -> set[str]:
    return {Path(d.source).name for d in (docs.values() if isinstance(docs, dict) else docs)}


def _run_python(code: str) -> None:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_changes_made_by_another_process_are_seen(tmp_path, data_dir):
    alpha, bravo, charlie = _write(tmp_path / "docs", ["alpha.txt", "bravo.txt", "charlie.txt"])
    a = Assistant(data_dir=data_dir, collection="mf-other")
    a.ingest([alpha, bravo])
    assert _names(a.sources()) == {"alpha.txt", "bravo.txt"}
    cache_file = next((data_dir / "manifest").rglob("mf-other.json"))
    before = json.loads(cache_file.read_text())

    # Another process, through the API: adds one document and forgets another.
    _run_python(f"""
        from assistant.client import Assistant
        b = Assistant(data_dir={str(data_dir)!r}, collection="mf-other")
        assert b.ingest([{str(charlie)!r}]).count("added") == 1
        assert len(b.forget({str(alpha)!r})) == 1
    """)
    assert _names(a.sources()) == {"bravo.txt", "charlie.txt"}
    assert _listed(a) == _truth(a)
    report = a.ingest([alpha, bravo, charlie])
    assert {r.source.rsplit("/", 1)[-1]: r.status for r in report.results} == {
        "alpha.txt": "added", "bravo.txt": "unchanged", "charlie.txt": "unchanged"}

    # Another process writing to Chroma directly (no manifest, no generation bump): the chunk
    # count moves, so the cached copy no longer matches and is rebuilt.
    stamp = manifest.stamp_of(Store(a.settings).open("mf-other"))
    _run_python(f"""
        import chromadb
        from chromadb.config import Settings
        client = chromadb.PersistentClient(path={str(data_dir / "chroma")!r},
                                           settings=Settings(anonymized_telemetry=False))
        col = client.get_collection("mf-other")
        col.delete(where={{"source": {str(bravo.resolve())!r}}})
    """)
    col = Store(a.settings).open("mf-other")
    assert manifest.stamp_of(col)["generation"] == stamp["generation"]  # really behind its back
    assert _names(a.sources()) == {"alpha.txt", "charlie.txt"}
    assert _listed(a) == _truth(a)
    assert a.ingest([alpha, bravo, charlie]).count("added") == 1
    assert _names(a.sources()) == {"alpha.txt", "bravo.txt", "charlie.txt"}
    assert json.loads(cache_file.read_text())["stamp"] != before["stamp"]


class CrashAfter(pipeline.Ingestor):
    """Embeds ``groups`` groups of chunks for real, then fails like a killed process would."""

    def __init__(self, *args, groups: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = groups

    def embed_chunks(self, chunks, progress=None):
        if self.groups == 0:
            raise RuntimeError("simulated crash in the middle of an ingest")
        self.groups -= 1
        return super().embed_chunks(chunks, progress)


def test_a_crashed_ingest_leaves_a_stamp_that_forces_a_rebuild(tmp_path, data_dir, monkeypatch):
    paths = _write(tmp_path / "docs")
    a = Assistant(data_dir=data_dir, collection="mf-crash")
    assert a.ingest(paths).count("added") == 4
    old_hash = {d.source: d.content_hash for d in a.sources()}

    # Every document changes but keeps one chunk: once the first groups have replaced their
    # chunks, the collection holds as many chunks as before. Only the generation, bumped
    # before the first write, tells the cached copy apart from the truth.
    _write(tmp_path / "docs", suffix=" It was restored last spring.")
    monkeypatch.setattr(pipeline, "GROUP_CHUNKS", 1)  # one document per group
    with pytest.raises(RuntimeError, match="simulated crash"):
        CrashAfter(a.settings, a.embedder, progress=False, groups=2).ingest_paths(paths)

    truth = _truth(a)
    assert sum(d.chunks for d in truth.values()) == 4
    changed = {Path(d.source).name for d in truth.values() if d.content_hash != old_hash[d.source]}
    assert changed == {"alpha.txt", "bravo.txt"}  # the two groups written before the crash
    assert _listed(a) == truth  # not the copy cached before the crash

    monkeypatch.setattr(pipeline, "GROUP_CHUNKS", 256)
    rerun = a.ingest(paths)
    assert rerun.count("unchanged") == 2 and rerun.count("updated") == 2, rerun.summary()
    final = _listed(a)
    assert final == _truth(a)
    assert all(d.complete and d.content_hash != old_hash[d.source] for d in final.values())
    assert a.ingest(paths).count("unchanged") == 4


def test_a_crash_on_the_first_ingest_is_completed_by_the_next(tmp_path, data_dir, monkeypatch):
    paths = _write(tmp_path / "docs")
    a = Assistant(data_dir=data_dir, collection="mf-first")
    monkeypatch.setattr(pipeline, "GROUP_CHUNKS", 1)
    with pytest.raises(RuntimeError):
        CrashAfter(a.settings, a.embedder, progress=False, groups=1).ingest_paths(paths)
    assert _names(a.sources()) == {"alpha.txt"}
    assert _listed(a) == _truth(a)
    report = a.ingest(paths)
    assert report.count("unchanged") == 1 and report.count("added") == 3
    assert _names(a.sources()) == set(FACTS)


def test_sources_match_the_collection_after_a_mix_of_operations(tmp_path, data_dir):
    docs = tmp_path / "docs"
    alpha, bravo, charlie, delta = _write(docs)
    a = Assistant(data_dir=data_dir, collection="mf-mix")

    def check(expected: set[str]) -> None:
        listed = _listed(a)
        assert listed == _truth(a)
        assert _names(listed) == expected
        assert all(d.complete for d in listed.values())

    a.ingest([alpha, bravo, charlie])
    check({"alpha.txt", "bravo.txt", "charlie.txt"})
    # A changed file that now needs several chunks.
    bravo.write_text(" ".join([FACTS["bravo.txt"]] * 40), encoding="utf-8")
    assert a.ingest([docs]).count("updated") == 1
    check({"alpha.txt", "bravo.txt", "charlie.txt", "delta.txt"})
    assert _listed(a)[str(bravo.resolve())].chunks > 1
    charlie.unlink()
    a.forget(charlie)  # gone from disk already: forgotten by its path
    check({"alpha.txt", "bravo.txt", "delta.txt"})
    a.ingest_records([{"id": "rec-1", "title": "Echo", "text": "Echo quarry produced granite setts until 1970."},
                      {"id": "rec-2", "title": "Foxtrot", "text": "Foxtrot lane was paved in 1889."}])
    check({"alpha.txt", "bravo.txt", "delta.txt", "rec-1", "rec-2"})
    delta.unlink()
    assert a.ingest([docs], prune=True).count("removed") == 1
    check({"alpha.txt", "bravo.txt", "rec-1", "rec-2"})
    bravo.write_text(FACTS["bravo.txt"], encoding="utf-8")  # back to one chunk
    a.ingest([docs])
    check({"alpha.txt", "bravo.txt", "rec-1", "rec-2"})
    assert _listed(a)[str(bravo.resolve())].chunks == 1
    assert a.ingest([docs]).chunks_written == 0  # unchanged, from the cached copy
    check({"alpha.txt", "bravo.txt", "rec-1", "rec-2"})
