"""The model page's Thresholds section at CLINC150 size (150 intents; the
evaluation built directly, not trained) in a real browser: axe finds no
violation once the full table is open. Screenshot in var/test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.labeling import seed_evaluation
from projects.models import Project
from tests.browser.conftest import SCREENSHOTS, StudioPage, axe_violations
from training.models import TrainedModel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _outcome(in_scope: float, recall: float, precision: float) -> dict[str, Any]:
    return {
        "inScopeAccuracy": in_scope,
        "oosRecall": recall,
        "oosPrecision": precision,
        "inScopeCount": 4500,
        "oosCount": 1000,
        "refusedCount": 700,
    }


def test_the_thresholds_of_150_intents_are_readable_and_accessible(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    seed_evaluation(name="clinc", members=())
    project = Project.objects.get(name="clinc")
    model = TrainedModel.objects.get(project=project, label="m1")
    summary = model.evaluation_summary
    names = sorted(summary["intentsEvaluation"]["intents"])
    summary["intentsEvaluation"]["thresholds"] = {
        "confidenceThreshold": 0.212,
        "perIntentThresholds": True,
        "global": _outcome(0.9224, 0.585, 0.8837),
        "perIntent": _outcome(0.9216, 0.612, 0.878),
        "intentThresholds": {n: 0.15 + (i % 37) / 100 for i, n in enumerate(names)},
    }
    TrainedModel.objects.filter(pk=model.pk).update(evaluation_summary=summary)
    browser_user("ana", role="analyst", project=project)
    browser_page.sign_in("ana")
    browser_page.goto("/projects/clinc/models/m1/")
    page = browser_page.page
    section = page.locator("#thresholds-section")
    section.locator("summary").click()
    assert section.locator("#thresholds-table tbody tr").count() == 150
    assert section.locator("#thresholds-highest li").count() == 5
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SCREENSHOTS / "model-thresholds.png"))
    assert axe_violations(page) == []
