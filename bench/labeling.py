"""Labeling screen benchmark: server time of the Data screen's views at 50,000
utterances.

    python -m bench.labeling [--utterances 50000] [--repeat 40] [--no-model]
                             [--database-url postgres://...] [--quick] [--json]

Creates a throwaway database (Django's test database: in-memory SQLite by default,
``test_<name>`` on the server of ``--database-url``/``DATABASE_URL``), seeds one
Conversation project with ``--utterances`` utterances over 20 intents (a fifth of them
with entity spans, datasets mixed), signs in an analyst and times the views through
Django's test client, so each number is the whole request inside Django (middleware,
session, permission check, queries, template) without a network: p50, p95 and max per
action over ``--repeat`` requests, beside the budgets of issue 5 (assign intent
<= 100 ms, a filtered page <= 300 ms). Unless ``--no-model``, a model is trained on a
sample so that the page also shows predictions and the disagreement filter runs; its
first request (loading the model and predicting every utterance) is reported apart.
That model is also deployed as ``production``, so a page of unlabeled rows with
Pre-label on (the deployed model predicting the rows of the page) is timed too; at
scale (150 intents) the same page's size is checked against the 150 KB budget.
Nothing here asserts; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.studio_db import FILLER_WORDS, add_database_argument, throwaway_database

N_INTENTS = 20
N_ENTITIES = 6
PAGE_BUDGET_MS = 300.0
EDIT_BUDGET_MS = 100.0


def log(message: str) -> None:
    print(f"[bench.labeling] {message}", file=sys.stderr, flush=True)


@dataclass
class Seeded:
    project_name: str
    intent_names: list[str]
    entity_names: list[str]
    utterance_ids: list[int]
    words: dict[str, list[str]]


def _intent_words(rng: random.Random) -> dict[str, list[str]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return {
        f"Intent{n:02d}": [
            "".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))
            for _ in range(12)
        ]
        for n in range(N_INTENTS)
    }


def seed(n_utterances: int, *, seed_value: int = 0) -> Seeded:
    """One Conversation project with ``n_utterances`` utterances and an analyst."""
    from django.contrib.auth import get_user_model

    from projects.models import (
        Entity,
        EntitySpan,
        Intent,
        Project,
        ProjectMembership,
        Utterance,
    )

    rng = random.Random(seed_value)
    words = _intent_words(rng)
    project = Project.objects.create(
        name="bench-labeling", kind=Project.Kind.CONVERSATION, language="en-us"
    )
    intents = Intent.objects.bulk_create(
        [Intent(project=project, name="None")]
        + [Intent(project=project, name=name) for name in words]
    )
    entities = Entity.objects.bulk_create(
        [Entity(project=project, name=f"Entity{n}") for n in range(N_ENTITIES)]
    )
    user = get_user_model().objects.create_user(username="bench-analyst")
    ProjectMembership.objects.create(project=project, user=user, role="analyst")
    ids: list[int] = []
    batch = 2000
    for start in range(0, n_utterances, batch):
        rows = []
        span_plan = []
        for _ in range(min(batch, n_utterances - start)):
            intent = rng.choice(intents[1:]) if rng.random() > 0.05 else intents[0]
            vocab = words.get(intent.name, FILLER_WORDS)
            tokens = [
                rng.choice(vocab) if rng.random() < 0.5 else rng.choice(FILLER_WORDS)
                for _ in range(rng.randint(3, 12))
            ]
            text = " ".join(tokens)
            roll = rng.random()
            dataset = "Train" if roll < 0.6 else "Test" if roll < 0.8 else None
            rows.append(
                Utterance(project=project, text=text, intent=intent, dataset=dataset)
            )
            span_plan.append(
                (len(tokens[0]), rng.choice(entities)) if rng.random() < 0.2 else None
            )
        created = Utterance.objects.bulk_create(rows)
        EntitySpan.objects.bulk_create(
            [
                EntitySpan(utterance=u, entity=plan[1], offset=0, length=plan[0])
                for u, plan in zip(created, span_plan, strict=True)
                if plan is not None
            ]
        )
        ids.extend(u.pk for u in created)
    return Seeded(
        project_name=project.name,
        intent_names=[i.name for i in intents],
        entity_names=[e.name for e in entities],
        utterance_ids=ids,
        words=words,
    )


def train_sample_model(
    seeded: Seeded,
    *,
    sample: int = 3000,
    model_id: str = "bench-1",
    label: str = "bench",
) -> None:
    """A real model (standard mode) trained on a sample, stored as the project's
    latest TrainedModel, so the screen predicts and can filter by disagreement."""
    from datetime import date

    from django.utils import timezone

    from projects.models import Project, Utterance
    from training.artifact_store import artifact_save
    from training.engine.bundles import ConversationBundle
    from training.engine.intents import IntentClassifier
    from training.models import TrainedModel

    project = Project.objects.get(name=seeded.project_name)
    rows = list(
        Utterance.objects.filter(project=project)
        .order_by("?")
        .values_list("text", "intent__name")[:sample]
    )
    classifier = IntentClassifier.fit([t for t, _ in rows], [i for _, i in rows])
    bundle = ConversationBundle(
        intents=classifier, single_intent=None, entities=None, language="en-us"
    )
    name, manifest = artifact_save(
        bundle, model_id=model_id, training_data_hash="bench", params={}
    )
    TrainedModel.objects.create(
        project=project,
        label=label,
        model_id=model_id,
        training_mode="standard",
        training_config_version="bench",
        artifact_name=name,
        manifest=manifest,
        trained_at=timezone.now(),
        expires_on=date(2099, 1, 1),
    )


def deploy_model(project_name: str, model_id: str) -> None:
    """Point a ``production`` deployment at the project's model ``model_id`` (the
    pointer copy a deploy job makes), for the Data page's pre-labels."""
    from datetime import date

    from django.utils import timezone

    from training.models import Deployment, TrainedModel

    model = TrainedModel.objects.get(project__name=project_name, model_id=model_id)
    Deployment.objects.create(
        project=model.project,
        name="production",
        model_label=model.label,
        model_id=model.model_id,
        artifact_name=model.artifact_name,
        manifest=model.manifest,
        model_trained_at=model.trained_at,
        deployed_at=timezone.now(),
        expires_on=date(2099, 1, 1),
    )


