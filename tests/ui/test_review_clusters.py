"""The review page's Clusters view: every member sees the clusters; analysts open
one, uncheck what does not belong and label the rest at once (or create the
suggested intent); problems in plain words next to the field; viewers cannot act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from projects.models import Intent, Project, Utterance
from studio.models import AuditEvent
from tests.factories import IntentFactory, PredictionLogFactory
from tests.ui.conftest import HTMX, UiProjects
from training.models import PredictionLog

pytestmark = pytest.mark.django_db
URL = "/projects/conv/review/clusters/"
BOOK = [
    "book a flight to paris",
    "book a flight to rome",
    "book a flight to berlin",
    "book a flight to madrid",
]
LIGHTS = [
    "turn off the lights",
    "please turn off the lights",
    "turn off all the lights",
]


@pytest.fixture
def traffic(ui_projects: UiProjects) -> Project:
    cache.clear()
    conv = ui_projects.conv
    IntentFactory.create(project=conv, name="Book")
    IntentFactory.create(project=conv, name="Cancel")
    for text in BOOK:
        PredictionLogFactory.create(
            project=conv, query=text, top_intent="Book", confidence=0.8
        )
    for text in LIGHTS:
        PredictionLogFactory.create(
            project=conv, query=text, top_intent="None", confidence=0.3
        )
    return conv


def cluster_ids(html: str) -> list[int]:
    return [int(part.split('"')[0]) for part in html.split('<tr id="cluster-')[1:]]


def cluster_of(project: Project, text: str) -> int:
    from training.selectors.clusters import review_clusters_all

    return next(
        c.id
        for c in review_clusters_all(project=project)
        if text in {i.text for i in c.items}
    )


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_members_see_the_clusters_largest_first(
    client_for: Callable[[str], Client], traffic: Project, role: str
) -> None:
    response = client_for(role).get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert cluster_ids(html) == [
        cluster_of(traffic, BOOK[0]),
        cluster_of(traffic, LIGHTS[0]),
    ]
    assert "book a flight to " in html
    assert "new intent?" in html  # the lights: dense, routed to None
    assert 'aria-current="page">Clusters' in html


def test_the_filters_swap_the_list_and_say_what_is_wrong(
    analyst_client: Client, traffic: Project
) -> None:
    fragment = analyst_client.get(
        URL, {"intent": "Book"}, **HTMX, HTTP_HX_TARGET="review-clusters"
    )
    bad = analyst_client.get(URL, {"min_size": "none"})

    html = fragment.content.decode()
    assert html.lstrip().startswith('<section id="review-clusters"')
    assert cluster_ids(html) == [cluster_of(traffic, BOOK[0])]
    assert bad.status_code == 400
    assert "Enter a whole number of queries." in bad.content.decode()


def test_open_a_cluster_uncheck_one_and_label_the_rest(
    analyst_client: Client, traffic: Project
) -> None:
    pk = cluster_of(traffic, BOOK[0])
    page = analyst_client.get(f"{URL}{pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    items = dict(
        PredictionLog.objects.filter(query__in=BOOK).values_list("query", "id")
    )
    assert all(f'id="cluster-item-{i}"' in html for i in items.values())
    keep = [items[t] for t in BOOK if t != "book a flight to rome"]

    response = analyst_client.post(
        f"{URL}{pk}/act",
        {
            "action": "label",
            "intent": "Book",
            "shown": list(items.values()),
            "item": keep,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == URL
    labeled = Utterance.objects.filter(project=traffic, intent__name="Book")
    assert sorted(u.text for u in labeled) == sorted(
        t for t in BOOK if t != "book a flight to rome"
    )
    assert PredictionLog.objects.get(query="book a flight to rome").review_status == (
        "pending"
    )
    assert {u.labeled_by.get_username() for u in labeled if u.labeled_by} == {
        "ana-analyst"
    }
    event: Any = AuditEvent.objects.get(action="review.cluster.label")
    assert event.username == "ana-analyst" and event.after["count"] == 3
    shown = analyst_client.get(URL).content.decode()
    assert "Labeled 3 queries as Book (1 excluded, still waiting)." in shown


def test_create_the_suggested_intent(analyst_client: Client, traffic: Project) -> None:
    pk = cluster_of(traffic, LIGHTS[0])
    html = analyst_client.get(f"{URL}{pk}/").content.decode()
    assert "from this cluster" in html
    ids = list(
        PredictionLog.objects.filter(query__in=LIGHTS).values_list("id", flat=True)
    )

    response = analyst_client.post(
        f"{URL}{pk}/act",
        {"action": "create", "new_intent": "LightsOff", "shown": ids, "item": ids},
    )

    assert response.status_code == 302
    assert Intent.objects.filter(project=traffic, name="LightsOff").exists()
    assert Utterance.objects.filter(intent__name="LightsOff").count() == 3


def test_a_taken_name_is_said_next_to_the_field_and_changes_nothing(
    analyst_client: Client, traffic: Project
) -> None:
    pk = cluster_of(traffic, LIGHTS[0])
    ids = list(
        PredictionLog.objects.filter(query__in=LIGHTS).values_list("id", flat=True)
    )

    response = analyst_client.post(
        f"{URL}{pk}/act",
        {"action": "create", "new_intent": "Book", "shown": ids, "item": ids},
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="cluster-new-intent-error"' in html
    assert 'value="Book"' in html  # what was typed stays
    assert not Utterance.objects.filter(project=traffic).exists()
    assert not AuditEvent.objects.filter(action__startswith="review.").exists()


def test_unchecking_everything_is_refused_in_plain_words(
    analyst_client: Client, traffic: Project
) -> None:
    pk = cluster_of(traffic, BOOK[0])
    ids = list(
        PredictionLog.objects.filter(query__in=BOOK).values_list("id", flat=True)
    )

    response = analyst_client.post(
        f"{URL}{pk}/act", {"action": "none", "shown": ids, "item": []}
    )

    assert response.status_code == 422
    assert "Every item is excluded" in response.content.decode()
    assert 'class="cluster-item is-excluded"' in response.content.decode()


def test_viewers_cannot_act(viewer_client: Client, traffic: Project) -> None:
    pk = cluster_of(traffic, BOOK[0])
    page = viewer_client.get(f"{URL}{pk}/").content.decode()
    assert 'value="none"' not in page

    response = viewer_client.post(f"{URL}{pk}/act", {"action": "none"})

    assert response.status_code == 403
    assert not Utterance.objects.filter(project=traffic).exists()


def test_a_gone_cluster_goes_back_to_the_list(
    analyst_client: Client, traffic: Project
) -> None:
    response = analyst_client.get(f"{URL}999999/", follow=True)

    assert response.redirect_chain[-1][0] == URL
    assert "That cluster is gone" in response.content.decode()
