"""Reads of the deploy gate's data: the gate set (pinned Test copy ∪ golden
utterances) and what the screens and the API show about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projects.models import PinnedEvaluationSet, Project, Utterance


@dataclass(frozen=True, slots=True)
class GateItem:
    text: str
    intent: str
    language: str = ""


def pinned_set_get(*, project: Project) -> PinnedEvaluationSet | None:
    return PinnedEvaluationSet.objects.filter(project=project).first()


def golden_count(*, project: Project) -> int:
    return Utterance.objects.filter(project=project, golden=True).count()


def gate_set(*, project: Project) -> list[GateItem]:
    """The utterances a deploy is checked on: the pinned copy of the Test set plus
    every golden utterance as it reads now. One item per text and language: a
    golden utterance's current label wins over the pinned one of the same text."""
    items: dict[tuple[str, str], GateItem] = {}
    pinned = pinned_set_get(project=project)
    for raw in pinned.items if pinned is not None else []:
        item = GateItem(
            text=str(raw["text"]),
            intent=str(raw["intent"]),
            language=str(raw.get("language", "")),
        )
        items[(item.text, item.language)] = item
    for text, intent, language in (
        Utterance.objects.filter(project=project, golden=True)
        .order_by("id")
        .values_list("text", "intent__name", "language")
    ):
        items[(text, language)] = GateItem(text=text, intent=intent, language=language)
    return list(items.values())


def deployment_guarded(*, project: Project, deployment_name: str) -> bool:
    """Whether the gate guards this deployment: every one when the project names
    none (``gatedDeployments`` empty), else the named ones."""
    names = project.gate_deployments
    return not names or deployment_name in names


def gate_set_empty(*, project: Project) -> bool:
    """Whether the gate set has no utterance, without reading it (a page that only
    needs to know reads two rows' worth, not a 10,000-item pin)."""
    pinned = PinnedEvaluationSet.objects.filter(project=project).exclude(items=[])
    golden = Utterance.objects.filter(project=project, golden=True)
    return not pinned.exists() and not golden.exists()


def gate_summary(*, project: Project) -> dict[str, Any]:
    """The gate's setting and set sizes, as the API and the screens show them."""
    pinned = pinned_set_get(project=project)
    return {
        "maxAccuracyDrop": project.gate_max_drop,
        "gatedDeployments": list(project.gate_deployments),
        "pinned": None
        if pinned is None
        else {
            "utteranceCount": pinned.count,
            "pinnedDateTime": pinned.pinned_at,
            "pinnedBy": pinned.pinned_by_name,
        },
        "goldenCount": golden_count(project=project),
        "gateSetCount": len(gate_set(project=project)),
    }