# ---------------------------------------------------------------- evaluation page

EVAL_INTENTS = 150
EVAL_UTTERANCES = 15_000
EVAL_PAGE_BUDGET_MS = 1000.0
EVAL_PAGE_BUDGET_BYTES = 1_500_000


@dataclass
class SeededEvaluation:
    project_name: str
    labels: tuple[str, str]
    intent_names: list[str]
    test_count: int


def _eval_results(
    rng: random.Random,
    test: list[tuple[int, str, str]],
    names: list[str],
    error_rate: float,
) -> list[tuple[int, str, str, str, float]]:
    """(utterance id, text, expected, predicted, confidence) per test utterance:
    mostly right; a wrong one goes to one of the intent's three "neighbours", so
    errors bunch into pairs as they do on CLINC150 (a few confusions per intent).
    Every tenth intent is never mistaken nor taken for another."""
    index = {name: n for n, name in enumerate(names)}
    rows = []
    for pk, text, expected in test:
        predicted = expected
        n = index[expected]
        if n % 10 != 9 and rng.random() < error_rate:
            guess = (n + rng.choice((1, 2, 7))) % len(names)
            if guess % 10 == 9:
                guess = (guess + 1) % len(names)
            predicted = names[guess]
        rows.append((pk, text, expected, predicted, round(rng.uniform(0.3, 1.0), 3)))
    return rows


