"""Answers rendered as Markdown: what a knowledge base holds (typed, imported, sent
through the API) never becomes script, frames, event handlers or raw HTML."""

from __future__ import annotations

import re

import pytest

from projects.markdown import markdown_html, markdown_text

DANGEROUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<iframe src="https://evil.example"></iframe>',
    "<object data=x></object><embed src=x>",
    '<img src=x onerror="alert(1)">',
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    '<div onmouseover="alert(1)">hover</div>',
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name=p></form>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#115;cript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1))",
    '[x](https://ok.example "title" onclick=alert(1))',
    '<https://ok.example/" onmouseover="alert(1)>',
    "```html\n<script>alert(1)</script>\n```",
    "<!-- comment --><p>raw paragraph</p>",
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_nothing_executable_or_raw_is_rendered(text: str) -> None:
    html = str(markdown_html(text))
    tags = re.findall(r"<\s*([a-zA-Z][\w-]*)", html)
    assert set(tags) <= {"p", "a", "img", "code", "pre", "br", "em", "strong"}, html
    assert not re.search(r"<[^>]*\son\w+\s*=", html), html
    assert not re.search(
        r"(href|src)\s*=\s*\"?\s*(javascript|vbscript|data):", html, re.I
    )
    for tag in ("script", "iframe", "object", "embed", "svg", "style", "form", "div"):
        assert f"<{tag}" not in html.lower()


def test_raw_html_is_shown_as_text() -> None:
    html = str(markdown_html("<b>bold?</b> & <i>no</i>"))
    assert html.strip() == "<p>&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;i&gt;no&lt;/i&gt;</p>"


def test_markdown_renders() -> None:
    html = str(
        markdown_html(
            "# Title\n\n**bold**, *it*, ~~old~~, `code`\nnext line\n\n"
            "1. one\n2. two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "[site](https://example.com) ![logo](https://example.com/l.png)"
        )
    )
    assert "<h1>Title</h1>" in html
    assert (
        "<strong>bold</strong>, <em>it</em>, <s>old</s>, <code>code</code><br>" in html
    )
    assert "<ol>\n<li>one</li>" in html and "<td>1</td>" in html
    assert (
        '<a href="https://example.com" rel="noopener noreferrer nofollow">site</a>'
        in html
    )
    assert '<img src="https://example.com/l.png" alt="logo">' in html


def test_plain_excerpt() -> None:
    assert markdown_text("**Open** Settings\n\n- a <b>\n- b") == "Open Settings a <b> b"
    assert markdown_text("word " * 100, limit=20) == "word word word word…"
    assert markdown_text("") == ""
