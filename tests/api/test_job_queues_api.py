"""Job queues through the Azure API: who asked for a job, the fair-share 409 in
Azure's error shape, and the warning that says why a job waits."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.models import Job
from tests.api.test_roles_api import CONV, KeyClient, key_for, ui_projects, users
from tests.ui.conftest import UiProjects, UiUsers

pytestmark = pytest.mark.django_db

__all__ = ["key_for", "ui_projects", "users"]  # fixtures used here

EXPORT = f"{CONV}/projects/conv/:export?stringIndexType=Utf16CodeUnit"


def test_a_users_key_owns_its_jobs_and_a_resource_keys_jobs_belong_to_nobody(
    key_for: Any, users: UiUsers, ui_projects: UiProjects
) -> None:
    analyst: KeyClient = key_for("analyst")
    resource: KeyClient = key_for(None)

    assert analyst.call("post", EXPORT).status_code == 202
    assert resource.call("post", EXPORT).status_code == 202

    owners = list(
        Job.objects.order_by("created_at").values_list("requested_by", flat=True)
    )
    assert owners == [users.analyst.pk, None]


def test_one_project_past_its_queue_limit_is_a_409_in_azure_shape(
    key_for: Any, ui_projects: UiProjects, settings: Any
) -> None:
    settings.STUDIO_QUEUE_LIMIT_PER_PROJECT = 2
    api: KeyClient = key_for(None)
    for _ in range(2):
        assert api.call("post", EXPORT).status_code == 202

    refused = api.call("post", EXPORT)

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "Conflict"
    assert error["message"] == (
        "Project 'conv' already has 2 job(s) waiting or running in the short queue, "
        "the most one project may have; wait for one of them to finish and try again."
    )
    assert Job.objects.filter(project_name="conv").count() == 2


def test_one_users_key_past_its_queue_limit_is_refused_on_every_project(
    key_for: Any, ui_projects: UiProjects, settings: Any
) -> None:
    settings.STUDIO_QUEUE_LIMIT_PER_USER = 1
    api: KeyClient = key_for("admin")
    assert api.call("post", EXPORT).status_code == 202

    refused = api.call(
        "post", f"{CONV}/projects/orch/:export?stringIndexType=Utf16CodeUnit"
    )

    assert refused.status_code == 409
    assert refused.json()["error"]["message"].startswith(
        "You already have 1 job(s) waiting or running in the short queue"
    )


def test_the_status_of_a_waiting_job_says_where_it_stands(
    key_for: Any, ui_projects: UiProjects
) -> None:
    api: KeyClient = key_for(None)
    first = api.call("post", EXPORT)
    second = api.call("post", EXPORT)
    location = second["Operation-Location"].split("testserver", 1)[1]
    path = location.split("?", 1)[0]

    body = api.call("get", path).json()

    assert first.status_code == 202
    assert body["status"] == "notStarted"
    assert body["warnings"] == [
        {
            "code": "JobQueued",
            "message": "Waiting in the short queue: position 2. Waiting ahead: "
            "1 export.",
        }
    ]
