"""Writes of the labeling screen: add pasted lines, set one utterance's intent,
dataset or text, add and remove entity spans, bulk actions, and the undo history
of all of these (file uploads are jobs: ``projects.services.uploads``).

Single-utterance edits go through the authoring services (same validation as the
API). Bulk actions work in chunks of ``CHUNK`` ids, so "all 50,000 matching the
filter" stays under SQLite's bound-parameter limit. Every change made for a user
(a bulk action, or a single edit given ``user``) records what it replaces as one
``LabelingUndo`` step in the same transaction; each user keeps the last
``UNDO_LEVELS`` steps per project, and an undo puts back the newest and removes it.
Offsets are code points, as everywhere inside the studio.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from projects import validators as v
from projects.models import EntitySpan, LabelingUndo, Project, Utterance
from projects.services._common import (
    Labeler,
    labeler_fields,
    project_lock,
    project_touch,
    version_check,
)
from projects.services.audit import label_states, labels_audited, labels_record
from projects.services.authoring import (
    utterance_update,
    utterances_bulk_create,
    utterances_bulk_update,
)
from studio.errors import ErrorCollector, InvalidArgument, NotFound

CHUNK = 1000
MAX_LINES = 1000
BULK_ACTIONS = ("intent", "dataset", "delete")
# Steps of undo history kept per user and project; of them, at most
# LARGE_STEPS_KEPT that hold more than LARGE_STEP_ROWS utterances (a bulk delete of
# 50,000 rows stores every row: megabytes per step).
UNDO_LEVELS = 20
LARGE_STEP_ROWS = 5000
LARGE_STEPS_KEPT = 3


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _dataset_value(dataset: str | None) -> str | None:
    """Form value -> stored value: "" and "unassigned" mean no dataset."""
    if dataset in (None, "", "unassigned"):
        return None
    if (msg := v.dataset_error(dataset)) is not None:
        raise InvalidArgument(msg, target="dataset")
    return dataset


def _intent_id(project: Project, name: str) -> int:
    pk = project.intents.filter(name=name).values_list("pk", flat=True).first()
    if pk is None:
        raise InvalidArgument(
            f"Intent {name!r} does not exist in project {project.name!r}.",
            target="intent",
        )
    return pk


# ---------------------------------------------------------------- label keys


LABEL_KEYS = range(1, 10)


def intent_label_key_pin(*, project: Project, key: int, intent: str) -> None:
    """Pin ``intent`` to the Data screen's key ``key`` (1-9), taking the key from
    the intent that held it and dropping the intent's previous key; an empty
    ``intent`` unpins the key (it assigns its default again)."""
    if key not in LABEL_KEYS:
        raise InvalidArgument("A label key is one of 1 to 9.", target="key")
    with transaction.atomic():
        project = project_lock(project=project)
        pk = _intent_id(project, intent) if intent else None
        project.intents.filter(label_key=key).update(label_key=None)
        if pk is not None:
            project.intents.filter(pk=pk).update(label_key=key)


# ---------------------------------------------------------------- single edits


def utterances_add_lines(
    *,
    project: Project,
    intent: str,
    text: str,
    dataset: str | None = None,
    labeled_by: Labeler | None = None,
) -> list[Utterance]:
    """Add one utterance per non-blank line of ``text`` to ``intent``. Each error
    names its line; nothing is added unless every line is valid."""
    _intent_id(project, intent)
    dataset_value = _dataset_value(dataset)
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise InvalidArgument("Type at least one utterance.", target="text")
    if len(lines) > MAX_LINES:
        raise InvalidArgument(
            f"{len(lines)} lines at once; the limit is {MAX_LINES}. Upload a file "
            "for more.",
            target="text",
        )
    errors = ErrorCollector()
    for number, line in lines:
        if (msg := v.utterance_text_error(line)) is not None:
            errors.add(f"Line {number}: {msg}", target="text")
    errors.raise_if_any("Some lines cannot be added")
    items: list[dict[str, Any]] = [
        {"text": line, "intent": intent, "dataset": dataset_value} for _, line in lines
    ]
    try:
        return utterances_bulk_create(
            project=project, items=items, labeled_by=labeled_by
        )
    except InvalidArgument as exc:
        # Project-wide limits: shown on the text field, where the lines are.
        raise InvalidArgument(exc.message, target="text", details=exc.details) from exc


def _row_locked(project: Project, pk: int, version: int | None) -> Utterance:
    """Inside a write's transaction (project locked): the utterance row locked and,
    when the form sent the ``version`` it rendered, checked against it, so a row
    edit never overwrites a change it did not see."""
    utterance = project.utterances.select_for_update().filter(pk=pk).first()
    if utterance is None:
        raise NotFound(
            f"Utterance {pk} not found in project {project.name!r}.", target="id"
        )
    expected = None if version is None else {version}
    version_check(current=utterance.version, expected=expected, what="utterance")
    return utterance


def _quoted(text: str, limit: int = 40) -> str:
    """An utterance as an undo summary names it: “book a flight…”."""
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def _edit_step(
    project: Project,
    user: AbstractBaseUser | None,
    utterance: Utterance,
    summary: str,
) -> None:
    """Inside a single edit's transaction, before the write: the row as it is now
    becomes the user's newest undo step."""
    if user is None:
        return
    _undo_push(
        project=project,
        user=user,
        action=LabelingUndo.Action.EDIT,
        summary=summary,
        payload={"utterances": _snapshot(project, [utterance.pk])},
    )


