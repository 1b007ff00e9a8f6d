"""Data page pre-labels: with Pre-label on, the unlabeled rows of the page show the
deployed model's intent (production by default, another deployment on request);
accepting is an ordinary intent assignment (audit, undo); only the rows of the
page are predicted; bad input is a filter error."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from projects.models import Intent, LabelingUndo, Project, Utterance
from projects.selectors import labeling as sl
from studio.models import AuditEvent
from tests.factories import IntentFactory, UtteranceFactory
from tests.training.model_helpers import deploy_trained_model, make_trained_model
from tests.ui.conftest import HTMX, UiProjects

pytestmark = pytest.mark.django_db

TABLE = {**HTMX, "HTTP_HX_TARGET": "utterance-table"}
BASE = "/projects/conv/data/"
TRAIN = {
    "Book": ["book a flight to paris", "fly me to rome", "i need a plane ticket"],
    "Weather": ["will it rain today", "is it sunny", "weather in zurich please"],
}


@pytest.fixture(autouse=True)
def fresh_predictors() -> Any:
    sl.predictors_clear()
    yield
    sl.predictors_clear()


@pytest.fixture
def conv(ui_projects: UiProjects) -> Project:
    project = ui_projects.conv
    for name in TRAIN:
        IntentFactory.create(project=project, name=name)
    none = project.intents.get(name=Intent.BUILTIN_NONE)
    book = project.intents.get(name="Book")
    UtteranceFactory.create(project=project, text="book me a flight", intent=none)
    UtteranceFactory.create(project=project, text="rain tomorrow", intent=none)
    UtteranceFactory.create(project=project, text="fly to oslo", intent=book)
    texts = [t for ts in TRAIN.values() for t in ts]
    labels = [label for label, ts in TRAIN.items() for _ in ts]
    deploy_trained_model(make_trained_model(project, "m1", texts, labels))
    flipped = ["Weather" if x == "Book" else "Book" for x in labels]
    deploy_trained_model(make_trained_model(project, "m2", texts, flipped), "staging")
    return project


def prelabels(html: str) -> dict[str, str]:
    """{utterance text: suggested intent} from the page's pre-label data block
    (labeling.js shows them on the rows)."""
    found = re.search(
        r'<script id="prelabel-data" type="application/json">(.*?)</script>', html
    )
    by_id = json.loads(found.group(1)) if found else {}
    texts = dict(Utterance.objects.values_list("pk", "text"))
    for _, percent in by_id.values():
        assert 0 < percent <= 100
    return {texts[int(pk)]: intent for pk, (intent, _) in by_id.items()}


def test_off_by_default_and_offered_with_deployments(
    admin_client_ui: Client, conv: Project
) -> None:
    html = admin_client_ui.get(BASE).content.decode()
    assert 'id="filter-prelabel"' in html
    assert 'id="filter-prelabel-from"' in html  # two deployments: a choice
    assert prelabels(html) == {}
    assert "<kbd>y</kbd></dt><dd>Accept the pre-label" in html


def test_no_toggle_without_a_deployment(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    html = admin_client_ui.get(BASE).content.decode()
    assert 'id="filter-prelabel"' not in html


def test_unlabeled_rows_show_the_production_models_intent(
    admin_client_ui: Client, conv: Project
) -> None:
    html = admin_client_ui.get(BASE, {"prelabel": "1"}, **TABLE).content.decode()
    # The labeled row ("fly to oslo") gets none.
    assert prelabels(html) == {"book me a flight": "Book", "rain tomorrow": "Weather"}
    assert "pre-labels: deployment production (model m1)" in html
    # Paging and filters keep it on.
    assert "prelabel=1" in html


def test_another_deployment_on_request(admin_client_ui: Client, conv: Project) -> None:
    html = admin_client_ui.get(
        BASE, {"prelabel": "1", "prelabel_from": "staging"}, **TABLE
    ).content.decode()
    assert prelabels(html)["book me a flight"] == "Weather"
    assert "pre-labels: deployment staging (model m2)" in html


def test_an_unknown_deployment_is_a_filter_error(
    admin_client_ui: Client, conv: Project
) -> None:
    response = admin_client_ui.get(
        BASE, {"prelabel": "1", "prelabel_from": "nope"}, **TABLE
    )
    assert response.status_code == 400
    assert "There is no deployment &#x27;nope&#x27;." in response.content.decode()


def test_accepting_labels_through_the_label_service_with_audit_and_undo(
    admin_client_ui: Client, conv: Project
) -> None:
    row = Utterance.objects.get(text="book me a flight")
    response = admin_client_ui.post(
        f"{BASE}{row.pk}/intent/",
        {"intent": "Book", "version": row.version, "next": "?prelabel=1"},
        **HTMX,
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.intent.name == "Book"
    event: Any = AuditEvent.objects.filter(project_id=conv.pk).latest("id")
    assert event.before["intent"] == "None" and event.after["intent"] == "Book"
    assert LabelingUndo.objects.filter(project=conv).exists()
    admin_client_ui.post(f"{BASE}undo/", {"next": "?prelabel=1"}, **TABLE)
    row.refresh_from_db()
    assert row.intent.name == "None"


def test_only_the_rows_of_the_page_are_predicted(
    admin_client_ui: Client, conv: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    none = conv.intents.get(name=Intent.BUILTIN_NONE)
    for i in range(60):
        UtteranceFactory.create(project=conv, text=f"unlabeled {i}", intent=none)
    seen: list[int] = []
    real = sl._Predictor.best

    def spy(self: Any, texts: Any) -> Any:
        seen.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(sl._Predictor, "best", spy)
    response = admin_client_ui.get(BASE, {"prelabel": "1", "size": "25"}, **TABLE)
    assert response.status_code == 200
    assert seen and max(seen) <= 25


def test_viewers_see_the_suggestions_too(viewer_client: Client, conv: Project) -> None:
    html = viewer_client.get(BASE, {"prelabel": "1"}).content.decode()
    assert prelabels(html)["book me a flight"] == "Book"


def test_a_suggested_intent_deleted_since_is_not_offered(
    admin_client_ui: Client, conv: Project
) -> None:
    conv.intents.filter(name="Weather").delete()
    html = admin_client_ui.get(BASE, {"prelabel": "1"}, **TABLE).content.decode()
    assert prelabels(html) == {"book me a flight": "Book"}
