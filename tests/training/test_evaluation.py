from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import shared_data_dir, skip_or_fail
from training.engine.evaluation import (
    NONE_ENTITY,
    EvaluationError,
    calibration_report,
    cross_validate,
    evaluate_entities,
    evaluate_intents,
    evaluation_summary,
    threshold_report,
    utterance_result,
)
from training.engine.types import EntityMatch, Span


def _azure_example(name: str) -> dict[str, Any]:
    path = (
        shared_data_dir().parent
        / "reference/azure-specs/2023-04-01/examples/analyzeconversations-authoring"
        / name
    )
    if not path.exists():
        skip_or_fail(f"Azure example {path} is absent (shared reference missing)")
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return body["responses"]["200"]["body"]


# Azure's worked example (orchestration evaluation-metrics page).
WORKED_EXPECTED = ["CLUEmail", "CLUEmail", "Greeting", "Greeting"]
WORKED_PREDICTED = ["CLUEmail", "Greeting", "CLUEmail", "Greeting"]


def test_worked_example_gives_one_half_at_intent_and_model_level() -> None:
    evaluation = evaluate_intents(WORKED_EXPECTED, WORKED_PREDICTED)
    for label in ("CLUEmail", "Greeting"):
        metrics = evaluation.per_label[label]
        assert (metrics.tp, metrics.fp, metrics.fn) == (1, 1, 1)
        assert metrics.precision == metrics.recall == metrics.f1 == 0.5
    assert evaluation.micro_precision == 0.5
    assert evaluation.micro_recall == 0.5
    assert evaluation.micro_f1 == 0.5
    assert evaluation.macro_f1 == 0.5
    assert evaluation.accuracy == 0.5


def test_intent_true_negatives_are_one_vs_rest() -> None:
    expected = ["a", "a", "b", "c", "c", "c"]
    predicted = ["a", "b", "b", "c", "a", "c"]
    evaluation = evaluate_intents(expected, predicted)
    a = evaluation.per_label["a"]
    assert (a.tp, a.fp, a.fn, a.tn) == (1, 1, 1, 3)
    for metrics in evaluation.per_label.values():
        assert metrics.tp + metrics.fp + metrics.fn + metrics.tn == len(expected)


def test_confusion_matrix_is_sparse_with_row_percentages() -> None:
    expected = ["a", "a", "a", "a", "b"]
    predicted = ["a", "a", "a", "b", "b"]
    azure = evaluate_intents(expected, predicted).to_azure()
    assert azure["confusionMatrix"] == {
        "a": {
            "a": {"normalizedValue": 75.0, "rawValue": 3.0},
            "b": {"normalizedValue": 25.0, "rawValue": 1.0},
        },
        "b": {"b": {"normalizedValue": 100.0, "rawValue": 1.0}},
    }


def test_macro_averages_per_label_scores_while_micro_pools_counts() -> None:
    # "big" is always right (9/9); "small" is never predicted (0/1).
    expected = ["big"] * 9 + ["small"]
    predicted = ["big"] * 10
    evaluation = evaluate_intents(expected, predicted)
    assert evaluation.micro_precision == pytest.approx(0.9)
    assert evaluation.micro_recall == pytest.approx(0.9)
    big_f1 = 2 * 0.9 * 1.0 / 1.9
    assert evaluation.macro_f1 == pytest.approx((big_f1 + 0.0) / 2)
    assert evaluation.macro_recall == pytest.approx(0.5)


def test_listed_labels_absent_from_test_set_are_reported_but_not_averaged() -> None:
    evaluation = evaluate_intents(["a", "b"], ["a", "b"], labels=["b", "a", "z"])
    assert evaluation.labels == ("b", "a", "z")
    z = evaluation.per_label["z"]
    assert (z.tp, z.fp, z.fn, z.tn) == (0, 0, 0, 2)
    assert evaluation.macro_f1 == 1.0


def test_unlisted_predicted_label_is_still_reported() -> None:
    evaluation = evaluate_intents(["a", "b"], ["a", "None"], labels=["a", "b"])
    assert evaluation.labels == ("a", "b", "None")
    assert evaluation.per_label["None"].fp == 1


def test_intent_lists_of_different_lengths_are_refused() -> None:
    with pytest.raises(EvaluationError, match="2 expected intents but 1"):
        evaluate_intents(["a", "b"], ["a"])


def _span(category: str, text: str, part: str) -> Span:
    return Span(category, text.index(part), len(part))


