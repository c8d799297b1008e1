"""The web chat's document/tag picker: a real server started here, a real browser, the memos
that disagree; the answer comes from the picked documents only, and follow-ups keep it."""

from __future__ import annotations

import pytest

from assistant.client import Assistant
from assistant.web import scope_picker
from assistant.web.app import launch
from tests.test_scope import NEW, OLD
from tests.ui_helpers import ask, choose, free_port, chromium, open_chat, picked, wait_http


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from assistant.config import load_settings

    root = tmp_path_factory.mktemp("ui-memos")
    (root / "memo-2023.md").write_text(OLD)
    (root / "memo-2024.md").write_text(NEW)
    data_dir = tmp_path_factory.mktemp("ui-scope-data")
    settings = load_settings({"data_dir": data_dir, "collection": "memos"}, config_file=data_dir / "no-config.toml")
    a = Assistant(settings)
    a.ingest([root / "memo-2023.md"], tags=["old"])
    a.ingest([root / "memo-2024.md"], tags=["current"])
    port = free_port()
    demo = launch(settings, host="127.0.0.1", port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, timeout=60)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_tag_picker_keeps_the_conversation_to_the_tagged_memo(served, browser):
    context, page = open_chat(browser, served)
    try:
        choose(page, "scope-tags", "current")
        first = ask(page, "Where do staff park?")
        text = first.inner_text()
        assert "lot D" in text and "lot B" not in text
        assert "memo-2024.md" in text and "memo-2023.md" not in text
        assert "within #current" in text
        follow = ask(page, "And when does the cafeteria close?")
        text = follow.inner_text()
        assert "4pm" in text and "2pm" not in text and "memo-2023.md" not in text
    finally:
        context.close()


def test_document_picker_and_a_fresh_conversation_without_it(served, browser):
    context, page = open_chat(browser, served)
    try:
        choose(page, "scope-docs", "memo-2023.md")
        text = ask(page, "When does the cafeteria close?").inner_text()
        assert "2pm" in text and "4pm" not in text and "memo-2024.md" not in text.replace("within memo-2023.md", "")
    finally:
        context.close()
    context, page = open_chat(browser, served)  # another session: no scope picked
    try:
        text = ask(page, "Where do staff park?").inner_text()
        assert "within" not in text
    finally:
        context.close()


def test_picker_scope_combines_documents_or_tags():
    assert scope_picker.scope_of([], []) is None
    assert scope_picker.scope_of(["/a/x.md"], None) == {"sources": ["/a/x.md"]}
    both = scope_picker.scope_of(["/a/x.md"], ["current"])
    from assistant.index.scope import Scope
    from assistant.types import DocumentRecord

    scope = Scope.of(both)
    doc = lambda src, tags: DocumentRecord(src, src, "", "", 1, 1, "", tags=tags)  # noqa: E731
    assert scope.matches(doc("/a/x.md", [])) and scope.matches(doc("/b/y.md", ["current"]))
    assert not scope.matches(doc("/b/z.md", ["old"]))


def test_a_reopened_conversation_shows_the_scope_it_was_asked_within(served, browser):
    context, page = open_chat(browser, served)
    try:
        choose(page, "scope-tags", "current")
        question = "Where do staff park, by the memo?"
        assert "lot D" in ask(page, question).inner_text()
        # Recorded and marked as the open one (other tests may have asked other questions).
        page.wait_for_function(
            "q => [...document.querySelectorAll('#conversations label')].some("
            "l => l.querySelector('input:checked') && l.innerText.includes(q))", arg=question)
        page.reload()  # the page reopens the conversation it had open, with its scope
        page.locator("#question textarea").wait_for()
        page.locator("#chat [data-testid=bot]").first.wait_for()
        # The picker shows the tag again (as a person sees it before asking on), not picked by hand.
        picked(page, "scope-tags", "current")
        assert page.locator("#scope-docs .token").count() == 0
        # Not picked again: the follow-up is asked within the tag the conversation was asked within.
        follow = ask(page, "And when does the cafeteria close?").inner_text()
        assert "4pm" in follow and "2pm" not in follow and "within #current" in follow
    finally:
        context.close()


def test_picker_values_come_back_from_the_scope_they_made():
    for sources, tags in ([["/a/x.md"], []], [[], ["current"]], [["/a/x.md", "/b/y.md"], ["old", "current"]],
                          [[], []]):
        assert scope_picker.pickers_of(scope_picker.scope_of(sources, tags)) == (sources, tags)
