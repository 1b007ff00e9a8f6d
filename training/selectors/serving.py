"""Whether deployments can serve on this server: a deployment's model is sound
(its artifact is checked when it loads), but a standard model trained with static
word vectors also needs its very table in ``STUDIO_STATIC_VECTORS`` (issue 15 item
4). A table lost (a new volume, a restore of an archive without it) makes every
prediction of those deployments fail with 503; the deployments page says why and
``/healthz`` counts them, so an operator learns it before the callers do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from training.engine.static_vectors import (
    STATIC_DIR_ENV,
    spec_from_params,
    static_dir,
    table_present,
)
from training.models import Deployment


def _manifest_problem(manifest: Mapping[str, Any]) -> str:
    params = manifest.get("params")
    spec = spec_from_params(params) if isinstance(params, Mapping) else None
    if spec is None or table_present(spec):
        return ""
    if static_dir() is None:
        return (
            "Its model uses static word vectors, which are turned off on this "
            f"server ({STATIC_DIR_ENV}=off): every prediction fails. Turn them on "
            "with the table restored, or deploy a model retrained here."
        )
    return (
        f"Its model's static word vector table (sha256 {spec.sha256[:12]}…) is "
        "not on this server: every prediction fails. Restore it (`manage.py "
        "restore` of a backup puts it back, or copy the file into "
        f"{STATIC_DIR_ENV}), or deploy a model retrained here."
    )


def deployment_problems(deployments: Iterable[Deployment]) -> dict[int, str]:
    """Deployment id -> why it cannot serve here (only those that cannot);
    a shadow that cannot load is named too (the live model still answers)."""
    problems: dict[int, str] = {}
    for deployment in deployments:
        problem = _manifest_problem(deployment.manifest or {})
        if not problem and deployment.shadow_model_id:
            shadow = _manifest_problem(deployment.shadow_manifest or {})
            if shadow:
                problem = "Its shadow cannot predict. " + shadow.replace(
                    "every prediction fails", "no comparison is made"
                )
        if problem:
            problems[deployment.pk] = problem
    return problems


def serving_health() -> dict[str, Any]:
    """``/healthz``'s ``deployments`` part: ``down`` when some deployment cannot
    serve on this server (counted, never named: the probe is public)."""
    deployments = list(
        Deployment.objects.only("manifest", "shadow_model_id", "shadow_manifest")
    )
    broken = len(deployment_problems(deployments))
    state: dict[str, Any] = {
        "status": "down" if broken else "up",
        "deployments": len(deployments),
    }
    if broken:
        state["error"] = (
            f"{broken} deployment{'s' if broken > 1 else ''} cannot load "
            "their model's static word vector table on this server (the "
            "deployments page says which and what to do)"
        )
    return state
