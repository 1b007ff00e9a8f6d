"""Knowledge-base writes: import/export (JSON and QnA Maker TSV), QnA updates,
synonyms."""

from __future__ import annotations

from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from projects.formats import qna as fmt
from projects.formats._parse import child, expect_dict
from projects.models import KbSynonymGroup, Project, QnaPair
from projects.services._common import project_lock, project_touch, require_kind
from projects.services.projects import _apply_kb_metadata, _check_name
from studio.errors import Conflict, ErrorCollector, InvalidArgument

QA = (Project.Kind.QUESTION_ANSWERING.value,)
AssetKind = Literal["qnas", "synonyms"]


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
    _check_name(name)
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
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(name=name).first()
        if project is None:
            project = Project(
                name=name, kind=Project.Kind.QUESTION_ANSWERING, language="en"
            )
        elif project.kind != Project.Kind.QUESTION_ANSWERING:
            raise Conflict(
                f"Project {name!r} is a {project.kind} project, not a knowledge base.",
                target="projectName",
            )
        _apply_kb_metadata(project, metadata)
        project.last_modified_at = timezone.now()
        project.save()
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
    qnas = list(project.qnas.order_by("qna_id"))
    groups = [g.alterations for g in project.kb_synonyms.order_by("position")]
    if file_format == "tsv":
        if asset_kind == "synonyms":
            return fmt.synonyms_to_tsv(groups)
        return fmt.qnas_to_tsv(qnas)
    if file_format != "json":
        raise InvalidArgument(
            f"Format {file_format!r} is not one of json, tsv.", target="format"
        )
    assets: dict[str, Any] = {}
    if asset_kind in (None, "qnas"):
        assets["qnas"] = [fmt.qna_as_azure(q) for q in qnas]
    if asset_kind in (None, "synonyms"):
        assets["synonyms"] = [{"alterations": g} for g in groups]
    return {"metadata": fmt.project_metadata_as_azure(project), "assets": assets}


def kb_qnas_update(*, project: Project, operations: list[dict[str, Any]]) -> None:
    """Azure's update-QnAs body: ``[{"op": "add"|"replace"|"delete", "value":
    QnaRecord}]``. ``add`` assigns the next free id when ``id`` is absent or 0.
    Every operation is validated first; then all apply in one transaction."""
    require_kind(project=project, kinds=QA, action="a QnA update")
    if not isinstance(operations, list) or not operations:
        raise InvalidArgument(
            "The body must be a non-empty array of {op, value} operations.", target=""
        )
    errors = ErrorCollector()
    with transaction.atomic():
        project = project_lock(project=project)
        existing = {q.qna_id: q for q in project.qnas.all()}
        ids = set(existing)
        inline: list[tuple[str, Any]] = []
        adds: list[fmt.QnaData] = []
        replaces: list[fmt.QnaData] = []
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
            else:
                if record.qna_id and record.qna_id in ids:
                    errors.add(
                        f"QnA id {record.qna_id} already exists; use replace.",
                        target=child(value_path, "id"),
                    )
                    continue
                adds.append(record)
        kept = ids - deletes - {r.qna_id for r in replaces}
        resolved = fmt.resolve_qnas(
            [*replaces, *adds],
            inline,
            errors,
            existing_ids=kept,
            id_floor=max(ids, default=0),
        )
        # Prompts of untouched QnAs must not point at a deleted one.
        for qna_id in sorted(kept):
            for prompt in existing[qna_id].prompts:
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
        for record in resolved:
            if record.qna_id in replace_ids:
                QnaPair.objects.filter(project=project, qna_id=record.qna_id).update(
                    last_updated_at=now, **record.model_fields()
                )
            else:
                QnaPair.objects.create(
                    project=project,
                    qna_id=record.qna_id,
                    last_updated_at=now,
                    **record.model_fields(),
                )
        project_touch(project=project)


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
