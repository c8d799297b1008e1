"""How answers become chat messages: everything from a document is text, never markup."""

import re

from assistant.types import Answer, Citation
from assistant.web.render import (
    ABSTAIN_HEADLINE,
    display_name,
    escape_text,
    render_answer,
    render_partial,
)


def citation(n=1, quote="The heron nests in April.", passage=None, source="/data/notes.md", page=None, score=0.61):
    return Citation(
        n=n,
        source=source,
        title="notes",
        page=page,
        chunk_id=f"c{n}",
        quote=quote,
        score=score,
        ordinal=0,
        passage=passage if passage is not None else f"Intro line.\n\n{quote}\n\nOutro.",
    )


def test_escape_text_leaves_no_markup_or_markdown_syntax():
    raw = '<script>alert("x")</script> **bold** [link](javascript:x) $$x$$ `code` & it\'s'
    out = escape_text(raw)
    for ch in "<>\"'*[]()$`":
        assert ch not in out, ch
    assert "&" not in out.replace("&#", "")  # only numeric entities remain
    # Decoding the entities gives the original text back: it displays exactly as written.
    import html

    assert html.unescape(out) == raw


def test_answer_markers_link_to_their_sources_and_only_known_ones():
    answer = Answer("q", "Herons nest in April [1]. Not a citation [7].", citations=[citation()])
    message = render_answer(answer, "m1")
    assert '<a class="cite" href="#m1-1"' in message
    assert '<details class="source" id="m1-1">' in message
    assert "[7]" not in message  # unknown marker stays escaped text
    assert "&#91;7&#93;" in message


def test_sources_show_document_page_score_and_highlighted_quote():
    c = citation(page=3, source="/home/me/docs/report.pdf", score=0.7234)
    message = render_answer(Answer("q", "It nests [1].", citations=[c]), "m2")
    assert "report.pdf" in message and "/home/me" not in message
    assert "page 3" in message
    # The score as a bar and words, the number and what it means in the tooltip.
    assert "score-bar level-5" in message and "close match" in message
    import html as html_module

    tooltip = html_module.unescape(re.search(r'class="source-score" title="([^"]*)"', message).group(1))
    assert tooltip.startswith("How close this passage's meaning is to your question: 0.72 on a 0-1 scale")
    assert "relevance 0.72" not in message
    assert "<mark>The heron nests in April.</mark>" in message


def test_quote_of_non_adjacent_sentences_is_highlighted_sentence_by_sentence():
    passage = "First sentence here. Second one is not quoted. Third sentence is quoted too."
    c = citation(quote="First sentence here. Third sentence is quoted too.", passage=passage)
    message = render_answer(Answer("q", "x [1]", citations=[c]), "m")
    assert message.count("<mark>") == 2
    assert "Second one is not quoted." in message


def test_sources_block_has_no_blank_line_so_markdown_leaves_it_alone():
    c = citation(passage="Para one.\n\n\n# Heading\n\n- item\n\nThe heron nests in April.")
    message = render_answer(Answer("q", "x [1]", citations=[c]), "m")
    html_block = message[message.index('<div class="sources">'):]
    assert "\n\n" not in html_block.split("\n\n<div class=\"answer-meta\"")[0]
    assert "&#35; Heading" in html_block  # a Markdown heading in a document stays text


def test_document_html_in_quote_and_passage_is_escaped():
    evil = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>'
    c = citation(quote=evil, passage=f"before {evil} after")
    message = render_answer(Answer("q", f"{evil} [1]", citations=[c]), "m")
    assert "<img" not in message and "<script" not in message
    assert "&#60;script&#62;" in message or "&lt;script&gt;" in message


def test_abstention_is_marked_and_offers_the_nearest_passages():
    answer = Answer(
        "q", "The documents don't say.", abstained=True,
        related=[citation(1, quote="Closest lead"), citation(2, quote="Second lead")],
    )
    message = render_answer(answer, "m")
    assert ABSTAIN_HEADLINE in message
    assert 'class="sources related"' in message
    assert len(re.findall(r'<details class="source"', message)) == 2
    assert 'class="cite"' not in message


def test_partial_stream_text_is_escaped():
    assert "<b>" not in render_partial("<b>bold</b> so far")


def test_display_name_is_the_file_name_or_the_record_title():
    assert display_name(citation(source="/a/b/c.txt")) == "c.txt"
    assert display_name(citation(source="doc-17")) == "notes"
