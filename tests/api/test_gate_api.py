"""The deploy gate over HTTP: ``/api/v1/projects/{p}/gate`` and ``golden``, and the
gate on ``PUT deployments/{d}`` and ``:swap`` (409 in Azure's shape when blocked,
``gateOverrideReason`` for admins, ``warnings`` on the deploy job)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client

from jobs.models import Job
from projects.models import Intent, Project, Utterance
from projects.services.gate import evaluation_set_pin, project_gate_update
from studio.api.conditional import etag
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.azure_spec import assert_matches_azure_definition
from tests.training.model_helpers import make_trained_model
from tests.training.test_gate import BAD, GOOD, TEXTS
from tests.ui.conftest import UiProjects, UiUsers, make_projects, make_users
from training import deploy_jobs
from training.models import Deployment

pytestmark = pytest.mark.django_db

CLU = "/language/authoring/analyze-conversations/projects"
V1 = "/api/v1/projects"
V = "2023-04-01"


class KeyApi:
    def __init__(self, key: str, run: Callable[..., Any]) -> None:
        self.client = Client()
        self.key = key
        self.run = run

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        sep = "&" if "?" in path else "?"
        url = path if path.startswith(V1) else f"{path}{sep}api-version={V}"
        kwargs: dict[str, Any] = {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": self.key}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = (
                "application/merge-patch+json"
                if method == "patch"
                else "application/json"
            )
        with self.run(execute=True):
            return getattr(self.client, method)(url, **kwargs)

    def job(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 202, response.content
        location = urlsplit(response["Operation-Location"])
        body = self.client.get(
            f"{location.path}?{location.query}",
            HTTP_OCP_APIM_SUBSCRIPTION_KEY=self.key,
        )
        assert body.status_code == 200, body.content
        return dict(body.json())


@pytest.fixture
def ui_projects(db: None) -> UiProjects:
    return make_projects()


@pytest.fixture
def users(ui_projects: UiProjects) -> UiUsers:
    return make_users(ui_projects)


@pytest.fixture
def key_for(
    users: UiUsers, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Callable[[str | None], KeyApi]:
    def make(role: str | None) -> KeyApi:
        owner = users.get(role) if role else None
        _key, raw = apikey_create(name=f"key of {role}", created_by=owner)
        return KeyApi(raw, django_capture_on_commit_callbacks)

    return make


@pytest.fixture
def project(
    ui_projects: UiProjects, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Project:
    """``conv`` with a Test set, a good model serving ``production`` and a bad
    model trained; the Test set pinned."""
    project = ui_projects.conv
    intents = {
        name: Intent.objects.create(project=project, name=name)
        for name in ("Travel", "Weather")
    }
    for text, label in zip(TEXTS, GOOD, strict=True):
        Utterance.objects.create(
            project=project, text=text, intent=intents[label], dataset="Test"
        )
    make_trained_model(project, "good", TEXTS, GOOD)
    make_trained_model(project, "bad", TEXTS, BAD)
    with django_capture_on_commit_callbacks(execute=True):
        deploy_jobs.deploy_start(
            project_name=project.name,
            deployment_name="production",
            body={"trainedModelLabel": "good"},
        )
    evaluation_set_pin(project=project)
    return project


def _deploy_path(project: Project, name: str = "production", query: str = "") -> str:
    return f"{CLU}/{project.name}/deployments/{name}{query}"


def _serving(project: Project, name: str = "production") -> str:
    return Deployment.objects.get(project=project, name=name).model_label


# ---------------------------------------------------------------- setting and set


def test_gate_document_and_admin_setting(key_for: Any, project: Project) -> None:
    admin, analyst = key_for("admin"), key_for("analyst")
    got = analyst("get", f"{V1}/{project.name}/gate")
    assert got.status_code == 200
    body = got.json()
    assert body["maxAccuracyDrop"] is None
    assert body["pinned"]["utteranceCount"] == 6
    assert body["pinned"]["pinnedDateTime"].endswith("Z")
    assert body["goldenCount"] == 0 and body["gateSetCount"] == 6

    denied = analyst("patch", f"{V1}/{project.name}/gate", {"maxAccuracyDrop": 2})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Forbidden"

    saved = admin("patch", f"{V1}/{project.name}/gate", {"maxAccuracyDrop": 2.5})
    assert saved.status_code == 200, saved.content
    assert saved.json()["maxAccuracyDrop"] == 2.5
    off = admin("patch", f"{V1}/{project.name}/gate", {"maxAccuracyDrop": None})
    assert off.json()["maxAccuracyDrop"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"maxAccuracyDrop": "2"},
        {"maxAccuracyDrop": 101},
        {"maxAccuracyDrop": -0.5},
        {"maxAccuracyDrop": True},
        {},
        {"maxAccuracyDrop": 2, "other": 1},
        [2],
    ],
)
def test_bad_gate_settings_are_400_and_change_nothing(
    key_for: Any, project: Project, body: Any
) -> None:
    project_gate_update(project=project, max_drop=7)
    answer = key_for("admin")("patch", f"{V1}/{project.name}/gate", body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] in ("InvalidArgument", "InvalidRequest")
    project.refresh_from_db()
    assert project.gate_max_drop == 7


def test_pin_and_golden_through_the_api(key_for: Any, project: Project) -> None:
    analyst, viewer = key_for("analyst"), key_for("viewer")
    utterance = Utterance.objects.filter(project=project).first()
    assert utterance is not None
    Utterance.objects.filter(project=project).update(dataset="Train")
    pinned = analyst("post", f"{V1}/{project.name}/gate:pin")
    assert pinned.status_code == 200, pinned.content
    assert pinned.json()["pinned"]["utteranceCount"] == 0
    assert pinned.json()["pinned"]["pinnedBy"].startswith(
        "ana-analyst (API key key of analyst"
    )
    assert viewer("post", f"{V1}/{project.name}/gate:pin").status_code == 403

    path = f"{V1}/{project.name}/golden/{utterance.pk}"
    assert viewer("put", path).status_code == 403
    marked = analyst("put", path)
    assert marked.status_code == 200, marked.content
    assert marked.json()["golden"] is True
    shown = analyst("get", f"{V1}/{project.name}/utterances/{utterance.pk}")
    assert shown.json()["golden"] is True  # and its ETag moved with it
    assert shown["ETag"] != etag(utterance.version)
    listed = analyst("get", f"{V1}/{project.name}/golden").json()
    assert [item["id"] for item in listed["value"]] == [utterance.pk]
    gate = analyst("get", f"{V1}/{project.name}/gate").json()
    assert gate["goldenCount"] == 1 and gate["gateSetCount"] == 1
    assert analyst("delete", path).json()["golden"] is False
    missing = analyst("put", f"{V1}/{project.name}/golden/999999")
    assert missing.status_code == 404
    actions = set(
        AuditEvent.objects.filter(project_id=project.pk).values_list(
            "action", flat=True
        )
    )
    assert {"gate.pin", "utterance.golden"} <= actions


def test_knowledge_bases_have_no_gate(key_for: Any, ui_projects: UiProjects) -> None:
    answer = key_for(None)("get", f"{V1}/{ui_projects.kb.name}/gate")
    assert answer.status_code in (400, 404)
    assert "error" in answer.json()


# ---------------------------------------------------------------- deploys


def test_an_accepted_deploy_carries_the_comparison_as_job_warnings(
    key_for: Any, project: Project
) -> None:
    api = key_for(None)
    make_trained_model(project, "good2", TEXTS, GOOD)
    job = api.job(api("put", _deploy_path(project), {"trainedModelLabel": "good2"}))
    assert job["status"] == "succeeded"
    assert job["warnings"][0]["code"] == "DeployGate"
    assert (
        "on 6 utterances: accuracy 100.0% → 100.0% (no change)"
        in (job["warnings"][0]["message"])
    )
    assert_matches_azure_definition(
        job,
        "analyzeconversations-authoring.json",
        "ConversationalAnalysisAuthoringDeploymentJobState",
    )


def test_no_serving_model_passes_with_a_warning(key_for: Any, project: Project) -> None:
    api = key_for(None)
    project_gate_update(project=project, max_drop=0)
    job = api.job(
        api("put", _deploy_path(project, "staging"), {"trainedModelLabel": "bad"})
    )
    assert job["status"] == "succeeded"
    assert job["warnings"][0]["code"] == "DeployGateSkipped"
    assert "nothing serves deployment 'staging' yet" in job["warnings"][0]["message"]


def test_a_blocked_deploy_is_409_in_azures_shape_and_changes_nothing(
    key_for: Any, project: Project
) -> None:
    project_gate_update(project=project, max_drop=5)
    jobs = Job.objects.count()
    answer = key_for("admin")(
        "put", _deploy_path(project), {"trainedModelLabel": "bad"}
    )
    assert answer.status_code == 409, answer.content
    error = answer.json()["error"]
    assert error["code"] == "Conflict"
    assert error["message"].startswith("Deploy gate: model 'bad' is 100.0")
    assert "100.0 accuracy points worse than 'good'" in error["message"]
    assert "more than 5 points" in error["message"]
    assert "gateOverrideReason" in error["message"]
    assert_matches_azure_definition(
        answer.json(), "analyzeconversations-authoring.json", "ErrorResponse"
    )
    assert Job.objects.count() == jobs
    assert _serving(project) == "good"
    assert AuditEvent.objects.filter(action="deployment.gate_block").count() == 1


def test_an_admin_overrides_with_a_reason(key_for: Any, project: Project) -> None:
    project_gate_update(project=project, max_drop=5)
    api = key_for("admin")
    reason = quote("bad on purpose: browser demo")
    answer = api(
        "put",
        _deploy_path(project, query=f"?gateOverrideReason={reason}"),
        {"trainedModelLabel": "bad"},
    )
    job = api.job(answer)
    assert job["status"] == "succeeded", job
    assert [w["code"] for w in job["warnings"]] == [
        "DeployGate",
        "DeployGateOverridden",
    ]
    assert _serving(project) == "bad"
    event = AuditEvent.objects.get(action="deployment.gate_override")
    assert (event.after or {})["reason"] == "bad on purpose: browser demo"
    assert event.username == "alice-admin"


@pytest.mark.parametrize("reason", ["", "%20%20", "x" * 501])
def test_an_empty_or_too_long_reason_is_400(
    key_for: Any, project: Project, reason: str
) -> None:
    project_gate_update(project=project, max_drop=5)
    answer = key_for("admin")(
        "put",
        _deploy_path(project, query=f"?gateOverrideReason={reason}"),
        {"trainedModelLabel": "bad"},
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["target"] == "gateOverrideReason"
    assert _serving(project) == "good"


def test_only_admins_override(key_for: Any, project: Project, users: UiUsers) -> None:
    project_gate_update(project=project, max_drop=5)
    for role in ("analyst", "viewer"):
        answer = key_for(role)(
            "put",
            _deploy_path(project, query="?gateOverrideReason=because"),
            {"trainedModelLabel": "bad"},
        )
        assert answer.status_code == 403, answer.content
    assert _serving(project) == "good"


def test_swap_blocked_then_overridden(key_for: Any, project: Project) -> None:
    api = key_for(None)
    api.job(api("put", _deploy_path(project, "staging"), {"trainedModelLabel": "bad"}))
    project_gate_update(project=project, max_drop=5)
    body = {"firstDeploymentName": "production", "secondDeploymentName": "staging"}
    blocked = api("post", f"{CLU}/{project.name}/deployments/:swap", body)
    assert blocked.status_code == 409, blocked.content
    assert blocked.json()["error"]["message"].startswith("Deploy gate:")
    assert _serving(project) == "good"
    done = api.job(
        api(
            "post",
            f"{CLU}/{project.name}/deployments/:swap?gateOverrideReason=rollback",
            body,
        )
    )
    assert done["status"] == "succeeded", done
    assert _serving(project) == "bad" and _serving(project, "staging") == "good"


# ---------------------------------------------------------------- guarded deployments


def test_a_better_model_swapped_into_guarded_production_needs_no_override(
    key_for: Any, project: Project
) -> None:
    """The gate guards ``production`` only: a swap that promotes a better model from
    ``staging`` goes through although ``staging`` receives the worse one."""
    api = key_for(None)
    api.job(api("put", _deploy_path(project), {"trainedModelLabel": "bad"}))
    api.job(api("put", _deploy_path(project, "staging"), {"trainedModelLabel": "good"}))
    saved = key_for("admin")(
        "patch",
        f"{V1}/{project.name}/gate",
        {"maxAccuracyDrop": 5, "gatedDeployments": ["production"]},
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["gatedDeployments"] == ["production"]
    body = {"firstDeploymentName": "production", "secondDeploymentName": "staging"}
    done = api.job(api("post", f"{CLU}/{project.name}/deployments/:swap", body))
    assert done["status"] == "succeeded", done
    assert _serving(project) == "good" and _serving(project, "staging") == "bad"
    codes = {w["code"]: w["message"] for w in done["warnings"]}
    assert "DeployGateOverridden" not in codes
    assert "accuracy 0.0% → 100.0%" in codes["DeployGate"]
    assert "deployment 'staging' is not guarded" in codes["DeployGateSkipped"]
    assert AuditEvent.objects.filter(action="deployment.gate_block").count() == 0


def test_the_guarded_deployment_still_blocks(key_for: Any, project: Project) -> None:
    api = key_for(None)
    api.job(api("put", _deploy_path(project, "staging"), {"trainedModelLabel": "bad"}))
    project_gate_update(project=project, max_drop=5, gated_deployments=["production"])
    body = {"firstDeploymentName": "production", "secondDeploymentName": "staging"}
    blocked = api("post", f"{CLU}/{project.name}/deployments/:swap", body)
    assert blocked.status_code == 409, blocked.content
    assert "serving deployment 'production'" in blocked.json()["error"]["message"]
    assert "'staging'" not in blocked.json()["error"]["message"].split(". The")[0]
    answer = api("put", _deploy_path(project), {"trainedModelLabel": "bad"})
    assert answer.status_code == 409, answer.content
    assert _serving(project) == "good"


def test_a_deploy_to_an_unguarded_deployment_is_not_compared(
    key_for: Any, project: Project
) -> None:
    api = key_for(None)
    api.job(api("put", _deploy_path(project, "staging"), {"trainedModelLabel": "good"}))
    project_gate_update(project=project, max_drop=0, gated_deployments=["production"])
    job = api.job(
        api("put", _deploy_path(project, "staging"), {"trainedModelLabel": "bad"})
    )
    assert job["status"] == "succeeded", job
    assert [w["code"] for w in job["warnings"]] == ["DeployGateSkipped"]
    message = job["warnings"][0]["message"]
    assert "deployment 'staging' is not guarded" in message
    assert "guards only 'production'" in message
    assert _serving(project, "staging") == "bad"


def test_gated_deployments_setting_round_trip_and_audit(
    key_for: Any, project: Project
) -> None:
    admin = key_for("admin")
    assert admin("get", f"{V1}/{project.name}/gate").json()["gatedDeployments"] == []
    saved = admin(
        "patch",
        f"{V1}/{project.name}/gate",
        {"gatedDeployments": ["production", "eu.prod", "production"]},
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["gatedDeployments"] == ["production", "eu.prod"]
    project.refresh_from_db()
    assert project.gate_max_drop is None  # untouched by a patch without it
    event = AuditEvent.objects.filter(action="project.settings").latest("id")
    assert (event.before or {})["gateDeployments"] == []
    assert (event.after or {})["gateDeployments"] == ["production", "eu.prod"]
    cleared = admin("patch", f"{V1}/{project.name}/gate", {"gatedDeployments": []})
    assert cleared.json()["gatedDeployments"] == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("production", "must be a list"),
        ([1], "must be a list"),
        (["bad name"], "'bad name' is invalid"),
        (["..", "production"], "dots only"),
        (["swap"], "reserved"),
        ([f"d{i}" for i in range(11)], "at most 10"),
    ],
)
def test_bad_gated_deployments_are_400_and_change_nothing(
    key_for: Any, project: Project, value: Any, says: str
) -> None:
    project_gate_update(project=project, max_drop=7, gated_deployments=["production"])
    answer = key_for("admin")(
        "patch",
        f"{V1}/{project.name}/gate",
        {"maxAccuracyDrop": 1, "gatedDeployments": value},
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "InvalidArgument"
    assert error["target"] == "gatedDeployments"
    assert says in error["message"]
    assert_matches_azure_definition(
        answer.json(), "analyzeconversations-authoring.json", "ErrorResponse"
    )
    project.refresh_from_db()
    assert project.gate_max_drop == 7
    assert project.gate_deployments == ["production"]
