"""Question/answer pairs extracted from a knowledge source's page (HTML or Markdown).

Azure's custom question answering extracts FAQs from a URL or file by its
structure: a heading is a question and the text that follows it, up to the next
heading, its answer. This does the same with the standard library only: headings
(``<h1>``–``<h6>``, Markdown ``#`` lines) become questions; paragraphs, list items,
table cells and preformatted text under them become the answer (Markdown: lists as
``- item``, paragraphs separated by a blank line). A heading with no text under it
(a section title followed by another heading) is not a pair. ``<dt>``/``<dd>``
definition lists, a common FAQ markup, are pairs too. Scripts, styles and page
chrome (``nav``, ``header``, ``footer``, ``aside``) are ignored.

PDF and DOCX are not read here (no well-kept pure-Python reader was worth adding);
such sources are refused with a message saying so.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

QnaPairText = tuple[str, str]

_SKIPPED = {"script", "style", "nav", "header", "footer", "aside", "noscript", "svg"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "dt"}
_BLOCKS = {"p", "li", "td", "th", "pre", "blockquote", "dd", "div", "section", "br"}
_SPACES = re.compile(r"[ \t\r\f\v]+")
_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _clean(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _pairs(sections: list[tuple[str, list[str]]]) -> list[QnaPairText]:
    pairs = []
    for question, parts in sections:
        question = _SPACES.sub(" ", question.replace("\n", " ")).strip()
        answer = _clean("\n".join(parts))
        if question and answer:
            pairs.append((question, answer))
    return pairs


class _FaqHtmlParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[tuple[str, list[str]]] = []
        self.skip_depth = 0
        self.heading: list[str] | None = None
        self.block: list[str] = []

    def _flush_block(self) -> None:
        text = "".join(self.block).strip()
        self.block = []
        if text and self.sections:
            self.sections[-1][1].append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip_depth += 1
        elif self.skip_depth:
            return
        elif tag in _HEADINGS:
            self._flush_block()
            self.heading = []
        elif tag in _BLOCKS:
            self._flush_block()
            if tag == "li":
                self.block.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif self.skip_depth:
            return
        elif tag in _HEADINGS and self.heading is not None:
            self.sections.append(("".join(self.heading), []))
            self.heading = None
        elif tag in _BLOCKS:
            self._flush_block()
            if self.sections and tag in ("p", "pre", "blockquote", "dd"):
                self.sections[-1][1].append("")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.heading is not None:
            self.heading.append(data)
        else:
            self.block.append(data.replace("\n", " "))

    def close(self) -> None:
        super().close()
        self._flush_block()


def qnas_from_html(text: str) -> list[QnaPairText]:
    """(question, answer) pairs of an HTML page, in page order."""
    parser = _FaqHtmlParser()
    parser.feed(text)
    parser.close()
    return _pairs(parser.sections)


def qnas_from_markdown(text: str) -> list[QnaPairText]:
    """(question, answer) pairs of a Markdown document, in document order; fenced
    code blocks are answer text, never headings."""
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else _MD_HEADING.match(line)
        if match:
            sections.append((match.group(2), []))
        elif sections:
            sections[-1][1].append(line.rstrip())
    return _pairs(sections)


def looks_like_html(text: str, *, content_type: str = "", url: str = "") -> bool:
    """Whether a fetched document is HTML: by its Content-Type when it says, by
    a ``.md``/``.markdown``/``.txt`` URL, else by its first non-blank character."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    if kind in ("text/markdown", "text/x-markdown", "text/plain"):
        return False
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith((".md", ".markdown", ".txt")):
        return False
    return text.lstrip("\ufeff \t\r\n").startswith("<")
