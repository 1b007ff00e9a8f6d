"""HTTP target secrets and rights over the API: a viewer reads masks, never the key
or headers (``/api/v1`` and the Azure export); only project admins and resource
keys create or change LUIS/HTTP targets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from projects import services
from projects.models import Intent
from studio.services import apikey_create
from tests.api.test_roles_api import KeyClient
from tests.ui.conftest import UiProjects, UiUsers, make_projects, make_users

pytestmark = pytest.mark.django_db

V1 = "/api/v1/projects/orch/intents"
CONV = "/language/authoring/analyze-conversations"
KEY = "full-access-resource-key-0123456789"
TOKEN = "Bearer very-secret-token"


def http_link(url: str = "https://bots.example.com/p", **extra: Any) -> dict[str, Any]:
    target = {"url": url, **extra}
    return {"targetProjectKind": "Http", "httpOrchestration": target}


@pytest.fixture
def ui_projects(db: None) -> UiProjects:
    projects = make_projects()
    services.intent_create(
        project=projects.orch,
        data={
            "category": "Weather",
            "orchestration": http_link(headers={"Authorization": TOKEN}, key=KEY),
        },
    )
    return projects


@pytest.fixture
def key_for(ui_projects: UiProjects) -> Any:
    """A key of a user with ``role`` in every project (None: a resource key)."""
    users: UiUsers = make_users(ui_projects)

    def make(role: str | None) -> KeyClient:
        owner = users.get(role) if role else None
        return KeyClient(apikey_create(name=f"key of {role}", created_by=owner)[1])

    return make


def v1(api: KeyClient, method: str, path: str, body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": api.key}
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(api.client, method)(path, **kwargs)


def assert_no_secret(content: bytes) -> None:
    text = content.decode()
    assert KEY not in text and "very-secret-token" not in text


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin", None])
def test_every_role_reads_masks_only(key_for: Any, role: str | None) -> None:
    api = key_for(role)
    one = v1(api, "get", f"{V1}/Weather")
    listed = v1(api, "get", V1)
    assert one.status_code == 200 and listed.status_code == 200
    assert one.json()["orchestration"]["httpOrchestration"] == {
        "url": "https://bots.example.com/p",
        "headers": {"Authorization": "***"},
        "key": "***",
    }
    assert_no_secret(one.content)
    assert_no_secret(listed.content)


def test_the_azure_export_masks_the_secrets(
    key_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api = key_for("viewer")
    with django_capture_on_commit_callbacks(execute=True):
        started = api.call(
            "post", f"{CONV}/projects/orch/:export?stringIndexType=Utf16CodeUnit"
        )
    assert started.status_code == 202, started.content
    job = api.call("get", urlsplit(started["operation-location"]).path)
    url = urlsplit(job.json()["resultUrl"])
    result = api.client.get(
        f"{url.path}?{url.query}", HTTP_OCP_APIM_SUBSCRIPTION_KEY=api.key
    )
    assert result.status_code == 200
    assert_no_secret(result.content)
    assert '"key": "***"' in result.content.decode().replace('":"', '": "')


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", V1, {"category": "Steal", "orchestration": http_link()}),
        ("patch", f"{V1}/Weather", {"orchestration": http_link("https://evil.test")}),
        ("patch", f"{V1}/Weather", {"orchestration": None}),
        (
            "post",
            V1,
            {
                "category": "Legacy",
                "orchestration": {
                    "targetProjectKind": "Luis",
                    "luisOrchestration": {"appId": "app"},
                },
            },
        ),
    ],
)
def test_an_analyst_key_cannot_create_or_change_external_targets(
    key_for: Any, ui_projects: UiProjects, method: str, path: str, body: Any
) -> None:
    response = v1(key_for("analyst"), method, path, body)
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "Forbidden"
    weather = Intent.objects.get(project=ui_projects.orch, name="Weather")
    assert weather.http_url == "https://bots.example.com/p"
    assert not Intent.objects.filter(name__in=["Steal", "Legacy"]).exists()


def test_an_analyst_may_still_rename_and_add_routing_intents(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api = key_for("analyst")
    renamed = v1(api, "patch", f"{V1}/Weather", {"category": "Forecast"})
    assert renamed.status_code == 200, renamed.content
    added = v1(api, "post", V1, {"category": "Chitchat"})
    assert added.status_code == 201, added.content
    forecast = Intent.objects.get(project=ui_projects.orch, name="Forecast")
    assert forecast.http_key.startswith("fernet:")


@pytest.mark.parametrize("role", ["admin", None])
def test_admins_and_resource_keys_change_targets(
    key_for: Any, ui_projects: UiProjects, role: str | None
) -> None:
    api = key_for(role)
    created = v1(
        api, "post", V1, {"category": "Bot", "orchestration": http_link(key="k1")}
    )
    assert created.status_code == 201, created.content
    assert created.json()["orchestration"]["httpOrchestration"]["key"] == "***"
    changed = v1(
        api,
        "patch",
        f"{V1}/Weather",
        {"orchestration": http_link(headers={"Authorization": "***"}, key="***")},
    )
    assert changed.status_code == 200, changed.content


def test_private_hosts_are_refused_when_saved(
    key_for: Any, ui_projects: UiProjects, settings: Any
) -> None:
    api = key_for("admin")
    for url in ("http://127.0.0.1:6379/", "http://localhost/x", "http://[::1]/x"):
        body = {"category": "L", "orchestration": http_link(url)}
        response = v1(api, "post", V1, body)
        assert response.status_code == 400, (url, response.content)
        error = response.json()["error"]
        assert "STUDIO_TARGET_ALLOWED_HOSTS" in json.dumps(error)
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    allowed = v1(
        api,
        "post",
        V1,
        {"category": "L", "orchestration": http_link("http://127.0.0.1:8080/")},
    )
    assert allowed.status_code == 201, allowed.content
