from __future__ import annotations

import datetime as dt

import pytest

from training.engine.entities import (
    PREBUILT_CATALOG,
    EntityDefinition,
    EntityExtractor,
    canonical_prebuilt,
)
from training.engine.entities.prebuilt import recognize

# A Saturday.
NOW = dt.datetime(2026, 11, 21, 10, 0)


def _hits(text: str, category: str) -> list[tuple[str, dict]]:
    hits = recognize(text, [category], NOW)[category]
    return [
        (text[h.start : h.end], h.resolutions[0] if h.resolutions else {}) for h in hits
    ]


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("23", 23, "Integer"),
        ("14.5", 14.5, "Decimal"),
        ("1,000", 1000, "Integer"),
        ("twenty one", 21, "Integer"),
        ("twenty-one", 21, "Integer"),
        ("one hundred and five", 105, "Integer"),
        ("two and a half", 2.5, "Decimal"),
        ("a thousand", 1000, "Integer"),
        ("5 million", 5_000_000, "Integer"),
    ],
)
def test_numbers_resolve_to_number_resolution(text, value, kind):
    [(found, resolution)] = _hits(f"give me {text} now", "Quantity.Number")
    assert found == text
    assert resolution == {
        "resolutionKind": "NumberResolution",
        "numberKind": kind,
        "value": value,
    }


def test_number_is_not_taken_from_inside_words_or_ordinals():
    assert _hits("the 10th of abc123 and twenty-first", "Quantity.Number") == []


@pytest.mark.parametrize(
    ("text", "offset", "relative", "value"),
    [
        ("first", "1", "Start", "1"),
        ("10th", "10", "Start", "10"),
        ("twenty-first", "21", "Start", "21"),
        ("last", "0", "End", "end"),
        ("second to last", "-1", "End", "end-1"),
    ],
)
def test_ordinals_resolve_to_ordinal_resolution(text, offset, relative, value):
    [(found, resolution)] = _hits(f"open the {text} one", "Quantity.Ordinal")
    assert found == text
    assert resolution == {
        "resolutionKind": "OrdinalResolution",
        "offset": offset,
        "relativeTo": relative,
        "value": value,
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("10%", 10), ("15 %", 15), ("5.6 percent", 5.6), ("fifty per cent", 50)],
)
def test_percentages_are_percent_number_resolutions(text, value):
    [(found, resolution)] = _hits(f"dim to {text}", "Quantity.Percentage")
    assert found == text
    assert resolution["numberKind"] == "Percent"
    assert resolution["value"] == value


@pytest.mark.parametrize(
    ("text", "sub_kind", "timex", "value"),
    [
        ("tomorrow", "Date", "2026-11-22", "2026-11-22"),
        ("yesterday", "Date", "2026-11-20", "2026-11-20"),
        ("next Monday", "Date", "2026-11-23", "2026-11-23"),
        ("last Friday", "Date", "2026-11-20", "2026-11-20"),
        ("Monday", "Date", "XXXX-WXX-1", "2026-11-23"),
        ("June 23, 1976", "Date", "1976-06-23", "1976-06-23"),
        ("May 1st", "Date", "XXXX-05-01", "2027-05-01"),
        ("3rd of December", "Date", "XXXX-12-03", "2026-12-03"),
        ("2022-05-01", "Date", "2022-05-01", "2022-05-01"),
        ("5/1/2022", "Date", "2022-05-01", "2022-05-01"),
        ("5pm", "Time", "T17", "17:00:00"),
        ("6:49 PM", "Time", "T18:49", "18:49:00"),
        ("17:45", "Time", "T17:45", "17:45:00"),
        ("noon", "Time", "T12", "12:00:00"),
        ("tomorrow at 7 PM", "DateTime", "2026-11-22T19", "2026-11-22 19:00:00"),
        ("7:30 am on Monday", "DateTime", "XXXX-WXX-1T07:30", "2026-11-23 07:30:00"),
        ("2 hours", "Duration", "PT2H", "7200"),
        ("thirty minutes", "Duration", "PT30M", "1800"),
        ("3 days", "Duration", "P3D", "259200"),
        ("in 2 hours", "DateTime", "2026-11-21T12:00:00", "2026-11-21 12:00:00"),
        ("in a week", "Date", "2026-11-28", "2026-11-28"),
        ("3 days ago", "Date", "2026-11-18", "2026-11-18"),
        (
            "ten minutes from now",
            "DateTime",
            "2026-11-21T10:10:00",
            "2026-11-21 10:10:00",
        ),
    ],
)
def test_datetimes_resolve_relative_to_the_reference(text, sub_kind, timex, value):
    [(found, resolution)] = _hits(f"remind me {text} please", "DateTime")
    assert found == text
    assert resolution == {
        "resolutionKind": "DateTimeResolution",
        "dateTimeSubKind": sub_kind,
        "timex": timex,
        "value": value,
    }