def test_documentation_entity_example_counts() -> None:
    # CLU evaluation-metrics page: "mike" labelled contactName, predicted message.
    t1 = 'Make a response with "thank you very much"'
    t2 = 'Reply with saying "yes"'
    t4 = "Email to Cynthia that dinner last week was splendid"
    t5 = "Send an email to Mike"
    expected = [
        [_span("message", t1, "thank you very much")],
        [_span("message", t2, "yes")],
        [
            _span("contactName", t4, "Cynthia"),
            _span("message", t4, "dinner last week was splendid"),
        ],
        [_span("contactName", t5, "Mike")],
    ]
    predicted = [
        [_span("message", t1, "thank you very much")],
        [],
        [
            _span("contactName", t4, "Cynthia"),
            _span("message", t4, "dinner last week was splendid"),
        ],
        [_span("message", t5, "Mike")],
    ]
    evaluation = evaluate_entities(expected, predicted)
    contact = evaluation.per_label["contactName"]
    message = evaluation.per_label["message"]
    assert (contact.tp, contact.fp, contact.fn, contact.tn) == (1, 0, 1, 0)
    assert (message.tp, message.fp, message.fn, message.tn) == (2, 1, 1, 0)
    assert contact.f1 == pytest.approx(2 / 3)
    assert message.precision == pytest.approx(2 / 3)
    assert evaluation.confusion["contactName"] == {"contactName": 1.0, "message": 1.0}
    assert evaluation.confusion["message"] == {"message": 2.0, NONE_ENTITY: 1.0}


def test_partial_overlap_gives_fractional_confusion_and_counts_as_miss() -> None:
    text = "remind me to buy milk and eggs"
    expected = [[_span("Item", text, "milk and eggs")]]  # 13 characters
    predicted = [[_span("Item", text, "milk")]]  # 4 of them
    evaluation = evaluate_entities(expected, predicted)
    item = evaluation.per_label["Item"]
    assert (item.tp, item.fp, item.fn) == (0, 1, 1)
    row = evaluation.confusion["Item"]
    assert row["Item"] == pytest.approx(4 / 13)
    assert row[NONE_ENTITY] == pytest.approx(9 / 13)
    # The prediction lies wholly inside the expected entity: nothing spurious.
    assert NONE_ENTITY not in evaluation.confusion
    normalized = evaluation.normalized_confusion()["Item"]
    assert normalized["Item"] + normalized[NONE_ENTITY] == pytest.approx(100.0)


def test_spurious_and_missed_entities_use_the_none_pseudo_label() -> None:
    text = "call bob at noon"
    expected = [[_span("Name", text, "bob")]]
    predicted = [[_span("Time", text, "noon")]]
    evaluation = evaluate_entities(expected, predicted, texts=[text])
    assert evaluation.confusion["Name"] == {NONE_ENTITY: 1.0}
    # "call" and "at" are the only tokens no entity touches.
    assert evaluation.confusion[NONE_ENTITY] == {"Time": 1.0, NONE_ENTITY: 2.0}
    assert evaluation.per_label["Name"].tn == 0
    azure = evaluation.to_azure()
    assert azure["confusionMatrix"][NONE_ENTITY][NONE_ENTITY] == {
        "normalizedValue": pytest.approx(200 / 3),
        "rawValue": 2.0,
    }


def test_entity_matches_are_accepted_as_predictions() -> None:
    text = "fly to Paris"
    match = EntityMatch("City", 7, 5, "Paris", confidence=0.9)
    evaluation = evaluate_entities([[_span("City", text, "Paris")]], [[match]])
    assert evaluation.per_label["City"].tp == 1


def test_duplicate_predictions_only_match_once() -> None:
    span = Span("City", 0, 5)
    evaluation = evaluate_entities([[span]], [[span, span]])
    city = evaluation.per_label["City"]
    assert (city.tp, city.fp, city.fn) == (1, 1, 0)


def test_entity_span_with_zero_length_is_refused() -> None:
    with pytest.raises(EvaluationError, match="utterance 0: predicted entity 'X'"):
        evaluate_entities([[]], [[Span("X", 3, 0)]])


