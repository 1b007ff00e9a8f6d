"""The audit trail: the studio and the API record who changed what (labels per
utterance with before/after, schema, settings, members, keys, jobs), append-only,
kept for the retention setting."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from projects.models import ProjectMembership, Utterance
from studio.audit import audit_events_purge, audit_record
from studio.models import AuditEvent
from studio.services import apikey_create, apikey_revoke
from tests.factories import (
    EntityFactory,
    EntitySpanFactory,
    IntentFactory,
    UtteranceFactory,
)
from tests.training.model_helpers import make_trained_model
from tests.ui.conftest import HTMX, UiProjects, UiUsers
from tests.ui.training_helpers import TRAVEL, WEATHER, run_jobs

pytestmark = pytest.mark.django_db

DATA = "/projects/conv/data/"
V1 = "/api/v1/projects/conv"


@pytest.fixture
def rows(ui_projects: UiProjects) -> dict[str, Any]:
    conv = ui_projects.conv
    book = IntentFactory.create(project=conv, name="Book")
    IntentFactory.create(project=conv, name="Cancel")
    city = EntityFactory.create(project=conv, name="City")
    first = UtteranceFactory.create(project=conv, intent=book, text="book Paris")
    second = UtteranceFactory.create(project=conv, intent=book, text="fly to Rome")
    span = EntitySpanFactory.create(utterance=first, entity=city, offset=5, length=5)
    return {"first": first, "second": second, "span": span}


def events(action: str | None = None, **filters: Any) -> list[Any]:
    """Events in order (typed loosely: tests index their JSON before/after)."""
    qs = AuditEvent.objects.order_by("id")
    if action is not None:
        qs = qs.filter(action=action)
    return list(qs.filter(**filters))


def api(key: str, method: str, path: str, body: Any) -> Any:
    return getattr(Client(), method)(
        path,
        json.dumps(body),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": key},
    )


def test_a_studio_label_change_is_recorded_with_before_after_and_who(
    analyst_client: Client, users: UiUsers, rows: Any
) -> None:
    pk = rows["first"].pk

    analyst_client.post(f"{DATA}{pk}/intent/", {"intent": "Cancel"}, **HTMX)

    (event,) = events("utterance.change")
    assert event.project_name == "conv"
    assert event.project_id == rows["first"].project_id
    assert (event.user_id, event.username) == (users.analyst.pk, "ana-analyst")
    assert event.api_key_id is None
    assert event.target == f"utterance {pk}"
    city = [{"category": "City", "offset": 5, "length": 5}]
    assert event.before == {
        "text": "book Paris",
        "intent": "Book",
        "dataset": None,
        "entities": city,
    }
    assert event.after == {**event.before, "intent": "Cancel"}


def test_span_removal_and_bulk_actions_record_one_event_per_utterance(
    admin_client_ui: Client, users: UiUsers, rows: Any
) -> None:
    first, second = rows["first"].pk, rows["second"].pk

    admin_client_ui.post(f"{DATA}{first}/spans/{rows['span'].pk}/delete/", **HTMX)
    admin_client_ui.post(
        f"{DATA}bulk/", {"action": "intent", "intent": "Cancel", "ids": [first, second]}
    )
    admin_client_ui.post(f"{DATA}undo/")

    changes = events("utterance.change")
    assert [e.target for e in changes] == [
        f"utterance {first}",  # span removed
        f"utterance {first}",  # bulk intent
        f"utterance {second}",
        f"utterance {first}",  # undo
        f"utterance {second}",
    ]
    assert changes[0].before["entities"] and changes[0].after["entities"] == []
    assert {e.after["intent"] for e in changes[1:3]} == {"Cancel"}
    assert {e.after["intent"] for e in changes[3:]} == {"Book"}
    assert {e.username for e in changes} == {"alice-admin"}


def test_adding_and_deleting_utterances_is_recorded(
    admin_client_ui: Client, rows: Any
) -> None:
    admin_client_ui.post(f"{DATA}add/", {"intent": "Book", "text": "a\nb"}, **HTMX)
    second = rows["second"].pk
    admin_client_ui.post(f"{DATA}bulk/", {"action": "delete", "ids": [second]})

    added = events("utterance.add")
    assert [e.after["text"] for e in added] == ["a", "b"]
    assert all(e.before is None for e in added)
    (deleted,) = events("utterance.delete")
    assert deleted.before["text"] == "fly to Rome" and deleted.after is None


def test_a_dataset_move_is_recorded_but_an_unchanged_write_is_not(
    analyst_client: Client, rows: Any
) -> None:
    pk = rows["second"].pk
    analyst_client.post(f"{DATA}{pk}/dataset/", {"dataset": "Test"}, **HTMX)
    analyst_client.post(f"{DATA}{pk}/dataset/", {"dataset": "Test"}, **HTMX)

    (event,) = events("utterance.change")
    assert (event.before["dataset"], event.after["dataset"]) == (None, "Test")


def test_api_changes_record_the_key_and_its_owner(users: UiUsers, rows: Any) -> None:
    personal_row, personal = apikey_create(name="mine", created_by=users.analyst)
    resource_row, shared = apikey_create(name="ci-bot")
    first = rows["first"].pk

    patched = api(personal, "patch", f"{V1}/utterances/{first}", {"intent": "Cancel"})
    created = api(shared, "post", f"{V1}/utterances", {"text": "hi", "intent": "Book"})

    assert patched.status_code == 200, patched.content
    assert created.status_code == 201, created.content
    (change,) = events("utterance.change")
    assert (change.user_id, change.api_key_id) == (users.analyst.pk, personal_row.pk)
    assert change.actor == f"ana-analyst (API key mine ({personal_row.prefix}…))"
    (added,) = events("utterance.add")
    assert (added.user_id, added.api_key_id) == (None, resource_row.pk)
    assert added.actor == f"API key ci-bot ({resource_row.prefix}…)"


def test_a_refused_change_records_nothing(analyst_client: Client, rows: Any) -> None:
    pk = rows["first"].pk
    response = analyst_client.post(f"{DATA}{pk}/intent/", {"intent": "Nope"}, **HTMX)

    assert response.status_code >= 400
    assert events() == []
    assert Utterance.objects.get(pk=pk).intent.name == "Book"


def test_schema_changes_are_recorded(admin_client_ui: Client, rows: Any) -> None:
    schema = "/projects/conv/schema/"
    admin_client_ui.post(schema + "intents/add", {"category": "Greet"}, **HTMX)
    greet = rows["first"].project.intents.get(name="Greet")
    admin_client_ui.post(
        schema + f"intents/{greet.pk}/rename", {"category": "Hello"}, **HTMX
    )
    admin_client_ui.post(schema + f"intents/{greet.pk}/delete", **HTMX)

    assert [(e.action, e.target) for e in events()] == [
        ("intent.create", "intent Greet"),
        ("intent.change", "intent Greet"),
        ("intent.delete", "intent Hello"),
    ]
    renamed = events("intent.change")[0]
    assert (renamed.before, renamed.after) == (
        {"category": "Greet"},
        {"category": "Hello"},
    )
    assert events("intent.delete")[0].before == {"category": "Hello", "utterances": 0}


def test_settings_and_members_are_recorded(
    admin_client_ui: Client, users: UiUsers, ui_projects: UiProjects
) -> None:
    settings_url = "/projects/conv/settings/"
    admin_client_ui.post(
        settings_url + "general",
        {"language": "en-us", "description": "Travel", "confidence_threshold": "0.4"},
    )
    viewer = ProjectMembership.objects.get(
        project=ui_projects.conv, user_id=users.viewer.pk
    )
    admin_client_ui.post(
        settings_url + f"members/{viewer.pk}/role", {"role": "analyst"}, **HTMX
    )
    admin_client_ui.post(settings_url + f"members/{viewer.pk}/remove")

    (changed,) = events("project.settings")
    assert changed.after["description"] == "Travel"
    assert changed.after["confidenceThreshold"] == 0.4
    assert set(changed.before) == set(changed.after)  # only what changed
    assert [(e.action, e.before, e.after) for e in events(action__startswith="m")] == [
        (
            "member.change",
            {"user": "vic-viewer", "role": "viewer"},
            {"user": "vic-viewer", "role": "analyst"},
        ),
        ("member.remove", {"user": "vic-viewer", "role": "analyst"}, None),
    ]


def test_deploys_and_swaps_are_recorded_when_asked_for(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    labels = ["Travel"] * len(TRAVEL) + ["Weather"] * len(WEATHER)
    make_trained_model(ui_projects.conv, "m1", TRAVEL + WEATHER, labels)
    base = "/projects/conv/deployments/"
    for name in ("production", "staging"):
        with run_jobs(django_capture_on_commit_callbacks):
            admin_client_ui.post(
                base + "deploy", {"deployment_name": name, "model_label": "m1"}, **HTMX
            )
    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(
            base + "swap", {"first": "production", "second": "staging"}, **HTMX
        )

    deploys = events("deployment.deploy")
    assert [e.after["trainedModelLabel"] for e in deploys] == ["m1", "m1"]
    assert [e.target for e in deploys] == [
        "deploy production",
        "deploy staging",
    ]
    assert all(e.username == "alice-admin" and e.after["jobId"] for e in deploys)
    (swap,) = events("deployment.swap")
    assert swap.after["firstDeploymentName"] == "production"


def test_keys_are_recorded_studio_wide(users: UiUsers) -> None:
    key, _ = apikey_create(name="bot", created_by=users.admin)
    apikey_revoke(api_key=key)

    assert [(e.action, e.project_name) for e in events()] == [
        ("key.create", ""),
        ("key.revoke", ""),
    ]


def test_events_are_append_only(ui_projects: UiProjects) -> None:
    event = audit_record(action="x.y", project=ui_projects.conv)

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="z")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "x.y"


def test_the_retention_purges_old_events_only(ui_projects: UiProjects) -> None:
    now = timezone.now()
    old = AuditEvent.objects.create(action="old.one", created_at=now - timedelta(11))
    new = AuditEvent.objects.create(action="new.one", created_at=now - timedelta(9))

    with override_settings(STUDIO_AUDIT_RETENTION_DAYS=0):
        assert audit_events_purge(now=now) == 0
    with override_settings(STUDIO_AUDIT_RETENTION_DAYS=10):
        assert audit_events_purge(now=now) == 1

    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(pk=new.pk).exists()


# ---------------------------------------------------------------- the screen

AUDIT = "/projects/conv/audit/"


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_every_member_reads_the_trail_and_sees_its_tab(
    client_for: Callable[[str], Client], rows: Any, role: str
) -> None:
    analyst = client_for("analyst")
    analyst.post(f"{DATA}{rows['first'].pk}/intent/", {"intent": "Cancel"}, **HTMX)

    page = client_for(role).get(AUDIT)

    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="{AUDIT}"' in html  # the project tab
    (event,) = events()
    row = html.split(f'id="audit-event-{event.pk}"')[1].split("</tr>")[0]
    assert "ana-analyst" in row and "utterance.change" in row
    assert "&quot;intent&quot;: &quot;Cancel&quot;" in row  # after, as JSON


def test_outsiders_and_anonymous_users_get_nothing(
    outsider_client: Client, client: Client, rows: Any
) -> None:
    assert outsider_client.get(AUDIT).status_code == 404
    assert outsider_client.get(AUDIT + "export.jsonl").status_code == 404
    assert client.get(AUDIT).status_code == 302


def test_the_trail_of_another_project_is_not_shown(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    audit_record(action="intent.create", project=ui_projects.orch, target="intent X")

    html = admin_client_ui.get(AUDIT).content.decode()

    assert "intent X" not in html
    assert 'id="audit-empty"' in html


def test_filters_by_what_who_target_and_date(
    admin_client_ui: Client, analyst_client: Client, users: UiUsers, rows: Any
) -> None:
    first = rows["first"].pk
    analyst_client.post(f"{DATA}{first}/intent/", {"intent": "Cancel"}, **HTMX)
    admin_client_ui.post("/projects/conv/schema/intents/add", {"category": "G"}, **HTMX)
    label, schema = events("utterance.change")[0], events("intent.create")[0]
    today = timezone.localdate().isoformat()
    htmx = {**HTMX, "HTTP_HX_TARGET": "audit-events"}

    def shown(**query: str) -> set[int]:
        html = admin_client_ui.get(AUDIT, query, **htmx).content.decode()
        return {e.pk for e in (label, schema) if f'id="audit-event-{e.pk}"' in html}

    assert shown() == {label.pk, schema.pk}
    assert shown(action="utterance") == {label.pk}
    assert shown(action="intent") == {schema.pk}
    assert shown(user=f"user:{users.analyst.pk}") == {label.pk}
    assert shown(user=f"user:{users.admin.pk}") == {schema.pk}
    assert shown(target=f"utterance {first}") == {label.pk}
    assert shown(since=today, until=today) == {label.pk, schema.pk}
    assert shown(until="2000-01-01") == set()
    fragment = admin_client_ui.get(AUDIT, **htmx).content.decode()
    assert 'id="audit-events"' in fragment and "<html" not in fragment


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"user": "user:x"}, "Choose someone from the list."),
        ({"action": "nothing"}, "Choose a kind of change from the list."),
        ({"since": "yesterday"}, "Enter a date such as 2026-01-31."),
        (
            {"since": "2026-02-01", "until": "2026-01-01"},
            "The end date is before the start date.",
        ),
    ],
)
def test_a_bad_filter_is_explained_in_plain_words(
    viewer_client: Client, rows: Any, query: dict[str, str], message: str
) -> None:
    page = viewer_client.get(AUDIT, query)
    export = viewer_client.get(AUDIT + "export.jsonl", query)

    assert page.status_code == 400
    assert message in page.content.decode()
    assert export.status_code == 400
    assert message in export.content.decode()


def test_older_events_are_paged_newest_first(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    for n in range(105):
        audit_record(action="intent.create", project=ui_projects.conv, target=f"i{n}")

    first = admin_client_ui.get(AUDIT, {"action": "intent"}).content.decode()
    newest = events()[-1].pk
    oldest_shown = events()[5].pk
    assert f'id="audit-event-{newest}"' in first
    assert f'id="audit-event-{oldest_shown}"' in first
    assert f'id="audit-event-{events()[4].pk}"' not in first
    link = f"?action=intent&amp;before={oldest_shown}"
    assert link in first
    second = admin_client_ui.get(
        AUDIT, {"action": "intent", "before": oldest_shown}
    ).content.decode()
    assert second.count('id="audit-event-') == 5
    assert 'id="audit-older"' not in second


def test_the_export_is_json_lines_oldest_first_with_the_filter(
    admin_client_ui: Client, analyst_client: Client, rows: Any
) -> None:
    first = rows["first"].pk
    analyst_client.post(f"{DATA}{first}/intent/", {"intent": "Cancel"}, **HTMX)
    analyst_client.post(f"{DATA}{first}/dataset/", {"dataset": "Test"}, **HTMX)
    admin_client_ui.post("/projects/conv/schema/intents/add", {"category": "G"}, **HTMX)

    response = admin_client_ui.get(AUDIT + "export.jsonl", {"action": "utterance"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/jsonl")
    assert 'filename="conv-audit.jsonl"' in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    docs = [json.loads(line) for line in lines]
    assert [d["action"] for d in docs] == ["utterance.change", "utterance.change"]
    assert docs[0]["id"] < docs[1]["id"]
    assert docs[0]["actor"]["user"] == "ana-analyst"
    assert docs[0]["before"]["intent"] == "Book"
    assert docs[0]["after"]["intent"] == "Cancel"
    assert docs[1]["after"]["dataset"] == "Test"
    assert docs[0]["project"] == "conv" and docs[0]["target"] == f"utterance {first}"


# ---------------------------------------------------------------- studio-wide


def test_people_managers_read_the_studio_wide_trail(
    client_for: Callable[[str], Client], users: UiUsers
) -> None:
    key, _ = apikey_create(name="bot", created_by=users.admin)
    apikey_revoke(api_key=key)
    superuser = client_for("superuser")

    page = superuser.get("/people/audit/").content.decode()
    export = superuser.get("/people/audit/export.jsonl", {"action": "key"})
    people = superuser.get("/people/").content.decode()

    assert "key.create" in page and "key.revoke" in page
    assert 'href="/people/audit/"' in people
    lines = b"".join(export.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert [json.loads(line)["action"] for line in lines] == [
        "key.create",
        "key.revoke",
    ]
    assert 'filename="studio-audit.jsonl"' in export["Content-Disposition"]
    # Project admins manage their projects, not the studio.
    assert client_for("admin").get("/people/audit/").status_code == 403


def test_an_api_utterance_import_is_one_event_with_its_counts(
    users: UiUsers, rows: Any
) -> None:
    key_row, key = apikey_create(name="loader")
    document = [
        {"text": "hello", "intent": "Greet"},
        {"text": "bye", "intent": "Book"},
    ]

    response = api(key, "post", f"{V1}/utterances:import", document)

    assert response.status_code in (200, 201), response.content
    (event,) = events("utterances.import")
    assert event.after == {"utterances": 2, "newIntents": ["Greet"], "newEntities": []}
    assert event.api_key_id == key_row.pk
    assert events("utterance.add") == []  # one event for the import, not per row


def test_a_knowledge_base_update_applied_in_the_request_is_recorded(
    ui_projects: UiProjects,
) -> None:
    from projects.services.kb import kb_qnas_update_as_job

    op = {"op": "add", "value": {"id": 1, "answer": "9 to 5", "questions": ["hours?"]}}
    job = kb_qnas_update_as_job(project=ui_projects.kb, operations=[op])

    (event,) = events("kb.update")
    assert event.project_name == "kb" and event.after == {"jobId": job.job_id}


def test_every_filter_of_the_trail_is_named_by_its_label(
    analyst_client: Client, rows: Any
) -> None:
    """axe's select-name (critical): the "What" label named ``audit-action`` while
    Django rendered the select as ``id_action``."""
    html = analyst_client.get(AUDIT).content.decode()
    for target in re.findall(r'<label for="(audit-[a-z]+)"', html):
        assert f'id="{target}"' in html, target
