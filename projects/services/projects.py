"""Project-level writes: create/update (Azure merge-patch), delete, import, export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from projects import validators as v
from projects.formats import conversation as fmt
from projects.formats._parse import child
from projects.formats.luis import luis_to_clu
from projects.models import Entity, EntitySpan, Intent, Project, Utterance
from projects.permissions import Actor, actor_reads_everything, readable_project_names
from projects.services._common import (
    Labeler,
    labeler_fields,
    project_insert,
    project_lookalike_check,
    project_name_check,
    require_kind,
    require_object,
)
from projects.services.audit import project_settings_state, settings_record
from projects.services.snapshots import (
    replaced_files_cleanup,
    replaced_project_keep,
)
from projects.services.targets import link_seal
from studio.audit import audit_record
from studio.deployment_state import deployment_state_bump
from studio.errors import (
    Conflict,
    ErrorCollector,
    ErrorDetail,
    InvalidArgument,
)
from studio.vocabulary import CLU_KINDS
from training.engine.embeddings import encoder_entries
from training.engine.offsets import OffsetError, StringIndexType, parse_index_type

BULK_BATCH = 2000
# Link target kinds that are projects of this studio (their data is read).
STUDIO_LINK_KINDS = ("Conversation", "QuestionAnswering")


def unreadable_link_message(kind: str, name: str) -> str:
    """What a caller who may not read ``name`` is told about a link to it: the
    same words whether it exists or not, and its kind unsaid."""
    return f"No {kind} project you can read is called {name!r}."


def check_link_targets(
    links: Iterable[tuple[str, fmt.LinkData]], errors: ErrorCollector, *, actor: Actor
) -> None:
    """Refuse a link to a studio project of the wrong kind, or one ``actor`` may
    not read: a linked project's data becomes the router's training data.

    A resource key or a superuser may link a name that matches no project (Azure
    links by name; the target may be created later). Anyone else links only
    projects they may read, and gets the same answer for a project they may not
    read as for a missing one (``unreadable_link_message``)."""
    studio_links = [
        (path, link) for path, link in links if link.target_kind in STUDIO_LINK_KINDS
    ]
    if not studio_links:
        return
    names = {link.project_name for _path, link in studio_links}
    readable = (
        None if actor_reads_everything(actor) else readable_project_names(actor, names)
    )
    kinds = dict(
        Project.objects.filter(
            name__in=list(names if readable is None else readable)
        ).values_list("name", "kind")
    )
    for path, link in studio_links:
        if readable is not None and link.project_name not in readable:
            key = child(path, fmt.LINK_KEYS[link.target_kind])
            errors.add(
                unreadable_link_message(link.target_kind, link.project_name),
                target=child(key, "projectName"),
            )
            continue
        actual = kinds.get(link.project_name)
        if actual is not None and actual != link.target_kind:
            errors.add(
                f"Project {link.project_name!r} is a {actual} project, not a "
                f"{link.target_kind} project.",
                target=path,
            )


# ---------------------------------------------------------------- create / update


def _apply_clu_metadata(project: Project, data: dict[str, Any]) -> None:
    errors = ErrorCollector()
    encoder_before = (project.encoder, project.language)
    if "language" in data:
        if (msg := v.language_error(data["language"])) is not None:
            errors.add(msg, target="language")
        else:
            project.language = data["language"]
    if "description" in data:
        value = data["description"]
        if value is None:
            project.description = ""
        elif not isinstance(value, str) or len(value) > v.MAX_DESCRIPTION_LENGTH:
            errors.add(
                f"description must be a string of at most {v.MAX_DESCRIPTION_LENGTH} "
                "characters.",
                target="description",
            )
        else:
            project.description = value
    if "multilingual" in data:
        value = data["multilingual"]
        if value is None:
            project.multilingual = False
        elif not isinstance(value, bool):
            errors.add("multilingual must be true or false.", target="multilingual")
        else:
            project.multilingual = value
    if "settings" in data:
        settings = data["settings"]
        if settings is None:
            project.confidence_threshold = 0.0
        elif not isinstance(settings, dict):
            errors.add("settings must be an object.", target="settings")
        elif settings.keys() & {
            "confidenceThreshold",
            "encoder",
            "perIntentThresholds",
        }:
            if "confidenceThreshold" in settings:
                value = settings["confidenceThreshold"]
                if value is None:
                    project.confidence_threshold = 0.0
                elif (msg := v.confidence_threshold_error(value)) is not None:
                    errors.add(msg, target="settings.confidenceThreshold")
                else:
                    project.confidence_threshold = float(value)
            if "encoder" in settings:
                value = settings["encoder"]
                if value is not None and not isinstance(value, str):
                    errors.add(
                        "settings.encoder must be an encoder's name, or null for "
                        "the default.",
                        target="settings.encoder",
                    )
                else:
                    project.encoder = (value or "").strip()
            if "perIntentThresholds" in settings:
                value = settings["perIntentThresholds"]
                if value is None:
                    project.per_intent_thresholds = False
                elif not isinstance(value, bool):
                    errors.add(
                        "settings.perIntentThresholds must be true or false (or null "
                        "for false).",
                        target="settings.perIntentThresholds",
                    )
                else:
                    project.per_intent_thresholds = value
        else:
            errors.add(
                "settings.confidenceThreshold is required inside settings.",
                target="settings.confidenceThreshold",
            )
    # Checked when either changes: an encoder an admin has since unregistered does
    # not block other edits (training says so instead).
    if (project.encoder, project.language) != encoder_before and (
        msg := encoder_error(project.encoder, project.language)
    ) is not None:
        errors.add(msg, target="settings.encoder")
    errors.raise_if_any("The project is invalid")


def encoder_error(name: str, language: str) -> str | None:
    """Why a project in ``language`` cannot use the sentence encoder ``name`` (""
    is the default for the language), or None."""
    if not name:
        return None
    known = {entry.name: entry for entry in encoder_entries()}
    entry = known.get(name)
    if entry is None:
        return (
            f"settings.encoder {name!r} is not an encoder of this studio; use null "
            f"for the default or one of {sorted(known)}."
        )
    if language and not entry.supports(language):
        return (
            f"Sentence encoder {name!r} handles {', '.join(entry.languages)}, not "
            f"{language!r}; choose another encoder or null for the language's "
            "default."
        )
    return None


def project_create_or_update(
    *, name: str, data: dict[str, Any]
) -> tuple[Project, bool]:
    """Azure's PATCH (merge-patch) of a Conversation or Orchestration project.

    Returns ``(project, created)``. Absent fields are unchanged, ``null`` clears.
    """
    project_name_check(name=name)
    data = require_object(data, what="project body")
    body_name = data.get("projectName")
    if body_name is not None and body_name != name:
        raise InvalidArgument(
            f"projectName {body_name!r} in the body must equal the name in the path "
            f"{name!r}.",
            target="projectName",
        )
    kind = data.get("projectKind")
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(name=name).first()
        if project is not None:
            if project.kind not in CLU_KINDS:
                raise Conflict(
                    f"Project {name!r} already exists as a {project.kind} project.",
                    target="projectName",
                )
            if kind is not None and kind != project.kind:
                raise InvalidArgument(
                    f"projectKind cannot change: project {name!r} is a {project.kind} "
                    f"project.",
                    target="projectKind",
                )
            if "language" in data and data["language"] is None:
                raise InvalidArgument("language cannot be cleared.", target="language")
            runtime_settings = (
                project.confidence_threshold,
                project.per_intent_thresholds,
            )
            before = project_settings_state(project)
            _apply_clu_metadata(project, data)
            project.last_modified_at = timezone.now()
            project.save()
            settings_record(project=project, before=before)
            if (
                project.confidence_threshold,
                project.per_intent_thresholds,
            ) != runtime_settings:
                # The runtime reads the thresholds with the deployment: the bump
                # makes every web process reload them within a second.
                deployment_state_bump()
            return project, False
        errors = ErrorCollector()
        if body_name is None:
            errors.add(
                "projectName is required to create a project.", target="projectName"
            )
        if kind not in CLU_KINDS:
            errors.add(
                f"projectKind {kind!r} is not one of Conversation, Orchestration.",
                target="projectKind",
            )
        if "language" not in data:
            errors.add("language is required to create a project.", target="language")
        errors.raise_if_any("The project is invalid")
        project = Project(name=name, kind=str(kind))
        _apply_clu_metadata(project, data)
        if not project_insert(project=project):
            # A concurrent PATCH created it first: this one updates it (200).
            return project_create_or_update(name=name, data=data)
        Intent.objects.create(project=project, name=Intent.BUILTIN_NONE)
        audit_record(
            action="project.create",
            project=project,
            target=f"project {project.name}",
            after=project_settings_state(project),
        )
        return project, True


def project_delete(*, project: Project) -> None:
    """Delete the project and everything in it (trained models and deployments
    cascade through their own foreign keys) with its jobs, then, once that has
    committed, the snapshots it replaced and its job files (exports, staged
    imports) in storage; training deletes its models' artifacts and snapshots
    likewise (training/signals.py). Only deletion jobs stay, detached, so that their
    clients can poll the outcome; a new project of the same name sees none of this."""
    from jobs.models import Job
    from jobs.services import jobs_delete

    with transaction.atomic():
        jobs_delete(jobs=project.jobs.exclude(kind=Job.Kind.PROJECT_DELETE))
        snapshots = set(project.replaced_snapshots.values_list("file", flat=True))
        # Intents, entities, utterances and spans go by the database's ON DELETE
        # CASCADE (models use DB_CASCADE), in a few statements whatever the size.
        project.delete()

        def delete_files() -> None:
            for name in snapshots:
                if name:
                    default_storage.delete(name)

        transaction.on_commit(delete_files)


# ---------------------------------------------------------------- import / export


def _clear_clu_assets(project: Project) -> None:
    # Utterances and spans follow by the database's ON DELETE CASCADE.
    Intent.objects.filter(project=project).delete()
    Entity.objects.filter(project=project).delete()


def span_rows(
    utterance_id: int, spans: list[fmt.SpanData], entity_ids: dict[str, int]
) -> list[EntitySpan]:
    return [
        EntitySpan(
            utterance_id=utterance_id,
            entity_id=entity_ids[s.category],
            offset=s.offset,
            length=s.length,
        )
        for s in spans
    ]


def utterances_insert(
    *,
    project: Project,
    items: list[fmt.UtteranceData],
    intent_ids: dict[str, int],
    entity_ids: dict[str, int],
    labeled_by: Labeler | None = None,
) -> list[Utterance]:
    """Insert validated utterances and their spans, ``BULK_BATCH`` at a time (the
    caller holds the project lock and has checked names and limits)."""
    now = timezone.now()
    labeler = labeler_fields(labeled_by)
    created: list[Utterance] = []
    for start in range(0, len(items), BULK_BATCH):
        chunk = items[start : start + BULK_BATCH]
        rows = Utterance.objects.bulk_create(
            [
                Utterance(
                    project=project,
                    text=u.text,
                    intent_id=intent_ids[u.intent],
                    language=u.language,
                    dataset=u.dataset,
                    created_at=now,
                    updated_at=now,
                    **labeler,
                )
                for u in chunk
            ]
        )
        EntitySpan.objects.bulk_create(
            [
                span
                for row, u in zip(rows, chunk, strict=True)
                for span in span_rows(row.pk, u.spans, entity_ids)
            ],
            batch_size=BULK_BATCH,
        )
        created.extend(rows)
    return created


def index_type_parse(string_index_type: str) -> StringIndexType:
    try:
        return parse_index_type(string_index_type)
    except OffsetError as exc:
        raise InvalidArgument(str(exc), target="stringIndexType") from None


def utterances_parse(
    *, project: Project, items: list[Any], index_type: StringIndexType, what: str
) -> list[fmt.UtteranceData]:
    """Parse Azure utterance objects (offsets in ``index_type``) for ``project``;
    one ``InvalidArgument`` naming every bad item."""
    errors = ErrorCollector()
    parsed: list[fmt.UtteranceData] = []
    for i, obj in enumerate(items):
        u = fmt.parse_utterance(
            obj, f"[{i}]", errors, project_kind=project.kind, index_type=index_type
        )
        if u is not None:
            parsed.append(u)
    errors.raise_if_any(f"The {what} is invalid")
    return parsed


def project_import(
    *,
    name: str,
    document: dict[str, Any],
    format: str = "Conversation",  # noqa: A002 - Azure's query parameter name
    warnings: list[ErrorDetail] | None = None,
    actor: Actor = None,
) -> Project:
    """Create or entirely replace a Conversation/Orchestration project from Azure's
    exported JSON (or, with ``format="Luis"``, a LUIS app JSON converted by
    ``formats.luis``). Atomic: any problem raises ``InvalidArgument`` whose details name
    each offending item by JSON path, and the database is left as it was. A replaced
    project's previous content is kept restorable (``services.snapshots``).
    Non-fatal notes (a different ``metadata.projectName``) go to ``warnings``.
    ``actor`` (None: a resource key) must be able to read every linked project
    (``check_link_targets``)."""
    if format not in ("Conversation", "Orchestration", "Luis"):
        raise InvalidArgument(
            f"Import format {format!r} is not one of Conversation, Luis.",
            target="format",
        )
    project_name_check(name=name)
    catalog = v.prebuilt_catalog()
    luis_warnings: list[ErrorDetail] = []
    if format == "Luis":
        document, luis_warnings = luis_to_clu(
            document, name=name, known_prebuilt=catalog
        )
    doc = fmt.parse_project_document(document, name=name, catalog=catalog)
    if format == "Orchestration" and doc.metadata.kind != "Orchestration":
        raise InvalidArgument(
            "format Orchestration needs an Orchestration project file.",
            target="metadata.projectKind",
        )
    errors = ErrorCollector()
    check_link_targets(
        [(child(i.path, "orchestration"), i.link) for i in doc.intents if i.path],
        errors,
        actor=actor,
    )
    errors.raise_if_any("The project file is invalid")
    meta = doc.metadata
    seal_warnings: list[ErrorDetail] = []
    with replaced_files_cleanup() as kept, transaction.atomic():
        project = Project.objects.select_for_update().filter(name=name).first()
        current: dict[str, fmt.LinkData] = {}
        if project is not None:
            if project.kind != meta.kind:
                raise InvalidArgument(
                    f"Project {name!r} is a {project.kind} project; a {meta.kind} "
                    "file cannot replace it (the kind of a project cannot change).",
                    target="metadata.projectKind",
                )
            # Target secrets sent as the mask keep what the same intent stores.
            current = {i.name: fmt.intent_link(i) for i in project.intents.all()}
            # The way back: what it holds now stays restorable for a while.
            if (snapshot := replaced_project_keep(project=project)) is not None:
                kept.append(snapshot)
            _clear_clu_assets(project)
        else:
            project_lookalike_check(name=name)
            project = Project(name=name, kind=meta.kind)
        project.language = meta.language
        project.multilingual = meta.multilingual
        project.description = meta.description
        threshold_changed = (
            project.confidence_threshold,
            project.per_intent_thresholds,
        ) != (meta.confidence_threshold, meta.per_intent_thresholds)
        project.confidence_threshold = meta.confidence_threshold
        project.per_intent_thresholds = meta.per_intent_thresholds
        project.last_modified_at = timezone.now()
        project.save()
        if threshold_changed and project.deployments.exists():
            deployment_state_bump()  # see project_create_or_update
        links = [
            link_seal(
                link=i.link,
                current=current.get(i.name),
                path=child(i.path, "orchestration"),
                errors=ErrorCollector(),
                warnings=seal_warnings,
                intent_name=i.name,
            )
            for i in doc.intents
        ]
        intents = Intent.objects.bulk_create(
            [
                Intent(project=project, name=i.name, **link.model_fields())
                for i, link in zip(doc.intents, links, strict=True)
            ]
        )
        entities = Entity.objects.bulk_create(
            [
                Entity(project=project, name=e.name, **e.model_fields())
                for e in doc.entities
            ]
        )
        utterances_insert(
            project=project,
            items=doc.utterances,
            intent_ids={i.name: i.pk for i in intents},
            entity_ids={e.name: e.pk for e in entities},
        )
        # Last, after every write of the import moved last_modified_at: the copy is
        # unchanged while the two are equal (formats.conversation.export_stamp).
        project.refresh_from_db(fields=["last_modified_at"])
        project.source_modified_at = meta.source_modified_at
        project.imported_at = project.last_modified_at
        Project.objects.filter(pk=project.pk).update(
            source_modified_at=project.source_modified_at,
            imported_at=project.imported_at,
        )
    if warnings is not None:
        warnings.extend([*luis_warnings, *doc.warnings, *seal_warnings])
    return project


def project_export(
    *, project: Project, string_index_type: str = "Utf16CodeUnit"
) -> dict[str, Any]:
    """Azure's exported-project JSON, offsets in ``string_index_type``."""
    require_kind(project=project, kinds=CLU_KINDS, action="this export")
    index_type = index_type_parse(string_index_type)
    return fmt.export_document(project, index_type=index_type)