def test_official_summary_example_micro_and_macro_from_its_counts() -> None:
    example = _azure_example("SuccessfulGetModelEvaluationSummary.json")
    entities = example["entitiesEvaluation"]
    # One utterance per count: exact hits, misses far left, spurious far right.
    expected: list[list[Span]] = []
    predicted: list[list[Span]] = []
    for category, counts in entities["entities"].items():
        for _ in range(counts["truePositiveCount"]):
            expected.append([Span(category, 0, 4)])
            predicted.append([Span(category, 0, 4)])
        for _ in range(counts["falseNegativeCount"]):
            expected.append([Span(category, 0, 4)])
            predicted.append([])
        for _ in range(counts["falsePositiveCount"]):
            expected.append([])
            predicted.append([Span(category, 10, 4)])
    evaluation = evaluate_entities(expected, predicted)
    ours = evaluation.to_azure()
    for key in (
        "microF1",
        "microPrecision",
        "microRecall",
        "macroF1",
        "macroPrecision",
        "macroRecall",
    ):
        assert ours[key] == pytest.approx(entities[key], abs=1e-6), key
    for category, counts in entities["entities"].items():
        for key in ("f1", "precision", "recall"):
            assert ours["entities"][category][key] == pytest.approx(
                counts[key], abs=1e-6
            )


def test_official_summary_intent_counts_follow_from_the_diagonal() -> None:
    example = _azure_example("SuccessfulGetModelEvaluationSummary.json")
    intents = example["intentsEvaluation"]
    expected: list[str] = []
    predicted: list[str] = []
    for truth, row in intents["confusionMatrix"].items():
        for guess, cell in row.items():
            count = int(cell["rawValue"])
            expected.extend([truth] * count)
            predicted.extend([guess] * count)
    ours = evaluate_intents(expected, predicted).to_azure()
    assert ours["intents"] == intents["intents"]
    assert ours["confusionMatrix"] == intents["confusionMatrix"]


def _keys(value: object, depth: int) -> object:
    if not isinstance(value, dict) or depth == 0:
        return type(value).__name__
    return {key: _keys(item, depth - 1) for key, item in value.items()}


def test_summary_has_the_official_example_shape() -> None:
    example = _azure_example("SuccessfulGetModelEvaluationSummary.json")
    intents = evaluate_intents(["Cancel", "Cancel"], ["Cancel", "Cancel"])
    entities = evaluate_entities([[Span("Date", 0, 3)]], [[Span("Date", 0, 3)]])
    options = {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
        "testingSplitPercentage": 20,
    }
    summary = evaluation_summary(intents, entities, options)
    assert set(summary) == set(example)
    for section in ("intentsEvaluation", "entitiesEvaluation"):
        assert set(summary[section]) == set(example[section])
    assert set(summary["intentsEvaluation"]["intents"]["Cancel"]) == set(
        example["intentsEvaluation"]["intents"]["Cancel"]
    )
    cell = summary["entitiesEvaluation"]["confusionMatrix"]["Date"]["Date"]
    assert set(cell) == {"normalizedValue", "rawValue"}
    assert summary["evaluationOptions"] == example["evaluationOptions"]
    json.dumps(summary)


def test_summary_without_entities_has_empty_entity_section() -> None:
    summary = evaluation_summary(
        evaluate_intents(["a"], ["a"]), None, {"kind": "manual"}
    )
    entities = summary["entitiesEvaluation"]
    assert entities["confusionMatrix"] == {}
    assert entities["entities"] == {}
    assert entities["microF1"] == entities["macroRecall"] == 0.0


def test_utterance_result_has_the_official_example_shape() -> None:
    example = _azure_example("SuccessfulGetModelEvaluation.json")
    official = example["value"][1]
    ours = utterance_result(
        "send a mail to daniel",
        "en-us",
        "SendEmail",
        "SendEmail",
        [Span("ContactName", 15, 6)],
        [EntityMatch("ContactName", 15, 6, "daniel")],
    )
    assert ours == official


def _keyword_fit_predict(
    train_texts: list[str], train_labels: list[str], test_texts: list[str]
) -> list[str]:
    vocabulary: dict[str, str] = {}
    for text, label in zip(train_texts, train_labels, strict=True):
        for word in text.split():
            vocabulary.setdefault(word, label)
    fallback = max(set(train_labels), key=train_labels.count)
    return [
        next((vocabulary[w] for w in text.split() if w in vocabulary), fallback)
        for text in test_texts
    ]


def test_cross_validation_predicts_every_utterance_once() -> None:
    texts = [f"weather in city{i}" for i in range(6)] + [
        f"play song{i}" for i in range(6)
    ]
    labels = ["Weather"] * 6 + ["Music"] * 6
    result = cross_validate(texts, labels, k=3, fit_predict=_keyword_fit_predict)
    assert [fold["testSize"] for fold in result["folds"]] == [4, 4, 4]
    assert result["pooled"]["accuracy"] == 1.0
    assert result["mean"]["macroF1"] == 1.0
    assert result["std"]["accuracy"] == 0.0
    pooled = result["pooled"]["intents"]
    assert (
        sum(m["truePositiveCount"] + m["falseNegativeCount"] for m in pooled.values())
        == 12
    )


