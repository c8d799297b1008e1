"""The web chat started in this process: answers streamed into the page from a real language
model (the packaged SmolLM2 behind ``llama_cpp.server``, the session's ``llama_server``), and the
optional login. Real index, real embedding model, real server, real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.client import Assistant
from assistant.web.app import launch
from tests.llm_helpers import ANSWERABLE, LLAMA_KEY, LLAMA_WINDOW
from tests.ui_helpers import ask, free_port, chromium, open_chat, wait_http

QUESTION = "How many targets did the US strike?"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from assistant.config import load_settings
    from assistant.samples import sample_files

    data_dir = tmp_path_factory.mktemp("inprocess-data")
    settings = load_settings({"data_dir": data_dir, "collection": "default"},
                             config_file=data_dir / "no-config.toml")
    Assistant(settings).ingest(sample_files())
    return settings


def _serve(settings):
    port = free_port()
    demo = launch(settings, host="127.0.0.1", port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, timeout=60)
    return demo, url


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_streamed_text_appears_before_the_answer_is_complete(settings, browser, llama_server):
    """The model's checked text shows in the page as it is generated (with a cursor), then the
    whole answer with its sources and clickable markers."""
    llm = settings.replace(answerer="openai:smollm2", llm_base_url=llama_server, llm_api_key=LLAMA_KEY,
                           llm_context_window=LLAMA_WINDOW, llm_max_tokens=64)
    demo, url = _serve(llm)
    context, page = open_chat(browser, url)
    try:
        page.locator("#question textarea").fill(ANSWERABLE[0])
        page.locator("#question textarea").press("Enter")
        partial = page.wait_for_function(
            """() => {
                const bots = document.querySelectorAll('#chat [data-testid=bot]');
                const last = bots[bots.length - 1];
                if (!last || last.querySelector('.answer-meta')) return null;
                const text = last.innerText;
                return text.includes('▍') && text.replace('▍', '').trim().length > 0 ? text : null;
            }""",
            timeout=180_000,
        ).json_value()
        final = page.locator("#chat [data-testid=bot]").last
        final.locator(".answer-meta").wait_for(timeout=180_000)
        assert "openai:smollm2" in final.locator(".answer-meta").inner_text()
        final_text = final.locator(".message-content").first.inner_text()
        assert "▍" not in final_text
        shown_so_far = partial.replace("▍", "").strip()
        assert shown_so_far and len(shown_so_far) < len(final_text)
        assert final_text.startswith(shown_so_far.split(" ")[0])
        assert final.locator("details.source").count() >= 1
        assert final.locator("a.cite").count() >= 1  # markers become links once the answer is whole
        assert final.locator(".abstained-badge").count() == 0
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
        from gradio_client.exceptions import AuthenticationError

        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(url, verbose=False)
        with pytest.raises(ValueError, match="Could not login"):  # gradio answers 400, not 401
            Client(url, auth=("reader", "wrong"), verbose=False)
        client = Client(url, auth=("reader", "correct horse battery"), verbose=False)
        assert client.predict(QUESTION, "", api_name="/ask")["citations"]
        # The cited pages and files need the login too (the page's cookie has it).
        import urllib.error
        import urllib.parse
        import urllib.request

        source = client.predict("default", api_name="/documents")[0]["source"]
        query = urllib.parse.urlencode({"collection": "default", "source": source})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}cited/file?{query}")
        assert refused.value.code == 401
        served = page.request.get(f"{url}cited/file?{query}")
        assert served.status == 200 and served.body() == Path(source).read_bytes()
    finally:
        context.close()
        demo.close()
