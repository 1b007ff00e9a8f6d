"""The Celery tasks behind authoring jobs (``projects/tasks.py``), for both families.

Jobs are created as the API views create them and run eagerly when their transaction
commits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.storage import default_storage

from jobs.models import Job
from jobs.services import job_create
from projects.apis.common import json_bytes
from projects.models import Project, QnaPair
from projects.services.jobs import staged_document_save
from projects.tasks import project_delete_task, project_export_task, project_import_task

pytestmark = pytest.mark.django_db

KB = {
    "metadata": {"language": "en", "description": "faq"},
    "assets": {
        "qnas": [
            {
                "id": 1,
                "answer": "We open at nine.",
                "source": "faq",
                "questions": ["When do you open?", "Opening hours?"],
                "metadata": {"topic": "hours"},
            },
            {
                "id": 2,
                "answer": "Call us.",
                "source": "faq",
                "questions": ["How do I reach you?"],
            },
        ],
        "synonyms": [],
    },
}

CONVERSATION = {
    "projectFileVersion": "2022-05-01",
    "stringIndexType": "Utf16CodeUnit",
    "metadata": {
        "projectKind": "Conversation",
        "projectName": "Mail",
        "language": "en",
    },
    "assets": {
        "projectKind": "Conversation",
        "intents": [{"category": "None"}, {"category": "Read"}],
        "entities": [],
        "utterances": [{"text": "read my mail", "intent": "Read", "entities": []}],
    },
}


def run(
    capture: Any, task: Any, *, kind: str, name: str, api: str, **params: Any
) -> Job:
    with capture(execute=True):
        job = job_create(
            kind=kind, project_name=name, task=task, api=api, params=params
        )
    job.refresh_from_db()
    return job


def test_conversation_import_reads_an_inline_document_too(
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = run(
        django_capture_on_commit_callbacks,
        project_import_task,
        kind=Job.Kind.IMPORT,
        name="Mail",
        api=Job.Api.CONVERSATIONS,
        document=CONVERSATION,
        format="Conversation",
    )
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert Project.objects.get(name="Mail").utterances.count() == 1


def test_staged_import_file_is_deleted_whatever_the_outcome(
    django_capture_on_commit_callbacks: Any,
) -> None:
    good = staged_document_save(content=json_bytes(CONVERSATION), file_format="json")
    bad = staged_document_save(content=b'{"metadata": [1, 2', file_format="json")
    ok = run(
        django_capture_on_commit_callbacks,
        project_import_task,
        kind=Job.Kind.IMPORT,
        name="Mail",
        api=Job.Api.CONVERSATIONS,
        file=good,
        format="Conversation",
    )
    failed = run(
        django_capture_on_commit_callbacks,
        project_import_task,
        kind=Job.Kind.IMPORT,
        name="Mail",
        api=Job.Api.CONVERSATIONS,
        file=bad,
        format="Conversation",
    )
    assert ok.status == Job.Status.SUCCEEDED
    assert failed.status == Job.Status.FAILED
    assert failed.errors[0]["code"] == "InvalidRequest"
    assert "line 1" in failed.errors[0]["message"]
    assert not default_storage.exists(good)
    assert not default_storage.exists(bad)


def test_knowledge_base_import_and_export_in_json_and_tsv(
    django_capture_on_commit_callbacks: Any,
) -> None:
    staged = staged_document_save(content=json_bytes(KB), file_format="json")
    imported = run(
        django_capture_on_commit_callbacks,
        project_import_task,
        kind=Job.Kind.IMPORT,
        name="Faq",
        api=Job.Api.QUESTION_ANSWERING,
        file=staged,
        file_format="json",
    )
    assert imported.status == Job.Status.SUCCEEDED, imported.errors
    project = Project.objects.get(name="Faq")
    assert project.kind == Project.Kind.QUESTION_ANSWERING
    assert QnaPair.objects.filter(project=project).count() == 2

    as_json = run(
        django_capture_on_commit_callbacks,
        project_export_task,
        kind=Job.Kind.EXPORT,
        name="Faq",
        api=Job.Api.QUESTION_ANSWERING,
        file_format="json",
    )
    assert as_json.result["file"] == f"exports/{as_json.job_id}.json"
    with default_storage.open(as_json.result["file"]) as handle:
        exported = json.loads(handle.read())
    questions = [q["questions"] for q in exported["assets"]["qnas"]]
    assert ["When do you open?", "Opening hours?"] in questions

    as_tsv = run(
        django_capture_on_commit_callbacks,
        project_export_task,
        kind=Job.Kind.EXPORT,
        name="Faq",
        api=Job.Api.QUESTION_ANSWERING,
        file_format="tsv",
    )
    assert as_tsv.result["file"] == f"exports/{as_tsv.job_id}.tsv"
    with default_storage.open(as_tsv.result["file"]) as handle:
        tsv = handle.read().decode("utf-8")
    assert "We open at nine." in tsv

    # The TSV export imports back into a new knowledge base.
    again = run(
        django_capture_on_commit_callbacks,
        project_import_task,
        kind=Job.Kind.IMPORT,
        name="FaqCopy",
        api=Job.Api.QUESTION_ANSWERING,
        file=staged_document_save(content=tsv.encode("utf-8"), file_format="tsv"),
        file_format="tsv",
    )
    assert again.status == Job.Status.SUCCEEDED, again.errors
    assert QnaPair.objects.filter(project__name="FaqCopy").count() == 2


def test_tasks_only_touch_projects_of_their_own_family(
    django_capture_on_commit_callbacks: Any,
) -> None:
    Project.objects.create(
        name="Faq", kind=Project.Kind.QUESTION_ANSWERING, language="en"
    )
    for task, kind in (
        (project_export_task, Job.Kind.EXPORT),
        (project_delete_task, Job.Kind.PROJECT_DELETE),
    ):
        job = run(
            django_capture_on_commit_callbacks,
            task,
            kind=kind,
            name="Faq",
            api=Job.Api.CONVERSATIONS,
        )
        assert job.status == Job.Status.FAILED
        assert job.errors[0]["code"] == "ProjectNotFound"
    assert Project.objects.filter(name="Faq").exists()


def test_delete_of_a_knowledge_base(django_capture_on_commit_callbacks: Any) -> None:
    Project.objects.create(
        name="Faq", kind=Project.Kind.QUESTION_ANSWERING, language="en"
    )
    job = run(
        django_capture_on_commit_callbacks,
        project_delete_task,
        kind=Job.Kind.PROJECT_DELETE,
        name="Faq",
        api=Job.Api.QUESTION_ANSWERING,
    )
    assert job.status == Job.Status.SUCCEEDED
    assert not Project.objects.filter(name="Faq").exists()
