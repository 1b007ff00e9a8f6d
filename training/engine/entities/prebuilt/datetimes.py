"""English dates, times, date-times, durations and week/month/year ranges.

Each hit carries Azure's ``DateTimeResolution {timex, dateTimeSubKind, value}`` (or a
``TemporalSpanResolution`` for "next week"): ``timex`` is the extended ISO 8601 form
the Recognizers-Text project defines (``2026-11-23``, ``XXXX-05-01`` for a date
without a year, ``T17:30``, ``PT2H``), ``value`` the concrete moment relative to the
reference date (``2026-11-23``, ``17:30:00``, ``2026-11-23 17:30:00``; seconds for a
duration).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import regex

from .numbers import word_numbers
from .types import PrebuiltHit, select_longest

DATETIME = "DateTime"

_I = regex.IGNORECASE
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9, "october": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(\d{4}))?"

_RELATIVE_DAY = regex.compile(
    r"\b(?:the\s+)?(day\s+after\s+tomorrow|day\s+before\s+yesterday|today|tonight"
    r"|tomorrow|yesterday)\b",
    _I,
)
_WEEKDAY = regex.compile(
    rf"\b(?:(next|this|last|coming|previous)\s+)?({'|'.join(_WEEKDAYS)})\b", _I
)
_MONTH_DAY = regex.compile(rf"\b({_MONTH_ALT})\.?\s+{_DAY}\b{_YEAR}", _I)
_DAY_MONTH = regex.compile(rf"\b{_DAY}\s+(?:of\s+)?({_MONTH_ALT})\b{_YEAR}", _I)
_ISO_DATE = regex.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")
_SLASH_DATE = regex.compile(
    r"(?<![\w/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\w/])"
)
_RANGE = regex.compile(r"\b(next|this|last)\s+(week|weekend|month|year)\b", _I)

_CLOCK_12 = regex.compile(
    r"(?<![\w:])(\d{1,2})(?::([0-5]\d))?\s*(a\.?m\.?|p\.?m\.?)(?!\w)", _I
)
_CLOCK_24 = regex.compile(r"(?<![\w:])([01]?\d|2[0-3]):([0-5]\d)(?![\w:])")
_AT_HOUR = regex.compile(r"\bat\s+(\d{1,2})(?:\s*o'?clock)?(?![\w:])", _I)
_OCLOCK = regex.compile(r"(?<![\w:])(\d{1,2})\s*o'?clock\b", _I)
_NAMED_TIME = regex.compile(r"\b(noon|midday|midnight)\b", _I)

_UNIT_SECONDS = {
    "S": 1, "M": 60, "H": 3600, "D": 86400, "W": 604800, "MON": 2592000,
    "Y": 31536000,
}  # fmt: skip
_UNITS = {
    "second": "S", "seconds": "S", "sec": "S", "secs": "S",
    "minute": "M", "minutes": "M", "min": "M", "mins": "M",
    "hour": "H", "hours": "H", "hr": "H", "hrs": "H",
    "day": "D", "days": "D", "week": "W", "weeks": "W",
    "month": "MON", "months": "MON", "year": "Y", "years": "Y",
}  # fmt: skip
_UNIT_ALT = "|".join(sorted(_UNITS, key=len, reverse=True))
_DURATION_DIGITS = regex.compile(rf"(?<![\w.])(\d+(?:\.\d+)?)\s*({_UNIT_ALT})\b", _I)
_UNIT_WORD = regex.compile(rf"\s*({_UNIT_ALT})\b", _I)
_HALF_HOUR = regex.compile(r"\bhalf\s+an\s+hour\b", _I)
_AN_UNIT = regex.compile(r"\ban?\s+(hour|minute|day|week|month|year)\b", _I)

_IN_BEFORE = regex.compile(r"\bin\s+$", _I)
_AGO_AFTER = regex.compile(r"\s+(ago|from\s+now|later)\b", _I)

# What may sit between a date and a time that form one date-time.
_DATE_TIME_JOIN = regex.compile(r"\s*(?:,|\bat\b|@)?\s*", _I)
_TIME_DATE_JOIN = regex.compile(r"\s*(?:,|\bon\b)?\s*", _I)


@dataclass(frozen=True, slots=True)
class _Date:
    start: int
    end: int
    date: dt.date
    timex: str


@dataclass(frozen=True, slots=True)
class _Time:
    start: int
    end: int
    hour: int
    minute: int

    @property
    def timex(self) -> str:
        return f"T{self.hour:02d}" + (f":{self.minute:02d}" if self.minute else "")

    @property
    def value(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}:00"


def _resolution(timex: str, kind: str, value: str) -> dict[str, Any]:
    return {
        "resolutionKind": "DateTimeResolution",
        "dateTimeSubKind": kind,
        "timex": timex,
        "value": value,
    }


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _upcoming(month: int, day: int, today: dt.date) -> dt.date | None:
    """The next ``month``/``day`` on or after ``today`` (a date said without a year
    usually means the coming one)."""
    for year in (today.year, today.year + 1, today.year + 4):
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _dates(text: str, today: dt.date) -> list[_Date]:
    found: list[_Date] = []
    for m in _RELATIVE_DAY.finditer(text):
        word = " ".join(m.group(1).lower().split())
        delta = {
            "today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1,
            "day after tomorrow": 2, "day before yesterday": -2,
        }[word]  # fmt: skip
        day = today + dt.timedelta(days=delta)
        found.append(_Date(m.start(), m.end(), day, day.isoformat()))
    for m in _WEEKDAY.finditer(text):
        modifier = (m.group(1) or "").lower()
        weekday = _WEEKDAYS[m.group(2).lower()]
        ahead = (weekday - today.weekday()) % 7
        if modifier in ("next", "coming"):
            day = today + dt.timedelta(days=ahead or 7)
            timex = day.isoformat()
        elif modifier in ("last", "previous"):
            day = today - dt.timedelta(days=((today.weekday() - weekday) % 7) or 7)
            timex = day.isoformat()
        elif modifier == "this":
            day = today + dt.timedelta(days=weekday - today.weekday())
            timex = day.isoformat()
        else:
            day = today + dt.timedelta(days=ahead)
            timex = f"XXXX-WXX-{weekday + 1}"
        found.append(_Date(m.start(), m.end(), day, timex))
    for m in _MONTH_DAY.finditer(text):
        _add_calendar(found, m, _MONTHS[m.group(1).lower()], int(m.group(2)),
                      m.group(3), today)  # fmt: skip
    for m in _DAY_MONTH.finditer(text):
        _add_calendar(found, m, _MONTHS[m.group(2).lower()], int(m.group(1)),
                      m.group(3), today)  # fmt: skip
    for m in _ISO_DATE.finditer(text):
        _add_calendar(found, m, int(m.group(2)), int(m.group(3)), m.group(1), today)
    for m in _SLASH_DATE.finditer(text):
        year = m.group(3)
        if year is not None and len(year) == 2:
            year = str(2000 + int(year))
        # US order, as Azure's en-us culture reads it.
        _add_calendar(found, m, int(m.group(1)), int(m.group(2)), year, today)
    return found


def _add_calendar(
    found: list[_Date],
    m: regex.Match[str],
    month: int,
    day: int,
    year: str | None,
    today: dt.date,
) -> None:
    if year:
        date = _safe_date(int(year), month, day)
        if date is not None:
            found.append(_Date(m.start(), m.end(), date, date.isoformat()))
        return
    upcoming = _upcoming(month, day, today)
    if upcoming is not None:
        found.append(_Date(m.start(), m.end(), upcoming, f"XXXX-{month:02d}-{day:02d}"))


def _times(text: str) -> list[_Time]:
    found: list[_Time] = []
    for m in _CLOCK_12.finditer(text):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= hour <= 12:
            continue
        pm = m.group(3).lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
        found.append(_Time(m.start(), m.end(), hour, minute))
    for m in _CLOCK_24.finditer(text):
        found.append(_Time(m.start(), m.end(), int(m.group(1)), int(m.group(2))))
    for m in _AT_HOUR.finditer(text):
        hour = int(m.group(1))
        if 0 <= hour <= 23:
            # "at" only gives the context; the entity is the time itself.
            found.append(_Time(m.start(1), m.end(), hour, 0))
    for m in _OCLOCK.finditer(text):
        hour = int(m.group(1))
        if 0 <= hour <= 23:
            found.append(_Time(m.start(), m.end(), hour, 0))
    for m in _NAMED_TIME.finditer(text):
        hour = 0 if m.group(1).lower() == "midnight" else 12
        found.append(_Time(m.start(), m.end(), hour, 0))
    return found


def _duration_spans(text: str) -> list[tuple[int, int, float, str]]:
    """(start, end, amount, unit) of every "<number> <unit>" in ``text``."""
    found: list[tuple[int, int, float, str]] = []
    for m in _DURATION_DIGITS.finditer(text):
        found.append(
            (m.start(), m.end(), float(m.group(1)), _UNITS[m.group(2).lower()])
        )
    for start, end, value in word_numbers(text):
        unit = _UNIT_WORD.match(text, end)
        if unit is not None:
            found.append((start, unit.end(), value, _UNITS[unit.group(1).lower()]))
    for m in _AN_UNIT.finditer(text):
        found.append((m.start(), m.end(), 1.0, _UNITS[m.group(1).lower()]))
    for m in _HALF_HOUR.finditer(text):
        found.append((m.start(), m.end(), 30.0, "M"))
    return found


def _relative(
    spans: list[tuple[int, int, float, str]], text: str, reference: dt.datetime
) -> list[PrebuiltHit]:
    """ "in 2 hours", "3 days ago", "10 minutes from now": a moment, not a length.
    Months and years vary in length, so only fixed-size units count here."""
    hits = []
    for start, end, amount, unit in spans:
        if unit not in ("S", "M", "H", "D", "W"):
            continue
        before = _IN_BEFORE.search(text, 0, start)
        after = _AGO_AFTER.match(text, end)
        if before is not None:
            sign, start = 1, before.start()
        elif after is not None:
            sign = -1 if after.group(1).lower() == "ago" else 1
            end = after.end()
        else:
            continue
        moment = reference + sign * dt.timedelta(seconds=amount * _UNIT_SECONDS[unit])
        if unit in ("D", "W"):
            day = moment.date().isoformat()
            resolution = _resolution(day, "Date", day)
            subtype = "datetime.date"
        else:
            moment = moment.replace(microsecond=0)
            resolution = _resolution(
                moment.strftime("%Y-%m-%dT%H:%M:%S"),
                "DateTime",
                moment.strftime("%Y-%m-%d %H:%M:%S"),
            )
            subtype = "datetime.datetime"
        hits.append(PrebuiltHit(DATETIME, start, end, (resolution,), subtype))
    return hits


def _durations(spans: list[tuple[int, int, float, str]]) -> list[PrebuiltHit]:
    hits = []
    for start, end, amount, unit in spans:
        seconds = amount * _UNIT_SECONDS[unit]
        number = f"{int(amount)}" if amount.is_integer() else f"{amount:g}"
        designator = "M" if unit == "MON" else unit
        timex = (
            f"PT{number}{designator}"
            if unit in ("S", "M", "H")
            else f"P{number}{designator}"
        )
        total = f"{int(seconds)}" if float(seconds).is_integer() else f"{seconds:g}"
        hits.append(
            PrebuiltHit(DATETIME, start, end,
                        (_resolution(timex, "Duration", total),), "datetime.duration")
        )  # fmt: skip
    return hits


def _ranges(text: str, today: dt.date) -> list[PrebuiltHit]:
    hits = []
    for m in _RANGE.finditer(text):
        step = {"next": 1, "this": 0, "last": -1}[m.group(1).lower()]
        unit = m.group(2).lower()
        if unit in ("week", "weekend"):
            monday = (
                today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=step)
            )
            iso_year, iso_week, _ = monday.isocalendar()
            if unit == "week":
                begin, end = monday, monday + dt.timedelta(days=7)
                timex = f"{iso_year}-W{iso_week:02d}"
            else:
                begin, end = monday + dt.timedelta(days=5), monday + dt.timedelta(7)
                timex = f"{iso_year}-W{iso_week:02d}-WE"
        elif unit == "month":
            index = today.year * 12 + today.month - 1 + step
            begin = dt.date(index // 12, index % 12 + 1, 1)
            after = index + 1
            end = dt.date(after // 12, after % 12 + 1, 1)
            timex = f"{begin.year}-{begin.month:02d}"
        else:
            begin = dt.date(today.year + step, 1, 1)
            end = dt.date(today.year + step + 1, 1, 1)
            timex = f"{begin.year}"
        resolution = {
            "resolutionKind": "TemporalSpanResolution",
            "timex": timex,
            "begin": begin.isoformat(),
            "end": end.isoformat(),
        }
        hits.append(
            PrebuiltHit(
                DATETIME, m.start(), m.end(), (resolution,), "datetime.daterange"
            )
        )
    return hits


def find_datetimes(text: str, reference: dt.datetime) -> list[PrebuiltHit]:
    today = reference.date()
    dates = _dates(text, today)
    times = _times(text)
    hits: list[PrebuiltHit] = []
    for date in dates:
        hits.append(
            PrebuiltHit(DATETIME, date.start, date.end,
                        (_resolution(date.timex, "Date", date.date.isoformat()),),
                        "datetime.date")
        )  # fmt: skip
    for time in times:
        hits.append(
            PrebuiltHit(DATETIME, time.start, time.end,
                        (_resolution(time.timex, "Time", time.value),),
                        "datetime.time")
        )  # fmt: skip
    for date in dates:
        for time in times:
            if time.start >= date.end:
                join = _DATE_TIME_JOIN.match(text, date.end)
                adjacent = join is not None and join.end() == time.start
                start, end = date.start, time.end
            elif date.start >= time.end:
                join = _TIME_DATE_JOIN.match(text, time.end)
                adjacent = join is not None and join.end() == date.start
                start, end = time.start, date.end
            else:
                continue
            if not adjacent:
                continue
            timex = date.timex + time.timex
            value = f"{date.date.isoformat()} {time.value}"
            hits.append(
                PrebuiltHit(DATETIME, start, end,
                            (_resolution(timex, "DateTime", value),),
                            "datetime.datetime")
            )  # fmt: skip
    spans = _duration_spans(text)
    hits.extend(_durations(spans))
    hits.extend(_relative(spans, text, reference))
    hits.extend(_ranges(text, today))
    return select_longest(hits)
