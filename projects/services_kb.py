"""Knowledge-base operations the question-answering authoring API needs beyond the
core services: request-level checks of import documents, source deletion, feedback,
and the finished job records of the updates that run inside the request.

QnA and source updates are validated and applied in the request (``kb_qnas_update``
is atomic), and Azure's poller still gets a job to poll: a job row created already
``succeeded``. Bad operations are a 400 before any job exists.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from projects import services
from projects import validators as v
from projects.models import Project, QnaPair
from studio.errors import (
    Conflict,
    ErrorCollector,
    InvalidArgument,
    InvalidRequest,
)
from training.models import Job
from training.services import job_record_finished

SOURCE_KINDS = ("file", "url")


def kb_import_target_check(*, name: str) -> None:
    """The name may hold a knowledge base: valid, and not another kind's project."""
    error = v.project_name_error(name)
    if error:
        raise InvalidArgument(error, target="projectName")
    other = Project.objects.filter(name=name).exclude(
        kind=Project.Kind.QUESTION_ANSWERING
    )
    kind = other.values_list("kind", flat=True).first()
    if kind is not None:
        raise Conflict(
            f"The name {name!r} is already used by a {kind} project; project names "
            "are unique across all project kinds.",
            target="projectName",
        )


def kb_import_document_check(
    *, document: Any, file_format: str
) -> dict[str, Any] | str:
    """Cheap shape checks before a job is queued; the job validates everything.

    JSON imports are Azure's ``ImportJobOptions`` object; TSV imports are the QnA
    Maker TSV text (``Content-Type: text/tab-separated-values`` or ``text/plain``).
    """
    if file_format == "tsv":
        if not isinstance(document, str):
            raise InvalidRequest(
                "format=tsv expects the TSV file itself as the request body, sent "
                "with Content-Type text/tab-separated-values or text/plain.",
                target="format",
            )
        if not document.strip():
            raise InvalidRequest(
                "The TSV request body is empty.", inner_code="EmptyRequest"
            )
        return document
    if isinstance(document, str):
        raise InvalidRequest(
            "format=json expects a JSON object (Content-Type application/json); "
            "send TSV files with format=tsv.",
            target="format",
        )
    if not isinstance(document, dict) or not document:
        raise InvalidRequest(
            "The request body must be a JSON object with 'metadata' and/or 'assets'.",
            inner_code="EmptyRequest" if not document else None,
        )
    if document.get("fileUri") or document.get("FileUri"):
        raise InvalidArgument(
            "Importing from fileUri is not supported: this server does not fetch "
            "files from the web. Send the file's content as the request body.",
            target="fileUri",
        )
    return document


def kb_qnas_update_as_job(*, project: Project, operations: list[Any]) -> Job:
    """Apply Azure's update-QnAs operations; the finished job for the poller."""
    with transaction.atomic():
        services.kb_qnas_update(project=project, operations=operations)
        return job_record_finished(
            kind=Job.Kind.UPDATE_QNAS,
            project_name=project.name,
            api=Job.Api.QUESTION_ANSWERING,
        )


def kb_sources_update_as_job(*, project: Project, operations: list[Any]) -> Job:
    """Azure's update-sources operations. Only ``delete`` can be honoured here (it
    removes the source's QnAs): adding or refreshing a source needs fetching a URL or
    file, which this server never does, so those are refused with a 400."""
    errors = ErrorCollector()
    to_delete: list[str] = []
    for i, item in enumerate(operations):
        path = f"[{i}]"
        if not isinstance(item, dict):
            errors.add(f"{path} must be an object with 'op' and 'value'.", target=path)
            continue
        op, value = item.get("op"), item.get("value")
        if op not in ("add", "replace", "delete"):
            errors.add(
                f"{path}.op must be add, replace or delete; got {op!r}.",
                target=f"{path}.op",
            )
            continue
        if not isinstance(value, dict) or not isinstance(value.get("source"), str):
            errors.add(f"{path}.value.source is required.", target=f"{path}.value")
            continue
        if op != "delete":
            errors.add(
                f"{path}: cannot {op} source {value['source']!r}: this server does "
                "not fetch web pages or files to extract QnAs. Import the QnAs "
                "(:import with json or tsv) or add them with PATCH .../qnas instead; "
                "only 'delete' is supported for sources.",
                target=f"{path}.op",
            )
            continue
        to_delete.append(value["source"])
        known = QnaPair.objects.filter(project=project, source=value["source"])
        if not known.exists():
            errors.add(
                f"{path}: source {value['source']!r} is not a source of knowledge "
                f"base {project.name!r}.",
                target=f"{path}.value.source",
            )
    errors.raise_if_any("The source update was refused")
    ids = list(
        QnaPair.objects.filter(project=project, source__in=to_delete).values_list(
            "qna_id", flat=True
        )
    )
    with transaction.atomic():
        if ids:
            services.kb_qnas_update(
                project=project,
                operations=[{"op": "delete", "value": {"id": i}} for i in ids],
            )
        return job_record_finished(
            kind=Job.Kind.UPDATE_SOURCES,
            project_name=project.name,
            api=Job.Api.QUESTION_ANSWERING,
        )


