"""The web chat started in this process: streaming answers (the API an LLM backend adds) and the
optional login. Real index, real embedding model, real server, real browser."""

from __future__ import annotations

import re
import time

import pytest

from assistant.client import Assistant
from assistant.web.app import ChatApp, launch
from tests.ui_helpers import ask, free_port, launch_browser, open_chat, wait_http

QUESTION = "How many targets did the US strike?"


class StreamingAssistant(Assistant):
    """The real assistant plus ``ask_stream`` as LLM backends provide it: text pieces, then the
    final ``Answer``. The pieces are the real answer's words, slowed down so streaming is visible."""

    def ask_stream(self, question, *, history=None):
        answer = self.ask(question, history=history)
        for piece in re.findall(r"\S+\s*", answer.text):
            time.sleep(0.04)
            yield piece
        yield answer


class StreamingChatApp(ChatApp):
    def assistant_for(self, collection=None, top_k=None):
        settings = self.settings_for(collection, top_k)
        with self._lock:
            if settings not in self._assistants:
                self._assistants[settings] = StreamingAssistant(settings)
            return self._assistants[settings]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from assistant.config import load_settings
    from assistant.samples import sample_files

    data_dir = tmp_path_factory.mktemp("inprocess-data")
    settings = load_settings({"data_dir": data_dir, "collection": "default"},
                             config_file=data_dir / "no-config.toml")
    Assistant(settings).ingest(sample_files())
    return settings


def _serve(settings, app=None):
    port = free_port()
    demo = launch(settings, host="127.0.0.1", port=port, block=False, quiet=True, app=app)
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, timeout=60)
    return demo, url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


def test_streamed_text_appears_before_the_answer_is_complete(settings, browser):
    demo, url = _serve(settings, StreamingChatApp(settings))
    context, page = open_chat(browser, url)
    try:
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#question textarea").press("Enter")
        partial = page.wait_for_function(
            """() => {
                const bots = document.querySelectorAll('#chat [data-testid=bot]');
                const last = bots[bots.length - 1];
                if (!last || last.querySelector('.answer-meta')) return null;
                const text = last.innerText;
                return text.includes('▍') && text.replace('▍', '').trim().length > 0 ? text : null;
            }""",
            timeout=60_000,
        ).json_value()
        final = page.locator("#chat [data-testid=bot]").last
        final.locator(".answer-meta").wait_for(timeout=60_000)
        final_text = final.locator(".message-content").first.inner_text()
        assert "▍" not in final_text
        shown_so_far = partial.replace("▍", "").strip()
        assert shown_so_far and len(shown_so_far) < len(final_text)
        assert final_text.startswith(shown_so_far.split(" ")[0])
        assert final.locator("details.source").count() >= 1
        assert final.locator("a.cite").count() >= 1  # markers become links once the answer is whole
    finally:
        context.close()
        demo.close()


def test_login_is_required_when_configured(settings, browser):
    secured = settings.replace(ui_username="reader", ui_password="correct horse battery")
    demo, url = _serve(secured)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url)
        page.get_by_label("username").fill("reader")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        page.get_by_text("Incorrect Credentials", exact=False).wait_for()
        assert page.locator("#question").count() == 0

        page.get_by_label("username").fill("reader")  # the form is cleared after a failed login
        page.get_by_label("password").fill("correct horse battery")
        page.get_by_role("button", name="Login").click()
        page.locator("#question textarea").wait_for()
        message = ask(page, QUESTION)
        assert message.locator("details.source").count() >= 1

        from gradio_client import Client

        with pytest.raises(Exception):
            Client(url, verbose=False)
        client = Client(url, auth=("reader", "correct horse battery"), verbose=False)
        assert client.predict(QUESTION, "", api_name="/ask")["citations"]
    finally:
        context.close()
        demo.close()
