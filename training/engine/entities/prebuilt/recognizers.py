"""Microsoft Recognizers-Text (the library behind LUIS's prebuilt entities) behind
the prebuilt catalog, with its results turned into Azure's resolution shapes.

The library's models are built once per culture and kept. Some are slow on every
call (currency ~25 ms, datetime ~6 ms on a busy 2-core machine), so each kind has a
cheap pre-filter: a text that cannot hold the kind (no digit or number word for a
quantity, no currency word or symbol for money, no calendar word for a date) never
reaches the model. ``bench/prebuilts.py`` measures both the accuracy of this path
against the hand-written recognizers and its cost per utterance.

Offsets: the library reports inclusive ends on its lower-cased copy of the text
(full-width digits and punctuation replaced one for one); code-point offsets into
the original are ``start`` and ``end + 1``, mapped back where lower-casing changed
the length ("İ" lower-cases to two code points).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections.abc import Callable
from typing import Any

import regex

from .types import PrebuiltHit

# The library's kinds (one model each); catalog categories map onto them.
NUMBER = "number"
ORDINAL = "ordinal"
PERCENTAGE = "percentage"
AGE = "age"
CURRENCY = "currency"
DIMENSION = "dimension"
TEMPERATURE = "temperature"
DATETIME = "datetime"
BOOLEAN = "boolean"
EMAIL = "email"
IP = "ip"
PHONE_NUMBER = "phonenumber"
URL = "url"

# Azure's project language codes ("en-us", "pt-br") by their primary subtag, and
# the library's culture codes (``recognizers_text.Culture``).
ENGLISH = "en-us"
CULTURES: dict[str, str] = {
    "en": ENGLISH,
    "es": "es-es",
    "fr": "fr-fr",
    "pt": "pt-br",
    "zh": "zh-cn",
    "ja": "ja-jp",
}

# (recognizer module and class, model name) per kind. The library is imported on
# first use (about a second: it compiles its patterns for every language), so the
# catalog and name checks stay cheap; models are looked up by name so that only
# the ones in use get built.
_NUMBERS = ("recognizers_number", "NumberRecognizer")
_UNITS = ("recognizers_number_with_unit", "NumberWithUnitRecognizer")
_SEQUENCES = ("recognizers_sequence", "SequenceRecognizer")
_MODELS: dict[str, tuple[tuple[str, str], str]] = {
    NUMBER: (_NUMBERS, "NumberModel"),
    ORDINAL: (_NUMBERS, "OrdinalModel"),
    PERCENTAGE: (_NUMBERS, "PercentModel"),
    AGE: (_UNITS, "AgeModel"),
    CURRENCY: (_UNITS, "CurrencyModel"),
    DIMENSION: (_UNITS, "DimensionModel"),
    TEMPERATURE: (_UNITS, "TemperatureModel"),
    DATETIME: (("recognizers_date_time", "DateTimeRecognizer"), "DateTimeModel"),
    BOOLEAN: (("recognizers_choice", "ChoiceRecognizer"), "BooleanModel"),
    EMAIL: (_SEQUENCES, "EmailModel"),
    IP: (_SEQUENCES, "IpAddressModel"),
    PHONE_NUMBER: (_SEQUENCES, "PhoneNumberModel"),
    URL: (_SEQUENCES, "URLModel"),
}

# Email, IP, phone and URL patterns are written for any script; where the library
# has no model for a culture these run with the English one.
_LANGUAGE_NEUTRAL = frozenset({EMAIL, IP, PHONE_NUMBER, URL})


# The unit models (currency, dimension, age, temperature) build their unit-name
# matcher again on every call (``BaseMergedUnitExtractor`` constructs a
# ``NumberWithUnitExtractor`` per ``extract``): ~25 ms a call for the 248 currency
# names. The extractor keeps no state between calls, so one per configuration is
# built and reused. Only that module's name is rebound; other modules hold their
# own reference to the class.
# (The package re-exports a language's ``extractors`` under the same name, hence
# the import by full path.)
_unit_extractor_cache: dict[int, tuple[Any, Any]] = {}


@functools.cache
def _unit_extractor_class() -> Any:
    """The library's ``NumberWithUnitExtractor``, once its module's name for it is
    rebound to ``_reused_unit_extractor``."""
    module: Any = importlib.import_module(
        "recognizers_number_with_unit.number_with_unit.extractors"
    )
    original = module.NumberWithUnitExtractor
    module.NumberWithUnitExtractor = _reused_unit_extractor
    return original


def _reused_unit_extractor(config: Any) -> Any:
    cached = _unit_extractor_cache.get(id(config))
    if cached is None or cached[0] is not config:
        # The config is kept with its extractor so that its id stays its own.
        cached = (config, _unit_extractor_class()(config))
        _unit_extractor_cache[id(config)] = cached
    return cached[1]


@functools.cache
def _english_units() -> Any:
    from recognizers_number_with_unit.resources.english_numeric_with_unit import (
        EnglishNumericWithUnit,
    )

    return EnglishNumericWithUnit


def culture_of(language: str) -> str | None:
    """The library's culture for an Azure language code, or ``None``."""
    return CULTURES.get(language.split("-", 1)[0].casefold())