def seed_evaluation(
    *,
    n_intents: int = EVAL_INTENTS,
    n_utterances: int = EVAL_UTTERANCES,
    test_share: float = 0.2,
    seed_value: int = 0,
    name: str = "bench-evaluation",
    members: Sequence[tuple[str, str]] = (("bench-analyst", "analyst"),),
) -> SeededEvaluation:
    """A CLINC150-sized Conversation project (``n_intents`` intents, ``n_utterances``
    utterances, ``test_share`` of them in Test) with two trained models, ``m1`` and
    ``m2``, whose evaluations are built directly (no training: seconds, not
    minutes) with the engine's own metrics, as a training job stores them. ``m2``
    is tested on a slightly different test set, as after a relabel and retrain."""
    from datetime import date, timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from projects.models import Intent, Project, ProjectMembership, Utterance
    from training.engine.evaluation import evaluate_intents, evaluation_summary
    from training.models import EvaluationResult, TrainedModel

    rng = random.Random(seed_value)
    project = Project.objects.create(
        name=name, kind=Project.Kind.CONVERSATION, language="en-us"
    )
    names = [f"intent_{n:03d}" for n in range(n_intents)]
    intents = Intent.objects.bulk_create(
        [Intent(project=project, name="None")]
        + [Intent(project=project, name=n) for n in names]
    )
    for username, role in members:
        user, _ = get_user_model().objects.get_or_create(username=username)
        ProjectMembership.objects.create(project=project, user=user, role=role)
    rows = []
    for n in range(n_utterances):
        intent = intents[1 + n % n_intents]
        words = " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(3, 9)))
        dataset = "Test" if rng.random() < test_share else "Train"
        rows.append(
            Utterance(
                project=project,
                text=f"{words} {intent.name} {n}",
                intent=intent,
                dataset=dataset,
            )
        )
    created = Utterance.objects.bulk_create(rows, batch_size=2000)
    test = [(u.pk, u.text, u.intent.name) for u in created if u.dataset == "Test"]
    options = {"kind": "manual"}
    now = timezone.now()
    for number, (label, error_rate, drop) in enumerate(
        (("m1", 0.12, 0.0), ("m2", 0.08, 0.03))
    ):
        tested = [t for t in test if rng.random() >= drop]
        results = _eval_results(rng, tested, names, error_rate)
        evaluation = evaluate_intents(
            [r[2] for r in results], [r[3] for r in results], labels=names
        )
        summary = evaluation_summary(evaluation, None, options)
        summary.pop("evaluationOptions", None)
        model = TrainedModel.objects.create(
            project=project,
            label=label,
            model_id=f"{name}-{label}-{seed_value}-{number}",
            training_mode="standard",
            training_config_version="bench",
            evaluation_options=options,
            artifact_name="",
            evaluation_summary=summary,
            trained_at=now - timedelta(hours=2 - number),
            expires_on=date(2099, 1, 1),
        )
        EvaluationResult.objects.bulk_create(
            [
                EvaluationResult(
                    model=model,
                    position=position,
                    utterance_id=pk,
                    text=text,
                    language="en-us",
                    expected_intent=expected,
                    predicted_intent=predicted,
                    predicted_confidence=confidence,
                )
                for position, (pk, text, expected, predicted, confidence) in enumerate(
                    results
                )
            ],
            batch_size=2000,
        )
    return SeededEvaluation(
        project_name=project.name,
        labels=("m1", "m2"),
        intent_names=names,
        test_count=len(test),
    )


def _p95(data: list[float]) -> float:
    return data[min(len(data) - 1, round(0.95 * (len(data) - 1)))]


@dataclass
class Timing:
    """Wall-clock and CPU time of one action's requests, and the time spent in
    database calls. CPU time is this thread's (the whole request with in-process
    SQLite; without PostgreSQL's share on a server): on a loaded machine it shows the
    work apart from the wait for a core."""

    wall_ms: list[float]
    cpu_ms: list[float]
    db_ms: list[float]
    queries: list[int]
    budget_ms: float | None

    def summary(self) -> dict[str, Any]:
        wall, cpu = sorted(self.wall_ms), sorted(self.cpu_ms)
        return {
            "db_p50_ms": round(statistics.median(self.db_ms), 1),
            "queries": max(self.queries),
            "n": len(wall),
            "p50_ms": round(statistics.median(wall), 1),
            "p95_ms": round(_p95(wall), 1),
            "max_ms": round(wall[-1], 1),
            "cpu_p50_ms": round(statistics.median(cpu), 1),
            "cpu_p95_ms": round(_p95(cpu), 1),
            "budget_ms": self.budget_ms,
        }


def _timed(call: Callable[[], Any]) -> tuple[float, float, float, int, int]:
    """One request: wall ms, this thread's CPU ms, ms inside database calls, the
    number of queries and the response's size in bytes. A 4xx/5xx stops the run."""
    from django.db import connection

    db_ms: list[float] = []

    def in_db(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_ms.append((time.perf_counter() - started) * 1000)

    started, cpu = time.perf_counter(), time.thread_time()
    with connection.execute_wrapper(in_db):
        response = call()
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.thread_time() - cpu) * 1000
    if response.status_code >= 400:
        raise RuntimeError(f"{response.status_code}: {response.content[:300]!r}")
    return wall_ms, cpu_ms, sum(db_ms), len(db_ms), len(response.content)


