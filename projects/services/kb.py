"""Knowledge-base writes: create/update, import/export (JSON and QnA Maker TSV), QnA,
source and synonym updates, active-learning feedback.

QnA and source updates are validated and applied in the request (atomic), and
Azure's poller still gets a job to poll: a job row created already ``succeeded``.
Bad operations are a 400 before any job exists.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jobs.models import Job
from jobs.services import job_create, job_record_finished
from projects import validators as v
from projects.formats import kb_sources as kb_sources_fmt
from projects.formats import qna as fmt
from projects.formats._parse import child, expect_dict
from projects.models import KbSynonymGroup, Project, QnaPair
from projects.services._common import (
    project_insert,
    project_lock,
    project_lookalike_check,
    project_name_check,
    project_touch,
    require_kind,
    require_object,
    version_check,
)
from projects.services.audit import project_settings_state, settings_record
from projects.services.snapshots import replaced_files_cleanup, replaced_project_keep
from studio.deployment_state import deployment_state_bump
from studio.errors import (
    Conflict,
    ErrorCollector,
    InvalidArgument,
    InvalidRequest,
    NotFound,
)
from studio.inputs import text_decode
from studio.outbound import OutboundError, document_fetch

QA = (Project.Kind.QUESTION_ANSWERING.value,)
AssetKind = Literal["qnas", "synonyms"]


def _refuse_other_kind(name: str, kind: str) -> None:
    if kind != Project.Kind.QUESTION_ANSWERING:
        raise Conflict(
            f"The name {name!r} is already used by a {kind} project; project names "
            "are unique across all project kinds.",
            target="projectName",
        )


def _kb_for_write(name: str) -> tuple[Project, bool]:
    """``(project, created)``: the knowledge base locked for the rest of the
    transaction, or a new unsaved one; 409 when another kind holds the name."""
    project = Project.objects.select_for_update().filter(name=name).first()
    if project is None:
        return (
            Project(name=name, kind=Project.Kind.QUESTION_ANSWERING, language="en"),
            True,
        )
    _refuse_other_kind(name, project.kind)
    return project, False


def _save_with_metadata(project: Project, meta: fmt.KbMetadata) -> bool:
    """Apply ``meta`` and save; a new project is inserted by ``project_insert``,
    and False means a concurrent request created it first (nothing saved)."""
    before = project_settings_state(project)
    if meta.language is not None:
        project.language = meta.language
    if meta.description is not None:
        project.description = meta.description
    if meta.multilingual is not None:
        project.multilingual = meta.multilingual
    default_answer = project.default_answer
    if meta.default_answer is not None:
        project.default_answer = meta.default_answer
    project.last_modified_at = timezone.now()
    if project.pk is None:
        return project_insert(project=project)
    project.save()
    settings_record(project=project, before=before)
    if project.default_answer != default_answer:
        # The runtime reads the default answer with the deployment.
        deployment_state_bump()
    return True


def _finished_job(project: Project, kind: str) -> Job:
    return job_record_finished(
        kind=kind, project_name=project.name, api=Job.Api.QUESTION_ANSWERING
    )


# ---------------------------------------------------------------- create / update


def qna_project_create_or_update(
    *, name: str, data: dict[str, Any]
) -> tuple[Project, bool]:
    """PATCH of a question-answering project: ``description``, ``language`` (default
    "en"), ``multilingualResource``, ``settings.defaultAnswer``."""
    project_name_check(name=name)
    data = require_object(data, what="project body")
    errors = ErrorCollector()
    meta = fmt.parse_metadata(data, "", errors)
    errors.raise_if_any("The project is invalid")
    with transaction.atomic():
        project, created = _kb_for_write(name)
        if not _save_with_metadata(project, meta):
            # A concurrent PATCH created it first: this one updates it (200).
            return qna_project_create_or_update(name=name, data=data)
    return project, created


# ---------------------------------------------------------------- import / export


def kb_import_check(
    *, name: str, document: Any, file_format: str
) -> dict[str, Any] | str:
    """Cheap checks before an import job is queued (the job validates everything):
    the body has the shape ``file_format`` needs, and ``name`` may hold a knowledge
    base. Returns the document.

    JSON imports are Azure's ``ImportJobOptions`` object; TSV imports are the QnA
    Maker TSV text (``Content-Type: text/tab-separated-values`` or ``text/plain``).
    """
    document = _import_document_check(document=document, file_format=file_format)
    project_name_check(name=name)
    kind = Project.objects.filter(name=name).values_list("kind", flat=True).first()
    if kind is not None:
        _refuse_other_kind(name, kind)
    else:
        project_lookalike_check(name=name)
    return document


def _import_document_check(*, document: Any, file_format: str) -> dict[str, Any] | str:
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


def _replace_qnas(project: Project, records: list[fmt.QnaData]) -> None:
    QnaPair.objects.filter(project=project).delete()
    now = timezone.now()
    QnaPair.objects.bulk_create(
        [
            QnaPair(
                project=project,
                qna_id=r.qna_id,
                last_updated_at=r.last_updated or now,
                **r.model_fields(),
            )
            for r in records
        ],
        batch_size=2000,
    )


def _replace_synonyms(project: Project, groups: list[list[str]]) -> None:
    KbSynonymGroup.objects.filter(project=project).delete()
    KbSynonymGroup.objects.bulk_create(
        [
            KbSynonymGroup(project=project, position=i, alterations=g)
            for i, g in enumerate(groups)
        ]
    )


def kb_import(
    *,
    name: str,
    document: dict[str, Any] | str,
    file_format: Literal["json", "tsv"],
    asset_kind: AssetKind | None = None,
) -> Project:
    """Create or replace a knowledge base from Azure's JSON or a QnA Maker TSV.

    JSON replaces every asset the document carries (or only ``asset_kind``). A QnA
    TSV replaces the QnAs and keeps the synonyms; a synonyms TSV (header
    ``Synonyms``) replaces the synonyms only. Atomic.
    """
    project_name_check(name=name)
    metadata = fmt.KbMetadata()
    qnas: list[fmt.QnaData] | None = None
    synonyms: list[list[str]] | None = None
    if file_format == "json":
        if isinstance(document, str):
            raise InvalidArgument("A JSON import needs a JSON object.", target="")
        parsed = fmt.parse_json_document(document)
        metadata, qnas, synonyms = parsed.metadata, parsed.qnas, parsed.synonyms
    elif file_format == "tsv":
        if not isinstance(document, str):
            raise InvalidArgument("A TSV import needs the file's text.", target="")
        if fmt.is_synonyms_tsv(document):
            synonyms = fmt.parse_synonyms_tsv(document)
        else:
            qnas = fmt.parse_qna_tsv(document)
    else:
        raise InvalidArgument(
            f"Format {file_format!r} is not one of json, tsv.", target="format"
        )
    if asset_kind == "qnas":
        synonyms = None
    elif asset_kind == "synonyms":
        qnas = None
    elif asset_kind is not None:
        raise InvalidArgument(
            f"assetKind {asset_kind!r} is not one of qnas, synonyms.",
            target="assetKind",
        )
    with replaced_files_cleanup() as kept, transaction.atomic():
        project, created = _kb_for_write(name)
        # The way back: what it holds now stays restorable for a while.
        if not created and (snapshot := replaced_project_keep(project=project)):
            kept.append(snapshot)
        if not _save_with_metadata(project, metadata):
            raise Conflict(
                f"Project {name!r} was created by another request during this "
                "import; import it again.",
                target="projectName",
            )
        if qnas is not None:
            _replace_qnas(project, qnas)
        if synonyms is not None:
            _replace_synonyms(project, synonyms)
    return project


def kb_export(
    *,
    project: Project,
    file_format: Literal["json", "tsv"],
    asset_kind: AssetKind | None = None,
) -> dict[str, Any] | str:
    """The knowledge base as Azure's import/export JSON, or as a QnA Maker TSV (the
    synonyms TSV when ``asset_kind="synonyms"``)."""
    require_kind(project=project, kinds=QA, action="a knowledge-base export")
    if file_format == "tsv":
        if asset_kind == "synonyms":
            groups = project.kb_synonyms.order_by("position")
            return fmt.synonyms_to_tsv([g.alterations for g in groups])
        return fmt.qnas_to_tsv(list(project.qnas.order_by("qna_id")))
    if file_format != "json":
        raise InvalidArgument(
            f"Format {file_format!r} is not one of json, tsv.", target="format"
        )
    return fmt.export_document(project, asset_kind=asset_kind)


def kb_qnas_update(*, project: Project, operations: list[Any]) -> list[int]:
    """Azure's update-QnAs body: ``[{"op": "add"|"replace"|"delete", "value":
    QnaRecord}]``. ``add`` assigns the next free id when ``id`` is absent or 0.
    Every operation is validated first; then all apply in one transaction.

    Returns the ids of the added and replaced QnAs, in the operations' order."""
    require_kind(project=project, kinds=QA, action="a QnA update")
    if not isinstance(operations, list) or not operations:
        raise InvalidArgument(
            "The body must be a non-empty array of {op, value} operations.", target=""
        )
    errors = ErrorCollector()
    with transaction.atomic():
        project = project_lock(project=project)
        # Only the ids: a knowledge base of thousands of pairs is not loaded as
        # model instances for a one-pair change (prompts and replaced rows are
        # read below, for the pairs concerned only).
        ids = set(project.qnas.values_list("qna_id", flat=True))
        existing = ids
        inline: list[tuple[str, Any]] = []
        adds: list[fmt.QnaData] = []
        replaces: list[fmt.QnaData] = []
        written: list[fmt.QnaData] = []
        deletes: set[int] = set()
        for i, operation in enumerate(operations):
            path = f"[{i}]"
            data = expect_dict(operation, path, errors)
            if data is None:
                continue
            op = data.get("op")
            value_path = child(path, "value")
            if op not in ("add", "replace", "delete"):
                errors.add(
                    f"op {op!r} is not one of add, replace, delete.",
                    target=child(path, "op"),
                )
                continue
            if op == "delete":
                value = expect_dict(data.get("value"), value_path, errors)
                qna_id = (value or {}).get("id")
                if qna_id not in existing or qna_id in deletes:
                    errors.add(
                        f"QnA id {qna_id!r} does not exist.",
                        target=child(value_path, "id"),
                    )
                else:
                    deletes.add(qna_id)
                continue
            record = fmt.parse_qna(
                data.get("value"),
                value_path,
                errors,
                require_id=op == "replace",
                inline=inline,
            )
            if record is None:
                continue
            if op == "replace":
                if record.qna_id not in existing:
                    errors.add(
                        f"QnA id {record.qna_id} does not exist.",
                        target=child(value_path, "id"),
                    )
                    continue
                replaces.append(record)
                written.append(record)
            else:
                if record.qna_id and record.qna_id in ids:
                    errors.add(
                        f"QnA id {record.qna_id} already exists; use replace.",
                        target=child(value_path, "id"),
                    )
                    continue
                adds.append(record)
                written.append(record)
        kept = ids - deletes - {r.qna_id for r in replaces}
        resolved = fmt.resolve_qnas(
            [*replaces, *adds],
            inline,
            errors,
            existing_ids=kept,
            id_floor=max(ids, default=0),
        )
        # Prompts of untouched QnAs must not point at a deleted one.
        kept_prompts = (
            project.qnas.exclude(qna_id__in=ids - kept)
            .order_by("qna_id")
            .values_list("qna_id", "prompts")
            if deletes
            else []
        )
        for qna_id, prompts in kept_prompts:
            for prompt in prompts:
                if prompt["qnaId"] in deletes:
                    errors.add(
                        f"QnA {qna_id} has a follow-up prompt to QnA "
                        f"{prompt['qnaId']}, which this update deletes; remove the "
                        "prompt first.",
                        target=f"qnas[{qna_id}].dialog.prompts",
                    )
        errors.raise_if_any("The QnA update is invalid")
        now = timezone.now()
        QnaPair.objects.filter(project=project, qna_id__in=deletes).delete()
        replace_ids = {r.qna_id for r in replaces}
        replacing = {
            q.qna_id: q
            for q in project.qnas.filter(qna_id__in=replace_ids).only("id", "qna_id")
        }
        replaced: list[QnaPair] = []
        added: list[QnaPair] = []
        for record in resolved:
            if record.qna_id in replace_ids:
                pair = replacing[record.qna_id]
                pair.version = F("version") + 1
                replaced.append(pair)
            else:
                pair = QnaPair(project=project, qna_id=record.qna_id)
                added.append(pair)
            pair.last_updated_at = now
            for field, value in record.model_fields().items():
                setattr(pair, field, value)
        QnaPair.objects.bulk_update(
            replaced,
            fields=[*fmt.QNA_MODEL_FIELDS, "last_updated_at", "version"],
            batch_size=500,
        )
        QnaPair.objects.bulk_create(added, batch_size=2000)
        project_touch(project=project)
    return [r.qna_id for r in written]


