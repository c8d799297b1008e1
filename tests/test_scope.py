"""Scoped questions: two memos that disagree, answered only from the chosen one, by Python and
the CLI; globs, tags, dates, metadata filters; follow-ups keep the scope; keyword-only matches
stay inside it; tagging later changes metadata only. Real Chroma, the real packaged model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import BadScope, EmptyScope

ROOT = Path(__file__).resolve().parents[1]

OLD = """# Office memo, March 2023

Parking: staff park in lot B, behind the warehouse. The cafeteria closes at 2pm on weekdays.
Visitors sign in at the front desk. The warehouse alarm code is changed every quarter.
"""
NEW = """# Office memo, June 2024

Parking: staff park in lot D, beside the river entrance. The cafeteria closes at 4pm on weekdays.
Visitors sign in at the front desk. Bicycles go in the covered rack near the river entrance.
"""
OTHER = """# Garden club newsletter

The garden club meets on Tuesdays. Tomatoes and beans grow well in raised beds.
"""


@pytest.fixture(scope="module")
def memos(tmp_path_factory):
    """A collection of an old memo (tagged old), a new one (tagged current) and an unrelated note."""
    from assistant.client import Assistant

    root = tmp_path_factory.mktemp("memos")
    (root / "2023").mkdir()
    (root / "2024").mkdir()
    old, new, other = root / "2023" / "memo-2023.md", root / "2024" / "memo-2024.md", root / "garden.txt"
    old.write_text(OLD)
    new.write_text(NEW)
    other.write_text(OTHER)
    os.utime(old, (1678000000, 1678000000))  # 2023-03-05
    os.utime(new, (1718000000, 1718000000))  # 2024-06-10
    data = tmp_path_factory.mktemp("memo-index")
    a = Assistant(data_dir=data, collection="memos")
    a.ingest([old], tags=["old"])
    a.ingest([new], tags=["current", "policy"])
    a.ingest([other])
    return a, root, data


def cited(answer) -> set[str]:
    return {Path(c.source).name for c in answer.citations} | {Path(c.source).name for c in answer.related}


def test_metadata_on_every_document(memos):
    a, root, _ = memos
    docs = {Path(d.source).name: d for d in a.sources()}
    new = docs["memo-2024.md"]
    assert new.tags == ["current", "policy"]
    assert new.folder == str((root / "2024").resolve())
    assert new.file_type == "md" and docs["garden.txt"].file_type == "txt"
    assert new.modified == 1718000000.0
    assert new.title == "Office memo, June 2024"
    assert docs["garden.txt"].tags == []
    # The chunks themselves carry it (the index is its own manifest).
    col = a.collection()
    meta = col.raw.get(where={"doc_id": new.doc_id}, include=["metadatas"])["metadatas"][0]
    assert meta["tags"] == "current,policy" and meta["file_type"] == "md" and meta["folder"] == new.folder


def test_the_disagreeing_memos_are_answered_from_the_tagged_one_only(memos):
    a, _, _ = memos
    current = a.ask("Where do staff park?", tags=["current"])
    assert "lot D" in current.text and "lot B" not in current.text
    assert cited(current) == {"memo-2024.md"}
    assert current.scope == {"tags": ["current"]}
    old = a.ask("Where do staff park?", tags=["old"])
    assert "lot B" in old.text and "lot D" not in old.text
    assert cited(old) == {"memo-2023.md"}


def test_module_level_ask_takes_a_scope(memos):
    from assistant.client import ask

    _, _, data = memos
    answer = ask("When does the cafeteria close?", tags="old", data_dir=data, collection="memos")
    assert "2pm" in answer.text and "4pm" not in answer.text
    assert cited(answer) == {"memo-2023.md"}


def test_glob_directory_and_name_scopes(memos):
    a, root, _ = memos
    by_glob = a.ask("When does the cafeteria close?", sources=["*/2023/*.md"])
    assert "2pm" in by_glob.text and cited(by_glob) == {"memo-2023.md"}
    by_dir = a.ask("When does the cafeteria close?", sources=[root / "2024"])
    assert "4pm" in by_dir.text and cited(by_dir) == {"memo-2024.md"}
    by_name = a.ask("When does the cafeteria close?", sources="memo-2024.md")
    assert cited(by_name) == {"memo-2024.md"}
    assert {Path(d.source).name for d in a.sources(sources=["memo-*"])} == {"memo-2023.md", "memo-2024.md"}


def test_since_and_where_scopes(memos):
    a, _, _ = memos
    since = a.ask("When does the cafeteria close?", since="2024-01-01", where={"file_type": "md"})
    assert "4pm" in since.text and cited(since) == {"memo-2024.md"}
    before = a.ask("When does the cafeteria close?", where={"modified": {"$lt": 1700000000}, "file_type": "md"})
    assert "2pm" in before.text and cited(before) == {"memo-2023.md"}
    tagged = a.ask("Where do staff park?", where={"tags": {"$in": ["policy"]}})
    assert cited(tagged) == {"memo-2024.md"}


def test_a_follow_up_keeps_the_scope(memos):
    a, _, _ = memos
    chat = a.chat(scope={"tags": ["old"]})
    first = chat.ask("Where do staff park?")
    assert "lot B" in first.text
    second = chat.ask("And when does the cafeteria close?")
    assert "2pm" in second.text and "4pm" not in second.text, second.text
    assert cited(second) == {"memo-2023.md"}
    assert second.scope == {"tags": ["old"]}
    # Streaming keeps it too.
    final = [x for x in chat.stream("What about visitors?") if not isinstance(x, str)][-1]
    assert cited(final) <= {"memo-2023.md"}


def test_keyword_only_matches_stay_inside_the_scope(memos):
    a, _, _ = memos
    # "river", "bicycles" and "rack" are only in the new memo: BM25 would rank it first.
    unscoped = a.retrieve("bicycles rack river entrance", mode="keyword")
    assert Path(unscoped.hits[0].chunk.source).name == "memo-2024.md"
    scoped = a.retrieve("bicycles rack river entrance", mode="keyword", tags=["old"])
    assert all(Path(h.chunk.source).name == "memo-2023.md" for h in scoped.hits)
    fused = a.retrieve("bicycles rack river entrance", k=10, tags=["old"])
    assert fused.hits and all(Path(h.chunk.source).name == "memo-2023.md" for h in fused.hits)
    answer = a.ask("Where do the bicycles go near the river entrance?", tags=["old"])
    assert cited(answer) <= {"memo-2023.md"}
    assert "rack" not in answer.text


def test_an_empty_scope_is_a_clear_error(memos):
    a, _, _ = memos
    with pytest.raises(EmptyScope, match="no document is tagged 'nope'.*tags in use: current, old, policy"):
        a.ask("Where do staff park?", tags=["nope"])
    with pytest.raises(EmptyScope, match="no document matches"):
        a.ask("Where do staff park?", sources=["*.pdf"])
    with pytest.raises(BadScope, match="unknown metadata field 'colour'"):
        a.ask("Where do staff park?", where={"colour": "red"})
    with pytest.raises(BadScope, match="since must be a date"):
        a.ask("Where do staff park?", since="last tuesday")


def test_tagging_later_changes_metadata_only(tmp_path):
    from assistant.client import Assistant
    from assistant.index.keyword import _cache_dir

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "memo-2023.md").write_text(OLD)
    (docs / "memo-2024.md").write_text(NEW)
    a = Assistant(data_dir=tmp_path / "data", collection="tagging")
    a.ingest([docs])
    a.retrieve("parking lot")  # builds the keyword index
    col = a.collection()
    before = col.raw.get(include=["embeddings", "documents"])
    kw_ids = _cache_dir(a.settings, "tagging") / "ids.json"
    kw_mtime = kw_ids.stat().st_mtime_ns

    changed = a.tag(docs / "memo-2023.md", ["archived"])
    assert [d.tags for d in changed] == [["archived"]]
    col = a.collection()
    after = col.raw.get(include=["embeddings", "documents"])
    assert after["ids"] == before["ids"]
    assert (after["embeddings"] == before["embeddings"]).all()  # nothing re-embedded
    assert kw_ids.stat().st_mtime_ns == kw_mtime  # the keyword index was kept, not rebuilt
    # ... and yet both sides see the new tag at once, in this process and in a fresh one.
    hits = a.retrieve("staff park lot visitors", mode="keyword", tags=["archived"]).hits
    assert hits and all(Path(h.chunk.source).name == "memo-2023.md" for h in hits)
    assert kw_ids.stat().st_mtime_ns == kw_mtime
    r = _cli("ask", "--json", "--tag", "archived", "Where do staff park?", data_dir=tmp_path / "data",
             collection="tagging")
    assert r.returncode == 0, r.stderr
    assert {Path(c["source"]).name for c in json.loads(r.stdout)["citations"]} == {"memo-2023.md"}

    # Re-ingesting a changed file keeps its tags; ingest --tag on an unchanged one adds a tag.
    (docs / "memo-2023.md").write_text(OLD + "\nThe lobby is repainted in May.\n")
    report = a.ingest([docs], tags=["memos"])
    assert report.count("updated") == 1 and report.count("unchanged") == 1
    assert report.chunks_written == 1  # the unchanged memo is not re-embedded for its new tag
    tags = {Path(d.source).name: d.tags for d in a.sources()}
    assert tags == {"memo-2023.md": ["archived", "memos"], "memo-2024.md": ["memos"]}

    a.untag(docs, ["memos", "archived"])
    assert all(d.tags == [] for d in a.sources())
    with pytest.raises(EmptyScope):
        a.ask("Where do staff park?", tags=["archived"])


def _cli(*args: str, data_dir: Path, collection: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_COLLECTION": collection}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_cli_scopes_tags_and_sources(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "memo-2023.md").write_text(OLD)
    (docs / "memo-2024.md").write_text(NEW)
    data = tmp_path / "data"
    r = _cli("ingest", str(docs / "memo-2023.md"), "--tag", "old", "--quiet", data_dir=data, collection="cli-memos")
    assert r.returncode == 0, r.stderr
    r = _cli("ingest", str(docs / "memo-2024.md"), "--tag", "current", "--quiet", data_dir=data, collection="cli-memos")
    assert r.returncode == 0, r.stderr

    r = _cli("ask", "--tag", "current", "Where do staff park?", data_dir=data, collection="cli-memos")
    assert r.returncode == 0, r.stderr
    assert "lot D" in r.stdout and "lot B" not in r.stdout and "memo-2023" not in r.stdout
    r = _cli("ask", "--source", "*2023*", "--json", "When does the cafeteria close?", data_dir=data,
             collection="cli-memos")
    answer = json.loads(r.stdout)
    assert "2pm" in answer["answer"] and answer["scope"] == {"sources": ["*2023*"]}
    assert {Path(c["source"]).name for c in answer["citations"]} == {"memo-2023.md"}

    r = _cli("sources", "--tag", "old", data_dir=data, collection="cli-memos")
    assert "memo-2023.md" in r.stdout and "tags old" in r.stdout and "memo-2024" not in r.stdout
    r = _cli("tag", str(docs), "memos", data_dir=data, collection="cli-memos")
    assert r.returncode == 0 and r.stdout.count("memos") == 2, r.stderr
    r = _cli("sources", "--json", data_dir=data, collection="cli-memos")
    assert sorted(d["tags"] for d in json.loads(r.stdout)) == [["current", "memos"], ["memos", "old"]]

    r = _cli("ask", "--tag", "nope", "Where do staff park?", data_dir=data, collection="cli-memos")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "no document is tagged 'nope'" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli("ask", "--where", "{not json", "Where?", data_dir=data, collection="cli-memos")
    assert r.returncode == 1 and "--where must be JSON" in r.stderr


def test_eval_suite_questions_carry_a_scope(tmp_path):
    """`assistant eval` on a suite whose corpus files are tagged and whose questions are scoped."""
    suite_dir = tmp_path / "suite"
    (suite_dir / "memos").mkdir(parents=True)
    (suite_dir / "memos" / "memo-2023.md").write_text(OLD)
    (suite_dir / "memos" / "memo-2024.md").write_text(NEW)
    (suite_dir / "memos.toml").write_text(
        'name = "memos"\ncorpus = ["memos"]\nquestions = "memos.jsonl"\n'
        '[tags]\n"memos/memo-2023.md" = ["old"]\n"memos/memo-2024.md" = ["current"]\n'
    )
    questions = [
        {"id": "park-current", "question": "Where do staff park?", "answers": ["lot D"], "scope": {"tags": ["current"]}},
        {"id": "park-old", "question": "Where do staff park?", "answers": ["lot B"], "scope": {"tags": ["old"]}},
        {"id": "cafe-old-followup", "question": "And when does the cafeteria close?", "answers": ["2pm"],
         "turns": ["Where do staff park?"], "scope": {"sources": ["*2023*"]}},
    ]
    (suite_dir / "memos.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    out = tmp_path / "out"
    r = _cli("eval", str(suite_dir / "memos.toml"), "--out", str(out), "--quiet", data_dir=tmp_path / "data",
             collection="unused")
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    records = {rec["id"]: rec for rec in results["questions"]}
    want = {"park-current": "memo-2024.md", "park-old": "memo-2023.md", "cafe-old-followup": "memo-2023.md"}
    for qid, source in want.items():
        rec = records[qid]
        assert rec["scope"] == questions[[q["id"] for q in questions].index(qid)]["scope"]
        assert rec["citations"] and {Path(c["source"]).name for c in rec["citations"]} == {source}, rec
        assert {Path(d["source"]).name for d in rec["retrieved"]} == {source}
    assert "lot D" in records["park-current"]["answer"] and "lot B" not in records["park-current"]["answer"]
    assert "lot B" in records["park-old"]["answer"] and "lot D" not in records["park-old"]["answer"]
    assert "2pm" in records["cafe-old-followup"]["answer"] and "4pm" not in records["cafe-old-followup"]["answer"]
