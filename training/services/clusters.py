"""Labeling a cluster of waiting queries at once (``training.selectors.clusters``).

One analyst action acts on every item of the cluster except the ones excluded:

- ``label``: they join the data with ``intent`` (in the project's review dataset;
  an utterance of the same text is relabeled instead), as the queue's "label" does;
- ``none``: the same with intent ``None`` (out of scope);
- ``create``: creates the intent ``newIntent`` (the cluster's suggestion, or a
  name the analyst typed) and labels them with it;
- ``skip`` / ``discard``: as in the queue.

Their logs keep a link to the utterance they became. Excluded items stay waiting
(in the queue and in what is left of the cluster). Everything is one transaction:
the intent, the utterances (each with its label audit event), the logs' status,
and one ``review.cluster.<action>`` audit event with the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from projects.models import Project, Utterance
from projects.services import (
    Labeler,
    intent_create,
    utterances_bulk_create,
    utterances_bulk_update,
)
from projects.services._common import project_lock
from studio.audit import audit_record
from studio.errors import InvalidArgument, NotFound
from training.engine.review import NONE_INTENT
from training.models import PredictionLog
from training.selectors.clusters import ClusterItem, review_cluster

Status = PredictionLog.ReviewStatus
CLUSTER_ACTIONS = ("label", "none", "create", "skip", "discard")
_STATUS = {
    "label": Status.LABELED,
    "none": Status.NONE,
    "create": Status.LABELED,
    "skip": Status.SKIPPED,
    "discard": Status.DISCARDED,
}
MAX_EXCLUDE = 5_000


@dataclass(frozen=True, slots=True)
class ClusterOutcome:
    action: str
    items: int  # distinct queries acted on
    logs: int  # logged queries acted on (repeats included)
    excluded: int
    intent: str | None = None
    created_intent: bool = False
    added: int = 0  # new utterances
    relabeled: int = 0  # existing utterances of the same text, now ``intent``

    @property
    def summary(self) -> str:
        what = f"{self.items} quer{'y' if self.items == 1 else 'ies'}"
        kept = f" ({self.excluded} excluded, still waiting)" if self.excluded else ""
        if self.action == "skip":
            return f"Skipped {what}{kept}."
        if self.action == "discard":
            return f"Discarded {what}{kept}."
        new = (
            f"Created intent {self.intent}; labeled"
            if self.created_intent
            else ("Labeled")
        )
        return f"{new} {what} as {self.intent}{kept}."


def _exclusions(exclude: Any) -> set[int]:
    if exclude is None:
        return set()
    if not isinstance(exclude, list | tuple | set) or len(exclude) > MAX_EXCLUDE:
        raise InvalidArgument(
            "exclude must be a list of item ids of the cluster.", target="exclude"
        )
    ids = set()
    for n, value in enumerate(exclude):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(
                f"exclude[{n}] must be an item id (an integer).",
                target=f"exclude[{n}]",
            )
        ids.add(value)
    return ids


def _label(
    *,
    project: Project,
    items: Sequence[ClusterItem],
    intent: str,
    labeled_by: Labeler | None,
) -> tuple[dict[int, Utterance], int, int]:
    """Each item's utterance labeled ``intent``: the project's utterance of the same
    text (relabeled when it had another intent), else a new one in the review
    dataset. Returns ({item id: utterance}, added, relabeled)."""
    texts = {item.text for item in items}
    existing: dict[str, Utterance] = {}
    for utterance in (
        project.utterances.filter(text__in=texts)
        .select_related("intent")
        .order_by("-id")
    ):
        existing[utterance.text] = utterance  # the oldest wins, as the queue's
    relabel = [u.pk for u in existing.values() if u.intent.name != intent]
    if relabel:
        utterances_bulk_update(
            project=project,
            ids=relabel,
            changes={"intent": intent},
            labeled_by=labeled_by,
        )
    new_texts = [t for t in dict.fromkeys(i.text for i in items) if t not in existing]
    created: list[Utterance] = []
    if new_texts:
        created = utterances_bulk_create(
            project=project,
            items=[
                {"text": t, "intent": intent, "dataset": project.review_dataset}
                for t in new_texts
            ],
            labeled_by=labeled_by,
        )
    by_text = {**existing, **{u.text: u for u in created}}
    return {item.id: by_text[item.text] for item in items}, len(created), len(relabel)


def review_cluster_act(
    *,
    project: Project,
    cluster_id: int,
    action: str,
    intent: str | None = None,
    new_intent: str | None = None,
    exclude: Any = None,
    deployment: str = "",
    version: int | None = None,
    user: AbstractBaseUser | None = None,
    labeled_by: Labeler | None = None,
) -> ClusterOutcome:
    """Act on cluster ``cluster_id`` minus the items ``exclude`` names (see the
    module docstring). ``deployment`` and ``version``: the filter and the
    clustering the cluster was listed with."""
    if action not in CLUSTER_ACTIONS:
        raise InvalidArgument(
            f"Unknown cluster action; one of {', '.join(CLUSTER_ACTIONS)}.",
            target="action",
        )
    excluded_ids = _exclusions(exclude)
    if action == "label" and (not isinstance(intent, str) or not intent):
        raise InvalidArgument("Choose an intent for this cluster.", target="intent")
    if action == "create" and (not isinstance(new_intent, str) or not new_intent):
        raise InvalidArgument(
            "Name the new intent for this cluster.", target="newIntent"
        )
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int)
    ):
        raise InvalidArgument("version must be an integer.", target="version")
    # Once outside the lock: a clustering not cached yet takes seconds to make,
    # too long to hold the project; under the lock it is read from the cache.
    found = review_cluster(
        project=project, cluster_id=cluster_id, deployment=deployment, version=version
    )
    with transaction.atomic():
        project = project_lock(project=project)
        cluster = found and review_cluster(
            project=project,
            cluster_id=cluster_id,
            deployment=deployment,
            version=found.version,
        )
        if cluster is None:
            raise NotFound(
                "This cluster is no longer waiting for review (labeled meanwhile, "
                "or new traffic regrouped the clusters: reload them).",
                target="id",
            )
        ids = {item.id for item in cluster.items}
        unknown = sorted(excluded_ids - ids)
        if unknown:
            raise InvalidArgument(
                f"Item {unknown[0]} is not in this cluster (or was triaged meanwhile).",
                target="exclude",
            )
        items = [item for item in cluster.items if item.id not in excluded_ids]
        if not items:
            raise InvalidArgument(
                "Every item is excluded: nothing to act on.", target="exclude"
            )
        created_intent = False
        name: str | None = None
        if action == "create":
            assert isinstance(new_intent, str)  # noqa: S101 - checked above
            created = intent_create(
                project=project,
                data={"category": new_intent.strip()},
                targets_allowed=False,
                actor=user,
            )
            name, created_intent = created.name, True
        elif action == "label":
            name = intent
            if not project.intents.filter(name=name).exists():
                raise InvalidArgument(
                    f"There is no intent {name!r} in project {project.name!r}.",
                    target="intent",
                )
        elif action == "none":
            name = NONE_INTENT
        utterances: dict[int, Utterance] = {}
        added = relabeled = 0
        if name is not None:
            utterances, added, relabeled = _label(
                project=project, items=items, intent=name, labeled_by=labeled_by
            )
        now = timezone.now()
        for item in items:
            PredictionLog.objects.filter(pk__in=item.log_ids).update(
                review_status=_STATUS[action],
                reviewed_at=now,
                reviewed_by_id=None if user is None else user.pk,
                utterance=utterances.get(item.id),
            )
        logs = sum(item.count for item in items)
        audit_record(
            action=f"review.cluster.{action}",
            project=project,
            target=f"cluster of “{cluster.items[0].text}”",
            before={
                "cluster": cluster.id,
                "topIntent": cluster.top_intent,
                "topTerms": list(cluster.top_terms),
                "itemIds": sorted(item.id for item in items),
                "excluded": sorted(excluded_ids),
            },
            after={
                "status": _STATUS[action].value,
                "intent": name,
                "createdIntent": created_intent,
                "count": len(items),
                "logs": logs,
                "added": added,
                "relabeled": relabeled,
            },
        )
    return ClusterOutcome(
        action=action,
        items=len(items),
        logs=logs,
        excluded=len(excluded_ids),
        intent=name,
        created_intent=created_intent,
        added=added,
        relabeled=relabeled,
    )
