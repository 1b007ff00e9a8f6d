"""The review queue's selector: groups and ranks as before while decoding each
group's newest prediction once per process (``training/selectors/review.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Project
from tests.factories import ProjectFactory
from training.engine import review as rv
from training.models import PredictionLog, review_key
from training.selectors import review as sr
from training.services.review_recipe import review_keys_catch_up


@pytest.fixture(autouse=True)
def fresh_signals() -> Iterator[None]:
    sr.review_signals_clear()
    yield
    sr.review_signals_clear()


def prediction(top: str, confidence: float, second: float) -> dict[str, Any]:
    return {
        "topIntent": top,
        "intents": [
            {"category": top, "confidenceScore": confidence},
            {"category": "Other", "confidenceScore": second},
        ],
        "entities": [],
    }


def log(project: Project, query: str, pred: dict[str, Any], **extra: Any) -> int:
    row = PredictionLog.objects.create(
        project=project,
        deployment_name=extra.pop("deployment", "production"),
        model_id="m1",
        query=query,
        top_intent=pred["topIntent"],
        confidence=pred["intents"][0]["confidenceScore"],
        prediction=pred,
        **extra,
    )
    return row.pk


def reference_queue(project: Project) -> list[tuple[str, int, float, list[int]]]:
    """The queue as it was computed before: every log's prediction decoded, the
    newest of each normalized text giving the signals."""
    groups: dict[str, dict[str, Any]] = {}
    for row in PredictionLog.objects.filter(
        project=project, review_status="pending"
    ).order_by("-created_at", "-id"):
        key = rv.normalize(row.query) or row.query
        sig = rv.signals(
            row.prediction,
            shadow_intent=row.shadow_top_intent,
            shadow_confidence=row.shadow_confidence,
            shadow_disagrees=row.shadow_disagrees,
        )
        group = groups.setdefault(key, {"id": row.pk, "sig": sig, "ids": []})
        group["ids"].append(row.pk)
    ranked = [
        (key, g["id"], rv.teach_score(g["sig"], count=len(g["ids"])), g["ids"])
        for key, g in groups.items()
    ]
    ranked.sort(key=lambda r: (-r[2], -r[1]))
    return [(key, pk, round(score, 6), ids) for key, pk, score, ids in ranked]


FILTERS = sr.ReviewFilter()


def listed(project: Project) -> list[tuple[str, int, float, list[int]]]:
    return [
        (g.key, g.id, round(g.score, 6), g.ids)
        for g in sr.review_queue(project=project, filters=sr.ReviewFilter())
    ]


@pytest.mark.django_db
def test_groups_scores_and_order_match_decoding_every_log() -> None:
    project = ProjectFactory.create()
    log(project, "Book a flight", prediction("Book", 0.9, 0.05))
    log(project, "book a FLIGHT!", prediction("Book", 0.4, 0.35))  # newest: counts
    log(project, "cancel it", prediction("Cancel", 0.55, 0.5))
    log(project, "weather", prediction("None", 0.3, 0.2))
    log(project, "Weather ", prediction("None", 0.3, 0.2), deployment="staging")
    log(
        project,
        "cancel IT",
        prediction("Cancel", 0.8, 0.1),
        shadow_top_intent="Book",
        shadow_confidence=0.7,
        shadow_disagrees=True,
    )
    assert listed(project) == reference_queue(project)
    # Read again (warm): the same answer.
    assert listed(project) == reference_queue(project)


@pytest.mark.django_db
def test_a_second_read_decodes_no_prediction_it_has_seen() -> None:
    project = ProjectFactory.create()
    for n in range(5):
        log(project, f"query {n}", prediction("Book", 0.5 + n / 20, 0.1))
    list(sr.review_queue(project=project, filters=sr.ReviewFilter()))
    with CaptureQueriesContext(connection) as queries:
        list(sr.review_queue(project=project, filters=sr.ReviewFilter()))
    assert not [q for q in queries.captured_queries if '"prediction"' in q["sql"]]
    log(project, "a new one", prediction("Cancel", 0.4, 0.39))
    with CaptureQueriesContext(connection) as queries:
        groups = list(sr.review_queue(project=project, filters=sr.ReviewFilter()))
    # Only the new log's prediction is read.
    read = [q["sql"] for q in queries.captured_queries if '"prediction"' in q["sql"]]
    assert len(read) == 1
    assert groups[0].text == "a new one"


@pytest.mark.django_db
def test_a_reused_id_is_not_served_the_old_logs_signals() -> None:
    project = ProjectFactory.create()
    pk = log(project, "hello", prediction("Greet", 0.99, 0.0))
    (first,) = sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert first.signals.top_intent == "Greet"
    PredictionLog.objects.filter(pk=pk).delete()
    log(project, "bye", prediction("Leave", 0.3, 0.29), pk=pk)
    PredictionLog.objects.filter(pk=pk).update(
        created_at=first.last_seen + timedelta(seconds=1)
    )
    (second,) = sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert second.id == pk
    assert second.signals.top_intent == "Leave"
    assert listed(project) == reference_queue(project)


@pytest.mark.django_db
def test_the_queue_spreads_one_confusion_as_the_ranking_caps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = ProjectFactory.create()
    log(project, "book 1", prediction("Book", 0.50, 0.49))
    log(project, "book 2", prediction("Book", 0.50, 0.48))
    log(project, "book 3", prediction("Book", 0.50, 0.47))
    log(project, "pay", prediction("Pay", 0.60, 0.30))

    def texts() -> list[str]:
        return [g.text for g in sr.review_queue(project=project, filters=FILTERS)]

    monkeypatch.setattr(rv, "RANKING", rv.Ranking(pair_cap=0))
    assert texts()[-1] == "pay"
    monkeypatch.setattr(rv, "RANKING", rv.Ranking(pair_cap=2))
    assert texts() == [
        "book 1",
        "book 2",
        "pay",
        "book 3",
    ]


def mixed_fixture(project: Project) -> None:
    """Groups of several sizes, spellings, deployments and signals (shadow
    disagreements, routed to None, near ties between count and margin)."""
    for n in range(30):
        log(
            project, f"Order {n % 7} pizzas", prediction("Order", 0.5 + n % 5 / 20, 0.3)
        )
    for n in range(12):
        log(
            project,
            "WHERE is my order?" if n % 3 else "where is my order",
            prediction("Track", 0.45, 0.4 - n / 100),
            deployment=f"d{n % 2}",
        )
    for n in range(9):
        log(project, f"noise {n}", prediction("None", 0.2 + n / 20, 0.1))
        log(
            project,
            f"shadow {n % 4}",
            prediction("Pay", 0.7, 0.2),
            shadow_top_intent="Refund",
            shadow_confidence=0.6,
            shadow_disagrees=n % 2 == 0,
        )
    log(project, "!!!", prediction("Order", 0.51, 0.49))
    log(project, "???", prediction("Order", 0.51, 0.49))


@pytest.mark.django_db
def test_the_sql_ranking_equals_the_python_ranking_on_a_mixed_fixture() -> None:
    project = ProjectFactory.create()
    mixed_fixture(project)
    queue = sr.review_queue(project=project, filters=sr.ReviewFilter())
    reference = reference_queue(project)
    assert listed(project) == reference
    assert len(queue) == len(reference)
    assert queue.total_logs == PredictionLog.objects.filter(project=project).count()
    # Any page is the same slice of the one order.
    for start, stop in ((0, 5), (3, 11), (17, 40), (len(reference) - 2, 100)):
        page = [(g.key, g.id, round(g.score, 6), g.ids) for g in queue[start:stop]]
        assert page == reference[start:stop]
    assert queue[-1].id == reference[-1][1]


@pytest.mark.django_db
def test_every_pending_log_is_in_the_queue_not_only_the_newest() -> None:
    """The queue used to group only the newest 20,000 logs: with a bot's steady
    traffic, an older query (with its duplicates) vanished from it."""
    project = ProjectFactory.create()
    oldest = [
        log(project, "Cancel my card", prediction("Cancel", 0.34, 0.33))
        for _ in range(3)
    ]
    PredictionLog.objects.bulk_create(
        PredictionLog(
            project=project,
            deployment_name="production",
            model_id="m1",
            query=f"what is my balance {n}",
            top_intent="Balance",
            confidence=0.99,
            prediction=prediction("Balance", 0.99, 0.0),
        )
        for n in range(20_050)
    )
    queue = sr.review_queue(project=project, filters=sr.ReviewFilter())
    assert len(queue) == 20_051
    assert queue.total_logs == 20_053
    first = queue[0]
    assert first.text == "Cancel my card"
    assert sorted(first.ids) == oldest
    assert first.count == 3
    group = sr.review_group(project=project, log_id=oldest[0])
    assert group is not None
    assert sorted(group.ids) == oldest
    assert group.id == oldest[-1]


@pytest.mark.django_db
def test_review_group_finds_every_older_duplicate() -> None:
    project = ProjectFactory.create()
    old = log(project, "Hello there", prediction("Greet", 0.5, 0.4))
    for n in range(50):
        log(project, f"other {n}", prediction("Greet", 0.9, 0.0))
    new = log(project, "hello, THERE", prediction("Greet", 0.6, 0.3))
    group = sr.review_group(project=project, log_id=new)
    assert group is not None
    assert sorted(group.ids) == [old, new]
    assert group.id == new
    assert group.signals.confidence == 0.6


@pytest.mark.django_db
def test_rows_written_without_the_keys_are_keyed_on_the_next_read() -> None:
    """Rows that code older than the stored keys writes get the database
    defaults ("", 0 and recipe 0); a request fills them before grouping."""
    project = ProjectFactory.create()
    a = log(project, "Pay my bill", prediction("Pay", 0.4, 0.38))
    b = log(project, "pay my bill!", prediction("Pay", 0.9, 0.05))
    log(project, "thanks", prediction("Thanks", 0.99, 0.0))
    PredictionLog.objects.filter(pk__in=[a, b]).update(
        text_key="", base_score=0.0, review_recipe=0
    )
    review_keys_catch_up(project=project)  # as a request does first
    assert listed(project) == reference_queue(project)
    assert PredictionLog.objects.filter(text_key="").count() == 0


@pytest.mark.django_db
def test_the_stored_keys_follow_the_shadow_answer_added_before_the_write() -> None:
    project = ProjectFactory.create()
    row = PredictionLog(
        project=project,
        deployment_name="production",
        model_id="m1",
        query="Refund it",
        top_intent="Pay",
        confidence=0.9,
        prediction=prediction("Pay", 0.9, 0.05),
    )
    plain = PredictionLog.objects.get(
        pk=log(project, "x", prediction("Pay", 0.9, 0.05))
    )
    row.shadow_top_intent, row.shadow_disagrees = "Refund", True
    row.shadow_confidence = 0.8
    row.save(force_insert=True)
    row.refresh_from_db()
    assert row.base_score == pytest.approx(plain.base_score + rv.W_SHADOW)
    assert row.text_key == review_key("refund, IT") != review_key("refund")


@pytest.mark.django_db
def test_the_migration_fills_the_review_keys_of_existing_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("training.migrations.0016_review_keys")
    project = ProjectFactory.create()
    for n in range(5):
        log(project, f"Query  {n}!", prediction("Book", 0.5 + n / 20, 0.3))
    expected = sorted(PredictionLog.objects.values_list("text_key", "base_score"))
    assert len({key for key, _ in expected}) == 5
    reviewed = PredictionLog.objects.get(
        pk=log(project, "already reviewed", prediction("Book", 0.5, 0.3))
    )
    PredictionLog.objects.filter(pk=reviewed.pk).update(review_status="accepted")
    PredictionLog.objects.update(text_key="", base_score=0.0)
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches
    migration.fill_review_keys(apps, None)
    open_rows = PredictionLog.objects.exclude(pk=reviewed.pk)
    assert sorted(open_rows.values_list("text_key", "base_score")) == expected
    # Reviewed logs are never grouped again: left to the defaults.
    reviewed.refresh_from_db()
    assert (reviewed.text_key, reviewed.base_score) == ("", 0.0)


@pytest.mark.django_db
def test_the_deployment_filter_reads_one_row_per_deployment() -> None:
    """The default ordering (newest first) made the DISTINCT one of name and
    date: every log's row was read to list two deployment names."""
    project = ProjectFactory.create()
    for n in range(6):
        log(project, f"q {n}", prediction("Book", 0.5, 0.4), deployment=f"d{n % 2}")
    with CaptureQueriesContext(connection) as queries:
        assert sr.review_deployments(project=project) == ["d0", "d1"]
    (query,) = queries.captured_queries
    assert "created_at" not in query["sql"]


