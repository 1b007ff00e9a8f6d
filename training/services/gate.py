"""The deploy gate: before a model is deployed or swapped into a deployment, compare it
with the model serving there on the project's gate set (the pinned Test copy plus the
golden utterances, ``projects.selectors.gate``) and refuse it when the project's
threshold says it is too much worse, unless an admin overrides with a reason. Only
the deployments the project's gate guards are compared (``gatedDeployments``; empty:
all), so promoting a better model into ``production`` by a swap is not blocked
because ``staging`` receives the worse one.

Cost: one load of each model (verified as a web process loads it) and one vectorized
prediction of the N gate utterances per model. Predictions are cached per model id
and gate set (``STUDIO_GATE_CACHE_SECONDS``), so the studio's preview, the deploy that
follows and both directions of a swap predict each model once. ``bench/gate.py``
measures it: linear in N, about 2 s of CPU at 10,000 utterances x 150 intents the first
time, 35 ms cached.

The check runs at request time (``deploy_jobs.deploy_start`` / ``swap_start``), so a
blocked deploy is a 409 and no job; the job re-checks only when the deployment's
model changed in between (another deploy got there first).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from projects.models import Project
from projects.selectors.gate import GateItem, deployment_guarded, gate_set
from studio.audit import audit_record
from studio.errors import Conflict, InvalidArgument
from training.artifact_store import artifact_load
from training.engine.gate import Comparison, compare, predict_top_intents

OVERRIDE_PARAM = "gateOverrideReason"
MAX_REASON = 500

CODE_COMPARED = "DeployGate"
CODE_SKIPPED = "DeployGateSkipped"
CODE_OVERRIDDEN = "DeployGateOverridden"


class DeployGateBlocked(Conflict):
    """409 ``Conflict``: the model to deploy is worse than the serving one beyond the
    project's threshold, and no admin overrode the gate. (No ``innererror``: Azure's
    inner codes are a closed list with nothing that fits.)"""


@dataclass(frozen=True, slots=True)
class ModelPointer:
    """A model as the gate sees it: a trained model, or what a deployment serves."""

    label: str
    model_id: str
    artifact_name: str
    manifest: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One deployment's check: ``candidate`` would replace ``serving`` there."""

    deployment_name: str
    candidate: ModelPointer
    serving: ModelPointer | None
    comparison: Comparison | None
    threshold: float | None
    set_size: int
    # Why there is no comparison although both models and a gate set exist (a model
    # that could not be loaded); "" otherwise.
    problem: str = ""
    # False when the project's gate guards other deployments only
    # (``gatedDeployments``): nothing was compared and nothing blocks.
    guarded: bool = True
    guarded_names: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return (
            self.comparison is not None
            and self.threshold is not None
            and self.comparison.accuracy_drop_points > self.threshold
        )

    @property
    def serving_model_id(self) -> str:
        return "" if self.serving is None else self.serving.model_id

    def _names(self) -> tuple[str, str]:
        serving = self.serving.label or self.serving.model_id if self.serving else ""
        return self.candidate.label or self.candidate.model_id, serving

    def message(self) -> str:
        """One sentence for a job warning or the studio."""
        candidate, serving = self._names()
        where = f"deployment {self.deployment_name!r}"
        if not self.guarded:
            names = ", ".join(repr(n) for n in self.guarded_names)
            return (
                f"Deploy gate: {where} is not guarded (the project's gate guards "
                f"only {names}), so model {candidate!r} was not compared; it passed."
            )
        if self.serving is None:
            return (
                f"Deploy gate: nothing serves {where} yet, so model {candidate!r} "
                "was not compared with anything; it passed."
            )
        if self.serving.model_id == self.candidate.model_id:
            return (
                f"Deploy gate: model {candidate!r} already serves {where}; nothing "
                "to compare."
            )
        if self.problem:
            return (
                f"Deploy gate: model {candidate!r} was not compared with {serving!r} "
                f"serving {where}: {self.problem}; it passed."
            )
        if self.comparison is None:
            return (
                f"Deploy gate: the gate set is empty (pin the Test set or mark "
                f"golden utterances), so model {candidate!r} was not compared with "
                f"{serving!r} serving {where}; it passed."
            )
        c = self.comparison
        drop = c.accuracy_drop_points
        change = f"{-drop:+.1f} points".replace("-", "−") if drop else "no change"
        text = (
            f"Deploy gate: model {candidate!r} compared with {serving!r} serving "
            f"{where} on {c.count} utterance{'s' if c.count != 1 else ''}: accuracy "
            f"{_pct(c.serving.accuracy)} → {_pct(c.candidate.accuracy)} ({change}), "
            f"macro-F1 {c.serving.macro_f1:.2f} → {c.candidate.macro_f1:.2f}; "
            f"{c.changed_count} prediction{'s' if c.changed_count != 1 else ''} "
            f"changed, {c.new_error_count} new error"
            f"{'s' if c.new_error_count != 1 else ''}, {c.fixed_count} fixed."
        )
        if self.blocked:
            text += (
                f" That is {drop:.1f} accuracy points worse, more than the "
                f"{_points(self.threshold)} the project allows."
            )
        return text

    def warning(self) -> dict[str, str]:
        code = CODE_COMPARED if self.comparison is not None else CODE_SKIPPED
        return {"code": code, "message": self.message()}

    def as_json(self) -> dict[str, Any]:
        return {
            "deploymentName": self.deployment_name,
            "guarded": self.guarded,
            "candidateModelId": self.candidate.model_id,
            "servingModelId": self.serving_model_id,
            "gateSetCount": self.set_size,
            "maxAccuracyDrop": self.threshold,
            "blocked": self.blocked,
            "comparison": None
            if self.comparison is None
            else self.comparison.as_json(),
            "message": self.message(),
        }


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _points(value: float | None) -> str:
    return f"{value:g} point{'s' if value != 1 else ''}"


