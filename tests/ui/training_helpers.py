"""Data and runners for the train / models / deployments / playground view tests.

``seed_utterances(project)`` gives the ``conv`` project two clearly separable
intents (8 utterances each, 2 of each in the Test dataset, one deliberately
mislabeled test utterance) so a real training run produces a model with both a
correct and an off-diagonal confusion-matrix cell. ``run_jobs`` runs the jobs a
request queues (eager Celery fires on commit; the test transaction never commits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from projects.models import Intent, Project, Utterance

TRAVEL = [
    "book a flight to paris",
    "fly me to london tomorrow",
    "i need a plane ticket",
    "reserve a seat on the next flight",
    "get me a flight to rome",
    "book plane tickets for two",
    "find flights to berlin",
    "i want to fly to madrid",
]
WEATHER = [
    "what's the weather like",
    "will it rain today",
    "is it sunny outside",
    "weather forecast for tomorrow",
    "how cold is it outside",
    "will it snow this weekend",
    "is it going to be windy",
    "what is the temperature now",
]


def seed_utterances(project: Project) -> dict[str, Intent]:
    intents = {
        name: Intent.objects.get_or_create(project=project, name=name)[0]
        for name in ("Travel", "Weather")
    }
    rows = []
    for name, texts in (("Travel", TRAVEL), ("Weather", WEATHER)):
        for index, text in enumerate(texts):
            rows.append(
                Utterance(
                    project=project,
                    intent=intents[name],
                    text=text,
                    dataset="Test" if index >= len(texts) - 2 else "Train",
                )
            )
    # A weather question labeled Travel in the Test set: an off-diagonal cell.
    rows.append(
        Utterance(
            project=project,
            intent=intents["Travel"],
            text="is it raining in paris today",
            dataset="Test",
        )
    )
    Utterance.objects.bulk_create(rows)
    return intents


@contextmanager
def run_jobs(capture: Callable[..., Any]) -> Iterator[None]:
    with capture(execute=True):
        yield
