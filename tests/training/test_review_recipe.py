"""What the review queue stores with each log (``text_key``, ``base_score``) is
pinned to a numbered recipe (``training.engine.review.RECIPE``): changing what
``review_key`` or ``review_base_score`` give (``normalize``, the digest, the teach
score) without a new number and a migration refilling the open logs would leave
stored keys and scores silently stale. Also: the refill's transactions and bounds
(``training.services.review_recipe``), and the recipe migrations forwards, resumed
after an interruption, and backwards (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, migrations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from projects.models import Project
from tests.factories import ProjectFactory
from training import models as training_models
from training.engine import review as rv
from training.models import PredictionLog, review_key, review_recipe_fingerprint
from training.services import review as svc
from training.services import review_recipe as recipe_svc

SCHEMA = ("training", "0017_review_recipe")


def recipe_migrations() -> dict[int, tuple[str, ModuleType]]:
    """The migrations in the graph that bring the open logs to a recipe, by it."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found: dict[int, tuple[str, ModuleType]] = {}
    for app, name in loader.graph.nodes:
        if app != "training":
            continue
        module = importlib.import_module(f"training.migrations.{name}")
        if hasattr(module, "REVIEW_RECIPE"):
            assert module.REVIEW_RECIPE not in found, "one migration per recipe"
            found[module.REVIEW_RECIPE] = (name, module)
    return found


def refills(module: ModuleType) -> list[migrations.RunPython]:
    return [
        op for op in module.Migration.operations if isinstance(op, migrations.RunPython)
    ]


def test_the_current_recipe_has_a_migration_declaring_its_fingerprint() -> None:
    """Changing ``review_key`` or ``review_base_score`` (what they give on the
    probes) under the same recipe number fails here: bump ``rv.RECIPE`` and add a
    migration like ``0018_review_recipe_refill`` declaring the new fingerprint."""
    found = recipe_migrations()
    assert rv.RECIPE in found, f"no migration in the graph for recipe {rv.RECIPE}"
    name, module = found[rv.RECIPE]
    assert review_recipe_fingerprint() == module.REVIEW_FINGERPRINT, (
        f"review_key or review_base_score changed under recipe {rv.RECIPE} "
        f"(declared in {name}): bump training.engine.review.RECIPE and add a "
        "migration refilling the open logs with the new fingerprint"
    )
    assert module.Migration.atomic is False  # batches commit on their own
    operations = refills(module)
    assert operations, f"{name} runs no refill"
    assert all(op.reversible for op in operations)
    assert all(
        not isinstance(op, migrations.AddField | migrations.AddIndex)
        for op in module.Migration.operations
    ), "schema changes belong in an atomic migration of their own"


def blake8(query: str) -> str:
    key = rv.normalize(query) or query
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def without_fallback(query: str) -> str:
    return hashlib.blake2b(rv.normalize(query).encode(), digest_size=16).hexdigest()


def doubled(log: Any) -> float:
    return 2 * rv.teach_score(rv.signals(log.prediction))


@pytest.mark.parametrize(
    ("target", "name", "value"),
    [
        (training_models, "review_key", blake8),  # the digest's size
        (training_models, "review_key", without_fallback),  # `or query`
        (training_models, "review_base_score", doubled),
        (rv, "normalize", str.lower),
        (rv, "RANKING", rv.Ranking(margin="ratio")),
        (rv, "W_NONE", rv.W_NONE + 0.01),
    ],
)
def test_the_fingerprint_moves_with_what_computes_the_stored_values(
    monkeypatch: pytest.MonkeyPatch, target: ModuleType, name: str, value: Any
) -> None:
    pinned = review_recipe_fingerprint()
    monkeypatch.setattr(target, name, value)
    assert review_recipe_fingerprint() != pinned


def run_refills(module: ModuleType) -> None:
    """The migration's refill on the current models (as ``migrate`` runs it)."""
    for operation in refills(module):
        code: Any = operation.code
        code(apps, None)


# -- the refill -------------------------------------------------------------


