"""Deployment APIs over HTTP (eager Celery): conversation deployments (§3.7) and
knowledge-base deployments on both question-answering prefixes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from jobs.models import Job
from projects.models import Project, QnaPair
from studio.deployment_state import deployment_state_version
from studio.services import apikey_create
from tests.factories import KbProjectFactory, ProjectFactory
from tests.training.model_helpers import make_trained_model
from training.artifact_store import artifact_load
from training.models import Deployment, TrainedModel

pytestmark = pytest.mark.django_db

CLU = "/language/authoring/analyze-conversations/projects"
QNA = "/language/authoring/query-knowledgebases/projects"
QNA_LEGACY = "/language/query-knowledgebases/projects"
V = "2023-04-01"
TEXTS = ["book a flight", "fly to rome", "plane tickets please"] + [
    "weather today",
    "is it raining",
    "sunny tomorrow?",
]
LABELS = ["Travel"] * 3 + ["Weather"] * 3
DEPLOYMENT_KEYS = {
    "deploymentName",
    "modelId",
    "lastTrainedDateTime",
    "lastDeployedDateTime",
    "deploymentExpirationDate",
    "modelTrainingConfigVersion",
}


class Api:
    def __init__(self, client: Client, key: str, run: Callable[..., Any]) -> None:
        self.client = client
        self.key = key
        self.run = run

    def __call__(
        self, method: str, path: str, body: Any = None, *, version: str = V
    ) -> Any:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}api-version={version}"
        data = json.dumps(body) if body is not None else None
        kwargs: dict[str, Any] = {"headers": {"Ocp-Apim-Subscription-Key": self.key}}
        if data is not None:
            kwargs["content_type"] = "application/json"
        with self.run(execute=True):
            return getattr(self.client, method.lower())(url, data, **kwargs)

    def poll(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 202, response.content
        assert "Retry-After" in response
        location = urlsplit(response["Operation-Location"])
        assert "api-version=" in location.query
        job = self.client.get(
            f"{location.path}?{location.query}",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )
        assert job.status_code == 200, job.content
        return dict(job.json())


@pytest.fixture
def api(client: Client, django_capture_on_commit_callbacks: Callable[..., Any]) -> Api:
    return Api(
        client,
        apikey_create(name="deploy-tests")[1],
        django_capture_on_commit_callbacks,
    )


@pytest.fixture
def project() -> Project:
    project = ProjectFactory.create(name="Travel")
    make_trained_model(project, "m1", TEXTS, LABELS)
    make_trained_model(project, "m2", TEXTS[1:], LABELS[1:])
    return project


def error(response: Any) -> dict[str, Any]:
    return dict(response.json()["error"])


def test_deploy_then_get_list_and_project_metadata(api: Api, project: Project) -> None:
    response = api(
        "PUT", f"{CLU}/Travel/deployments/production", {"trainedModelLabel": "m1"}
    )
    location = response["Operation-Location"]
    assert "/projects/Travel/deployments/production/jobs/" in location
    assert location.startswith("http://testserver/")
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    assert set(job) >= {"jobId", "createdDateTime", "lastUpdatedDateTime", "status"}
    assert "resourceLocation" not in job
    # The SDK GETs the deployment right after the job succeeds.
    got = api("GET", f"{CLU}/Travel/deployments/production")
    assert got.status_code == 200
    body = got.json()
    assert set(body) == DEPLOYMENT_KEYS
    model = TrainedModel.objects.get(project=project, label="m1")
    assert body["deploymentName"] == "production"
    assert body["modelId"] == model.model_id
    assert body["modelTrainingConfigVersion"] == "2022-05-01"
    assert body["deploymentExpirationDate"] == "2099-12-31"
    assert body["lastTrainedDateTime"].endswith("Z")
    meta = api("GET", f"{CLU}/Travel").json()
    # Project metadata shows whole seconds.
    assert meta["lastDeployedDateTime"][:19] == body["lastDeployedDateTime"][:19]

    api.poll(
        api("PUT", f"{CLU}/Travel/deployments/staging", {"trainedModelLabel": "m2"})
    )
    listed = api("GET", f"{CLU}/Travel/deployments").json()
    assert [d["deploymentName"] for d in listed["value"]] == ["production", "staging"]
    assert "nextLink" not in listed
    page = api("GET", f"{CLU}/Travel/deployments?top=1").json()
    assert len(page["value"]) == 1 and "nextLink" not in page
    page = api("GET", f"{CLU}/Travel/deployments?maxpagesize=1").json()
    assert len(page["value"]) == 1 and "skip=1" in page["nextLink"]


def test_new_api_versions_carry_assigned_resources(api: Api, project: Project) -> None:
    version = "2025-11-15-preview"
    response = api(
        "PUT",
        f"{CLU}/Travel/deployments/production",
        {"trainedModelLabel": "m1", "azureResourceIds": []},
        version=version,
    )
    assert api.poll(response)["status"] == "succeeded"
    body = api("GET", f"{CLU}/Travel/deployments/production", version=version).json()
    assert body["assignedResources"] == []
    listed = api("GET", f"{CLU}/Travel/deployments", version=version).json()
    assert listed["value"][0]["assignedResources"] == []


def test_swap_and_delete(api: Api, project: Project) -> None:
    api.poll(
        api("PUT", f"{CLU}/Travel/deployments/production", {"trainedModelLabel": "m1"})
    )
    api.poll(
        api("PUT", f"{CLU}/Travel/deployments/staging", {"trainedModelLabel": "m2"})
    )
    m1 = TrainedModel.objects.get(label="m1").model_id
    m2 = TrainedModel.objects.get(label="m2").model_id
    version = deployment_state_version()
    response = api(
        "POST",
        f"{CLU}/Travel/deployments/:swap",
        {"firstDeploymentName": "production", "secondDeploymentName": "staging"},
    )
    assert "/deployments/swap/jobs/" in response["Operation-Location"]
    assert api.poll(response)["status"] == "succeeded"
    assert deployment_state_version() == version + 1
    get = lambda name: api("GET", f"{CLU}/Travel/deployments/{name}").json()  # noqa: E731
    assert (get("production")["modelId"], get("staging")["modelId"]) == (m2, m1)

    response = api("DELETE", f"{CLU}/Travel/deployments/staging")
    assert "/deployments/staging/jobs/" in response["Operation-Location"]
    assert api.poll(response)["status"] == "succeeded"
    missing = api("GET", f"{CLU}/Travel/deployments/staging")
    assert missing.status_code == 404
    assert error(missing)["code"] == "NotFound"
    assert deployment_state_version() == version + 2


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (
            "Travel/deployments/swap",
            {"trainedModelLabel": "m1"},
            400,
            "InvalidArgument",
        ),
        (
            "Travel/deployments/Swap",
            {"trainedModelLabel": "m1"},
            400,
            "InvalidArgument",
        ),
        (
            "Travel/deployments/a%20b",
            {"trainedModelLabel": "m1"},
            400,
            "InvalidArgument",
        ),
        ("Travel/deployments/p", {"trainedModelLabel": "nope"}, 404, "NotFound"),
        ("Travel/deployments/p", {}, 400, "InvalidRequest"),
        ("Travel/deployments/p", {"trainedModelLabel": 3}, 400, "InvalidArgument"),
        ("Nope/deployments/p", {"trainedModelLabel": "m1"}, 404, "ProjectNotFound"),
    ],
)
def test_bad_deploy_requests(
    api: Api, project: Project, path: str, body: Any, status: int, code: str
) -> None:
    response = api("PUT", f"{CLU}/{path}", body)
    assert response.status_code == status, response.content
    assert error(response)["code"] == code
    assert not Job.objects.exists()
    assert not Deployment.objects.exists()


def test_malformed_json_and_busy_project(api: Api, project: Project) -> None:
    response = api.client.put(
        f"{CLU}/Travel/deployments/p?api-version={V}",
        "{not json",
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    assert response.status_code == 400
    Job.objects.create(
        job_id="busy_1",
        kind=Job.Kind.SWAP,
        project_name="Travel",
        target_name="swap",
        status=Job.Status.RUNNING,
        expires_at="2099-01-01T00:00:00Z",
    )
    response = api("PUT", f"{CLU}/Travel/deployments/p", {"trainedModelLabel": "m1"})
    assert response.status_code == 409
    assert error(response)["code"] == "Conflict"
    assert "busy_1" in error(response)["message"]


def test_ten_deployments_at_most(api: Api, project: Project) -> None:
    for i in range(10):
        response = api(
            "PUT", f"{CLU}/Travel/deployments/d{i}", {"trainedModelLabel": "m1"}
        )
        assert api.poll(response)["status"] == "succeeded"
    response = api("PUT", f"{CLU}/Travel/deployments/d10", {"trainedModelLabel": "m1"})
    assert response.status_code == 400
    assert "10 deployments" in error(response)["message"]


def test_swap_errors(api: Api, project: Project) -> None:
    api.poll(
        api("PUT", f"{CLU}/Travel/deployments/production", {"trainedModelLabel": "m1"})
    )
    path = f"{CLU}/Travel/deployments/:swap"
    same = {"firstDeploymentName": "production", "secondDeploymentName": "production"}
    assert api("POST", path, same).status_code == 400
    missing = {"firstDeploymentName": "production", "secondDeploymentName": "x"}
    response = api("POST", path, missing)
    assert response.status_code == 404
    assert "'x'" in error(response)["message"]
    assert api("POST", path, {"firstDeploymentName": "production"}).status_code == 400
    assert api("DELETE", f"{CLU}/Travel/deployments/x").status_code == 404


def test_job_urls_are_scoped(api: Api, project: Project) -> None:
    response = api(
        "PUT", f"{CLU}/Travel/deployments/production", {"trainedModelLabel": "m1"}
    )
    job_id = api.poll(response)["jobId"]
    ok = api("GET", f"{CLU}/Travel/deployments/production/jobs/{job_id}")
    assert ok.status_code == 200
    for path in (
        f"{CLU}/Travel/deployments/staging/jobs/{job_id}",
        f"{CLU}/Travel/deployments/swap/jobs/{job_id}",
        f"{CLU}/Other/deployments/production/jobs/{job_id}",
    ):
        response = api("GET", path)
        assert response.status_code == 404, path
        assert error(response)["code"] == "OperationNotFound"


def test_key_and_version_are_required(api: Api, project: Project) -> None:
    response = api.client.get(f"{CLU}/Travel/deployments?api-version={V}")
    assert response.status_code == 401
    response = api.client.get(
        f"{CLU}/Travel/deployments", headers={"Ocp-Apim-Subscription-Key": api.key}
    )
    assert response.status_code == 400


# --- knowledge bases --------------------------------------------------------------


@pytest.fixture
def kb() -> Project:
    kb = KbProjectFactory.create(name="faq")
    QnaPair.objects.create(
        project=kb,
        qna_id=1,
        questions=["How do I reset my password?"],
        answer="Use the reset link.",
    )
    return kb


@pytest.mark.parametrize(("prefix", "version"), [(QNA, V), (QNA_LEGACY, "2021-10-01")])
def test_kb_deploy_on_both_prefixes(
    api: Api, kb: Project, prefix: str, version: str
) -> None:
    response = api("PUT", f"{prefix}/faq/deployments/production", version=version)
    assert response.status_code == 202, response.content
    location = urlsplit(response["Operation-Location"])
    assert location.path.startswith(f"{prefix}/faq/deployments/production/jobs/")
    assert f"api-version={version}" in location.query
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    # azure-core's final GET of the PUT.
    got = api("GET", f"{prefix}/faq/deployments/production", version=version)
    assert got.status_code == 200
    assert set(got.json()) == {"deploymentName", "lastDeployedDateTime"}
    listed = api("GET", f"{prefix}/faq/deployments", version=version).json()
    assert [d["deploymentName"] for d in listed["value"]] == ["production"]
    deployment = Deployment.objects.get(project=kb)
    bundle = artifact_load(deployment.artifact_name, deployment.manifest)
    assert bundle.kb.query("reset password")[0]["answer"] == "Use the reset link."
    meta = api("GET", f"{prefix}/faq", version=version).json()
    deployed = got.json()["lastDeployedDateTime"]
    assert meta["lastDeployedDateTime"][:19] == deployed[:19]


def test_kb_deploy_errors(api: Api, kb: Project, project: Project) -> None:
    response = api("PUT", f"{QNA}/faq/deployments/swap")
    assert response.status_code == 400
    response = api("PUT", f"{QNA}/missing/deployments/production")
    assert response.status_code == 404
    assert error(response)["code"] == "ProjectNotFound"
    # A conversation project is not a knowledge base, and the other way round.
    assert api("PUT", f"{QNA}/Travel/deployments/production").status_code == 404
    response = api("PUT", f"{CLU}/faq/deployments/p", {"trainedModelLabel": "m1"})
    assert response.status_code == 404
    assert api("GET", f"{QNA}/faq/deployments/production").status_code == 404
    assert not Job.objects.exists()