def kb_synonyms_update(*, project: Project, synonyms: list[Any]) -> None:
    """Replace the KB's synonyms (Azure's PUT .../synonyms). Accepts alteration
    lists or Azure's ``[{"alterations": [...]}]`` items."""
    require_kind(project=project, kinds=QA, action="a synonyms update")
    errors = ErrorCollector()
    groups = fmt.parse_synonyms(synonyms, "value", errors)
    errors.raise_if_any("The synonyms are invalid")
    with transaction.atomic():
        project = project_lock(project=project)
        _replace_synonyms(project, groups)
        project_touch(project=project)


def kb_qnas_update_as_job(*, project: Project, operations: list[Any]) -> Job:
    """Apply Azure's update-QnAs operations; the finished job for the poller."""
    with transaction.atomic():
        kb_qnas_update(project=project, operations=operations)
        return _finished_job(project, Job.Kind.UPDATE_QNAS)


def kb_qna_patch(
    *,
    project: Project,
    qna_id: int,
    data: dict[str, Any],
    expected_versions: Collection[int] | None = None,
) -> QnaPair:
    """Merge ``data`` (top-level keys of an Azure QnA record) onto the pair as stored
    under the lock, so a concurrent change of another key is kept; only when its
    version is one of ``expected_versions`` (when given; If-Match)."""
    data = require_object(data)
    with transaction.atomic():
        project = project_lock(project=project)
        pair = _qna_locked(project, qna_id, expected_versions)
        record = {**fmt.qna_as_azure(pair), **data, "id": qna_id}
        kb_qnas_update(project=project, operations=[{"op": "replace", "value": record}])
        return project.qnas.get(qna_id=qna_id)