def prediction(top: str, confidence: float, second: float) -> dict[str, Any]:
    return {
        "topIntent": top,
        "intents": [
            {"category": top, "confidenceScore": confidence},
            {"category": "Other", "confidenceScore": second},
        ],
    }


def log(project: Project, query: str, **extra: Any) -> int:
    pred = extra.pop("pred", prediction("Book", 0.5, 0.4))
    return PredictionLog.objects.create(
        project=project,
        deployment_name="production",
        model_id="m1",
        query=query,
        top_intent=pred["topIntent"],
        confidence=pred["intents"][0]["confidenceScore"],
        prediction=pred,
        **extra,
    ).pk


def stale(**where: Any) -> None:
    """As rows of code older than the keys (database defaults)."""
    PredictionLog.objects.filter(**where).update(
        text_key="", base_score=0.0, review_recipe=0
    )


def current(pk: int) -> bool:
    row = PredictionLog.objects.get(pk=pk)
    return (row.text_key, row.review_recipe) == (review_key(row.query), rv.RECIPE)


@pytest.mark.django_db
def test_the_current_recipe_migration_refills_open_logs_of_older_recipes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, module = recipe_migrations()[rv.RECIPE]
    project = ProjectFactory.create()
    open_ids = [log(project, f"Query  {n}!") for n in range(5)]
    expected = sorted(PredictionLog.objects.values_list("text_key", "base_score"))
    reviewed = log(project, "already reviewed", review_status="accepted")
    stale()
    if rv.RECIPE > 1:  # keyed by the previous recipe: wrong now
        PredictionLog.objects.filter(pk__in=open_ids[:2]).update(
            text_key="stale", base_score=0.5, review_recipe=rv.RECIPE - 1
        )
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_BATCH", 2)
    run_refills(module)
    rows = PredictionLog.objects.filter(pk__in=open_ids)
    assert sorted(rows.values_list("text_key", "base_score")) == expected
    assert set(rows.values_list("review_recipe", flat=True)) == {rv.RECIPE}
    # Reviewed logs are never grouped again: left as they were.
    assert PredictionLog.objects.get(pk=reviewed).review_recipe == 0


@pytest.mark.django_db
def test_recipe_1_stamps_the_keys_0016_stored_and_fills_only_missing_ones() -> None:
    """Recipe 1 computes what 0016's code stored: those rows are stamped, not
    rewritten (a marker score survives); rows without keys are filled."""
    module = importlib.import_module("training.migrations.0018_review_recipe_refill")
    project = ProjectFactory.create()
    keyed = log(project, "keyed by 0016")
    missing = log(project, "written before the keys")
    PredictionLog.objects.update(review_recipe=0)
    PredictionLog.objects.filter(pk=keyed).update(base_score=0.123)
    stale(pk=missing)
    run_refills(module)
    row = PredictionLog.objects.get(pk=keyed)
    assert (row.base_score, row.review_recipe) == (0.123, 1)
    assert current(missing)
    assert PredictionLog.objects.get(pk=missing).base_score > 0


@pytest.mark.django_db
def test_the_refill_returns_the_rows_it_updated_and_never_undoes_a_newer_recipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = ProjectFactory.create()
    ids = [log(project, f"q {n}") for n in range(3)]
    stale()
    newer = rv.RECIPE + 1
    real = recipe_svc.review_key

    def racing(query: str) -> str:
        # A newer release refills the row between the read and the update.
        PredictionLog.objects.filter(pk=ids[0]).update(review_recipe=newer)
        return real(query)

    monkeypatch.setattr(recipe_svc, "review_key", racing)
    assert recipe_svc.review_keys_refill(project_id=project.pk) == 2
    assert PredictionLog.objects.get(pk=ids[0]).review_recipe == newer
    assert all(current(pk) for pk in ids[1:])


