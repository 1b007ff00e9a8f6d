"""Knowledge-base answers as HTML: Markdown rendered safely for the studio.

Azure's answers are Markdown (bold, lists, links, images). The studio shows them
rendered, so an analyst sees what a bot's user sees. Two independent layers keep
the page safe from what an answer (typed, imported or sent through the API) holds:

* ``markdown-it-py`` renders with raw HTML switched off (``<script>`` is text) and
  its link check refusing ``javascript:``, ``vbscript:``, ``file:`` and non-image
  ``data:`` URLs;
* ``nh3`` (the Ammonia sanitizer) then keeps only the tags and attributes Markdown
  produces and http(s)/mailto/relative URLs, so a renderer bug cannot add a script,
  an event handler or a frame.

The answers themselves are stored and served by the runtime as written.
"""

from __future__ import annotations

from html import unescape

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_TAGS = {
    "p", "br", "hr", "strong", "em", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
_URL_SCHEMES = {"http", "https", "mailto"}

# "js-default" is CommonMark with raw HTML off; tables and strikethrough are the
# GitHub extensions QnA Maker answers use. Newlines inside a paragraph stay line
# breaks, as the Azure portal shows them.
_md = MarkdownIt("js-default", {"html": False, "breaks": True, "linkify": False})
_md.enable(["table", "strikethrough"])


def markdown_html(text: str) -> SafeString:
    """``text`` (Markdown) as sanitized HTML, safe to put in a page as is."""
    rendered = _md.render(text or "")
    clean = nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitized by nh3 just above


def markdown_text(text: str, *, limit: int = 160) -> str:
    """The visible text of ``text`` (Markdown) on one line, cut at ``limit``
    characters: the answer column of the compact table."""
    plain = nh3.clean(_md.render(text or ""), tags=set())
    # nh3 leaves entities escaped; the template escapes again, so unescape here.
    one_line = " ".join(unescape(plain).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
