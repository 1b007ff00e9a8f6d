"""Numbers, ordinals and percentages, in digits anywhere and in English words.

Resolutions follow Azure's shapes: ``NumberResolution {numberKind, value}`` (with
``numberKind: Percent`` for percentages) and ``OrdinalResolution {offset,
relativeTo, value}``, where "last" is ``offset "0"`` relative to ``End``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import regex

from .types import PrebuiltHit, select_longest

NUMBER = "Quantity.Number"
ORDINAL = "Quantity.Ordinal"
PERCENTAGE = "Quantity.Percentage"

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
    "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
}  # fmt: skip
_ORDINAL_TENS = {
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
    "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90,
    "hundredth": 100, "thousandth": 1000,
}  # fmt: skip

_WORD = regex.compile(r"[A-Za-z]+")
# A separator between two words of one number: spaces or a single hyphen.
_JOINER = regex.compile(r"\s+|\s*-\s*")
_DIGITS = regex.compile(
    r"(?<![\w.,])(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
    r"(?:\s+(thousand|million|billion))?(?![\w]|[.,]\d)"
)
_DIGIT_ORDINAL = regex.compile(r"(?<![\w.,])(\d+)(?:st|nd|rd|th)\b", regex.IGNORECASE)
_TENS_ALT = "|".join(_TENS)
_WORD_ORDINAL = regex.compile(
    rf"\b(?:(?:({_TENS_ALT})[\s-]+)?({'|'.join(_ORDINAL_UNITS)})"
    rf"|({'|'.join(_ORDINAL_TENS)}))\b",
    regex.IGNORECASE,
)
_RELATIVE_ORDINAL = regex.compile(
    r"\b(?:(?:second|next)[\s-]+to[\s-]+last|penultimate|last)\b", regex.IGNORECASE
)
_PERCENT_SUFFIX = regex.compile(r"\s?%|\s+(?:per\s?cent|percent)\b", regex.IGNORECASE)


def number_resolution(value: float, kind: str | None = None) -> dict[str, Any]:
    integral = float(value).is_integer()
    return {
        "resolutionKind": "NumberResolution",
        "numberKind": kind or ("Integer" if integral else "Decimal"),
        "value": int(value) if integral else float(value),
    }


def _parse_words(
    words: list[tuple[int, int, str]], i: int, text: str
) -> tuple[float, int] | None:
    """The value of the longest English number phrase starting at word ``i`` and
    the index after its last word, or ``None`` when no number starts there."""
    total = 0
    current = 0
    last = ""  # kind of the last consumed word
    end = None
    j = i
    pending_and = False
    while j < len(words):
        if j > i and not _JOINER.fullmatch(text[words[j - 1][1] : words[j][0]]):
            break
        word = words[j][2]
        if word == "and" and last in ("hundred", "scale") and not pending_and:
            pending_and = True
            j += 1
            continue
        if word == "a" and last == "" and j + 1 < len(words):
            nxt = words[j + 1][2]
            if nxt == "hundred" or nxt in _SCALES:
                current = 1
                last = "a"
                j += 1
                continue
            break
        if word in _UNITS and last in ("", "tens", "hundred", "scale"):
            if last == "tens" and current % 10:
                break
            current += _UNITS[word]
            last = "unit"
        elif word in _TEENS and last in ("", "hundred", "scale"):
            current += _TEENS[word]
            last = "teen"
        elif word in _TENS and last in ("", "hundred", "scale"):
            current += _TENS[word]
            last = "tens"
        elif word == "hundred" and last in ("unit", "teen", "a") and current < 100:
            current *= 100
            last = "hundred"
        elif word in _SCALES and last in ("unit", "teen", "tens", "hundred", "a"):
            total += current * _SCALES[word]
            current = 0
            last = "scale"
        else:
            break
        pending_and = False
        j += 1
        end = j
    if end is None or last == "a":
        return None
    value: float = total + current
    # "two and a half"
    if [w[2] for w in words[end : end + 3]] == ["and", "a", "half"]:
        value += 0.5
        end += 3
    return value, end


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]


def word_numbers(text: str) -> Iterator[tuple[int, int, float]]:
    """(start, end, value) of each English number phrase ("twenty one"), left to
    right, none overlapping."""
    words = _words(text)
    i = 0
    while i < len(words):
        parsed = _parse_words(words, i, text)
        if parsed is None:
            i += 1
            continue
        value, j = parsed
        yield words[i][0], words[j - 1][1], value
        i = j


def find_numbers(
    text: str, *, ordinals: Sequence[PrebuiltHit] | None = None
) -> list[PrebuiltHit]:
    """Cardinal numbers; ``ordinals`` is ``find_ordinals(text)`` if already known."""
    if ordinals is None:
        ordinals = find_ordinals(text)
    # "twenty" of "twenty-first" is part of an ordinal, not a number of its own.
    inside_ordinals = [(h.start, h.end) for h in ordinals]
    return [
        hit
        for hit in _find_cardinals(text)
        if not any(s <= hit.start and hit.end <= e for s, e in inside_ordinals)
    ]


def _find_cardinals(text: str) -> list[PrebuiltHit]:
    hits: list[PrebuiltHit] = []
    for m in _DIGITS.finditer(text):
        value = float(m.group(1).replace(",", ""))
        if m.group(2):
            value *= _SCALES[m.group(2).lower()]
        hits.append(
            PrebuiltHit(
                NUMBER, m.start(), m.end(), (number_resolution(value),),
                "quantity.number",
            )
        )  # fmt: skip
    for start, end, value in word_numbers(text):
        hits.append(
            PrebuiltHit(
                NUMBER, start, end, (number_resolution(value),), "quantity.number"
            )
        )
    return hits


def find_ordinals(text: str) -> list[PrebuiltHit]:
    hits: list[PrebuiltHit] = []

    def add(start: int, end: int, offset: str, relative: str, value: str) -> None:
        resolution = {
            "resolutionKind": "OrdinalResolution",
            "offset": offset,
            "relativeTo": relative,
            "value": value,
        }
        hits.append(PrebuiltHit(ORDINAL, start, end, (resolution,), "quantity.ordinal"))

    for m in _DIGIT_ORDINAL.finditer(text):
        digits = str(int(m.group(1)))
        add(m.start(), m.end(), digits, "Start", digits)
    for m in _WORD_ORDINAL.finditer(text):
        if m.group(3):
            n = _ORDINAL_TENS[m.group(3).lower()]
        else:
            n = _ORDINAL_UNITS[m.group(2).lower()]
            if m.group(1):
                n += _TENS[m.group(1).lower()]
        add(m.start(), m.end(), str(n), "Start", str(n))
    for m in _RELATIVE_ORDINAL.finditer(text):
        if m.group().lower() == "last":
            add(m.start(), m.end(), "0", "End", "end")
        else:
            add(m.start(), m.end(), "-1", "End", "end-1")
    return select_longest(hits)


def find_percentages(
    text: str, *, numbers: Sequence[PrebuiltHit] | None = None
) -> list[PrebuiltHit]:
    """Percentages; ``numbers`` is ``find_numbers(text)`` if already known."""
    hits: list[PrebuiltHit] = []
    for number in find_numbers(text) if numbers is None else numbers:
        suffix = _PERCENT_SUFFIX.match(text, number.end)
        if suffix is None:
            continue
        value = number.resolutions[0]["value"]
        hits.append(
            PrebuiltHit(
                PERCENTAGE,
                number.start,
                suffix.end(),
                (number_resolution(value, "Percent"),),
                "quantity.percentage",
            )
        )
    return hits