def kb_qna_delete(
    *,
    project: Project,
    qna_id: int,
    expected_versions: Collection[int] | None = None,
) -> None:
    with transaction.atomic():
        project = project_lock(project=project)
        _qna_locked(project, qna_id, expected_versions)
        kb_qnas_update(
            project=project, operations=[{"op": "delete", "value": {"id": qna_id}}]
        )


def _qna_locked(
    project: Project, qna_id: int, expected_versions: Collection[int] | None
) -> QnaPair:
    pair = project.qnas.select_for_update().filter(qna_id=qna_id).first()
    if pair is None:
        raise NotFound(
            f"QnA {qna_id} does not exist in knowledge base {project.name!r}.",
            target="id",
        )
    version_check(current=pair.version, expected=expected_versions, what="QnA")
    return pair


def kb_qna_add(*, project: Project, record: dict[str, Any]) -> QnaPair:
    """Add one QnA pair (Azure assigns the id when the record has none)."""
    with transaction.atomic():
        (qna_id,) = kb_qnas_update(
            project=project, operations=[{"op": "add", "value": record}]
        )
        return project.qnas.get(qna_id=qna_id)


SOURCE_FETCH_TIMEOUT_SECONDS = 30.0
SOURCE_KINDS = ("url", "file")


def _sources_plan(
    project: Project, operations: list[Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate Azure's update-sources operations: the sources to fetch (``add``,
    ``replace``: ``{"index", "source", "sourceUri"}``) and those to delete."""
    errors = ErrorCollector()
    known = set(
        project.qnas.order_by("source").values_list("source", flat=True).distinct()
    )
    fetches: list[dict[str, Any]] = []
    deletes: list[str] = []
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
        if not isinstance(value, dict):
            errors.add(f"{path}.value must be an object.", target=f"{path}.value")
            continue
        uri, source = value.get("sourceUri"), value.get("source")
        # As in Azure, ``source`` defaults to the URI.
        if source is None:
            source = uri
        if not isinstance(source, str) or not source:
            errors.add(
                f"{path}.value needs source or sourceUri.", target=f"{path}.value"
            )
            continue
        if op == "delete":
            deletes.append(source)
            if source not in known:
                errors.add(
                    f"{path}: source {source!r} is not a source of knowledge "
                    f"base {project.name!r}.",
                    target=f"{path}.value.source",
                )
            continue
        kind = value.get("sourceKind", "url")
        if kind not in SOURCE_KINDS:
            errors.add(
                f"{path}.value.sourceKind must be url or file; got {kind!r}.",
                target=f"{path}.value.sourceKind",
            )
            continue
        problem = v.http_url_error(uri)
        if problem is not None:
            errors.add(
                f"{path}.value.sourceUri: {problem} The studio fetches a source "
                "from its URL; to add QnAs from a file, import them (:import) or "
                "add them with PATCH .../qnas.",
                target=f"{path}.value.sourceUri",
            )
            continue
        fetches.append({"index": i, "source": source, "sourceUri": uri})
    errors.raise_if_any("The source update was refused")
    return fetches, deletes


def kb_sources_update_as_job(*, project: Project, operations: list[Any]) -> Job:
    """Azure's update-sources operations, validated first (400, nothing changes).

    ``delete`` removes the source's QnAs. ``add`` and ``replace`` (``source``
    defaults to ``sourceUri``) queue a job (run by
    ``projects.tasks.kb_sources_fetch_task``), which fetches each URL and replaces
    the source's QnAs with the pairs found in it (``kb_sources_fetch``). Without
    them the deletes apply at once and the job returned is already finished."""
    fetches, deletes = _sources_plan(project, operations)
    if fetches:
        return job_create(
            kind=Job.Kind.UPDATE_SOURCES,
            project_name=project.name,
            project=project,
            api=Job.Api.QUESTION_ANSWERING,
            params={"fetch": fetches, "delete": deletes},
        )
    with transaction.atomic():
        _sources_replace(project, deletes, [])
        return _finished_job(project, Job.Kind.UPDATE_SOURCES)


def _sources_replace(
    project: Project, sources: list[str], records: list[dict[str, Any]]
) -> int:
    """Delete the pairs of ``sources`` and add ``records`` through one
    ``kb_qnas_update`` (so a pair that a kept pair prompts to is refused the same
    way); how many pairs were deleted."""
    ids = list(project.qnas.filter(source__in=sources).values_list("qna_id", flat=True))
    operations: list[Any] = [{"op": "delete", "value": {"id": i}} for i in ids]
    operations += [{"op": "add", "value": r} for r in records]
    if operations:
        kb_qnas_update(project=project, operations=operations)
    return len(ids)


def kb_source_delete(*, project: Project, source: str) -> int:
    """Delete every pair of one source (the studio's source list); ``""`` is the
    pairs without a source. Returns how many pairs were deleted; 404 when no pair
    has that source."""
    require_kind(project=project, kinds=QA, action="a source deletion")
    with transaction.atomic():
        deleted = _sources_replace(project, [source], [])
    if not deleted:
        raise NotFound(
            f"No pair of knowledge base {project.name!r} has the source {source!r}.",
            target="source",
        )
    return deleted


def _source_text(fetch: dict[str, Any]) -> str:
    """The fetched document as text, or the job's error naming the source."""
    target = f"[{fetch['index']}].value.sourceUri"
    try:
        raw = document_fetch(fetch["sourceUri"], timeout=SOURCE_FETCH_TIMEOUT_SECONDS)
    except OutboundError as exc:
        raise InvalidArgument(
            f"Source {fetch['source']!r} could not be fetched: {exc.message} The "
            "studio fetches only http(s) URLs of public addresses (or hosts named "
            "in STUDIO_TARGET_ALLOWED_HOSTS), without redirects, up to 1 MB, and "
            "only where its network allows; otherwise import the QnAs (:import) "
            "or add them with PATCH .../qnas.",
            target=target,
        ) from None
    if raw.startswith((b"%PDF", b"PK\x03\x04")):
        raise InvalidArgument(
            f"Source {fetch['source']!r} is a PDF or Office file; the studio "
            "extracts QnAs from HTML and Markdown pages only.",
            target=target,
        )
    try:
        return text_decode(raw, what=f"Source {fetch['source']!r}", target=target)
    except InvalidRequest as exc:
        raise InvalidArgument(exc.message, target=target) from None


def kb_sources_fetch(
    *, project: Project, fetches: list[dict[str, Any]], deletes: list[str]
) -> dict[str, Any]:
    """The job behind ``add``/``replace`` sources: fetch every URL first, extract
    its QnAs (headings as questions, the text under them as answers:
    ``formats.kb_sources``), then in one transaction replace each source's QnAs
    and apply the deletes. Any failure fails the job and changes nothing."""
    records: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for fetch in fetches:
        text = _source_text(fetch)
        uri = fetch["sourceUri"]
        pairs = (
            kb_sources_fmt.qnas_from_html(text)
            if kb_sources_fmt.looks_like_html(text, url=uri)
            else kb_sources_fmt.qnas_from_markdown(text)
        )
        if not pairs:
            raise InvalidArgument(
                f"Source {fetch['source']!r} holds no question and answer: the "
                "studio reads a heading as a question and the text under it as "
                "its answer.",
                target=f"[{fetch['index']}].value.sourceUri",
            )
        counts[fetch["source"]] = len(pairs)
        records += [
            {"questions": [q], "answer": a, "source": fetch["source"]} for q, a in pairs
        ]
    with transaction.atomic():
        _sources_replace(project, [*counts, *deletes], records)
    return {"qnas": counts}


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
            pair.version += 1
            pair.save(update_fields=["active_learning_suggestions", "version"])
        project_touch(project=project)
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
