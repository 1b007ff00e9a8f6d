from __future__ import annotations

from training.engine.entities import EntityDefinition, EntityExtractor, ListSublist
from training.engine.entities.tokens import tokenize
from training.engine.text import normalize


def _extractor(*definitions: EntityDefinition, language: str = "en") -> EntityExtractor:
    return EntityExtractor.fit(definitions, [], [], language=language)


CITY = EntityDefinition(
    "City",
    list_sublists=(
        ListSublist("sea", {"en-us": ("Seattle", "SEA")}),
        ListSublist("nyc", {"en": ("New York", "New York City")}),
        ListSublist("zurich", {"": ("Zürich",)}),
        ListSublist("muenchen", {"de": ("München",)}),
    ),
)


def test_tokenize_keeps_exact_code_point_offsets():
    text = "Zoë 👍🏽 e\u0301te 北京!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["Zoë", "👍🏽", "e\u0301te", "北", "京", "!"]
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_normalize_folds_case_and_diacritics():
    assert normalize("ZÜRICH") == normalize("zurich") == "zurich"
    assert normalize("Straße") == "strasse"


def test_list_match_is_case_and_diacritics_insensitive_and_returns_list_key():
    extractor = _extractor(CITY)
    [match] = extractor.predict("fly to ZURICH tomorrow")
    assert (match.category, match.text, match.offset) == ("City", "ZURICH", 7)
    assert match.extra_information == (
        {"extraInformationKind": "ListKey", "key": "zurich"},
    )


def test_list_prefers_the_longest_synonym():
    [match] = _extractor(CITY).predict("New York City is big")
    assert match.text == "New York City"
    assert match.extra_information[0]["key"] == "nyc"


def test_list_matches_only_on_token_boundaries():
    assert _extractor(CITY).predict("the seaside and seattles") == []
    assert [m.text for m in _extractor(CITY).predict("sea, Seattle.")] == [
        "sea",
        "Seattle",
    ]


def test_list_synonyms_apply_only_to_their_language():
    extractor = _extractor(CITY, language="en-us")
    assert extractor.predict("nach München") == []
    assert [m.text for m in extractor.predict("nach München", language="de")] == [
        "München"
    ]
    # An "en" query uses "en-us" synonyms: the primary subtags agree.
    assert [m.text for m in extractor.predict("to SEA", language="en")] == ["SEA"]
    # "" synonyms serve every language.
    assert [m.text for m in extractor.predict("nach Zürich", language="de")] == [
        "Zürich"
    ]


def test_two_entities_listing_the_same_word_both_match():
    other = EntityDefinition(
        "Airport", list_sublists=(ListSublist("SEA-TAC", {"": ("SEA",)}),)
    )
    found = {(m.category, m.text) for m in _extractor(CITY, other).predict("to SEA")}
    assert found == {("City", "SEA"), ("Airport", "SEA")}