def _set_digest(items: list[GateItem]) -> str:
    raw = json.dumps([[i.text, i.intent, i.language] for i in items])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _predictions(model: ModelPointer, texts: list[str], digest: str) -> list[str]:
    key = f"studio:gate:{model.model_id}:{digest}"
    cached = cache.get(key)
    if isinstance(cached, list) and len(cached) == len(texts):
        return [str(p) for p in cached]
    bundle = artifact_load(model.artifact_name, model.manifest)
    predicted = predict_top_intents(bundle, texts)
    cache.set(key, predicted, settings.STUDIO_GATE_CACHE_SECONDS)
    return predicted


def gate_check(
    *,
    project: Project,
    deployment_name: str,
    candidate: ModelPointer,
    serving: ModelPointer | None,
    items: list[GateItem] | None = None,
) -> GateCheck:
    """Compare ``candidate`` with ``serving`` (None: nothing serves yet) on the
    project's gate set (``items``, read when not given). A deployment the project's
    gate does not guard is not compared (no model is loaded)."""
    if not deployment_guarded(project=project, deployment_name=deployment_name):
        return GateCheck(
            deployment_name=deployment_name,
            candidate=candidate,
            serving=serving,
            comparison=None,
            threshold=project.gate_max_drop,
            set_size=0,
            guarded=False,
            guarded_names=tuple(project.gate_deployments),
        )
    if items is None:
        items = gate_set(project=project)
    comparison = None
    problem = ""
    if serving is not None and serving.model_id != candidate.model_id and items:
        digest = _set_digest(items)
        texts = [i.text for i in items]
        predicted: dict[str, list[str]] = {}
        for side, model in (("serving", serving), ("candidate", candidate)):
            try:
                predicted[side] = _predictions(model, texts, digest)
            except Exception as exc:  # noqa: BLE001 - any failure: cannot compare
                # A broken serving model is when a new one is needed most: do not
                # block on it. A broken candidate fails its deploy job anyway,
                # with the artifact check's own message.
                name = model.label or model.model_id
                problem = f"model {name!r} could not be loaded ({exc})"
                break
        if not problem:
            comparison = compare(
                texts=texts,
                expected=[i.intent for i in items],
                serving=predicted["serving"],
                candidate=predicted["candidate"],
            )
    return GateCheck(
        deployment_name=deployment_name,
        candidate=candidate,
        serving=serving,
        comparison=comparison,
        threshold=project.gate_max_drop,
        set_size=len(items),
        problem=problem,
    )


