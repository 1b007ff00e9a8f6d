"""Orchestration links as the studio's "Configure orchestration" screen sees them.

An orchestration intent links to a target through Azure's ``orchestration`` object,
which ``intent_create`` / ``intent_update`` already validate; this module only builds
that object from plain form values and adds what the screen needs beyond one intent:
linking several studio projects in one all-or-nothing step, and the list of linkable
tasks (a read, kept beside the writes it feeds so the screen has one module to call).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from projects.formats.conversation import DEFAULT_QA_DEPLOYMENT, LINK_KEYS
from projects.models import Intent, Project
from projects.permissions import Actor
from projects.services._common import require_kind
from projects.services.authoring import intent_create, intent_update
from projects.trained import trained
from studio.errors import ErrorCollector, StudioError

ORCHESTRATION = (Project.Kind.ORCHESTRATION.value,)
TASK_KINDS = (Project.Kind.CONVERSATION.value, Project.Kind.QUESTION_ANSWERING.value)


@dataclass(frozen=True)
class TaskLink:
    """One studio project to link, as chosen on the screen."""

    intent_name: str
    target_kind: str
    project_name: str
    deployment_name: str = ""


@dataclass
class LinkableTask:
    """A Conversation or QuestionAnswering project shown as a linkable task."""

    project: Project
    deployments: list[str] = field(default_factory=list)
    # Intents of the orchestration project that link to this task now.
    linked_intents: list[Intent] = field(default_factory=list)

    @property
    def is_linked(self) -> bool:
        return bool(self.linked_intents)


def orchestration_link(
    *,
    target_kind: str,
    project_name: str = "",
    deployment_name: str = "",
    luis_app_id: str = "",
    luis_app_version: str = "",
    luis_slot_name: str = "",
    http_url: str = "",
    http_headers: dict[str, str] | None = None,
    http_key: str = "",
) -> dict[str, Any] | None:
    """Azure's ``orchestration`` object for one target (``None`` = not linked).

    Only shapes the values: ``intent_create``/``intent_update`` validate them, so the
    screen and the REST API refuse the same things with the same messages. Optional
    values left empty are omitted, as Azure's exports omit them.
    """
    if target_kind in ("", "NonLinked"):
        return None
    key = LINK_KEYS.get(target_kind)
    if key is None:
        # An unknown kind: let the parser refuse it with its own message.
        return {"targetProjectKind": target_kind}
    target: dict[str, Any]
    if target_kind == "Conversation":
        target = {"projectName": project_name, "deploymentName": deployment_name}
    elif target_kind == "QuestionAnswering":
        target = {
            "projectName": project_name,
            "deploymentName": deployment_name or DEFAULT_QA_DEPLOYMENT,
        }
    elif target_kind == "Luis":
        target = {"appId": luis_app_id}
        if luis_app_version:
            target["appVersion"] = luis_app_version
        if luis_slot_name:
            target["slotName"] = luis_slot_name
    else:
        target = {"url": http_url}
        if http_headers:
            target["headers"] = dict(http_headers)
        if http_key:
            target["key"] = http_key
    return {"targetProjectKind": target_kind, key: target}


def intents_link_tasks(
    *, project: Project, links: list[TaskLink], actor: Actor = None
) -> list[Intent]:
    """Create one linked intent per task, all or nothing; ``actor`` must be able
    to read every task (``check_link_targets``).

    Every link is tried (inside one transaction) so the screen can show each
    problem next to its own row; targets are ``links[i].<field>`` with the field
    names of Azure's objects (``category``, ``projectName``, ``deploymentName``).
    """
    require_kind(project=project, kinds=ORCHESTRATION, action="linking a task")
    errors = ErrorCollector()
    if not links:
        errors.add("Choose at least one task to link.", target="links")
        errors.raise_if_any("Nothing to link")
    created: list[Intent] = []
    with transaction.atomic():
        for i, link in enumerate(links):
            if link.target_kind not in TASK_KINDS:
                errors.add(
                    f"{link.target_kind!r} is not a linkable task kind.",
                    target=f"links[{i}].targetProjectKind",
                )
                continue
            data = {
                "category": link.intent_name,
                "orchestration": orchestration_link(
                    target_kind=link.target_kind,
                    project_name=link.project_name,
                    deployment_name=link.deployment_name,
                ),
            }
            try:
                # A savepoint per link: one failure does not poison the others'
                # checks, and the outer transaction still decides all or nothing.
                with transaction.atomic():
                    created.append(
                        intent_create(project=project, data=data, actor=actor)
                    )
            except StudioError as exc:
                for detail in exc.details or [exc.as_detail()]:
                    errors.add(
                        detail.message,
                        target=f"links[{i}].{_field_of(detail.target)}",
                    )
        # Raised inside the transaction: the links that did pass are rolled back.
        errors.raise_if_any("The links are invalid")
    return created


def intent_link_set(
    *,
    intent: Intent,
    orchestration: dict[str, Any] | None,
    targets_allowed: bool = True,
    actor: Actor = None,
) -> Intent:
    """Point an existing orchestration intent at a target (``None`` unlinks it);
    the intent keeps its name and its own utterances. ``targets_allowed``: see
    ``intent_create`` (LUIS/HTTP targets are for project admins); a new studio
    target must be one ``actor`` may read."""
    require_kind(project=intent.project, kinds=ORCHESTRATION, action="linking a task")
    return intent_update(
        intent=intent,
        data={"orchestration": orchestration},
        targets_allowed=targets_allowed,
        actor=actor,
    )


def intent_unlink(*, intent: Intent, targets_allowed: bool = True) -> Intent:
    return intent_link_set(
        intent=intent, orchestration=None, targets_allowed=targets_allowed
    )


def _field_of(target: str | None) -> str:
    """The last name of a parser's path (``orchestration.conversationOrchestration.
    deploymentName`` -> ``deploymentName``)."""
    if not target:
        return "category"
    return target.rsplit(".", 1)[-1]


# ---------------------------------------------------------------- reads


def linkable_tasks(
    *, project: Project, candidates: Iterable[Project]
) -> list[LinkableTask]:
    """The ``candidates`` (the projects the user may read) that an orchestration
    project can link, by name, each with its deployment names and the intents of
    ``project`` that link to it now. Three queries whatever the count."""
    tasks = [
        LinkableTask(project=p)
        for p in sorted(candidates, key=lambda p: p.name)
        if p.kind in TASK_KINDS
    ]
    by_name = {t.project.name: t for t in tasks}
    rows = trained().deployment_names(project_ids=[t.project.pk for t in tasks])
    for project_name, deployment in rows:
        by_name[project_name].deployments.append(deployment)
    for intent in project.intents.filter(
        target_kind__in=TASK_KINDS, target_project_name__in=list(by_name)
    ).order_by("id"):
        task = by_name[intent.target_project_name]
        if task.project.kind == intent.target_kind:
            task.linked_intents.append(intent)
    return tasks


def deployment_names(*, project_name: str) -> list[str]:
    """Deployment names of a studio project (empty before its first deploy)."""
    project = Project.objects.filter(name=project_name).first()
    if project is None:
        return []
    return [name for _, name in trained().deployment_names(project_ids=[project.pk])]
