"""Uploads through the web chat: safe names, limits, stored under the data dir, ingested for real."""

from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.web.uploads import check_upload, is_upload, safe_filename, store_and_ingest, upload_dir


@pytest.mark.parametrize(
    "given, expected",
    [
        ("notes.md", "notes.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("..", "upload"),
        (".hidden.txt", "hidden.txt"),
        ("a<b>c|d?.txt", "a_b_c_d_.txt"),
        ("line\nbreak\x00.txt", "line_break_.txt"),
        ("Résumé 2024.docx", "Résumé 2024.docx"),
    ],
)
def test_safe_filename(given, expected):
    assert safe_filename(given) == expected


def test_safe_filename_is_never_a_path_and_keeps_the_extension_when_shortened():
    name = safe_filename("x" * 500 + ".pdf")
    assert len(name) <= 120 and name.endswith(".pdf")
    for evil in ["../x", "a/../../b", "/", "\\\\server\\share\\f.txt", "....//....//f.md"]:
        out = safe_filename(evil)
        assert "/" not in out and "\\" not in out and not out.startswith(".")


def test_check_upload_refuses_unknown_types_and_big_files(tmp_path):
    from assistant.config import load_settings

    s = load_settings({"data_dir": tmp_path, "ui_max_upload_mb": 1})
    assert "unsupported file type .exe" in check_upload("tool.exe", 10, s)
    assert "no extension" in check_upload("README", 10, s)
    assert "over the 1 MB upload limit" in check_upload("big.txt", 2 * 1024 * 1024, s)
    assert check_upload("ok.txt", 10, s) == ""


@pytest.fixture
def assistant(tmp_path):
    return Assistant(data_dir=tmp_path / "data", collection="uploads-test", ui_max_upload_files=3)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_upload_is_stored_under_the_data_dir_and_ingested_once(assistant, tmp_path):
    src = _write(tmp_path / "in" / "tmp123", "The lighthouse on Skerry Island was painted green in 1911.")
    first = store_and_ingest(assistant, [("../../../escape/skerry.txt", src)])
    assert [(r.name, r.status) for r in first] == [("skerry.txt", "added")]
    stored = upload_dir(assistant.settings) / "skerry.txt"
    assert stored.is_file()
    assert not (tmp_path / "escape").exists()
    assert is_upload(assistant.settings, str(stored))
    assert [d.source for d in assistant.sources()] == [str(stored.resolve())]
    answer = assistant.ask("What colour was the lighthouse on Skerry Island painted?")
    assert not answer.abstained and "green" in answer.text

    again = store_and_ingest(assistant, [("skerry.txt", src)])
    assert again[0].status == "unchanged"



def test_a_different_file_with_a_taken_name_is_kept_beside_the_first(assistant, tmp_path):
    first = _write(tmp_path / "in" / "a", "The ferry to Inishmore leaves at nine in the morning.")
    second = _write(tmp_path / "in" / "b", "The Aran sweaters are knitted from undyed bainin wool.")
    assert [(r.name, r.status) for r in store_and_ingest(assistant, [("report.txt", first)])] == [("report.txt", "added")]
    assert [(r.name, r.status) for r in store_and_ingest(assistant, [("report.txt", second)])] == [
        ("report (2).txt", "added")
    ]
    # Either one again is recognised as the file already stored under its name.
    assert [(r.name, r.status) for r in store_and_ingest(assistant, [("report.txt", second)])] == [
        ("report (2).txt", "unchanged")
    ]
    assert [(r.name, r.status) for r in store_and_ingest(assistant, [("report.txt", first)])] == [("report.txt", "unchanged")]
    folder = upload_dir(assistant.settings)
    assert sorted(p.name for p in folder.iterdir()) == ["report (2).txt", "report.txt"]
    assert (folder / "report.txt").read_text() == "The ferry to Inishmore leaves at nine in the morning."
    assert sorted(Path(d.source).name for d in assistant.sources()) == ["report (2).txt", "report.txt"]
    ferry = assistant.ask("When does the ferry to Inishmore leave?")
    assert not ferry.abstained and "nine" in ferry.text
    assert Path(ferry.citations[0].source).name == "report.txt"
    wool = assistant.ask("What wool are Aran sweaters knitted from?")
    assert not wool.abstained and "bainin" in wool.text
    assert Path(wool.citations[0].source).name == "report (2).txt"


def test_refused_and_unreadable_uploads_leave_nothing_behind(assistant, tmp_path):
    good = _write(tmp_path / "in" / "a", "Otters hold hands while they sleep.")
    binary = _write(tmp_path / "in" / "b", b"\x00\x01\x02binary\x00" * 50)
    exe = _write(tmp_path / "in" / "c", b"MZ")
    results = store_and_ingest(
        assistant, [("otters.txt", good), ("fake.txt", binary), ("tool.exe", exe), ("more.md", good), ("x.md", good)]
    )
    by_name = {r.name: r for r in results}
    assert by_name["otters.txt"].status == "added"
    assert by_name["fake.txt"].status == "skipped" and "binary" in by_name["fake.txt"].reason
    assert by_name["tool.exe"].status == "skipped" and "unsupported file type" in by_name["tool.exe"].reason
    for extra in ("more.md", "x.md"):  # over ui_max_upload_files=3
        assert by_name[extra].status == "skipped" and "more than 3 files" in by_name[extra].reason
    stored = sorted(p.name for p in upload_dir(assistant.settings).iterdir())
    assert stored == ["otters.txt"]
    assert [Path(d.source).name for d in assistant.sources()] == ["otters.txt"]


def test_a_bad_new_version_keeps_the_good_one(assistant, tmp_path):
    good = _write(tmp_path / "in" / "a", "Puffins return to the cliffs in May.")
    assert store_and_ingest(assistant, [("puffins.txt", good)])[0].status == "added"
    empty = _write(tmp_path / "in" / "b", "   \n")
    result = store_and_ingest(assistant, [("puffins.txt", empty)])[0]
    assert result.status == "skipped"
    assert (upload_dir(assistant.settings) / "puffins.txt").read_text() == "Puffins return to the cliffs in May."
