"""Smoke test of bench.review_queue: seeds a small queue and times each action
once; checks the shape of the results, never the timings."""

from __future__ import annotations

import pytest

from bench import review_queue
from projects.models import Project
from training.models import PredictionLog
from training.selectors import review as sr


@pytest.mark.django_db
def test_the_benchmark_seeds_repeated_queries_and_times_every_action() -> None:
    name = review_queue.seed(300)
    project = Project.objects.get(name=name)
    assert PredictionLog.objects.filter(project=project).count() == 300
    groups = sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert len(groups) < 300  # some queries repeat in another spelling
    results = review_queue.measure(name, repeat=1)
    # Below the old window, "before" lists the same groups in the same order.
    before = review_queue.legacy_review_queue(project)
    assert [(g.id, g.ids) for g in before] == [(g.id, g.ids) for g in groups]
    assert set(results) == {
        "before: selector, first read",
        "before: selector",
        "review_queue(), first read",
        "review_queue() selector",
        "review list fragment (GET)",
    }
    for row in results.values():
        assert row["p50_ms"] > 0
        assert row["groups"] == len(groups)
        assert row["logs_listed"] == 300
