"""Deployment resources over HTTP (eager Celery) against a stand-in resource on
loopback (``tests/training/remote_stub.py``): assign, list with sync state, deploy
with ``azureResourceIds`` (import, train, deploy there), delete from resources,
unassign, and every way it can go wrong."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from jobs.models import Job
from projects.models import Project
from studio.services import apikey_create
from tests.factories import ProjectFactory
from tests.training.model_helpers import make_trained_model
from tests.training.remote_stub import RemoteStub
from training.models import (
    Deployment,
    DeploymentResource,
    ProjectResource,
    RemoteDeployment,
    TrainedModel,
)
from training.services.resources import resource_create

pytestmark = pytest.mark.django_db

CLU = "/language/authoring/analyze-conversations/projects"
V = "2025-11-01"
RESOURCE_ID = (
    "/subscriptions/s1/resourceGroups/g/providers/Microsoft.CognitiveServices"
    "/accounts/studio-b"
)
TEXTS = ["book a flight", "fly to rome", "plane tickets please"] + [
    "weather today",
    "is it raining",
    "sunny tomorrow?",
]
LABELS = ["Travel"] * 3 + ["Weather"] * 3


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
        kwargs: dict[str, Any] = {"headers": {"Ocp-Apim-Subscription-Key": self.key}}
        data = None
        if body is not None:
            data = json.dumps(body)
            kwargs["content_type"] = "application/json"
        with self.run(execute=True):
            return getattr(self.client, method.lower())(url, data, **kwargs)

    def job(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 202, response.content
        location = urlsplit(response["Operation-Location"])
        answer = self.client.get(
            f"{location.path}?{location.query}",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )
        assert answer.status_code == 200, answer.content
        return dict(answer.json())


@pytest.fixture
def api(client: Client, django_capture_on_commit_callbacks: Callable[..., Any]) -> Api:
    return Api(
        client, apikey_create(name="resources")[1], django_capture_on_commit_callbacks
    )


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STUDIO_RESOURCE_POLL_SECONDS = 0
    settings.STUDIO_RESOURCE_REQUEST_TIMEOUT_SECONDS = 5


@pytest.fixture
def remote() -> Iterator[RemoteStub]:
    stub = RemoteStub()
    yield stub
    stub.close()


@pytest.fixture
def resource(remote: RemoteStub) -> DeploymentResource:
    return resource_create(
        azure_resource_id=RESOURCE_ID,
        region="westeurope",
        endpoint=remote.url,
        key=remote.key,
    )


def model_with_snapshot(project: Project, label: str) -> TrainedModel:
    """A trained model whose snapshot holds the utterances it was trained on."""
    model = make_trained_model(project, label, TEXTS, LABELS)
    document = {
        "projectFileVersion": "2023-04-01",
        "stringIndexType": "UnicodeCodePoint",
        "metadata": {"projectName": project.name},
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": "Travel"}, {"category": "Weather"}],
            "entities": [],
            "utterances": [
                {"text": t, "intent": i, "dataset": "Train", "entities": []}
                for t, i in zip(TEXTS, LABELS, strict=True)
            ],
        },
    }
    name = default_storage.save(
        f"snapshots/{model.model_id}.json", ContentFile(json.dumps(document).encode())
    )
    model.snapshot_name = name
    model.save()
    return model


@pytest.fixture
def project() -> Project:
    project = ProjectFactory.create(name="Travel", language="en-us")
    model_with_snapshot(project, "m1")
    return project


def assign(api: Api, project: str = "Travel", **item: Any) -> Any:
    body = {"projectResources": [{"azureResourceId": RESOURCE_ID, **item}]}
    return api("POST", f"{CLU}/{project}/resources/:assign", body)


def deploy(api: Api, name: str = "production", **extra: Any) -> Any:
    body = {"trainedModelLabel": "m1", **extra}
    return api("PUT", f"{CLU}/Travel/deployments/{name}", body)


def resources(api: Api) -> list[dict[str, Any]]:
    answer = api("GET", f"{CLU}/Travel/resources")
    assert answer.status_code == 200, answer.content
    return list(answer.json()["value"])


def assigned(api: Api, project: Project, resource: DeploymentResource) -> None:
    job = api.job(assign(api, region="westeurope", customDomain="studio-b"))
    assert job["status"] == "succeeded", job


# --- assign -----------------------------------------------------------------------


def test_assign_checks_the_resource_and_lists_it_never_synced(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    job = api.job(assign(api, region="West Europe", customDomain="studio-b"))

    assert job["status"] == "succeeded", job
    assert job["resources"] == [{"azureResourceId": RESOURCE_ID, "status": "succeeded"}]
    assert ("GET", "/language/authoring/analyze-conversations/projects") in remote.calls
    [listed] = resources(api)
    assert listed["azureResourceId"] == RESOURCE_ID
    assert listed["region"] == "westeurope"
    assert listed["customDomain"] == "studio-b"
    assert listed["syncState"] == "never"
    assert listed["deployments"] == []


def test_assign_accepts_the_rest_specs_resources_metadata(
    api: Api, project: Project, resource: DeploymentResource
) -> None:
    body = {"resourcesMetadata": [{"azureResourceId": RESOURCE_ID.upper()}]}
    job = api.job(api("POST", f"{CLU}/Travel/resources/:assign", body))

    assert job["status"] == "succeeded"
    assert ProjectResource.objects.filter(project=project, resource=resource).exists()


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"other": 1}, "projectResources"),
        ({"projectResources": []}, "projectResources"),
        ({"projectResources": "x"}, "projectResources"),
        ({"projectResources": [7]}, "projectResources[0]"),
        ({"projectResources": [{}]}, "projectResources[0].azureResourceId"),
        (
            {"projectResources": [{"azureResourceId": "/nope"}]},
            "projectResources[0].azureResourceId",
        ),
        (
            {"projectResources": [{"azureResourceId": RESOURCE_ID, "region": "eu"}]},
            "projectResources[0].region",
        ),
        (
            {
                "projectResources": [
                    {"azureResourceId": RESOURCE_ID},
                    {"azureResourceId": RESOURCE_ID.lower()},
                ]
            },
            "projectResources[1]",
        ),
    ],
)
def test_bad_assign_bodies_are_400_in_azures_shape_and_queue_nothing(
    api: Api,
    project: Project,
    resource: DeploymentResource,
    body: dict[str, Any],
    target: str,
) -> None:
    answer = api("POST", f"{CLU}/Travel/resources/:assign", body)

    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "InvalidArgument"
    assert error["target"] == target
    assert not Job.objects.filter(kind=Job.Kind.RESOURCES_ASSIGN).exists()
    assert not ProjectResource.objects.exists()


def test_an_unregistered_resource_says_so(api: Api, project: Project) -> None:
    answer = api(
        "POST",
        f"{CLU}/Travel/resources/:assign",
        {"projectResources": [{"azureResourceId": "/subscriptions/x/other"}]},
    )

    assert answer.status_code == 400
    assert "is not registered" in answer.json()["error"]["message"]


def test_assign_to_an_unknown_project_is_404(
    api: Api, resource: DeploymentResource
) -> None:
    answer = assign(api, project="Nope")

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ProjectNotFound"


def test_a_resource_that_is_down_fails_the_assignment_clearly(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    remote.close()

    job = api.job(assign(api))

    assert job["status"] == "failed"
    [error] = job["errors"]
    assert error["target"] == RESOURCE_ID
    assert "could not be reached" in error["message"]
    assert not ProjectResource.objects.exists()


def test_a_wrong_key_fails_the_assignment_naming_the_key(
    api: Api, project: Project, remote: RemoteStub
) -> None:
    resource_create(
        azure_resource_id=RESOURCE_ID,
        region="westeurope",
        endpoint=remote.url,
        key="not-the-key",
    )

    job = api.job(assign(api))

    assert job["status"] == "failed"
    assert "refused the key (HTTP 401)" in job["errors"][0]["message"]
    assert not ProjectResource.objects.exists()


def test_assigning_warns_when_the_resource_already_has_the_project(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    remote.projects["Travel"] = {}

    job = api.job(assign(api))

    assert job["status"] == "succeeded"
    assert any(w["code"] == "ProjectExistsOnResource" for w in job["warnings"])


# --- deploy to resources ------------------------------------------------------------


def test_deploy_with_azure_resource_ids_copies_the_model_there(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)

    job = api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    assert job["status"] == "succeeded", job
    assert any(w["code"] == "ResourcesCopyQueued" for w in job["warnings"])
    # The same data, the same settings, the same names.
    document = remote.projects["Travel"]
    assert document["metadata"]["projectName"] == "Travel"
    assert document["stringIndexType"] == "Utf16CodeUnit"
    assert [u["text"] for u in document["assets"]["utterances"]] == TEXTS
    trained = remote.models[("Travel", "m1")]
    assert trained["trainingMode"] == "standard"
    assert trained["evaluationOptions"] == {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
    }
    assert remote.deployments[("Travel", "production")] == "m1"
    [listed] = resources(api)
    assert listed["syncState"] == "inSync"
    [deployment] = listed["deployments"]
    local = Deployment.objects.get(project=project, name="production")
    assert deployment["deploymentName"] == "production"
    assert deployment["syncState"] == "inSync"
    assert deployment["modelId"] == local.model_id
    got = api("GET", f"{CLU}/Travel/deployments/production").json()
    assert got["assignedResources"] == [
        {"azureResourceId": RESOURCE_ID, "region": "westeurope"}
    ]
    everywhere = api("GET", f"{CLU}/global/deployments/resources").json()
    assert everywhere["value"] == [
        {
            "projectName": "Travel",
            "deploymentsMetadata": [
                {
                    "deploymentName": "production",
                    "lastDeployedDateTime": deployment["lastSyncedDateTime"],
                    "deploymentExpirationDate": local.expires_on.isoformat(),
                }
            ],
        }
    ]


def test_the_previews_resource_objects_are_accepted(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)

    job = api.job(
        deploy(
            api,
            azureResourceIds=[{"azureResourceId": RESOURCE_ID, "region": "westeurope"}],
        )
    )

    assert job["status"] == "succeeded"
    assert remote.deployments[("Travel", "production")] == "m1"


def test_deploying_to_a_resource_not_assigned_is_400_and_changes_nothing(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    answer = deploy(api, azureResourceIds=[RESOURCE_ID])

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["target"] == "azureResourceIds[0]"
    assert "is not assigned to project 'Travel'" in error["message"]
    assert not Deployment.objects.exists()
    assert not Job.objects.filter(kind=Job.Kind.DEPLOY).exists()
    assert remote.calls == []


def test_a_failure_there_leaves_the_local_deployment_serving_and_can_be_retried(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    remote.fail["train"] = "Intent Weather has too few utterances."

    job = api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    assert job["status"] == "succeeded"  # the local deploy
    assert Deployment.objects.filter(project=project, name="production").exists()
    [listed] = resources(api)
    assert listed["syncState"] == "failed"
    assert "too few utterances" in listed["syncMessage"]
    copy = Job.objects.get(kind=Job.Kind.RESOURCES_DEPLOY)
    assert copy.status == Job.Status.FAILED
    assert copy.queue == "long"
    assert "too few utterances" in copy.errors[0]["message"]
    assert ("Travel", "production") not in remote.deployments

    del remote.fail["train"]
    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    assert resources(api)[0]["syncState"] == "inSync"
    assert remote.deployments[("Travel", "production")] == "m1"


def test_a_resource_down_at_deploy_time_is_a_failed_copy_not_a_failed_deploy(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    remote.close()

    job = api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    assert job["status"] == "succeeded"
    [listed] = resources(api)
    assert listed["syncState"] == "failed"
    assert "could not be reached" in listed["syncMessage"]


def test_a_job_url_on_another_host_is_not_followed(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    original = remote._job

    def elsewhere(step: str, apply: Any) -> Any:
        status, body, headers = original(step, apply)
        headers["Operation-Location"] = "http://localhost:1/jobs/1"
        return status, body, headers

    remote._job = elsewhere  # type: ignore[method-assign]

    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    [listed] = resources(api)
    assert listed["syncState"] == "failed"
    assert "job URL on another host" in listed["syncMessage"]
    assert not [c for c in remote.calls if c[0] == "POST" and c[1].endswith(":train")]


def test_a_local_redeploy_or_a_project_change_makes_the_resource_behind(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))
    model_with_snapshot(project, "m1")  # retrained

    api.job(deploy(api))  # here only

    [listed] = resources(api)
    assert listed["syncState"] == "behind"
    assert "Deploy again to the resource" in listed["syncMessage"]

    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))
    assert resources(api)[0]["syncState"] == "inSync"
    Project.objects.filter(pk=project.pk).update(
        last_modified_at=project.last_modified_at.replace(year=2100)
    )
    [listed] = resources(api)
    assert listed["syncState"] == "behind"
    assert "The project changed since the copy" in listed["syncMessage"]


# --- delete from resources, unassign -------------------------------------------------


def test_delete_from_resources_deletes_the_deployment_there_only(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    job = api.job(
        api(
            "POST",
            f"{CLU}/Travel/deployments/production/:delete-from-resources",
            {"assignedResourceIds": [RESOURCE_ID]},
        )
    )

    assert job["status"] == "succeeded", job
    assert ("Travel", "production") not in remote.deployments
    assert Deployment.objects.filter(project=project, name="production").exists()
    assert resources(api)[0]["deployments"] == []
    got = api("GET", f"{CLU}/Travel/deployments/production").json()
    assert got["assignedResources"] == []


def test_delete_from_a_resource_the_deployment_is_not_on_is_404(
    api: Api, project: Project, resource: DeploymentResource
) -> None:
    assigned(api, project, resource)

    answer = api(
        "POST",
        f"{CLU}/Travel/deployments/production/:delete-from-resources",
        {"azureResourceIds": [RESOURCE_ID]},
    )

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NotFound"
    assert not Job.objects.filter(kind=Job.Kind.RESOURCES_DELETE).exists()


def test_unassign_deletes_the_deployments_there_and_the_assignment(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))

    job = api.job(
        api(
            "POST",
            f"{CLU}/Travel/resources/:unassign",
            {"azureResourceIds": [RESOURCE_ID]},
        )
    )

    assert job["status"] == "succeeded", job
    assert remote.deployments == {}
    assert resources(api) == []
    assert not RemoteDeployment.objects.exists()


def test_unassign_while_the_resource_is_down_keeps_it_assigned(
    api: Api, project: Project, resource: DeploymentResource, remote: RemoteStub
) -> None:
    assigned(api, project, resource)
    api.job(deploy(api, azureResourceIds=[RESOURCE_ID]))
    remote.close()

    job = api.job(
        api(
            "POST",
            f"{CLU}/Travel/resources/:unassign",
            {"azureResourceIds": [RESOURCE_ID]},
        )
    )

    assert job["status"] == "failed"
    assert "stays assigned" in job["errors"][0]["message"]
    assert len(resources(api)) == 1


def test_unassign_a_resource_not_assigned_is_400(
    api: Api, project: Project, resource: DeploymentResource
) -> None:
    answer = api(
        "POST",
        f"{CLU}/Travel/resources/:unassign",
        {"azureResourceIds": [RESOURCE_ID]},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == "azureResourceIds[0]"


def test_job_urls_of_another_kind_are_404(
    api: Api, project: Project, resource: DeploymentResource
) -> None:
    response = assign(api)
    job_id = urlsplit(response["Operation-Location"]).path.rsplit("/", 1)[1]

    answer = api("GET", f"{CLU}/Travel/resources/unassign/jobs/{job_id}")

    assert answer.status_code == 404


def test_the_global_route_is_not_read_as_a_project_named_global(api: Api) -> None:
    answer = api("GET", f"{CLU}/global/deployments/resources")

    assert answer.status_code == 200
    assert answer.json() == {"value": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"{CLU}/global/deployments/resources"),
        ("get", f"{CLU}/Travel/resources"),
        ("post", f"{CLU}/Travel/resources/:assign"),
        ("post", f"{CLU}/Travel/deployments/production/:delete-from-resources"),
    ],
)
def test_resource_routes_authenticate_first(method: str, path: str) -> None:
    answer = getattr(Client(), method)(f"{path}?api-version={V}")

    assert answer.status_code == 401


def test_a_viewer_may_list_but_not_assign(
    project: Project, resource: DeploymentResource
) -> None:
    from django.contrib.auth import get_user_model

    from projects.services.members import member_add

    user = get_user_model().objects.create_user("vera", password="x")  # noqa: S106
    member_add(project=project, user="vera", role="viewer")
    _key, raw = apikey_create(name="vera", created_by=user)
    client = Client(headers={"Ocp-Apim-Subscription-Key": raw})

    listed = client.get(f"{CLU}/Travel/resources?api-version={V}")
    refused = client.post(
        f"{CLU}/Travel/resources/:assign?api-version={V}",
        json.dumps({"projectResources": [{"azureResourceId": RESOURCE_ID}]}),
        content_type="application/json",
    )

    assert listed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Forbidden"


def test_a_resource_removed_before_its_assign_job_runs_fails_that_job_clearly(
    client: Client,
    project: Project,
    resource: DeploymentResource,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    key = apikey_create(name="late")[1]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = client.post(
            f"{CLU}/Travel/resources/:assign?api-version={V}",
            json.dumps({"projectResources": [{"azureResourceId": RESOURCE_ID}]}),
            content_type="application/json",
            headers={"Ocp-Apim-Subscription-Key": key},
        )
    assert answer.status_code == 202
    resource.delete()

    for callback in callbacks:
        callback()

    job = Job.objects.get(kind=Job.Kind.RESOURCES_ASSIGN)
    assert job.status == Job.Status.FAILED
    assert "is not registered" in job.errors[0]["message"]
    assert job.result["resources"][0]["status"] == "failed"