@pytest.mark.django_db
def test_a_read_refills_at_most_a_bounded_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request never takes a whole backlog (the migration and the worker's
    housekeeping do): one read refills at most ``REVIEW_REFILL_READ`` rows."""
    project = ProjectFactory.create()
    for n in range(7):
        log(project, f"q {n}")
    stale()
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_READ", 3)
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_BATCH", 2)
    assert recipe_svc.review_keys_catch_up(project=project) == 3
    assert PredictionLog.objects.filter(review_recipe=rv.RECIPE).count() == 3
    # The worker's housekeeping takes the rest, every project.
    assert recipe_svc.review_keys_refill_all() == 4
    assert PredictionLog.objects.filter(review_recipe=0).count() == 0


@pytest.mark.django_db
def test_one_housekeeping_sweep_refills_a_bounded_number_of_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's sweep runs on the thread that writes its heartbeat (every 5 s,
    stale after 30 s): a backlog of 100,000 rows in one sweep (~30 s) would make a
    live worker look dead. One sweep takes at most ``REVIEW_REFILL_SWEEP`` rows,
    across projects; the next sweeps take the rest."""
    projects = [ProjectFactory.create(), ProjectFactory.create()]
    for project in projects:
        for n in range(4):
            log(project, f"q {n}")
    stale()
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_BATCH", 2)
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_SWEEP", 5)
    assert recipe_svc.review_keys_refill_all() == 5
    assert PredictionLog.objects.filter(review_recipe=0).count() == 3
    assert recipe_svc.review_keys_refill_all() == 3
    assert recipe_svc.review_keys_refill_all() == 0