def _lookalike_names(
    new: list[str], existing: Iterable[str], what: str, errors: ErrorCollector
) -> None:
    """Add an error for each name of ``new`` (to be created) that is a look-alike
    (``validators.name_key``) of an existing name or of an earlier new one."""
    seen = {v.name_key(name): name for name in existing}
    for name in new:
        key = v.name_key(name)
        if key in seen:
            errors.add(v.lookalike_error(name, seen[key], what=what), target="")
        else:
            seen[key] = name


def utterances_count_check(*, project: Project, adding: int) -> None:
    """Refuse adding ``adding`` utterances that would take ``project`` over
    ``MAX_UTTERANCES_PER_PROJECT``. Cheap (one count), so callers run it before
    they look at a single item; under the project lock it is the exact check."""
    existing = project.utterances.count()
    if existing + adding > v.MAX_UTTERANCES_PER_PROJECT:
        raise InvalidArgument(
            f"The file holds {adding:,} utterances and the project already has "
            f"{existing:,}; the limit is {v.MAX_UTTERANCES_PER_PROJECT:,} per "
            "project. Nothing was added.",
            target="file",
        )


def utterances_new_labels(
    *,
    parsed: list[fmt.UtteranceData],
    intent_ids: dict[str, int],
    entity_ids: dict[str, int],
) -> tuple[list[str], list[str]]:
    """The intents and entities that adding ``parsed`` creates (in file order),
    refused when they would take the project over its intent or entity limit or
    look like an existing (or earlier new) name."""
    new_intents = list(
        dict.fromkeys(u.intent for u in parsed if u.intent not in intent_ids)
    )
    new_entities = list(
        dict.fromkeys(
            s.category for u in parsed for s in u.spans if s.category not in entity_ids
        )
    )
    errors = ErrorCollector()
    if len(intent_ids) + len(new_intents) > v.MAX_INTENTS_PER_PROJECT:
        errors.add(
            f"The project would have {len(intent_ids) + len(new_intents)} "
            f"intents; the limit is {v.MAX_INTENTS_PER_PROJECT}.",
            target="",
        )
    if len(entity_ids) + len(new_entities) > v.MAX_ENTITIES_PER_PROJECT:
        errors.add(
            f"The project would have {len(entity_ids) + len(new_entities)} "
            f"entities; the limit is {v.MAX_ENTITIES_PER_PROJECT}.",
            target="",
        )
    _lookalike_names(new_intents, intent_ids, "Intent", errors)
    _lookalike_names(new_entities, entity_ids, "Entity", errors)
    errors.raise_if_any("The utterance file is invalid")
    return new_intents, new_entities
