"""Reads for the ``/api/v1/`` fine-grained API that the core selectors do not offer."""

from __future__ import annotations

from django.db.models import Count, Q

from projects.models import Intent, Project


def _counts(train: int, test: int, total: int) -> dict[str, int]:
    return {
        "Train": train,
        "Test": test,
        "unassigned": total - train - test,
        "total": total,
    }


def intent_list_with_counts(*, project: Project) -> list[tuple[Intent, dict[str, int]]]:
    """The project's intents in order, each with its utterance count per dataset,
    in one query."""
    intents = project.intents.order_by("id").annotate(
        n_total=Count("utterances"),
        n_train=Count("utterances", filter=Q(utterances__dataset="Train")),
        n_test=Count("utterances", filter=Q(utterances__dataset="Test")),
    )
    return [(i, _counts(i.n_train, i.n_test, i.n_total)) for i in intents]


def intent_utterance_counts(*, intent: Intent) -> dict[str, int]:
    agg = intent.utterances.aggregate(
        total=Count("id"),
        train=Count("id", filter=Q(dataset="Train")),
        test=Count("id", filter=Q(dataset="Test")),
    )
    return _counts(agg["train"], agg["test"], agg["total"])
