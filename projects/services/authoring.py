"""Fine-grained authoring (the /api/v1 namespace and the studio UI): intents, entities,
single and bulk utterances. Inputs use Azure's JSON shapes (``category``,
``orchestration``, ``entities`` with offsets...), so one parser serves the import and
these services; offsets here default to code points."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F, Manager
from django.utils import timezone

from projects import validators as v
from projects.formats import conversation as fmt
from projects.models import Entity, EntitySpan, Intent, Project, Utterance
from projects.permissions import Actor
from projects.services._common import (
    Labeler,
    labeler_fields,
    project_lock,
    project_touch,
    require_kind,
    require_object,
    version_check,
)
from projects.services.audit import (
    entity_state,
    intent_state,
    label_states,
    labels_audited,
    labels_record,
    schema_record,
)
from projects.services.projects import (
    check_link_targets,
    index_type_parse,
    span_rows,
    utterances_insert,
    utterances_parse,
)
from projects.services.targets import link_seal, require_target_rights
from studio.errors import ErrorCollector, InvalidArgument, InvalidRequest, NotFound
from studio.inputs import echo
from studio.vocabulary import CLU_KINDS

CONVERSATION = (Project.Kind.CONVERSATION.value,)


def _name_taken(
    model: type[Intent] | type[Entity],
    project: Project,
    name: str,
    *,
    exclude: int | None = None,
) -> None:
    """400 when ``name`` (or a look-alike: ``validators.name_key``) is taken in the
    project by another row than ``exclude`` (the one being renamed)."""
    others = model.objects.filter(project=project, name_key=v.name_key(name))
    if exclude is not None:
        others = others.exclude(pk=exclude)
    other = others.values_list("name", flat=True).first()
    if other is None:
        return
    what = "Intent" if model is Intent else "Entity"
    raise InvalidArgument(
        f"{what} {echo(name)} already exists in project {project.name!r}."
        if other == name
        else v.lookalike_error(name, other, what=what),
        target="category",
    )


# ---------------------------------------------------------------- intents


def _parse_intent(
    project: Project,
    data: dict[str, Any],
    *,
    actor: Actor,
    current: Intent | None = None,
) -> fmt.IntentData:
    """The parsed intent; its link is checked (kind, and the actor's read access)
    unless it is ``current``'s link unchanged: renaming an intent that someone else
    linked reads nothing new."""
    errors = ErrorCollector()
    intent = fmt.parse_intent(data, "", errors, project_kind=project.kind)
    unchanged = (
        intent is not None
        and current is not None
        and (intent.link.target_kind, intent.link.project_name)
        == (current.target_kind, current.target_project_name)
    )
    if intent is not None and not unchanged:
        check_link_targets([("orchestration", intent.link)], errors, actor=actor)
    errors.raise_if_any("The intent is invalid")
    assert intent is not None  # noqa: S101 - errors raised otherwise
    return intent


def _sealed_link(
    parsed: fmt.IntentData, current: fmt.LinkData | None, *, targets_allowed: bool
) -> fmt.LinkData:
    """The parsed link checked against the caller's rights, secrets encrypted and
    masks resolved against ``current`` (services/targets.py)."""
    require_target_rights(link=parsed.link, current=current, allowed=targets_allowed)
    errors = ErrorCollector()
    link = link_seal(
        link=parsed.link, current=current, path="orchestration", errors=errors
    )
    errors.raise_if_any("The intent is invalid")
    return link


def _below_limit(project: Project, rows: Manager[Any], limit: int, what: str) -> None:
    """400 on ``category`` when the project already has ``limit`` of ``what``
    (``rows``: its intents or entities), checked under the project lock."""
    if rows.count() >= limit:
        raise InvalidArgument(
            f"Project {project.name!r} already has {limit} {what}, the limit.",
            target="category",
        )


def intent_create(
    *,
    project: Project,
    data: dict[str, Any],
    targets_allowed: bool = True,
    actor: Actor = None,
) -> Intent:
    """``data``: ``{"category": name, "orchestration"?: {...}}``.
    ``targets_allowed``: may the caller create a LUIS/HTTP target (project admins
    and resource keys)? Forbidden otherwise. A link to a studio project needs
    ``actor`` (None: a resource key) to be able to read the linked project."""
    require_kind(project=project, kinds=CLU_KINDS, action="an intent")
    parsed = _parse_intent(project, require_object(data), actor=actor)
    link = _sealed_link(parsed, None, targets_allowed=targets_allowed)
    with transaction.atomic():
        project = project_lock(project=project)
        _name_taken(Intent, project, parsed.name)
        _below_limit(project, project.intents, v.MAX_INTENTS_PER_PROJECT, "intents")
        intent = Intent.objects.create(
            project=project, name=parsed.name, **link.model_fields()
        )
        schema_record(
            project=project,
            action="intent.create",
            target=f"intent {intent.name}",
            after=intent_state(intent),
        )
        project_touch(project=project)
    return intent


def intent_update(
    *,
    intent: Intent,
    data: dict[str, Any],
    targets_allowed: bool = True,
    actor: Actor = None,
    expected_versions: Collection[int] | None = None,
) -> Intent:
    """Merge-patch: ``category`` renames, ``orchestration`` sets the link (``null``
    unlinks); a new link needs ``actor`` to be able to read the linked project. The
    built-in ``None`` intent cannot be renamed. Target secrets sent as the mask keep
    their stored values; ``targets_allowed`` as in ``intent_create`` (renaming an
    intent with such a target stays allowed).

    The patch applies to the intent as stored under the lock (not as loaded before
    it), and only when its version is one of ``expected_versions`` (when given;
    If-Match)."""
    data = require_object(data)
    with transaction.atomic():
        project = project_lock(project=intent.project)
        _lock_fresh(intent)
        version_check(current=intent.version, expected=expected_versions, what="intent")
        before = intent_state(intent)
        current = fmt.intent_link(intent)
        merged: dict[str, Any] = {"category": data.get("category", intent.name)}
        if "orchestration" in data:
            merged["orchestration"] = data["orchestration"]
        else:
            merged["orchestration"] = fmt.link_as_azure(current)
        parsed = _parse_intent(project, merged, actor=actor, current=intent)
        if intent.is_builtin and parsed.name != intent.name:
            raise InvalidArgument(
                "The built-in None intent cannot be renamed.", target="category"
            )
        link = _sealed_link(parsed, current, targets_allowed=targets_allowed)
        if parsed.name != intent.name:
            _name_taken(Intent, project, parsed.name, exclude=intent.pk)
            # Its utterances show the new name: their versions (ETags) move.
            Utterance.objects.filter(intent=intent).update(version=F("version") + 1)
        intent.name = parsed.name
        for key, value in link.model_fields().items():
            setattr(intent, key, value)
        intent.version += 1
        intent.save()
        schema_record(
            project=project,
            action="intent.change",
            target=f"intent {before['category']}",
            before=before,
            after=intent_state(intent),
        )
        intent.project = project
        project_touch(project=project)
    return intent


def _lock_fresh[M: (Intent, Entity, Utterance)](row: M) -> None:
    """Re-read ``row`` in place, locked for the rest of the transaction: a write
    merges onto what is stored now, not onto what its request loaded before it
    waited for the lock (a lost update otherwise). The caller's object is the one
    refreshed, so views render what was saved."""
    try:
        row.refresh_from_db(from_queryset=type(row).objects.select_for_update())
    except ObjectDoesNotExist:
        what = type(row)._meta.verbose_name
        raise NotFound(f"The {what} was deleted meanwhile.", target="id") from None


def _bump_labeled_by(entity: Entity) -> None:
    """Utterances labeled with ``entity`` show its name: their versions move when it
    is renamed or deleted."""
    Utterance.objects.filter(
        pk__in=EntitySpan.objects.filter(entity=entity).values("utterance_id")
    ).update(version=F("version") + 1)


def intent_delete(
    *, intent: Intent, expected_versions: Collection[int] | None = None
) -> None:
    """Delete an intent and its utterances; the built-in None intent stays."""
    if intent.is_builtin:
        raise InvalidArgument(
            "The built-in None intent cannot be deleted.", target="category"
        )
    with transaction.atomic():
        project = project_lock(project=intent.project)
        _lock_fresh(intent)
        version_check(current=intent.version, expected=expected_versions, what="intent")
        before = intent_state(intent)
        before["utterances"] = intent.utterances.count()
        intent.delete()  # utterances and spans: ON DELETE CASCADE
        schema_record(
            project=project,
            action="intent.delete",
            target=f"intent {before['category']}",
            before=before,
        )
        project_touch(project=project)


# ---------------------------------------------------------------- entities


def _parse_entity(project: Project, data: dict[str, Any]) -> fmt.EntityData:
    errors = ErrorCollector()
    entity = fmt.parse_entity(data, "", errors, catalog=v.prebuilt_catalog())
    errors.raise_if_any("The entity is invalid")
    assert entity is not None  # noqa: S101
    return entity


def _check_regex_limit(
    project: Project, entity: fmt.EntityData, exclude: int | None
) -> None:
    others = project.entities.all()
    if exclude is not None:
        others = others.exclude(pk=exclude)
    expressions = others.values_list("regex_expressions", flat=True)
    total = sum(len(r) for r in expressions) + len(entity.regex_expressions)
    if total > v.MAX_REGEX_PER_PROJECT:
        raise InvalidArgument(
            f"The project would have {total} regular expressions; the limit is "
            f"{v.MAX_REGEX_PER_PROJECT}.",
            target="regex.expressions",
        )


def entity_create(*, project: Project, data: dict[str, Any]) -> Entity:
    """``data``: an Azure entity object (``category``, ``compositionSetting``,
    ``list``, ``prebuilts``, ``regex``, ``requiredComponents``)."""
    require_kind(project=project, kinds=CONVERSATION, action="an entity")
    parsed = _parse_entity(project, require_object(data))
    with transaction.atomic():
        project = project_lock(project=project)
        _name_taken(Entity, project, parsed.name)
        _below_limit(project, project.entities, v.MAX_ENTITIES_PER_PROJECT, "entities")
        _check_regex_limit(project, parsed, None)
        entity = Entity.objects.create(
            project=project, name=parsed.name, **parsed.model_fields()
        )
        schema_record(
            project=project,
            action="entity.create",
            target=f"entity {entity.name}",
            after=entity_state(entity),
        )
        project_touch(project=project)
    return entity


def entity_update(
    *,
    entity: Entity,
    data: dict[str, Any],
    expected_versions: Collection[int] | None = None,
) -> Entity:
    """Merge-patch of an entity: keys present replace that component (``null``
    removes it); ``category`` renames (labels follow the entity). Applies to the
    entity as stored under the project lock, only when its version is one of
    ``expected_versions`` (when given; If-Match)."""
    data = require_object(data)
    with transaction.atomic():
        project = project_lock(project=entity.project)
        _lock_fresh(entity)
        version_check(current=entity.version, expected=expected_versions, what="entity")
        before = entity_state(entity)
        current: dict[str, Any] = {
            "category": entity.name,
            "compositionSetting": entity.composition_setting,
            "list": {"sublists": entity.list_sublists},
            "prebuilts": [{"category": c} for c in entity.prebuilts],
            "regex": {"expressions": entity.regex_expressions},
            "requiredComponents": entity.required_components,
        }
        for key, value in data.items():
            current[key] = value
        current = {k: val for k, val in current.items() if val is not None}
        parsed = _parse_entity(project, current)
        if parsed.name != entity.name:
            _name_taken(Entity, project, parsed.name, exclude=entity.pk)
            _bump_labeled_by(entity)
        _check_regex_limit(project, parsed, entity.pk)
        entity.name = parsed.name
        for key, value in parsed.model_fields().items():
            setattr(entity, key, value)
        entity.version += 1
        entity.save()
        schema_record(
            project=project,
            action="entity.change",
            target=f"entity {before['category']}",
            before=before,
            after=entity_state(entity),
        )
        entity.project = project
        project_touch(project=project)
    return entity


def entity_delete(
    *, entity: Entity, expected_versions: Collection[int] | None = None
) -> None:
    """Delete an entity and its labels."""
    with transaction.atomic():
        project = project_lock(project=entity.project)
        _lock_fresh(entity)
        version_check(current=entity.version, expected=expected_versions, what="entity")
        _bump_labeled_by(entity)
        before = entity_state(entity)
        before["labels"] = entity.spans.count()
        entity.delete()
        schema_record(
            project=project,
            action="entity.delete",
            target=f"entity {before['category']}",
            before=before,
        )
        project_touch(project=project)


# ---------------------------------------------------------------- utterances


def _resolve_names(
    project: Project, items: list[fmt.UtteranceData]
) -> tuple[dict[str, int], dict[str, int]]:
    intent_ids = dict(project.intents.values_list("name", "pk"))
    entity_ids = dict(project.entities.values_list("name", "pk"))
    errors = ErrorCollector()
    for u in items:
        if u.intent not in intent_ids:
            errors.add(
                f"Intent {u.intent!r} does not exist in project {project.name!r}.",
                target=f"{u.path}.intent",
            )
        for j, s in enumerate(u.spans):
            if s.category not in entity_ids:
                errors.add(
                    f"Entity {s.category!r} does not exist in project "
                    f"{project.name!r}.",
                    target=f"{u.path}.entities[{j}].category",
                )
    errors.raise_if_any("The utterance is invalid")
    return intent_ids, entity_ids


def utterances_bulk_create(
    *,
    project: Project,
    items: list[dict[str, Any]],
    string_index_type: str = "UnicodeCodePoint",
    labeled_by: Labeler | None = None,
) -> list[Utterance]:
    """Add utterances (Azure utterance objects; intents and entities must exist).
    All or nothing. ``labeled_by`` is recorded as their last labeler."""
    require_kind(project=project, kinds=CLU_KINDS, action="utterances")
    if not isinstance(items, list) or not items:
        raise InvalidRequest("The body must be a non-empty array of utterances.")
    parsed = utterances_parse(
        project=project,
        items=items,
        index_type=index_type_parse(string_index_type),
        what="utterance",
    )
    with transaction.atomic():
        project = project_lock(project=project)
        intent_ids, entity_ids = _resolve_names(project, parsed)
        total = project.utterances.count() + len(parsed)
        if total > v.MAX_UTTERANCES_PER_PROJECT:
            raise InvalidArgument(
                f"The project would have {total} utterances; the limit is "
                f"{v.MAX_UTTERANCES_PER_PROJECT}.",
                target="utterances",
            )
        rows = utterances_insert(
            project=project,
            items=parsed,
            intent_ids=intent_ids,
            entity_ids=entity_ids,
            labeled_by=labeled_by,
        )
        labels_record(
            project=project, before={}, after=label_states([r.pk for r in rows])
        )
        project_touch(project=project)
    return rows


def utterance_create(
    *,
    project: Project,
    data: dict[str, Any],
    string_index_type: str = "UnicodeCodePoint",
    labeled_by: Labeler | None = None,
) -> Utterance:
    """One utterance: ``{"text", "intent", "language"?, "dataset"?, "entities"?}``."""
    return utterances_bulk_create(
        project=project,
        items=[require_object(data)],
        string_index_type=string_index_type,
        labeled_by=labeled_by,
    )[0]


def utterance_update(
    *,
    utterance: Utterance,
    data: dict[str, Any],
    string_index_type: str = "UnicodeCodePoint",
    expected_versions: Collection[int] | None = None,
    labeled_by: Labeler | None = None,
) -> Utterance:
    """Merge-patch of one utterance; ``entities`` (when present) replaces all spans
    and is checked against the (possibly new) text. A change of intent or entities
    records ``labeled_by`` as the last labeler.

    The patch is applied to the row as stored under its lock and writes only the
    fields ``data`` names, so a concurrent change of another field (a PATCH of
    ``dataset`` racing one of ``intent``) is kept, not overwritten with what this
    request loaded. With ``expected_versions`` (If-Match, a row form's version) the
    write happens only if the stored version is one of them."""
    data = require_object(data)
    with transaction.atomic():
        project = project_lock(project=utterance.project)
        _lock_fresh(utterance)
        version_check(
            current=utterance.version, expected=expected_versions, what="utterance"
        )
        before = label_states([utterance.pk])
        spans = list(utterance.spans.select_related("entity").order_by("id"))
        current: dict[str, Any] = {
            "text": utterance.text,
            "intent": Intent.objects.get(pk=utterance.intent_id).name,
            "dataset": utterance.dataset,
        }
        if utterance.language:
            current["language"] = utterance.language
        keep_spans = "entities" not in data
        if keep_spans:
            current["entities"] = [
                {"category": s.entity.name, "offset": s.offset, "length": s.length}
                for s in spans
            ]
            index_type = "UnicodeCodePoint"
        else:
            index_type = string_index_type
        current.update(data)
        current = {k: val for k, val in current.items() if val is not None}
        (parsed,) = utterances_parse(
            project=project,
            items=[current],
            index_type=index_type_parse(index_type),
            what="utterance",
        )
        intent_ids, entity_ids = _resolve_names(project, [parsed])
        written = {
            "text": parsed.text,
            "intent_id": intent_ids[parsed.intent],
            "language": parsed.language,
            "dataset": parsed.dataset,
        }
        fields = ["version", "updated_at"]
        for key, value in written.items():
            if key.removesuffix("_id") in data:
                setattr(utterance, key, value)
                fields.append(key)
        if "intent" in data or "entities" in data:
            for key, value in labeler_fields(labeled_by).items():
                setattr(utterance, key, value)
                fields.append(key)
        utterance.version += 1
        utterance.updated_at = timezone.now()
        utterance.save(update_fields=fields)
        if not keep_spans:
            utterance.spans.all().delete()
            EntitySpan.objects.bulk_create(
                span_rows(utterance.pk, parsed.spans, entity_ids)
            )
        labels_record(
            project=project, before=before, after=label_states([utterance.pk])
        )
        utterance.project = project
        project_touch(project=project)
    return utterance


def utterance_delete(
    *, utterance: Utterance, expected_versions: Collection[int] | None = None
) -> None:
    with transaction.atomic():
        project = project_lock(project=utterance.project)
        _lock_fresh(utterance)
        version_check(
            current=utterance.version, expected=expected_versions, what="utterance"
        )
        with labels_audited(project=project, ids=[utterance.pk]):
            utterance.delete()
        project_touch(project=project)


def _owned_ids(project: Project, ids: list[int]) -> list[int]:
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise InvalidArgument(
            "ids must be a non-empty array of integers.", target="ids"
        )
    wanted = set(ids)
    found = set(project.utterances.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise InvalidArgument(
            f"Utterance id(s) {', '.join(map(str, missing[:10]))} do not exist in "
            f"project {project.name!r}.",
            target="ids",
        )
    return sorted(found)


def utterances_bulk_update(
    *,
    project: Project,
    ids: list[int],
    changes: dict[str, Any],
    labeled_by: Labeler | None = None,
) -> int:
    """Set ``intent`` (a name) and/or ``dataset`` (Train, Test or null) on many
    utterances; returns how many changed. Setting the intent records
    ``labeled_by`` as their last labeler."""
    changes = require_object(changes)
    unknown = set(changes) - {"intent", "dataset"}
    if unknown or not changes:
        raise InvalidArgument(
            "changes may set only intent and dataset.",
            target=", ".join(sorted(unknown)),
        )
    fields: dict[str, Any] = {}
    with transaction.atomic():
        project = project_lock(project=project)
        owned = _owned_ids(project, ids)
        if "intent" in changes:
            intent = project.intents.filter(name=changes["intent"]).first()
            if intent is None:
                raise InvalidArgument(
                    f"Intent {changes['intent']!r} does not exist in project "
                    f"{project.name!r}.",
                    target="intent",
                )
            fields["intent"] = intent
            fields.update(labeler_fields(labeled_by))
        if "dataset" in changes:
            if (msg := v.dataset_error(changes["dataset"])) is not None:
                raise InvalidArgument(msg, target="dataset")
            fields["dataset"] = changes["dataset"]
        with labels_audited(project=project, ids=owned):
            count = Utterance.objects.filter(pk__in=owned).update(
                updated_at=timezone.now(), version=F("version") + 1, **fields
            )
        project_touch(project=project)
    return count


def utterances_bulk_delete(*, project: Project, ids: list[int]) -> int:
    with transaction.atomic():
        project = project_lock(project=project)
        owned = _owned_ids(project, ids)
        with labels_audited(project=project, ids=owned):
            _, per_model = Utterance.objects.filter(pk__in=owned).delete()
        project_touch(project=project)
    return per_model.get(Utterance._meta.label, 0)
