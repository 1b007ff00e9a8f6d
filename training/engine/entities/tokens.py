"""Language-agnostic tokenization, offsets preserved.

Tokens are runs of word characters (letters with their combining marks, digits,
underscore), except that scripts written without spaces (Han, kana, Thai, ...) give
one token per character; every other non-space grapheme cluster (punctuation, an
emoji with its modifiers or ZWJ sequence) is a token of its own. Offsets are code
points into the original text.
"""

from __future__ import annotations

from typing import NamedTuple

import regex

_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_TOKEN = regex.compile(
    rf"[{_UNSPACED}]\p{{M}}*|[^\W{_UNSPACED}]+|(?!\s)\X", regex.VERSION1
)


class Token(NamedTuple):
    start: int
    end: int
    text: str


def tokenize(text: str) -> list[Token]:
    return [Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
