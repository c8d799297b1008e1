"""The web chat in a real browser: ``assistant chat`` in its own process, Debian's Chromium via
Playwright, the sample article indexed with the real embedding model in a temporary data dir.
One server for the module: tests that add documents do it in a collection of their own, so the
default collection stays the sample article whatever order the tests run in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui_helpers import (
    ask,
    bot_messages,
    choose,
    chat_server,
    chromium,
    new_collection,
    open_chat,
    sample_data_dir,
    upload,
    user_messages,
)

SAMPLE_QUESTION = "How many targets did the US strike?"


@pytest.fixture(scope="module")
def chat_data_dir(tmp_path_factory) -> Path:
    """A data dir holding the sample article, indexed with the real embedding model."""
    return sample_data_dir(tmp_path_factory, "chat-data")


@pytest.fixture(scope="module")
def chat_url(chat_data_dir, tmp_path_factory):
    yield from chat_server(chat_data_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_answer_shows_its_sources_and_a_marker_opens_the_passage(chat_url, browser, tmp_path):
    context, page = open_chat(browser, chat_url)
    try:
        message = ask(page, SAMPLE_QUESTION)
        assert "85 targets" in message.locator(".message-content").first.inner_text()
        source = message.locator("details.source").first
        summary = source.locator("summary").inner_text()
        assert "us-strikes-iran-militias.txt" in summary
        assert source.locator(".score-bar").count() == 1 and "match" in summary
        assert "85 targets" in source.locator(".source-quote").inner_text()
        passage = source.locator(".source-passage")
        assert not passage.is_visible()  # closed until asked for
        message.locator("a.cite").first.click()
        passage.wait_for(state="visible")
        assert source.get_attribute("open") is not None
        assert "85 targets" in passage.locator("mark").first.inner_text()
        page.locator("#conversations label", has_text=SAMPLE_QUESTION).first.wait_for()  # in the list too
        # The page renders (the README's screenshots come from tests/test_ui_web_chat.py).
        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        context.close()


def test_clicking_a_source_reveals_its_passage(chat_url, browser):
    context, page = open_chat(browser, chat_url)
    try:
        message = ask(page, "What attack were the airstrikes a response to?")
        source = message.locator("details.source").first
        source.locator("summary").click()
        assert "drone attack" in source.locator(".source-passage").inner_text()
    finally:
        context.close()


def test_abstention_looks_different_and_offers_the_nearest_passages(chat_url, browser):
    context, page = open_chat(browser, chat_url)
    try:
        message = ask(page, "Who won the 2022 World Cup?")
        assert message.locator(".abstained-badge").inner_text() == "Not in your documents"
        assert message.locator(".sources.related details.source").count() >= 1
        assert message.locator("a.cite").count() == 0
        # An answered question has no such badge.
        answered = ask(page, SAMPLE_QUESTION)
        assert answered.locator(".abstained-badge").count() == 0
    finally:
        context.close()


def test_examples_and_settings_are_shown_on_first_start(chat_url, browser):
    context, page = open_chat(browser, chat_url)
    try:
        example = page.locator("#chat button", has_text="Retaliation for Deadly Drone Attack")
        assert example.count() == 1
        asked = example.inner_text().strip()
        example.click()
        message = bot_messages(page).first
        message.locator(".answer-meta").wait_for(timeout=90_000)
        assert user_messages(page).first.inner_text().strip() == asked
        assert message.locator("details.source").count() >= 1
        page.get_by_role("tab", name="Settings").click()
        settings = page.locator("#settings").inner_text()
        assert "all-MiniLM-L6-v2" in settings
        assert "extractive" in settings
        assert page.locator("#top-k input[type=number]").input_value() == "5"
        assert "extractive" in page.locator("#status").inner_text()
    finally:
        context.close()


def test_two_browsers_keep_separate_conversations(chat_url, browser):
    ctx_a, a = open_chat(browser, chat_url)
    ctx_b, b = open_chat(browser, chat_url)
    try:
        ask(a, SAMPLE_QUESTION)
        ask(b, "Who condemned the airstrikes?")
        follow = ask(a, "What attack were the airstrikes a response to?")
        assert [m.inner_text().strip() for m in user_messages(a).all()] == [
            SAMPLE_QUESTION,
            "What attack were the airstrikes a response to?",
        ]
        assert [m.inner_text().strip() for m in user_messages(b).all()] == ["Who condemned the airstrikes?"]
        assert "drone" in follow.inner_text()
        # Clearing one conversation leaves the other alone.
        a.locator("#clear").click()
        user_messages(a).first.wait_for(state="detached")
        assert bot_messages(a).count() == 0
        assert user_messages(b).count() == 1
        # A reload reopens the conversation that was open (its own, not the other browser's).
        b.reload()
        b.locator("#question textarea").wait_for()
        user_messages(b).first.wait_for()
        assert [m.inner_text().strip() for m in user_messages(b).all()] == ["Who condemned the airstrikes?"]
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_follow_up_typed_in_the_browser_is_read_from_the_conversation(chat_url, browser):
    context, page = open_chat(browser, chat_url)
    try:
        first = ask(page, "What attack were the airstrikes a response to?")
        assert "drone attack" in first.inner_text()
        follow = ask(page, "Who was blamed for it?")  # "it": the attack of the question before
        assert follow.locator(".abstained-badge").count() == 0
        assert "Islamic Resistance in Iraq" in follow.locator(".message-content").first.inner_text()
        assert [m.inner_text().strip() for m in user_messages(page).all()] == [
            "What attack were the airstrikes a response to?", "Who was blamed for it?"]
    finally:
        context.close()


def test_upload_ask_and_remove_a_document(chat_url, browser, tmp_path, chat_data_dir):
    doc = tmp_path / "skerry-lighthouse.txt"
    doc.write_text(
        "The Skerry Island lighthouse was built in 1874 by the engineer Agnes Tallow.\n\n"
        "Its lamp is visible for twenty-two nautical miles on a clear night."
    )
    other = tmp_path / "harbour-crane.txt"
    other.write_text("The harbour crane at Vesterhavn lifts 80 tonnes. It was built in 1974 by the Nordvik yard.")
    context, page = open_chat(browser, chat_url)
    try:
        new_collection(page, "upload-test")
        assert upload(page, doc, other) == [("skerry-lighthouse.txt", "added", "1 passage"),
                                            ("harbour-crane.txt", "added", "1 passage")]
        page.locator("#doc-list").get_by_text("skerry-lighthouse.txt").wait_for()
        stored = chat_data_dir / "uploads" / "upload-test" / "skerry-lighthouse.txt"
        assert stored.is_file()
        # The same file again changes nothing.
        assert upload(page, doc)[0][1] == "unchanged"

        page.get_by_role("tab", name="Chat").click()
        message = ask(page, "Who built the Skerry Island lighthouse?")
        assert "Agnes Tallow" in message.inner_text()
        assert "skerry-lighthouse.txt" in message.locator("details.source").first.inner_text()

        page.get_by_role("tab", name="Documents").click()
        choose(page, "remove-choice", "skerry-lighthouse.txt")
        page.locator("#remove").click()
        page.locator("#remove-yes").click()  # it asks first
        page.locator("#remove-result").get_by_text("Removed skerry-lighthouse.txt").wait_for()
        page.locator("#doc-list").get_by_text("skerry-lighthouse.txt").wait_for(state="detached")
        assert not stored.exists()
        assert "harbour-crane.txt" in page.locator("#doc-list").inner_text()  # the other one stays

        page.get_by_role("tab", name="Chat").click()
        after = ask(page, "Who built the Skerry Island lighthouse?")
        assert "Agnes Tallow" not in after.inner_text()
        assert "skerry-lighthouse.txt" not in after.inner_text()
    finally:
        context.close()
    # Nothing of this reached the default collection.
    from assistant.client import Assistant

    sources = [d.source for d in Assistant(data_dir=chat_data_dir, collection="default").sources()]
    assert len(sources) == 1 and sources[0].endswith("us-strikes-iran-militias.txt")


def test_wrong_type_and_oversized_uploads_are_refused_with_a_clear_message(chat_url, browser, tmp_path):
    tool = tmp_path / "installer.exe"
    tool.write_bytes(b"MZ\x90\x00" * 10)
    big = tmp_path / "huge-notes.txt"
    with big.open("wb") as fh:  # over the 20 MB default limit
        fh.truncate(21 * 1024 * 1024)
    fine = tmp_path / "fine-notes.txt"
    fine.write_text("The ferry to Holm leaves at seven every morning.")
    context, page = open_chat(browser, chat_url)
    try:
        new_collection(page, "refused-uploads")
        page.get_by_role("tab", name="Documents").click()
        files = page.locator("#upload input[type=file]")
        files.set_input_files(str(tool))
        page.get_by_text("Invalid file type: installer.exe").wait_for()
        assert ".pdf" in page.get_by_text("Invalid file type: installer.exe").inner_text()
        files.set_input_files(str(big))
        page.get_by_text("exceed the maximum allowed size of 20").wait_for()
        assert page.locator("#upload-result tbody tr").count() == 0
        # An acceptable file after them goes through the same upload path to the end: once its
        # result is shown, anything the refused ones had set off would have shown too.
        assert upload(page, fine) == [("fine-notes.txt", "added", "1 passage")]
        page.locator("#doc-list").get_by_text("fine-notes.txt").wait_for()
        listed = page.locator("#doc-list").inner_text()
        assert "installer.exe" not in listed and "huge-notes.txt" not in listed
        assert page.locator("#upload-result tbody tr").count() == 1
    finally:
        context.close()


def test_script_in_a_document_does_not_run_and_shows_as_text(chat_url, browser, tmp_path):
    doc = tmp_path / "heron-notes.md"
    doc.write_text(
        "# Heron <script>window.__titleRan = 1</script> notes\n\n"
        "The grey heron nests in the alder carr every March "
        "<script>window.__scriptRan = 1; alert('pwned')</script>.\n\n"
        "<img src=x onerror=\"window.__imgRan = 1\"> The nests are lined with moss.\n"
    )
    context, page = open_chat(browser, chat_url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        # A new collection, picked with the selector: this test's document stays out of the others.
        new_collection(page, "xss-test")
        assert upload(page, doc)[0][1] == "added"
        page.locator("#doc-list").get_by_text("heron-notes.md").wait_for()
        doc_list = page.locator("#doc-list").inner_text()
        assert "<script>window.__titleRan = 1</script>" in doc_list  # the title, as text
        assert "us-strikes-iran-militias.txt" not in doc_list

        page.get_by_role("tab", name="Chat").click()
        message = ask(page, "Where does the grey heron nest?")
        message.locator("details.source summary").first.click()
        text = message.inner_text()
        assert "<script>window.__scriptRan = 1; alert('pwned')</script>" in text
        assert '<img src=x onerror="window.__imgRan = 1">' in message.locator(".source-passage").first.inner_text()
        assert page.locator("#chat script, #chat img, #doc-list script").count() == 0
        # A control: the same image markup put into the page by script now does run its handler.
        # Once it has, an image from the answer (requested earlier, from the same server) would
        # have failed to load and run its handler too.
        page.evaluate("""() => { const d = document.createElement('div');
            d.innerHTML = '<img src=x onerror="window.__controlRan = 1">'; document.body.appendChild(d); }""")
        page.wait_for_function("window.__controlRan === 1")
        ran = page.evaluate("[window.__scriptRan, window.__imgRan, window.__titleRan]")
        assert ran == [None, None, None]
        assert dialogs == []
    finally:
        context.close()


def test_api_ask_returns_the_answer_with_citations(chat_url):
    from gradio_client import Client

    client = Client(chat_url, verbose=False)
    result = client.predict(SAMPLE_QUESTION, "", api_name="/ask")
    assert result["abstained"] is False
    assert "85" in result["answer"]
    assert result["citations"][0]["source"].endswith("us-strikes-iran-militias.txt")
    assert "85 targets" in result["citations"][0]["quote"]
    assert "85 targets" in result["citations"][0]["passage"]
    docs = client.predict("default", api_name="/documents")
    assert any(d["source"].endswith("us-strikes-iran-militias.txt") for d in docs)
    assert "default" in client.predict(api_name="/collections")
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", "", api_name="/ask")


def test_api_chat_keeps_a_conversation_per_client(chat_url):
    from gradio_client import Client

    first = Client(chat_url, verbose=False)
    _, messages, answer = first.predict("What attack were the airstrikes a response to?", "default", 5, api_name="/chat")
    assert answer["citations"] and len(messages) == 2
    _, messages, follow = first.predict("How many did it injure?", "default", 5, api_name="/chat")
    assert len(messages) == 4
    # The follow-up was understood from the conversation before it.
    assert "response to" in follow["standalone_question"]
    assert "80" in follow["answer"]

    other = Client(chat_url, verbose=False)
    _, messages, fresh = other.predict("How many did it injure?", "default", 5, api_name="/chat")
    assert len(messages) == 2
    assert fresh["standalone_question"] == "How many did it injure?"


def test_a_reloaded_page_finds_its_conversation_in_the_list(chat_url, browser):
    """Conversations are stored: after a reload the list shows them (newest first), the open one
    comes back, and any of them can be reopened, renamed and deleted."""
    context, page = open_chat(browser, chat_url)
    try:
        first_q, second_q = "Who condemned the airstrikes?", "What attack were the airstrikes a response to?"
        ask(page, first_q)
        page.locator("#new-conversation").click()
        page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=bot]').length === 0")
        message = ask(page, second_q)
        assert "drone attack" in message.inner_text()
        listed = page.locator("#conversations label")
        # Recorded and marked as the open one (other tests may have asked the same question).
        page.wait_for_function(
            "q => [...document.querySelectorAll('#conversations label')].some("
            "l => l.querySelector('input:checked') && l.innerText.includes(q))", arg=second_q)

        page.reload()
        page.locator("#question textarea").wait_for()
        listed.filter(has_text=second_q).first.wait_for()
        titles = [t.strip() for t in listed.all_inner_texts()]
        assert titles.index(next(t for t in titles if t.startswith(second_q))) < titles.index(
            next(t for t in titles if t.startswith(first_q)))  # newest first
        bot_messages(page).first.wait_for()  # the open conversation came back
        assert "drone attack" in bot_messages(page).first.inner_text()

        listed.filter(has_text=first_q).first.click()  # reopen the other one
        page.wait_for_function(
            "q => { const u = document.querySelector('#chat [data-testid=user]'); return u && u.innerText.includes(q); }",
            arg=first_q,
        )
        assert bot_messages(page).count() == 1
        follow = ask(page, "Who else condemned them?")  # continues that conversation
        assert bot_messages(page).count() == 2 and follow.locator(".answer-meta").count() == 1
        # The list has caught up with the follow-up (the open one is marked) before it is renamed.
        page.wait_for_function(
            "q => [...document.querySelectorAll('#conversations label')].some("
            "l => l.querySelector('input:checked') && l.innerText.includes(q))", arg=first_q)

        page.locator("#conversation-actions").get_by_text("Rename, delete, export").click()
        title = page.locator("#conversation-title textarea, #conversation-title input").first
        # The box opens with the conversation's title in it; text typed before that shows (on a
        # loaded machine, while the section is still being built) is replaced by it.
        page.wait_for_function("() => [...document.querySelectorAll('#conversation-title textarea, "
                               "#conversation-title input')].some(e => e.value.includes('condemned'))")
        title.fill("Condemnations")
        page.wait_for_function("() => [...document.querySelectorAll('#conversation-title textarea, "
                               "#conversation-title input')].some(e => e.value === 'Condemnations')")
        page.locator("#rename-conversation").click()
        try:
            listed.filter(has_text="Condemnations").first.wait_for()
        except Exception as exc:  # say what the page showed instead
            raise AssertionError(f"the rename did not reach the list: status {page.locator('#conversation-status').inner_text()!r}, "
                                 f"title box {title.input_value()!r}, list {listed.all_inner_texts()}") from exc
        assert page.locator("#export-md a, a#export-md, #export-md").first.is_visible()
        page.once("dialog", lambda d: d.accept())
        page.locator("#delete-conversation").click()
        page.wait_for_function(
            "() => ![...document.querySelectorAll('#conversations label')].some(l => l.innerText.includes('Condemnations'))"
        )
        assert bot_messages(page).count() == 0
    finally:
        context.close()
