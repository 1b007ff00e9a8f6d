"""The review queue's ranking signals (training/engine/review.py), on predictions in
the shapes the runtime logs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from training.engine.review import (
    Ranking,
    normalize,
    signals,
    spread_confusions,
    teach_score,
)


def clu(*scores: tuple[str, float], top: str | None = None, **extra: Any) -> Any:
    intents = [{"category": n, "confidenceScore": c} for n, c in scores]
    return {
        "projectKind": "Conversation",
        "topIntent": top or scores[0][0],
        "intents": intents,
        **extra,
    }


def test_normalize_ignores_case_punctuation_width_and_spacing() -> None:
    assert normalize("  Hello,   THERE!! ") == normalize("hello there") == "hello there"
    assert normalize("Ｈｅｌｌｏ") == "hello"  # full-width
    assert normalize("Grüße, Zürich") == normalize("GRÜSSE zürich") == "grüsse zürich"


def test_an_unsure_close_call_outranks_a_sure_answer() -> None:
    sure = signals(clu(("Book", 0.95), ("Cancel", 0.05)))
    close = signals(clu(("Book", 0.51), ("Cancel", 0.49)))

    assert close.margin < 0.05 and "close to Cancel" in close.reasons
    assert teach_score(close) > teach_score(sure)


def test_routed_to_none_and_unsure_entities_add_to_the_score() -> None:
    plain = signals(clu(("Book", 0.4), ("Cancel", 0.3)))
    none = signals(clu(("Book", 0.4), ("Cancel", 0.3), top="None"))
    entity = signals(
        clu(
            ("Book", 0.4),
            ("Cancel", 0.3),
            entities=[{"category": "City", "confidenceScore": 0.2}],
        )
    )

    assert none.routed_none and "routed to None" in none.reasons
    assert entity.unsure_entities == ("City",)
    assert teach_score(none) > teach_score(plain)
    assert teach_score(entity) > teach_score(plain)


def test_an_orchestration_target_that_disagrees_with_the_router() -> None:
    def orch(target_top: str, target_score: float) -> Any:
        return {
            "projectKind": "Orchestration",
            "topIntent": "Mail",
            "intents": {
                "Mail": {
                    "targetProjectKind": "Conversation",
                    "confidenceScore": 0.8,
                    "result": {
                        "query": "q",
                        "prediction": clu((target_top, target_score)),
                    },
                },
                "Faq": {
                    "targetProjectKind": "QuestionAnswering",
                    "confidenceScore": 0.2,
                },
            },
        }

    agrees = signals(orch("SendEmail", 0.9))
    disagrees = signals(orch("None", 0.9))
    unsure = signals(orch("SendEmail", 0.2))

    assert agrees.top_intent == "Mail" and agrees.second_intent == "Faq"
    assert not agrees.disagreement
    assert disagrees.disagreement and unsure.disagreement
    assert teach_score(disagrees) > teach_score(agrees)


def test_a_knowledge_base_without_a_confident_answer_disagrees() -> None:
    prediction = {
        "topIntent": "Faq",
        "intents": {
            "Faq": {
                "confidenceScore": 0.9,
                "result": {"answers": [{"answer": "x", "confidenceScore": 0.1}]},
            }
        },
    }
    assert signals(prediction).disagreement


def test_frequent_queries_weigh_more_and_broken_predictions_do_not_fail() -> None:
    s = signals(clu(("Book", 0.6), ("Cancel", 0.4)))
    assert teach_score(s, count=10) > teach_score(s, count=1)
    empty = signals({})
    assert empty.confidence == 0.0 and empty.top_intent == ""
    assert signals({"intents": "garbage", "entities": [1, None]}).confidence == 0.0


def test_the_ratio_margin_ignores_a_calibration_temperature() -> None:
    # Scores 2 and 1 (or 5 and 4.5) apart at temperatures 1 and 0.5: p2 / p1 is
    # exp(-gap / T), so the order of two queries by ratio never depends on T.
    def softmax_pair(gap: float, temperature: float) -> Any:
        second = math.exp(-gap / temperature)
        total = 1.0 + second + 1e-9
        return signals(clu(("A", 1.0 / total), ("B", second / total)))

    ratio = Ranking(margin="ratio")
    for temperature in (1.0, 0.5, 0.1):
        near = softmax_pair(0.5, temperature)
        far = softmax_pair(1.0, temperature)
        assert teach_score(near, ranking=ratio) > teach_score(far, ranking=ratio)
    tie = signals(clu(("A", 0.5), ("B", 0.5)))
    assert teach_score(tie, ranking=ratio) == teach_score(
        tie, ranking=Ranking(margin="difference")
    )


def test_a_pair_cap_lets_other_confusions_in_before_more_of_one() -> None:
    ranked = [
        signals(clu(("Book", 0.5), ("Cancel", 0.49))),
        signals(clu(("Cancel", 0.5), ("Book", 0.48))),  # same confusion
        signals(clu(("Book", 0.5), ("Cancel", 0.47))),
        signals(clu(("Pay", 0.5), ("Refund", 0.4))),
        signals(clu(("Book", 0.5), ("Pay", 0.3))),
    ]

    assert spread_confusions(ranked, ranking=Ranking()) == [0, 1, 2, 3, 4]
    assert spread_confusions(ranked, ranking=Ranking(pair_cap=2)) == [0, 1, 3, 4, 2]
    assert spread_confusions(ranked, ranking=Ranking(pair_cap=1)) == [0, 3, 4, 1, 2]
    assert spread_confusions([], ranking=Ranking(pair_cap=1)) == []


def test_a_ranking_refuses_unknown_settings() -> None:
    with pytest.raises(ValueError, match="margin"):
        Ranking(margin="entropy")
    with pytest.raises(ValueError, match="pair_cap"):
        Ranking(pair_cap=-1)
