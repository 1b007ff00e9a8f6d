"""Per-project roles on the Azure API: a key made by a user acts with that user's
roles; a key with no owner (``createapikey``) is a resource key with full access."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from projects.models import Intent, Project, ProjectMembership, Utterance
from studio.services import apikey_create
from tests.ui.conftest import UiProjects, UiUsers, make_projects, make_users

pytestmark = pytest.mark.django_db

V = "2023-04-01"
QV = "2021-10-01"
CONV = "/language/authoring/analyze-conversations"
QNA = "/language/query-knowledgebases"


class KeyClient:
    def __init__(self, key: str) -> None:
        self.client = Client()
        self.key = key

    def call(
        self, method: str, path: str, body: Any = None, *, version: str = V
    ) -> Any:
        sep = "&" if "?" in path else "?"
        kwargs: dict[str, Any] = {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": self.key}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = (
                "application/merge-patch+json"
                if method == "patch"
                else "application/json"
            )
        return getattr(self.client, method)(
            f"{path}{sep}api-version={version}", **kwargs
        )


@pytest.fixture
def ui_projects(db: None) -> UiProjects:
    return make_projects()


@pytest.fixture
def users(ui_projects: UiProjects) -> UiUsers:
    return make_users(ui_projects)


@pytest.fixture
def key_for(users: UiUsers) -> Any:
    def make(role: str | None) -> KeyClient:
        owner = users.get(role) if role else None
        _key, raw = apikey_create(name=f"key of {role}", created_by=owner)
        return KeyClient(raw)

    return make


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_a_resource_key_reads_and_changes_every_project(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api = key_for(None)

    listed = api.call("get", f"{CONV}/projects").json()["value"]
    patched = api.call(
        "patch", f"{CONV}/projects/conv", {"description": "by the resource key"}
    )

    assert {p["projectName"] for p in listed} == {"conv", "orch"}
    assert patched.status_code == 200
    assert Project.objects.get(name="conv").description == "by the resource key"


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_members_read_their_project(
    key_for: Any, ui_projects: UiProjects, role: str
) -> None:
    api = key_for(role)

    response = api.call("get", f"{CONV}/projects/conv")

    assert response.status_code == 200
    assert response.json()["projectName"] == "conv"


def test_a_non_member_gets_project_not_found_as_for_a_missing_project(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api = key_for("outsider")

    existing = api.call("get", f"{CONV}/projects/conv")
    missing = api.call("get", f"{CONV}/projects/nowhere")
    kb = api.call("get", f"{QNA}/projects/kb", version=QV)
    v1 = api.client.get(
        "/api/v1/projects/conv/intents", HTTP_OCP_APIM_SUBSCRIPTION_KEY=api.key
    )

    assert existing.status_code == missing.status_code == 404
    assert error_code(existing) == error_code(missing) == "ProjectNotFound"
    assert kb.status_code == 404
    assert v1.status_code == 404


def test_project_lists_show_only_the_projects_the_key_owner_may_read(
    key_for: Any, users: UiUsers, ui_projects: UiProjects
) -> None:
    ProjectMembership.objects.filter(
        user_id=users.viewer.pk, project__name="orch"
    ).delete()

    viewer = key_for("viewer").call("get", f"{CONV}/projects").json()["value"]
    outsider = key_for("outsider").call("get", f"{CONV}/projects").json()["value"]
    kb_list = key_for("viewer").call("get", f"{QNA}/projects", version=QV).json()
    superuser = key_for("superuser").call("get", f"{CONV}/projects").json()["value"]

    assert [p["projectName"] for p in viewer] == ["conv"]
    assert outsider == []
    assert [p["projectName"] for p in kb_list["value"]] == ["kb"]
    assert {p["projectName"] for p in superuser} == {"conv", "orch"}


def test_a_viewer_cannot_write_and_gets_forbidden_in_azure_shape(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api = key_for("viewer")
    before = Intent.objects.filter(project__name="conv").count()

    intent = api.client.post(
        "/api/v1/projects/conv/intents",
        data=json.dumps({"category": "Greet"}),
        content_type="application/json",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=api.key,
    )
    settings = api.call("patch", f"{CONV}/projects/conv", {"description": "x"})

    assert intent.status_code == 403
    assert error_code(intent) == "Forbidden"
    assert intent["x-ms-error-code"] == "Forbidden"
    assert settings.status_code == 403
    assert Intent.objects.filter(project__name="conv").count() == before
    assert Project.objects.get(name="conv").description == ""


def test_an_analyst_labels_but_may_not_change_settings_or_delete(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api = key_for("analyst")

    intent = api.client.post(
        "/api/v1/projects/conv/intents",
        data=json.dumps({"category": "Greet"}),
        content_type="application/json",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=api.key,
    )
    settings = api.call("patch", f"{CONV}/projects/conv", {"description": "x"})
    deleted = api.call("delete", f"{CONV}/projects/conv")
    kb_deleted = api.call("delete", f"{QNA}/projects/kb", version=QV)

    assert intent.status_code == 201, intent.content
    assert settings.status_code == 403
    assert deleted.status_code == 403
    assert kb_deleted.status_code == 403
    assert Project.objects.filter(name__in=["conv", "kb"]).count() == 2


def test_a_viewer_may_export(key_for: Any, ui_projects: UiProjects) -> None:
    api = key_for("viewer")

    response = api.call(
        "post", f"{CONV}/projects/conv/:export?stringIndexType=Utf16CodeUnit"
    )

    assert response.status_code == 202


def test_an_admin_deletes_the_project(
    key_for: Any, ui_projects: UiProjects, django_capture_on_commit_callbacks: Any
) -> None:
    api = key_for("admin")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.call("delete", f"{CONV}/projects/conv")

    assert response.status_code == 202
    assert not Project.objects.filter(name="conv").exists()


def test_a_project_created_with_a_user_key_makes_that_user_its_admin(
    key_for: Any, users: UiUsers, ui_projects: UiProjects
) -> None:
    api = key_for("outsider")

    created = api.call(
        "patch",
        f"{CONV}/projects/Fresh",
        {"projectName": "Fresh", "projectKind": "Conversation", "language": "en-us"},
    )
    kb = api.call("patch", f"{QNA}/projects/FreshKb", {"language": "en"}, version=QV)

    assert created.status_code == 201
    assert kb.status_code == 201, kb.content
    roles = dict(
        ProjectMembership.objects.filter(user_id=users.outsider.pk).values_list(
            "project__name", "role"
        )
    )
    assert roles == {"Fresh": "admin", "FreshKb": "admin"}
    assert api.call("get", f"{CONV}/projects/Fresh").status_code == 200


def test_an_import_with_a_user_key_makes_that_user_admin_of_the_new_project(
    key_for: Any,
    users: UiUsers,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Any,
) -> None:
    api = key_for("viewer")
    document = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Conversation",
            "projectName": "Imported",
            "language": "en-us",
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": "None"}, {"category": "Hi"}],
            "utterances": [{"text": "hello", "intent": "Hi"}],
        },
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = api.call("post", f"{CONV}/projects/Imported/:import", document)

    assert response.status_code == 202, response.content
    assert Utterance.objects.filter(project__name="Imported").count() == 1
    assert (
        ProjectMembership.objects.get(
            project__name="Imported", user_id=users.viewer.pk
        ).role
        == "admin"
    )


def test_a_viewer_cannot_replace_a_project_by_import(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api = key_for("viewer")

    response = api.call("post", f"{CONV}/projects/conv/:import", {"metadata": {}})

    assert response.status_code == 403


def test_a_deletion_job_of_another_users_project_is_not_found(
    key_for: Any, ui_projects: UiProjects
) -> None:
    admin = key_for("admin")
    job = admin.call("delete", f"{CONV}/projects/conv")  # not run: no on-commit
    job_path = job["operation-location"].split("?")[0].split("/language")[1]

    outsider = key_for("outsider").call("get", f"/language{job_path}")
    own = admin.call("get", f"/language{job_path}")

    assert own.status_code == 200
    assert outsider.status_code == 404


def test_a_key_of_a_deactivated_user_is_refused_as_an_invalid_key(
    key_for: Any, users: UiUsers, ui_projects: UiProjects
) -> None:
    api = key_for("admin")
    users.admin.is_active = False
    users.admin.save()

    response = api.call("get", f"{CONV}/projects/conv")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"


def _routes(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    from django.urls import URLPattern, URLResolver

    found: list[tuple[str, Any]] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None:
                found.append((prefix + str(pattern.pattern), view_class))
    return found


def test_every_authoring_view_of_a_project_checks_roles_before_its_handler() -> None:
    """A new view under projects/apis with ``<project_name>`` in its path cannot
    forget the role check: it must declare the action of each of its methods."""
    from django.urls import get_resolver

    unchecked = [
        f"{route} ({view.__name__}.{method})"
        for route, view in _routes(get_resolver().url_patterns)
        if "<str:project_name>" in route and view.__module__.startswith("projects.")
        for method in ("get", "post", "put", "patch", "delete")
        if hasattr(view, method)
        and (view.project_actions is None or method not in view.project_actions)
    ]

    assert unchecked == []


def test_deleting_a_user_revokes_their_keys_instead_of_freeing_them(
    key_for: Any, users: UiUsers, ui_projects: UiProjects
) -> None:
    api = key_for("viewer")
    resource = key_for(None)
    users.viewer.delete()

    assert api.call("get", f"{CONV}/projects").status_code == 401
    assert api.call("delete", f"{CONV}/projects/conv").status_code == 401
    assert resource.call("get", f"{CONV}/projects").status_code == 200
