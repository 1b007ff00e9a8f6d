"""``training.engine.clusters``: paraphrases grouped, unrelated texts apart, the
model's confidences pulling apart texts worded alike but predicted differently,
top terms, intent-name suggestions, and the input limits."""

from __future__ import annotations

import numpy as np
import pytest

from training.engine import clusters as cl

MAIL = [
    "send an email to bob",
    "send an email to carol",
    "send an email to dave",
    "send an email to erin",
]
LIGHTS = [
    "turn off the lights",
    "please turn off the lights",
    "turn off all the lights",
]
ODD = ["what is the capital of peru", "sing me a song"]


def groups(texts: list[str], found: list[cl.Cluster]) -> list[set[str]]:
    return [{texts[i] for i in c.members} for c in found]


def test_paraphrases_group_and_unrelated_texts_stay_out() -> None:
    texts = MAIL + LIGHTS + ODD

    found = cl.cluster_texts(texts)

    assert groups(texts, found) == [set(MAIL), set(LIGHTS)]  # largest first
    assert all(0.5 < c.cohesion <= 1.0 for c in found)
    assert "email" in " ".join(found[0].top_terms)
    assert "lights" in found[1].top_terms


def test_confidences_split_texts_worded_alike_but_predicted_apart() -> None:
    texts = [
        "cancel my card",
        "cancel my credit card",
        "cancel my card please",
        "cancel my transfer",
        "cancel my bank transfer",
        "cancel my transfer please",
    ]
    card, transfer = [1.0, 0.0], [0.0, 1.0]
    scores = np.array([card] * 3 + [transfer] * 3)

    with_scores = groups(texts, cl.cluster_texts(texts, scores=scores, scores_weight=1))

    assert set(texts[:3]) in with_scores and set(texts[3:]) in with_scores


def test_embeddings_join_the_features() -> None:
    texts = ["alpha beta", "gamma delta", "alpha gamma", "beta delta"]
    # The embeddings say 0~2 and 1~3, the words alone hardly anything.
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.05], [0.05, 1.0]])

    found = cl.cluster_texts(texts, embeddings=emb * 10, threshold=0.5)

    assert {frozenset(g) for g in groups(texts, found)} >= {
        frozenset({"alpha beta", "alpha gamma"}),
        frozenset({"gamma delta", "beta delta"}),
    }


def test_tiny_inputs() -> None:
    assert cl.cluster_texts([]) == []
    assert cl.cluster_texts(["only one"]) == []
    (pair,) = cl.cluster_texts(["turn off the lights", "turn off the lights now"])
    assert sorted(pair.members) == [0, 1]


def test_limits() -> None:
    with pytest.raises(ValueError, match="At most"):
        cl.cluster_texts(["x"] * (cl.MAX_TEXTS + 1))
    with pytest.raises(ValueError, match="threshold"):
        cl.cluster_texts(["a b", "a c"], threshold=0)


@pytest.mark.parametrize(
    ("terms", "taken", "expected"),
    [
        (["exchange rate", "rate", "euro"], [], "ExchangeRate"),
        (["lights", "off", "turn"], [], "LightsOff"),
        (["flight", "book"], [], "FlightBook"),
        (["lights", "off"], ["lightsoff"], "LightsOff2"),
        (["lights", "off"], ["LightsOff", "LightsOff2"], "LightsOff3"),
        ([], [], "NewIntent"),
    ],
)
def test_intent_name_suggestions(
    terms: list[str], taken: list[str], expected: str
) -> None:
    assert cl.suggest_intent_name(terms, taken) == expected


def test_a_suggestion_follows_the_word_order_of_an_example() -> None:
    name = cl.suggest_intent_name(["flight", "book"], example="Book a flight to Rome")

    assert name == "BookFlight"


def test_stop_words_stay_out_of_the_top_terms() -> None:
    texts = LIGHTS + MAIL

    found = cl.cluster_texts(texts, stop_words=frozenset({"the", "off", "all"}))

    lights = next(c for c in found if texts[c.members[0]] in LIGHTS)
    assert lights.top_terms[:2] == ["lights", "turn"]