@pytest.mark.django_db
def test_triaging_a_large_group_audits_its_count_and_a_bounded_list_of_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A query asked thousands of times ("hi") is one group: its audit row names
    how many logs it closed and a bounded list of their ids, not every id."""
    from studio.models import AuditEvent
    from training.services import review as services

    monkeypatch.setattr(services, "AUDIT_LOG_IDS", 3)
    project = ProjectFactory.create()
    ids = [log(project, "hi", prediction("Greet", 0.4, 0.3)) for _ in range(5)]
    services.review_act(project=project, log_id=ids[-1], action="discard")
    before = AuditEvent.objects.get(action="review.discard").before
    assert before is not None
    assert before["logCount"] == 5
    assert before["logIds"] == sorted(ids)[:3]
    assert not PredictionLog.objects.filter(review_status="pending").exists()


_normalize = rv.normalize


def stricter_normalize(text: str) -> str:
    """A later release's normalisation: digits no longer tell queries apart."""
    return " ".join(w for w in _normalize(text).split() if not w.isdigit())


@pytest.mark.django_db
def test_keys_stored_under_an_older_normalisation_are_regrouped_on_the_next_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A release that changes ``normalize`` bumps the recipe: the logs keyed by
    the old one are keyed again before the queue groups them (one group, not
    two that the new normalisation calls the same text)."""
    project = ProjectFactory.create()
    log(project, "order 66", prediction("Order", 0.5, 0.4))
    log(project, "Order 12!", prediction("Order", 0.6, 0.3))
    log(project, "thanks", prediction("Thanks", 0.99, 0.0))
    monkeypatch.setattr(rv, "normalize", stricter_normalize)
    monkeypatch.setattr(rv, "RECIPE", rv.RECIPE + 1)
    review_keys_catch_up(project=project)  # as a request does first
    assert listed(project) == reference_queue(project)
    assert len(listed(project)) == 2
    assert not PredictionLog.objects.filter(review_recipe__lt=rv.RECIPE).exists()


@pytest.mark.django_db
def test_scores_stored_under_an_older_ranking_are_recomputed_on_the_next_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A release that changes the teach score (``RANKING``, a weight) bumps the
    recipe: the stored base scores follow it, so the SQL order does."""
    project = ProjectFactory.create()
    log(project, "close call", prediction("Book", 0.5, 0.45))  # small margin
    log(project, "no idea", prediction("Book", 0.2, 0.01))  # low confidence
    log(project, "sure", prediction("Book", 0.95, 0.01))
    before = [key for key, *_ in listed(project)]
    assert before[0] == "close call"
    monkeypatch.setattr(rv, "W_UNCERTAINTY", 0.9)
    monkeypatch.setattr(rv, "RECIPE", rv.RECIPE + 1)
    review_keys_catch_up(project=project)  # as a request does first
    assert listed(project) == reference_queue(project)
    assert listed(project)[0][0] == "no idea"


