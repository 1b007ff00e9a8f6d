"""Deployments screen: what each deployment serves and since when; deploy, swap and
delete as jobs (admins only) with a polled progress fragment; knowledge bases;
bad input next to the field; roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jobs.models import Job
from projects.models import Project
from tests.factories import QnaPairFactory
from tests.training.model_helpers import make_trained_model
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.training_helpers import TRAVEL, WEATHER, run_jobs
from training.models import Deployment

pytestmark = pytest.mark.django_db

BASE = "/projects/conv/deployments/"
LABELS = ["Travel"] * len(TRAVEL) + ["Weather"] * len(WEATHER)


@pytest.fixture
def trained(ui_projects: UiProjects) -> Project:
    make_trained_model(ui_projects.conv, "m1", TRAVEL + WEATHER, LABELS)
    make_trained_model(ui_projects.conv, "m2", TRAVEL + WEATHER, LABELS)
    return ui_projects.conv


def deploy(client: Client, capture: Callable[..., Any], name: str, label: str) -> Any:
    with run_jobs(capture):
        return client.post(
            BASE + "deploy", {"deployment_name": name, "model_label": label}, **HTMX
        )


def test_admin_deploys_swaps_and_deletes(
    admin_client_ui: Client,
    trained: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    page = admin_client_ui.get(BASE).content.decode()
    assert "Nothing is deployed yet." in page and 'id="deploy-form"' in page
    assert 'value="production"' in page  # the first deployment's suggested name
    response = deploy(
        admin_client_ui, django_capture_on_commit_callbacks, "production", "m1"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Deploying m1 to production." in html
    # The job ran after the response (on commit); the polled fragment shows it.
    job = Job.objects.get(kind="deploy", target_name="production")
    assert job.status == "succeeded", job.errors
    poll = admin_client_ui.get(f"{BASE}jobs/{job.job_id}/", **HTMX).content.decode()
    assert 'value="100"' in poll and "hx-trigger" not in poll
    assert 'id="deployment-list"' in poll and 'hx-swap-oob="true"' in poll
    assert 'id="deployment-production"' in poll

    deploy(admin_client_ui, django_capture_on_commit_callbacks, "staging", "m2")
    assert Deployment.objects.get(project=trained, name="staging").model_label == "m2"
    page = admin_client_ui.get(BASE).content.decode()
    assert 'id="swap-form"' in page
    with run_jobs(django_capture_on_commit_callbacks):
        swapped = admin_client_ui.post(
            BASE + "swap", {"first": "production", "second": "staging"}, **HTMX
        )
    assert swapped.status_code == 200
    assert (
        Deployment.objects.get(project=trained, name="production").model_label == "m2"
    )
    with run_jobs(django_capture_on_commit_callbacks):
        deleted = admin_client_ui.post(BASE + "staging/delete", **HTMX)
    assert deleted.status_code == 200
    assert not Deployment.objects.filter(project=trained, name="staging").exists()


def test_running_job_polls(admin_client_ui: Client, trained: Project) -> None:
    admin_client_ui.post(
        BASE + "deploy", {"deployment_name": "prod", "model_label": "m1"}, **HTMX
    )
    job = Job.objects.get(kind="deploy")
    poll = admin_client_ui.get(f"{BASE}jobs/{job.job_id}/", **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in poll
    # A second change while one is queued: 409, shown beside the name.
    again = admin_client_ui.post(
        BASE + "deploy", {"deployment_name": "b", "model_label": "m1"}, **HTMX
    )
    assert again.status_code == 422 and "in progress" in again.content.decode()


@pytest.mark.parametrize(
    ("data", "error_id", "message"),
    [
        (
            {"deployment_name": "", "model_label": "m1"},
            "deploy-name-error",
            "Give the deployment a name",
        ),
        (
            {"deployment_name": "bad name!", "model_label": "m1"},
            "deploy-name-error",
            "is invalid",
        ),
        (
            {"deployment_name": "swap", "model_label": "m1"},
            "deploy-name-error",
            "reserved",
        ),
        (
            {"deployment_name": "prod", "model_label": ""},
            "deploy-model-error",
            "Choose the trained model",
        ),
        (
            {"deployment_name": "prod", "model_label": "nope"},
            "deploy-model-error",
            "nope",
        ),
    ],
)
def test_deploy_bad_input(
    admin_client_ui: Client,
    trained: Project,
    data: dict[str, str],
    error_id: str,
    message: str,
) -> None:
    response = admin_client_ui.post(BASE + "deploy", data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="{error_id}"' in html
    assert message in html.split(f'id="{error_id}"')[1].split("</p>")[0]
    if data["deployment_name"]:
        assert f'value="{data["deployment_name"]}"' in html.replace("&#x27;", "'")
    assert not Job.objects.exists()
    assert admin_client_ui.post(BASE + "deploy", data).status_code == 422


def test_swap_and_delete_bad_input(admin_client_ui: Client, trained: Project) -> None:
    same = admin_client_ui.post(BASE + "swap", {"first": "a", "second": "a"}, **HTMX)
    assert same.status_code == 422
    html = same.content.decode()
    assert "two different" in html.split('id="swap-error"')[1].split("</p>")[0]
    missing = admin_client_ui.post(BASE + "swap", {"first": "a", "second": "b"}, **HTMX)
    assert missing.status_code == 422
    gone = admin_client_ui.post(BASE + "nope/delete", **HTMX)
    assert gone.status_code == 422 and 'id="delete-error"' in gone.content.decode()
    assert not Job.objects.exists()


def test_plain_post_redirects(
    admin_client_ui: Client,
    trained: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with run_jobs(django_capture_on_commit_callbacks):
        response = admin_client_ui.post(
            BASE + "deploy", {"deployment_name": "prod", "model_label": "m1"}
        )
    assert response.status_code == 302 and response["Location"] == BASE


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_deploy(
    client_for: Callable[[str], Client], trained: Project, role: str
) -> None:
    client = client_for(role)
    page = client.get(BASE)
    assert page.status_code == 200
    assert 'id="deploy-form"' not in page.content.decode()
    data = {"deployment_name": "prod", "model_label": "m1"}
    assert client.post(BASE + "deploy", data).status_code == 403
    assert client.post(BASE + "swap", {"first": "a", "second": "b"}).status_code == 403
    assert client.post(BASE + "prod/delete").status_code == 403
    assert not Job.objects.exists()


def test_outsider_and_anonymous(
    outsider_client: Client, client: Client, trained: Project
) -> None:
    assert outsider_client.get(BASE).status_code == 404
    assert (
        outsider_client.post(
            BASE + "deploy", {"deployment_name": "p", "model_label": "m1"}
        ).status_code
        == 404
    )
    assert client.get(BASE).status_code == 302


def test_knowledge_base_deploys_its_pairs(
    admin_client_ui: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    QnaPairFactory.create(
        project=ui_projects.kb, questions=["opening hours"], answer="9 to 5"
    )
    url = "/projects/kb/deployments/"
    page = admin_client_ui.get(url).content.decode()
    assert "Deploy the knowledge base" in page and 'id="deploy-model"' not in page
    with run_jobs(django_capture_on_commit_callbacks):
        response = admin_client_ui.post(
            url + "deploy", {"deployment_name": "production"}, **HTMX
        )
    assert response.status_code == 200
    assert Deployment.objects.filter(project=ui_projects.kb, name="production").exists()
    assert "Deploying the knowledge base to production." in response.content.decode()
