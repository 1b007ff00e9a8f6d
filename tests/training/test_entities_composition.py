from __future__ import annotations

import pytest

from training.engine.entities import (
    EntityDefinition,
    EntityDefinitionError,
    EntityExtractor,
    ListSublist,
    RegexExpression,
    validate_definitions,
)
from training.engine.entities.compose import ComponentMatch, compose
from training.engine.types import Span

TEXT = "I want to buy Proseware OS 9 today"
LIST = ComponentMatch(
    "list", 14, 26, extra_information=({"extraInformationKind": "ListKey", "key": "p"},)
)  # "Proseware OS"
LEARNED = ComponentMatch("learned", 24, 28, confidence=0.8)  # "OS 9"
REGEX = ComponentMatch(
    "regex",
    27,
    28,
    extra_information=(
        {"extraInformationKind": "RegexKey", "key": "v", "regexPattern": r"\d"},
    ),
)  # "9"
ALL = frozenset({"learned", "list", "regex"})


def _compose(setting, matches, required=(), defined=ALL):
    return compose(
        category="Software",
        text=TEXT,
        matches=matches,
        setting=setting,
        required=frozenset(required),
        defined=defined,
    )


def test_combine_components_returns_the_union_with_every_key():
    [entity] = _compose("combineComponents", [LIST, LEARNED, REGEX])
    assert entity.text == "Proseware OS 9"
    assert (entity.offset, entity.length) == (14, 14)
    assert [x["extraInformationKind"] for x in entity.extra_information] == [
        "ListKey",
        "RegexKey",
    ]


def test_separate_components_returns_each_match():
    entities = _compose("separateComponents", [LIST, LEARNED, REGEX])
    assert sorted(e.text for e in entities) == ["9", "OS 9", "Proseware OS"]
    listed = next(e for e in entities if e.text == "Proseware OS")
    assert listed.extra_information == LIST.extra_information


def test_return_longest_overlap_keeps_the_longest_match_only():
    [entity] = _compose("returnLongestOverlap", [LIST, LEARNED, REGEX])
    assert entity.text == "Proseware OS"
    assert entity.extra_information == LIST.extra_information


def test_require_exact_overlap_needs_every_defined_component_on_the_same_span():
    same_list = ComponentMatch("list", 24, 28)
    same_regex = ComponentMatch("regex", 24, 28)
    assert _compose("requireExactOverlap", [LIST, LEARNED, REGEX]) == []
    [entity] = _compose("requireExactOverlap", [same_list, LEARNED, same_regex])
    assert entity.text == "OS 9"


def test_required_components_drop_groups_missing_one():
    assert _compose("combineComponents", [LIST], required=("learned",)) == []
    [entity] = _compose("combineComponents", [LIST, LEARNED], required=("learned",))
    assert entity.text == "Proseware OS 9"


def test_non_overlapping_matches_stay_separate_entities_when_combining():
    far = ComponentMatch("list", 0, 1)
    entities = _compose("combineComponents", [far, LEARNED])
    assert [e.text for e in entities] == ["I", "OS 9"]


def test_ticket_quantity_example_from_azure_docs():
    # Prebuilt numbers everywhere, but only the labelled position is a ticket count.
    definition = EntityDefinition(
        "TicketQuantity",
        prebuilts=("Quantity.Number",),
        required_components=("learned", "prebuilts"),
    )
    texts = [
        "Book two tickets tomorrow to Cairo at 3 PM",
        "book 4 tickets to Paris at 5",
        "I need three tickets to Rome",
        "reserve 2 tickets for flight 7",
        "get me five tickets please",
        "buy 6 tickets at 9",
    ]
    labels = [
        [Span("TicketQuantity", 5, 3)],
        [Span("TicketQuantity", 5, 1)],
        [Span("TicketQuantity", 7, 5)],
        [Span("TicketQuantity", 8, 1)],
        [Span("TicketQuantity", 7, 4)],
        [Span("TicketQuantity", 4, 1)],
    ]
    extractor = EntityExtractor.fit([definition], texts, labels)
    found = extractor.predict("book 3 tickets to Oslo at 8")
    assert [(m.text, m.resolutions[0]["value"]) for m in found] == [("3", 3)]


def test_fit_refuses_invalid_definitions_naming_every_problem():
    definitions = [
        EntityDefinition("A", composition_setting="unionOverlap"),
        EntityDefinition("B", prebuilts=("Number", "Person.Name")),
        EntityDefinition("C", regex=(RegexExpression("k", "(unclosed"),)),
        EntityDefinition("D", required_components=("learned", "lists")),
        EntityDefinition("E", required_components=("regex",)),
        EntityDefinition("F", list_sublists=(ListSublist("", {"": ("x",)}),)),
        EntityDefinition("A"),
    ]
    problems = validate_definitions(definitions)
    targets = [p.target for p in problems]
    assert targets == [
        "entities[0].compositionSetting",
        "entities[1].prebuilts[1]",
        "entities[2].regex.expressions[0].regexPattern",
        "entities[3].requiredComponents",
        "entities[4].requiredComponents",
        "entities[5].list.sublists[0]",
        "entities[6]",
    ]
    assert all(p.code == "InvalidArgument" for p in problems)
    with pytest.raises(EntityDefinitionError) as caught:
        EntityExtractor.fit(definitions, [], [])
    assert len(caught.value.problems) == len(problems)


def test_fit_refuses_spans_outside_their_text():
    with pytest.raises(EntityDefinitionError, match="does not fit"):
        EntityExtractor.fit([], ["short"], [[Span("X", 3, 10)]])
    with pytest.raises(ValueError, match="pair up"):
        EntityExtractor.fit([], ["a", "b"], [[]])


def test_valid_definitions_have_no_problems():
    definition = EntityDefinition(
        "City",
        composition_setting="separateComponents",
        list_sublists=(ListSublist("sea", {"en": ("Seattle",)}),),
        prebuilts=("DateTime",),
        regex=(RegexExpression("zip", r"\d{5}"),),
        required_components=("learned", "list"),
    )
    assert validate_definitions([definition]) == []