def override_reason_clean(value: Any) -> str | None:
    """The override reason a request sent: None when absent; 400 when empty or
    too long."""
    if value is None:
        return None
    reason = str(value).strip()
    if not reason:
        raise InvalidArgument(
            f"{OVERRIDE_PARAM} must say why the gate is overridden; it is empty.",
            target=OVERRIDE_PARAM,
        )
    if len(reason) > MAX_REASON:
        raise InvalidArgument(
            f"{OVERRIDE_PARAM} is {len(reason)} characters long; at most "
            f"{MAX_REASON} are kept. Shorten it.",
            target=OVERRIDE_PARAM,
        )
    return reason


def _blocked_error(checks: list[GateCheck]) -> DeployGateBlocked:
    blocked = [c for c in checks if c.blocked]
    parts = []
    for c in blocked:
        candidate, serving = c._names()
        assert c.comparison is not None  # noqa: S101 - blocked implies compared
        parts.append(
            f"model {candidate!r} is {c.comparison.accuracy_drop_points:.1f} accuracy "
            f"points worse than {serving!r} serving deployment "
            f"{c.deployment_name!r} on {c.comparison.count} gate utterances "
            f"({_pct(c.comparison.serving.accuracy)} → "
            f"{_pct(c.comparison.candidate.accuracy)})"
        )
    threshold = blocked[0].threshold
    return DeployGateBlocked(
        "Deploy gate: "
        + "; ".join(parts)
        + f". The project blocks deploys worse by more than {_points(threshold)}; "
        f"nothing was changed. An admin may deploy anyway by sending "
        f"{OVERRIDE_PARAM} with the reason.",
        target="trainedModelLabel",
    )


def _audit_state(checks: list[GateCheck]) -> dict[str, Any]:
    return {
        "checks": [
            {
                key: value
                for key, value in c.as_json().items()
                if key not in ("comparison", "message")
            }
            | (
                {}
                if c.comparison is None
                else {
                    "servingAccuracy": c.comparison.serving.accuracy,
                    "candidateAccuracy": c.comparison.candidate.accuracy,
                    "accuracyDropPoints": c.comparison.accuracy_drop_points,
                    "newErrorCount": c.comparison.new_error_count,
                }
            )
            for c in checks
        ]
    }


def gate_refuse_if_blocked(
    *,
    project: Project,
    target: str,
    checks: list[GateCheck],
    override_reason: str | None,
) -> None:
    """Raise ``DeployGateBlocked`` when a check is blocked and there is no override,
    after recording the block in the audit trail (an event committed on its own:
    the refusal changes nothing else). Call it outside any transaction. Whoever may
    override (admins) is checked by the caller."""
    if override_reason is not None or not any(c.blocked for c in checks):
        return
    error = _blocked_error(checks)
    with transaction.atomic():
        audit_record(
            action="deployment.gate_block",
            project=project,
            target=target,
            after=_audit_state(checks) | {"message": error.message},
        )
    raise error


def gate_warnings(
    checks: list[GateCheck], override_reason: str | None
) -> list[dict[str, str]]:
    """What the job's ``warnings`` say about the gate."""
    warnings = [c.warning() for c in checks]
    if override_reason is not None and any(c.blocked for c in checks):
        warnings.append(
            {
                "code": CODE_OVERRIDDEN,
                "message": f"Deploy gate overridden by an admin: {override_reason}",
            }
        )
    return warnings


def gate_record(
    *,
    project: Project,
    target: str,
    checks: list[GateCheck],
    override_reason: str | None,
) -> None:
    """The pass (or the admin's override) in the audit trail: call it inside the
    transaction that creates the job."""
    state = _audit_state(checks)
    if any(c.blocked for c in checks):
        audit_record(
            action="deployment.gate_override",
            project=project,
            target=target,
            after=state | {"reason": override_reason},
        )
    else:
        audit_record(
            action="deployment.gate_pass", project=project, target=target, after=state
        )
