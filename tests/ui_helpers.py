"""Shared by the web chat tests: start the app, drive Chromium, wait for answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ROOT = Path(__file__).resolve().parent.parent
TEST_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}
ANSWER_TIMEOUT_MS = 90_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the web chat exited with {proc.returncode}:\n{log.read_text() if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text() if log else ''}")


def start_chat_process(data_dir: Path, port: int, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """``assistant chat`` as a user runs it, in its own process."""
    env = {
        **os.environ,
        **TEST_ENV,
        "ASSISTANT_CONFIG": str(data_dir / "no-config.toml"),  # never the developer's own config
        **(extra_env or {}),
    }
    fh = open(log, "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "chat", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def launch_browser(playwright):
    from tests import requires

    return playwright.chromium.launch(executable_path=requires.command(CHROMIUM, "chromium"), args=CHROMIUM_ARGS)


def chromium():
    """Debian's Chromium driven by Playwright, for a module's tests (a generator for a fixture)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


def sample_data_dir(tmp_path_factory, name: str) -> Path:
    """A data dir holding the sample article in ``default``, indexed with the real embedding model."""
    from assistant.client import Assistant
    from assistant.samples import sample_files

    data_dir = tmp_path_factory.mktemp(name)
    report = Assistant(data_dir=data_dir, collection="default").ingest(sample_files())
    assert report.count("added") == 1
    return data_dir


def chat_server(data_dir: Path, tmp_path_factory):
    """``assistant chat`` on ``data_dir`` in its own process; yields its URL (a fixture generator)."""
    port = free_port()
    log = tmp_path_factory.mktemp("chat-log") / "chat.log"
    proc = start_chat_process(data_dir, port, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=180, proc=proc, log=log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def open_chat(browser, url: str, viewport: dict | None = None, **context_options):
    """A fresh browser context (its own session) on the chat page, ready for questions."""
    context = browser.new_context(viewport=viewport or {"width": 1200, "height": 1000}, **context_options)
    page = context.new_page()
    page.goto(url)
    page.locator("#question textarea").wait_for()
    return context, page


def bot_messages(page):
    return page.locator("#chat [data-testid=bot]")


def user_messages(page):
    return page.locator("#chat [data-testid=user]")


def ask(page, question: str):
    """Type a question, press Enter, wait for the finished answer; returns its message."""
    before = bot_messages(page).count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    message = bot_messages(page).nth(before)
    message.locator(".answer-meta, .chat-error").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return message


def upload(page, *paths: Path):
    """Upload files on the Documents tab; returns the per-file result rows as (name, status, detail)."""
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#upload-result table")
    previous = table.get_attribute("data-batch") if table.count() else None
    page.locator("#upload input[type=file]").set_input_files([str(p) for p in paths])
    page.wait_for_function(
        "prev => { const t = document.querySelector('#upload-result table');"
        " return t && t.getAttribute('data-batch') !== prev; }",
        arg=previous,
        timeout=ANSWER_TIMEOUT_MS,
    )
    # The results arrive before the upload box is emptied for the next pick; Gradio builds a new
    # file input then, and files set on the old one are lost. Return once the box is empty again.
    page.wait_for_function("() => !document.querySelector('#upload .file-preview')"
                           " && !!document.querySelector('#upload input[type=file]')",
                           timeout=ANSWER_TIMEOUT_MS)
    rows = page.locator("#upload-result tbody tr")
    out = []
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        out.append(tuple(cells.nth(j).inner_text().strip() for j in range(3)))
    return out


def new_collection(page, name: str) -> None:
    """Create a collection of this name with "New collection" (a test's documents stay in it)."""
    page.locator("#new-collection").click()
    box = page.locator("#new-collection-name textarea, #new-collection-name input").first
    box.fill(name)
    box.press("Enter")
    page.locator("#status").get_by_text(name).wait_for()
    page.locator("#status").get_by_text("no documents yet").wait_for()


def pick_collection(page, name: str) -> None:
    """Switch to an existing collection with the collection list."""
    choose(page, "collection", name)
    page.locator("#status strong", has_text=name).first.wait_for()


def choose(page, elem_id: str, option_text: str) -> None:
    """Pick an option of a Gradio dropdown."""
    page.locator(f"#{elem_id} input").click()
    page.locator("[data-testid=dropdown-option]", has_text=option_text).first.click()


def picked(page, elem_id: str, option_text: str, timeout: float = 30_000):
    """Wait until a multiselect dropdown shows ``option_text`` as picked (a token in its box)."""
    token = page.locator(f"#{elem_id} .token", has_text=option_text).first
    token.wait_for(timeout=timeout)
    return token


def long_pages(n: int) -> list[str]:
    """``n`` pages of distinct prose (a field manual), about 300 words each."""
    words = ("survey", "transect", "quadrat", "sediment", "salinity", "lichen", "heather", "bracken", "plover",
             "curlew", "estuary", "shingle", "dune", "marram", "tideline", "kelp", "limpet", "barnacle")
    pages = []
    for p in range(n):
        sentences = []
        for s in range(24):
            a, b, c = (words[(p * 7 + s * k) % len(words)] for k in (1, 3, 5))
            sentences.append(f"On station {p + 1}-{s + 1} the {a} record notes {b} beside the {c}, "
                             f"measured {(p * 31 + s * 17) % 97} metres from marker {p * 24 + s}.")
        pages.append(" ".join(sentences))
    return pages
