"""Training on the live stack (gunicorn, PostgreSQL, Redis, a real Celery worker).

The entity fit runs in a child process of the Celery pool process; a cancel while
it runs ends the job as ``cancelled`` within seconds, and the worker takes the next
training at once.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from tests.conftest import LiveStudio
from tests.training.test_deploy_live import CLU, call, wait_for_job
from tests.training.test_queues_live import import_and_wait, job_of

pytestmark = pytest.mark.integration

# Seconds from the cancel request to the job's end: the cancel check runs every
# CANCEL_CHECK_SECONDS in the progress loop; the rest is slack for a loaded machine.
CANCEL_SECONDS = 15.0


def entity_project(name: str, size: int) -> dict[str, Any]:
    """A Conversation import whose entity fit takes a while (a Contact span in each
    of ``size`` utterances)."""
    rng = random.Random(size)  # noqa: S311 - test data
    words = [f"w{n}" for n in range(400)]
    names = [f"Nm{n}" for n in range(300)]
    utterances = []
    for k in range(size):
        before = " ".join(rng.sample(words, 4))
        contact = rng.choice(names)
        utterances.append(
            {
                "text": f"{before} {contact} {' '.join(rng.sample(words, 3))}",
                "intent": "Send" if k % 2 else "Read",
                "entities": [
                    {
                        "category": "Contact",
                        "offset": len(before) + 1,
                        "length": len(contact),
                    }
                ],
            }
        )
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectName": name,
            "projectKind": "Conversation",
            "language": "en-us",
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": "Send"}, {"category": "Read"}],
            "entities": [{"category": "Contact"}],
            "utterances": utterances,
        },
    }


def test_a_cancel_during_the_entity_fit_ends_the_job_cancelled_within_seconds(
    live_studio: LiveStudio,
) -> None:
    studio = live_studio
    import_and_wait(studio, entity_project("EntityCancel", 20000))
    status, headers, body = call(
        studio,
        "POST",
        f"{CLU}/EntityCancel/:train",
        {"modelLabel": "m", "trainingMode": "standard"},
    )
    assert status == 202, body
    deadline = time.monotonic() + 120
    while True:
        job = job_of(studio, headers)
        assert job["status"] in ("notStarted", "running"), job
        if (
            job["status"] == "running"
            and job["result"]["trainingStatus"]["percentComplete"] > 0
        ):
            break
        assert time.monotonic() < deadline, studio.describe_logs()
        time.sleep(0.2)
    job_id = headers["Operation-Location"].split("/jobs/")[1].split("?")[0]
    sent = time.monotonic()
    status, _, body = call(
        studio, "POST", f"{CLU}/EntityCancel/train/jobs/{job_id}/:cancel"
    )
    assert status == 202, body
    ended = wait_for_job(studio, headers, timeout=CANCEL_SECONDS + 60)
    took = time.monotonic() - sent
    assert ended["status"] == "cancelled", ended
    assert took < CANCEL_SECONDS, (took, studio.describe_logs())

    # The worker is free again: a small training runs to the end, entities included.
    import_and_wait(studio, entity_project("EntitySmall", 200))
    status, headers, body = call(
        studio,
        "POST",
        f"{CLU}/EntitySmall/:train",
        {"modelLabel": "m", "trainingMode": "standard"},
    )
    assert status == 202, body
    assert wait_for_job(studio, headers, timeout=180)["status"] == "succeeded"
