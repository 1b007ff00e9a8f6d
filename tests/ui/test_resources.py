"""Deployment resources in the studio: the staff-only registry page (key write-only,
errors next to the field) and the Resources section of a project's Deployments page
(assign, deploy with a copy, retry, delete there, unassign; admins only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from jobs.models import Job
from projects.models import Project
from studio.crypto import secret_decrypt
from tests.training.model_helpers import make_trained_model
from tests.training.remote_stub import RemoteStub
from tests.ui.conftest import HTMX, UiProjects, UiUsers
from tests.ui.training_helpers import TRAVEL, WEATHER, run_jobs
from training.models import DeploymentResource, ProjectResource
from training.services.resources import resource_create

pytestmark = pytest.mark.django_db

PAGE = "/resources/"
DEPLOYMENTS = "/projects/conv/deployments/"
LABELS = ["Travel"] * len(TRAVEL) + ["Weather"] * len(WEATHER)


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STUDIO_RESOURCE_POLL_SECONDS = 0


@pytest.fixture
def remote() -> Iterator[RemoteStub]:
    stub = RemoteStub()
    yield stub
    stub.close()


@pytest.fixture
def staff_client(users: UiUsers) -> Client:
    client = Client()
    client.force_login(users.superuser)
    return client


@pytest.fixture
def resource(remote: RemoteStub) -> DeploymentResource:
    return resource_create(
        azure_resource_id="studio-b",
        region="westeurope",
        endpoint=remote.url,
        key=remote.key,
    )


@pytest.fixture
def trained(ui_projects: UiProjects) -> Project:
    model = make_trained_model(ui_projects.conv, "m1", TRAVEL + WEATHER, LABELS)
    document = {
        "projectFileVersion": "2023-04-01",
        "stringIndexType": "UnicodeCodePoint",
        "metadata": {"projectName": "conv"},
        "assets": {
            "projectKind": "Conversation",
            "utterances": [
                {"text": t, "intent": i, "entities": []}
                for t, i in zip(TRAVEL + WEATHER, LABELS, strict=True)
            ],
        },
    }
    model.snapshot_name = default_storage.save(
        f"snapshots/{model.model_id}.json", ContentFile(json.dumps(document).encode())
    )
    model.save()
    return ui_projects.conv


# --- the registry ---------------------------------------------------------------


def test_only_staff_see_the_registry(
    admin_client_ui: Client, staff_client: Client
) -> None:
    assert admin_client_ui.get(PAGE).status_code == 403
    page = staff_client.get(PAGE)
    assert page.status_code == 200
    assert "No resource is registered yet." in page.content.decode()
    assert 'href="/resources/"' in staff_client.get("/").content.decode()
    assert 'href="/resources/"' not in admin_client_ui.get("/").content.decode()


def test_staff_register_a_resource_and_never_see_its_key_again(
    staff_client: Client,
) -> None:
    answer = staff_client.post(
        PAGE + "new",
        {
            "azure_resource_id": "studio-b",
            "region": "westeurope",
            "endpoint": "https://studio-b.example.com",
            "kind": "studio",
            "key": "s3cret",
        },
        **HTMX,
    )

    assert answer.status_code == 200
    assert answer["HX-Retarget"] == "#resources-page"
    html = answer.content.decode()
    assert "Resource studio-b registered." in html
    assert "s3cret" not in html
    resource = DeploymentResource.objects.get()
    assert secret_decrypt(resource.key_sealed) == "s3cret"
    edit = staff_client.get(f"{PAGE}{resource.pk}/edit").content.decode()
    assert "s3cret" not in edit and "Leave blank to keep the stored key" in edit


def test_a_private_endpoint_is_refused_next_to_its_field(staff_client: Client) -> None:
    answer = staff_client.post(
        PAGE + "new",
        {
            "azure_resource_id": "studio-b",
            "region": "westeurope",
            "endpoint": "http://10.0.0.5:8000",
            "kind": "studio",
            "key": "s3cret",
        },
        **HTMX,
    )

    assert answer.status_code == 422
    html = answer.content.decode()
    assert 'id="add-endpoint-error"' in html
    assert "local or private address" in html
    assert 'value="studio-b"' in html  # what was typed stays
    assert not DeploymentResource.objects.exists()


def test_an_assigned_resource_is_not_removed(
    staff_client: Client, resource: DeploymentResource, ui_projects: UiProjects
) -> None:
    ProjectResource.objects.create(project=ui_projects.conv, resource=resource)

    answer = staff_client.post(f"{PAGE}{resource.pk}/remove", **HTMX)

    assert answer.status_code == 422
    assert "is assigned to conv" in answer.content.decode()
    assert DeploymentResource.objects.filter(pk=resource.pk).exists()


def test_an_edit_with_a_blank_key_keeps_it(
    staff_client: Client, resource: DeploymentResource, remote: RemoteStub
) -> None:
    staff_client.post(
        f"{PAGE}{resource.pk}/save",
        {"region": "northeurope", "endpoint": remote.url, "kind": "azure", "key": ""},
        **HTMX,
    )

    resource.refresh_from_db()
    assert resource.region == "northeurope"
    assert secret_decrypt(resource.key_sealed) == remote.key


# --- a project's resources ---------------------------------------------------------


def test_admin_assigns_deploys_with_a_copy_and_sees_it_in_sync(
    admin_client_ui: Client,
    trained: Project,
    resource: DeploymentResource,
    remote: RemoteStub,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    page = admin_client_ui.get(DEPLOYMENTS).content.decode()
    assert "No resource is assigned to this project." in page
    assert 'id="resource-assign-form"' in page

    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(
            DEPLOYMENTS + "resources/assign", {"resource": resource.pk}, **HTMX
        )
    assert ProjectResource.objects.filter(project=trained, resource=resource).exists()
    page = admin_client_ui.get(DEPLOYMENTS).content.decode()
    assert 'name="resource_ids" value="studio-b"' in page

    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(
            DEPLOYMENTS + "deploy",
            {
                "deployment_name": "production",
                "model_label": "m1",
                "resource_ids": ["studio-b"],
            },
            **HTMX,
        )

    assert remote.deployments[("conv", "production")] == "m1"
    section = admin_client_ui.get(DEPLOYMENTS + "resources/", **HTMX).content.decode()
    assert 'data-state="inSync"' in section
    assert "hx-trigger" not in section  # nothing runs: no polling


def test_a_failed_copy_shows_why_and_retry_copies_again(
    admin_client_ui: Client,
    trained: Project,
    resource: DeploymentResource,
    remote: RemoteStub,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ProjectResource.objects.create(project=trained, resource=resource)
    remote.fail["import"] = "The project file is not valid."
    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(
            DEPLOYMENTS + "deploy",
            {
                "deployment_name": "production",
                "model_label": "m1",
                "resource_ids": ["studio-b"],
            },
            **HTMX,
        )
    section = admin_client_ui.get(DEPLOYMENTS + "resources/", **HTMX).content.decode()
    assert 'data-state="failed"' in section
    assert "The project file is not valid." in section
    assert ">Retry<" in section

    del remote.fail["import"]
    with run_jobs(django_capture_on_commit_callbacks):
        answer = admin_client_ui.post(
            f"{DEPLOYMENTS}resources/{resource.pk}/copy",
            {"deployment": "production"},
            **HTMX,
        )

    assert answer.status_code == 200
    assert remote.deployments[("conv", "production")] == "m1"
    assert Job.objects.filter(kind=Job.Kind.RESOURCES_DEPLOY).count() == 2


def test_deploying_to_a_resource_not_assigned_is_an_error_next_to_the_field(
    admin_client_ui: Client,
    trained: Project,
    resource: DeploymentResource,
) -> None:
    # The form was drawn while "studio-b" was assigned; it is not any more.
    answer = admin_client_ui.post(
        DEPLOYMENTS + "deploy",
        {
            "deployment_name": "production",
            "model_label": "m1",
            "resource_ids": ["studio-b"],
        },
        **HTMX,
    )

    assert answer.status_code == 422
    html = answer.content.decode()
    assert 'id="deploy-resources-error"' in html
    assert "is not assigned to project" in html
    assert not Job.objects.filter(kind=Job.Kind.DEPLOY).exists()


def test_viewers_see_the_state_but_no_forms(
    viewer_client: Client, trained: Project, resource: DeploymentResource
) -> None:
    ProjectResource.objects.create(project=trained, resource=resource)

    page = viewer_client.get(DEPLOYMENTS).content.decode()

    assert "studio-b" in page
    assert 'id="resource-assign-form"' not in page
    assert "Unassign" not in page
    refused = viewer_client.post(
        DEPLOYMENTS + "resources/assign", {"resource": resource.pk}, **HTMX
    )
    assert refused.status_code == 403


def test_knowledge_bases_have_no_resources_section(admin_client_ui: Client) -> None:
    page = admin_client_ui.get("/projects/kb/deployments/").content.decode()

    assert 'id="deployment-resources"' not in page


def test_the_gates_confirm_form_keeps_the_resources_to_copy_to(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    resource: DeploymentResource,
    remote: RemoteStub,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from projects.models import Intent, Utterance
    from projects.services.gate import evaluation_set_pin
    from tests.training.test_gate import GOOD, TEXTS
    from training import deploy_jobs

    project = ui_projects.conv
    intents = {n: Intent.objects.create(project=project, name=n) for n in set(GOOD)}
    for text, label in zip(TEXTS, GOOD, strict=True):
        Utterance.objects.create(
            project=project, text=text, intent=intents[label], dataset="Test"
        )
    make_trained_model(project, "good", TEXTS, GOOD)
    make_trained_model(project, "good2", TEXTS, GOOD)
    with django_capture_on_commit_callbacks(execute=True):
        deploy_jobs.deploy_start(
            project_name="conv",
            deployment_name="production",
            body={"trainedModelLabel": "good"},
        )
    evaluation_set_pin(project=project)
    ProjectResource.objects.create(project=project, resource=resource)
    form = {
        "deployment_name": "production",
        "model_label": "good2",
        "resource_ids": ["studio-b"],
    }

    preview = admin_client_ui.post(DEPLOYMENTS + "deploy", form, **HTMX)

    html = preview.content.decode()
    assert 'id="gate-confirm"' in html
    assert '<input type="hidden" name="resource_ids" value="studio-b">' in html
    with run_jobs(django_capture_on_commit_callbacks):
        admin_client_ui.post(DEPLOYMENTS + "deploy", {**form, "confirm": "1"}, **HTMX)
    deploy = Job.objects.filter(kind=Job.Kind.DEPLOY).order_by("-created_at").first()
    assert deploy is not None
    assert deploy.params["azureResourceIds"] == ["studio-b"]
    assert Job.objects.filter(kind=Job.Kind.RESOURCES_DEPLOY).exists()
