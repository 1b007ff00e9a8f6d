"""Prebuilt entity components: the catalog and one entry point to recognize them.

Category names follow Azure's prebuilt component reference (``Quantity.Number``,
``DateTime``...). Entities in exported projects also name them in short or spaced
forms ("Number", "Datetime", "Phone Number", "IP Address"), so lookups go through
``canonical_prebuilt``.

Two recognizers stand behind the catalog: Microsoft's Recognizers-Text
(``recognizers``; English, Spanish, French, Portuguese and Chinese, Japanese for
numbers) and the hand-written English ones (``numbers``, ``contacts``). Each
category uses the hand-written code only where ``bench/prebuilts.py`` measured it
better on its table of utterances (see ``_HANDWRITTEN``), and only for English;
other languages use the library where it has a model for them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import recognizers as rt
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
    "prebuilt_languages",
    "recognize",
    "select_longest",
]

AGE = "Quantity.Age"
BOOLEAN = "Choice.Boolean"
CURRENCY = "Quantity.Currency"
DIMENSION = "Quantity.Dimension"
IP = "IP"
SPEED = "Quantity.Speed"
TEMPERATURE = "Quantity.Temperature"
WEIGHT = "Quantity.Weight"


@dataclass(frozen=True, slots=True)
class _Prebuilt:
    category: str
    description: str
    examples: str
    # The Recognizers-Text model behind it, and the quantity kind kept from its
    # results ("Speed" of the dimension model) when it is a part of one.
    model: str
    quantity: str = ""
    aliases: tuple[str, ...] = ()


_PREBUILTS: tuple[_Prebuilt, ...] = (
    _Prebuilt(
        AGE,
        "The age of a person or thing.",
        "30 years old, 9 months old, 2 week old",
        rt.AGE,
    ),
    _Prebuilt(
        BOOLEAN,
        "A yes or no answer in words or symbols.",
        "yes, no, true, false, ok, nope",
        rt.BOOLEAN,
        aliases=("Boolean",),
    ),
    _Prebuilt(
        CURRENCY,
        "Monetary amounts with their currency, resolved to ISO 4217 where known.",
        "$20.50, 1000.00 US dollars, £20.00, 30 egyptian pounds, $67.5B",
        rt.CURRENCY,
    ),
    _Prebuilt(
        DATETIME,
        "Dates, times, dates with times, durations, ranges and sets, resolved "
        "against the current date.",
        "tomorrow, next Monday, June 23 1976, at 5pm, 6:49 PM, tomorrow at 7 PM, "
        "for 2 hours, in 2 hours, 3 days ago, next week, from 3pm to 5pm, "
        "every Monday",
        rt.DATETIME,
        aliases=("datetimeV2",),
    ),
    _Prebuilt(
        DIMENSION,
        "Lengths, distances, areas, volumes, speeds, weights and amounts of "
        "information.",
        "two miles, 650 square kilometers, 35 km/h, 2 liters, 3 kg, 10 megabytes",
        rt.DIMENSION,
    ),
    _Prebuilt(
        EMAIL,
        "Email addresses.",
        "user@contoso.com, user_name@contoso.com, user.name@contoso.com",
        rt.EMAIL,
    ),
    _Prebuilt(
        IP,
        "IPv4 and IPv6 addresses.",
        "192.168.0.4, 2001:db8::ff00:42:8329",
        rt.IP,
        aliases=("IP Address", "IpAddress"),
    ),
    _Prebuilt(
        ORDINAL,
        "An ordinal number in digits or words, or a position from the end.",
        "first, 10th, twenty-first, last, second to last",
        rt.ORDINAL,
    ),
    _Prebuilt(
        PERCENTAGE,
        "A percentage with the % sign or the word percent.",
        "10%, 5.6 percent, fifty per cent",
        rt.PERCENTAGE,
    ),
    _Prebuilt(
        PHONE_NUMBER,
        "Phone numbers in US and international formats.",
        "123-456-7890, +1 123 456 7890, (123)456-7890",
        rt.PHONE_NUMBER,
        aliases=("Phone Number",),
    ),
    _Prebuilt(
        NUMBER,
        "A cardinal number in digits or words.",
        "3, 14.5, 1,000, twenty one, two and a half",
        rt.NUMBER,
    ),
    _Prebuilt(
        SPEED,
        "A speed with its unit.",
        "35 km/h, 60 mph, 10 meters per second, 20 knots",
        rt.DIMENSION,
        quantity="Speed",
    ),
    _Prebuilt(
        TEMPERATURE,
        "A temperature in Celsius, Fahrenheit or Kelvin.",
        "32F, 34 degrees celsius, 2 deg C, 300 kelvin",
        rt.TEMPERATURE,
    ),
    _Prebuilt(
        URL,
        "Website URLs and links.",
        "https://www.contoso.com/docs, www.contoso.com, contoso.com",
        rt.URL,
    ),
    _Prebuilt(
        WEIGHT,
        "A weight with its unit.",
        "3 kg, 5 pounds, 200 grams, 2 tons",
        rt.DIMENSION,
        quantity="Weight",
    ),
)
_BY_CATEGORY = {p.category: p for p in _PREBUILTS}

PREBUILT_CATALOG: list[dict[str, str]] = [
    {"category": p.category, "description": p.description, "examples": p.examples}
    for p in _PREBUILTS
]

# English categories where the hand-written recognizer did better than the library
# on bench/prebuilts.py's table: a higher score (ordinals: "last" and "second to
# last" relative to the end, "next" not an ordinal; emails and URLs: sentence
# punctuation left out of the address), or the same score at a tenth of the time
# (percentages, phone numbers). The finders take the text and the reference moment.
_HANDWRITTEN: dict[str, Callable[[str, dt.datetime], list[PrebuiltHit]]] = {
    ORDINAL: lambda text, _ref: find_ordinals(text),
    PERCENTAGE: lambda text, _ref: find_percentages(text),
    EMAIL: lambda text, _ref: find_emails(text),
    PHONE_NUMBER: lambda text, _ref: find_phone_numbers(text),
    URL: lambda text, _ref: find_urls(text),
}
# Every hand-written recognizer, for the bench and for languages the library has
# no model for (digits are language-neutral); numbers and dates lost to the library
# on the table (it reads "a dozen", "half", ranges, sets and "before tomorrow").
_FALLBACK: dict[str, Callable[[str, dt.datetime], list[PrebuiltHit]]] = {
    ORDINAL: lambda text, _ref: find_ordinals(text),
    NUMBER: lambda text, _ref: find_numbers(text),
    PERCENTAGE: lambda text, _ref: find_percentages(text),
    DATETIME: find_datetimes,
    EMAIL: lambda text, _ref: find_emails(text),
    PHONE_NUMBER: lambda text, _ref: find_phone_numbers(text),
    URL: lambda text, _ref: find_urls(text),
}


def _key(name: str) -> str:
    return "".join(name.split()).casefold()


_ALIASES: dict[str, str] = {}
for _entry in _PREBUILTS:
    for _name in (_entry.category, _entry.category.rsplit(".", 1)[-1], *_entry.aliases):
        _ALIASES[_key(_name)] = _entry.category


def canonical_prebuilt(name: str) -> str | None:
    """The catalog category for ``name`` ("number" → "Quantity.Number"), or
    ``None`` when we do not implement it."""
    return _ALIASES.get(_key(name))


def prebuilt_languages(category: str) -> tuple[str, ...]:
    """The language codes (primary subtags) ``category`` recognizes words of;
    digits, symbols and addresses are found in any language."""
    prebuilt = _BY_CATEGORY[category]
    return tuple(code for code in rt.CULTURES if rt.supports(prebuilt.model, code)) or (
        "en",
    )


def _backend(category: str, language: str) -> str:
    """ "hand" or "library" for ``category`` in ``language``."""
    english = language.split("-", 1)[0].casefold() == "en"
    if english:
        return "hand" if category in _HANDWRITTEN else "library"
    model = _BY_CATEGORY[category].model
    if rt.supports(model, language) or category not in _FALLBACK:
        return "library"
    return "hand"


def recognize(
    text: str,
    categories: Iterable[str],
    reference: dt.datetime,
    language: str = "en",
    *,
    features: bool = False,
) -> dict[str, list[PrebuiltHit]]:
    """Hits per canonical category, each list sorted by offset.

    ``features`` asks for the hits the learned model's features are made of: the
    hand-written recognizer wherever there is one, in any language. Those must be
    the same at fit and predict time, not Azure's exact spans, and fitting runs
    them on every training utterance, where the library's datetime model would
    add ~10-40 ms an utterance.

    Each library model runs at most once per text however many categories share
    it (dimension, speed and weight); the hand-written numbers exclude ordinals
    and percentages build on numbers, so those finders also run once.
    """
    by_model: dict[str, list[PrebuiltHit]] = {}

    def library(prebuilt: _Prebuilt) -> list[PrebuiltHit]:
        if prebuilt.model not in by_model:
            by_model[prebuilt.model] = rt.find(
                prebuilt.model, prebuilt.category, text, language, reference
            )
        hits = by_model[prebuilt.model]
        if prebuilt.quantity:
            wanted = f"quantity.{prebuilt.quantity.casefold()}"
            hits = [h for h in hits if h.subtype == wanted]
        return [
            h if h.kind == prebuilt.category
            else dataclasses.replace(h, kind=prebuilt.category)
            for h in hits
        ]  # fmt: skip

    found: dict[str, list[PrebuiltHit]] = {}

    def hand(category: str) -> list[PrebuiltHit]:
        if category not in found:
            if category == NUMBER:
                found[category] = find_numbers(text, ordinals=hand(ORDINAL))
            elif category == PERCENTAGE:
                found[category] = find_percentages(text, numbers=hand(NUMBER))
            else:
                found[category] = _FALLBACK[category](text, reference)
        return found[category]

    def _ordinals(language: str) -> list[PrebuiltHit]:
        if _backend(ORDINAL, language) == "hand":
            return hand(ORDINAL)
        return library(_BY_CATEGORY[ORDINAL])

    result: dict[str, list[PrebuiltHit]] = {}
    for category in categories:
        if (features and category in _FALLBACK) or (
            not features and _backend(category, language) == "hand"
        ):
            hits = hand(category)
        else:
            hits = library(_BY_CATEGORY[category])
            if category == NUMBER:
                # "twenty" of "twenty-first" belongs to the ordinal.
                ordinals = [(h.start, h.end) for h in _ordinals(language)]
                hits = [
                    h
                    for h in hits
                    if not any(s <= h.start and h.end <= e for s, e in ordinals)
                ]
        result[category] = sorted(hits, key=lambda h: (h.start, h.end))
    return result
