"""Configuration: one place, and the documented order of precedence."""

from __future__ import annotations

import pytest

from assistant.config import resolve
from assistant.errors import ConfigError


def test_precedence_kwargs_cli_env_file_default(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('collection = "from-file"\ntop_k = 7\nfetch_k = 11\nrrf_k = 33\n')
    env = {"ASSISTANT_COLLECTION": "from-env", "ASSISTANT_TOP_K": "6", "ASSISTANT_FETCH_K": "12"}
    r = resolve(overrides={"collection": "from-kwargs"}, cli={"collection": "from-cli", "top_k": 4},
                environ=env, config_file=cfg)
    s = r.settings
    assert s.collection == "from-kwargs" and r.origins["collection"] == "argument"
    assert s.top_k == 4 and r.origins["top_k"] == "command line"
    assert s.fetch_k == 12 and r.origins["fetch_k"] == "env ASSISTANT_FETCH_K"
    assert s.rrf_k == 33 and r.origins["rrf_k"].startswith("file")
    assert s.chunk_tokens == 200 and r.origins["chunk_tokens"] == "default"


def test_config_file_path_from_environment(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[assistant]\ncollection = "notes"\n')
    assert resolve(environ={"ASSISTANT_CONFIG": str(cfg)}).settings.collection == "notes"


@pytest.mark.parametrize(
    "env,match",
    [
        ({"ASSISTANT_TOP_K": "many"}, "top_k"),
        ({"ASSISTANT_COLLECTION": "a"}, "collection"),
        ({"ASSISTANT_EMBED_TITLE": "perhaps"}, "embed_title"),
        ({"ASSISTANT_CHROMA_URL": "localhost:8000"}, "http"),
    ],
)
def test_bad_values_are_reported_by_name(env, match):
    with pytest.raises(ConfigError, match=match):
        resolve(environ=env, config_file="/nonexistent.toml")


def test_unknown_setting_in_file_is_an_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("colection = 'typo'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colection'"):
        resolve(config_file=cfg, environ={})


def test_one_setting_says_how_answers_are_written_and_the_old_name_still_works(tmp_path, capsys):
    import assistant.config as config

    config._NOTED.clear()
    cfg = tmp_path / "old.toml"
    cfg.write_text('llm = "ollama:llama3.2"\nanswerer = "extractive"\n')
    r = resolve(config_file=cfg, environ={})
    assert r.settings.answerer == "ollama:llama3.2" and r.origins["answerer"].startswith("file")
    assert not hasattr(r.settings, "llm")
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "'llm'" in note[0] and "deprecated" in note[0] and "'answerer'" in note[0]
    resolve(config_file=cfg, environ={})  # the note is said once per process and source
    assert capsys.readouterr().err == ""

    r = resolve(environ={"ASSISTANT_LLM": "local"}, config_file=tmp_path / "none.toml")
    assert r.settings.answerer == "local" and "ASSISTANT_LLM" in capsys.readouterr().err
    # Keyword arguments and the command line take either name, silently; the new one wins.
    assert resolve(overrides={"llm": "local"}, environ={}).settings.answerer == "local"
    assert resolve(cli={"answerer": "openai:m"}, environ={"ASSISTANT_LLM": "local"}).settings.answerer == "openai:m"
    assert capsys.readouterr().err.count("note:") <= 1
    with pytest.raises(ConfigError, match="bad answerer 'gpt'"):
        resolve(overrides={"answerer": "gpt"}, environ={})


def test_the_command_line_takes_answerer_and_its_alias_llm():
    from assistant.cli import build_parser
    from assistant.cli_options import cli_overrides

    for flag in ("--answerer", "--llm"):
        args = build_parser().parse_args(["ask", flag, "local", "a question"])
        assert cli_overrides(args)["answerer"] == "local"


def test_model_cache_dir_follows_the_environment(monkeypatch, tmp_path, model_cache_dir):
    """ASSISTANT_MODEL_CACHE_DIR moves the ONNX export, for settings and for encoders made
    without them; the test session's own points away from the user's cache."""
    from pathlib import Path

    from assistant.config import default_model_cache_dir, load_settings

    assert not model_cache_dir.is_relative_to(Path.home() / ".cache")
    assert load_settings({}).model_cache_dir == model_cache_dir == default_model_cache_dir()
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE_DIR", str(tmp_path / "models"))
    assert load_settings({}).model_cache_dir == tmp_path / "models" == default_model_cache_dir()
    monkeypatch.delenv("ASSISTANT_MODEL_CACHE_DIR")
    assert default_model_cache_dir().parts[-2:] == ("assistant", "models")
