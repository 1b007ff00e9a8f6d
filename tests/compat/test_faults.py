"""Faults against a live studio (gunicorn + Celery worker + PostgreSQL + Redis).

* A worker killed with SIGKILL in the middle of a training job and of a deploy, swap,
  delete-deployment and knowledge-base deploy job: the previous deployments keep
  serving exactly the same predictions, the job ends ``failed`` (found by the
  stale-job sweeper of the next worker, see ``studio/worker.py``), and the retried
  operation succeeds.
* PostgreSQL connections dropped (``pg_terminate_backend``) while a client predicts:
  every request either succeeds or fails cleanly with Azure's JSON error, none hangs,
  and the studio recovers without a restart.
* Bad runtime inputs: each gets the right 4xx in Azure's error shape and logs nothing.

A deployment job is normally too quick to be killed half-way. The test holds the lock
of the deployment version row (``training_deploymentstate``), which every deployment
change updates inside its own transaction (``studio/deployment_state.py``): the job
blocks there, mid-transaction, and is killed while it waits. A training job is killed
once mid-fit and once inside its final transaction (a SHARE lock on the trained-model
table makes it wait there). No test-only hook in the product is involved.

Raw HTTP (``requests``) is used where the exact status, headers and body matter; the
official authoring client drives the set-up.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from azure.ai.language.conversations.authoring import ConversationAuthoringClient
from azure.ai.language.questionanswering.authoring import AuthoringClient
from azure.core.credentials import AzureKeyCredential

from tests.compat.helpers import conversation_task, unique, wait_for
from tests.conftest import LiveStudio, clinc150_import_document

pytestmark = pytest.mark.integration

POLL_TIMEOUT = 180
API_VERSION = "2023-04-01"
QNA_API_VERSION = "2021-10-01"
# STUDIO_JOB_STALE_SECONDS (15) + STUDIO_JOB_SWEEP_SECONDS (2) in the live harness,
# plus the new worker's start-up.
SWEEP_TIMEOUT = 90
REQUEST_TIMEOUT = 15
TEXTS = [
    "send a new email to my sister about the party on friday",
    "please read my new emails aloud",
    "delete the last message",
    "flag this email as important",
    "search my inbox for the invoice from tom",
    "forward this to my manager",
    "\U0001f4e7 send a mail to daniel",
]


@dataclass
class Rest:
    """Raw calls with the studio's key."""

    studio: LiveStudio
    session: requests.Session

    def url(self, path: str) -> str:
        return f"{self.studio.url}{path}"

    def analyze(
        self, body: Any, *, raw: bytes | None = None, timeout: float = REQUEST_TIMEOUT
    ) -> requests.Response:
        return self.session.post(
            self.url("/language/:analyze-conversations"),
            params={"api-version": API_VERSION},
            data=raw if raw is not None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )

    def query_kb(
        self, project: str, deployment: str, body: Any, *, raw: bytes | None = None
    ) -> requests.Response:
        return self.session.post(
            self.url("/language/:query-knowledgebases"),
            params={
                "projectName": project,
                "deploymentName": deployment,
                "api-version": QNA_API_VERSION,
            },
            data=raw if raw is not None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            timeout=REQUEST_TIMEOUT,
        )

    def query_text(self, body: Any) -> requests.Response:
        return self.session.post(
            self.url("/language/:query-text"),
            params={"api-version": QNA_API_VERSION},
            json=body,
            timeout=REQUEST_TIMEOUT,
        )

    def deployment_job(self, operation: str, project: str) -> str:
        """Start a deployment-changing job; its poll URL. ``deploy`` puts ``m1b`` on
        production, ``swap`` swaps production and staging, ``delete`` deletes
        staging."""
        base = (
            f"/language/authoring/analyze-conversations/projects/{project}/deployments"
        )
        params = {"api-version": API_VERSION}
        if operation == "deploy":
            response = self.session.put(
                self.url(f"{base}/production"),
                params=params,
                json={"trainedModelLabel": "m1b"},
                timeout=REQUEST_TIMEOUT,
            )
        elif operation == "swap":
            response = self.session.post(
                self.url(f"{base}/:swap"),
                params=params,
                json={
                    "firstDeploymentName": "production",
                    "secondDeploymentName": "staging",
                },
                timeout=REQUEST_TIMEOUT,
            )
        else:
            response = self.session.delete(
                self.url(f"{base}/staging"), params=params, timeout=REQUEST_TIMEOUT
            )
        assert response.status_code == 202, response.text
        return str(response.headers["Operation-Location"])

    def job(self, poll_url: str) -> dict[str, Any]:
        response = self.session.get(poll_url, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        return dict(response.json())


def task(
    text: str, project: str, deployment: str = "production", **parameters: Any
) -> dict[str, Any]:
    """A runtime task with UTF-16 offsets, so predictions compare exactly."""
    return conversation_task(
        text, project, deployment, **{"stringIndexType": "Utf16CodeUnit", **parameters}
    )


def assert_azure_error(response: requests.Response, status: int | set[int]) -> str:
    """The response is Azure's JSON error body with the expected status; its code."""
    allowed = {status} if isinstance(status, int) else status
    assert response.status_code in allowed, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), (
        response.headers,
        response.text[:300],
    )
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return str(error["code"])


