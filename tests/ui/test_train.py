"""Train screen: start (form validation, the same rules as the :train API), the
progress fragment htmx polls, cancel, history with failures; roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Job
from studio.plain_errors import plain_message
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.training_helpers import run_jobs, seed_utterances
from training.models import TrainedModel

pytestmark = pytest.mark.django_db

BASE = "/projects/conv/train/"
GOOD = {
    "model_label": "m1",
    "training_mode": "standard",
    "split_kind": "manual",
    "training_percent": "80",
    "testing_percent": "20",
}


def test_page_shows_form_and_empty_history(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.get(BASE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="train-form"' in html
    assert "No training jobs yet." in html
    assert 'value="model1"' in html  # a fresh label is suggested


def test_viewer_reads_but_cannot_train(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    html = viewer_client.get(BASE).content.decode()
    assert 'id="train-form"' not in html
    assert viewer_client.post(BASE + "start", GOOD).status_code == 403
    assert not Job.objects.exists()


def test_outsider_and_anonymous(
    outsider_client: Client, client: Client, ui_projects: UiProjects
) -> None:
    assert outsider_client.get(BASE).status_code == 404
    assert outsider_client.post(BASE + "start", GOOD).status_code == 404
    response = client.get(BASE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_knowledge_base_has_no_train_screen(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    assert admin_client_ui.get("/projects/kb/train/").status_code == 404


def test_train_with_htmx_runs_the_job_and_polls_to_100(
    analyst_client: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    seed_utterances(ui_projects.conv)
    with run_jobs(django_capture_on_commit_callbacks):
        response = analyst_client.post(BASE + "start", GOOD, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Training m1 started." in html
    job = Job.objects.get(kind="train", project_name="conv")
    assert job.status == "succeeded", job.errors
    assert job.params["evaluationOptions"] == {"kind": "manual"}
    assert TrainedModel.objects.filter(project=ui_projects.conv, label="m1").exists()
    poll = analyst_client.get(f"{BASE}jobs/{job.job_id}/", **HTMX)
    assert poll.status_code == 200
    body = poll.content.decode()
    assert 'value="100"' in body
    assert "hx-trigger" not in body.split('id="train-history"')[0]  # stopped polling
    assert 'hx-swap-oob="true"' in body  # the history refreshes with it
    assert "Open the evaluation of m1" in body


def test_running_job_fragment_polls_and_can_be_cancelled(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    seed_utterances(ui_projects.conv)
    # Outside on_commit capture the queued job never runs: it stays notStarted.
    analyst_client.post(BASE + "start", GOOD, **HTMX)
    job = Job.objects.get(kind="train")
    assert job.status == "notStarted"
    poll = analyst_client.get(f"{BASE}jobs/{job.job_id}/", **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in poll
    # The bar shows the worker's own percentage as it moves.
    Job.objects.filter(pk=job.pk).update(status="running", percent_complete=42)
    poll = analyst_client.get(f"{BASE}jobs/{job.job_id}/", **HTMX).content.decode()
    assert 'value="42"' in poll and ">42%<" in poll
    assert 'hx-trigger="every 1s"' in poll
    Job.objects.filter(pk=job.pk).update(status="notStarted", percent_complete=0)
    assert "Cancel training" in poll
    # A second job while one is queued: 409 from the service, shown on the form.
    again = analyst_client.post(BASE + "start", {**GOOD, "model_label": "m2"}, **HTMX)
    assert again.status_code == 422
    assert "already training" in again.content.decode()
    cancelled = analyst_client.post(f"{BASE}jobs/{job.job_id}/cancel", **HTMX)
    assert cancelled.status_code == 200
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert "hx-trigger" not in cancelled.content.decode().split('id="train-history"')[0]


def test_plain_post_redirects(
    analyst_client: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    seed_utterances(ui_projects.conv)
    with run_jobs(django_capture_on_commit_callbacks):
        response = analyst_client.post(
            BASE + "start", {**GOOD, "split_kind": "percentage"}
        )
    assert response.status_code == 302 and response["Location"] == BASE
    page = analyst_client.get(BASE).content.decode()
    assert "Training m1 started." in page
    assert 'id="train-job-' in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"model_label": ""}, "model_label", "required"),
        ({"model_label": "bad label!"}, "model_label", "letters, digits"),
        ({"training_mode": "turbo"}, "training_mode", "valid choice"),
        (
            {"split_kind": "percentage", "testing_percent": "30"},
            "testing_percent",
            "add up to 100",
        ),
        (
            {
                "split_kind": "percentage",
                "training_percent": "0",
                "testing_percent": "100",
            },
            "training_percent",
            "greater than or equal to 1",
        ),
        (
            {"split_kind": "percentage", "training_percent": ""},
            "training_percent",
            "Give the training percentage",
        ),
        ({"split_kind": "random"}, "split_kind", "valid choice"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_kept(
    analyst_client: Client,
    ui_projects: UiProjects,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    data = {**GOOD, **changes}
    response = analyst_client.post(BASE + "start", data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    section = (
        html.split(f'data-field="{field}"', 1)[1]
        .split("</fieldset>")[0]
        .split("data-field=", 1)[0]
    )
    assert message in section, section
    if data["model_label"]:
        assert f'value="{data["model_label"]}"' in html
    assert not Job.objects.exists()
    # A plain post gets the whole page with the same error.
    plain = analyst_client.post(BASE + "start", data)
    assert plain.status_code == 422 and message in plain.content.decode()


def test_failed_job_shows_its_reason_in_history(
    analyst_client: Client,
    ui_projects: UiProjects,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # No utterances at all: the job fails with the engine's reason.
    with run_jobs(django_capture_on_commit_callbacks):
        analyst_client.post(BASE + "start", GOOD, **HTMX)
    job = Job.objects.get(kind="train")
    assert job.status == "failed"
    reason = job.errors[0]["message"]
    page = analyst_client.get(BASE).content.decode()
    assert "Failed" in page
    from django.utils.html import escape

    # In the studio's words: no API path ("evaluationOptions.kind").
    assert escape(plain_message(reason)) in page
    assert "evaluationOptions" not in page


def test_job_of_another_project_is_404(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    seed_utterances(ui_projects.conv)
    analyst_client.post(BASE + "start", GOOD, **HTMX)
    job = Job.objects.get(kind="train")
    assert (
        analyst_client.get(
            f"/projects/orch/train/jobs/{job.job_id}/", **HTMX
        ).status_code
        == 404
    )
    assert analyst_client.get(f"{BASE}jobs/nope/", **HTMX).status_code == 404


def test_a_waiting_training_says_why_and_a_running_one_its_stage(
    analyst_client: Client, ui_projects: UiProjects, users: Any
) -> None:
    seed_utterances(ui_projects.conv)
    # Another project's training holds the long queue's worker.
    Job.objects.create(
        job_id="other_1",
        kind="train",
        project_name="someone-elses",
        queue="long",
        status="running",
        expires_at=timezone.now() + timedelta(days=1),
    )
    analyst_client.post(BASE + "start", GOOD, **HTMX)
    job = Job.objects.get(kind="train", project_name="conv")

    waiting = analyst_client.get(f"{BASE}jobs/{job.job_id}/", **HTMX).content.decode()
    Job.objects.filter(pk=job.pk).update(
        status="running",
        percent_complete=50,
        started_at=timezone.now() - timedelta(seconds=30),
    )
    running = analyst_client.get(f"{BASE}jobs/{job.job_id}/", **HTMX).content.decode()

    assert job.requested_by == users.analyst
    assert (
        "Waiting in the long queue: next to start. Running now: 1 training." in waiting
    )
    assert "someone-elses" not in waiting
    assert "Stage: training. About 30 s left." in running


def test_the_queue_limit_of_a_user_reads_as_plain_language_on_the_form(
    analyst_client: Client, ui_projects: UiProjects, settings: Any
) -> None:
    settings.STUDIO_QUEUE_LIMIT_PER_USER = 1
    seed_utterances(ui_projects.conv)
    seed_utterances(ui_projects.orch)
    analyst_client.post(BASE + "start", GOOD, **HTMX)

    refused = analyst_client.post("/projects/orch/train/start", GOOD, **HTMX)

    assert refused.status_code == 422
    html = refused.content.decode()
    assert "You already have 1 job(s) waiting or running in the long queue" in html, (
        html
    )
    assert "projectName" not in html
    assert not Job.objects.filter(project_name="orch").exists()