def utterance_intent_set(
    *,
    project: Project,
    pk: int,
    intent: str,
    version: int | None = None,
    labeled_by: Labeler | None = None,
    user: AbstractBaseUser | None = None,
) -> None:
    """Label one utterance with ``intent`` (the assign-intent keystroke); an unknown
    intent is refused by ``utterances_bulk_update`` (target ``intent``). With
    ``user``, the change becomes their newest undo step."""
    with transaction.atomic():
        project = project_lock(project=project)
        row = _row_locked(project, pk, version)
        _edit_step(
            project, user, row, f"Assigned intent {intent} to {_quoted(row.text)}"
        )
        utterances_bulk_update(
            project=project,
            ids=[pk],
            changes={"intent": intent},
            labeled_by=labeled_by,
        )


def utterance_dataset_set(
    *,
    project: Project,
    pk: int,
    dataset: str | None,
    version: int | None = None,
    user: AbstractBaseUser | None = None,
) -> None:
    value = _dataset_value(dataset)
    with transaction.atomic():
        project = project_lock(project=project)
        row = _row_locked(project, pk, version)
        _edit_step(
            project, user, row, f"Moved {_quoted(row.text)} to {value or 'unassigned'}"
        )
        utterances_bulk_update(project=project, ids=[pk], changes={"dataset": value})


def utterance_dataset_toggle(
    *,
    project: Project,
    pk: int,
    version: int | None = None,
    user: AbstractBaseUser | None = None,
) -> str:
    """``t``: Test becomes Train; Train and unassigned become Test. Returns the new
    dataset."""
    with transaction.atomic():
        project = project_lock(project=project)
        row = _row_locked(project, pk, version)
        new = "Train" if row.dataset == "Test" else "Test"
        _edit_step(project, user, row, f"Moved {_quoted(row.text)} to {new}")
        utterances_bulk_update(project=project, ids=[pk], changes={"dataset": new})
    return new