# -- set-up ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authoring(live_studio: LiveStudio) -> ConversationAuthoringClient:
    return ConversationAuthoringClient(
        live_studio.url, AzureKeyCredential(live_studio.api_key)
    )


@pytest.fixture(scope="module")
def rest(live_studio: LiveStudio) -> Iterator[Rest]:
    session = requests.Session()
    session.headers["Ocp-Apim-Subscription-Key"] = live_studio.api_key
    # A fresh connection per request: a pooled keep-alive connection that gunicorn
    # closes as idle (2 s) while a request is being sent on it would surface as a
    # "Remote end closed connection" that says nothing about the studio. With this,
    # a dropped connection is one the studio really dropped.
    session.headers["Connection"] = "close"
    yield Rest(live_studio, session)
    session.close()


@pytest.fixture(scope="module")
def email_app(shared_data: Path) -> dict[str, Any]:
    path = shared_data / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def served(
    authoring: ConversationAuthoringClient, rest: Rest, email_app: dict[str, Any]
) -> dict[str, Any]:
    """A project whose ``production`` deployment serves ``m1`` (EmailAppDemo), plus a
    trained ``m1b`` that predicts differently (SendEmail renamed ComposeMail), and
    the predictions ``production`` gives for ``TEXTS``."""
    name = unique("Faults")
    authoring.begin_import_project(name, email_app).result(timeout=POLL_TIMEOUT)
    authoring.begin_train(
        name, {"modelLabel": "m1", "trainingMode": "standard"}
    ).result(timeout=POLL_TIMEOUT)
    renamed = copy.deepcopy(email_app)
    for intent in renamed["assets"]["intents"]:
        if intent["category"] == "SendEmail":
            intent["category"] = "ComposeMail"
    for utterance in renamed["assets"]["utterances"]:
        if utterance["intent"] == "SendEmail":
            utterance["intent"] = "ComposeMail"
    authoring.begin_import_project(name, renamed).result(timeout=POLL_TIMEOUT)
    authoring.begin_train(
        name, {"modelLabel": "m1b", "trainingMode": "standard"}
    ).result(timeout=POLL_TIMEOUT)
    deployment = authoring.begin_deploy_project(
        name, "production", {"trainedModelLabel": "m1"}
    ).result(timeout=POLL_TIMEOUT)
    return {
        "name": name,
        "model_id": deployment["modelId"],
        "predictions": predictions(rest, name),
    }


def predictions(rest: Rest, project: str, deployment: str = "production") -> list[Any]:
    out = []
    for text in TEXTS:
        response = rest.analyze(task(text, project, deployment))
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


