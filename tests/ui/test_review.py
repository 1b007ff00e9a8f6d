"""The review queue screen: every member reads it, analysts triage (accept, another
intent, None, skip, discard) by htmx or plain posts; filters; plain-language errors."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from projects.models import Project, Utterance
from studio.models import AuditEvent
from tests.factories import IntentFactory
from tests.ui.conftest import HTMX, UiProjects
from training.models import PredictionLog

pytestmark = pytest.mark.django_db
URL = "/projects/conv/review/"
QUEUE = {**HTMX, "HTTP_HX_TARGET": "review-queue"}


def log(project: Project, text: str, *scores: tuple[str, float], **extra: Any) -> int:
    intents = [{"category": n, "confidenceScore": c} for n, c in scores]
    row = PredictionLog.objects.create(
        project=project,
        deployment_name=extra.pop("deployment", "production"),
        model_id="m1-x",
        query=text,
        top_intent=scores[0][0],
        confidence=scores[0][1],
        prediction={"topIntent": scores[0][0], "intents": intents},
        **extra,
    )
    return row.pk


@pytest.fixture
def logs(ui_projects: UiProjects) -> dict[str, int]:
    conv = ui_projects.conv
    IntentFactory.create(project=conv, name="Book")
    IntentFactory.create(project=conv, name="Cancel")
    return {
        "sure": log(conv, "book a flight", ("Book", 0.97), ("Cancel", 0.03)),
        "close": log(conv, "change my booking", ("Book", 0.51), ("Cancel", 0.49)),
        "close2": log(conv, "Change my booking!", ("Book", 0.52), ("Cancel", 0.48)),
        "odd": log(conv, "sing a song", ("Cancel", 0.4), ("Book", 0.3)),
    }


def row_ids(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('<tr id="review-')[1:]]


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_members_see_the_queue_ranked_and_collapsed(
    client_for: Callable[[str], Client], logs: dict[str, int], role: str
) -> None:
    response = client_for(role).get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{URL}"' in html  # the project tab
    ids = row_ids(html)
    assert ids[0] == str(logs["close2"])  # the close call, newest of its two
    assert ids[-1] == str(logs["sure"])
    assert len(ids) == 3
    assert "×2" in html and "close to Cancel" in html
    assert ('value="accept"' in html) == (role != "viewer")


def test_outsiders_get_nothing_and_knowledge_bases_have_no_queue(
    outsider_client: Client, admin_client_ui: Client, logs: dict[str, int]
) -> None:
    assert outsider_client.get(URL).status_code == 404
    assert (
        outsider_client.post(
            f"{URL}{logs['odd']}/act", {"action": "discard"}
        ).status_code
        == 404
    )
    assert admin_client_ui.get("/projects/kb/review/").status_code == 404


def test_a_viewer_cannot_triage(viewer_client: Client, logs: dict[str, int]) -> None:
    response = viewer_client.post(f"{URL}{logs['odd']}/act", {"action": "discard"})

    assert response.status_code == 403
    assert PredictionLog.objects.get(pk=logs["odd"]).review_status == "pending"


def test_accept_by_htmx_returns_the_queue_without_the_item(
    analyst_client: Client, logs: dict[str, int]
) -> None:
    response = analyst_client.post(
        f"{URL}{logs['close2']}/act", {"action": "accept"}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="review-queue"' in html and "<html" not in html
    assert "Added “Change my booking!” (2×) as Book to Train." in html
    assert str(logs["close2"]) not in row_ids(html)
    utterance = Utterance.objects.get(text="Change my booking!")
    assert utterance.intent.name == "Book" and utterance.dataset == "Train"
    assert set(
        PredictionLog.objects.filter(
            pk__in=[logs["close"], logs["close2"]]
        ).values_list("review_status", "utterance_id")
    ) == {("accepted", utterance.pk)}
    assert AuditEvent.objects.filter(
        action="review.accept", username="ana-analyst"
    ).exists()


def test_an_htmx_action_refills_stored_review_keys_once(
    analyst_client: Client, logs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action refills a bounded batch before its transaction; the queue it
    returns is read without another one."""
    from training.services import review as svc
    from training.views import review as views

    calls: list[str] = []
    real = svc.review_keys_catch_up

    def spy(*, project: Project) -> int:
        calls.append(project.name)
        return real(project=project)

    monkeypatch.setattr(svc, "review_keys_catch_up", spy)
    monkeypatch.setattr(views, "review_keys_catch_up", spy)
    response = analyst_client.post(
        f"{URL}{logs['close2']}/act", {"action": "skip"}, **HTMX
    )

    assert response.status_code == 200
    assert calls == ["conv"]


