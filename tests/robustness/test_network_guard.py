"""The test session's network guard (tests/netguard.py, installed by tests/conftest.py) is
really on, in this process and in the processes tests start; it catches a library phoning
home; and our stack (Chroma, the encoder, Gradio, our code) makes no such attempt."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests import netguard
from tests.conftest import NETGUARD_LOG
from tests.ui_helpers import ROOT, TEST_ENV, free_port, wait_http

pytestmark = pytest.mark.robustness


def test_outbound_connections_and_lookups_are_blocked_here():
    assert netguard.installed()
    assert netguard._state["log"] == str(NETGUARD_LOG)  # the log the session checks
    with netguard.expect_blocked() as seen:
        with socket.socket() as sock, pytest.raises(netguard.NetworkBlocked):
            sock.connect(("203.0.113.7", 443))  # TEST-NET-3, never routed
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(netguard.NetworkBlocked):
            sock.sendto(b"x", ("203.0.113.7", 53))
        with pytest.raises(netguard.NetworkBlocked):
            socket.getaddrinfo("example.org", 443)
        with pytest.raises(OSError):
            import urllib.request

            urllib.request.urlopen("https://huggingface.co/api/models", timeout=2)
    assert len(seen) == 4
    assert "connect to 203.0.113.7:443" in seen[0] and "send to 203.0.113.7:53" in seen[1]
    assert "example.org" in seen[2] and "huggingface.co" in seen[3]
    # Loopback stays open.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def _child(code: str, log, extra_env=None, timeout=120) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENV, netguard.LOG_ENV: str(log), **(extra_env or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_processes_started_by_tests_are_guarded_too(tmp_path):
    assert str(netguard.SITE_DIR) in os.environ["PYTHONPATH"].split(os.pathsep)
    log = tmp_path / "child.log"  # not the session's log: these attempts are on purpose
    result = _child("import socket; socket.socket().connect(('198.51.100.9', 80))", log)
    assert result.returncode != 0 and "NetworkBlocked" in result.stderr
    assert any("198.51.100.9:80" in line for line in netguard.logged(log))


def test_the_guard_catches_gradio_phoning_home_when_analytics_are_on(tmp_path):
    """What the guard is for: with analytics on, Gradio looks up its servers at launch. The
    Gradio process runs until the attempt is in the log (or a minute has passed), then is told
    to stop: no fixed sleep that a slow machine could outlast."""
    import time

    log = tmp_path / "gradio.log"
    port = free_port()
    code = f"""
import sys, urllib.request
import gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("hello")
demo.launch(server_name="127.0.0.1", server_port={port}, prevent_thread_lock=True, quiet=True)
urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=30).read()
print("up", flush=True)
sys.stdin.read()  # until the test has seen what it came for
demo.close()
"""
    env = {**os.environ, **TEST_ENV, netguard.LOG_ENV: str(log), "GRADIO_ANALYTICS_ENABLED": "True"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        attempts: list[str] = []
        while time.monotonic() < deadline and proc.poll() is None:
            attempts = netguard.logged(log)
            if any("gradio.app" in a or "huggingface.co" in a for a in attempts):
                break
            time.sleep(0.1)
        out, err = proc.communicate("", timeout=60)  # closes stdin: the app stops
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and out.startswith("up"), err[-2000:]
    attempts = netguard.logged(log)
    assert any("gradio.app" in a or "huggingface.co" in a for a in attempts), attempts


def test_our_stack_makes_no_outbound_attempt(tmp_path):
    """Ingest, ask, and the web chat answering through its API, in this process: the session
    log gets no new line (the autouse guard fixture would fail the test too)."""
    from gradio_client import Client

    from assistant.client import Assistant
    from assistant.config import load_settings
    from assistant.samples import sample_files
    from assistant.web.app import launch

    before = netguard.logged(NETGUARD_LOG)
    settings = load_settings({"data_dir": tmp_path / "data", "collection": "default"},
                             config_file=tmp_path / "no-config.toml")
    Assistant(settings).ingest(sample_files())
    assert Assistant(settings).ask("How many targets did the US strike?").citations
    port = free_port()
    demo = launch(settings, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, timeout=60)
        assert Client(url, verbose=False).predict("Who condemned the airstrikes?", "", api_name="/ask")["answer"]
    finally:
        demo.close()
    assert netguard.logged(NETGUARD_LOG) == before