@functools.cache
def _recognizer(module_and_class: tuple[str, str]) -> Any:
    _unit_extractor_class()
    module, name = module_and_class
    recognizer_class = getattr(importlib.import_module(module), name)
    # The library's "lazy_initialization=True" builds every model of the target
    # culture up front (seconds); False only registers their constructors.
    return recognizer_class(lazy_initialization=False)


def _registered(kind: str, culture: str) -> bool:
    recognizer, name = _MODELS[kind]
    factories = _recognizer(recognizer).model_factory.model_factories
    return any(k.model_type == name and k.culture == culture for k in factories)


@functools.cache
def _model(kind: str, culture: str) -> Any | None:
    if not _registered(kind, culture):
        return None
    recognizer, name = _MODELS[kind]
    return _recognizer(recognizer).get_model(name, culture, False)


def supports(kind: str, language: str) -> bool:
    """Whether the library has a model for ``kind`` in ``language`` (cheap: no
    model is built)."""
    culture = culture_of(language)
    if kind in _LANGUAGE_NEUTRAL:
        return True
    return culture is not None and _registered(kind, culture)


# -- pre-filters -----------------------------------------------------------------

_I = regex.IGNORECASE
_EN_NUMBER_WORDS = (
    "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    "fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    "fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|"
    "dozens?|half|quarter|couple|score"
)
_EN_NUMBER = regex.compile(rf"\d|\b(?:{_EN_NUMBER_WORDS})\b", _I)
_DIGIT = regex.compile(r"\d")
_EN_CALENDAR = regex.compile(
    r"\d|\b(?:"
    + _EN_NUMBER_WORDS
    + r"|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|mon(?:day)?s?|tue(?:s(?:day)?)?s?|wed(?:nesday)?s?|thu(?:rs(?:day)?)?s?"
    r"|fri(?:day)?s?|sat(?:urday)?s?|sun(?:day)?s?"
    r"|today|tonight|tomorrow|yesterday|now|noon|midday|midnight|morning"
    r"|afternoon|evening|night|overnight|weekends?|weekdays?|days?|weeks?"
    r"|fortnights?|months?|years?|decades?|century|hours?|minutes?|mins?"
    r"|seconds?|secs?|hrs?|daily|weekly|monthly|yearly|annually|hourly|ago"
    r"|later|earlier|recently|currently|soon|spring|summer|autumn|fall|winter"
    r"|quarter|eve|christmas|xmas|easter|thanksgiving|halloween|valentine'?s?"
    r"|new\s+year'?s?|independence|memorial|labou?r|mother'?s|father'?s|holiday"
    r")\b",
    _I,
)


# Words that name a currency ("dollars", "euro", "usd"): the first and last word of
# every name the library knows, plus any currency symbol.
@functools.cache
def _currency_words() -> frozenset[str]:
    units = _english_units()
    return frozenset(
        word
        for table in (units.CurrencySuffixList, units.CurrencyPrefixList)
        for names in table.values()
        for name in names.split("|")
        for word in (name.split()[:1] + name.split()[-1:])
        if word.isalpha()
    )