def measure(seeded: Seeded, *, repeat: int, with_model: bool) -> dict[str, Any]:
    """Time each action ``repeat`` times; returns ``{action: summary}``."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    rng = random.Random(1)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-analyst"))
    base = f"/projects/{seeded.project_name}/data/"
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "utterance-table"}
    pages = max(1, len(seeded.utterance_ids) // 50)
    some_word = next(iter(seeded.words.values()))[0]

    def timed(call: Callable[[], Any]) -> tuple[float, float, float, int]:
        return _timed(call)[:4]

    def get(query: dict[str, Any], **extra: Any) -> Callable[[], Any]:
        return lambda: client.get(base, query, **{**htmx, **extra})

    def post(suffix: str, body: dict[str, Any]) -> Callable[[], Any]:
        return lambda: client.post(base + suffix, body, HTTP_HX_REQUEST="true")

    def intent() -> str:
        return rng.choice(seeded.intent_names[1:])

    def pk() -> int:
        return rng.choice(seeded.utterance_ids)

    results: dict[str, Any] = {}
    if with_model:
        # The first request loads the model and predicts every utterance.
        wall, cpu, db, queries = timed(get({"disagree": "1"}))
        results["disagreement filter, first request (cold)"] = Timing(
            [wall], [cpu], [db], [queries], None
        ).summary()

    def page(**query: Any) -> Callable[[], Callable[[], Any]]:
        """A request factory: ``page(intent=intent)`` re-draws random values."""
        return lambda: get({k: v() if callable(v) else v for k, v in query.items()})

    deep = lambda: rng.randint(pages // 2, pages)  # noqa: E731
    actions: list[tuple[str, Callable[[], Callable[[], Any]], float | None]] = [
        ("full page (first load)", lambda: lambda: client.get(base), None),
        ("table page, no filter", page(page=lambda: rng.randint(1, pages)), None),
        ("table page, filter intent", page(intent=intent), None),
        ("table page, search text", page(q=some_word), None),
        (
            "table page, Train + has entities",
            page(dataset="Train", entities="yes"),
            None,
        ),
        ("table page, unlabeled", page(unlabeled="1"), None),
        ("table page, sort by text, deep", page(sort="text", page=deep), None),
        ("table page, intent + sort -id", page(intent=intent, sort="-id"), None),
    ]
    if with_model:
        actions.append(("table page, disagreement (warm)", page(disagree="1"), None))
        # About 5 % of the seeded utterances are unlabeled (intent None).
        unlabeled_pages = max(1, len(seeded.utterance_ids) // 20 // 50)
        actions.append(
            (
                "table page, unlabeled + pre-label",
                page(
                    unlabeled="1",
                    prelabel="1",
                    page=lambda: rng.randint(1, unlabeled_pages),
                ),
                None,
            )
        )
    actions = [(a, make, PAGE_BUDGET_MS) if a.startswith("table") else (a, make, b)
               for a, make, b in actions]  # fmt: skip
    actions += [
        (
            "assign intent",
            lambda: post(f"{pk()}/intent/", {"intent": intent()}),
            EDIT_BUDGET_MS,
        ),
        (
            "toggle dataset",
            lambda: post(f"{pk()}/dataset/", {"toggle": "1"}),
            EDIT_BUDGET_MS,
        ),
        (
            "distribution panel",
            lambda: lambda: client.get(base + "distribution/", HTTP_HX_REQUEST="true"),
            None,
        ),
    ]
    for action, make, budget in actions:
        timed(make())  # warm-up: first-use imports, template compile
        samples = [timed(make()) for _ in range(repeat)]
        results[action] = Timing(
            [s[0] for s in samples],
            [s[1] for s in samples],
            [s[2] for s in samples],
            [s[3] for s in samples],
            budget,
        ).summary()
        log(f"{action}: p50 {results[action]['p50_ms']} ms")
    return results


def measure_evaluation(seeded: SeededEvaluation, *, repeat: int) -> dict[str, Any]:
    """Time the evaluation screens of ``seeded`` (a model page, its fragments, a
    relabel, the comparison) ``repeat`` times each, as the analyst; returns
    ``{action: summary}`` with the response size in ``bytes`` (largest seen)."""
    from django.contrib.auth import get_user_model
    from django.db.models import F
    from django.test import Client

    from training.models import EvaluationResult

    rng = random.Random(2)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-analyst"))
    first, second = seeded.labels
    base = f"/projects/{seeded.project_name}/models/"
    page = f"{base}{first}/"
    htmx: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
    errors = list(
        EvaluationResult.objects.filter(
            model__project__name=seeded.project_name, model__label=first
        )
        .exclude(expected_intent=F("predicted_intent"))
        .values_list("utterance_id", "expected_intent", "predicted_intent", "position")
    )

    def cell() -> Any:
        _, expected, predicted, _ = rng.choice(errors)
        return client.get(
            f"{page}cell", {"expected": expected, "predicted": predicted}, **htmx
        )

    def relabel() -> Any:
        pk, expected, _, position = rng.choice(errors)
        return client.post(
            f"{page}relabel",
            {
                "utterance_id": pk,
                "intent": expected,
                "source": "errors",
                "position": position,
            },
            **htmx,
        )

    actions: list[tuple[str, Callable[[], Any], float | None]] = [
        ("evaluation page (first load)", lambda: client.get(page), EVAL_PAGE_BUDGET_MS),
        (
            "matrix, intents with errors",
            lambda: client.get(page, {"part": "matrix", "rows": "errors"}, **htmx),
            EVAL_PAGE_BUDGET_MS,
        ),
        (
            "matrix, sorted by errors",
            lambda: client.get(page, {"part": "matrix", "order": "errors"}, **htmx),
            EVAL_PAGE_BUDGET_MS,
        ),
        (
            "errors only, page 2",
            lambda: client.get(page, {"part": "errors", "errors_page": "2"}, **htmx),
            EVAL_PAGE_BUDGET_MS,
        ),
        ("cell utterances", cell, EVAL_PAGE_BUDGET_MS),
        ("relabel from errors only", relabel, EDIT_BUDGET_MS),
        (
            "compare two models, by delta",
            lambda: client.get(
                f"{base}compare", {"a": first, "b": second, "sort": "delta"}
            ),
            EVAL_PAGE_BUDGET_MS,
        ),
    ]
    return _time_actions(actions, repeat=repeat, log=log)


def _time_actions(
    actions: Sequence[tuple[str, Callable[[], Any], float | None]],
    *,
    repeat: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Each action once to warm up (first-use imports, template compile), then
    ``repeat`` timed calls: its timing summary with the largest response size."""
    results: dict[str, Any] = {}
    for action, call, budget in actions:
        _timed(call)
        samples = [_timed(call) for _ in range(repeat)]
        summary = Timing(
            [s[0] for s in samples],
            [s[1] for s in samples],
            [s[2] for s in samples],
            [s[3] for s in samples],
            budget,
        ).summary()
        summary["bytes"] = max(s[4] for s in samples)
        results[action] = summary
        log(f"{action}: p50 {summary['p50_ms']} ms, {summary['bytes']:,} bytes")
    return results