def kb_synonyms_document(*, document: dict[str, Any]) -> list[Any]:
    """The groups of Azure's ``{"value": [{"alterations": [...]}]}`` body;
    ``kb_synonyms_update`` validates them."""
    value = document.get("value")
    if not isinstance(value, list):
        raise InvalidArgument(
            "The body must be {'value': [{'alterations': [...]}, ...]}.",
            target="value",
        )
    return value


def kb_qna_add(*, project: Project, record: dict[str, Any]) -> QnaPair:
    """Add one QnA pair through ``kb_qnas_update``; the stored pair (Azure assigns
    the id when the record has none)."""
    with transaction.atomic():
        before = (
            QnaPair.objects.filter(project=project).aggregate(m=Max("qna_id"))["m"] or 0
        )
        services.kb_qnas_update(
            project=project, operations=[{"op": "add", "value": record}]
        )
        qnas = QnaPair.objects.filter(project=project)
        given = record.get("id")
        if isinstance(given, int) and not isinstance(given, bool) and given > 0:
            return qnas.get(qna_id=given)
        return qnas.filter(qna_id__gt=before).order_by("-qna_id").first() or qnas.get(
            qna_id=before + 1
        )


def kb_feedback_add(*, project: Project, document: dict[str, Any]) -> int:
    """Azure's active-learning feedback: ``{"records": [{"userId", "userQuestion",
    "qnaId"}]}``. Each user question becomes (or counts again for) a suggested
    alternate question of that QnA, for an author to accept later. Atomic; returns
    how many records were stored."""
    records = document.get("records")
    if not isinstance(records, list) or not records:
        raise InvalidArgument(
            "records must be a non-empty array of {userId, userQuestion, qnaId}.",
            target="records",
        )
    errors = ErrorCollector()
    wanted: list[tuple[int, str]] = []
    for i, record in enumerate(records):
        path = f"records[{i}]"
        if not isinstance(record, dict):
            errors.add(f"{path} must be an object.", target=path)
            continue
        qna_id, question = record.get("qnaId"), record.get("userQuestion")
        if isinstance(qna_id, bool) or not isinstance(qna_id, int):
            errors.add(f"{path}.qnaId must be an integer.", target=f"{path}.qnaId")
            continue
        if not isinstance(question, str) or not question.strip():
            errors.add(
                f"{path}.userQuestion must be a non-empty string.",
                target=f"{path}.userQuestion",
            )
            continue
        if len(question) > v.MAX_QUESTION_LENGTH:
            errors.add(
                f"{path}.userQuestion is longer than {v.MAX_QUESTION_LENGTH} "
                "characters.",
                target=f"{path}.userQuestion",
            )
            continue
        wanted.append((qna_id, question.strip()))
    errors.raise_if_any("The feedback is invalid")
    with transaction.atomic():
        pairs = {
            p.qna_id: p
            for p in QnaPair.objects.select_for_update().filter(
                project=project, qna_id__in={q for q, _ in wanted}
            )
        }
        for i, (qna_id, _question) in enumerate(wanted):
            if qna_id not in pairs:
                errors.add(
                    f"QnA {qna_id} does not exist in knowledge base {project.name!r}.",
                    target=f"records[{i}].qnaId",
                )
        errors.raise_if_any("The feedback is invalid")
        for qna_id, question in wanted:
            _suggest(pairs[qna_id], question)
        for pair in pairs.values():
            pair.save(update_fields=["active_learning_suggestions"])
        services.project_touch(project=project)
    return len(wanted)


def _suggest(pair: QnaPair, question: str) -> None:
    clusters: list[dict[str, Any]] = pair.active_learning_suggestions
    for cluster in clusters:
        for suggestion in cluster.get("suggestedQuestions", []):
            if suggestion.get("question", "").casefold() == question.casefold():
                suggestion["userSuggestedCount"] = (
                    int(suggestion.get("userSuggestedCount") or 0) + 1
                )
                return
    clusters.append(
        {
            "clusterHead": question,
            "suggestedQuestions": [
                {"question": question, "userSuggestedCount": 1, "autoSuggestedCount": 0}
            ],
        }
    )
