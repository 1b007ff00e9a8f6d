"""Data-page uploads: checked in the request, applied by a job in small transactions.

A file of 50,000 utterances used to be parsed and inserted inside the web request,
in one transaction holding SQLite's database-wide write lock for as long as it took
(and its error path mapped items to lines in quadratic time): every other writer,
prediction log and worker heartbeat waited. Now:

* ``utterances_upload_check`` (in the request, seconds): the one size limit
  (``validators.max_upload_bytes``), UTF-8, JSON, the array shape, then the
  utterance count against ``MAX_UTTERANCES_PER_PROJECT`` *before* any item is looked
  at, then every item in one linear pass (each problem named by the line its item
  starts on, in words, never a JSON path), then the intent and entity limits.
  Nothing is written.
* ``utterances_upload_start`` stages the file and queues a ``utterances_upload``
  job (one at a time per project, exclusive with imports and deletion).
* ``utterances_upload_apply`` (the job) checks again (the project may have changed),
  creates the new intents and entities, then inserts the utterances in chunks, one
  transaction each, sized so that each holds the lock about
  ``UPLOAD_TRANSACTION_SECONDS`` (``next_chunk_size``, from the time the last one
  held it), reporting progress and checking for a cancel between chunks. On
  SQLite the job then leaves the database alone for a while
  (``chunk_pause_seconds``): a writer that waits for SQLite's lock does not queue,
  it sleeps and retries (the busy handler, every 25-100 ms), so a job that starts
  its next transaction right after a commit takes the lock again before any waiter
  wakes - the analysts' saves waited seconds behind a 50,000-row upload that way.
  Before each transaction the job also steps aside while any other writer waits
  for the lock (``studio.sqlite_writers.writers_wait``), and each runs on the
  task process's normal-priority thread (``studio.cpu.at_normal_priority``): the
  worker is niced, and a niced job holding the lock while the cores were busy
  kept saves waiting up to a second behind a 50 ms transaction.
  Predictions, labeling and heartbeats of everyone else go on in between. A
  cancel or a failure removes what the job had added (its rows by id range, then
  the intents and entities it created that nothing uses), so the upload is all or
  nothing for its user. Each write
  transaction also records that on the job row (its journal), so when a worker is
  killed mid-way, the sweep that fails its job undoes the chunks it had committed
  (``uploads_undo_stopped``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services import (
    JobCancelled,
    JobContext,
    job_create,
    job_run_in_request,
)
from projects import validators as v
from projects.formats import conversation as fmt
from projects.models import Entity, Intent, Project, Utterance
from projects.selectors import labeling as sl
from projects.services._common import project_lock, project_touch, require_kind
from projects.services.jobs import project_job_guard, staged_document_save
from projects.services.projects import (
    index_type_parse,
    utterances_count_check,
    utterances_insert,
    utterances_new_labels,
    utterances_parse,
)
from studio.audit import audit_record
from studio.cpu import at_normal_priority
from studio.errors import ErrorDetail, InvalidArgument, InvalidRequest
from studio.inputs import json_loads, text_decode
from studio.sqlite_writers import writers_wait
from studio.vocabulary import CLU_KINDS

# How long one write transaction of the job may hold the database (SQLite locks all
# of it): chunk sizes adapt to the measured time of the previous chunk, between the
# bounds below (building and inserting 500 rows took 0.1-0.5 s on a loaded 2-core
# machine, mostly Django's Python; a fixed size cannot fit every machine).
UPLOAD_TRANSACTION_SECONDS = 0.05
UPLOAD_CHUNK_FIRST = 100
UPLOAD_CHUNK_MIN = 10
UPLOAD_CHUNK_MAX = 1000
# The pause after each chunk on SQLite: as long as the chunk held the lock, and
# never shorter than this, so that writers whose busy handler sleeps between its
# retries (1, 2, 5, 10, 15, 20, 25, 25, 25, 50 ms ... while they wait) wake while the
# lock is free. The upload then holds the database at most half of the time.
UPLOAD_PAUSE_MIN_SECONDS = 0.05
# Rows of the result the report lists (the job row is read on every poll).
REPORT_ROWS = 50

# What may separate two items of a JSON array (always matches, maybe empty).
_BETWEEN_ITEMS = re.compile(r"[ \t\r\n,]*")
# Called inside each write transaction of the job with what it has added so far.
Journal = Callable[[dict[str, Any]], None]
_ITEM_PATH = re.compile(r"^\[(\d+)\](.*)$")
_ENTITY_PATH = re.compile(r"^\.entities\[(\d+)\]")
_FIELDS = {
    ".text": "text",
    ".intent": "intent",
    ".language": "language",
    ".dataset": "dataset",
    ".entities": "entity labels",
}


@dataclass(frozen=True, slots=True)
class UploadPlan:
    """A file that passed every check: its items, parsed (offsets in code points),
    and the intents and entities adding them would create."""

    parsed: list[fmt.UtteranceData]
    new_intents: list[str]
    new_entities: list[str]


# ---------------------------------------------------------------- checks


def item_lines(raw: str) -> list[int]:
    """The line on which each element of the top-level JSON array ``raw`` starts
    (1-based). One pass: newlines are counted only between consecutive items, so
    every character is scanned once whatever the number of items."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    index = raw.index("[") + 1
    line = raw.count("\n", 0, index) + 1
    counted = index
    length = len(raw)
    while index < length:
        index = _BETWEEN_ITEMS.match(raw, index).end()  # type: ignore[union-attr]
        if index >= length or raw[index] == "]":
            break
        line += raw.count("\n", counted, index)
        counted = index
        lines.append(line)
        _, index = decoder.raw_decode(raw, index)
    return lines


def _plain(detail: ErrorDetail, lines: list[int]) -> ErrorDetail:
    """An item's problem as the studio shows it: ``Line 14, entity label 1: ...``
    (the line its item starts on and the part in words), target ``line 14``."""
    match = _ITEM_PATH.match(detail.target or "")
    if match is None:
        return detail
    item, rest = int(match.group(1)), match.group(2)
    if item < len(lines):
        where, target = f"Line {lines[item]:,}", f"line {lines[item]}"
    else:
        where, target = f"Utterance {item + 1:,}", f"utterance {item + 1}"
    if (entity := _ENTITY_PATH.match(rest)) is not None:
        where += f", entity label {int(entity.group(1)) + 1}"
    elif rest in _FIELDS:
        where += f", {_FIELDS[rest]}"
    message = detail.message
    if detail.target and message.startswith(detail.target):
        # The format's "[3] must be an object." names the item by its path.
        message = "It" + message[len(detail.target) :]
    return ErrorDetail(detail.code, f"{where}: {message}", target, detail.inner_code)


def _parse_by_line(
    project: Project, document: list[Any], raw: str, string_index_type: str
) -> list[fmt.UtteranceData]:
    """Every item in one pass; problems (the collector keeps the first 100) named
    by line."""
    try:
        return utterances_parse(
            project=project,
            items=document,
            index_type=index_type_parse(string_index_type),
            what="utterance file",
        )
    except InvalidArgument as exc:
        try:
            lines = item_lines(raw)
        except (ValueError, IndexError):
            lines = []
        details = [_plain(d, lines) for d in exc.details]
        count = len(details)
        raise InvalidArgument(
            f"{count}{'+' if count >= 100 else ''} problem"
            f"{'s' if count != 1 else ''} in the file; nothing was added. "
            f"{details[0].message}",
            target=details[0].target,
            details=details,
        ) from None


def _document(content: bytes) -> tuple[list[Any], str]:
    """The file as JSON, by the studio's input rules (``studio.inputs``: UTF-8, no
    NUL or lone surrogate, not absurdly deep, strict JSON); a syntax error is
    reported by its line."""
    if (problem := v.size_error(len(content))) is not None:
        raise InvalidArgument(problem, target="file")
    raw = text_decode(content, what="The file", target="file")
    try:
        document = json_loads(raw, what="The file", target="file")
    except InvalidRequest:
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(
                f"Line {exc.lineno}: the file is not valid JSON ({exc.msg}, column "
                f"{exc.colno}).",
                target=f"line {exc.lineno}",
            ) from None
        except RecursionError:
            pass
        raise  # too deep, a bad character, NaN: said by json_loads
    if not isinstance(document, list) or not document:
        raise InvalidArgument(
            "The file must be a JSON array of utterances "
            '([{"text": ..., "intent": ..., "entities": [...]}, ...]).',
            target="file",
        )
    return document, raw


def upload_plan(*, project: Project, parsed: list[fmt.UtteranceData]) -> UploadPlan:
    """The plan for utterances that passed every check."""
    new_intents, new_entities = utterances_new_labels(
        parsed=parsed,
        intent_ids=dict(project.intents.values_list("name", "pk")),
        entity_ids=dict(project.entities.values_list("name", "pk")),
    )
    return UploadPlan(parsed=parsed, new_intents=new_intents, new_entities=new_entities)


def utterances_upload_check(
    *, project: Project, content: bytes, string_index_type: str = "Utf16CodeUnit"
) -> UploadPlan:
    """Everything that can be said about an upload without writing, cheapest
    first; raises ``InvalidArgument`` with every problem (by line)."""
    require_kind(project=project, kinds=CLU_KINDS, action="an utterance upload")
    index_type_parse(string_index_type)
    document, raw = _document(content)
    # Before any item is looked at: a file over the limit is refused at once.
    utterances_count_check(project=project, adding=len(document))
    parsed = _parse_by_line(project, document, raw, string_index_type)
    return upload_plan(project=project, parsed=parsed)


def utterances_upload_start(
    *,
    project: Project,
    user: AbstractBaseUser,
    content: bytes,
    string_index_type: str = "Utf16CodeUnit",
) -> Job:
    """Check the file (errors come back now, by line), stage it and queue the job
    that adds its utterances (on the long queue when the staged file is big:
    ``jobs.queues.job_queue``, by the size ``job_create`` reads)."""
    plan = utterances_upload_check(
        project=project, content=content, string_index_type=string_index_type
    )
    project_job_guard(project_name=project.name, actor=user)
    staged = staged_document_save(content=content, file_format="json")
    try:
        return job_create(
            kind=Job.Kind.UTTERANCES_UPLOAD,
            project_name=project.name,
            project=project,
            params={
                "file": staged,
                "stringIndexType": string_index_type,
                "owner_id": user.pk,
                "utterances": len(plan.parsed),
            },
        )
    except BaseException:
        default_storage.delete(staged)
        raise


# ---------------------------------------------------------------- the job


def _no_journal(journal: dict[str, Any]) -> None:
    """The default journal: nowhere (the in-process rollback still works)."""


def _labels_create(
    project: Project, plan: UploadPlan, journal: dict[str, Any], note: Journal
) -> None:
    """The new intents and entities, in their own short transaction (limits
    re-checked under the lock); their ids go in the journal."""
    with transaction.atomic():
        project = project_lock(project=project)
        utterances_count_check(project=project, adding=len(plan.parsed))
        new_intents, new_entities = utterances_new_labels(
            parsed=plan.parsed,
            intent_ids=dict(project.intents.values_list("name", "pk")),
            entity_ids=dict(project.entities.values_list("name", "pk")),
        )
        intents = Intent.objects.bulk_create(
            [Intent(project=project, name=n) for n in new_intents]
        )
        entities = Entity.objects.bulk_create(
            [Entity(project=project, name=n) for n in new_entities]
        )
        written = {
            **journal,
            "intents": [i.pk for i in intents],
            "entities": [e.pk for e in entities],
        }
        note(written)
        project_touch(project=project)
    journal.update(written)


def _chunk_insert(
    project: Project,
    chunk: list[fmt.UtteranceData],
    journal: dict[str, Any],
    note: Journal,
    progress: Callable[[float], None],
    percent: float,
) -> tuple[list[int], float]:
    """One short transaction: the limit and the labels the chunk needs are checked
    again under the project lock (another user may have added rows or deleted an
    intent since the last chunk), then the rows go in and the journal records their
    id range. (Writers of one project queue on its lock, so no other row of the
    project can fall inside that range.) The job's progress moves to ``percent``
    in the same transaction (one write less). Returns the new ids and how long the
    transaction held the database (from its first statement to its commit, the
    wait for the lock excluded)."""
    with transaction.atomic():
        held_from = time.monotonic()
        project = project_lock(project=project)
        utterances_count_check(project=project, adding=len(chunk))
        intent_ids = dict(project.intents.values_list("name", "pk"))
        entity_ids = dict(project.entities.values_list("name", "pk"))
        gone = sorted(
            {u.intent for u in chunk if u.intent not in intent_ids}
            | {
                s.category
                for u in chunk
                for s in u.spans
                if s.category not in entity_ids
            }
        )
        if gone:
            raise InvalidArgument(
                f"{', '.join(gone)} was deleted while the upload ran; nothing was "
                "added. Upload the file again.",
                target="file",
            )
        rows = utterances_insert(
            project=project, items=chunk, intent_ids=intent_ids, entity_ids=entity_ids
        )
        ids = [r.pk for r in rows]
        written = {**journal, "chunks": [*journal["chunks"], [min(ids), max(ids)]]}
        note(written)
        project_touch(project=project)
        progress(percent)
    held = time.monotonic() - held_from
    journal.update(written)
    return ids, held


def next_chunk_size(*, size: int, elapsed: float) -> int:
    """The next chunk's size: scaled so that it holds the database
    ``UPLOAD_TRANSACTION_SECONDS`` at the speed the last chunk of ``size`` rows
    showed (it held it ``elapsed`` seconds; a loaded machine gets smaller chunks)."""
    wanted = size * UPLOAD_TRANSACTION_SECONDS / max(elapsed, 1e-4)
    return max(UPLOAD_CHUNK_MIN, min(UPLOAD_CHUNK_MAX, int(wanted)))


def chunk_pause_seconds(*, held: float, vendor: str) -> float:
    """How long the job leaves the database to others after a chunk that held it
    ``held`` seconds (see the module doc). Only SQLite needs it: there one writer
    locks the whole database and waiting writers poll; PostgreSQL queues waiters
    on row locks, and the upload's rows are its own."""
    if vendor != "sqlite":
        return 0.0
    return max(UPLOAD_PAUSE_MIN_SECONDS, held)


def upload_rollback(*, journal: dict[str, Any]) -> int:
    """Remove what an upload's journal says it added, in short transactions: its
    rows by id range (spans follow by cascade), then the intents and entities it
    created that nothing uses by now. Idempotent; returns the rows removed."""
    project_id = journal.get("projectId")
    project = (
        Project.objects.filter(pk=project_id).first()
        if isinstance(project_id, int)
        else None
    )
    if project is None:  # deleted meanwhile: nothing of it is left anyway
        return 0
    removed = 0
    for low, high in journal.get("chunks", []):
        writers_wait(connection)
        removed += at_normal_priority(_rows_delete, project, low, high)
    at_normal_priority(_labels_delete, project, journal)
    return removed


def _rows_delete(project: Project, low: int, high: int) -> int:
    """One rollback transaction: the project's rows of ids ``low`` to ``high``."""
    with transaction.atomic():
        rows = project.utterances.filter(pk__gte=low, pk__lte=high)
        _, per_model = rows.delete()
    return per_model.get(Utterance._meta.label, 0)


def _labels_delete(project: Project, journal: dict[str, Any]) -> None:
    """The rollback's last transaction: the intents and entities the upload
    created that nothing uses by now."""
    with transaction.atomic():
        project = project_lock(project=project)
        Intent.objects.filter(
            pk__in=journal.get("intents", []), utterances__isnull=True
        ).delete()
        Entity.objects.filter(
            pk__in=journal.get("entities", []), spans__isnull=True
        ).delete()
        project_touch(project=project)


def utterances_upload_apply(
    *,
    project: Project,
    content: bytes,
    string_index_type: str = "Utf16CodeUnit",
    progress: Callable[[float], None],
    cancelled: Callable[[], bool],
    note: Journal = _no_journal,
    pause: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Add the file's utterances in chunks (see the module doc); returns the job's
    report: ``added``, ``newIntents``, ``newEntities`` and the first rows.

    ``note(journal)`` is called inside every write transaction with what the upload
    has added so far (``projectId``, ``intents``, ``entities``, ``chunks`` as id
    ranges), so the job row can keep it atomically with the rows: should the worker
    die mid-way, the sweep undoes it (``uploads_undo_stopped``). ``note`` may raise
    to refuse the write (the job was failed meanwhile). ``pause(seconds)`` is how
    the job waits between chunks (``chunk_pause_seconds``). A cancel or an error
    undoes the upload here, then re-raises (``JobCancelled`` for a cancel)."""
    plan = utterances_upload_check(
        project=project, content=content, string_index_type=string_index_type
    )
    progress(5)
    return upload_plan_apply(
        project=project,
        plan=plan,
        progress=progress,
        cancelled=cancelled,
        note=note,
        pause=pause,
    )


def upload_plan_apply(
    *,
    project: Project,
    plan: UploadPlan,
    progress: Callable[[float], None],
    cancelled: Callable[[], bool],
    note: Journal = _no_journal,
    pause: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The writing half of ``utterances_upload_apply``, for a plan already
    checked (progress from 5 to 100 %)."""
    journal: dict[str, Any] = {
        "projectId": project.pk,
        "intents": [],
        "entities": [],
        "chunks": [],
    }
    added: list[int] = []
    try:
        at_normal_priority(_labels_create, project, plan, journal, note)
        total = len(plan.parsed)
        size = UPLOAD_CHUNK_FIRST
        while len(added) < total:
            if cancelled():
                raise JobCancelled
            chunk = plan.parsed[len(added) : len(added) + size]
            writers_wait(connection)
            percent = 5 + 95 * (len(added) + len(chunk)) / total
            ids, held = at_normal_priority(
                _chunk_insert, project, chunk, journal, note, progress, percent
            )
            added.extend(ids)
            size = next_chunk_size(size=len(chunk), elapsed=held)
            if len(added) < total:
                pause(chunk_pause_seconds(held=held, vendor=connection.vendor))
    except BaseException:
        upload_rollback(journal=journal)
        raise
    # The added rows that repeat a text of the project (or of the file): the panel
    # warns and links to the Data page's filter.
    dupes = sl.duplicate_ids(project=Project.objects.get(pk=project.pk))
    new_ids = set(added)
    return {
        "conflicting": len(new_ids & dupes.conflicts),
        "duplicated": len(new_ids & (dupes.all - dupes.conflicts)),
        "added": len(added),
        "newIntents": plan.new_intents,
        "newEntities": plan.new_entities,
        "rows": [
            {"id": pk, "text": u.text, "intent": u.intent, "dataset": u.dataset}
            for pk, u in zip(added[:REPORT_ROWS], plan.parsed, strict=False)
        ],
    }


def upload_journal_write(*, job: Job, journal: dict[str, Any]) -> None:
    """Keep what the upload added on its job row, in the transaction that added it;
    a job no longer running (failed by the sweeper) may write nothing more. The
    row's heartbeat moves too (each chunk is short, so this is often enough)."""
    running = (Job.Status.RUNNING, Job.Status.CANCELLING)
    if not Job.objects.filter(pk=job.pk, status__in=running).update(
        result={"journal": journal}, heartbeat_at=timezone.now()
    ):
        raise JobCancelled


def utterances_import_in_request(
    *, project: Project, parsed: list[fmt.UtteranceData]
) -> int:
    """Add utterances that passed every check, now, as the upload job does: in
    short transactions with pauses between them (see the module doc), under a job
    row that journals them (``jobs.services.job_run_in_request``). All or
    nothing for the caller: a failure undoes the chunks already committed, and if
    this process dies mid-way the workers' sweep does. Returns how many were
    added."""
    plan = upload_plan(project=project, parsed=parsed)

    def operation(context: JobContext) -> dict[str, Any]:
        return upload_plan_apply(
            project=project,
            plan=plan,
            progress=context.progress,
            cancelled=context.cancel_requested,
            note=lambda journal: upload_journal_write(job=context.job, journal=journal),
        )

    report = job_run_in_request(
        kind=Job.Kind.UTTERANCES_UPLOAD,
        project=project,
        operation=operation,
        params={"utterances": len(parsed), "source": "utterances:import"},
    )
    with transaction.atomic():
        audit_record(
            action="utterances.import",
            project=project,
            target=f"project {project.name}",
            after={
                "utterances": report["added"],
                "newIntents": sorted(plan.new_intents),
                "newEntities": sorted(plan.new_entities),
            },
        )
    return int(report["added"])


def utterances_import(
    *,
    project: Project,
    document: list[dict[str, Any]],
    string_index_type: str = "Utf16CodeUnit",
) -> int:
    """Add a flat list of utterances (``clu_utterances.json``: ``[{"text", "intent",
    "language"?, "dataset"?, "entities": [...]}]``) to an existing project.

    Intents and entities that the project lacks are created (entities as learned
    components), as Language Studio does when utterances are uploaded. Every item
    is checked before anything is written (the utterance limit before any item is
    parsed, so an oversized list is refused at once); then the rows go in short
    transactions like a Data-page upload's, so a big list does not hold SQLite's
    lock for seconds, and all or nothing still (``utterances_import_in_request``).
    Returns the number of utterances added.
    """
    require_kind(project=project, kinds=CLU_KINDS, action="an utterance import")
    index_type = index_type_parse(string_index_type)
    if not isinstance(document, list):
        raise InvalidArgument(
            "The utterance file must be a JSON array of utterances.", target=""
        )
    utterances_count_check(project=project, adding=len(document))
    parsed = utterances_parse(
        project=project,
        items=document,
        index_type=index_type,
        what="utterance file",
    )
    return utterances_import_in_request(project=project, parsed=parsed)


def uploads_undo_stopped() -> int:
    """The workers' sweep: undo the uploads that ended without finishing (a worker
    killed mid-way, failed by ``jobs_fail_stale``; or a rollback interrupted),
    from the journal their job row kept, then clear it. Returns how many."""
    stopped = Job.objects.filter(
        kind=Job.Kind.UTTERANCES_UPLOAD,
        status__in=[Job.Status.FAILED, Job.Status.CANCELLED],
        result__has_key="journal",
    )
    undone = 0
    for pk, result in stopped.values_list("pk", "result"):
        upload_rollback(journal=result["journal"])
        Job.objects.filter(pk=pk).update(result={})
        undone += 1
    return undone
