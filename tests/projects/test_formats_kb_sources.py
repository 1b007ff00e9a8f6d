"""Question/answer extraction from a knowledge source's page (formats/kb_sources.py)."""

from __future__ import annotations

from projects.formats.kb_sources import (
    looks_like_html,
    qnas_from_html,
    qnas_from_markdown,
)


def test_html_headings_are_questions_and_the_text_under_them_answers() -> None:
    page = """<html><head><style>h2 {}</style><script>"<h2>x</h2>"</script></head>
    <body><header><h2>Site</h2><p>menu</p></header>
    <h1>Help</h1>
    <h2>How do I reset my password?</h2><p>Open <b>Settings</b>.</p>
    <ul><li>one</li><li>two</li></ul>
    <h3>Opening &amp; closing hours</h3><p>9 to 5.</p>
    <dl><dt>Do you ship?</dt><dd>Yes, worldwide.</dd></dl>
    <footer><h2>Contact</h2><p>call us</p></footer></body></html>"""
    assert qnas_from_html(page) == [
        ("How do I reset my password?", "Open Settings.\n\n- one\n- two"),
        ("Opening & closing hours", "9 to 5."),
        ("Do you ship?", "Yes, worldwide."),
    ]


def test_markdown_headings_outside_code_fences_are_questions() -> None:
    text = (
        "# FAQ\n\n## Shipping?\n\nTwo days.\n\n```\n# not a heading\n```\n\n## Empty\n"
    )
    assert qnas_from_markdown(text) == [
        ("Shipping?", "Two days.\n\n```\n# not a heading\n```")
    ]


def test_html_is_told_from_markdown_by_type_url_or_first_character() -> None:
    assert looks_like_html("# Title", content_type="text/html; charset=utf-8")
    assert not looks_like_html("<p>x</p>", url="https://example.com/faq.md?x=1")
    assert looks_like_html("\ufeff  <!doctype html>")
    assert not looks_like_html("## Question\n\nAnswer")
