"""The web chat people expect (issue 17), in a real browser at 1280x900 and 390x844: a phone
layout without sideways scrolling, relevance and dates in words, settings in words, remove that
asks first, collections that hold their own conversations across a reload, example questions
from the collection's own documents, the cited page of a PDF, upload progress that moves.

One server for the module (``assistant chat`` in its own process, the sample article in
``default``); every test that adds documents makes a collection of its own."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.corpora import write_pdf
from tests.ui_helpers import (
    DESKTOP,
    PHONE,
    ROOT,
    ask,
    bot_messages,
    choose,
    long_pages,
    new_collection,
    open_chat,
    pick_collection,
    upload,
    user_messages,
)

SIZES = {"desktop": DESKTOP, "phone": PHONE}
SAMPLE_QUESTION = "How many targets did the US strike?"


# The same module-wide server and browser as the other browser tests (one of each per module).
from tests.test_ui_browser import browser, chat_data_dir, chat_url  # noqa: E402,F401


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def settled(page) -> None:
    """Wait until the conversation list has opened (wide) or closed (narrow) and slid in place."""
    page.wait_for_function("() => innerWidth >= 768 ? !!document.querySelector('#conversations-panel.open')"
                           " : !document.querySelector('#conversations-panel.open')")
    page.wait_for_timeout(600)  # the list slides for 0.3 s


def in_view(page, selector: str) -> bool:
    """True once the element sits wholly inside the viewport (the layout settles within 5 s)."""
    try:
        page.wait_for_function(
            """sel => { const r = document.querySelector(sel).getBoundingClientRect();
                 return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }""",
            arg=selector, timeout=5000)
        return True
    except Exception:
        return False


def shot(page, name: str, tmp_path: Path) -> Path:
    """A screenshot; into docs/ only with UPDATE_SCREENSHOT=1 (tests leave the tree alone)."""
    path = ROOT / "docs" / name if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    return path


@pytest.mark.parametrize("size", SIZES)
def test_layout_fits_the_screen_with_header_and_clear_in_view(chat_url, browser, size, tmp_path):
    viewport = SIZES[size]
    context, page = open_chat(browser, chat_url, viewport)
    try:
        settled(page)
        assert page.evaluate("window.scrollY") == 0
        for selector in ("#app-title", "#collection", "#clear", "#send", "#question"):
            assert in_view(page, selector), \
                f"{selector} is not in view on load at {size}: {page.locator(selector).first.bounding_box()}"
        title = page.locator("#app-title h1").bounding_box()
        assert title["height"] < 50, "the title wraps"
        assert page_width(page) <= viewport["width"]
        # One control clears the conversation (the chat's own trash icon is gone).
        chat_width = page.locator("#chat").bounding_box()["width"]
        message = ask(page, SAMPLE_QUESTION)
        assert page.locator("#chat button[aria-label=Clear]:visible").count() == 0
        assert page.locator("#clear:visible").count() == 1
        assert page.locator("#chat").bounding_box()["width"] == chat_width, "the chat widened with the answer"
        message.locator("details.source summary").first.click()
        assert page_width(page) <= viewport["width"]
        shot(page, f"screenshot-chat-{size}.png", tmp_path)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#doc-list table").wait_for()
        assert page_width(page) <= viewport["width"]
        heading = page.locator("#doc-list td.doc-name").first.bounding_box()
        assert heading["width"] > 120, "the document name is squeezed"
        page.get_by_role("tab", name="Settings").click()
        page.locator("#settings table").wait_for()
        assert page_width(page) <= viewport["width"]
    finally:
        context.close()


def test_on_a_phone_the_conversation_list_starts_closed_and_opens(chat_url, browser):
    context, page = open_chat(browser, chat_url, PHONE)
    try:
        page.wait_for_function("() => !document.querySelector('#conversations-panel.open')")
        page.get_by_role("tab", name="Documents").click()  # not covered by the list
        page.locator("#upload").wait_for()
        page.locator("#conversations-panel .toggle-button").click()
        page.locator("#new-conversation").wait_for(state="visible")
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_relevance_in_words_and_dates_in_the_browsers_time_zone(chat_url, browser, chat_data_dir, size):
    from zoneinfo import ZoneInfo

    from assistant.client import Assistant

    context, page = open_chat(browser, chat_url, SIZES[size], timezone_id="Asia/Tokyo")
    try:
        message = ask(page, SAMPLE_QUESTION)
        score = message.locator("details.source .source-score").first
        assert re.fullmatch(r"(close|good|partial|loose) match", score.inner_text().strip())
        assert message.locator(".score-bar").count() >= 1
        assert "on a 0-1 scale" in score.get_attribute("title")
        assert "relevance 0." not in message.inner_text()
        indexed = Assistant(data_dir=chat_data_dir, collection="default").sources()[0].ingested_at
        local = datetime.fromisoformat(indexed.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tokyo"))
        page.get_by_role("tab", name="Documents").click()
        when = page.locator("#doc-list td.doc-when").first
        if size == "desktop":  # the phone leaves the column out
            assert local.strftime("%H:%M") in when.inner_text()
            assert "T" not in when.inner_text() and "Z" not in when.inner_text()
        listed = page.locator("#conversations label", has_text=SAMPLE_QUESTION).first.text_content()
        assert re.search(r"(today|yesterday|\d{1,2} \w{3})[ ,]", listed) and not re.search(r"\d{4}-\d\d-\d\dT", listed)
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_settings_speak_words_with_top_k_first(chat_url, browser, chat_data_dir, size):
    context, page = open_chat(browser, chat_url, SIZES[size])
    try:
        page.get_by_role("tab", name="Settings").click()
        settings = page.locator("#settings")
        settings.wait_for()
        text = settings.inner_text()
        assert "extractive" in text and "all-MiniLM-L6-v2" in text
        assert "Sentences quoted per answer" in text
        for raw in ("llm_", "fetch_k", "top_k", str(chat_data_dir), "Index"):
            assert raw not in text, raw
        slider = page.locator("#top-k")
        assert "Passages an answer may draw on" in slider.inner_text()
        assert slider.bounding_box()["y"] < settings.bounding_box()["y"]
        assert page_width(page) <= SIZES[size]["width"]
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_remove_asks_first_and_cancel_keeps_the_document(chat_url, browser, tmp_path, size):
    doc = tmp_path / "tide-table.txt"
    doc.write_text("High tide at Brekke harbour is at 06:40 on Mondays.")
    context, page = open_chat(browser, chat_url, SIZES[size])
    try:
        settled(page)
        new_collection(page, unique("remove"))
        assert upload(page, doc)[0][1] == "added"
        page.locator("#doc-list").get_by_text("tide-table.txt").wait_for()
        choose(page, "remove-choice", "tide-table.txt")
        page.locator("#remove").click()
        confirm = page.locator("#remove-confirm-text")
        page.locator("#remove-yes").wait_for(state="visible")
        assert "tide-table.txt" in confirm.inner_text() and "cannot be undone" in confirm.inner_text()
        page.locator("#remove-cancel").click()
        page.locator("#remove-yes").wait_for(state="hidden")
        page.locator("#remove-result").get_by_text("Kept it").wait_for()
        assert "tide-table.txt" in page.locator("#doc-list").inner_text()
        page.locator("#remove").click()
        page.locator("#remove-yes").click()
        page.locator("#remove-result").get_by_text("Removed tide-table.txt").wait_for()
        page.locator("#doc-list").get_by_text("tide-table.txt").wait_for(state="detached")
    finally:
        context.close()


def test_a_refused_file_leaves_no_stale_result(chat_url, browser, tmp_path):
    fine = tmp_path / "ferry-notes.txt"
    fine.write_text("The ferry to Holm leaves at seven every morning.")
    tool = tmp_path / "setup.exe"
    tool.write_bytes(b"MZ\x90\x00" * 10)
    context, page = open_chat(browser, chat_url, DESKTOP)
    try:
        new_collection(page, unique("refused"))
        assert upload(page, fine)[0][1] == "added"
        # Gradio's refusal is a toast that closes itself: record it as it appears (a loaded
        # machine may take it away before a locator looks).
        page.evaluate("""() => { window.__seen = [];
            new MutationObserver(() => window.__seen.push(document.body.innerText))
              .observe(document.body, {childList: true, subtree: true, characterData: true}); }""")
        page.locator("#upload input[type=file]").set_input_files(str(tool))
        page.wait_for_function("() => window.__seen.some(t => t.includes('Invalid file type: setup.exe'))")
        page.locator("#upload-result table").wait_for(state="hidden")
        assert page.locator("#upload .error:visible, #upload [data-testid=error]:visible").count() == 0
    finally:
        context.close()


def test_collections_hold_their_conversations_across_a_reload(chat_url, browser, tmp_path):
    name = unique("harbour")
    doc = tmp_path / "harbour-crane.txt"
    doc.write_text("The harbour crane at Vesterhavn lifts 80 tonnes. It was built in 1974 by the Nordvik yard.")
    context, page = open_chat(browser, chat_url, PHONE)
    try:
        page.wait_for_function("() => !document.querySelector('#conversations-panel.open')")
        ask(page, "Who condemned the airstrikes?")  # a conversation in default
        new_collection(page, name)
        # The new collection starts with an empty chat: default's conversation does not follow.
        page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=user]').length === 0")
        # Empty, it is still there after a reload, and still the chosen one.
        page.reload()
        page.locator("#question textarea").wait_for()
        page.locator("#status strong", has_text=name).first.wait_for()
        assert user_messages(page).count() == 0
        assert upload(page, doc)[0][1] == "added"
        page.get_by_role("tab", name="Chat").click()
        answer = ask(page, "How much does the harbour crane lift?")
        assert "80 tonnes" in answer.inner_text()
        listed = page.locator("#conversations label")
        listed.filter(has_text="harbour crane").first.wait_for(state="attached")
        assert listed.filter(has_text="condemned").count() == 0  # default's conversation is not listed here

        pick_collection(page, "default")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#chat [data-testid=user]')].every(u => !u.innerText.includes('crane'))")
        listed.filter(has_text="condemned").first.wait_for(state="attached")
        assert listed.filter(has_text="harbour crane").count() == 0
        follow = ask(page, "What attack were the airstrikes a response to?")
        assert "drone" in follow.inner_text()

        pick_collection(page, name)
        user_messages(page).filter(has_text="harbour crane").first.wait_for()
        page.reload()
        page.locator("#question textarea").wait_for()
        page.locator("#status strong", has_text=name).first.wait_for()
        user_messages(page).filter(has_text="harbour crane").first.wait_for()
        assert all("airstrikes" not in m.inner_text() for m in user_messages(page).all())
    finally:
        context.close()


def test_creating_a_collection_with_a_bad_or_taken_name_says_why(chat_url, browser):
    context, page = open_chat(browser, chat_url, DESKTOP)
    try:
        page.locator("#new-collection").click()
        box = page.locator("#new-collection-name textarea, #new-collection-name input").first
        box.fill("no/slashes")
        box.press("Enter")
        page.locator("#create-collection-result").get_by_text("bad collection name").wait_for()
        box.fill("default")
        box.press("Enter")
        page.locator("#create-collection-result").get_by_text("exists already").wait_for()
        assert "default" in page.locator("#status").inner_text()
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_examples_come_from_the_uploaded_document(chat_url, browser, tmp_path, size):
    doc = tmp_path / "beekeeping.md"
    doc.write_text(
        "# Beekeeping at Lindholm\n\n## Winter feeding\n\nThe hives at Lindholm get fondant in January.\n\n"
        "## Swarm control\n\nQueens are clipped in May to keep swarms from leaving the apiary.\n"
    )
    context, page = open_chat(browser, chat_url, SIZES[size])
    try:
        settled(page)
        examples = page.locator("#chat button", has_text="?")
        examples.first.wait_for()
        assert any("Retaliation for Deadly Drone Attack" in t for t in examples.all_inner_texts())
        new_collection(page, unique("bees"))
        assert upload(page, doc)[0][1] == "added"
        page.get_by_role("tab", name="Chat").click()
        page.locator("#chat button", has_text="Swarm control").wait_for()
        texts = examples.all_inner_texts()
        assert any("Winter feeding" in t for t in texts)
        assert not any("Drone" in t for t in texts)
        button = page.locator("#chat button", has_text="Swarm control").first
        assert button.evaluate("b => getComputedStyle(b).cursor") == "pointer"
        border = button.evaluate("b => getComputedStyle(b).borderTopWidth")
        assert border != "0px", "an example must look clickable"
        button.click()
        message = bot_messages(page).first
        message.locator(".answer-meta").wait_for(timeout=90_000)
        assert "clipped in May" in message.inner_text()
    finally:
        context.close()


def test_a_pdf_citation_shows_its_page_with_the_words_and_opens_the_file(chat_url, browser, tmp_path):
    pdf = write_pdf(tmp_path / "lighthouse-report.pdf", [
        "The Skerry lighthouse report covers the keepers and the lamp. Chapter one is about the keepers.",
        "The lamp of the Skerry lighthouse was replaced in 1911 by a Fresnel lens of the first order. "
        "The new lens made the light visible for twenty-two nautical miles.",
        "The keepers left the island in 1987 when the light was automated.",
    ])
    name = unique("pdf")
    context, page = open_chat(browser, chat_url, DESKTOP)
    try:
        new_collection(page, name)
        assert upload(page, pdf)[0][1] == "added"
        page.get_by_role("tab", name="Chat").click()
        message = ask(page, "When was the lamp of the Skerry lighthouse replaced?")
        source = message.locator("details.source").first
        assert "page 2" in source.locator("summary").inner_text()
        image = source.locator("img.cited-page-image")
        assert image.count() == 1
        source.locator("summary").click()
        page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=image.element_handle())
        image.scroll_into_view_if_needed()
        shot(page, "screenshot-cited-page.png", tmp_path)
        link = source.locator("a.cited-page-link")
        href = link.get_attribute("href")
        assert href.endswith("#page=2") and "Open the PDF at page 2" in link.inner_text()
        base = chat_url.rstrip("/")
        with urllib.request.urlopen(base + href.split("#")[0]) as r:
            assert r.headers["content-type"] == "application/pdf"
            assert r.read() == pdf.read_bytes()
        with urllib.request.urlopen(base + image.get_attribute("src")) as r:
            assert r.headers["content-type"] == "image/png"
        # Nothing but the collection's own documents is served.
        for source_path in ["/etc/passwd", str(pdf)]:
            query = urllib.parse.urlencode({"collection": name, "source": source_path, "page": 1})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{base}/cited/file?{query}")
            assert refused.value.code == 404
    finally:
        context.close()


def test_upload_progress_moves_and_written_files_answer_meanwhile(chat_url, browser, tmp_path):
    small = tmp_path / "tide-notes.txt"
    small.write_text("High tide at Brekke harbour is at 06:40 on Mondays, said the harbour master Ilse Varden.")
    big = write_pdf(tmp_path / "field-manual.pdf", long_pages(70))
    context, page = open_chat(browser, chat_url, DESKTOP)
    try:
        new_collection(page, unique("progress"))
        page.evaluate("""() => { window.__states = []; new MutationObserver(() => {
            const p = document.querySelector('#upload-result .upload-progress');
            if (!p) return; const t = p.innerText;
            if (window.__states[window.__states.length - 1] !== t) window.__states.push(t);
          }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        page.get_by_role("tab", name="Documents").click()
        page.locator("#upload input[type=file]").set_input_files([str(small), str(big)])
        # The small file is written first, while the PDF is still being read or embedded...
        page.locator("#upload-result .upload-progress li", has_text="tide-notes.txt").filter(
            has_text="added").wait_for(timeout=120_000)
        shot(page, "screenshot-upload-progress.png", tmp_path)
        page.get_by_role("tab", name="Chat").click()
        page.locator("#indexing-note").get_by_text("Indexing under way").wait_for()
        # ...and answers while the PDF is indexed.
        message = ask(page, "When is high tide at Brekke harbour?")
        assert "06:40" in message.inner_text()
        assert page.locator("#upload-result .upload-progress").count() == 1, "the upload ended before the answer"
        page.get_by_role("tab", name="Documents").click()
        page.locator("#upload-result table").wait_for(timeout=300_000)
        rows = page.locator("#upload-result tbody tr").all_inner_texts()
        assert len(rows) == 2 and all("added" in r for r in rows)
        states = page.evaluate("window.__states")
        pdf_states = {re.search(r"field-manual\.pdf · ([^\n]*)", s).group(1) for s in states
                      if "field-manual.pdf" in s}
        assert any(s.startswith("reading page") for s in pdf_states), pdf_states
        assert any(s.startswith("embedding passage") for s in pdf_states), pdf_states
        assert len(pdf_states) >= 3, pdf_states
        page.get_by_role("tab", name="Chat").click()
        page.locator("#indexing-note").wait_for(state="hidden")
    finally:
        context.close()