def _at_word_edge(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` neither starts nor ends inside a word."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (
        (before.isalnum() and text[start : start + 1].isalnum())
        or (after.isalnum() and text[end - 1 : end].isalnum())
    )


def spans_reanchor(
    *, old: str, new: str, spans: Sequence[tuple[str, int, int]]
) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """Move entity spans ``(entity, offset, length)`` of ``old`` onto ``new``: a
    span whose characters survive the edit unchanged (one block of the diff) keeps
    them at their new place; else its text, when ``new`` holds it, is labeled where
    it occurs nearest to the old place. A span that would cut a word it did not cut
    before, or whose text is gone, is lost. Returns (kept, lost)."""
    blocks = difflib.SequenceMatcher(None, old, new, autojunk=False)
    matching = blocks.get_matching_blocks()
    kept: list[tuple[str, int, int]] = []
    lost: list[tuple[str, int, int]] = []
    for entity, offset, length in spans:
        piece = old[offset : offset + length]
        placed: int | None = None
        for a, b, size in matching:
            if a <= offset and offset + length <= a + size:
                placed = b + offset - a
                break
        if placed is None:
            found = [
                i for i in range(len(new) - length + 1) if new.startswith(piece, i)
            ]
            if found:
                placed = min(found, key=lambda i: abs(i - offset))
        if placed is not None:
            edge_before = _at_word_edge(old, offset, offset + length)
            taken = any(
                e == entity and o < placed + length and placed < o + n
                for e, o, n in kept
            )
            if taken or (
                edge_before and not _at_word_edge(new, placed, placed + length)
            ):
                placed = None
        if placed is None:
            lost.append((entity, offset, length))
        else:
            kept.append((entity, placed, length))
    return kept, lost


def utterance_text_edit(
    *,
    project: Project,
    pk: int,
    text: str,
    version: int | None = None,
    labeled_by: Labeler | None = None,
    user: AbstractBaseUser | None = None,
) -> list[str]:
    """Replace one utterance's text, its entity labels kept where their words still
    are (:func:`spans_reanchor`). Returns the labels that could not be kept, as the
    screen names them (``City “Paris”``); nothing is written when the text is not
    valid. With ``user``, the change becomes their newest undo step."""
    text = text.strip()
    if not text:
        raise InvalidArgument("Type the utterance's text.", target="text")
    if (msg := v.utterance_text_error(text)) is not None:
        raise InvalidArgument(msg, target="text")
    with transaction.atomic():
        project = project_lock(project=project)
        utterance = _row_locked(project, pk, version)
        before = utterance.text
        if text == before:
            return []
        spans = [
            (s.entity.name, s.offset, s.length)
            for s in utterance.spans.select_related("entity").order_by("offset", "id")
        ]
        kept, lost = spans_reanchor(old=utterance.text, new=text, spans=spans)
        _edit_step(
            project, user, utterance, f"Edited the text of {_quoted(utterance.text)}"
        )
        utterance.project = project
        data: dict[str, Any] = {"text": text}
        if spans:
            data["entities"] = [
                {"category": e, "offset": o, "length": n} for e, o, n in kept
            ]
        utterance_update(
            utterance=utterance,
            data=data,
            labeled_by=labeled_by if lost else None,
        )
    return [f"{e} {_quoted(before[o : o + n])}" for e, o, n in lost]


def utterance_span_add(
    *,
    project: Project,
    pk: int,
    entity: str,
    offset: int,
    length: int,
    version: int | None = None,
    labeled_by: Labeler | None = None,
    user: AbstractBaseUser | None = None,
) -> None:
    """Label ``length`` code points at ``offset`` with ``entity``. Spans of
    different entities may overlap; one entity's spans may not. The spans it adds
    to are read under the lock: two labels added at once both stay. With ``user``,
    the change becomes their newest undo step (dropped again if the label is
    refused: the transaction rolls back)."""
    with transaction.atomic():
        project = project_lock(project=project)
        utterance = _row_locked(project, pk, version)
        if not project.entities.filter(name=entity).exists():
            raise InvalidArgument(
                f"Entity {entity!r} does not exist in project {project.name!r}.",
                target="entity",
            )
        piece = utterance.text[offset : offset + length]
        _edit_step(
            project,
            user,
            utterance,
            f"Labeled {entity} {_quoted(piece, 30)} in {_quoted(utterance.text)}",
        )
        spans: list[dict[str, Any]] = [
            {"category": s.entity.name, "offset": s.offset, "length": s.length}
            for s in utterance.spans.select_related("entity").order_by("id")
        ]
        new = {"category": entity, "offset": offset, "length": length}
        if new in spans:
            raise InvalidArgument(
                f"This text is already labeled {entity!r}.", target="entity"
            )
        utterance.project = project
        try:
            utterance_update(
                utterance=utterance,
                data={"entities": [*spans, new]},
                labeled_by=labeled_by,
            )
        except InvalidArgument as exc:
            # The parser names the span by its JSON path; the form has offset/length.
            detail = exc.details[-1].message if exc.details else exc.message
            raise InvalidArgument(detail, target="offset") from exc


def utterance_span_remove(
    *,
    project: Project,
    pk: int,
    span_id: int,
    version: int | None = None,
    labeled_by: Labeler | None = None,
    user: AbstractBaseUser | None = None,
) -> None:
    with transaction.atomic():
        project = project_lock(project=project)
        utterance = _row_locked(project, pk, version)
        with labels_audited(project=project, ids=[pk]):
            span = (
                EntitySpan.objects.filter(pk=span_id, utterance=utterance)
                .select_related("entity")
                .first()
            )
            if span is None:
                raise NotFound(
                    f"Span {span_id} is not a label of utterance {pk}.", target="span"
                )
            piece = utterance.text[span.offset : span.end]
            _edit_step(
                project,
                user,
                utterance,
                f"Removed label {span.entity.name} {_quoted(piece, 30)} from "
                f"{_quoted(utterance.text)}",
            )
            span.delete()
            Utterance.objects.filter(pk=pk).update(
                updated_at=timezone.now(),
                version=F("version") + 1,
                **labeler_fields(labeled_by),
            )
        project_touch(project=project)


# ---------------------------------------------------------------- bulk + undo


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    action: str
    count: int
    summary: str


def _owned(project: Project, ids: Sequence[int]) -> list[int]:
    if not ids:
        raise InvalidArgument("Select at least one utterance.", target="ids")
    if len(ids) > v.MAX_UTTERANCES_PER_PROJECT:
        raise InvalidArgument("Too many utterances selected.", target="ids")
    wanted = sorted(set(ids))
    found: list[int] = []
    for chunk in _chunks(wanted):
        found.extend(
            project.utterances.filter(pk__in=chunk).values_list("pk", flat=True)
        )
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise InvalidArgument(
            f"Utterance id(s) {', '.join(map(str, missing[:10]))} do not exist in "
            f"project {project.name!r} (deleted meanwhile? reload the page).",
            target="ids",
        )
    return sorted(found)


def _plural(count: int) -> str:
    return f"{count:,} utterance{'s' if count != 1 else ''}"


def _ts(value: datetime) -> str:
    return value.isoformat()


def utterances_bulk_apply(
    *,
    project: Project,
    user: AbstractBaseUser,
    ids: Sequence[int],
    action: str,
    value: str | None = None,
) -> BulkOutcome:
    """Assign an intent, move to a dataset or delete many utterances at once; what
    they held before becomes the user's newest undo step (:func:`labeling_undo`).
    Assigning an intent makes ``user`` their last labeler."""
    if action not in BULK_ACTIONS:
        raise InvalidArgument(
            f"Unknown bulk action {action!r}; one of {', '.join(BULK_ACTIONS)}.",
            target="action",
        )
    now = timezone.now()
    with transaction.atomic():
        project = project_lock(project=project)
        owned = _owned(project, ids)
        before = label_states(owned)
        payload: dict[str, Any]
        if action == "intent":
            name = value or ""
            intent_id = _intent_id(project, name)
            previous: list[list[Any]] = []
            for chunk in _chunks(owned):
                rows = project.utterances.filter(pk__in=chunk)
                previous.extend(map(list, rows.values_list("pk", "intent_id")))
                rows.update(
                    intent_id=intent_id,
                    updated_at=now,
                    version=F("version") + 1,
                    **Labeler.of_user(user).fields(),
                )
            payload = {"previous": previous}
            summary = f"Assigned intent {name} to {_plural(len(owned))}"
        elif action == "dataset":
            dataset = _dataset_value(value)
            previous = []
            for chunk in _chunks(owned):
                rows = project.utterances.filter(pk__in=chunk)
                previous.extend(map(list, rows.values_list("pk", "dataset")))
                rows.update(dataset=dataset, updated_at=now, version=F("version") + 1)
            payload = {"previous": previous}
            summary = f"Moved {_plural(len(owned))} to {dataset or 'unassigned'}"
        else:
            payload = {"utterances": _snapshot(project, owned)}
            for chunk in _chunks(owned):
                project.utterances.filter(pk__in=chunk).delete()
            summary = f"Deleted {_plural(len(owned))}"
        labels_record(project=project, before=before, after=label_states(owned))
        _undo_push(
            project=project,
            user=user,
            action=action,
            summary=summary,
            payload=payload,
            rows=len(owned),
        )
        project_touch(project=project)
    return BulkOutcome(action=action, count=len(owned), summary=summary)


def _undo_push(
    *,
    project: Project,
    user: AbstractBaseUser,
    action: str,
    summary: str,
    payload: dict[str, Any],
    rows: int = 1,
) -> None:
    """Record one step of ``user``'s undo history in ``project`` (inside the
    change's transaction) and forget the steps past ``UNDO_LEVELS``, and the large
    ones past ``LARGE_STEPS_KEPT``."""
    LabelingUndo.objects.create(
        project=project,
        user_id=user.pk,
        action=action,
        summary=summary[:300],
        payload=payload,
        rows=rows,
    )
    steps = LabelingUndo.objects.filter(project=project, user_id=user.pk)
    old = list(steps.order_by("-id").values_list("pk", flat=True)[UNDO_LEVELS:])
    old += (
        steps.filter(rows__gt=LARGE_STEP_ROWS)
        .order_by("-id")
        .values_list("pk", flat=True)[LARGE_STEPS_KEPT:]
    )
    if old:
        LabelingUndo.objects.filter(pk__in=old).delete()


def _snapshot(project: Project, ids: list[int]) -> list[dict[str, Any]]:
    """Everything needed to re-create deleted utterances with their ids."""
    spans: dict[int, list[list[int]]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        for utterance_id, entity_id, offset, length in (
            EntitySpan.objects.filter(utterance_id__in=chunk)
            .order_by("id")
            .values_list("utterance_id", "entity_id", "offset", "length")
        ):
            spans[utterance_id].append([entity_id, offset, length])
        for u in project.utterances.filter(pk__in=chunk).order_by("pk"):
            rows.append(
                {
                    "id": u.pk,
                    "text": u.text,
                    "intent": u.intent_id,
                    "language": u.language,
                    "dataset": u.dataset,
                    "created_at": _ts(u.created_at),
                    "updated_at": _ts(u.updated_at),
                    "version": u.version,
                    "spans": spans.get(u.pk, []),
                }
            )
    return rows


def labeling_undo(*, project: Project, user: AbstractBaseUser) -> str:
    """Put back what the user's newest undo step in ``project`` changed (a bulk
    action or a single edit) and remove the step; returns a sentence saying what
    was restored and what could not be.

    The project may have changed since the action: utterances deleted since are
    skipped, an intent deleted since cannot be put back (its utterances keep the
    intent they have now; a deleted utterance of that intent stays deleted) and
    labels of an entity deleted since are left out. Each of these is counted in the
    sentence; none of them fails the undo, which would otherwise keep failing on
    every retry."""
    with transaction.atomic():
        project = project_lock(project=project)
        undo = (
            LabelingUndo.objects.select_for_update()
            .filter(project=project, user_id=user.pk)
            .order_by("-id")
            .first()
        )
        if undo is None:
            raise InvalidArgument("Nothing to undo.", target="undo")
        with labels_audited(project=project, ids=_undo_ids(undo)):
            if undo.action == LabelingUndo.Action.DELETE:
                outcome = _restore_deleted(project, undo.payload["utterances"])
            elif undo.action == LabelingUndo.Action.EDIT:
                outcome = _restore_edited(project, undo.payload["utterances"])
            else:
                outcome = _restore_values(project, undo)
        undo.delete()
        project_touch(project=project)
    message = f"Undone: {undo.summary[0].lower()}{undo.summary[1:]}"
    notes = outcome.notes()
    if notes:
        message += f" ({'; '.join(notes)})"
    return message + "."


def _undo_ids(undo: LabelingUndo) -> list[int]:
    """The utterances an undo puts back."""
    if undo.action in (LabelingUndo.Action.DELETE, LabelingUndo.Action.EDIT):
        return [int(row["id"]) for row in undo.payload["utterances"]]
    return [int(pk) for pk, _ in undo.payload["previous"]]


@dataclass(slots=True)
class _UndoOutcome:
    gone: int = 0  # utterances deleted since (intent / dataset undo)
    intent_gone: int = 0  # utterances whose previous intent was deleted since
    labels_gone: int = 0  # spans whose entity was deleted since

    def notes(self) -> list[str]:
        notes = []
        if self.gone:
            notes.append(f"{_plural(self.gone)} could not be restored")
        if self.intent_gone:
            notes.append(
                f"{_plural(self.intent_gone)} could not be restored: its intent was "
                "deleted"
                if self.intent_gone == 1
                else f"{_plural(self.intent_gone)} could not be restored: their "
                "intents were deleted"
            )
        if self.labels_gone:
            plural = "s" if self.labels_gone != 1 else ""
            whose = "its entity was" if self.labels_gone == 1 else "their entities were"
            notes.append(
                f"{self.labels_gone:,} entity label{plural} could not be restored: "
                f"{whose} deleted"
            )
        return notes


def _restore_values(project: Project, undo: LabelingUndo) -> _UndoOutcome:
    """Undo an intent or dataset bulk action: previous values back, by value."""
    outcome = _UndoOutcome()
    previous_rows: list[list[Any]] = undo.payload["previous"]
    if undo.action == LabelingUndo.Action.INTENT:
        field = "intent_id"
        intents = set(project.intents.values_list("pk", flat=True))
        wanted = [row for row in previous_rows if row[1] in intents]
        outcome.intent_gone = len(previous_rows) - len(wanted)
    else:
        field = "dataset"
        wanted = previous_rows
    by_value: dict[Any, list[int]] = defaultdict(list)
    for pk, previous in wanted:
        by_value[previous].append(pk)
    restored = 0
    now = timezone.now()
    for previous, pks in by_value.items():
        for chunk in _chunks(pks):
            restored += project.utterances.filter(pk__in=chunk).update(
                **{field: previous}, updated_at=now, version=F("version") + 1
            )
    outcome.gone = len(wanted) - restored
    return outcome


def _restore_edited(project: Project, rows: list[dict[str, Any]]) -> _UndoOutcome:
    """Undo a single edit: the row's text, intent, dataset and labels as they were
    (an intent or entity deleted since cannot come back; the row keeps its intent,
    the label is left out)."""
    outcome = _UndoOutcome()
    intents = set(project.intents.values_list("pk", flat=True))
    entities = set(project.entities.values_list("pk", flat=True))
    now = timezone.now()
    for r in rows:
        fields: dict[str, Any] = {
            "text": r["text"],
            "language": r["language"],
            "dataset": r["dataset"],
        }
        if r["intent"] in intents:
            fields["intent_id"] = r["intent"]
        else:
            outcome.intent_gone += 1
        restored = project.utterances.filter(pk=r["id"]).update(
            **fields, updated_at=now, version=F("version") + 1
        )
        if not restored:
            outcome.gone += 1
            continue
        EntitySpan.objects.filter(utterance_id=r["id"]).delete()
        spans = [
            EntitySpan(utterance_id=r["id"], entity_id=e, offset=o, length=n)
            for e, o, n in r["spans"]
            if e in entities
        ]
        outcome.labels_gone += len(r["spans"]) - len(spans)
        EntitySpan.objects.bulk_create(spans)
    return outcome


def _restore_deleted(project: Project, rows: list[dict[str, Any]]) -> _UndoOutcome:
    outcome = _UndoOutcome()
    intents = set(project.intents.values_list("pk", flat=True))
    entities = set(project.entities.values_list("pk", flat=True))
    wanted = [r for r in rows if r["intent"] in intents]
    outcome.intent_gone = len(rows) - len(wanted)
    existing: set[int] = set()
    for chunk in _chunks([r["id"] for r in wanted]):
        existing.update(
            Utterance.objects.filter(pk__in=chunk).values_list("pk", flat=True)
        )
    outcome.gone = sum(1 for r in wanted if r["id"] in existing)
    wanted = [r for r in wanted if r["id"] not in existing]
    total = project.utterances.count() + len(wanted)
    if total > v.MAX_UTTERANCES_PER_PROJECT:
        raise InvalidArgument(
            f"Undo would bring the project to {total} utterances; the limit is "
            f"{v.MAX_UTTERANCES_PER_PROJECT}.",
            target="undo",
        )
    Utterance.objects.bulk_create(
        [
            Utterance(
                pk=r["id"],
                project=project,
                text=r["text"],
                intent_id=r["intent"],
                language=r["language"],
                dataset=r["dataset"],
                created_at=datetime.fromisoformat(r["created_at"]),
                updated_at=datetime.fromisoformat(r["updated_at"]),
                # Past the version it had: an edit made before the delete is stale.
                version=r.get("version", 1) + 1,
            )
            for r in wanted
        ],
        batch_size=CHUNK,
    )
    spans = [
        EntitySpan(utterance_id=r["id"], entity_id=e, offset=o, length=n)
        for r in wanted
        for e, o, n in r["spans"]
        if e in entities
    ]
    outcome.labels_gone = sum(len(r["spans"]) for r in wanted) - len(spans)
    EntitySpan.objects.bulk_create(spans, batch_size=CHUNK)
    return outcome
