"""Shadow deployments' reads: how often each deployment's shadow model agreed with
its live model (``ShadowTally``, counted by the runtime: runtime/shadow.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from jobs.lro import iso
from training.models import Deployment, ShadowTally, TrainedModel

RECENT = timedelta(hours=24)
_COUNTS = ("compared", "agreed", "confidence_gaps", "dropped", "failed")


@dataclass(frozen=True, slots=True)
class Agreement:
    compared: int = 0
    agreed: int = 0
    confidence_gaps: int = 0
    dropped: int = 0
    failed: int = 0

    @property
    def rate(self) -> float | None:
        """Share of compared queries with the same top intent (None: none yet)."""
        return self.agreed / self.compared if self.compared else None

    @property
    def percent(self) -> float | None:
        rate = self.rate
        return None if rate is None else round(100 * rate, 1)

    def document(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "agreed": self.agreed,
            "agreementRate": None if self.rate is None else round(self.rate, 4),
            "confidenceGaps": self.confidence_gaps,
            "dropped": self.dropped,
            "failed": self.failed,
        }


@dataclass(frozen=True, slots=True)
class ShadowSummary:
    deployment: Deployment
    recent: Agreement
    since_set: Agreement
    # The label now names another model (retrained since the shadow was set):
    # deploying the label would not deploy what was shadowed.
    label_retrained: bool


def _agreement(deployment: Deployment, since: datetime) -> Agreement:
    totals = ShadowTally.objects.filter(
        project_id=deployment.project_id,
        deployment_name=deployment.name,
        live_model_id=deployment.model_id,
        shadow_model_id=deployment.shadow_model_id,
        hour__gte=since.replace(minute=0, second=0, microsecond=0),
    ).aggregate(**{name: Sum(name) for name in _COUNTS})
    return Agreement(**{name: int(totals[name] or 0) for name in _COUNTS})


def shadow_summary(
    *, deployment: Deployment, now: datetime | None = None
) -> ShadowSummary | None:
    """Agreement of the deployment's current live and shadow models over the last
    24 hours and since the shadow was set; None without a shadow."""
    if not deployment.shadow_model_id:
        return None
    now = now or timezone.now()
    set_at = deployment.shadow_set_at or now
    current = (
        TrainedModel.objects.filter(
            project_id=deployment.project_id, label=deployment.shadow_model_label
        )
        .values_list("model_id", flat=True)
        .first()
    )
    return ShadowSummary(
        deployment=deployment,
        recent=_agreement(deployment, max(set_at, now - RECENT)),
        since_set=_agreement(deployment, set_at),
        label_retrained=current != deployment.shadow_model_id,
    )


def shadow_document(deployment: Deployment) -> dict[str, Any]:
    """The shadow of a deployment as ``/api/v1`` shows it."""
    summary = shadow_summary(deployment=deployment)
    body: dict[str, Any] = {
        "deploymentName": deployment.name,
        "liveModelLabel": deployment.model_label,
        "liveModelId": deployment.model_id,
        "shadow": None,
    }
    if summary is not None:
        body["shadow"] = {
            "trainedModelLabel": deployment.shadow_model_label,
            "modelId": deployment.shadow_model_id,
            "setDateTime": iso(deployment.shadow_set_at),
            "labelRetrainedSince": summary.label_retrained,
            "last24Hours": summary.recent.document(),
            "sinceSet": summary.since_set.document(),
        }
    return body