def test_cross_validation_reports_errors_of_an_unseen_label() -> None:
    # "Rare" has one example: the fold holding it trains without it.
    texts = ["weather now", "weather today", "weather later", "odd thing"]
    labels = ["Weather", "Weather", "Weather", "Rare"]
    result = cross_validate(texts, labels, k=2, fit_predict=_keyword_fit_predict)
    assert result["pooled"]["intents"]["Rare"]["falseNegativeCount"] == 1
    assert result["pooled"]["accuracy"] == 0.75


def test_cross_validation_refuses_wrong_prediction_count() -> None:
    with pytest.raises(EvaluationError, match="fold 0: fit_predict returned 0"):
        cross_validate(
            ["a", "b", "c", "d"],
            ["x", "x", "y", "y"],
            k=2,
            fit_predict=lambda train, labels, test: [],
        )


def test_calibration_report_of_perfectly_calibrated_bins_has_zero_ece() -> None:
    # 0.85-confident utterances right 85% of the time: perfectly calibrated.
    report = calibration_report([0.85] * 20, [True] * 17 + [False] * 3)
    assert report["expectedCalibrationError"] == pytest.approx(0.0)
    assert report["accuracy"] == pytest.approx(0.85)
    assert report["runnerUpMass"] == pytest.approx(0.15)
    assert [b["count"] for b in report["bins"]] == [0] * 8 + [20, 0]


def test_calibration_report_weighs_each_bin_by_its_utterances() -> None:
    # 10 at 0.95 all right (gap 0.05), 10 at 0.55 none right (gap 0.55).
    report = calibration_report([0.95] * 10 + [0.55] * 10, [True] * 10 + [False] * 10)
    assert report["expectedCalibrationError"] == pytest.approx((0.05 + 0.55) / 2)
    top = report["bins"][9]
    assert top == {
        "lowerBound": 0.9,
        "upperBound": 1.0,
        "count": 10,
        "accuracy": 1.0,
        "averageConfidence": pytest.approx(0.95),
    }
    assert report["bins"][5]["accuracy"] == 0.0
    # A confidence of exactly 1 belongs to the last bin.
    assert calibration_report([1.0], [True])["bins"][9]["count"] == 1


def test_calibration_report_of_no_utterances_is_zero_and_rejects_mismatch() -> None:
    empty = calibration_report([], [])
    assert empty["expectedCalibrationError"] == 0.0
    assert empty["utteranceCount"] == 0
    with pytest.raises(EvaluationError):
        calibration_report([0.5], [])


def test_threshold_report_answers_as_the_runtime_with_and_without_own_thresholds() -> (
    None
):
    expected = ["Pay", "Pay", "Card", "None", "None", "Card"]
    top = ["Pay", "Pay", "Card", "Pay", "Card", "Pay"]
    confidences = [0.9, 0.6, 0.35, 0.7, 0.2, 0.95]
    single = threshold_report(expected, top, confidences, threshold=0.5)
    # In scope: Pay 0.9 and 0.6 answered right, Card 0.35 refused, Card->Pay wrong.
    assert single["inScopeAccuracy"] == pytest.approx(2 / 4)
    assert single["oosRecall"] == pytest.approx(1 / 2)  # "None" at 0.7 answered Pay
    assert single["oosPrecision"] == pytest.approx(1 / 2)  # refused: Card 0.35, 0.2
    own = threshold_report(
        expected,
        top,
        confidences,
        threshold=0.5,
        per_intent={"Pay": 0.8, "Card": 0.3},
    )
    # Pay now needs 0.8: 0.6 (right) and 0.7 (out of scope) are refused; Card
    # 0.35 is answered; the out-of-scope Card at 0.2 stays refused.
    assert own["inScopeAccuracy"] == pytest.approx(2 / 4)
    assert own["oosRecall"] == pytest.approx(2 / 2)
    assert own["oosPrecision"] == pytest.approx(2 / 3)
    assert own["refusedCount"] == 3 and own["oosCount"] == 2


def test_threshold_report_without_out_of_scope_utterances_says_so() -> None:
    report = threshold_report(["A"], ["A"], [0.9], threshold=0.5)
    assert report["inScopeAccuracy"] == 1.0
    assert report["oosRecall"] is None and report["oosPrecision"] is None
    with pytest.raises(EvaluationError, match="pair up"):
        threshold_report(["A"], ["A", "B"], [0.9], threshold=0.5)