def test_label_with_another_intent_none_skip_and_discard_by_plain_posts(
    analyst_client: Client, logs: dict[str, int], ui_projects: UiProjects
) -> None:
    Project.objects.filter(pk=ui_projects.conv.pk).update(review_dataset="Test")
    labeled = analyst_client.post(
        f"{URL}{logs['close']}/act", {"action": "label", "intent": "Cancel"}
    )
    none = analyst_client.post(f"{URL}{logs['odd']}/act", {"action": "none"})
    skipped = analyst_client.post(
        f"{URL}{logs['sure']}/act", {"action": "skip", "next": "band=high"}
    )

    assert labeled.status_code == none.status_code == skipped.status_code == 302
    assert skipped["Location"] == f"{URL}?band=high"
    changed = Utterance.objects.get(text="Change my booking!")
    assert (changed.intent.name, changed.dataset) == ("Cancel", "Test")
    assert Utterance.objects.get(text="sing a song").intent.name == "None"
    waiting = analyst_client.get(URL).content.decode()
    assert 'id="review-empty"' in waiting
    later = analyst_client.get(URL, {"status": "skipped"}).content.decode()
    assert row_ids(later) == [str(logs["sure"])]
    discarded = analyst_client.post(
        f"{URL}{logs['sure']}/act", {"action": "discard"}, **HTMX
    )
    assert "Discarded “book a flight”." in discarded.content.decode()


def test_a_refused_action_is_explained_in_plain_words(
    analyst_client: Client, logs: dict[str, int]
) -> None:
    unknown = analyst_client.post(
        f"{URL}{logs['odd']}/act", {"action": "label", "intent": "Nope"}, **HTMX
    )
    twice = [
        analyst_client.post(f"{URL}{logs['odd']}/act", {"action": "discard"}, **HTMX)
        for _ in range(2)
    ][1]

    assert unknown.status_code == 422
    message = "There is no intent 'Nope' in project 'conv'."
    assert message in html.unescape(unknown.content.decode())
    assert not Utterance.objects.filter(text="sing a song").exists()
    assert twice.status_code == 422
    assert "not waiting for review" in twice.content.decode()


def test_filters_by_deployment_band_intent_and_bad_values(
    viewer_client: Client, logs: dict[str, int]
) -> None:
    PredictionLog.objects.filter(pk=logs["odd"]).update(deployment_name="staging")

    def shown(**query: str) -> list[str]:
        return row_ids(viewer_client.get(URL, query, **QUEUE).content.decode())

    assert shown(deployment="staging") == [str(logs["odd"])]
    assert shown(band="high") == [str(logs["sure"])]
    assert shown(intent="Cancel") == [str(logs["odd"])]
    assert shown(since="2000-01-01", until="2000-01-02") == []
    bad = viewer_client.get(URL, {"band": "extreme", "since": "soon"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Choose a confidence band from the list." in html
    assert "Enter a date such as 2026-01-31." in html


def test_the_review_dataset_is_a_project_setting(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    page = admin_client_ui.get("/projects/conv/settings/").content.decode()
    assert 'name="review_dataset"' in page
    kb_page = admin_client_ui.get("/projects/kb/settings/").content.decode()
    assert 'name="review_dataset"' not in kb_page

    admin_client_ui.post(
        "/projects/conv/settings/general",
        {"language": "en-us", "confidence_threshold": "0", "review_dataset": "Test"},
    )

    assert Project.objects.get(name="conv").review_dataset == "Test"
    event = AuditEvent.objects.get(action="project.settings")
    assert (event.before, event.after) == (
        {"reviewDataset": "Train"},
        {"reviewDataset": "Test"},
    )
