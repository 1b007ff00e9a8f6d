from __future__ import annotations

import datetime as dt

import pytest

from training.engine.entities import (
    PREBUILT_CATALOG,
    EntityDefinition,
    EntityExtractor,
    canonical_prebuilt,
)
from training.engine.entities.prebuilt import prebuilt_languages, recognize

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
        ("June 23, 1976", "Date", "1976-06-23", "1976-06-23"),
        ("2022-05-01", "Date", "2022-05-01", "2022-05-01"),
        ("5/1/2022", "Date", "2022-05-01", "2022-05-01"),
        ("5pm", "Time", "T17", "17:00:00"),
        ("6:49 PM", "Time", "T18:49", "18:49:00"),
        ("17:45", "Time", "T17:45", "17:45:00"),
        ("noon", "Time", "T12", "12:00:00"),
        ("tomorrow at 7 PM", "DateTime", "2026-11-22T19", "2026-11-22 19:00:00"),
        ("2 hours", "Duration", "PT2H", "7200"),
        ("thirty minutes", "Duration", "PT30M", "1800"),
        ("3 days", "Duration", "P3D", "259200"),
        ("in 2 hours", "DateTime", "2026-11-21T12:00:00", "2026-11-21 12:00:00"),
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


@pytest.mark.parametrize(
    ("text", "sub_kind", "timex", "values"),
    [
        ("Monday", "Date", "XXXX-WXX-1", ["2026-11-16", "2026-11-23"]),
        ("May 1st", "Date", "XXXX-05-01", ["2026-05-01", "2027-05-01"]),
        ("3rd of December", "Date", "XXXX-12-03", ["2025-12-03", "2026-12-03"]),
        (
            "7:30 am on Monday",
            "DateTime",
            "XXXX-WXX-1T07:30",
            ["2026-11-16 07:30:00", "2026-11-23 07:30:00"],
        ),
    ],
)
def test_ambiguous_dates_resolve_to_the_past_and_the_coming_one(
    text, sub_kind, timex, values
):
    # As Azure (LUIS datetimeV2): one resolution per reading, past first.
    [hit] = recognize(f"remind me {text} please", ["DateTime"], NOW)["DateTime"]
    assert [r["value"] for r in hit.resolutions] == values
    assert {(r["dateTimeSubKind"], r["timex"]) for r in hit.resolutions} == {
        (sub_kind, timex)
    }


def test_last_weekday_is_in_the_previous_week_as_in_recognizers_text():
    # Saturday the 21st: "last Friday" is the 13th, "this Friday" the 20th.
    assert _hits("since last Friday", "DateTime")[0][0] == "since last Friday"
    [(found, resolution)] = _hits("it was last Friday", "DateTime")
    assert (found, resolution["timex"]) == ("last Friday", "2026-11-13")


@pytest.mark.parametrize(
    ("text", "timex", "begin", "end", "modifier"),
    [
        ("from 3pm to 5pm", "(T15,T17,PT2H)", "15:00:00", "17:00:00", None),
        (
            "from March 3 to March 5",
            "(XXXX-03-03,XXXX-03-05,P2D)",
            "2026-03-03",
            "2026-03-05",
            None,
        ),
        ("before tomorrow", "2026-11-22", None, "2026-11-22", "Before"),
        ("since yesterday", "2026-11-20", "2026-11-20", None, "Since"),
        ("this weekend", "2026-W47-WE", "2026-11-21", "2026-11-23", None),
    ],
)
def test_ranges_are_temporal_spans(text, timex, begin, end, modifier):
    [(found, resolution)] = _hits(f"anything {text} please", "DateTime")
    assert found == text
    expected = {"resolutionKind": "TemporalSpanResolution", "timex": timex}
    for key, value in (("begin", begin), ("end", end), ("modifier", modifier)):
        if value is not None:
            expected[key] = value
    duration = timex.rsplit(",", 1)[-1].rstrip(")") if timex.startswith("(") else None
    if duration:
        expected["duration"] = duration
    assert resolution == expected


