"""Reads the core selectors do not offer, for ``/api/v1/`` and the QnA sources."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q

from projects.models import Intent, Project, QnaPair


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


def kb_source_list(*, project: Project) -> list[dict[str, Any]]:
    """The KB's distinct sources as Azure's QnaSourceRecord, by name."""
    rows = (
        QnaPair.objects.filter(project=project)
        .exclude(source="")
        .values("source")
        .annotate(last=Max("last_updated_at"))
        .order_by("source")
    )
    out = []
    for row in rows:
        source = row["source"]
        is_url = source.startswith(("http://", "https://"))
        last = row["last"]
        out.append(
            {
                "displayName": source,
                "source": source,
                "sourceUri": source,
                "sourceKind": "url" if is_url else "file",
                "contentStructureKind": "unstructured",
                "lastUpdatedDateTime": (
                    last.isoformat().replace("+00:00", "Z") if last else None
                ),
            }
        )
    return out
