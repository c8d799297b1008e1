"""``assistant chat`` from the command line: help, settings, readable errors."""

import socket
import subprocess
import sys

from tests.ui_helpers import ROOT, TEST_ENV


def run(*args, env=None, timeout=120):
    import os

    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **TEST_ENV, **(env or {})},
    )


def test_chat_help_explains_host_port_share_and_login():
    out = run("chat", "--help").stdout
    for words in ("--host", "--port", "--share", "127.0.0.1:7860", "ui_username"):
        assert words in out


def test_chat_on_a_busy_port_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("chat", "--data-dir", str(tmp_path), "--port", str(port),
                     env={"ASSISTANT_CONFIG": str(tmp_path / "none.toml")})
    assert result.returncode == 1
    assert f"error: port 127.0.0.1:{port} is in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_ui_settings_come_from_the_environment_and_the_password_is_never_shown(tmp_path):
    env = {
        "ASSISTANT_CONFIG": str(tmp_path / "none.toml"),
        "ASSISTANT_UI_PORT": "8123",
        "ASSISTANT_UI_USERNAME": "reader",
        "ASSISTANT_UI_PASSWORD": "hunter2-secret",
    }
    result = run("config", env=env)
    assert result.returncode == 0
    assert "8123" in result.stdout and "reader" in result.stdout
    assert "hunter2-secret" not in result.stdout
    half = run("config", env={**env, "ASSISTANT_UI_PASSWORD": ""})
    assert half.returncode == 1 and "ui_username and ui_password" in half.stderr