_WORD = regex.compile(r"\p{L}+")
_CURRENCY_SYMBOL = regex.compile(r"\p{Sc}")


def _has_currency(text: str) -> bool:
    if _CURRENCY_SYMBOL.search(text):
        return True
    words = _currency_words()
    return any(w.casefold() in words for w in _WORD.findall(text))


def _english_gate(kind: str) -> Callable[[str], bool] | None:
    if kind in (NUMBER, PERCENTAGE, AGE, DIMENSION, TEMPERATURE):
        return lambda text: _EN_NUMBER.search(text) is not None
    if kind == CURRENCY:
        return lambda text: _EN_NUMBER.search(text) is not None and _has_currency(text)
    if kind == DATETIME:
        return lambda text: _EN_CALENDAR.search(text) is not None
    if kind == EMAIL:
        return lambda text: "@" in text
    if kind in (URL, IP):
        return lambda text: "." in text or ":" in text
    if kind == PHONE_NUMBER:
        return lambda text: len(_DIGIT.findall(text)) >= 5
    return None


def _gate(kind: str, culture: str) -> Callable[[str], bool] | None:
    # Other languages run their models unfiltered: with the unit extractor reused
    # (above) the slowest, datetime, costs a few milliseconds on a short text.
    if culture == ENGLISH or kind in _LANGUAGE_NEUTRAL:
        return _english_gate(kind)
    return None


# -- results in Azure's shapes ----------------------------------------------------


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


_FRACTION = regex.compile(
    r"/|\b(?:half|halves|quarters?|thirds?|fourths?|fifths?|sixths?|sevenths?"
    r"|eighths?|ninths?|tenths?)\b",
    _I,
)


def _number_kind(value: float | int, surface: str) -> str:
    if "^" in surface or regex.search(r"\de[+-]?\d", surface, _I):
        return "Power"
    # "3/4", "one half" are fractions; "two and a half" is a decimal, as in Azure.
    if _FRACTION.search(surface) and abs(value) < 1:
        return "Fraction"
    return "Integer" if float(value).is_integer() else "Decimal"


_AGE_UNITS = frozenset({"Year", "Month", "Week", "Day"})
_TEMPERATURE_UNITS = {"F": "Fahrenheit", "C": "Celsius", "K": "Kelvin", "R": "Rankine"}

# The dimension model's unit names by quantity kind, and their spelling in Azure's
# unit enums (LengthUnit, SpeedUnit, ...). Names the enums lack are "Unspecified".
_SPEED_UNITS = {
    "Meter per second": "MetersPerSecond",
    "Kilometer per hour": "KilometersPerHour",
    "Kilometer per minute": "KilometersPerMinute",
    "Kilometer per second": "KilometersPerSecond",
    "Mile per hour": "MilesPerHour",
    "Knot": "Knot",
    "Foot per second": "FootPerSecond",
    "Foot per minute": "FootPerMinute",
    "Yard per minute": "YardsPerMinute",
    "Yard per second": "YardsPerSecond",
}
_AZURE_UNITS: dict[str, frozenset[str]] = {
    "Length": frozenset(
        [
            "Kilometer",
            "Hectometer",
            "Decameter",
            "Meter",
            "Decimeter",
            "Centimeter",
            "Millimeter",
            "Micrometer",
            "Nanometer",
            "Picometer",
            "Mile",
            "Yard",
            "Inch",
            "Foot",
            "LightYear",
            "Pt",
        ]
    ),
    "Area": frozenset(
        [
            "SquareKilometer",
            "SquareHectometer",
            "SquareDecameter",
            "SquareDecimeter",
            "SquareMeter",
            "SquareCentimeter",
            "SquareMillimeter",
            "SquareInch",
            "SquareFoot",
            "SquareMile",
            "SquareYard",
            "Acre",
        ]
    ),
    "Volume": frozenset(
        [
            "CubicMeter",
            "CubicCentimeter",
            "CubicMillimeter",
            "Hectoliter",
            "Decaliter",
            "Liter",
            "Centiliter",
            "Milliliter",
            "CubicYard",
            "CubicInch",
            "CubicFoot",
            "CubicMile",
            "FluidOunce",
            "Teaspoon",
            "Tablespoon",
            "Pint",
            "Quart",
            "Cup",
            "Gill",
            "Pinch",
            "FluidDram",
            "Barrel",
            "Minim",
            "Cord",
            "Peck",
            "Bushel",
            "Hogshead",
        ]
    ),
    "Weight": frozenset(
        [
            "Kilogram",
            "Gram",
            "Milligram",
            "Gallon",
            "MetricTon",
            "Ton",
            "Pound",
            "Ounce",
            "Grain",
            "PennyWeight",
            "LongTonBritish",
            "ShortTonUS",
            "ShortHundredWeightUS",
            "Stone",
            "Dram",
        ]
    ),
    "Information": frozenset(
        [
            "Bit",
            "Kilobit",
            "Megabit",
            "Gigabit",
            "Terabit",
            "Petabit",
            "Byte",
            "Kilobyte",
            "Megabyte",
            "Gigabyte",
            "Terabyte",
            "Petabyte",
        ]
    ),
    "Speed": frozenset(_SPEED_UNITS.values()),
}