@pytest.fixture
def updates_of_the_keys() -> Iterator[list[bool]]:
    """For every UPDATE writing ``text_key``: whether it ran inside a transaction
    someone else opened (an outer, not durable, atomic block)."""
    seen: list[bool] = []

    def spy(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith("UPDATE") and "text_key" in sql:
            blocks = connection.atomic_blocks
            seen.append(bool(blocks) and not getattr(blocks[0], "durable", False))
        return execute(sql, *args)

    with connection.execute_wrapper(spy):
        yield seen


@pytest.mark.django_db(transaction=True)
def test_an_action_refills_before_its_transaction_not_inside_it(
    updates_of_the_keys: list[bool],
) -> None:
    """review_act holds the project's lock (SQLite: the database's write lock)
    for its transaction: a refill in there made every other writer wait."""
    project = ProjectFactory.create()
    target = log(project, "cancel my order")
    other = log(project, "something else")
    stale()
    outcome = svc.review_act(project=project, log_id=target, action="skip")
    assert outcome.count == 1
    assert updates_of_the_keys, "the stale rows were refilled"
    assert not any(updates_of_the_keys), "a refill ran inside the act's transaction"
    assert current(other)


UNRELATED = ("cancel my order", "book a flight", "what is the weather", "hello")


@pytest.mark.django_db
def test_an_action_on_an_unkeyed_log_never_sweeps_in_unrelated_unkeyed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows left unkeyed ("": a release older than the keys, an interrupted
    migration) beyond what a request refills are not one group: discarding
    "hello" discarded every other unkeyed query. The group is the current code's
    key: unkeyed rows of the same text are in it, the others are not."""
    project = ProjectFactory.create()
    ids = {query: log(project, query) for query in UNRELATED}
    same = log(project, "Hello!")
    stale()
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_READ", 1)
    outcome = svc.review_act(project=project, log_id=ids["hello"], action="discard")
    assert outcome.count == 2
    discarded = PredictionLog.objects.filter(review_status="discarded")
    assert set(discarded.values_list("id", flat=True)) == {ids["hello"], same}
    assert PredictionLog.objects.filter(review_status="pending").count() == 3


@pytest.mark.django_db
def test_an_action_on_a_refilled_log_takes_its_unkeyed_duplicates_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Neither swept in wrongly nor left out silently: unkeyed rows of the same
    text (after the normalisation) join the group of a refilled one."""
    project = ProjectFactory.create()
    target = log(project, "hello")
    others = [log(project, query) for query in UNRELATED[:3]]
    same = [log(project, "Hello!"), log(project, "HELLO")]
    stale(pk__in=[*others, *same])
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_READ", 1)
    outcome = svc.review_act(project=project, log_id=target, action="skip")
    assert outcome.count == 3
    skipped = PredictionLog.objects.filter(review_status="skipped")
    assert set(skipped.values_list("id", flat=True)) == {target, *same}


@pytest.mark.django_db
def test_a_key_of_an_older_recipe_is_not_a_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows keyed by an older recipe's code may share a key that the current code
    gives different texts: they are grouped by the current key."""
    project = ProjectFactory.create()
    a, b = log(project, "order 66"), log(project, "order 12")
    # The older recipe's normalisation ignored digits.
    PredictionLog.objects.update(text_key=review_key("order"))
    monkeypatch.setattr(rv, "RECIPE", rv.RECIPE + 1)
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_READ", 0)
    outcome = svc.review_act(project=project, log_id=a, action="skip")
    assert outcome.count == 1
    assert PredictionLog.objects.get(pk=b).review_status == "pending"


def refill_during_the_group_read(rows: dict[int, str]) -> Callable[..., Any]:
    """An execute wrapper: right after the first SELECT that picks open logs by
    their recipe, another process (the worker's sweep, another request's
    catch-up) commits its refill of ``rows`` (id: query). On PostgreSQL (READ
    COMMITTED) the next statement sees it: the project's row lock does not stop
    an UPDATE of its logs."""
    fired: list[bool] = []

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        reads_by_recipe = '"review_recipe" <' in sql
        if not fired and sql.lstrip().startswith("SELECT") and reads_by_recipe:
            fired.append(True)
            for pk, query in rows.items():
                PredictionLog.objects.filter(pk=pk).update(
                    review_recipe=rv.RECIPE, text_key=review_key(query)
                )
        return result

    return wrapper


@pytest.mark.django_db
def test_a_refill_committed_while_an_action_reads_its_group_loses_no_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """review_group read the refilled rows, then the rows not refilled yet: a row
    refilled between the two reads was in neither. A lone log failed the action
    with a 500 (max() of nothing); a duplicate stayed pending after a discard."""
    project = ProjectFactory.create()
    lone = log(project, "a query nobody else asked")
    target, duplicate = log(project, "book a flight"), log(project, "Book a flight!")
    stale(pk__in=[lone, duplicate])
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_READ", 0)
    with connection.execute_wrapper(
        refill_during_the_group_read({lone: "a query nobody else asked"})
    ):
        outcome = svc.review_act(project=project, log_id=lone, action="discard")
    assert outcome.count == 1
    with connection.execute_wrapper(
        refill_during_the_group_read({duplicate: "Book a flight!"})
    ):
        outcome = svc.review_act(project=project, log_id=target, action="discard")
    assert outcome.count == 2
    assert set(
        PredictionLog.objects.filter(review_status="discarded").values_list(
            "id", flat=True
        )
    ) == {lone, target, duplicate}


@pytest.mark.django_db
def test_racing_refills_count_the_rows_they_examined_against_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep and requests refill the same rows: one whose UPDATEs match nothing
    (the others wrote first) stops at its limit of rows examined, not after
    examining every stale row of the project."""
    project = ProjectFactory.create()
    for n in range(7):
        log(project, f"q {n}")
    stale()
    examined: list[str] = []
    real = recipe_svc.review_key

    def racing(query: str) -> str:
        examined.append(query)
        # Another refill writes the row between this one's read and its update.
        PredictionLog.objects.filter(query=query).update(review_recipe=rv.RECIPE)
        return real(query)

    monkeypatch.setattr(recipe_svc, "review_key", racing)
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_BATCH", 2)
    assert recipe_svc.review_keys_refill(project_id=project.pk, limit=3) == 0
    assert len(examined) == 3


@pytest.mark.django_db
def test_a_refill_stops_batching_once_its_deadline_has_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = ProjectFactory.create()
    for n in range(6):
        log(project, f"q {n}")
    stale()
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_BATCH", 2)
    past = time.monotonic() - 1
    assert recipe_svc.review_keys_refill(project_id=project.pk, deadline=past) == 0
    assert recipe_svc.review_keys_refill_all(deadline=past) == 0
    assert PredictionLog.objects.filter(review_recipe=0).count() == 6
    # The refill's clock: one second a row keyed, so the first batch (2 rows)
    # outlasts a deadline 1.5 s away.
    now = [100.0]
    real = recipe_svc.review_key

    def slow(query: str) -> str:
        now[0] += 1
        return real(query)

    monkeypatch.setattr(recipe_svc, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(recipe_svc, "review_key", slow)
    assert recipe_svc.review_keys_refill_all(deadline=101.5) == 2
    assert PredictionLog.objects.filter(review_recipe=0).count() == 4


# -- the migrations on a real database ---------------------------------------


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest() -> None:
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def old_rows(old_apps: Any, project: Project) -> dict[str, int]:
    old_log = old_apps.get_model("training", "PredictionLog")
    rows = {}
    for status, query in [
        ("pending", "Order 66!"),
        ("skipped", "thanks"),
        ("accepted", "Done"),
    ]:
        rows[status] = old_log.objects.create(
            project_id=project.pk,
            deployment_name="production",
            model_id="m1",
            query=query,
            prediction=prediction("Order", 0.5, 0.4),
            review_status=status,
        ).pk
    # As rows written by code older than the keys: the database defaults.
    old_log.objects.update(text_key="", base_score=0.0)
    return rows


@pytest.mark.django_db(transaction=True)
def test_the_recipe_migrations_key_the_open_logs_of_a_database_at_0016() -> None:
    try:
        project = ProjectFactory.create()
        rows = old_rows(migrate([("training", "0016_review_keys")]), project)
        latest()
        for status in ("pending", "skipped"):
            assert current(rows[status])
            assert PredictionLog.objects.get(pk=rows[status]).base_score > 0
        reviewed = PredictionLog.objects.get(pk=rows["accepted"])
        assert (reviewed.text_key, reviewed.review_recipe) == ("", 0)
    finally:
        latest()


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_refill_resumes_when_migrate_runs_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schema change commits with its record (an atomic migration); the
    refill after it, interrupted, runs again from where it stopped (a rerun of
    one migration doing both found its column already there)."""
    try:
        project = ProjectFactory.create()
        rows = old_rows(migrate([("training", "0016_review_keys")]), project)
        with monkeypatch.context() as m:

            def crash(*args: Any, **kwargs: Any) -> float:
                raise KeyboardInterrupt

            m.setattr(rv, "teach_score", crash)
            with pytest.raises(KeyboardInterrupt):
                latest()
        latest()
        assert current(rows["pending"]) and current(rows["skipped"])
    finally:
        latest()


@pytest.mark.django_db(transaction=True)
def test_reversing_a_recipe_migration_hands_its_rows_back_to_older_code() -> None:
    """Older code refills what is older than its recipe and never undoes a newer
    one: the reverse sets the open rows of the recipe back to 0."""
    try:
        project = ProjectFactory.create()
        pending = log(project, "order 66")
        reviewed = log(project, "done", review_status="accepted")
        migrate([SCHEMA])
        rows = PredictionLog.objects.filter(pk__in=[pending, reviewed])
        recipes = dict(rows.values_list("pk", "review_recipe"))
        assert recipes == {pending: 0, reviewed: rv.RECIPE}
    finally:
        latest()


@pytest.mark.django_db
def test_a_recipe_reset_sets_open_rows_of_that_recipe_or_newer_back_to_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = ProjectFactory.create()
    ids = [log(project, f"q {n}") for n in range(4)]
    reviewed = log(project, "done", review_status="accepted")
    for pk, recipe in zip(ids, (1, 2, 3, 2), strict=True):
        PredictionLog.objects.filter(pk=pk).update(review_recipe=recipe)
    monkeypatch.setattr(recipe_svc, "REVIEW_REFILL_BATCH", 1)
    reset = recipe_svc.review_recipe_reset(log_model=PredictionLog, recipe=2)
    assert reset == 3
    recipes = dict(PredictionLog.objects.values_list("pk", "review_recipe"))
    assert [recipes[pk] for pk in ids] == [1, 0, 0, 0]
    assert recipes[reviewed] == rv.RECIPE
