"""Data-page uploads (``projects.services.uploads``): the cheap checks in the
request (size, shape, the utterance limit before any item, every problem by line in
one linear pass) and the job that adds the rows in short transactions, with
progress, cancel and rollback."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from jobs.services import JobCancelled
from projects import validators as v
from projects.formats import conversation as fmt
from projects.models import Entity, Intent, Project, Utterance
from projects.services import uploads
from projects.services.uploads import utterances_import
from studio.errors import InvalidArgument
from tests.factories import ProjectFactory, UtteranceFactory

pytestmark = pytest.mark.django_db


class ScanCountingText(str):
    """A str that adds up how many characters ``count`` was asked to scan."""

    scanned = 0

    def count(self, sub: Any, start: Any = None, end: Any = None) -> int:
        begin = 0 if start is None else start
        stop = len(self) if end is None else end
        ScanCountingText.scanned += max(0, stop - begin)
        return super().count(sub, begin, stop)


def lines_file(count: int, bad: int | None = None) -> str:
    """A JSON array with one utterance per line (line 1 is ``[``); item ``bad`` has
    an empty text."""
    items = [
        json.dumps({"text": "" if n == bad else f"utterance {n}", "intent": "Greet"})
        for n in range(count)
    ]
    return "[\n" + ",\n".join(items) + "\n]\n"


def test_item_lines_scans_a_50000_line_file_once() -> None:
    raw = ScanCountingText(lines_file(50_000))
    ScanCountingText.scanned = 0

    lines = uploads.item_lines(raw)

    assert lines[0] == 2 and lines[-1] == 50_001 and len(lines) == 50_000
    # The old error path counted newlines from the start for every item:
    # 50,000 items x ~1.2 MB on average. One pass scans the file once.
    assert ScanCountingText.scanned <= len(raw)


def test_one_bad_line_among_50000_is_named_by_its_line() -> None:
    project = ProjectFactory.create()

    with pytest.raises(InvalidArgument) as caught:
        uploads.utterances_upload_check(
            project=project, content=lines_file(50_000, bad=41_234).encode()
        )

    (detail,) = caught.value.details
    assert detail.target == "line 41236"
    assert detail.message.startswith("Line 41,236, text: Utterance text must not")
    assert "[41234]" not in caught.value.message
    assert not Utterance.objects.exists()


@pytest.mark.parametrize("via", ["upload", "api"])
def test_over_the_utterance_limit_is_refused_before_any_item_is_parsed(
    monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    project = ProjectFactory.create()
    none = project.intents.get()
    UtteranceFactory.create_batch(5, project=project, intent=none)
    monkeypatch.setattr(v, "MAX_UTTERANCES_PER_PROJECT", 10)
    parsed: list[int] = []
    real = fmt.parse_utterance

    def counting(*args: Any, **kwargs: Any) -> Any:
        parsed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fmt, "parse_utterance", counting)
    document = [{"text": f"hi {n}", "intent": "Greet"} for n in range(6)]

    with pytest.raises(InvalidArgument) as caught:
        if via == "upload":
            uploads.utterances_upload_check(
                project=project, content=json.dumps(document).encode()
            )
        else:
            utterances_import(project=project, document=document)

    assert "6 utterances" in caught.value.message
    assert "the limit is 10" in caught.value.message
    assert parsed == []
    assert project.utterances.count() == 5
    assert not Intent.objects.filter(name="Greet").exists()


def test_a_file_over_the_size_limit_is_refused_unparsed(settings: Any) -> None:
    settings.STUDIO_MAX_REQUEST_BYTES = 100
    project = ProjectFactory.create()
    content = json.dumps([{"text": "x" * 200, "intent": "Greet"}]).encode()

    with pytest.raises(InvalidArgument, match=r"limit is 0\.0 MB \(100 bytes\)"):
        uploads.utterances_upload_check(project=project, content=content)


def fixed_chunks(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    for name in ("UPLOAD_CHUNK_FIRST", "UPLOAD_CHUNK_MIN", "UPLOAD_CHUNK_MAX"):
        monkeypatch.setattr(uploads, name, size)


@pytest.mark.parametrize(
    ("size", "elapsed", "expected"),
    [
        (100, 0.05, 100),  # on target
        (100, 0.2, 25),  # too slow (or waited for the lock): smaller
        (100, 0.01, 500),  # fast: bigger
        (100, 5.0, 10),  # never below the minimum
        (800, 0.001, 1000),  # nor above the maximum
        (100, 0.0, 1000),  # a clock that did not move
    ],
)
def test_chunks_are_sized_to_hold_the_database_about_50_ms(
    size: int, elapsed: float, expected: int
) -> None:
    assert uploads.next_chunk_size(size=size, elapsed=elapsed) == expected


@pytest.mark.parametrize(
    ("held", "vendor", "expected"),
    [
        (0.02, "sqlite", 0.05),  # at least one retry interval of a waiting writer
        (0.08, "sqlite", 0.08),  # and as long as the chunk held the lock
        (0.08, "postgresql", 0.0),  # row locks: waiters queue, nobody polls
    ],
)
def test_the_pause_after_a_chunk_lets_sqlite_writers_in(
    held: float, vendor: str, expected: float
) -> None:
    assert uploads.chunk_pause_seconds(held=held, vendor=vendor) == expected


def test_the_job_leaves_the_database_to_others_between_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lock was taken again right after each commit: SQLite writers waiting
    for it sleep between retries, so they waited behind the whole upload (an
    analyst's save took 4.9 s during a 50,000-row upload)."""
    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(35)]
    events: list[str] = []
    # The test runs in a transaction of its own: count the blocks above it.
    outer = len(transaction.get_connection().atomic_blocks)

    def progress(percent: float) -> None:
        if percent == 5:  # the file is checked: before the first chunk
            return
        # Inside the chunk's transaction: no write of its own between chunks.
        assert len(transaction.get_connection().atomic_blocks) > outer
        events.append("chunk")

    def pause(seconds: float) -> None:
        assert len(transaction.get_connection().atomic_blocks) == outer
        # SQLite has one writer for the whole file: the job steps aside. PostgreSQL
        # locks rows, so the job goes straight on (chunk_pause_seconds).
        if transaction.get_connection().vendor == "sqlite":
            assert seconds >= uploads.UPLOAD_PAUSE_MIN_SECONDS
        else:
            assert seconds == 0
        events.append("pause")

    _apply(
        project,
        document,
        progress=progress,
        cancelled=lambda: False,
        pause=pause,
    )

    assert events == ["chunk", "pause"] * 3 + ["chunk"]
    assert project.utterances.count() == 35