@pytest.mark.parametrize(
    ("text", "timex"),
    [("every Monday", "XXXX-WXX-1"), ("daily", "P1D"), ("every week", "P1W")],
)
def test_sets_are_datetime_set_resolutions(text, timex):
    [(found, resolution)] = _hits(f"water the plants {text}", "DateTime")
    assert found == text
    assert resolution["dateTimeSubKind"] == "Set"
    assert resolution["timex"] == timex


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
    assert [found for found, _ in _hits("may I go now", "DateTime")] == ["now"]


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
    assert canonical_prebuilt("IP Address") == "IP"
    assert canonical_prebuilt("Boolean") == "Choice.Boolean"
    assert canonical_prebuilt("speed") == "Quantity.Speed"
    assert canonical_prebuilt("Weight") == "Quantity.Weight"


def test_catalog_lists_exactly_what_is_implemented():
    categories = [entry["category"] for entry in PREBUILT_CATALOG]
    assert len(categories) == len(set(categories)) == 15
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


AZURE_BREADTH = {
    "Quantity.Age",
    "Choice.Boolean",
    "Quantity.Currency",
    "DateTime",
    "Quantity.Dimension",
    "Email",
    "IP",
    "Quantity.Ordinal",
    "Quantity.Percentage",
    "PhoneNumber",
    "Quantity.Number",
    "Quantity.Speed",
    "Quantity.Temperature",
    "URL",
    "Quantity.Weight",
}


def test_catalog_has_azures_breadth():
    assert {entry["category"] for entry in PREBUILT_CATALOG} == AZURE_BREADTH


@pytest.mark.parametrize(
    ("category", "text", "found", "resolution"),
    [
        ("Quantity.Age", "she is 30 years old", "30 years old",
         {"resolutionKind": "AgeResolution", "value": 30, "unit": "Year"}),
        ("Quantity.Age", "a 9 months old puppy", "9 months old",
         {"resolutionKind": "AgeResolution", "value": 9, "unit": "Month"}),
        ("Choice.Boolean", "yes please", "yes",
         {"resolutionKind": "BooleanResolution", "value": True}),
        ("Choice.Boolean", "nope, not now", "nope",
         {"resolutionKind": "BooleanResolution", "value": False}),
        ("Quantity.Currency", "it costs $20.50 today", "$20.50",
         {"resolutionKind": "CurrencyResolution", "value": 20.5, "unit": "Dollar"}),
        ("Quantity.Currency", "send 30 egyptian pounds", "30 egyptian pounds",
         {"resolutionKind": "CurrencyResolution", "value": 30,
          "unit": "Egyptian pound", "ISO4217": "EGP"}),
        ("Quantity.Currency", "transfer seventy dollars now", "seventy dollars",
         {"resolutionKind": "CurrencyResolution", "value": 70, "unit": "Dollar"}),
        ("Quantity.Temperature", "set it to 72 degrees fahrenheit",
         "72 degrees fahrenheit",
         {"resolutionKind": "TemperatureResolution", "value": 72,
          "unit": "Fahrenheit"}),
        ("Quantity.Temperature", "it is 2 deg C outside", "2 deg C",
         {"resolutionKind": "TemperatureResolution", "value": 2, "unit": "Celsius"}),
        ("Quantity.Dimension", "a 650 square kilometers park",
         "650 square kilometers",
         {"resolutionKind": "AreaResolution", "value": 650,
          "unit": "SquareKilometer"}),
        ("Quantity.Dimension", "walk two miles", "two miles",
         {"resolutionKind": "LengthResolution", "value": 2, "unit": "Mile"}),
        ("Quantity.Dimension", "buy 2 liters of milk", "2 liters",
         {"resolutionKind": "VolumeResolution", "value": 2, "unit": "Liter"}),
        ("Quantity.Speed", "drive at 35 km/h", "35 km/h",
         {"resolutionKind": "SpeedResolution", "value": 35,
          "unit": "KilometersPerHour"}),
        ("Quantity.Speed", "wind of 60 mph", "60 mph",
         {"resolutionKind": "SpeedResolution", "value": 60, "unit": "MilesPerHour"}),
        ("Quantity.Weight", "it weighs 3 kg", "3 kg",
         {"resolutionKind": "WeightResolution", "value": 3, "unit": "Kilogram"}),
        ("Quantity.Weight", "add 5 pounds of flour", "5 pounds",
         {"resolutionKind": "WeightResolution", "value": 5, "unit": "Pound"}),
        ("Quantity.Number", "order a dozen eggs", "a dozen",
         {"resolutionKind": "NumberResolution", "numberKind": "Integer",
          "value": 12}),
        ("Quantity.Number", "give me 3/4 of it", "3/4",
         {"resolutionKind": "NumberResolution", "numberKind": "Fraction",
          "value": 0.75}),
    ],
)  # fmt: skip
def test_quantities_resolve_in_azures_shapes(category, text, found, resolution):
    assert _hits(text, category) == [(found, resolution)]