# ---------------------------------------------------------------- Data page at scale

SCALE_PAGE_BUDGET_BYTES = 150_000


def measure_scale(project_name: str, *, repeat: int) -> dict[str, Any]:
    """The Data page of a CLINC150-sized project (issue #12): the whole page of 50
    rows (size and server time: rows show their intent as text, the label
    palette's list comes once), the table fragment, a word search, the
    palette's assignment round trip (the POST a palette Enter sends, with the row
    version, and the row it swaps in), a text edit, an undo and the conflicting-
    intents filter. Returns ``{action: summary}`` with ``bytes``."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from projects.models import Intent, Utterance
    from projects.selectors import labeling as selectors_labeling
    from training.models import TrainedModel

    # A model of every intent, deployed, for the pre-label page: trained on a
    # sample, then its TrainedModel row goes with the others (below).
    train_sample_model(
        Seeded(project_name, [], [], [], {}),
        sample=1500,
        model_id="bench-prelabel",
        label="bench-prelabel",
    )
    deploy_model(project_name, "bench-prelabel")
    # The project as imported, before any training: no predictions column (the
    # evaluation seed's models have no artifact to predict with).
    TrainedModel.objects.filter(project__name=project_name).delete()
    # 60 unlabeled utterances: a full page of pre-labels.
    none = Intent.objects.get(project__name=project_name, name="None")
    unlabeled = Utterance.objects.filter(project__name=project_name).order_by("pk")
    Utterance.objects.filter(
        pk__in=list(unlabeled.values_list("pk", flat=True)[:60])
    ).update(intent=none)
    rng = random.Random(3)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-analyst"))
    base = f"/projects/{project_name}/data/"
    table: dict[str, Any] = {
        "HTTP_HX_REQUEST": "true",
        "HTTP_HX_TARGET": "utterance-table",
    }
    rows = list(
        Utterance.objects.filter(project__name=project_name).values_list(
            "pk", flat=True
        )
    )
    names = list(
        Utterance.objects.filter(project__name=project_name)
        .values_list("intent__name", flat=True)
        .distinct()
    )
    some_text = Utterance.objects.filter(project__name=project_name).first()
    words = some_text.text.split()[-3:] if some_text else ["a"]

    def assign() -> Any:
        pk = rng.choice(rows)
        version = Utterance.objects.values_list("version", flat=True).get(pk=pk)
        return client.post(
            f"{base}{pk}/intent/",
            {"intent": rng.choice(names), "version": version},
            HTTP_HX_REQUEST="true",
        )

    def edit() -> Any:
        pk = rng.choice(rows)
        text, version = Utterance.objects.values_list("text", "version").get(pk=pk)
        return client.post(
            f"{base}{pk}/text/",
            {"text": f"{text} again", "version": version},
            HTTP_HX_REQUEST="true",
        )

    def undo() -> Any:
        return client.post(f"{base}undo/", {"next": "?"}, **table)

    def conflicts() -> Any:
        selectors_labeling.predictors_clear()
        return client.get(base, {"duplicates": "conflicts"}, **table)

    actions: list[tuple[str, Callable[[], Any], float | None]] = [
        ("data page, 50 rows (first load)", lambda: client.get(base), PAGE_BUDGET_MS),
        (
            "data page, 50 unlabeled",
            lambda: client.get(base, {"unlabeled": "1"}),
            PAGE_BUDGET_MS,
        ),
        (
            "data page, 50 unlabeled, pre-label",
            lambda: client.get(base, {"unlabeled": "1", "prelabel": "1"}),
            PAGE_BUDGET_MS,
        ),
        (
            "table, 50 rows, page 100",
            lambda: client.get(base, {"page": "100"}, **table),
            PAGE_BUDGET_MS,
        ),
        (
            "table, words in any order",
            lambda: client.get(base, {"q": " ".join(reversed(words))}, **table),
            PAGE_BUDGET_MS,
        ),
        ("palette assign (POST + row)", assign, EDIT_BUDGET_MS),
        ("edit text (POST + row)", edit, EDIT_BUDGET_MS),
        ("undo a single edit (POST + table)", undo, PAGE_BUDGET_MS),
        # Uncached: every labeling write invalidates the duplicate sets, so the
        # first filter after a change groups every utterance's text again.
        (
            "table, same text: conflicting intents",
            conflicts,
            PAGE_BUDGET_MS,
        ),
    ]
    return _time_actions(actions, repeat=repeat, log=log)


SAME_TEXT_SIZES = (15_000, 50_000)


def _add_same_texts(project_name: str, *, share: float = 0.03) -> None:
    """Make ``share`` of the project's utterances repeat an earlier text in another
    spelling (upper case, doubled spaces), half of them under another intent: what
    the "same text" filters find."""
    from projects.models import Intent, Utterance

    rng = random.Random(5)
    rows = list(Utterance.objects.filter(project__name=project_name).only("pk", "text"))
    intents = list(
        Intent.objects.filter(project__name=project_name).values_list("pk", flat=True)
    )
    chosen = rng.sample(rows, int(len(rows) * share))
    for row in chosen:
        source = rng.choice(rows)
        row.text = source.text.upper().replace(" ", "  ", 1)
    Utterance.objects.bulk_update(chosen, ["text"], batch_size=2000)
    for row in chosen[::2]:
        Utterance.objects.filter(pk=row.pk).update(intent_id=rng.choice(intents))


def measure_same_text(
    *, quick: bool, repeat: int, sizes: Sequence[int] | None = None
) -> dict[int, Any]:
    """The table fragment with the "same text: conflicting intents" filter at 150
    intents and 15,000 / 50,000 utterances (issue: costs that grow with the data).
    Each request follows a change (``predictors_clear`` drops any memo)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from projects.selectors import labeling as selectors_labeling
    from training.models import TrainedModel

    results: dict[int, Any] = {}
    if sizes is None:
        sizes = (1_500, 5_000) if quick else SAME_TEXT_SIZES
    client = Client()
    table: dict[str, Any] = {
        "HTTP_HX_REQUEST": "true",
        "HTTP_HX_TARGET": "utterance-table",
    }
    for size in sizes:
        name = f"bench-same-text-{size}"
        seed_evaluation(
            n_intents=15 if quick else EVAL_INTENTS,
            n_utterances=size,
            name=name,
            seed_value=size,
        )
        _add_same_texts(name)
        # As imported, before training: the seed's models have no artifact.
        TrainedModel.objects.filter(project__name=name).delete()
        client.force_login(get_user_model().objects.get(username="bench-analyst"))

        def conflicts(base: str = f"/projects/{name}/data/") -> Any:
            selectors_labeling.predictors_clear()
            return client.get(base, {"duplicates": "conflicts"}, **table)

        results[size] = _time_actions(
            [("same text: conflicting intents", conflicts, PAGE_BUDGET_MS)],
            repeat=repeat,
            log=log,
        )["same text: conflicting intents"]
    return results


