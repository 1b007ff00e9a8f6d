"""A job goes to the Celery task its app registered for its kind (and API family),
so the services that create jobs never import the tasks that run them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobs.dispatch import job_task, job_tasks_register
from jobs.models import Job
from jobs.services import job_create
from projects import tasks as project_tasks
from training import deploy_jobs, train_jobs

CONV = Job.Api.CONVERSATIONS
QNA = Job.Api.QUESTION_ANSWERING


def test_each_kind_of_job_has_the_task_of_the_app_that_runs_it() -> None:
    assert job_task(kind=Job.Kind.IMPORT, api=CONV) is project_tasks.project_import_task
    assert job_task(kind=Job.Kind.IMPORT, api=QNA) is project_tasks.project_import_task
    assert job_task(kind=Job.Kind.TRAIN, api=CONV) is train_jobs.train_task
    # One kind, two API families, two tasks.
    assert job_task(kind=Job.Kind.DEPLOY, api=CONV) is deploy_jobs.deploy_task
    assert job_task(kind=Job.Kind.DEPLOY, api=QNA) is deploy_jobs.kb_deploy_task
    queued = set(Job.Kind) - {Job.Kind.UPDATE_QNAS}  # applied in the request
    for kind in queued:
        apis = [CONV, QNA] if kind != Job.Kind.UPDATE_SOURCES else [QNA]
        assert any(_has_task(kind, api) for api in apis), kind


def _has_task(kind: str, api: str) -> bool:
    try:
        job_task(kind=kind, api=api)
    except ImproperlyConfigured:
        return False
    return True


def test_a_kind_nobody_runs_is_a_wiring_error_not_a_job_that_waits_forever() -> None:
    with pytest.raises(ImproperlyConfigured, match="update_qnas"):
        job_task(kind=Job.Kind.UPDATE_QNAS, api=QNA)
    with pytest.raises(ImproperlyConfigured):
        job_task(kind=Job.Kind.UPDATE_SOURCES, api=CONV)


def test_a_kind_cannot_be_given_to_a_second_task() -> None:
    job_tasks_register({Job.Kind.TRAIN: train_jobs.train_task})  # the same: fine
    with pytest.raises(ImproperlyConfigured, match="already run"):
        job_tasks_register({Job.Kind.TRAIN: train_jobs.load_snapshot_task})
    assert job_task(kind=Job.Kind.TRAIN, api=CONV) is train_jobs.train_task


@pytest.mark.django_db(transaction=True)
def test_job_create_sends_the_job_to_its_registered_task_on_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, Any, Any]] = []

    def recorder(name: str) -> Any:
        return lambda *args, **kwargs: sent.append((name, kwargs["args"], kwargs))

    monkeypatch.setattr(
        deploy_jobs.kb_deploy_task, "apply_async", recorder("kb_deploy")
    )
    monkeypatch.setattr(deploy_jobs.deploy_task, "apply_async", recorder("deploy"))
    job = job_create(kind=Job.Kind.DEPLOY, project_name="Faq", api=QNA)
    assert [(name, args) for name, args, _ in sent] == [("kb_deploy", [str(job.pk)])]
    assert sent[0][2]["queue"] == job.queue
