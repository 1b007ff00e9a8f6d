"""The review queue's API (``/api/v1/projects/{p}/review``): logged queries ranked
by what labeling them teaches, duplicates collapsed, filters, and the triage actions
that turn them into data (with their source and an audit event)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from projects.models import Project, Utterance
from runtime import keys
from runtime.registry import runtime_reset
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.api.test_runtime_api import ANALYZE, analyze_body
from tests.factories import IntentFactory, ProjectFactory, UtteranceFactory
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
)
from training.models import PredictionLog

pytestmark = pytest.mark.django_db
URL = "/api/v1/projects/Email/review"


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()
    yield
    runtime_reset()


@pytest.fixture
def key() -> str:
    return apikey_create(name="bot")[1]


@pytest.fixture
def email() -> Project:
    project = ProjectFactory.create(name="Email", language="en")
    for name in EMAIL_EXAMPLES:
        IntentFactory.create(project=project, name=name)
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    return project


def call(key: str, method: str, url: str, body: Any = None, **query: Any) -> Any:
    client = Client()
    headers = {"Ocp-Apim-Subscription-Key": key}
    if method == "get":
        return client.get(url, query, headers=headers)
    return client.post(
        url, json.dumps(body), content_type="application/json", headers=headers
    )


def predict(key: str, *texts: str, deployment: str = "production") -> None:
    for text in texts:
        body = analyze_body(
            text,
            projectName="Email",
            deploymentName=deployment,
            isLoggingEnabled=True,
        )
        response = call(key, "post", ANALYZE, body)
        assert response.status_code == 200, response.content


def queue(key: str, **query: Any) -> list[dict[str, Any]]:
    response = call(key, "get", URL, **query)
    assert response.status_code == 200, response.content
    value: list[dict[str, Any]] = response.json()["value"]
    return value


def test_the_queue_ranks_unsure_queries_first_and_collapses_duplicates(
    key: str, email: Project
) -> None:
    predict(
        key,
        "send an email to carol",  # seen in training: sure
        "Hello there!",
        "hello   there",  # the same, normalized
        "hello there",
        "purple elephant banana",
    )

    items = queue(key)

    assert len(items) == 3
    hello = next(i for i in items if i["text"].lower().startswith("hello"))
    assert hello["count"] == 3 and hello["text"] == "hello there"  # the newest
    assert len(hello["logIds"]) == 3
    sure = next(i for i in items if i["text"] == "send an email to carol")
    assert items[-1] == sure  # the model knew it: it teaches least
    assert sure["topIntent"] == "SendEmail"
    assert all(i["score"] >= sure["score"] for i in items)
    assert items == sorted(items, key=lambda i: -i["score"])
    assert set(items[0]) >= {"reasons", "confidenceScore", "margin", "deployments"}


def test_filters_by_band_intent_deployment_and_date(key: str, email: Project) -> None:
    predict(key, "send an email to carol", "read my new emails")
    PredictionLog.objects.filter(query="read my new emails").update(
        created_at=timezone.now() - timedelta(days=3), deployment_name="staging"
    )
    PredictionLog.objects.filter(query="send an email to carol").update(confidence=0.9)
    PredictionLog.objects.filter(query="read my new emails").update(confidence=0.3)
    today = timezone.localdate().isoformat()

    def texts(**query: str) -> list[str]:
        return [i["text"] for i in queue(key, **query)]

    assert texts(band="high") == ["send an email to carol"]
    assert texts(band="low") == ["read my new emails"]
    assert texts(band="medium") == []
    assert texts(intent="SendEmail") == ["send an email to carol"]
    assert texts(intent="ReadEmail") == ["read my new emails"]
    assert texts(deployment="staging") == ["read my new emails"]
    assert texts(since=today) == ["send an email to carol"]
    assert texts(until="2000-01-01") == []


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ({"band": "lowish"}, "band"),
        ({"since": "yesterday"}, "since"),
        ({"status": "done"}, "status"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until"),
    ],
)
def test_a_bad_filter_gets_azures_error_shape(
    key: str, email: Project, query: dict[str, str], target: str
) -> None:
    response = call(key, "get", URL, **query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidArgument" and error["target"] == target


def test_a_bad_filter_writes_nothing(key: str, email: Project) -> None:
    """The filter is validated before the request refills stored review keys."""
    pk = PredictionLog.objects.create(
        project=email,
        deployment_name="production",
        model_id="m1",
        query="read my new emails",
        prediction={"topIntent": "ReadEmail", "intents": []},
    ).pk
    PredictionLog.objects.filter(pk=pk).update(text_key="", review_recipe=0)

    response = call(key, "get", URL, band="lowish")

    assert response.status_code == 400
    row = PredictionLog.objects.get(pk=pk)
    assert (row.text_key, row.review_recipe) == ("", 0)


def test_accept_adds_the_query_with_its_prediction_and_records_the_source(
    key: str, email: Project
) -> None:
    predict(key, "send an email to erin", "Send an email to Erin!")
    (item,) = queue(key)

    response = call(key, "post", f"{URL}/{item['id']}", {"action": "accept"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["intent"] == item["topIntent"] == "SendEmail"
    assert body["count"] == 2
    utterance = Utterance.objects.get(pk=body["utterance"]["id"])
    assert utterance.intent.name == "SendEmail"
    assert utterance.dataset == "Train"  # the project's review dataset
    assert utterance.text == item["text"]
    logs = PredictionLog.objects.filter(pk__in=item["logIds"])
    assert {(log.review_status, log.utterance_id) for log in logs} == {
        ("accepted", utterance.pk)
    }
    assert queue(key) == []
    event: Any = AuditEvent.objects.get(action="review.accept")
    assert event.after["utterance"] == utterance.pk
    assert sorted(event.before["logIds"]) == sorted(item["logIds"])
    assert AuditEvent.objects.filter(action="utterance.add").count() == 1


def test_label_none_skip_and_discard(key: str, email: Project) -> None:
    Project.objects.filter(pk=email.pk).update(review_dataset="Test")
    predict(key, "show my mail", "banana phone", "fix the printer", "asdf")
    ids = {i["text"]: i["id"] for i in queue(key)}

    labeled = call(
        key,
        "post",
        f"{URL}/{ids['show my mail']}",
        {"action": "label", "intent": "ReadEmail"},
    )
    none = call(key, "post", f"{URL}/{ids['banana phone']}", {"action": "none"})
    skipped = call(key, "post", f"{URL}/{ids['fix the printer']}", {"action": "skip"})
    discarded = call(key, "post", f"{URL}/{ids['asdf']}", {"action": "discard"})

    assert [r.status_code for r in (labeled, none, skipped, discarded)] == [200] * 4
    show = Utterance.objects.get(text="show my mail")
    assert (show.intent.name, show.dataset) == ("ReadEmail", "Test")
    assert Utterance.objects.get(text="banana phone").intent.name == "None"
    assert not Utterance.objects.filter(text__in=["fix the printer", "asdf"]).exists()
    assert queue(key) == []
    assert [i["text"] for i in queue(key, status="skipped")] == ["fix the printer"]
    # A skipped item can still be triaged later.
    later = call(key, "post", f"{URL}/{ids['fix the printer']}", {"action": "none"})
    assert later.status_code == 200


def test_an_existing_utterance_is_relabeled_not_duplicated(
    key: str, email: Project
) -> None:
    none = email.intents.get(name="None")
    existing = UtteranceFactory.create(project=email, intent=none, text="check my mail")
    predict(key, "check my mail")
    (item,) = queue(key)

    call(key, "post", f"{URL}/{item['id']}", {"action": "label", "intent": "ReadEmail"})

    assert Utterance.objects.filter(text="check my mail").count() == 1
    existing.refresh_from_db()
    assert existing.intent.name == "ReadEmail"


@pytest.mark.parametrize(
    ("body", "status", "target"),
    [
        ({"action": "label"}, 400, "intent"),
        ({"action": "label", "intent": "Nope"}, 400, "intent"),
        ({"action": "approve"}, 400, "action"),
        ({}, 400, None),
        ({"action": "label", "intent": ["x"]}, 400, "intent"),
    ],
)
def test_bad_actions_are_refused_and_change_nothing(
    key: str, email: Project, body: dict[str, Any], status: int, target: str | None
) -> None:
    predict(key, "purple elephant banana")
    (item,) = queue(key)
    before = Utterance.objects.count()

    response = call(key, "post", f"{URL}/{item['id']}", body)

    assert response.status_code == status, response.content
    if target is not None:
        assert response.json()["error"]["target"] == target
    assert Utterance.objects.count() == before
    assert PredictionLog.objects.get(pk=item["id"]).review_status == "pending"
    assert not AuditEvent.objects.filter(action__startswith="review.").exists()


def test_a_reviewed_or_foreign_item_is_not_found(key: str, email: Project) -> None:
    predict(key, "purple elephant banana")
    (item,) = queue(key)
    other = ProjectFactory.create(name="Other")
    call(key, "post", f"{URL}/{item['id']}", {"action": "discard"})

    again = call(key, "post", f"{URL}/{item['id']}", {"action": "discard"})
    foreign = call(
        key,
        "post",
        f"/api/v1/projects/{other.name}/review/{item['id']}",
        {"action": "discard"},
    )
    missing = call(key, "get", "/api/v1/projects/Missing/review")

    assert again.status_code == 404
    assert foreign.status_code == 404
    assert missing.status_code == 404


def test_a_viewers_key_reads_the_queue_but_cannot_act(email: Project) -> None:
    from django.contrib.auth import get_user_model

    from projects.models import ProjectMembership

    viewer = get_user_model().objects.create_user(username="vi", password="x-y-z-1")
    ProjectMembership.objects.create(project=email, user=viewer, role="viewer")
    _, viewer_key = apikey_create(name="v", created_by=viewer)
    _, bot = apikey_create(name="bot")
    predict(bot, "purple elephant banana")
    (item,) = queue(viewer_key)

    response = call(viewer_key, "post", f"{URL}/{item['id']}", {"action": "discard"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Forbidden"


def test_the_review_endpoints_are_in_the_openapi_schema(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()

    assert "/api/v1/projects/{project_name}/review" in schema["paths"]
    assert "/api/v1/projects/{project_name}/review/{log_id}" in schema["paths"]


def test_a_bearer_tokens_user_can_triage_and_is_recorded_as_the_labeler(
    key: str, email: Project
) -> None:
    """Regression: the review actions assumed an API key and failed (500) for a
    signed-in token's user."""
    from django.test import override_settings

    from tests.oidc_issuer import LocalIssuer
    from tests.ui.conftest import add_member, make_user

    analyst = make_user("ana-analyst")
    add_member(email, analyst, "analyst")
    predict(key, "send an email to erin")
    (item,) = queue(key)
    issuer = LocalIssuer()
    try:
        with override_settings(**issuer.settings()):
            response = Client(
                headers={"Authorization": f"Bearer {issuer.token('ana-analyst')}"}
            ).post(
                f"{URL}/{item['id']}",
                data=json.dumps({"action": "accept"}),
                content_type="application/json",
            )
    finally:
        issuer.close()

    assert response.status_code == 200, response.content
    utterance = Utterance.objects.get(pk=response.json()["utterance"]["id"])
    assert utterance.labeled_by_id == analyst.pk
    # Regression: the triage itself was recorded as nobody's (an API key's
    # creator was read from a bearer token, which has none).
    assert PredictionLog.objects.get(pk=item["id"]).reviewed_by_id == analyst.pk
