"""Review queue benchmark: what listing the queue costs as prediction logs pile up.

    python -m bench.review_queue [--logs 5000,20000,100000] [--repeat 10]
                                 [--database-url postgres://...] [--quick] [--json]

Creates a throwaway database (Django's test database: in-memory SQLite by default,
``test_<name>`` on the server of ``--database-url``/``DATABASE_URL``), and for each
size seeds one Conversation project (150 intents) with that many pending prediction
logs as a bot's traffic leaves them: CLU-shaped predictions with ranked intents and
some low-confidence entities, about one query in three a repeat of an earlier one
with another spelling (case, spacing, punctuation). It then times, through Django's
test client with an analyst signed in, the review screen's list fragment (what the
filters and every action re-render) and, selector-side, what the screen and the first
page of ``GET /api/v1/.../review`` read (``review_queue``: the number of groups and
of logs, and the first 50 groups; also "first read", with the process's remembered
signals dropped, as after a restart), ``--repeat`` times each: p50 and CPU p50 per
size, and the ratio against the smallest size measured in the same run. "before" is
the selector as it was until the stored keys (``legacy_review_queue``: the newest
20,000 logs grouped and ranked in Python), timed in the same run on the same data.
Nothing here asserts; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.studio_db import FILLER_WORDS, add_database_argument, throwaway_database

N_INTENTS = 150
WORDS = [
    *FILLER_WORDS,
    "card",
    "bill",
    "flight",
    "hotel",
    "pay",
    "transfer",
    "balance",
    "book",
    "cancel",
    "order",
    "status",
    "change",
    "pin",
    "lost",
    "reset",
    "account",
    "weather",
    "time",
]


def log(message: str) -> None:
    print(f"[bench.review_queue] {message}", file=sys.stderr, flush=True)


def _prediction(rng: random.Random, names: list[str]) -> dict[str, Any]:
    picked = rng.sample(names, 3)
    top = rng.uniform(0.2, 0.99)
    second = rng.uniform(0.0, top)
    prediction: dict[str, Any] = {
        "projectKind": "Conversation",
        "topIntent": picked[0],
        "intents": [
            {"category": picked[0], "confidenceScore": round(top, 4)},
            {"category": picked[1], "confidenceScore": round(second, 4)},
            {"category": picked[2], "confidenceScore": round(second / 2, 4)},
        ],
        "entities": [],
    }
    if rng.random() < 0.1:
        prediction["entities"].append(
            {"category": "Place", "text": "x", "confidenceScore": rng.random()}
        )
    return prediction


def _respell(rng: random.Random, text: str) -> str:
    """Another spelling of ``text`` with the same normalized key."""
    roll = rng.random()
    if roll < 0.3:
        return text.upper()
    if roll < 0.6:
        return "  " + text.replace(" ", "  ") + "?"
    return text


def seed(n_logs: int, *, seed_value: int = 0) -> str:
    """A project with ``n_logs`` pending logs and an analyst; returns its name."""
    from django.contrib.auth import get_user_model

    from projects.models import Intent, Project, ProjectMembership
    from training.models import PredictionLog

    rng = random.Random(seed_value)
    name = f"bench-review-{n_logs}"
    project = Project.objects.create(
        name=name, kind=Project.Kind.CONVERSATION, language="en-us"
    )
    names = [f"intent_{n:03d}" for n in range(N_INTENTS)]
    Intent.objects.bulk_create(
        [Intent(project=project, name="None")]
        + [Intent(project=project, name=n) for n in names]
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-analyst")
    ProjectMembership.objects.create(project=project, user=user, role="analyst")
    texts: list[str] = []
    rows = []
    for _ in range(n_logs):
        if texts and rng.random() < 0.35:
            query = _respell(rng, rng.choice(texts))
        else:
            query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))
            query = f"{query} {len(texts)}"
            texts.append(query)
        prediction = _prediction(rng, names)
        rows.append(
            PredictionLog(
                project=project,
                deployment_name=rng.choice(("production", "staging")),
                model_id="bench-model",
                query=query,
                language="en-us",
                top_intent=prediction["topIntent"],
                confidence=prediction["intents"][0]["confidenceScore"],
                prediction=prediction,
            )
        )
    PredictionLog.objects.bulk_create(rows, batch_size=2000)
    return name


# The window of the Python selector that ``review_queue`` replaced.
LEGACY_WINDOW = 20_000
# What the review screen and an API page show.
PAGE = 50


def legacy_review_queue(project: Any) -> list[Any]:
    """The queue as it was computed before ``text_key``/``base_score`` (kept here to
    time "before" in the same run): the newest ``LEGACY_WINDOW`` pending logs read
    and grouped in Python, each group's newest prediction decoded once per process,
    every group scored and sorted; older logs were not listed."""
    from training.engine import review as rv
    from training.selectors import review as sr

    groups: dict[str, Any] = {}
    keys: dict[str, str] = {}
    rows = sr.pending_logs(project=project, filters=sr.ReviewFilter()).values_list(
        "id", "query", "created_at", "deployment_name", "model_id"
    )[:LEGACY_WINDOW]
    for pk, query, created_at, deployment, model_id in rows:
        key = keys.get(query)
        if key is None:
            key = keys[query] = rv.normalize(query) or query
        group = groups.get(key)
        if group is None:
            group = groups[key] = sr.ReviewGroup(
                id=pk,
                key=key,
                text=query,
                ids=[],
                signals=sr._NO_SIGNALS,
                score=0.0,
                last_seen=created_at,
            )
        group.ids.append(pk)
        group.deployments.add(deployment)
        group.models.add(model_id)
        group.spellings[query] += 1
    found = sr._signals_of([(g.id, g.last_seen) for g in groups.values()])
    for group in groups.values():
        group.signals = found.get(group.id, sr._NO_SIGNALS)
        group.score = rv.teach_score(group.signals, count=group.count)
        group.text = sr._shown_text(group.spellings)
    return sr.review_order(list(groups.values()))


def _timed(call: Callable[[], Any]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.thread_time()
    result = call()
    wall = (time.perf_counter() - started) * 1000
    cpu_ms = (time.thread_time() - cpu) * 1000
    status = getattr(result, "status_code", 200)
    if status >= 400:
        raise RuntimeError(f"{status}: {result.content[:300]!r}")
    return wall, cpu_ms


def measure(name: str, *, repeat: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from projects.models import Project
    from training.selectors import review as sr

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-analyst"))
    project = Project.objects.get(name=name)
    url = f"/projects/{name}/review/"
    fragment: dict[str, Any] = {
        "HTTP_HX_REQUEST": "true",
        "HTTP_HX_TARGET": "review-queue",
    }
    # Forgets what earlier requests decoded (absent before the per-process memo).
    forget = getattr(sr, "review_signals_clear", lambda: None)

    def screen() -> tuple[int, int, list[Any]]:
        """What the screen and the API's first page read from the selector."""
        queue = sr.review_queue(project=project, filters=sr.ReviewFilter())
        return len(queue), queue.total_logs, queue[:PAGE]

    def cold() -> Any:
        forget()
        return screen()

    def legacy_cold() -> Any:
        forget()
        return legacy_review_queue(project)

    actions: dict[str, Callable[[], Any]] = {
        "before: selector, first read": legacy_cold,
        "before: selector": lambda: legacy_review_queue(project),
        "review_queue(), first read": cold,
        "review_queue() selector": screen,
        "review list fragment (GET)": lambda: client.get(url, **fragment),
    }
    results: dict[str, Any] = {}
    for action, call in actions.items():
        if action.startswith("before"):
            old = legacy_review_queue(project)
            groups, logs = len(old), sum(g.count for g in old)
        else:
            groups, logs, _ = screen()
        _timed(call)  # warm up
        samples = [_timed(call) for _ in range(repeat)]
        results[action] = {
            "p50_ms": round(statistics.median(s[0] for s in samples), 1),
            "cpu_p50_ms": round(statistics.median(s[1] for s in samples), 1),
            "groups": groups,
            "logs_listed": logs,
        }
        log(f"{name} {action}: p50 {results[action]['p50_ms']} ms")
    return results


