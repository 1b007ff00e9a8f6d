from __future__ import annotations

import time

import pytest
import regex

from training.engine.entities import EntityDefinition, EntityExtractor, RegexExpression
from training.engine.entities.regexes import RegexMatcher


def test_regex_match_returns_regex_key_and_pattern():
    definition = EntityDefinition(
        "Ticket", regex=(RegexExpression("ticketId", r"TK-\d{3,}"),)
    )
    extractor = EntityExtractor.fit([definition], [], [])
    [match] = extractor.predict("status of TK-1234 please")
    assert (match.text, match.offset, match.length) == ("TK-1234", 10, 7)
    assert match.extra_information == (
        {
            "extraInformationKind": "RegexKey",
            "key": "ticketId",
            "regexPattern": r"TK-\d{3,}",
        },
    )


def test_regex_expressions_apply_only_to_their_language():
    definition = EntityDefinition(
        "Postcode",
        regex=(
            RegexExpression("uk", r"[A-Z]{1,2}\d \d[A-Z]{2}", "en-gb"),
            RegexExpression("de", r"\b\d{5}\b", "de"),
        ),
    )
    extractor = EntityExtractor.fit([definition], [], [], language="en-gb")
    assert [m.text for m in extractor.predict("SW1 2AB or 10115")] == ["SW1 2AB"]
    assert [m.text for m in extractor.predict("SW1 2AB or 10115", language="de")] == [
        "10115"
    ]


def test_empty_matches_are_not_entities():
    definition = EntityDefinition("Digits", regex=(RegexExpression("d", r"\d*"),))
    extractor = EntityExtractor.fit([definition], [], [])
    assert [m.text for m in extractor.predict("a 12 b")] == ["12"]


EVIL = r"(a|aa)+$"


def test_the_evil_pattern_really_backtracks_past_the_limit():
    with pytest.raises(TimeoutError):
        regex.compile(EVIL).search("a" * 40 + "!", timeout=0.05)


def test_catastrophic_pattern_times_out_as_no_match():
    definition = EntityDefinition("Evil", regex=(RegexExpression("evil", EVIL),))
    matcher = RegexMatcher([definition], timeout=0.05)
    started = time.perf_counter()
    assert matcher.match("a" * 40 + "!", "en") == []
    assert time.perf_counter() - started < 2.0
    # The same matcher still finds what the pattern really matches.
    assert [(h.start, h.end) for h in matcher.match("aaa", "en")] == [(0, 3)]
