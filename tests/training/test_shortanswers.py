"""Question types, stemming and typed short-answer spans (engine/shortanswers.py)."""

from __future__ import annotations

import time

import pytest

from training.engine.shortanswers import (
    DURATION,
    PERSON,
    PLACE,
    QUANTITY,
    TIME,
    question_type,
    stem,
    typed_span,
)


@pytest.mark.parametrize(
    ("words", "key"),
    [
        (("charge", "charging", "charges", "charged"), "charg"),
        (("take", "takes", "taking"), "tak"),
        (("battery", "batteries"), "battery"),
        (("day", "days"), "day"),
        (("run", "running"), "run"),
        (("class", "classes"), "class"),
    ],
)
def test_stem_maps_inflections_to_one_key(words: tuple[str, ...], key: str) -> None:
    assert {stem(word) for word in words} == {key}


def test_stem_leaves_short_and_non_english_tokens_alone() -> None:
    assert stem("usb") == "usb"
    assert stem("größe") == "größe"
    assert stem("4k") == "4k"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How long does delivery take?", DURATION),
        ("How soon will my order arrive?", DURATION),
        ("how many days until my refund arrives", DURATION),
        ("How much time do I have to return it?", DURATION),
        ("How much does the premium plan cost?", QUANTITY),
        ("how many users can share an account", QUANTITY),
        ("What is the price of a day pass?", QUANTITY),
        ("When is the office open?", TIME),
        ("What time does the shop close?", TIME),
        ("Who signs the contract?", PERSON),
        ("Where is the fuse box?", PLACE),
        ("Can I pay by card?", None),
    ],
)
def test_question_type_reads_english_cues(question: str, kind: str | None) -> None:
    assert question_type(question).kind == kind


def test_question_type_is_none_outside_english() -> None:
    assert question_type("How long does it take?", "fr").kind is None


def _span(sentence: str, kind: str, terms: set[str]) -> str | None:
    found = typed_span(sentence, kind, frozenset(terms))
    return None if found is None else sentence[found[0] : found[1]]


@pytest.mark.parametrize(
    ("sentence", "kind", "terms", "expected"),
    [
        (
            "The warranty lasts two years from purchase.",
            DURATION,
            {"warranti"},
            "two years",
        ),
        (
            "Delivery takes 3-5 business days.",
            DURATION,
            {"deliveri"},
            "3-5 business days",
        ),
        ("It has 16 GB of RAM.", QUANTITY, {"ram"}, "16 GB"),
        ("Shipping is free above €50 in the EU.", QUANTITY, {"ship"}, "€50"),
        ("Discounts reach 20% in January.", QUANTITY, {"discount"}, "20%"),
        (
            "The office is open from 8:30 to 17:00.",
            TIME,
            {"offic", "open"},
            "from 8:30 to 17:00",
        ),
        (
            "Invoices are sent on 1 March 2025.",
            TIME,
            {"invoic", "sent"},
            "1 March 2025",
        ),
        (
            "Payroll runs on the last Friday of each month.",
            TIME,
            {"payroll", "run"},
            "the last Friday of each month",
        ),
        (
            "Salaries are paid on the 25th of each month.",
            TIME,
            {"paid"},
            "the 25th of each month",
        ),
        (
            "The contract is signed by the head of sales.",
            PERSON,
            {"contract", "sign"},
            "the head of sales",
        ),
        (
            "The fuse box is under the stairs, next to the boiler.",
            PLACE,
            {"fus", "box"},
            "under the stairs",
        ),
    ],
)
def test_typed_span_finds_the_short_answer(
    sentence: str, kind: str, terms: set[str], expected: str
) -> None:
    assert _span(sentence, kind, terms) == expected


def test_typed_span_ignores_candidates_that_only_repeat_the_question() -> None:
    assert _span("We are open on Saturdays.", TIME, {"open", "saturday"}) is None
    assert _span("Ask Support about it.", PERSON, {"ask", "support"}) is None


def test_typed_span_does_not_take_a_model_number_for_an_amount() -> None:
    assert (
        _span("Plug it into the Surface Pro 4 power supply.", QUANTITY, {"plug"})
        is None
    )
    assert _span("Windows 11 needs 4 GB of memory.", QUANTITY, {"memory"}) == "4 GB"
    assert _span("Over 20 people came.", QUANTITY, {"came"}) == "Over 20 people"


def test_typed_span_is_fast_on_a_long_unpunctuated_sentence() -> None:
    sentence = " ".join(["put it in the box on the shelf under the desk"] * 400)
    started = time.perf_counter()
    for kind in (DURATION, QUANTITY, TIME, PERSON, PLACE):
        typed_span(sentence, kind, frozenset({"box"}))
    assert time.perf_counter() - started < 2.0
