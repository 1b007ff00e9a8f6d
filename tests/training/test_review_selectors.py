"""The review queue's selector: groups and ranks as before while decoding each
group's newest prediction once per process (``training/selectors/review.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Project
from tests.factories import ProjectFactory
from training.engine import review as rv
from training.models import PredictionLog
from training.selectors import review as sr


@pytest.fixture(autouse=True)
def fresh_signals() -> Iterator[None]:
    sr.review_signals_clear()
    yield
    sr.review_signals_clear()


def prediction(top: str, confidence: float, second: float) -> dict[str, Any]:
    return {
        "topIntent": top,
        "intents": [
            {"category": top, "confidenceScore": confidence},
            {"category": "Other", "confidenceScore": second},
        ],
        "entities": [],
    }


def log(project: Project, query: str, pred: dict[str, Any], **extra: Any) -> int:
    row = PredictionLog.objects.create(
        project=project,
        deployment_name=extra.pop("deployment", "production"),
        model_id="m1",
        query=query,
        top_intent=pred["topIntent"],
        confidence=pred["intents"][0]["confidenceScore"],
        prediction=pred,
        **extra,
    )
    return row.pk


def reference_queue(project: Project) -> list[tuple[str, int, float, list[int]]]:
    """The queue as it was computed before: every log's prediction decoded, the
    newest of each normalized text giving the signals."""
    groups: dict[str, dict[str, Any]] = {}
    for row in PredictionLog.objects.filter(
        project=project, review_status="pending"
    ).order_by("-created_at", "-id"):
        key = rv.normalize(row.query) or row.query
        sig = rv.signals(
            row.prediction,
            shadow_intent=row.shadow_top_intent,
            shadow_confidence=row.shadow_confidence,
            shadow_disagrees=row.shadow_disagrees,
        )
        group = groups.setdefault(key, {"id": row.pk, "sig": sig, "ids": []})
        group["ids"].append(row.pk)
    ranked = [
        (key, g["id"], rv.teach_score(g["sig"], count=len(g["ids"])), g["ids"])
        for key, g in groups.items()
    ]
    ranked.sort(key=lambda r: (-r[2], -r[1]))
    return [(key, pk, round(score, 6), ids) for key, pk, score, ids in ranked]


FILTERS = sr.ReviewFilter()


def listed(project: Project) -> list[tuple[str, int, float, list[int]]]:
    return [
        (g.key, g.id, round(g.score, 6), g.ids)
        for g in sr.review_queue(project=project, filters=sr.ReviewFilter())
    ]


@pytest.mark.django_db
def test_groups_scores_and_order_match_decoding_every_log() -> None:
    project = ProjectFactory.create()
    log(project, "Book a flight", prediction("Book", 0.9, 0.05))
    log(project, "book a FLIGHT!", prediction("Book", 0.4, 0.35))  # newest: counts
    log(project, "cancel it", prediction("Cancel", 0.55, 0.5))
    log(project, "weather", prediction("None", 0.3, 0.2))
    log(project, "Weather ", prediction("None", 0.3, 0.2), deployment="staging")
    log(
        project,
        "cancel IT",
        prediction("Cancel", 0.8, 0.1),
        shadow_top_intent="Book",
        shadow_confidence=0.7,
        shadow_disagrees=True,
    )
    assert listed(project) == reference_queue(project)
    # Read again (warm): the same answer.
    assert listed(project) == reference_queue(project)


@pytest.mark.django_db
def test_a_second_read_decodes_no_prediction_it_has_seen() -> None:
    project = ProjectFactory.create()
    for n in range(5):
        log(project, f"query {n}", prediction("Book", 0.5 + n / 20, 0.1))
    sr.review_queue(project=project, filters=sr.ReviewFilter())
    with CaptureQueriesContext(connection) as queries:
        sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert len(queries.captured_queries) == 1
    assert '"prediction"' not in queries.captured_queries[0]["sql"]
    log(project, "a new one", prediction("Cancel", 0.4, 0.39))
    with CaptureQueriesContext(connection) as queries:
        groups = sr.review_queue(project=project, filters=sr.ReviewFilter())
    # Only the new log's prediction is read.
    assert len(queries.captured_queries) == 2
    assert groups[0].text == "a new one"


@pytest.mark.django_db
def test_a_reused_id_is_not_served_the_old_logs_signals() -> None:
    project = ProjectFactory.create()
    pk = log(project, "hello", prediction("Greet", 0.99, 0.0))
    (first,) = sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert first.signals.top_intent == "Greet"
    PredictionLog.objects.filter(pk=pk).delete()
    log(project, "bye", prediction("Leave", 0.3, 0.29), pk=pk)
    PredictionLog.objects.filter(pk=pk).update(
        created_at=first.last_seen + timedelta(seconds=1)
    )
    (second,) = sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert second.id == pk
    assert second.signals.top_intent == "Leave"
    assert listed(project) == reference_queue(project)


@pytest.mark.django_db
def test_the_queue_spreads_one_confusion_as_the_ranking_caps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = ProjectFactory.create()
    log(project, "book 1", prediction("Book", 0.50, 0.49))
    log(project, "book 2", prediction("Book", 0.50, 0.48))
    log(project, "book 3", prediction("Book", 0.50, 0.47))
    log(project, "pay", prediction("Pay", 0.60, 0.30))

    def texts() -> list[str]:
        return [g.text for g in sr.review_queue(project=project, filters=FILTERS)]

    monkeypatch.setattr(rv, "RANKING", rv.Ranking(pair_cap=0))
    assert texts()[-1] == "pay"
    monkeypatch.setattr(rv, "RANKING", rv.Ranking(pair_cap=2))
    assert texts() == [
        "book 1",
        "book 2",
        "pay",
        "book 3",
    ]
