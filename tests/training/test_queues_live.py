"""The job queues on the live stack (gunicorn, PostgreSQL, Redis) with the topology
users run: one Celery worker on the ``long`` queue and one on the ``short`` queue.

While project A trains (long), a deploy of project B (short) starts within seconds,
predictions keep answering, and a second training waits in the long queue with a
warning that says why.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from studio.processes import worker_command
from tests.conftest import REPO_ROOT, LiveStudio, stop_process_group
from tests.training.test_deploy_live import CLU, call, wait_for_job

pytestmark = pytest.mark.integration

# Seconds a short job may wait to start while the long worker is busy. It is picked
# up by its own idle worker within a broker poll; the rest is slack for a loaded CI.
SHORT_JOB_START_SECONDS = 10.0


def synthetic_project(name: str, *, intents: int, per_intent: int) -> dict[str, Any]:
    """A Conversation import document whose intents have their own words, so that
    training works for a while (``intents * per_intent`` utterances)."""
    rng = random.Random(f"{name}-{intents}-{per_intent}")  # noqa: S311 - test data
    common = [f"w{n}" for n in range(300)]
    utterances = []
    for index in range(intents):
        own = [f"i{index}x{n}" for n in range(12)]
        for _ in range(per_intent):
            words = rng.sample(own, 3) + rng.sample(common, 5)
            rng.shuffle(words)
            utterances.append(
                {"text": " ".join(words), "intent": f"Intent{index}", "entities": []}
            )
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectName": name,
            "projectKind": "Conversation",
            "language": "en-us",
            "settings": {"confidenceThreshold": 0.0},
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": f"Intent{i}"} for i in range(intents)],
            "entities": [],
            "utterances": utterances,
        },
    }


@pytest.fixture
def queue_workers(live_studio: LiveStudio) -> Iterator[LiveStudio]:
    """The live studio with a long-queue and a short-queue worker instead of its one
    all-queue worker (restored afterwards for the other tests)."""
    studio = live_studio
    studio.stop_worker()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for queue in ("long", "short"):
            with (studio.log_dir / f"worker-{queue}.log").open("ab") as log:
                workers.append(
                    subprocess.Popen(
                        worker_command(
                            concurrency=1,
                            hostname=f"{studio.database_name}-{queue}@%h",
                            queues=[queue],
                        ),
                        cwd=REPO_ROOT,
                        env=studio.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = studio.database_query(
                "SELECT queues FROM studio_workerheartbeat WHERE pid = ANY(%s) "
                "AND last_seen_at > now() - interval '5 seconds'",
                ([w.pid for w in workers],),
            )
            if sorted(row[0] for row in rows) == ["long", "short"]:
                break
            time.sleep(0.3)
        else:
            pytest.fail("the queue workers did not beat\n" + studio.describe_logs())
        yield studio
    finally:
        for worker in workers:
            stop_process_group(worker, timeout=30)
        studio.start_worker()
        studio.wait_for_worker_heartbeat(studio.worker_pid)


def job_of(studio: LiveStudio, headers: dict[str, str]) -> Any:
    status, _, job = call(studio, "GET", headers["Operation-Location"])
    assert status == 200, job
    return job


def import_and_wait(studio: LiveStudio, document: dict[str, Any]) -> None:
    name = document["metadata"]["projectName"]
    status, headers, body = call(studio, "POST", f"{CLU}/{name}/:import", document)
    assert status == 202, body
    assert wait_for_job(studio, headers, timeout=180)["status"] == "succeeded"


def test_a_deploy_is_not_blocked_by_another_projects_training(
    queue_workers: LiveStudio,
) -> None:
    studio = queue_workers
    import_and_wait(studio, synthetic_project("QueueBig", intents=150, per_intent=60))
    import_and_wait(studio, synthetic_project("QueueSmall", intents=3, per_intent=10))
    status, headers, body = call(
        studio,
        "POST",
        f"{CLU}/QueueSmall/:train",
        {"modelLabel": "m", "trainingMode": "standard"},
    )
    assert status == 202, body
    assert wait_for_job(studio, headers, timeout=120)["status"] == "succeeded"
    status, headers, body = call(
        studio,
        "PUT",
        f"{CLU}/QueueSmall/deployments/production",
        {"trainedModelLabel": "m"},
    )
    assert status == 202, body
    assert wait_for_job(studio, headers)["status"] == "succeeded"

    # Predictions all along.
    answers: list[int] = []
    stop = threading.Event()

    def predict() -> None:
        while not stop.is_set():
            code, _, _ = call(
                studio,
                "POST",
                "/language/:analyze-conversations",
                {
                    "kind": "Conversation",
                    "analysisInput": {
                        "conversationItem": {
                            "id": "1",
                            "participantId": "u",
                            "text": "i0x1 i0x2 w7",
                        }
                    },
                    "parameters": {
                        "projectName": "QueueSmall",
                        "deploymentName": "production",
                    },
                },
                version="2023-04-01",
            )
            answers.append(code)
            time.sleep(0.05)

    predictor = threading.Thread(target=predict, daemon=True)
    predictor.start()
    try:
        status, big_headers, body = call(
            studio,
            "POST",
            f"{CLU}/QueueBig/:train",
            {"modelLabel": "big", "trainingMode": "standard"},
        )
        assert status == 202, body
        deadline = time.monotonic() + 60
        while job_of(studio, big_headers)["status"] == "notStarted":
            assert time.monotonic() < deadline, studio.describe_logs()
            time.sleep(0.1)

        # The deploy of B: picked up by the short worker while A trains.
        sent = time.monotonic()
        status, deploy_headers, body = call(
            studio,
            "PUT",
            f"{CLU}/QueueSmall/deployments/second",
            {"trainedModelLabel": "m"},
        )
        assert status == 202, body
        while job_of(studio, deploy_headers)["status"] == "notStarted":
            assert time.monotonic() - sent < 60, studio.describe_logs()
            time.sleep(0.1)
        started_after = time.monotonic() - sent
        deployed = wait_for_job(studio, deploy_headers)
        big_while_deployed = job_of(studio, big_headers)["status"]

        # A second training waits behind A, and its body says why.
        status, queued_headers, body = call(
            studio,
            "POST",
            f"{CLU}/QueueSmall/:train",
            {"modelLabel": "m2", "trainingMode": "standard"},
        )
        assert status == 202, body
        queued = job_of(studio, queued_headers)
        big_when_queued = job_of(studio, big_headers)["status"]
    finally:
        stop.set()
        predictor.join(timeout=30)

    assert deployed["status"] == "succeeded", deployed
    assert big_while_deployed == "running", "A finished too early to prove anything"
    assert started_after < SHORT_JOB_START_SECONDS, started_after
    assert big_when_queued == "running", "A finished too early to prove anything"
    assert queued["status"] == "notStarted", queued
    assert {
        "code": "JobQueued",
        "message": "Waiting in the long queue: next to start. Running now: 1 training.",
    } in queued["warnings"], queued
    assert answers, "no prediction was made"
    assert [code for code in answers if code != 200] == []

    # Leave nothing running for the next tests.
    for headers in (big_headers, queued_headers):
        location = headers["Operation-Location"]
        path, _, query = location.partition("?")
        call(studio, "POST", f"{path}/:cancel?{query}")
    for headers in (big_headers, queued_headers):
        assert wait_for_job(studio, headers, timeout=300)["status"] in (
            "cancelled",
            "succeeded",
        )