def print_table(results: dict[int, dict[str, Any]]) -> None:
    sizes = sorted(results)
    base = sizes[0]
    print("Review queue list, 150 intents: server time (ms) by pending logs")
    print(
        f"{'logs':>8} {'action':30} {'p50':>8} {'cpu p50':>8} {'groups':>7} "
        f"{'listed':>8} {'x ' + format(base, ','):>9}"
    )
    for size in sizes:
        for action, row in results[size].items():
            ratio = row["cpu_p50_ms"] / max(results[base][action]["cpu_p50_ms"], 0.1)
            print(
                f"{size:8,d} {action:30} {row['p50_ms']:8.1f} "
                f"{row['cpu_p50_ms']:8.1f} {row['groups']:7,d} "
                f"{row['logs_listed']:8,d} {ratio:8.1f}x"
            )
    print("(ratio: CPU p50 against the smallest size, same run)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.review_queue", description=__doc__
    )
    parser.add_argument("--logs", default="5000,20000,100000")
    parser.add_argument("--repeat", type=int, default=10)
    add_database_argument(parser)
    parser.add_argument("--quick", action="store_true", help="500,2000 logs, 3 runs")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.logs, args.repeat = "500,2000", 3
    sizes = sorted({int(n) for n in args.logs.split(",") if n.strip()})
    results: dict[int, dict[str, Any]] = {}
    with throwaway_database(args.database_url):
        for size in sizes:
            started = time.perf_counter()
            name = seed(size)
            log(f"seeded {size:,} logs in {time.perf_counter() - started:.1f} s")
            results[size] = measure(name, repeat=args.repeat)
    print_table(results)
    if args.json:
        print(json.dumps({str(k): v for k, v in results.items()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