@contextlib.contextmanager
def background_predictions(
    rest: Rest, project: str, expected: list[Any]
) -> Iterator[list[str]]:
    """Predict in a loop while the block runs; yields the list of problems seen."""
    problems: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        i = 0
        while not stop.is_set():
            text = TEXTS[i % len(TEXTS)]
            try:
                response = rest.analyze(task(text, project))
            except requests.RequestException as exc:
                problems.append(f"{text!r}: {exc!r}")
                continue
            if response.status_code != 200:
                problems.append(f"{text!r}: {response.status_code} {response.text}")
            elif response.json() != expected[i % len(TEXTS)]:
                problems.append(f"{text!r}: changed to {response.text}")
            i += 1
            time.sleep(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield problems
    finally:
        stop.set()
        thread.join(timeout=REQUEST_TIMEOUT + 5)


def model_labels(authoring: ConversationAuthoringClient, project: str) -> list[str]:
    return sorted(m["label"] for m in authoring.list_trained_models(project))


# -- (a) a worker killed mid-training ----------------------------------------------


def test_worker_killed_mid_training(
    live_studio: LiveStudio,
    authoring: ConversationAuthoringClient,
    rest: Rest,
    served: dict[str, Any],
    shared_data: Path,
) -> None:
    name = served["name"]
    # Same project, far more data: 9,000 CLINC150 utterances train for seconds.
    big = clinc150_import_document(shared_data, name, per_intent=60)
    authoring.begin_import_project(name, big).result(timeout=POLL_TIMEOUT)
    before = model_labels(authoring, name)
    with background_predictions(rest, name, served["predictions"]) as problems:
        authoring.begin_train(
            name, {"modelLabel": "m2", "trainingMode": "standard"}, polling=False
        )
        jobs = [
            j
            for j in authoring.list_training_jobs(name)
            if j["status"] in ("notStarted", "running")
        ]
        assert len(jobs) == 1, jobs
        job_id = jobs[0]["jobId"]
        state: dict[str, Any] = {}

        def training() -> bool:
            state.update(authoring.get_training_job_status(name, job_id))
            assert state["status"] in ("notStarted", "running"), state
            return bool(
                state["status"] == "running"
                and state["result"]["trainingStatus"]["percentComplete"] > 0
            )

        wait_for(training, timeout=60, what="the training job makes progress")
        live_studio.restart_worker(kill=True)
        # The dead worker's job is found and failed by the new worker's sweeper.
        wait_for(
            lambda: (
                authoring.get_training_job_status(name, job_id)["status"] != "running"
            ),
            timeout=SWEEP_TIMEOUT,
            what="the killed training job leaves 'running'",
            interval=1,
        )
        assert predictions(rest, name) == served["predictions"]
    assert problems == []
    failed = authoring.get_training_job_status(name, job_id)
    assert failed["status"] == "failed", failed
    assert failed["errors"], failed
    assert failed["result"]["trainingStatus"]["status"] == "failed"
    assert model_labels(authoring, name) == before
    assert (
        authoring.get_deployment(name, "production")["modelId"] == (served["model_id"])
    )

    # The retry is a new job, which succeeds; the failed one stays failed.
    retried = authoring.begin_train(
        name, {"modelLabel": "m2", "trainingMode": "standard"}
    ).result(timeout=POLL_TIMEOUT)
    assert retried["status"] == "succeeded", retried
    assert retried["jobId"] != job_id
    assert model_labels(authoring, name) == sorted([*before, "m2"])
    assert authoring.get_training_job_status(name, job_id)["status"] == "failed"
    assert predictions(rest, name) == served["predictions"]


def test_worker_killed_while_training_commits_over_a_deployed_label(
    live_studio: LiveStudio,
    authoring: ConversationAuthoringClient,
    rest: Rest,
    served: dict[str, Any],
    email_app: dict[str, Any],
) -> None:
    """The worst moment: retraining a deployed label, killed inside the transaction
    that replaces the old model and its evaluation. The test holds a SHARE lock on
    the trained-model table, so the job's delete of the old model waits there, after
    it has locked its job and project rows."""
    name = served["name"]
    authoring.begin_import_project(name, email_app).result(timeout=POLL_TIMEOUT)
    train = {"modelLabel": "m3", "trainingMode": "standard"}
    authoring.begin_train(name, train).result(timeout=POLL_TIMEOUT)
    authoring.begin_deploy_project(name, "canary", {"trainedModelLabel": "m3"}).result(
        timeout=POLL_TIMEOUT
    )
    canary = predictions(rest, name, "canary")
    old_model = authoring.get_trained_model(name, "m3")
    old_summary = authoring.get_model_evaluation_summary(name, "m3")

    def old_results() -> list[Any]:
        return list(
            authoring.list_model_evaluation_results(
                name, "m3", string_index_type="Utf16CodeUnit"
            )
        )

    results = old_results()
    labels = model_labels(authoring, name)
    with background_predictions(rest, name, served["predictions"]) as problems:
        with psycopg.connect(live_studio.env["DATABASE_URL"]) as lock:
            lock.execute("LOCK TABLE training_trainedmodel IN SHARE MODE")
            authoring.begin_train(name, train, polling=False)
            (job,) = [
                j
                for j in authoring.list_training_jobs(name)
                if j["status"] in ("notStarted", "running")
            ]
            wait_for(
                lambda: lock_waiters(live_studio) > 0,
                timeout=120,
                what="the training job's commit waits on the trained-model table",
            )
            status = authoring.get_training_job_status(name, job["jobId"])["status"]
            assert status == "running"
            live_studio.stop_worker(kill=True)
            lock.rollback()
        live_studio.start_worker()
        live_studio.wait_for_worker_heartbeat(live_studio.worker_pid)
        wait_for(
            lambda: (
                authoring.get_training_job_status(name, job["jobId"])["status"]
                != "running"
            ),
            timeout=SWEEP_TIMEOUT,
            what="the killed training job leaves 'running'",
            interval=1,
        )
        assert predictions(rest, name, "canary") == canary
    assert problems == []
    failed = authoring.get_training_job_status(name, job["jobId"])
    assert failed["status"] == "failed", failed
    # The old model, its evaluation and the deployments are exactly as they were.
    assert authoring.get_trained_model(name, "m3") == old_model
    assert authoring.get_model_evaluation_summary(name, "m3") == old_summary
    assert old_results() == results
    assert model_labels(authoring, name) == labels
    assert authoring.get_deployment(name, "canary")["modelId"] == old_model["modelId"]
    assert (
        authoring.get_deployment(name, "production")["modelId"] == (served["model_id"])
    )
    # The retry replaces the label; the deployment keeps the model it deployed.
    retried = authoring.begin_train(name, train).result(timeout=POLL_TIMEOUT)
    assert retried["status"] == "succeeded", retried
    assert authoring.get_trained_model(name, "m3")["modelId"] != old_model["modelId"]
    assert authoring.get_deployment(name, "canary")["modelId"] == old_model["modelId"]
    assert predictions(rest, name, "canary") == canary
    authoring.begin_delete_deployment(name, "canary").result(timeout=POLL_TIMEOUT)
    authoring.delete_trained_model(name, "m3")


# -- (b) a worker killed mid-deploy ------------------------------------------------


@contextlib.contextmanager
def deployment_state_locked(studio: LiveStudio) -> Iterator[None]:
    """Hold the deployment version row's lock: deployment writes wait behind it."""
    with psycopg.connect(studio.env["DATABASE_URL"], connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT version FROM training_deploymentstate WHERE id = 1 FOR UPDATE"
        ).fetchall()
        assert rows, "no deployment version row: nothing was deployed yet"
        try:
            yield
        finally:
            conn.rollback()


def lock_waiters(studio: LiveStudio) -> int:
    rows = studio.database_query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return int(rows[0][0])


@pytest.mark.parametrize("operation", ["deploy", "swap", "delete"])
def test_worker_killed_mid_deployment_job(
    live_studio: LiveStudio,
    authoring: ConversationAuthoringClient,
    rest: Rest,
    served: dict[str, Any],
    operation: str,
) -> None:
    name = served["name"]
    m1b = authoring.get_trained_model(name, "m1b")["modelId"]
    authoring.begin_deploy_project(
        name, "staging", {"trainedModelLabel": "m1b"}
    ).result(timeout=POLL_TIMEOUT)
    staging = predictions(rest, name, "staging")
    assert staging != served["predictions"]

    def unchanged() -> None:
        assert predictions(rest, name) == served["predictions"]
        assert predictions(rest, name, "staging") == staging

    with background_predictions(rest, name, served["predictions"]) as problems:
        with deployment_state_locked(live_studio):
            poll_url = rest.deployment_job(operation, name)
            wait_for(
                lambda: lock_waiters(live_studio) > 0,
                timeout=60,
                what=f"the {operation} job waits on the deployment version row",
            )
            assert rest.job(poll_url)["status"] == "running"
            live_studio.stop_worker(kill=True)
        # The lock is released only now: the killed job's transaction must not commit.
        unchanged()
        live_studio.start_worker()
        live_studio.wait_for_worker_heartbeat(live_studio.worker_pid)
        wait_for(
            lambda: rest.job(poll_url)["status"] != "running",
            timeout=SWEEP_TIMEOUT,
            what=f"the killed {operation} job leaves 'running'",
            interval=1,
        )
        unchanged()
    assert problems == []
    failed = rest.job(poll_url)
    assert failed["status"] == "failed", failed
    assert failed["errors"], failed
    assert (
        authoring.get_deployment(name, "production")["modelId"] == (served["model_id"])
    )
    assert authoring.get_deployment(name, "staging")["modelId"] == m1b

    # The retry succeeds and takes effect; then production serves m1 again and
    # staging is gone, for the other tests.
    if operation == "deploy":
        retried = authoring.begin_deploy_project(
            name, "production", {"trainedModelLabel": "m1b"}
        ).result(timeout=POLL_TIMEOUT)
        assert retried["modelId"] == m1b
    elif operation == "swap":
        swapped = authoring.begin_swap_deployments(
            name,
            {"firstDeploymentName": "production", "secondDeploymentName": "staging"},
        ).result(timeout=POLL_TIMEOUT)
        assert swapped["status"] == "succeeded", swapped
    if operation in ("deploy", "swap"):
        wait_for(
            lambda: predictions(rest, name) == staging,
            timeout=2,
            what=f"production serves m1b after the retried {operation}",
        )
        authoring.begin_deploy_project(
            name, "production", {"trainedModelLabel": "m1"}
        ).result(timeout=POLL_TIMEOUT)
    deleted = authoring.begin_delete_deployment(name, "staging").result(
        timeout=POLL_TIMEOUT
    )
    assert deleted["status"] == "succeeded", deleted
    wait_for(
        lambda: predictions(rest, name) == served["predictions"],
        timeout=2,
        what="production serves m1 again",
    )
    gone = rest.analyze(task(TEXTS[0], name, "staging"))
    assert_azure_error(gone, 404)


def kb_answer(rest: Rest, kb: str, question: str) -> str:
    response = rest.query_kb(kb, "production", {"question": question, "top": 1})
    assert response.status_code == 200, response.text
    return str(response.json()["answers"][0]["answer"])


def test_worker_killed_mid_knowledge_base_deploy(
    live_studio: LiveStudio, rest: Rest, shared_data: Path
) -> None:
    """The knowledge-base deploy builds and saves its index in the job, then repoints
    production in one transaction: killed there, the old index keeps answering."""
    qna = AuthoringClient(live_studio.url, AzureKeyCredential(live_studio.api_key))
    kb = unique("FaultKb")
    tsv = shared_data / "azure-language-samples" / "qna-maker" / "SampleQnAs.tsv"
    body: Any = tsv.read_bytes()
    qna.begin_import_assets(
        kb, body, file_format="tsv", content_type="text/tab-separated-values"
    ).result(timeout=POLL_TIMEOUT)
    qna.begin_deploy_project(kb, "production").result(timeout=POLL_TIMEOUT)
    question = "Where do the studio's bots spend their holidays?"
    new_answer = "On a quiet server rack in the basement."
    before = kb_answer(rest, kb, question)
    assert before != new_answer
    qna.begin_update_qnas(
        kb,
        [
            {
                "op": "add",
                "value": {"id": 500, "answer": new_answer, "questions": [question]},
            }
        ],
    ).result(timeout=POLL_TIMEOUT)
    deploy_url = rest.url(
        f"/language/query-knowledgebases/projects/{kb}/deployments/production"
    )
    with deployment_state_locked(live_studio):
        response = rest.session.put(
            deploy_url, params={"api-version": QNA_API_VERSION}, timeout=REQUEST_TIMEOUT
        )
        assert response.status_code == 202, response.text
        poll_url = str(response.headers["Operation-Location"])
        wait_for(
            lambda: lock_waiters(live_studio) > 0,
            timeout=60,
            what="the knowledge-base deploy job waits on the deployment version row",
        )
        assert rest.job(poll_url)["status"] == "running"
        live_studio.stop_worker(kill=True)
    assert kb_answer(rest, kb, question) == before
    live_studio.start_worker()
    live_studio.wait_for_worker_heartbeat(live_studio.worker_pid)
    wait_for(
        lambda: rest.job(poll_url)["status"] != "running",
        timeout=SWEEP_TIMEOUT,
        what="the killed knowledge-base deploy job leaves 'running'",
        interval=1,
    )
    failed = rest.job(poll_url)
    assert failed["status"] == "failed", failed
    assert failed["errors"], failed
    assert kb_answer(rest, kb, question) == before

    qna.begin_deploy_project(kb, "production").result(timeout=POLL_TIMEOUT)
    wait_for(
        lambda: kb_answer(rest, kb, question) == new_answer,
        timeout=2,
        what="the retried deploy serves the new answer",
    )


# -- (c) PostgreSQL connections dropped during predictions -------------------------


def terminate_backends(studio: LiveStudio) -> int:
    with psycopg.connect(
        studio._postgres_admin_url, autocommit=True, connect_timeout=5
    ) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (studio.database_name,),
        ).fetchall()
    return len(rows)