def test_speed_and_weight_are_parts_of_dimension():
    text = "carry 3 kg at 35 km/h for two miles"
    assert [t for t, _ in _hits(text, "Quantity.Dimension")] == [
        "3 kg",
        "35 km/h",
        "two miles",
    ]
    assert [t for t, _ in _hits(text, "Quantity.Speed")] == ["35 km/h"]
    assert [t for t, _ in _hits(text, "Quantity.Weight")] == ["3 kg"]


def test_ip_addresses_v4_and_v6_without_resolutions():
    text = "ping 192.168.0.4 and 2001:db8::ff00:42:8329 now"
    assert _hits(text, "IP") == [("192.168.0.4", {}), ("2001:db8::ff00:42:8329", {})]


def test_sentences_without_a_kind_find_nothing():
    text = "turn on the kitchen lights please"
    hits = recognize(text, [entry["category"] for entry in PREBUILT_CATALOG], NOW)
    assert {category: found for category, found in hits.items() if found} == {}


def test_a_currency_word_without_an_amount_is_not_money():
    assert _hits("which dollar account is mine", "Quantity.Currency") == []


@pytest.mark.parametrize(
    ("language", "text", "category", "found", "value"),
    [
        ("es", "quiero veinte entradas", "Quantity.Number", "veinte", 20),
        ("fr", "donne-moi vingt et un euros", "Quantity.Currency",
         "vingt et un euros", 21),
        ("pt-br", "são trinta e dois graus celsius", "Quantity.Temperature",
         "trinta e dois graus celsius", 32),
        ("es", "el tercero por favor", "Quantity.Ordinal", "tercero", "3"),
        ("zh-hans", "我要三张票", "Quantity.Number", "三", 3),
    ],
)  # fmt: skip
def test_words_are_read_in_the_libraries_languages(
    language, text, category, found, value
):
    hits = recognize(text, [category], NOW, language)[category]
    assert [(text[h.start : h.end], h.resolutions[0]["value"]) for h in hits] == [
        (found, value)
    ]


def test_spanish_dates_resolve():
    [hit] = recognize("llámame mañana", ["DateTime"], NOW, "es")["DateTime"]
    assert hit.resolutions[0]["timex"] == "2026-11-22"


def test_languages_without_a_model_still_read_digits_and_addresses():
    hits = recognize("schick 25 an a@b.de", ["Quantity.Number", "Email"], NOW, "de")
    assert [h.resolutions[0]["value"] for h in hits["Quantity.Number"]] == [25]
    assert [(h.start, h.end) for h in hits["Email"]] == [(13, 19)]


def test_prebuilt_languages_name_the_libraries_models():
    assert prebuilt_languages("Quantity.Number") == ("en", "es", "fr", "pt", "zh", "ja")
    assert prebuilt_languages("Choice.Boolean") == ("en",)
    assert "es" in prebuilt_languages("DateTime")