def test_each_write_of_the_job_waits_its_turn_and_runs_at_normal_priority(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A niced job holding SQLite's lock while the cores were busy kept every
    labeling save waiting up to a second behind a 50 ms transaction; and a save
    whose busy handler slept through the pauses waited behind several. Each write
    transaction of the job (the labels, every chunk, the rollback's) now runs on
    the worker's normal-priority thread, after the writers that wait."""
    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(25)]
    events: list[str] = []

    def at_normal_priority(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        events.append(fn.__name__)
        return fn(*args, **kwargs)

    monkeypatch.setattr(uploads, "at_normal_priority", at_normal_priority)
    monkeypatch.setattr(uploads, "writers_wait", lambda c: events.append("turn"))

    _apply(project, document, progress=lambda p: None, cancelled=lambda: False)
    assert events == ["_labels_create"] + ["turn", "_chunk_insert"] * 3

    events.clear()
    uploads.upload_rollback(
        journal={"projectId": project.pk, "chunks": [[0, 10**9]], "intents": []}
    )
    assert events == ["turn", "_rows_delete", "_labels_delete"]
    assert project.utterances.count() == 0


def _apply(
    project: Project, document: list[dict[str, Any]], **kwargs: Any
) -> dict[str, Any]:
    return uploads.utterances_upload_apply(
        project=project, content=json.dumps(document).encode(), **kwargs
    )


def test_the_job_adds_in_chunks_and_reports_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    document = [
        {
            "text": f"fly to Oslo {n}",
            "intent": "Travel",
            "entities": [{"category": "City", "offset": 7, "length": 4}],
        }
        for n in range(35)
    ]
    seen: list[float] = []
    journals: list[dict[str, Any]] = []

    def note(journal: dict[str, Any]) -> None:
        # Inside the write transaction: the rows of the last range are there.
        low, high = journal["chunks"][-1] if journal["chunks"] else (0, 0)
        journals.append(
            {
                **journal,
                "visible": Utterance.objects.filter(pk__gte=low, pk__lte=high).count(),
            }
        )

    report = _apply(
        project, document, progress=seen.append, cancelled=lambda: False, note=note
    )

    labels, *chunks = journals
    assert labels["chunks"] == [] and len(labels["intents"]) == 1
    assert [j["visible"] for j in chunks] == [10, 10, 10, 5]
    assert [high - low + 1 for low, high in chunks[-1]["chunks"]] == [10, 10, 10, 5]
    assert seen[0] == 5 and seen[-1] == 100 and seen == sorted(seen)
    assert report["added"] == 35
    assert report["newIntents"] == ["Travel"] and report["newEntities"] == ["City"]
    assert report["rows"][0]["text"] == "fly to Oslo 0"
    assert project.utterances.count() == 35
    assert Entity.objects.get(project=project, name="City").spans.count() == 35


def test_a_cancel_between_chunks_removes_everything_the_upload_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    none = project.intents.get()
    UtteranceFactory.create(project=project, intent=none, text="kept")
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(35)]
    checks: list[int] = []

    def cancel_after_two_chunks() -> bool:
        checks.append(project.utterances.count())
        return len(checks) > 2

    with pytest.raises(JobCancelled):
        _apply(
            project,
            document,
            progress=lambda p: None,
            cancelled=cancel_after_two_chunks,
        )

    assert checks == [1, 11, 21]  # two chunks were committed before the cancel
    assert list(project.utterances.values_list("text", flat=True)) == ["kept"]
    assert not Intent.objects.filter(name="Greet").exists()


def test_a_failure_between_chunks_removes_what_was_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An intent the file needs, deleted by someone while the job runs: the job
    fails with the reason, and its earlier chunks go again."""
    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    Intent.objects.create(project=project, name="Greet")
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(25)]
    calls: list[int] = []

    def delete_intent_after_first_chunk() -> bool:
        calls.append(1)
        if len(calls) == 2:
            Intent.objects.filter(project=project, name="Greet").delete()
        return False

    with pytest.raises(InvalidArgument, match="Greet was deleted while the upload"):
        _apply(
            project,
            document,
            progress=lambda p: None,
            cancelled=delete_intent_after_first_chunk,
        )

    assert project.utterances.count() == 0


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the worker gets to handle it."""


def test_an_upload_whose_worker_died_is_undone_by_the_sweep(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """The job row keeps, with each chunk, what the upload added; a worker killed
    mid-way cannot roll back, so the sweep that fails its job undoes it."""
    from django.contrib.auth import get_user_model

    from jobs.models import Job
    from tests.test_worker import make_monitor

    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    user = get_user_model().objects.create_user("uploader")
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(35)]
    checks: list[int] = []

    def die_after_two_chunks() -> bool:
        checks.append(1)
        if len(checks) == 3:
            # What a killed process leaves: the job still "running", no rollback.
            monkeypatch.setattr(uploads, "upload_rollback", lambda **kw: 0)
            raise WorkerKilled
        return False

    monkeypatch.setattr(
        "jobs.services.JobContext.cancel_requested",
        lambda self: die_after_two_chunks(),
    )
    with (
        pytest.raises(WorkerKilled),
        django_capture_on_commit_callbacks(execute=True),
    ):
        uploads.utterances_upload_start(
            project=project, user=user, content=json.dumps(document).encode()
        )
    job = Job.objects.get(kind="utterances_upload")
    assert job.status == "running"
    assert project.utterances.count() == 20
    assert len(job.result["journal"]["chunks"]) == 2
    Job.objects.filter(pk=job.pk).update(heartbeat_at=job.created_at)
    monkeypatch.undo()  # a new worker process: the real code again

    make_monitor(job_stale_after=timedelta(seconds=0)).sweep()

    job.refresh_from_db()
    assert job.status == "failed" and job.result == {}
    assert project.utterances.count() == 0
    assert not Intent.objects.filter(name="Greet").exists()


def _counting_chunks(
    monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None
) -> list[int]:
    """Wrap the job's one-transaction insert: the sizes it was called with (and,
    with ``fail_at``, a failure in that call, after the earlier ones committed)."""
    sizes: list[int] = []
    real = uploads._chunk_insert

    def chunk_insert(project: Project, chunk: list[Any], *args: Any) -> Any:
        sizes.append(len(chunk))
        if len(sizes) == fail_at:
            raise InvalidArgument("The disk is full.", target="file")
        return real(project, chunk, *args)

    monkeypatch.setattr(uploads, "_chunk_insert", chunk_insert)
    return sizes


def test_the_api_import_adds_in_short_transactions_under_a_job_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``utterances:import`` inserted everything in one transaction: SQLite's lock
    held for as long as 50,000 rows took, every other writer waiting."""
    from jobs.models import Job

    fixed_chunks(monkeypatch, 10)
    sizes = _counting_chunks(monkeypatch)
    project = ProjectFactory.create()
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(35)]

    assert utterances_import(project=project, document=document) == 35

    assert sizes == [10, 10, 10, 5]
    assert project.utterances.count() == 35
    job = Job.objects.get(kind="utterances_upload")
    assert (job.status, job.queue, job.result["added"]) == ("succeeded", "", 35)


def test_a_failed_api_import_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.models import Job

    fixed_chunks(monkeypatch, 10)
    sizes = _counting_chunks(monkeypatch, fail_at=3)
    project = ProjectFactory.create()
    none = project.intents.get()
    UtteranceFactory.create(project=project, intent=none, text="kept")
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(35)]

    with pytest.raises(InvalidArgument, match="disk is full"):
        utterances_import(project=project, document=document)

    assert sizes == [10, 10, 10]  # two chunks had committed
    assert list(project.utterances.values_list("text", flat=True)) == ["kept"]
    assert not Intent.objects.filter(name="Greet").exists()
    assert Job.objects.get(kind="utterances_upload").status == "failed"


def test_an_api_import_whose_process_died_is_undone_by_the_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs.models import Job
    from tests.test_worker import make_monitor

    fixed_chunks(monkeypatch, 10)
    project = ProjectFactory.create()
    document = [{"text": f"hello {n}", "intent": "Greet"} for n in range(35)]
    real = uploads._chunk_insert
    calls: list[int] = []

    def killed_at_third(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            # A killed web process: no rollback, the job row stays "running".
            monkeypatch.setattr(uploads, "upload_rollback", lambda **kw: 0)
            monkeypatch.setattr("jobs.services._finish", lambda *a, **k: None)
            raise WorkerKilled
        return real(*args)

    monkeypatch.setattr(uploads, "_chunk_insert", killed_at_third)
    with pytest.raises(WorkerKilled):
        utterances_import(project=project, document=document)
    job = Job.objects.get(kind="utterances_upload")
    assert job.status == "running" and project.utterances.count() == 20
    Job.objects.filter(pk=job.pk).update(heartbeat_at=job.created_at)
    monkeypatch.undo()

    make_monitor(job_stale_after=timedelta(seconds=0)).sweep()

    job.refresh_from_db()
    assert job.status == "failed"
    assert project.utterances.count() == 0
    assert not Intent.objects.filter(name="Greet").exists()
