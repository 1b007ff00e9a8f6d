"""The review page's Clusters view in a real browser, by keyboard only: open the
largest cluster, exclude one query, label the rest from the palette; then create
the suggested intent from a cluster routed to None. Each step lands in the data,
the logs and the audit trail; no serious accessibility violation on the way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache

from projects.models import Intent, Project, Utterance
from studio.models import AuditEvent
from tests.browser.conftest import StudioPage, axe_violations
from tests.factories import IntentFactory, PredictionLogFactory, ProjectFactory
from training.models import PredictionLog

pytestmark = pytest.mark.django_db(transaction=True)

BOOK = [
    "book a flight to paris",
    "book a flight to rome",
    "book a flight to berlin",
    "book a flight to madrid",
    "book a flight to lisbon",
]
LIGHTS = [
    "turn off the lights",
    "please turn off the lights",
    "turn off all the lights",
]


@pytest.fixture
def traffic(transactional_db: None) -> Project:
    cache.clear()
    project = ProjectFactory.create(name="trips", language="en")
    for name in ("Book", "Cancel"):
        IntentFactory.create(project=project, name=name)
    for text in BOOK:
        PredictionLogFactory.create(
            project=project, query=text, top_intent="Book", confidence=0.8
        )
    for text in LIGHTS:
        PredictionLogFactory.create(
            project=project, query=text, top_intent="None", confidence=0.3
        )
    return project


def test_label_a_cluster_and_create_an_intent_by_keyboard(
    browser_page: StudioPage,
    browser_user: Callable[..., Any],
    traffic: Project,
) -> None:
    browser_user("ana", role="analyst", project=traffic)
    studio = browser_page
    page = studio.page
    studio.sign_in("ana")
    studio.goto("/projects/trips/review/clusters/")
    assert page.locator("tr.cluster-row").count() == 2
    assert "book a flight" in page.locator("tr.cluster-row").first.inner_text()
    assert axe_violations(page) == []

    # o opens the current (first, largest) cluster.
    page.keyboard.press("o")
    page.wait_for_selector("#cluster-form")
    assert page.locator("tr.cluster-item").count() == 5
    assert axe_violations(page) == []
    # j moves to the second query, x unchecks it.
    page.keyboard.press("j")
    excluded = page.locator("tr.cluster-item.is-current").get_attribute("data-text")
    page.keyboard.press("x")
    assert page.locator("tr.cluster-item.is-excluded").count() == 1
    assert page.locator("#cluster-included").inner_text() == "4 of 5 checked"
    # l opens the label palette: type to filter, Enter labels the checked ones.
    page.keyboard.press("l")
    assert page.locator("#intent-palette").is_visible()
    page.keyboard.type("boo")
    studio.screenshot("palette")
    page.keyboard.press("Enter")
    page.wait_for_selector("#review-clusters")
    assert "Labeled 4 queries as Book (1 excluded, still waiting)." in (
        page.locator("#messages").inner_text()
    )

    labeled = Utterance.objects.filter(project=traffic, intent__name="Book")
    assert sorted(u.text for u in labeled) == sorted(t for t in BOOK if t != excluded)
    assert PredictionLog.objects.get(query=excluded).review_status == "pending"
    assert {u.labeled_by.get_username() for u in labeled if u.labeled_by} == {"ana"}

    # What is left: the lights, dense and routed to None — a new intent is due.
    assert page.locator("tr.cluster-row").count() == 1
    page.keyboard.press("o")
    page.wait_for_selector("#cluster-suggest")
    suggested = page.locator("#cluster-new-intent").input_value()
    assert suggested
    studio.screenshot("suggestion")
    page.keyboard.press("c")
    page.wait_for_selector("#review-clusters")
    assert f"Created intent {suggested}" in page.locator("#messages").inner_text()
    assert Intent.objects.filter(project=traffic, name=suggested).exists()
    assert (
        Utterance.objects.filter(project=traffic, intent__name=suggested).count() == 3
    )
    actions = list(
        AuditEvent.objects.filter(
            project_name="trips", action__startswith="review.cluster."
        ).values_list("action", "username")
    )
    assert sorted(actions) == [
        ("review.cluster.create", "ana"),
        ("review.cluster.label", "ana"),
    ]
    assert AuditEvent.objects.filter(action="utterance.add").count() == 7
