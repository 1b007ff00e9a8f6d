"""Email addresses, phone numbers and URLs. Azure returns these without
resolutions: the text is the value."""

from __future__ import annotations

import regex

from .types import PrebuiltHit

EMAIL = "Email"
PHONE_NUMBER = "PhoneNumber"
URL = "URL"

_EMAIL = regex.compile(
    r"(?<![\w.+-])[\w+-]+(?:\.[\w+-]+)*@[\w-]+(?:\.[\w-]+)*\.\p{L}{2,}(?![\w@-])"
)
_PHONE = regex.compile(
    r"(?<![\w+])(?:"
    r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    r"|\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}"
    r")(?![\w])"
)
_TLDS = (
    "com|org|net|edu|gov|mil|int|io|co|ai|dev|app|info|biz|me|tv|us|uk|de|fr|es|"
    "it|nl|be|ch|at|se|no|dk|fi|pl|cz|pt|ie|ru|cn|jp|kr|in|au|nz|ca|br|mx|ar|za"
)
_URL = regex.compile(
    r"\b(?:https?|ftp)://[^\s<>\"']+"
    r"|\bwww\.[\w-]+(?:\.[\w-]+)+(?:[/?#][^\s<>\"']*)?"
    rf"|(?<![@\w.-])[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS})\b(?![@.\w-])(?:[/?#][^\s<>\"']*)?",
    regex.IGNORECASE,
)
# Sentence punctuation after a URL ends the sentence, not the URL.
_TRAILING = ".,;:!?)]}'\""


def find_emails(text: str) -> list[PrebuiltHit]:
    return [PrebuiltHit(EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(text)]


def find_phone_numbers(text: str) -> list[PrebuiltHit]:
    return [
        PrebuiltHit(PHONE_NUMBER, m.start(), m.end()) for m in _PHONE.finditer(text)
    ]


def find_urls(text: str) -> list[PrebuiltHit]:
    hits = []
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _TRAILING:
            end -= 1
        hits.append(PrebuiltHit(URL, m.start(), end))
    return hits