def test_unit_models_build_their_matcher_once(monkeypatch):
    """Regression: the library rebuilt the currency names' matcher on every call
    (~25 ms each); one extractor per configuration is now reused."""
    from training.engine.entities.prebuilt import recognizers as rt

    built = []
    original = rt._unit_extractor_class()

    def counting(config):
        built.append(config)
        return original(config)

    monkeypatch.setattr(rt, "_unit_extractor_class", lambda: counting)
    monkeypatch.setattr(rt, "_unit_extractor_cache", {})
    for _ in range(3):
        _hits("it costs $20.50 or 5 euros", "Quantity.Currency")
    assert 0 < len(built) <= 2  # one per sub-model, not one per call


def test_extractor_passes_the_language_to_prebuilts():
    definition = EntityDefinition("Count", prebuilts=("Number",))
    extractor = EntityExtractor.fit([definition], [], [], language="es")
    [match] = extractor.predict("quiero veinte", reference=NOW)
    assert (match.text, match.resolutions[0]["value"]) == ("veinte", 20)


def test_fitting_does_not_run_the_librarys_slow_models(monkeypatch):
    """Regression: prebuilt hits are features of the learned entities, so fitting
    ran the library's datetime model (~10-40 ms) on every training utterance.
    Features come from the fast hand-written recognizers, at fit and predict time;
    the prebuilt component itself still answers with the library."""
    from training.engine.entities.prebuilt import recognizers as rt
    from training.engine.types import Span

    calls = []
    original = rt.find

    def counting(kind, *args, **kwargs):
        calls.append(kind)
        return original(kind, *args, **kwargs)

    monkeypatch.setattr(rt, "find", counting)
    texts = ["fly to boston tomorrow", "fly to denver on friday"] * 5
    spans = [[Span("City", 7, 6)], [Span("City", 7, 6)]] * 5
    definition = EntityDefinition("When", prebuilts=("DateTime",))
    extractor = EntityExtractor.fit([definition], texts, spans)
    assert calls == []
    matches = extractor.predict("fly to boston from 3pm to 5pm", reference=NOW)
    assert calls == ["datetime"]
    [when] = [m for m in matches if m.category == "When"]
    assert when.text == "from 3pm to 5pm"
    assert when.resolutions[0]["resolutionKind"] == "TemporalSpanResolution"


SPEC_TEXTS = [
    "she is 30 years old and said yes",
    "send $20.50 or 30 egyptian pounds or 5 euros",
    "set it to 72 degrees fahrenheit or 300 kelvin or 70 degrees",
    "a 650 square kilometers park, two miles away, 2 liters, 10 megabytes, "
    "3 cubic millimeters, 2 deciliters",
    "drive at 35 km/h or 60 mph or 20 knots with 3 kg and 5 pounds",
    "from 3pm to 5pm, before tomorrow, since yesterday, every Monday, "
    "for 2 hours, next week, Monday, tomorrow at 7 PM",
    "the third, the last one, 10%, 3/4 and a dozen",
]


@pytest.mark.parametrize("text", SPEC_TEXTS)
def test_every_resolution_is_valid_in_azures_spec(text):
    """Each resolution object validates against the spec definition its
    resolutionKind names (unit enums, required fields, types)."""
    from tests.azure_spec import assert_matches_azure_definition

    categories = [entry["category"] for entry in PREBUILT_CATALOG]
    resolutions = [
        resolution
        for hits in recognize(text, categories, NOW).values()
        for hit in hits
        for resolution in hit.resolutions
    ]
    assert resolutions
    for resolution in resolutions:
        assert_matches_azure_definition(
            resolution, "analyzeconversations.json", resolution["resolutionKind"]
        )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("İstanbul: 3 kg", "3 kg"),  # "İ" lower-cases to two code points
        ("🙂 3 kg", "3 kg"),
        ("carry ３ kg", "３ kg"),  # full-width digit, read as 3
    ],
)
def test_library_offsets_map_back_to_the_original_text(text, found):
    """Regression: a text whose lower-cased copy is longer ("İstanbul") shifted
    every library result; they are mapped back to the original code points."""
    [(span, resolution)] = _hits(text, "Quantity.Weight")
    assert span == found
    assert resolution["value"] == 3
