"""Label changes in the audit trail: one event per utterance, with what it looked like
before and after (text, intent, dataset, entity labels, language).

The write services wrap their change in ``labels_audited`` inside their
transaction (after taking the project lock), so the states read are the ones the
change replaced and made; utterances whose state did not change get no event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from projects.models import Entity, EntitySpan, Intent, Project, Utterance
from studio.audit import Change, audit_record, audit_record_many

CHUNK = 1000

LABEL_ADD = "utterance.add"
LABEL_CHANGE = "utterance.change"
LABEL_DELETE = "utterance.delete"


def label_states(ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The audited state of each existing utterance among ``ids``."""
    states: dict[int, dict[str, Any]] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        spans: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for utterance_id, name, offset, length in (
            EntitySpan.objects.filter(utterance_id__in=chunk)
            .order_by("utterance_id", "offset", "id")
            .values_list("utterance_id", "entity__name", "offset", "length")
        ):
            spans[utterance_id].append(
                {"category": name, "offset": offset, "length": length}
            )
        for pk, text, intent, dataset, language in Utterance.objects.filter(
            pk__in=chunk
        ).values_list("pk", "text", "intent__name", "dataset", "language"):
            state: dict[str, Any] = {
                "text": text,
                "intent": intent,
                "dataset": dataset,
                "entities": spans.get(pk, []),
            }
            if language:
                state["language"] = language
            states[pk] = state
    return states


def labels_record(
    *,
    project: Project,
    before: dict[int, dict[str, Any]],
    after: dict[int, dict[str, Any]],
) -> int:
    """One event per utterance whose state differs: added (no before), deleted (no
    after) or changed."""
    by_action: dict[str, list[Change]] = defaultdict(list)
    for pk in sorted(set(before) | set(after)):
        old, new = before.get(pk), after.get(pk)
        if old == new:
            continue
        action = LABEL_ADD if old is None else LABEL_DELETE if new is None else None
        by_action[action or LABEL_CHANGE].append(
            Change(target=f"utterance {pk}", before=old, after=new)
        )
    return sum(
        audit_record_many(action=action, project=project, changes=changes)
        for action, changes in by_action.items()
    )


@contextmanager
def labels_audited(*, project: Project, ids: Sequence[int]) -> Iterator[None]:
    """Record the label changes the block makes to utterances ``ids``."""
    before = label_states(ids)
    yield
    labels_record(project=project, before=before, after=label_states(ids))


# ---------------------------------------------------------------- schema


def intent_state(intent: Intent) -> dict[str, Any]:
    """An intent as audited: its name and link target, never the target's secrets
    (HTTP headers and keys)."""
    state: dict[str, Any] = {"category": intent.name}
    if intent.target_kind:
        state["target"] = {
            "kind": intent.target_kind,
            "projectName": intent.target_project_name,
            "deploymentName": intent.target_deployment_name,
            "luisAppId": intent.luis_app_id,
            "url": intent.http_url,
        }
        state["target"] = {k: v for k, v in state["target"].items() if v}
    return state


def entity_state(entity: Entity) -> dict[str, Any]:
    return {
        "category": entity.name,
        "compositionSetting": entity.composition_setting,
        "list": {"sublists": entity.list_sublists},
        "prebuilts": list(entity.prebuilts),
        "regex": {"expressions": entity.regex_expressions},
        "requiredComponents": entity.required_components,
    }


def schema_record(
    *,
    project: Project,
    action: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    if before == after:
        return
    audit_record(
        action=action, project=project, target=target, before=before, after=after
    )


# ---------------------------------------------------------------- settings


def project_settings_state(project: Project) -> dict[str, Any]:
    state: dict[str, Any] = {
        "kind": project.kind,
        "language": project.language,
        "multilingual": project.multilingual,
        "description": project.description,
    }
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        state["defaultAnswer"] = project.default_answer
    else:
        state["confidenceThreshold"] = project.confidence_threshold
        state["reviewDataset"] = project.review_dataset
        state["gateMaxAccuracyDrop"] = project.gate_max_drop
        state["gateDeployments"] = list(project.gate_deployments)
        state["encoder"] = project.encoder
        state["perIntentThresholds"] = project.per_intent_thresholds
    return state


def settings_record(*, project: Project, before: dict[str, Any]) -> None:
    """A settings change, with only the settings that changed."""
    after = project_settings_state(project)
    changed = sorted(k for k in after if after[k] != before.get(k))
    if changed:
        audit_record(
            action="project.settings",
            project=project,
            target=f"project {project.name}",
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
        )
