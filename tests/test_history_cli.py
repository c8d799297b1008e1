"""``assistant ask --conversation`` and ``assistant history``: conversations kept in the data dir
(SQLite), continued from the CLI, listed, shown, exported and deleted. Real index and model."""

from __future__ import annotations

import json
import shutil

from assistant.cli import main


def test_a_conversation_is_started_continued_listed_exported_and_deleted(sample_data_dir, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(sample_data_dir, data)
    common = ["--data-dir", str(data), "--collection", "sample"]
    assert main(["ask", *common, "--json", "--conversation", "new", "What attack were the airstrikes a response to?"]) == 0
    conv_id = json.loads(capsys.readouterr().out)["conversation_id"]
    assert main(["ask", *common, "--json", "--conversation", conv_id, "How many did it injure?"]) == 0
    follow = json.loads(capsys.readouterr().out)
    assert "attack" in follow["standalone_question"].lower()  # the stored turn is the history
    assert "80" in follow["answer"]

    assert main(["history", *common]) == 0
    listing = capsys.readouterr().out
    assert conv_id in listing and "2 questions" in listing and "What attack were the airstrikes" in listing
    assert main(["history", "export", conv_id, *common]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# What attack") and "## How many did it injure?" in md and "Sources:" in md
    assert main(["history", "export", conv_id, "--format", "json", *common]) == 0
    assert len(json.loads(capsys.readouterr().out)["messages"]) == 2
    assert (data / "conversations.sqlite3").exists()  # in the data directory: backed up with it

    assert main(["history", "delete", conv_id, *common]) == 0
    capsys.readouterr()
    assert main(["history", "show", conv_id, *common]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no conversation") and "Traceback" not in err
    assert main(["ask", *common, "--conversation", "nope", "Who condemned the airstrikes?"]) == 1
    assert "no conversation 'nope'" in capsys.readouterr().err
