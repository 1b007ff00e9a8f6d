"""Deployments on the live stack: gunicorn, a real Celery worker, PostgreSQL, Redis.

Proves what eager tests cannot: the job runs in another process, and the deployment
is readable by the web process as soon as the job it polls says ``succeeded``; a
deploy queued while no worker runs completes when a worker comes back.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.conftest import LiveStudio

pytestmark = pytest.mark.integration

CLU = "/language/authoring/analyze-conversations/projects"
QNA = "/language/query-knowledgebases/projects"
V = "2023-04-01"

MAKE_MODELS = """
from projects.models import Project
from tests.training.model_helpers import make_trained_model
project = Project.objects.get(name="DeployLive")
texts = ["book a flight", "fly to rome", "plane tickets", "weather today",
         "is it raining", "sunny tomorrow"]
labels = ["Travel"] * 3 + ["Weather"] * 3
for label, n in (("m1", 6), ("m2", 5)):
    print("MODEL", make_trained_model(project, label, texts[:n], labels[:n]).model_id)
"""


def call(
    studio: LiveStudio, method: str, path: str, body: Any = None, version: str = V
) -> tuple[int, dict[str, str], Any]:
    url = (
        path if path.startswith("http") else f"{studio.url}{path}?api-version={version}"
    )
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Ocp-Apim-Subscription-Key", studio.api_key)
    if data is not None:
        # The conversations SDK sends project PATCHes as merge-patch.
        merge = method == "PATCH" and isinstance(body, dict)
        request.add_header(
            "Content-Type",
            "application/merge-patch+json" if merge else "application/json",
        )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def wait_for_job(
    studio: LiveStudio, headers: dict[str, str], timeout: float = 60
) -> Any:
    location = headers["Operation-Location"]
    deadline = time.monotonic() + timeout
    while True:
        status, _, job = call(studio, "GET", location)
        assert status == 200, job
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}\n" + (
            studio.describe_logs()
        )
        time.sleep(0.1)


def test_deploy_swap_and_kb_deploy_on_the_live_stack(live_studio: LiveStudio) -> None:
    studio = live_studio
    status, _, body = call(
        studio,
        "PATCH",
        f"{CLU}/DeployLive",
        {"projectName": "DeployLive", "projectKind": "Conversation", "language": "en"},
    )
    assert status == 201, body
    made = studio.manage("shell", "-c", MAKE_MODELS)
    assert made.returncode == 0, made.stderr
    m1, m2 = [
        line.split()[1]
        for line in made.stdout.splitlines()
        if line.startswith("MODEL ")
    ]

    for name, label in (("production", "m1"), ("staging", "m2")):
        status, headers, body = call(
            studio,
            "PUT",
            f"{CLU}/DeployLive/deployments/{name}",
            {"trainedModelLabel": label},
        )
        assert status == 202, body
        job = wait_for_job(studio, headers)
        assert job["status"] == "succeeded", job
        # Readable by the web process the moment the job reports success.
        status, _, deployment = call(
            studio, "GET", f"{CLU}/DeployLive/deployments/{name}"
        )
        assert status == 200, deployment
        assert deployment["modelId"] == (m1 if label == "m1" else m2)

    status, headers, body = call(
        studio,
        "POST",
        f"{CLU}/DeployLive/deployments/:swap",
        {"firstDeploymentName": "production", "secondDeploymentName": "staging"},
    )
    assert status == 202, body
    assert wait_for_job(studio, headers)["status"] == "succeeded"
    _, _, production = call(studio, "GET", f"{CLU}/DeployLive/deployments/production")
    assert production["modelId"] == m2
    # Other tests share the live studio: only this project's rows.
    rows = studio.database_query(
        "SELECT d.name, d.model_id FROM training_deployment d "
        "JOIN projects_project p ON p.id = d.project_id "
        "WHERE p.name = %s ORDER BY d.name",
        ("DeployLive",),
    )
    assert rows == [("production", m2), ("staging", m1)]

    # A deploy queued while no worker runs is done when a worker comes back.
    studio.stop_worker()
    try:
        status, headers, body = call(
            studio,
            "PUT",
            f"{CLU}/DeployLive/deployments/production",
            {"trainedModelLabel": "m1"},
        )
        assert status == 202, body
        status, _, job = call(studio, "GET", headers["Operation-Location"])
        assert job["status"] == "notStarted"
    finally:
        studio.start_worker()
    assert wait_for_job(studio, headers, timeout=120)["status"] == "succeeded"
    _, _, production = call(studio, "GET", f"{CLU}/DeployLive/deployments/production")
    assert production["modelId"] == m1

    status, _, body = call(
        studio,
        "PATCH",
        f"{QNA}/faqlive",
        {"language": "en", "description": "live"},
        version="2021-10-01",
    )
    assert status in (200, 201), body
    status, headers, body = call(
        studio,
        "PATCH",
        f"{QNA}/faqlive/qnas",
        [
            {
                "op": "add",
                "value": {
                    "id": 1,
                    "answer": "Use the reset link.",
                    "questions": ["How do I reset my password?"],
                },
            }
        ],
        version="2021-10-01",
    )
    assert status == 202, body
    status, headers, body = call(
        studio, "PUT", f"{QNA}/faqlive/deployments/production", version="2021-10-01"
    )
    assert status == 202, body
    assert wait_for_job(studio, headers)["status"] == "succeeded"
    status, _, deployment = call(
        studio, "GET", f"{QNA}/faqlive/deployments/production", version="2021-10-01"
    )
    assert status == 200 and deployment["deploymentName"] == "production"
