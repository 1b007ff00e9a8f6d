from __future__ import annotations

import json
from pathlib import Path

from bench import entities
from tests.conftest import require_shared_data
from training.engine.types import Span


def test_micro_scores_count_only_exact_spans_each_once() -> None:
    expected = [[Span("A", 0, 3), Span("A", 0, 3)], [Span("B", 4, 2)]]
    # A span expected twice but predicted once matches once; a span off by one
    # character is a miss and a false alarm.
    predicted = [[Span("A", 0, 3)], [Span("B", 4, 3), Span("C", 0, 1)]]
    scores = entities.micro_prf(expected, predicted)
    # tp=1, fp=2, fn=2
    assert scores == {"precision": 33.33, "recall": 33.33, "f1": 33.33}


def test_micro_scores_are_zero_when_nothing_is_predicted() -> None:
    scores = entities.micro_prf([[Span("A", 0, 1)]], [[]])
    assert scores == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_sample_offsets_are_converted_from_utf16_to_code_points(
    tmp_path: Path,
) -> None:
    text = "\U0001f600 call Bob"  # the emoji is two UTF-16 code units
    project = {
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {"language": "en-us"},
        "assets": {
            "entities": [{"category": "Name"}],
            "utterances": [
                {
                    "text": text,
                    "intent": "Call",
                    "entities": [{"category": "Name", "offset": 8, "length": 3}],
                },
                {"text": "hola", "language": "es"},
            ],
        },
    }
    path = tmp_path / "sample.json"
    path.write_text(json.dumps(project), encoding="utf-8")
    _, texts, spans, intents, languages = entities.load_sample(path)
    assert texts == [text, "hola"]
    assert spans == [[Span("Name", 7, 3)], []]
    assert text[7:10] == "Bob"
    assert intents == ["Call", "None"]
    assert languages == ["en-us", "es"]


def test_benchmark_scores_both_azure_samples() -> None:
    results = entities.run(require_shared_data())
    assert set(results) == set(entities.SAMPLES)
    for scores in results.values():
        for key in ("precision", "recall", "f1", "f1_labelled_only"):
            assert 0.0 <= scores[key] <= 100.0
        # Both samples label entities the extractor learns to find.
        assert scores["f1_labelled_only"] > 50.0


def test_atis_scores_the_engine_beside_a_baseline_crf(tmp_path: Path) -> None:
    # A tiny ATIS-shaped export: Train/Test datasets, one learned entity.
    cities = ["boston", "denver", "dallas", "atlanta", "seattle", "miami"]
    utterances = []
    for n, city in enumerate(cities * 3):
        text = f"flights to {city} please"
        utterances.append(
            {
                "text": text,
                "intent": "flight",
                "dataset": "Test" if n >= 15 else "Train",
                "entities": [{"category": "toloc", "offset": 11, "length": len(city)}],
            }
        )
    path = tmp_path / "atis.json"
    path.write_text(
        json.dumps(
            {
                "stringIndexType": "Utf16CodeUnit",
                "metadata": {"language": "en"},
                "assets": {
                    "entities": [{"category": "toloc"}],
                    "utterances": utterances,
                },
            }
        )
    )
    results = entities.evaluate_atis(path)
    assert set(results) == {
        "engine",
        "baseline CRF",
        "job fit, one after other",
        "job fit, side by side",
    }
    for name in ("engine", "baseline CRF"):
        assert results[name]["f1"] > 50.0
        assert results[name]["train_cpu_s"] >= 0.0
    for name in ("job fit, one after other", "job fit, side by side"):
        assert results[name]["train_s"] >= 0.0