def test_at_gives_context_to_a_bare_hour_but_is_not_part_of_it():
    [(found, resolution)] = _hits("call me at 5", "DateTime")
    assert found == "5"
    assert resolution["timex"] == "T05"


def test_next_week_is_a_temporal_span():
    [(found, resolution)] = _hits("book it for next week", "DateTime")
    assert found == "next week"
    assert resolution == {
        "resolutionKind": "TemporalSpanResolution",
        "timex": "2026-W48",
        "begin": "2026-11-23",
        "end": "2026-11-30",
    }


def test_may_as_a_verb_is_not_a_date():
    assert _hits("may I go now", "DateTime") == []


def test_email_phone_and_url_are_found_without_resolutions():
    text = (
        "mail bob.smith+x@contoso.co.uk, call (123)456-7890 or +1 123 456 7890, "
        "see https://contoso.com/docs?a=1. or www.bing.com"
    )
    assert [t for t, _ in _hits(text, "Email")] == ["bob.smith+x@contoso.co.uk"]
    assert [t for t, _ in _hits(text, "PhoneNumber")] == [
        "(123)456-7890",
        "+1 123 456 7890",
    ]
    assert [t for t, _ in _hits(text, "URL")] == [
        "https://contoso.com/docs?a=1",
        "www.bing.com",
    ]


def test_url_does_not_fire_on_the_domain_of_an_email():
    assert _hits("write to user@contoso.com", "URL") == []


def test_prebuilt_names_accept_azure_and_short_forms():
    assert canonical_prebuilt("Quantity.Number") == "Quantity.Number"
    assert canonical_prebuilt("number") == "Quantity.Number"
    assert canonical_prebuilt("Datetime") == "DateTime"
    assert canonical_prebuilt("Phone Number") == "PhoneNumber"
    assert canonical_prebuilt("Person.Name") is None


def test_catalog_lists_exactly_what_is_implemented():
    categories = [entry["category"] for entry in PREBUILT_CATALOG]
    assert len(categories) == len(set(categories)) == 7
    for entry in PREBUILT_CATALOG:
        assert set(entry) == {"category", "description", "examples"}
        assert canonical_prebuilt(entry["category"]) == entry["category"]
        # Each example list is recognized by its own category.
        first_example = entry["examples"].split(", ")[0]
        assert _hits(first_example, entry["category"]), entry


def test_entity_with_prebuilts_returns_longest_and_carries_resolution():
    definition = EntityDefinition("Amount", prebuilts=("Number", "Percentage"))
    extractor = EntityExtractor.fit([definition], [], [])
    [match] = extractor.predict("set it to 15%", reference=NOW)
    assert (match.category, match.text) == ("Amount", "15%")
    assert match.resolutions == (
        {"resolutionKind": "NumberResolution", "numberKind": "Percent", "value": 15},
    )
    assert match.extra_information == (
        {"extraInformationKind": "EntitySubtype", "value": "quantity.percentage"},
    )
