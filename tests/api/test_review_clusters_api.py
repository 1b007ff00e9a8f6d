"""The clusters of unlabeled traffic through ``/api/v1/projects/{p}/review/clusters``:
paraphrases grouped, a cluster labeled at once with exclusions, a new intent from a
cluster, bad input in Azure's error shape (changing nothing), and roles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from projects.models import Intent, Project, Utterance
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.factories import (
    IntentFactory,
    PredictionLogFactory,
    ProjectFactory,
    UtteranceFactory,
)
from training.engine.review import normalize
from training.models import PredictionLog
from training.selectors import clusters as sc

pytestmark = pytest.mark.django_db
URL = "/api/v1/projects/Home/review/clusters"

LIGHTS = [
    "turn off the lights",
    "turn off the lights in the kitchen",
    "please turn off the lights",
    "turn off all the lights",
]
MAIL = [
    "send an email to bob",
    "send an email to carol",
    "send an email to dave",
    "send an email to erin",
    "send an email to frank",
]
WEATHER = ["what's the weather tomorrow", "what's the weather like tomorrow"]


@pytest.fixture(autouse=True)
def clean_cache() -> None:
    cache.clear()


@pytest.fixture
def key() -> str:
    return apikey_create(name="bot")[1]


@pytest.fixture
def home() -> Project:
    project = ProjectFactory.create(name="Home", language="en")
    for name in ("SendEmail", "Lights", "Weather"):
        IntentFactory.create(project=project, name=name)
    return project


def log(project: Project, texts: list[str], intent: str, confidence: float) -> None:
    for text in texts:
        PredictionLogFactory.create(
            project=project, query=text, top_intent=intent, confidence=confidence
        )


@pytest.fixture
def traffic(home: Project) -> Project:
    log(home, MAIL, "SendEmail", 0.9)
    log(home, LIGHTS, "None", 0.3)
    log(home, WEATHER, "Weather", 0.8)
    log(home, ["SEND AN EMAIL TO BOB!"], "SendEmail", 0.9)  # a repeat
    return home


def call(key: str, method: str, url: str, body: Any = None, **query: Any) -> Any:
    client = Client()
    headers = {"Ocp-Apim-Subscription-Key": key}
    if method == "get":
        return client.get(url, query, headers=headers)
    return client.post(
        url, json.dumps(body), content_type="application/json", headers=headers
    )


def clusters(key: str, **query: Any) -> list[dict[str, Any]]:
    query.setdefault("samples", 100)
    response = call(key, "get", URL, **query)
    assert response.status_code == 200, response.content
    value: list[dict[str, Any]] = response.json()["value"]
    return value


def by_topic(found: list[dict[str, Any]], text: str) -> dict[str, Any]:
    key = normalize(text)
    return next(c for c in found if key in {normalize(i["text"]) for i in c["items"]})


def test_paraphrases_are_grouped_largest_first_with_repeats_collapsed(
    key: str, traffic: Project
) -> None:
    found = clusters(key, samples=100)

    groups = [sorted(normalize(i["text"]) for i in c["items"]) for c in found]
    assert sorted(MAIL) in groups
    assert sorted(LIGHTS) in groups
    assert sorted(normalize(t) for t in WEATHER) in groups
    mail = by_topic(found, "send an email to carol")
    assert (mail["size"], mail["count"]) == (5, 6)  # bob was asked twice
    assert found[0] == mail  # the most logged queries first
    assert mail["topIntent"] == "SendEmail" and mail["topIntentShare"] == 1.0
    assert 0.5 < mail["cohesion"] <= 1.0
    assert "email" in " ".join(mail["topTerms"])
    assert mail["suggestedIntent"] is None  # a good intent fits it


def test_a_dense_cluster_routed_to_none_gets_a_new_intent_suggestion(
    key: str, traffic: Project
) -> None:
    lights = by_topic(clusters(key), "turn off the lights")

    assert lights["topIntent"] == "None"
    assert lights["suggestedIntent"]
    assert "lights" in lights["suggestedIntent"].lower()
    assert lights["suggestedIntent"] not in {"Lights"}  # never an existing name


def test_filters_sort_and_samples(key: str, traffic: Project) -> None:
    assert [c["topIntent"] for c in clusters(key, intent="Weather")] == ["Weather"]
    assert [c["size"] for c in clusters(key, minSize=5)] == [5]
    least_sure = clusters(key, sort="confidence")[0]
    assert least_sure["topIntent"] == "None"
    assert all(len(c["items"]) <= 2 for c in clusters(key, samples=2))
    assert clusters(key, deployment="staging") == []


def test_label_a_cluster_with_exclusions(key: str, traffic: Project) -> None:
    UtteranceFactory.create(
        project=traffic,
        text="send an email to dave",
        intent=Intent.objects.get(project=traffic, name="Weather"),
    )
    mail = by_topic(clusters(key, samples=100), "send an email to carol")
    excluded = [i for i in mail["items"] if i["text"] == "send an email to erin"]

    response = call(
        key,
        "post",
        f"{URL}/{mail['id']}",
        {"action": "label", "intent": "SendEmail", "exclude": [excluded[0]["id"]]},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["logs"], body["excluded"]) == (4, 5, 1)
    assert (body["added"], body["relabeled"]) == (3, 1)
    labeled = Utterance.objects.filter(project=traffic, intent__name="SendEmail")
    assert sorted(normalize(u.text) for u in labeled) == sorted(
        t for t in MAIL if t != "send an email to erin"
    )
    assert not Utterance.objects.filter(text="send an email to erin").exists()
    team = PredictionLog.objects.get(query="send an email to erin")
    assert team.review_status == "pending"
    bob = PredictionLog.objects.filter(query__iexact="send an email to bob!") | (
        PredictionLog.objects.filter(query="send an email to bob")
    )
    assert {row.review_status for row in bob} == {"labeled"}
    assert all(row.utterance is not None for row in bob)
    # What is left of the cluster: the excluded item, under the same id.
    left = call(key, "get", f"{URL}/{mail['id']}").json()
    assert [i["text"] for i in left["items"]] == ["send an email to erin"]
    # One audit event for the action, one per utterance labeled.
    event: Any = AuditEvent.objects.get(action="review.cluster.label")
    assert event.after["count"] == 4 and event.before["excluded"] == [excluded[0]["id"]]
    assert AuditEvent.objects.filter(action="utterance.add").count() == 3


def test_create_an_intent_from_a_cluster(key: str, traffic: Project) -> None:
    lights = by_topic(clusters(key), "turn off the lights")

    response = call(
        key,
        "post",
        f"{URL}/{lights['id']}",
        {"action": "create", "newIntent": lights["suggestedIntent"]},
    )

    assert response.status_code == 200, response.content
    name = lights["suggestedIntent"]
    assert response.json()["createdIntent"] is True
    assert Intent.objects.filter(project=traffic, name=name).exists()
    assert Utterance.objects.filter(project=traffic, intent__name=name).count() == 4
    assert AuditEvent.objects.filter(action="intent.create").exists()
    assert AuditEvent.objects.filter(action="review.cluster.create").count() == 1


def test_none_skip_and_discard_a_cluster(key: str, traffic: Project) -> None:
    found = clusters(key)
    weather = by_topic(found, WEATHER[0])
    lights = by_topic(found, LIGHTS[0])
    mail = by_topic(found, MAIL[0])

    for cluster, action in ((weather, "none"), (lights, "skip"), (mail, "discard")):
        response = call(key, "post", f"{URL}/{cluster['id']}", {"action": action})
        assert response.status_code == 200, response.content

    assert {u.intent.name for u in Utterance.objects.filter(project=traffic)} == {
        "None"
    }
    statuses = dict(PredictionLog.objects.values_list("query", "review_status"))
    assert statuses[LIGHTS[0]] == "skipped" and statuses[MAIL[0]] == "discarded"
    assert clusters(key) == []


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"action": "label"}, "intent"),
        ({"action": "label", "intent": "Nope"}, "intent"),
        ({"action": "explode"}, "action"),
        ({"intent": "SendEmail"}, "action"),
        ({"action": "none", "exclude": "all"}, "exclude"),
        ({"action": "none", "exclude": ["x"]}, "exclude[0]"),
        ({"action": "none", "exclude": [999999]}, "exclude"),
        ({"action": "create"}, "newIntent"),
        ({"action": "create", "newIntent": "Lights"}, "category"),
        ({"action": "create", "newIntent": "bad name!" * 20}, "category"),
        ({"action": "none", "version": "new"}, "version"),
    ],
)
def test_bad_input_gets_azures_error_shape_and_changes_nothing(
    key: str, traffic: Project, body: dict[str, Any], target: str
) -> None:
    mail = by_topic(clusters(key), MAIL[0])
    before = AuditEvent.objects.count()

    response = call(key, "post", f"{URL}/{mail['id']}", body)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "InvalidArgument"
    assert error["target"] == target
    assert not Utterance.objects.filter(project=traffic).exists()
    assert set(PredictionLog.objects.values_list("review_status", flat=True)) == {
        "pending"
    }
    assert Intent.objects.filter(project=traffic).count() == 4
    assert AuditEvent.objects.count() == before


def test_excluding_every_item_is_refused(key: str, traffic: Project) -> None:
    weather = by_topic(clusters(key), WEATHER[0])
    ids = [i["id"] for i in weather["items"]]

    response = call(
        key, "post", f"{URL}/{weather['id']}", {"action": "none", "exclude": ids}
    )

    assert response.status_code == 400
    assert response.json()["error"]["target"] == "exclude"


def test_a_gone_cluster_is_404(key: str, traffic: Project) -> None:
    weather = by_topic(clusters(key), WEATHER[0])
    call(key, "post", f"{URL}/{weather['id']}", {"action": "discard"})

    again = call(key, "post", f"{URL}/{weather['id']}", {"action": "discard"})
    shown = call(key, "get", f"{URL}/{weather['id']}")

    assert again.status_code == shown.status_code == 404
    assert again.json()["error"]["code"] == "NotFound"


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ({"sort": "random"}, "sort"),
        ({"minSize": "0"}, "minSize"),
        ({"samples": "x"}, "samples"),
    ],
)
def test_bad_list_parameters(
    key: str, traffic: Project, query: dict[str, str], target: str
) -> None:
    response = call(key, "get", URL, **query)

    assert response.status_code == 400
    assert response.json()["error"]["target"] == target


def test_triage_keeps_the_clustering_and_its_ids(key: str, traffic: Project) -> None:
    first = {c["id"] for c in clusters(key)}
    weather = by_topic(clusters(key), WEATHER[0])

    call(key, "post", f"{URL}/{weather['id']}", {"action": "skip"})

    assert {c["id"] for c in clusters(key)} == first - {weather["id"]}


def test_new_traffic_reclusters_after_the_refresh_interval(
    key: str, traffic: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = clusters(key)
    log(traffic, ["turn off the lights in the garage"], "None", 0.2)
    garage = "turn off the lights in the garage"

    within = clusters(key)  # the latest clustering is served for a while
    monkeypatch.setattr(sc, "REFRESH_SECONDS", 0)
    after = clusters(key)

    assert within == before
    assert {c["version"] for c in after} == {
        PredictionLog.objects.order_by("-id").first().pk  # type: ignore[union-attr]
    }
    assert {i["text"] for i in by_topic(after, garage)["items"]} & set(LIGHTS)


def test_acting_on_the_version_listed_survives_new_traffic(
    key: str, traffic: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sc, "REFRESH_SECONDS", 0)
    mail = by_topic(clusters(key), MAIL[0])
    log(traffic, ["send an email to grace"], "SendEmail", 0.9)
    clusters(key)  # reclustered with the new query

    response = call(
        key,
        "post",
        f"{URL}/{mail['id']}",
        {"action": "label", "intent": "SendEmail", "version": mail["version"]},
    )

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 5  # the cluster as listed, not grace
    assert PredictionLog.objects.get(query="send an email to grace").review_status == (
        "pending"
    )


def test_viewers_read_but_cannot_act(traffic: Project) -> None:
    from django.contrib.auth import get_user_model

    from projects.services import member_add

    viewer = get_user_model().objects.create_user("vera", password="pw-12345678")
    member_add(project=traffic, user="vera", role="viewer")
    _, personal = apikey_create(name="vera's", created_by=viewer)
    found = clusters(personal)

    response = call(personal, "post", f"{URL}/{found[0]['id']}", {"action": "none"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Forbidden"
    assert not Utterance.objects.filter(project=traffic).exists()


def test_a_project_you_cannot_read_is_not_found(traffic: Project) -> None:
    from django.contrib.auth import get_user_model

    stranger = get_user_model().objects.create_user("sam", password="pw-12345678")
    _, personal = apikey_create(name="sam's", created_by=stranger)

    response = call(personal, "get", URL)

    assert response.status_code == 404