@pytest.mark.django_db
def test_a_release_older_than_a_row_does_not_rekey_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """During a rolling deploy the old release still serves: it must not put its
    recipe back on rows the new one keyed (the two would undo each other)."""
    project = ProjectFactory.create()
    pk = log(project, "order 66", prediction("Order", 0.5, 0.4))
    newer = (review_key("order"), 0.123, rv.RECIPE + 1)
    PredictionLog.objects.filter(pk=pk).update(
        text_key=newer[0], base_score=newer[1], review_recipe=newer[2]
    )
    review_keys_catch_up(project=project)
    sr.review_queue(project=project, filters=FILTERS)[:10]
    row = PredictionLog.objects.get(pk=pk)
    assert (row.text_key, row.base_score, row.review_recipe) == newer


@pytest.mark.django_db
def test_rows_are_written_with_the_current_recipe() -> None:
    project = ProjectFactory.create()
    pk = log(project, "hello", prediction("Greet", 0.5, 0.4))
    assert PredictionLog.objects.get(pk=pk).review_recipe == rv.RECIPE


@pytest.mark.django_db
def test_the_listed_group_names_at_most_a_bounded_number_of_its_log_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A query asked thousands of times is one group: the list names its count
    and its oldest ids up to a bound (actions name the group by ``id``)."""
    monkeypatch.setattr(sr, "DOCUMENT_LOG_IDS", 3)
    project = ProjectFactory.create()
    ids = [log(project, "hi", prediction("Greet", 0.4, 0.3)) for _ in range(5)]
    (group,) = sr.review_queue(project=project, filters=FILTERS)
    document = sr.review_group_document(group)
    assert document["count"] == 5
    assert document["logIds"] == sorted(ids)[:3]
    assert document["id"] == ids[-1]


@pytest.mark.django_db
def test_unkeyed_rows_left_after_a_request_are_listed_one_by_one() -> None:
    """Rows without a key ("") beyond what a request refills are each their own
    group in the list and the count, never one group of unrelated queries."""
    project = ProjectFactory.create()
    texts = ["cancel my order", "book a flight", "what is the weather", "hello"]
    ids = [log(project, text, prediction("Book", 0.5, 0.4)) for text in texts]
    PredictionLog.objects.update(text_key="", base_score=0.0, review_recipe=0)
    keyed = [log(project, t, prediction("Book", 0.6, 0.3)) for t in ("hi", "Hi!")]
    queue = sr.review_queue(project=project, filters=FILTERS)
    assert (len(queue), queue.total_logs) == (5, 6)
    groups = list(queue)
    assert sorted(sorted(g.ids) for g in groups) == [[pk] for pk in ids] + [keyed]
    assert sorted(g.text for g in groups) == sorted([*texts, "Hi!"])
    assert [g.ids for g in queue[1:3]] == [g.ids for g in groups[1:3]]


@pytest.mark.django_db
def test_a_group_triaged_between_the_lists_two_reads_is_left_out() -> None:
    """The list ranks its page's groups in one query and reads their logs in the
    next: another analyst's action (or the retention purge) committing in between
    emptied a group, and the list failed with a 500 (the shown text of nothing)."""
    project = ProjectFactory.create()
    gone = log(project, "hello", prediction("Greet", 0.4, 0.3))
    kept = log(project, "book a flight", prediction("Book", 0.5, 0.4))
    fired: list[bool] = []

    def triaged_meanwhile(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if not fired and "UNION ALL" in sql:
            fired.append(True)
            PredictionLog.objects.filter(pk=gone).update(review_status="discarded")
        return result

    with connection.execute_wrapper(triaged_meanwhile):
        groups = sr.review_queue(project=project, filters=sr.ReviewFilter())[0:10]
    assert fired
    assert [g.ids for g in groups] == [[kept]]