def print_same_text_table(results: dict[int, Any]) -> None:
    sizes = sorted(results)
    base = results[sizes[0]]
    print('Data page, "same text: conflicting intents" filter on: server time (ms)')
    print(
        f"{'utterances':>10} {'p50':>7} {'p95':>7} {'cpu p50':>8} {'sql':>4} "
        f"{'cpu x':>6} {'budget':>7}"
    )
    for size in sizes:
        row = results[size]
        ratio = row["cpu_p50_ms"] / max(base["cpu_p50_ms"], 0.1)
        flag = "ok" if row["p95_ms"] <= row["budget_ms"] else "over (wall)"
        print(
            f"{size:10,d} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['cpu_p50_ms']:8.1f} {row['queries']:4d} {ratio:5.1f}x "
            f"{row['budget_ms']:7.0f}  {flag}"
        )


def print_scale_table(
    results: dict[str, Any], *, intents: int, utterances: int
) -> None:
    print(
        f"Data page at scale, {intents} intents, {utterances:,} utterances: "
        "server time (ms) and size"
    )
    print(
        f"{'action':36} {'p50':>7} {'p95':>7} {'cpu p50':>8} {'sql':>4} "
        f"{'bytes':>10} {'budget':>7}"
    )
    for action, row in results.items():
        flags = ["ok" if row["p95_ms"] <= row["budget_ms"] else "over (wall)"]
        if action.startswith("data page"):
            over = row["bytes"] > SCALE_PAGE_BUDGET_BYTES
            flags.append(f"{'over' if over else 'ok'} (<= 150 KB)")
        print(
            f"{action:36} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['cpu_p50_ms']:8.1f} {row['queries']:4d} {row['bytes']:10,d} "
            f"{row['budget_ms'] or 0:7.0f}  {', '.join(flags)}"
        )


