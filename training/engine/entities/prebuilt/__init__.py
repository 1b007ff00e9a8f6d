"""Prebuilt entity components: the catalog and one entry point to recognize them.

Category names follow Azure's prebuilt component reference (``Quantity.Number``,
``DateTime``...). Entities in exported projects also name them in short or spaced
forms ("Number", "Datetime", "Phone Number"), so lookups go through
``canonical_prebuilt``. Recognition is English for words and language-neutral for
digits, symbols, emails, phone numbers and URLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from .contacts import (
    EMAIL,
    PHONE_NUMBER,
    URL,
    find_emails,
    find_phone_numbers,
    find_urls,
)
from .datetimes import DATETIME, find_datetimes
from .numbers import (
    NUMBER,
    ORDINAL,
    PERCENTAGE,
    find_numbers,
    find_ordinals,
    find_percentages,
)
from .types import PrebuiltHit, select_longest

__all__ = [
    "PREBUILT_CATALOG",
    "PrebuiltHit",
    "canonical_prebuilt",
    "recognize",
    "select_longest",
]

PREBUILT_CATALOG: list[dict[str, str]] = [
    {
        "category": NUMBER,
        "description": "A cardinal number in digits or English words.",
        "examples": "3, 14.5, 1,000, twenty one, two and a half",
    },
    {
        "category": ORDINAL,
        "description": "An ordinal number in digits or words, or a position from "
        "the end.",
        "examples": "first, 10th, twenty-first, last, second to last",
    },
    {
        "category": PERCENTAGE,
        "description": "A percentage with the % sign or the word percent.",
        "examples": "10%, 5.6 percent, fifty per cent",
    },
    {
        "category": DATETIME,
        "description": "Dates, times, dates with times, durations and "
        "week/month/year ranges, resolved against the current date.",
        "examples": "tomorrow, next Monday, June 23 1976, at 5pm, 6:49 PM, "
        "tomorrow at 7 PM, for 2 hours, in 2 hours, 3 days ago, next week",
    },
    {
        "category": EMAIL,
        "description": "Email addresses.",
        "examples": "user@contoso.com, user_name@contoso.com, user.name@contoso.com",
    },
    {
        "category": PHONE_NUMBER,
        "description": "Phone numbers in US and international formats.",
        "examples": "123-456-7890, +1 123 456 7890, (123)456-7890",
    },
    {
        "category": URL,
        "description": "Website URLs and links.",
        "examples": "https://www.contoso.com/docs, www.contoso.com, contoso.com",
    },
]


def _key(name: str) -> str:
    return "".join(name.split()).casefold()


_ALIASES: dict[str, str] = {}
for _entry in PREBUILT_CATALOG:
    _category = _entry["category"]
    _ALIASES[_key(_category)] = _category
    _ALIASES[_key(_category.rsplit(".", 1)[-1])] = _category
_ALIASES[_key("datetimeV2")] = DATETIME
_ALIASES[_key("Phone Number")] = PHONE_NUMBER

# Numbers and percentages are found by recognize(), from the ordinals and numbers.
_FINDERS: dict[str, Callable[[str, dt.datetime], list[PrebuiltHit]]] = {
    ORDINAL: lambda text, _ref: find_ordinals(text),
    DATETIME: find_datetimes,
    EMAIL: lambda text, _ref: find_emails(text),
    PHONE_NUMBER: lambda text, _ref: find_phone_numbers(text),
    URL: lambda text, _ref: find_urls(text),
}


def canonical_prebuilt(name: str) -> str | None:
    """The catalog category for ``name`` ("number" → "Quantity.Number"), or
    ``None`` when we do not implement it."""
    return _ALIASES.get(_key(name))


def recognize(
    text: str, categories: Iterable[str], reference: dt.datetime
) -> dict[str, list[PrebuiltHit]]:
    """Hits per canonical category, each list sorted by offset.

    Numbers exclude ordinals and percentages build on numbers, so each finder runs
    at most once per text however many of these kinds are asked for.
    """
    found: dict[str, list[PrebuiltHit]] = {}

    def hits(category: str) -> list[PrebuiltHit]:
        if category not in found:
            if category == NUMBER:
                found[category] = find_numbers(text, ordinals=hits(ORDINAL))
            elif category == PERCENTAGE:
                found[category] = find_percentages(text, numbers=hits(NUMBER))
            else:
                found[category] = _FINDERS[category](text, reference)
        return found[category]

    return {
        category: sorted(hits(category), key=lambda h: h.start)
        for category in categories
    }