@functools.cache
def _dimension_kinds() -> dict[str, str]:
    units = _english_units()
    return {
        **dict.fromkeys(units.LengthSuffixList, "Length"),
        **dict.fromkeys(units.AreaSuffixList, "Area"),
        **dict.fromkeys(units.VolumeSuffixList, "Volume"),
        **dict.fromkeys(units.WeightSuffixList, "Weight"),
        **dict.fromkeys(units.InformationSuffixList, "Information"),
        **dict.fromkeys(units.SpeedSuffixList, "Speed"),
    }


# The library's spelling slips.
_UNIT_FIXES = {"Cubic millimiter": "CubicMillimeter"}


def dimension_kind(unit: str) -> str:
    """The Azure quantity kind of a dimension unit ("Mile per hour" → "Speed")."""
    return _dimension_kinds().get(unit, "Length")


def _azure_unit(kind: str, unit: str) -> str:
    if kind == "Speed":
        name = _SPEED_UNITS.get(unit, "")
    else:
        name = _UNIT_FIXES.get(unit) or "".join(
            w[:1].upper() + w[1:] for w in unit.split()
        )
    return name if name in _AZURE_UNITS[kind] else "Unspecified"


_MODIFIERS = {
    m.casefold(): m
    for m in [
        "AfterApprox",
        "BeforeApprox",
        "SinceEnd",
        "AfterMid",
        "AfterStart",
        "BeforeStart",
        "BeforeEnd",
        "Before",
        "After",
        "Approx",
        "Start",
        "End",
        "Until",
        "Less",
        "Since",
        "Mid",
        "More",
        "ReferenceUndefined",
    ]
}


def _modifier(value: dict[str, Any]) -> str | None:
    mod = value.get("Mod")
    if not isinstance(mod, str):
        return None
    return _MODIFIERS.get(mod.replace("-", "").replace("_", "").casefold())


_SUB_KINDS = {
    "date": "Date",
    "time": "Time",
    "datetime": "DateTime",
    "duration": "Duration",
    "set": "Set",
}
_RANGE_DURATION = regex.compile(r"^\(.*,.*,(P[^)]*)\)$")