def test_database_connections_dropped_during_predictions(
    live_studio: LiveStudio,
    authoring: ConversationAuthoringClient,
    rest: Rest,
    served: dict[str, Any],
) -> None:
    """Two clients loop over a prediction, a logged prediction (a database write
    per request) and an authoring read while every studio connection is terminated
    twenty times: Django's
    connection health check and the runtime's error handling must turn each drop into
    a reconnect or a clean Azure error (503 with ``Retry-After``)."""
    name = served["name"]
    outcomes: list[tuple[float, int | str, float]] = []  # (start, status, seconds)
    stop = threading.Event()

    deployment_url = rest.url(
        f"/language/authoring/analyze-conversations/projects/{name}"
        "/deployments/production"
    )

    def judge(
        response: requests.Response, unchanged: Callable[[Any], bool]
    ) -> int | str:
        """The status of a clean answer, or what was wrong with it."""
        if response.status_code != 200:
            try:
                assert_azure_error(response, set(range(400, 600)))
            except (AssertionError, ValueError, KeyError):
                return f"unclean {response.status_code}: {response.text[:200]}"
            return response.status_code
        if not unchanged(response.json()):
            return f"changed: {response.text[:200]}"
        return 200

    def call(i: int) -> int | str:
        if i % 3 == 2:
            # An authoring read (key lookup, project and deployment queries) in the
            # mix: the same clean-error rule holds beyond the runtime.
            response = rest.session.get(
                deployment_url,
                params={"api-version": API_VERSION},
                timeout=REQUEST_TIMEOUT,
            )
            return judge(
                response, lambda body: body.get("modelId") == served["model_id"]
            )
        text = TEXTS[i % len(TEXTS)]
        response = rest.analyze(task(text, name, isLoggingEnabled=i % 2 == 1))
        expected = served["predictions"][i % len(TEXTS)]
        return judge(response, lambda body: body == expected)

    def loop(first: int) -> None:
        i = first
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = call(i)
            except requests.RequestException as exc:
                status = repr(exc)
            outcomes.append((started, status, time.monotonic() - started))
            i += 1

    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in (0, 1)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(outcomes) >= 10, timeout=30, what="both clients under way")
        terminated = 0
        for _ in range(20):
            terminated += terminate_backends(live_studio)
            time.sleep(0.1)  # paces the drops: twenty of them over two seconds
        last_kill = time.monotonic()

        def answered_after_recovery() -> int:
            return sum(1 for start, _, _ in list(outcomes) if start > last_kill + 1.0)

        wait_for(
            lambda: answered_after_recovery() >= 20,
            timeout=30,
            what="twenty calls started a second after the last drop",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
    assert terminated > 0, "no studio connection was there to drop"
    statuses = [status for _, status, _ in outcomes]
    assert len(statuses) > 50, statuses
    unclean = [s for s in statuses if not isinstance(s, int)]
    assert unclean == [], unclean
    assert max(seconds for _, _, seconds in outcomes) < REQUEST_TIMEOUT
    # Recovered without a restart: everything from a second after the last drop on
    # succeeds with the same answers.
    late = [status for start, status, _ in outcomes if start > last_kill + 1.0]
    assert late and set(late) == {200}, statuses
    assert predictions(rest, name) == served["predictions"]
    # The worker reconnects too: it still runs jobs.
    state = authoring.begin_deploy_project(
        name, "after-drop", {"trainedModelLabel": "m1"}
    ).result(timeout=POLL_TIMEOUT)
    assert state["modelId"] == served["model_id"]
    assert predictions(rest, name, "after-drop") == served["predictions"]


# -- (d) bad runtime inputs --------------------------------------------------------


def prediction_log_count(studio: LiveStudio) -> int:
    return int(
        studio.database_query("SELECT count(*) FROM training_predictionlog")[0][0]
    )


def test_bad_runtime_inputs_get_azure_4xx_errors(
    live_studio: LiveStudio, rest: Rest, served: dict[str, Any]
) -> None:
    name = served["name"]
    good = task(TEXTS[0], name, isLoggingEnabled=True)
    logged_before = prediction_log_count(live_studio)

    def without(path: str) -> dict[str, Any]:
        body = copy.deepcopy(good)
        *parents, last = path.split(".")
        node = body
        for key in parents:
            node = node[key]
        del node[last]
        return body

    def with_value(path: str, value: Any) -> dict[str, Any]:
        body = copy.deepcopy(good)
        *parents, last = path.split(".")
        node = body
        for key in parents:
            node = node[key]
        node[last] = value
        return body

    bad_requests: dict[str, tuple[Any, int]] = {
        "no kind": (without("kind"), 400),
        "no analysisInput": (without("analysisInput"), 400),
        "no conversationItem": (without("analysisInput.conversationItem"), 400),
        "no text": (without("analysisInput.conversationItem.text"), 400),
        "empty text": (with_value("analysisInput.conversationItem.text", ""), 400),
        "no parameters": (without("parameters"), 400),
        "no projectName": (without("parameters.projectName"), 400),
        "no deploymentName": (without("parameters.deploymentName"), 400),
        "1,001 characters": (
            with_value("analysisInput.conversationItem.text", "x" * 1001),
            400,
        ),
        "wrong kind": (with_value("kind", "Text"), 400),
        "bad stringIndexType": (with_value("parameters.stringIndexType", "Utf8"), 400),
        "text not a string": (
            with_value("analysisInput.conversationItem.text", 42),
            400,
        ),
        "body not an object": ([good], 400),
        "unknown project": (with_value("parameters.projectName", unique("Nope")), 404),
        "unknown deployment": (with_value("parameters.deploymentName", "nowhere"), 404),
    }
    failures = {}
    for label, (body, status) in bad_requests.items():
        response = rest.analyze(body)
        try:
            assert_azure_error(response, status)
        except (AssertionError, ValueError, KeyError) as exc:
            failures[label] = f"{response.status_code} {response.text[:200]} ({exc})"
    for label, raw in {
        "malformed JSON": b'{"kind": "Conversation", "analysisInput": ',
        "empty body": b"",
        "not UTF-8": b'{"kind": "\xff"}',
    }.items():
        response = rest.analyze(None, raw=raw)
        try:
            assert_azure_error(response, 400)
        except (AssertionError, ValueError, KeyError) as exc:
            failures[label] = f"{response.status_code} {response.text[:200]} ({exc})"
    assert failures == {}
    # 1,000 characters is still a valid query.
    limit = rest.analyze(with_value("analysisInput.conversationItem.text", "y" * 1000))
    assert limit.status_code == 200, limit.text
    # Refused requests log nothing; the valid one with isLoggingEnabled did.
    wait_for(
        lambda: prediction_log_count(live_studio) >= logged_before + 1,
        timeout=5,
        what="the valid logged request is in the prediction log",
    )
    time.sleep(0.5)
    assert prediction_log_count(live_studio) == logged_before + 1


def test_bad_question_answering_inputs_get_azure_4xx_errors(
    rest: Rest, served: dict[str, Any]
) -> None:
    kb = unique("NoKb")
    failures = {}
    checks: dict[str, tuple[Callable[[], requests.Response], int | set[int]]] = {
        "unknown knowledge base": (
            lambda: rest.query_kb(kb, "production", {"question": "hi"}),
            404,
        ),
        # A Conversation project is no knowledge base.
        "wrong project kind": (
            lambda: rest.query_kb(served["name"], "production", {"question": "hi"}),
            {400, 404},
        ),
        "malformed JSON": (
            lambda: rest.query_kb(kb, "production", None, raw=b"{"),
            400,
        ),
        "no records": (
            lambda: rest.query_text({"question": "hi", "records": []}),
            400,
        ),
        "no question": (
            lambda: rest.query_text({"records": [{"id": "0", "text": "some text"}]}),
            400,
        ),
        "bad stringIndexType": (
            lambda: rest.query_text(
                {
                    "question": "hi",
                    "records": [{"id": "0", "text": "some text"}],
                    "stringIndexType": "Nope",
                }
            ),
            400,
        ),
    }
    for label, (call, status) in checks.items():
        response = call()
        try:
            assert_azure_error(response, status)
        except (AssertionError, ValueError, KeyError) as exc:
            failures[label] = f"{response.status_code} {response.text[:200]} ({exc})"
    assert failures == {}
