"""The review queue's writes — triage one group of logged queries (all duplicates
of one normalized text at once) — and "add to data" from the playground and the
evaluation, which shares its rule for where a corrected query goes.

``accept`` (the predicted intent), ``label`` (another intent) and ``none`` (out of
scope: intent ``None``) add the query to the project's data — in the dataset the
project's ``review_dataset`` setting names — or relabel the utterance of the same
text the project already has, and link every log of the group to that utterance
(its source). ``skip`` puts the group aside (the queue's "skipped" view brings it
back); ``discard`` drops it. Each action is one transaction and one audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from projects.models import Project, Utterance
from projects.services import Labeler, utterances_bulk_create, utterances_bulk_update
from projects.services._common import project_lock
from studio.audit import audit_record
from studio.errors import InvalidArgument, NotFound
from training.engine.review import NONE_INTENT
from training.models import PredictionLog
from training.selectors.review import review_group
from training.services.review_recipe import review_keys_catch_up

Status = PredictionLog.ReviewStatus
# The audit row of one triage names at most this many of the group's log ids (the
# oldest; ``logCount`` says how many it closed): a query asked thousands of times
# is one group.
AUDIT_LOG_IDS = 1000

ACTIONS = ("accept", "label", "none", "skip", "discard")
_STATUS = {
    "accept": Status.ACCEPTED,
    "label": Status.LABELED,
    "none": Status.NONE,
    "skip": Status.SKIPPED,
    "discard": Status.DISCARDED,
}


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    action: str
    text: str
    count: int
    intent: str | None = None
    utterance: Utterance | None = None
    created: bool = False

    @property
    def summary(self) -> str:
        times = f" ({self.count}×)" if self.count > 1 else ""
        if self.action == "skip":
            return f"Skipped “{self.text}”{times}."
        if self.action == "discard":
            return f"Discarded “{self.text}”{times}."
        verb = "Added" if self.created else "Relabeled"
        dataset = self.utterance.dataset if self.utterance is not None else None
        where = f" to {dataset}" if self.created and dataset else ""
        return f"{verb} “{self.text}”{times} as {self.intent}{where}."


def _intent_for(action: str, intent: str | None, predicted: str) -> str | None:
    if action == "accept":
        return predicted or NONE_INTENT
    if action == "none":
        return NONE_INTENT
    if action == "label":
        if not intent:
            raise InvalidArgument("Choose an intent for this query.", target="intent")
        return intent
    return None


def _utterance_for(
    *,
    project: Project,
    text: str,
    intent: str,
    labeled_by: Labeler | None,
    dataset: str | None = None,
) -> tuple[Utterance, bool]:
    """The project's utterance of this text, labeled ``intent`` (relabeled when it
    had another), or a new one in ``dataset`` (the review dataset by default).
    The caller holds the project lock."""
    existing = project.utterances.filter(text=text).order_by("id").first()
    if existing is not None:
        if existing.intent.name != intent:
            utterances_bulk_update(
                project=project,
                ids=[existing.pk],
                changes={"intent": intent},
                labeled_by=labeled_by,
            )
            existing.refresh_from_db()
        return existing, False
    (created,) = utterances_bulk_create(
        project=project,
        items=[
            {
                "text": text,
                "intent": intent,
                "dataset": project.review_dataset if dataset is None else dataset,
            }
        ],
        labeled_by=labeled_by,
    )
    return created, True


def _intent_check(project: Project, name: str) -> None:
    if not project.intents.filter(name=name).exists():
        raise InvalidArgument(
            f"There is no intent {name!r} in project {project.name!r}.",
            target="intent",
        )


@dataclass(frozen=True, slots=True)
class DataAdded:
    utterance: Utterance
    created: bool

    @property
    def summary(self) -> str:
        u = self.utterance
        if self.created:
            return f"Added “{u.text}” as {u.intent.name} to {u.dataset or 'the data'}."
        return f"“{u.text}” is in the data as {u.intent.name}."


def data_add_corrected(
    *,
    project: Project,
    text: str,
    intent: str,
    source: dict[str, Any],
    labeled_by: Labeler | None = None,
) -> DataAdded:
    """ "Add to data" from the playground or an evaluation: ``text`` with the
    corrected ``intent`` joins the project's review dataset (an utterance of the
    same text is relabeled instead), and ``source`` (where it came from) goes to
    the audit trail."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise InvalidArgument("There is no text to add.", target="text")
    if not isinstance(intent, str) or not intent:
        raise InvalidArgument("Choose an intent.", target="intent")
    with transaction.atomic():
        project = project_lock(project=project)
        _intent_check(project, intent)
        utterance, created = _utterance_for(
            project=project, text=text, intent=intent, labeled_by=labeled_by
        )
        audit_record(
            action="data.add",
            project=project,
            target=f"utterance {utterance.pk}",
            before={"source": source},
            after={
                "text": utterance.text,
                "intent": intent,
                "dataset": utterance.dataset,
                "created": created,
            },
        )
    return DataAdded(utterance=utterance, created=created)


def review_act(
    *,
    project: Project,
    log_id: int,
    action: str,
    intent: str | None = None,
    user: AbstractBaseUser | None = None,
    labeled_by: Labeler | None = None,
) -> ReviewOutcome:
    """Triage the group of logged query ``log_id`` (see the module docstring)."""
    if action not in ACTIONS:
        raise InvalidArgument(
            f"Unknown review action; one of {', '.join(ACTIONS)}.", target="action"
        )
    if intent is not None and not isinstance(intent, str):
        raise InvalidArgument("intent must be an intent's name.", target="intent")
    # Before the transaction, never under the project's lock (SQLite: the
    # database's write lock) that it holds: a bounded batch, each committed alone.
    review_keys_catch_up(project=project)
    with transaction.atomic():
        project = project_lock(project=project)
        group = review_group(project=project, log_id=log_id)
        if group is None:
            raise NotFound(
                "This query is not waiting for review (reviewed meanwhile?).",
                target="id",
            )
        name = _intent_for(action, intent, group.signals.top_intent)
        if name is not None:
            _intent_check(project, name)
        utterance, created = None, False
        if name is not None:
            utterance, created = _utterance_for(
                project=project, text=group.text, intent=name, labeled_by=labeled_by
            )
        PredictionLog.objects.filter(pk__in=group.ids).update(
            review_status=_STATUS[action],
            reviewed_at=timezone.now(),
            reviewed_by_id=None if user is None else user.pk,
            utterance=utterance,
        )
        after: dict[str, Any] = {"status": _STATUS[action].value}
        if utterance is not None:
            after.update(
                intent=name,
                utterance=utterance.pk,
                dataset=utterance.dataset,
                created=created,
            )
        audit_record(
            action=f"review.{action}",
            project=project,
            target=f"query “{group.text}”",
            before={
                "topIntent": group.signals.top_intent,
                "confidenceScore": round(group.signals.confidence, 4),
                "logCount": group.count,
                "logIds": sorted(group.ids)[:AUDIT_LOG_IDS],
                "deployments": sorted(group.deployments),
            },
            after=after,
        )
    return ReviewOutcome(
        action=action,
        text=group.text,
        count=group.count,
        intent=name,
        utterance=utterance,
        created=created,
    )
