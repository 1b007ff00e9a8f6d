"""The deploy gate's data (the comparison itself is ``training/services/gate.py``):
the pinned copy of the Test set, the golden flag of utterances, and the project's
threshold and guarded deployments.

Each write runs in one transaction with its audit event: ``gate.pin``,
``utterance.golden`` and ``project.settings`` (``gateMaxAccuracyDrop``,
``gateDeployments``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from projects.models import PinnedEvaluationSet, Project, Utterance
from projects.services._common import project_lock
from projects.services.audit import project_settings_state, settings_record
from projects.services.labeling import _row_locked
from projects.validators import deployment_name_error
from studio.audit import audit_actor, audit_record
from studio.errors import InvalidArgument, NotFound

GATE_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)


def _check_kind(project: Project) -> None:
    if project.kind not in GATE_KINDS:
        raise InvalidArgument(
            f"Project {project.name!r} is a {project.kind} project: the deploy gate "
            "compares intent models (Conversation and Orchestration projects).",
            target="projectName",
        )


def _actor_name() -> str:
    actor = audit_actor()
    if actor.api_key_name and actor.username:
        return f"{actor.username} (API key {actor.api_key_name})"
    if actor.api_key_name:
        return f"API key {actor.api_key_name}"
    return actor.username or "system"


def evaluation_set_pin(*, project: Project) -> PinnedEvaluationSet:
    """Copy the project's Test utterances (text, intent, language) as they are now
    into its pinned evaluation set, replacing the previous pin."""
    _check_kind(project)
    with transaction.atomic():
        project = project_lock(project=project)
        items: list[dict[str, Any]] = []
        for text, intent, language in (
            Utterance.objects.filter(project=project, dataset=Utterance.Dataset.TEST)
            .order_by("id")
            .values_list("text", "intent__name", "language")
        ):
            item = {"text": text, "intent": intent}
            if language:
                item["language"] = language
            items.append(item)
        previous = PinnedEvaluationSet.objects.filter(project=project).first()
        actor = audit_actor()
        pinned, _ = PinnedEvaluationSet.objects.update_or_create(
            project=project,
            defaults={
                "items": items,
                "pinned_at": timezone.now(),
                "pinned_by_id": actor.user_id,
                "pinned_by_name": _actor_name(),
            },
        )
        audit_record(
            action="gate.pin",
            project=project,
            target=f"evaluation set of {project.name}",
            before=None
            if previous is None
            else {
                "utteranceCount": previous.count,
                "pinnedDateTime": previous.pinned_at.isoformat(),
            },
            after={"utteranceCount": len(items)},
        )
    return pinned


def utterance_golden_set(
    *, project: Project, pk: int, golden: bool, version: int | None = None
) -> Utterance:
    """Mark (or unmark) one utterance as golden. ``version``: the one the caller
    saw (the Data screen's row), refused with 412 when the row changed since."""
    _check_kind(project)
    if not isinstance(golden, bool):
        raise InvalidArgument("golden must be true or false.", target="golden")
    with transaction.atomic():
        project = project_lock(project=project)
        row = _row_locked(project, pk, version)
        if row.golden != golden:
            Utterance.objects.filter(pk=row.pk).update(
                golden=golden, version=F("version") + 1
            )
            audit_record(
                action="utterance.golden",
                project=project,
                target=f"utterance {row.pk}",
                before={"text": row.text, "golden": row.golden},
                after={"text": row.text, "golden": golden},
            )
        row.refresh_from_db()
    return row


def golden_utterance_get(*, project: Project, pk: int) -> Utterance:
    row = Utterance.objects.filter(project=project, pk=pk).first()
    if row is None:
        raise NotFound(
            f"Utterance {pk} not found in project {project.name!r}.", target="id"
        )
    return row


class _Unchanged:
    """The value of a gate setting the caller leaves as it is."""


UNCHANGED: Any = _Unchanged()
MAX_GATED_DEPLOYMENTS = 10  # a project has at most 10 deployments


def _max_drop_clean(max_drop: Any) -> float | None:
    if max_drop is None:
        return None
    if isinstance(max_drop, bool) or not isinstance(max_drop, int | float):
        raise InvalidArgument(
            "maxAccuracyDrop must be a number of accuracy points (0 to 100) or "
            "null to turn the block off.",
            target="maxAccuracyDrop",
        )
    if not 0.0 <= float(max_drop) <= 100.0:
        raise InvalidArgument(
            f"maxAccuracyDrop must be between 0 and 100 accuracy points; got "
            f"{max_drop}.",
            target="maxAccuracyDrop",
        )
    return float(max_drop)


def gated_deployments_clean(names: Any) -> list[str]:
    """The deployment names the gate guards, in the order given, duplicates
    dropped; 400 (target ``gatedDeployments``) on anything but a list of at most 10
    valid deployment names. The deployments need not exist yet."""
    target = "gatedDeployments"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidArgument(
            "gatedDeployments must be a list of deployment names (an empty list: "
            "the gate guards every deployment).",
            target=target,
        )
    cleaned = list(dict.fromkeys(names))
    if len(cleaned) > MAX_GATED_DEPLOYMENTS:
        raise InvalidArgument(
            f"gatedDeployments names {len(cleaned)} deployments; a project has at "
            f"most {MAX_GATED_DEPLOYMENTS}.",
            target=target,
        )
    for name in cleaned:
        if (problem := deployment_name_error(name)) is not None:
            raise InvalidArgument(problem, target=target)
    return cleaned


def project_gate_update(
    *,
    project: Project,
    max_drop: Any = UNCHANGED,
    gated_deployments: Any = UNCHANGED,
) -> Project:
    """Set the gate's settings; each one left out stays as it is. ``max_drop``: a
    number of accuracy points (0 to 100) beyond which a deploy worse than the serving
    model is blocked, or None (off). ``gated_deployments``: the deployment names the
    gate guards, [] for all of them. Both are validated before anything changes."""
    _check_kind(project)
    fields: dict[str, Any] = {}
    if max_drop is not UNCHANGED:
        fields["gate_max_drop"] = _max_drop_clean(max_drop)
    if gated_deployments is not UNCHANGED:
        fields["gate_deployments"] = gated_deployments_clean(gated_deployments)
    with transaction.atomic():
        project = project_lock(project=project)
        before = project_settings_state(project)
        Project.objects.filter(pk=project.pk).update(**fields)
        for field, value in fields.items():
            setattr(project, field, value)
        settings_record(project=project, before=before)
    return project
