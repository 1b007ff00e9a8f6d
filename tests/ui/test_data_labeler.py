"""Who labeled last: the studio and the API record it on the utterance (a user, a
personal key's owner, or "API key <name>" for a resource key); the Data screen shows
it in a column and filters by it, through an index."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from projects.models import Project, Utterance
from projects.selectors import labeling as sl
from studio.services import apikey_create
from tests.factories import (
    EntityFactory,
    EntitySpanFactory,
    IntentFactory,
    UtteranceFactory,
)
from tests.ui.conftest import HTMX, UiProjects, UiUsers

pytestmark = pytest.mark.django_db

TABLE = {**HTMX, "HTTP_HX_TARGET": "utterance-table"}
V1 = "/api/v1/projects/conv"


def url(suffix: str = "") -> str:
    return f"/projects/conv/data/{suffix}"


@pytest.fixture
def rows(ui_projects: UiProjects) -> dict[str, Any]:
    conv = ui_projects.conv
    book = IntentFactory.create(project=conv, name="Book")
    IntentFactory.create(project=conv, name="Cancel")
    city = EntityFactory.create(project=conv, name="City")
    first = UtteranceFactory.create(project=conv, intent=book, text="book Paris")
    second = UtteranceFactory.create(project=conv, intent=book, text="fly to Rome")
    span = EntitySpanFactory.create(utterance=first, entity=city, offset=5, length=5)
    return {"first": first, "second": second, "span": span, "city": city}


def labeler_of(pk: int) -> tuple[int | None, int | None]:
    row = Utterance.objects.get(pk=pk)
    return row.labeled_by_id, row.labeled_by_key_id


def api(key: str, method: str, path: str, body: Any) -> Any:
    return getattr(Client(), method)(
        path,
        json.dumps(body),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": key},
    )


def test_every_studio_labeling_action_records_the_user(
    analyst_client: Client, admin_client_ui: Client, users: UiUsers, rows: Any
) -> None:
    first, second = rows["first"].pk, rows["second"].pk
    analyst, admin = users.analyst.pk, users.admin.pk

    analyst_client.post(url(f"{first}/intent/"), {"intent": "Cancel"}, **HTMX)
    assert labeler_of(first) == (analyst, None)

    admin_client_ui.post(url(f"{first}/spans/{rows['span'].pk}/delete/"), {}, **HTMX)
    assert labeler_of(first) == (admin, None)

    analyst_client.post(
        url(f"{first}/spans/"), {"entity": "City", "offset": 0, "length": 4}, **HTMX
    )
    assert labeler_of(first) == (analyst, None)

    admin_client_ui.post(
        url("bulk/"), {"action": "intent", "intent": "Book", "ids": [first, second]}
    )
    assert labeler_of(first) == labeler_of(second) == (admin, None)

    analyst_client.post(url("add/"), {"intent": "Book", "text": "new one"}, **HTMX)
    added = Utterance.objects.get(text="new one")
    assert (added.labeled_by_id, added.labeled_by_key_id) == (analyst, None)


def test_a_dataset_move_is_not_labeling(
    analyst_client: Client, users: UiUsers, rows: Any
) -> None:
    pk = rows["second"].pk
    analyst_client.post(url(f"{pk}/dataset/"), {"dataset": "Test"}, **HTMX)

    assert labeler_of(pk) == (None, None)


def test_the_api_records_a_personal_keys_owner_or_the_resource_key(
    users: UiUsers, rows: Any
) -> None:
    _, personal = apikey_create(name="mine", created_by=users.analyst)
    resource, shared = apikey_create(name="ci-bot")
    first, second = rows["first"].pk, rows["second"].pk

    patched = api(personal, "patch", f"{V1}/utterances/{first}", {"intent": "Cancel"})
    batch = api(
        shared,
        "post",
        f"{V1}/utterances:batch-update",
        {"ids": [second], "intent": "Cancel"},
    )
    created = api(shared, "post", f"{V1}/utterances", {"text": "hi", "intent": "Book"})

    assert patched.status_code == 200, patched.content
    assert labeler_of(first) == (users.analyst.pk, None)
    assert batch.status_code == 200, batch.content
    assert labeler_of(second) == (None, resource.pk)
    assert created.status_code == 201, created.content
    assert labeler_of(created.json()["id"]) == (None, resource.pk)


def test_an_api_text_only_change_keeps_the_labeler(users: UiUsers, rows: Any) -> None:
    _, personal = apikey_create(name="mine", created_by=users.analyst)
    pk = rows["second"].pk
    Utterance.objects.filter(pk=pk).update(labeled_by=users.admin)

    api(personal, "patch", f"{V1}/utterances/{pk}", {"dataset": "Train"})

    assert labeler_of(pk) == (users.admin.pk, None)


def test_the_table_shows_and_filters_by_who_labeled_last(
    viewer_client: Client, users: UiUsers, rows: Any
) -> None:
    resource, _ = apikey_create(name="ci-bot")
    first, second = rows["first"], rows["second"]
    Utterance.objects.filter(pk=first.pk).update(labeled_by=users.analyst)
    Utterance.objects.filter(pk=second.pk).update(labeled_by_key=resource)
    third = UtteranceFactory.create(
        project=first.project, intent=first.intent, text="imported"
    )

    page = viewer_client.get(url()).content.decode()
    by_analyst = viewer_client.get(
        url(), {"labeler": f"user:{users.analyst.pk}"}, **TABLE
    ).content.decode()
    by_key = viewer_client.get(url(), {"labeler": f"key:{resource.pk}"}).content
    nobody = viewer_client.get(url(), {"labeler": "nobody"}, **TABLE).content.decode()

    assert '<th scope="col">Labeled by</th>' in page
    row = page.split(f'id="utterance-{first.pk}"')[1].split("</tr>")[0]
    assert 'class="utt-labeler">ana-analyst<' in row
    assert "API key ci-bot" in page.split(f'id="utterance-{second.pk}"')[1]
    assert f'<option value="user:{users.analyst.pk}">ana-analyst</option>' in page
    assert f'<option value="key:{resource.pk}">API key ci-bot</option>' in page
    assert f'id="utterance-{first.pk}"' in by_analyst
    assert f'id="utterance-{second.pk}"' not in by_analyst
    assert f'id="utterance-{second.pk}"'.encode() in by_key
    assert f'id="utterance-{first.pk}"'.encode() not in by_key
    assert f'id="utterance-{third.pk}"' in nobody
    assert f'id="utterance-{first.pk}"' not in nobody
    selected = viewer_client.get(url(), {"labeler": f"user:{users.analyst.pk}"})
    assert f'value="user:{users.analyst.pk}" selected' in selected.content.decode()


@pytest.mark.parametrize("value", ["everyone", "user:x", "key:", "user:1;drop"])
def test_a_bad_labeler_filter_is_refused_without_a_server_error(
    viewer_client: Client, rows: Any, value: str
) -> None:
    response = viewer_client.get(url(), {"labeler": value})

    assert response.status_code == 400  # as for every other bad filter value
    assert "Choose someone from the list." in response.content.decode()


def test_a_deleted_user_leaves_the_utterance_unattributed(
    users: UiUsers, rows: Any
) -> None:
    pk = rows["first"].pk
    Utterance.objects.filter(pk=pk).update(labeled_by=users.outsider)

    users.outsider.delete()

    assert labeler_of(pk) == (None, None)


def test_the_labeler_filter_uses_its_index(ui_projects: UiProjects) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plan")
    project: Project = ui_projects.conv
    qs = sl.utterances_filtered(
        project=project, filters=sl.UtteranceFilter(labeler="user:1")
    )
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())

    assert "utt_project_labeler" in plan


@pytest.mark.django_db(transaction=True)
def test_a_labeling_save_takes_the_write_lock_once(
    analyst_client: Client, rows: Any
) -> None:
    """On SQLite every write transaction queues for the one write lock by itself:
    the assign-intent keystroke (row, undo step, audit row, project touch) is one
    transaction, and nothing else in the request (session, last login) writes."""
    first = rows["first"].pk
    # Warm: the first request of a session may write it.
    analyst_client.post(url(f"{first}/intent/"), {"intent": "Cancel"}, **HTMX)
    takes: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        head = sql.lstrip()[:6].upper()
        if head.startswith("BEGIN") or (
            not connection.in_atomic_block
            and head.startswith(("INSERT", "UPDATE", "DELETE"))
        ):
            takes.append(sql[:60])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = analyst_client.post(
            url(f"{first}/intent/"), {"intent": "Book"}, **HTMX
        )

    assert response.status_code == 200
    assert takes == ["BEGIN IMMEDIATE"] or takes == ["BEGIN"], takes
    assert Utterance.objects.get(pk=first).intent.name == "Book"