def print_table(results: dict[str, Any], *, n_utterances: int, database: str) -> None:
    print(f"Labeling screen, {n_utterances:,} utterances, {database}: server time (ms)")
    print(
        f"{'action':42} {'p50':>7} {'p95':>7} {'max':>7} {'cpu p50':>8} "
        f"{'cpu p95':>8} {'db p50':>7} {'sql':>4} {'budget':>7}"
    )
    for action, row in results.items():
        budget = f"{row['budget_ms']:.0f}" if row["budget_ms"] else "-"
        flag = ""
        if row["budget_ms"]:
            flag = "  ok" if row["p95_ms"] <= row["budget_ms"] else "  over (wall)"
        print(
            f"{action:42} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['max_ms']:7.1f} {row['cpu_p50_ms']:8.1f} {row['cpu_p95_ms']:8.1f} "
            f"{row['db_p50_ms']:7.1f} {row['queries']:4d} {budget:>7}{flag}"
        )
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")


def print_evaluation_table(
    results: dict[str, Any], *, seeded: SeededEvaluation
) -> None:
    print(
        f"Evaluation screens, {len(seeded.intent_names)} intents, "
        f"{seeded.test_count:,} test utterances: server time (ms) and size"
    )
    print(
        f"{'action':36} {'p50':>7} {'p95':>7} {'cpu p50':>8} {'sql':>4} "
        f"{'bytes':>10} {'budget':>7}"
    )
    for action, row in results.items():
        flags = []
        if row["budget_ms"]:
            flags.append("ok" if row["p95_ms"] <= row["budget_ms"] else "over (wall)")
        if action.startswith("evaluation page"):
            over = row["bytes"] > EVAL_PAGE_BUDGET_BYTES
            flags.append(f"{'over' if over else 'ok'} (<= 1.5 MB)")
        print(
            f"{action:36} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['cpu_p50_ms']:8.1f} {row['queries']:4d} {row['bytes']:10,d} "
            f"{row['budget_ms'] or 0:7.0f}  {', '.join(flags)}"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.labeling", description=__doc__
    )
    parser.add_argument("--utterances", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--no-model", action="store_true")
    add_database_argument(parser)
    parser.add_argument(
        "--evaluation",
        choices=("both", "only", "skip"),
        default="both",
        help="also time the evaluation screens at 150 intents / 15,000 utterances "
        "(only: nothing else; skip: the Data screen alone)",
    )
    parser.add_argument(
        "--scale",
        choices=("both", "only", "skip"),
        default="both",
        help="also time the Data page of a 150-intent / 15,000-utterance project "
        "(page bytes, server time, palette assignment; only: nothing else)",
    )
    parser.add_argument(
        "--same-text",
        choices=("both", "only", "skip"),
        default="both",
        help='also time the "same text" filter at 150 intents and 15,000 / '
        "50,000 utterances, with the ratio (only: nothing else)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 utterances, 5 runs")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.utterances, args.repeat = 2000, 5
    results: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}
    scale: dict[str, Any] = {}
    scale_size = (15, 1500) if args.quick else (EVAL_INTENTS, EVAL_UTTERANCES)
    if args.scale == "only":
        args.evaluation = "skip"
    same_text: dict[int, Any] = {}
    if args.same_text == "only":
        args.evaluation, args.scale = "skip", "skip"
    with throwaway_database(args.database_url) as database:
        if (
            args.same_text != "only"
            and args.evaluation != "only"
            and (args.scale != "only")
        ):
            started = time.perf_counter()
            seeded = seed(args.utterances)
            took = time.perf_counter() - started
            log(f"seeded {args.utterances:,} utterances in {took:.1f} s")
            if not args.no_model:
                started = time.perf_counter()
                train_sample_model(seeded)
                deploy_model(seeded.project_name, "bench-1")
                took = time.perf_counter() - started
                log(f"trained the sample model in {took:.1f} s")
            results = measure(seeded, repeat=args.repeat, with_model=not args.no_model)
        if args.evaluation != "skip":
            started = time.perf_counter()
            size = (15, 1500) if args.quick else (EVAL_INTENTS, EVAL_UTTERANCES)
            seeded_eval = seed_evaluation(n_intents=size[0], n_utterances=size[1])
            took = time.perf_counter() - started
            log(f"seeded the evaluation project in {took:.1f} s")
            evaluation = measure_evaluation(
                seeded_eval, repeat=max(3, args.repeat // 4)
            )
        if args.scale != "skip" and args.evaluation != "only":
            started = time.perf_counter()
            seeded_scale = seed_evaluation(
                n_intents=scale_size[0],
                n_utterances=scale_size[1],
                name="bench-data-scale",
            )
            took = time.perf_counter() - started
            log(f"seeded the 150-intent Data project in {took:.1f} s")
            scale = measure_scale(
                seeded_scale.project_name, repeat=max(3, args.repeat // 4)
            )
        if args.same_text != "skip" and "only" not in (args.evaluation, args.scale):
            same_text = measure_same_text(
                quick=args.quick, repeat=max(3, args.repeat // 4)
            )
    if same_text:
        print_same_text_table(same_text)
    if scale:
        print_scale_table(scale, intents=scale_size[0], utterances=scale_size[1])
    if results:
        print_table(results, n_utterances=args.utterances, database=database)
    if evaluation:
        print_evaluation_table(evaluation, seeded=seeded_eval)
    if args.json:
        same = {f"same text {n}": row for n, row in same_text.items()}
        print(json.dumps({**results, **evaluation, **scale, **same}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