def _datetime_resolutions(values: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    resolutions: list[dict[str, Any]] = []
    for value in values:
        kind = value.get("type", "")
        timex = value.get("timex", "")
        modifier = _modifier(value)
        if kind in _SUB_KINDS:
            resolution = {
                "resolutionKind": "DateTimeResolution",
                "dateTimeSubKind": _SUB_KINDS[kind],
                "timex": timex,
                "value": value.get("value", "not resolved"),
            }
        else:
            # daterange, timerange, datetimerange (and before/after a point).
            resolution = {"resolutionKind": "TemporalSpanResolution", "timex": timex}
            if "start" in value:
                resolution["begin"] = value["start"]
            if "end" in value:
                resolution["end"] = value["end"]
            duration = _RANGE_DURATION.match(timex)
            if duration:
                resolution["duration"] = duration.group(1)
        if modifier:
            resolution["modifier"] = modifier
        if resolution not in resolutions:
            resolutions.append(resolution)
    return tuple(resolutions)


def _resolutions(kind: str, result: Any) -> tuple[str, tuple[dict[str, Any], ...]]:
    """(subtype, resolutions) for one library result."""
    res = result.resolution or {}
    if kind == NUMBER:
        value = _number(res["value"])
        return "quantity.number", (
            {
                "resolutionKind": "NumberResolution",
                "numberKind": _number_kind(value, result.text),
                "value": value,
            },
        )
    if kind == PERCENTAGE:
        value = _number(str(res["value"]).rstrip("%").strip())
        return "quantity.percentage", (
            {
                "resolutionKind": "NumberResolution",
                "numberKind": "Percent",
                "value": value,
            },
        )
    if kind == ORDINAL:
        position = str(res["value"])
        return "quantity.ordinal", (
            {
                "resolutionKind": "OrdinalResolution",
                "offset": position,
                "relativeTo": "Start",
                "value": position,
            },
        )
    if kind == AGE:
        unit = res.get("unit", "")
        return "quantity.age", (
            {
                "resolutionKind": "AgeResolution",
                "value": _number(res["value"]),
                "unit": unit if unit in _AGE_UNITS else "Unspecified",
            },
        )
    if kind == CURRENCY:
        resolution = {
            "resolutionKind": "CurrencyResolution",
            "value": _number(res["value"]),
            "unit": res.get("unit", ""),
        }
        if res.get("isoCurrency"):
            resolution["ISO4217"] = res["isoCurrency"]
        return "quantity.currency", (resolution,)
    if kind == TEMPERATURE:
        return "quantity.temperature", (
            {
                "resolutionKind": "TemperatureResolution",
                "value": _number(res["value"]),
                "unit": _TEMPERATURE_UNITS.get(res.get("unit", ""), "Unspecified"),
            },
        )
    if kind == DIMENSION:
        unit = res.get("unit", "")
        quantity = dimension_kind(unit)
        return f"quantity.{quantity.casefold()}", (
            {
                "resolutionKind": f"{quantity}Resolution",
                "value": _number(res["value"]),
                "unit": _azure_unit(quantity, unit),
            },
        )
    if kind == DATETIME:
        subtype = result.type_name.replace("datetimeV2", "datetime")
        return subtype, _datetime_resolutions(res.get("values", []))
    if kind == BOOLEAN:
        return "", (
            {"resolutionKind": "BooleanResolution", "value": bool(res["value"])},
        )
    # Email, IP, phone number, URL: the text is the value.
    return "", ()


def _original_positions(text: str) -> list[int]:
    """For each code point of ``text.lower()`` (and its end), the index of the
    code point of ``text`` it comes from."""
    if len(text.lower()) == len(text):
        return list(range(len(text) + 1))
    positions = [i for i, char in enumerate(text) for _ in char.lower()]
    return [*positions, len(text)]


def find(
    kind: str, category: str, text: str, language: str, reference: dt.datetime
) -> list[PrebuiltHit]:
    """Hits of the library's ``kind`` in ``text``, labelled ``category``."""
    culture = culture_of(language) or ENGLISH
    model = _model(kind, culture)
    if model is None:
        culture = ENGLISH
        model = _model(kind, culture)
    gate = _gate(kind, culture)
    if model is None or (gate is not None and not gate(text)):
        return []
    if kind == DATETIME:
        results = model.parse(text, reference=reference)
    else:
        results = model.parse(text)
    hits = []
    positions = _original_positions(text)
    for result in results:
        start, last = result.start, result.end
        if not 0 <= start <= last < len(positions) - 1:
            continue
        start, end = positions[start], positions[last] + 1
        try:
            subtype, resolutions = _resolutions(kind, result)
        except (KeyError, ValueError, TypeError):
            continue
        hits.append(PrebuiltHit(category, start, end, resolutions, subtype))
    return hits
