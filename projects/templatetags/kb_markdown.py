"""``{% load kb_markdown %}``: ``{{ qna.answer|markdown }}`` renders an answer as
sanitized HTML; ``{{ qna.answer|markdown_excerpt }}`` is its plain text, cut."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from projects.markdown import markdown_html, markdown_text

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return markdown_html(text)


@register.filter
def markdown_excerpt(text: str) -> str:
    return markdown_text(text)
