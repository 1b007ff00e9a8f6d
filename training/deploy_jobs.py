"""Deployments: deploy a trained model (or a knowledge base), delete one, swap two.

A deployment is a named pointer. Deploying copies the trained model's pointer (model
id, artifact name, manifest, dates) into the ``Deployment`` row rather than
referencing the ``TrainedModel``, so deleting or retraining a model never changes
what a deployment serves (see training/README.md, "Deployments").

Request time (``*_start``) checks everything a client can get wrong -- project kind,
deployment name, model label, the 10-deployment limit, the other deployment of a swap
-- so mistakes get a 4xx and no job. The job then:

1. does everything slow or fallible first (loading and verifying the artifact, or
   building and saving a knowledge base), changing no row;
2. applies the change in ONE transaction that also bumps the deployment version row,
   so a web process sees either the old pointer or the new one, never a mix;
3. deletes a replaced artifact after the commit, when nothing points to it any more.

A worker killed before step 2 commits changes nothing: the previous deployment keeps
serving, the sweeper fails the job, and the same request can be retried. A worker that
was only slow, and whose job the sweeper already failed, finds that out at the end
of step 2 and rolls back (``_still_running``).

Entry points (the API views and the studio UI call these; each returns the queued
``Job``): ``deploy_start(project_name=, deployment_name=, body={"trainedModelLabel":
label, "azureResourceIds"?: [...]})`` (the named assigned resources get a copy
once the local deployment serves: ``training.resource_jobs``),
``deployment_delete_start(project_name=, deployment_name=)``,
``swap_start(project_name=, body={"firstDeploymentName", "secondDeploymentName"})``,
``kb_deploy_start(project_name=, deployment_name=)``.

Concurrency: one deployment-changing job (deploy, delete, swap) per project at a time.
``_guard`` answers 409 naming the busy job; the partial unique constraint
``one_active_deployment_job_per_project`` closes the race between two requests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services import (
    JobContext,
    QueueLimitReached,
    job_create,
    job_execute,
)
from projects.models import KbSynonymGroup, Project, QnaPair
from projects.selectors import authoring as project_selectors
from projects.selectors.gate import gate_set
from projects.validators import RESERVED_DEPLOYMENT_NAME, deployment_name_error
from studio.deployment_state import deployment_state_bump
from studio.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    ProjectNotFound,
    StudioError,
)
from training.artifact_store import (
    artifact_delete_if_unused,
    artifact_load,
    artifact_save,
)
from training.engine.artifacts import training_data_hash
from training.engine.bundles import KnowledgeBaseBundle, bundle_kind
from training.engine.qna import KnowledgeBase, QnaError, QnaRecord
from training.models import Deployment, TrainedModel
from training.resource_jobs import deploy_resource_ids, resources_deploy_after_local
from training.selectors.authoring import deployment_get, trained_model_get
from training.services.gate import (
    OVERRIDE_PARAM,
    GateCheck,
    ModelPointer,
    gate_check,
    gate_record,
    gate_refuse_if_blocked,
    gate_warnings,
)
from training.services.shadow import shadow_clear_if_live

logger = logging.getLogger(__name__)

CONVERSATION_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
KB_KINDS = (Project.Kind.QUESTION_ANSWERING,)
DEPLOYMENT_JOB_KINDS = (Job.Kind.DEPLOY, Job.Kind.DEPLOYMENT_DELETE, Job.Kind.SWAP)
MAX_DEPLOYMENTS = 10
SWAP_TARGET = RESERVED_DEPLOYMENT_NAME
# Knowledge bases are rebuilt on every deploy and never expire; the contract has no
# expiration field for them, but the row needs a date.
KB_EXPIRES_ON = date(2099, 12, 31)
# .NET ticks of the Unix epoch: model ids end in ticks, as Azure's do.
_EPOCH_TICKS = 621_355_968_000_000_000


class ArtifactUnusable(StudioError):
    """The artifact to deploy is missing, tampered with or built by other libraries."""

    status_code = 500
    code = "InternalServerError"
    inner_code = None


# --- request-time checks ------------------------------------------------------------


def deployment_name_check(name: str) -> None:
    """400 unless ``name`` follows Azure's naming rule and is not ``swap``."""
    if (problem := deployment_name_error(name)) is not None:
        raise InvalidArgument(problem, target="deploymentName")


def _limit_check(project: Project, name: str) -> None:
    """400 when ``name`` would be an 11th deployment; replacing one is always fine."""
    existing = Deployment.objects.filter(project=project)
    if existing.filter(name=name).exists():
        return
    if existing.count() >= MAX_DEPLOYMENTS:
        raise InvalidArgument(
            f"Project {project.name!r} already has {MAX_DEPLOYMENTS} deployments, the "
            "maximum; delete one or deploy to an existing name.",
            target="deploymentName",
        )


def _busy_job(project_name: str) -> Job | None:
    return (
        Job.objects.filter(
            project_name=project_name,
            kind__in=DEPLOYMENT_JOB_KINDS,
            status__in=Job.ACTIVE,
        )
        .order_by("created_at")
        .first()
    )


def _conflict(project_name: str, busy: Job | None) -> Conflict:
    which = f" (job {busy.job_id}, {busy.kind})" if busy is not None else ""
    return Conflict(
        f"A deployment change of project {project_name!r} is in progress{which}; "
        "wait for it to finish and try again.",
        target="projectName",
    )


def _guard(project_name: str) -> None:
    """409 while another deployment job of the project is queued or running."""
    busy = _busy_job(project_name)
    if busy is not None:
        raise _conflict(project_name, busy)


def _create_job(
    *,
    kind: str,
    project: Project,
    target_name: str,
    api: str,
    params: dict[str, Any] | None = None,
    warnings: list[dict[str, str]] | None = None,
) -> Job:
    _guard(project.name)
    try:
        return job_create(
            kind=kind,
            project_name=project.name,
            api=api,
            target_name=target_name,
            params=params,
            warnings=warnings,
        )
    except QueueLimitReached:
        raise
    except Conflict:
        # Lost the race to a concurrent request: name the job that won, if it is
        # ours to name (the constraint may also be another one on the same table).
        busy = _busy_job(project.name)
        if busy is None:
            raise
        raise _conflict(project.name, busy) from None


def _required_string(body: Any, field: str, what: str) -> str:
    """A required non-empty string of a request body that must be a JSON object;
    ``what`` says what the field names, so the 400 tells the client what to send."""
    if not isinstance(body, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{field} is required: {what}.", target=field)
    return value


def _model_pointer(model: TrainedModel) -> ModelPointer:
    return ModelPointer(
        label=model.label,
        model_id=model.model_id,
        artifact_name=model.artifact_name,
        manifest=model.manifest,
    )


def _serving_pointer(deployment: Deployment | None) -> ModelPointer | None:
    if deployment is None:
        return None
    return ModelPointer(
        label=deployment.model_label,
        model_id=deployment.model_id,
        artifact_name=deployment.artifact_name,
        manifest=deployment.manifest,
    )


def _deploy_request(
    project_name: str, deployment_name: str, body: Any
) -> tuple[Project, TrainedModel, list[str]]:
    """The project, the model to deploy and the assigned resources to copy it to
    (``azureResourceIds``), or the 4xx of the first thing wrong."""
    project = project_selectors.project_get(name=project_name, kinds=CONVERSATION_KINDS)
    deployment_name_check(deployment_name)
    label = _required_string(
        body, "trainedModelLabel", "the label of the trained model to deploy"
    )
    model = trained_model_get(project=project, label=label)
    _limit_check(project, deployment_name)
    return project, model, deploy_resource_ids(project=project, body=body)


def _deploy_checks(
    project: Project, deployment_name: str, model: TrainedModel
) -> list[GateCheck]:
    serving = Deployment.objects.filter(project=project, name=deployment_name).first()
    return [
        gate_check(
            project=project,
            deployment_name=deployment_name,
            candidate=_model_pointer(model),
            serving=_serving_pointer(serving),
        )
    ]


def deploy_gate_preview(
    *, project_name: str, deployment_name: str, body: Any
) -> list[GateCheck]:
    """What the deploy gate would say about this deploy (the studio shows it before
    the deploy is confirmed); checks the request as ``deploy_start`` does."""
    project, model, _resource_ids = _deploy_request(project_name, deployment_name, body)
    return _deploy_checks(project, deployment_name, model)


def _gate_params(
    checks: list[GateCheck], override_reason: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "gate": {c.deployment_name: c.serving_model_id for c in checks}
    }
    if override_reason is not None and any(c.blocked for c in checks):
        params[OVERRIDE_PARAM] = override_reason
    return params


def _gated_job_start(
    *,
    project: Project,
    target: str,
    checks: list[GateCheck],
    override_reason: str | None,
    kind: str,
    target_name: str,
    params: dict[str, Any],
) -> Job:
    """A deploy or swap through the deploy gate: refused when the gate blocks it
    and no override reason was given; otherwise its job is queued and the gate's
    decision recorded in one transaction (no job without its audit record)."""
    gate_refuse_if_blocked(
        project=project, target=target, checks=checks, override_reason=override_reason
    )
    with transaction.atomic():
        job = _create_job(
            kind=kind,
            project=project,
            target_name=target_name,
            api=Job.Api.CONVERSATIONS,
            params=params | _gate_params(checks, override_reason),
            warnings=gate_warnings(checks, override_reason),
        )
        gate_record(
            project=project,
            target=target,
            checks=checks,
            override_reason=override_reason,
        )
    return job


def deploy_start(
    *,
    project_name: str,
    deployment_name: str,
    body: Any,
    override_reason: str | None = None,
) -> Job:
    """Validate a conversation deploy request, pass it through the deploy gate and
    queue its job. ``override_reason``: an admin's reason to deploy even when the
    gate blocks (the caller checks that the requester is an admin)."""
    project, model, resource_ids = _deploy_request(project_name, deployment_name, body)
    _guard(project.name)
    return _gated_job_start(
        project=project,
        target=f"deployment {deployment_name}",
        checks=_deploy_checks(project, deployment_name, model),
        override_reason=override_reason,
        kind=Job.Kind.DEPLOY,
        target_name=deployment_name,
        params={"trainedModelLabel": model.label}
        | ({"azureResourceIds": resource_ids} if resource_ids else {}),
    )


def deployment_delete_start(*, project_name: str, deployment_name: str) -> Job:
    project = project_selectors.project_get(name=project_name, kinds=CONVERSATION_KINDS)
    _deployment_get(project, deployment_name)
    return _create_job(
        kind=Job.Kind.DEPLOYMENT_DELETE,
        project=project,
        target_name=deployment_name,
        api=Job.Api.CONVERSATIONS,
    )


def _swap_request(
    project_name: str, body: Any
) -> tuple[Project, Deployment, Deployment]:
    project = project_selectors.project_get(name=project_name, kinds=CONVERSATION_KINDS)
    first, second = (
        _required_string(body, field, "the name of a deployment to swap")
        for field in ("firstDeploymentName", "secondDeploymentName")
    )
    if first == second:
        raise InvalidArgument(
            "firstDeploymentName and secondDeploymentName must name two different "
            f"deployments; both are {first!r}.",
            target="secondDeploymentName",
        )
    return project, _deployment_get(project, first), _deployment_get(project, second)


def _swap_checks(
    project: Project, first: Deployment, second: Deployment
) -> list[GateCheck]:
    """Each deployment of a swap receives the other's model: two checks."""
    items = gate_set(project=project)
    return [
        gate_check(
            project=project,
            deployment_name=into.name,
            candidate=_serving_pointer(incoming),  # type: ignore[arg-type]
            serving=_serving_pointer(into),
            items=items,
        )
        for into, incoming in ((first, second), (second, first))
    ]


def swap_gate_preview(*, project_name: str, body: Any) -> list[GateCheck]:
    project, first, second = _swap_request(project_name, body)
    return _swap_checks(project, first, second)


def swap_start(
    *, project_name: str, body: Any, override_reason: str | None = None
) -> Job:
    project, first, second = _swap_request(project_name, body)
    _guard(project.name)
    return _gated_job_start(
        project=project,
        target=f"swap {first.name} and {second.name}",
        checks=_swap_checks(project, first, second),
        override_reason=override_reason,
        kind=Job.Kind.SWAP,
        target_name=SWAP_TARGET,
        params={
            "firstDeploymentName": first.name,
            "secondDeploymentName": second.name,
        },
    )


def kb_deploy_start(*, project_name: str, deployment_name: str) -> Job:
    """Validate a knowledge-base deploy request (it has no body) and queue its job."""
    project = project_selectors.project_get(name=project_name, kinds=KB_KINDS)
    deployment_name_check(deployment_name)
    _limit_check(project, deployment_name)
    return _create_job(
        kind=Job.Kind.DEPLOY,
        project=project,
        target_name=deployment_name,
        api=Job.Api.QUESTION_ANSWERING,
    )


# --- shared helpers -------------------------------------------------------------------


def _deployment_get(project: Project, name: str) -> Deployment:
    return deployment_get(project=project, name=name)


def _job_project(context: JobContext, kinds: Iterable[str]) -> Project:
    """The job's own project row: a project that took its name since is not it."""
    job = context.job
    project = project_selectors.project_get(name=job.project_name, kinds=list(kinds))
    if project.pk != (job.project_id or project.pk):
        raise ProjectNotFound(
            f"The project {job.project_name!r} was deleted.", target="projectName"
        )
    return project


def _verify_artifact(name: str, manifest: dict[str, Any], expected_kind: str) -> None:
    """Load the artifact once, as a web process will: refuse to point a deployment at
    bytes that would fail there (missing file, bad hash or signature, wrong kind)."""
    try:
        bundle = artifact_load(name, manifest)
    except Exception as exc:  # noqa: BLE001 - every failure means "do not deploy"
        raise ArtifactUnusable(
            f"The model's artifact {name!r} cannot be loaded ({exc}); the deployment "
            "was not changed. Train the model again and redeploy.",
            target="trainedModelLabel",
        ) from None
    if bundle_kind(bundle) != expected_kind:
        raise ArtifactUnusable(
            f"The artifact {name!r} holds a {bundle_kind(bundle) or 'foreign'} model, "
            f"not a {expected_kind} one; the deployment was not changed.",
            target="trainedModelLabel",
        )


def _delete_after_commit(names: Iterable[str]) -> None:
    """After the surrounding transaction commits, delete artifacts left unused."""

    def delete(name: str) -> None:
        transaction.on_commit(lambda: artifact_delete_if_unused(name), robust=True)

    for name in set(names):
        if name:
            delete(name)


def _point(
    *,
    project: Project,
    name: str,
    pointer: dict[str, Any],
    now: datetime,
) -> str:
    """Create or repoint deployment ``name`` inside the caller's transaction; returns
    the artifact it served before ("" when new). The limit is checked again here:
    deployment jobs of a project run one at a time, so the count is exact."""
    current = (
        Deployment.objects.select_for_update()
        .filter(project=project, name=name)
        .first()
    )
    if current is None:
        if Deployment.objects.filter(project=project).count() >= MAX_DEPLOYMENTS:
            raise InvalidArgument(
                f"Project {project.name!r} already has {MAX_DEPLOYMENTS} deployments, "
                "the maximum; delete one or deploy to an existing name.",
                target="deploymentName",
            )
        Deployment.objects.create(
            project=project, name=name, deployed_at=now, **pointer
        )
        return ""
    replaced = current.artifact_name
    for field, value in pointer.items():
        setattr(current, field, value)
    current.deployed_at = now
    current.save()
    return replaced


def _still_running(context: JobContext) -> None:
    """Last statement of the applying transaction: beat the heartbeat, or roll back
    when the sweeper has already failed this job (its worker looked dead but was
    only slow, e.g. waiting for a lock).

    Without this, a late worker would change a deployment under a job that reports
    ``failed``. Done last, so the heartbeat thread keeps beating while the
    transaction waits for locks; a sweep that comes after it waits for our commit
    and then finds the heartbeat fresh.
    """
    alive = Job.objects.filter(
        pk=context.job.pk,
        status__in=[Job.Status.RUNNING, Job.Status.CANCELLING],
    ).update(heartbeat_at=timezone.now())
    if not alive:
        raise Conflict(
            "This job was stopped while it ran (its worker stopped responding); "
            "nothing was changed. Run the operation again.",
        )


def _finish_change(project: Project, now: datetime) -> None:
    deployment_state_bump()
    Project.objects.filter(pk=project.pk).update(last_deployed_at=now)


# --- job operations -------------------------------------------------------------------


def _gate_still_valid(context: JobContext, project: Project) -> None:
    """The gate compared with what each deployment served at request time. Deployment
    jobs of a project run one at a time, so that cannot have changed -- unless a job
    the sweeper failed was only slow; then refuse rather than apply an unchecked
    change. Jobs queued before the gate existed carry no ``gate`` and pass."""
    compared = context.params.get("gate")
    if not isinstance(compared, dict):
        return
    serving = dict(
        Deployment.objects.filter(project=project, name__in=list(compared)).values_list(
            "name", "model_id"
        )
    )
    for name, model_id in compared.items():
        if serving.get(name, "") != model_id:
            raise Conflict(
                f"Deployment {name!r} changed after the deploy gate compared it "
                "(another deployment job got there first); nothing was changed. "
                "Run the operation again to compare with what serves now.",
                target="deploymentName",
            )


def _deploy(context: JobContext) -> dict[str, Any]:
    project = _job_project(context, CONVERSATION_KINDS)
    name = context.job.target_name
    label = str(context.params["trainedModelLabel"])
    model = trained_model_get(project=project, label=label)
    _gate_still_valid(context, project)
    context.progress(10)
    _verify_artifact(model.artifact_name, model.manifest, project.kind)
    context.progress(80)
    context.raise_if_cancelled()
    now = timezone.now()
    with transaction.atomic():
        # Lock the model row: a concurrent delete or retrain of the label waits for
        # this commit (and then sees the deployment's reference to the artifact), or
        # has already happened and the model id no longer matches what was verified.
        locked = (
            TrainedModel.objects.select_for_update()
            .filter(pk=model.pk, model_id=model.model_id)
            .first()
        )
        if locked is None:
            raise NotFound(
                f"Trained model {label!r} was deleted or retrained while it was being "
                "deployed; the deployment was not changed. Deploy it again.",
                target="trainedModelLabel",
            )
        replaced = _point(
            project=project,
            name=name,
            pointer={
                "model_label": locked.label,
                "model_id": locked.model_id,
                "artifact_name": locked.artifact_name,
                "manifest": locked.manifest,
                "model_trained_at": locked.trained_at,
                "training_config_version": locked.training_config_version,
                "expires_on": locked.expires_on,
            },
            now=now,
        )
        shadow_clear_if_live(project=project, deployment_names=[name])
        _finish_change(project, now)
        if replaced != locked.artifact_name:
            _delete_after_commit([replaced])
        _still_running(context)
    resource_ids = list(context.params.get("azureResourceIds") or [])
    if resource_ids:
        # The local deployment serves now; the copy is a job of its own, so a slow
        # or failing resource never holds this one up.
        warning = resources_deploy_after_local(
            project=project,
            deployment_name=name,
            job=context.job,
            azure_resource_ids=resource_ids,
        )
        if warning is not None:
            # Re-read: warnings written while the job ran (the gate's) stay.
            jobs = Job.objects.filter(pk=context.job.pk)
            current = jobs.values_list("warnings", flat=True).first() or []
            jobs.update(warnings=[*current, warning])
    return {"deploymentName": name, "modelId": model.model_id}


def _deployment_delete(context: JobContext) -> dict[str, Any]:
    project = _job_project(context, CONVERSATION_KINDS)
    name = context.job.target_name
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update()
            .filter(project=project, name=name)
            .first()
        )
        if deployment is None:
            raise NotFound(
                f"Deployment {name!r} was not found in project {project.name!r}.",
                target="deploymentName",
            )
        artifact = deployment.artifact_name
        deployment.delete()
        deployment_state_bump()
        _delete_after_commit([artifact])
        _still_running(context)
    return {}


_POINTER_FIELDS = (
    "model_label",
    "model_id",
    "artifact_name",
    "manifest",
    "model_trained_at",
    "training_config_version",
    "expires_on",
)


def _swap(context: JobContext) -> dict[str, Any]:
    project = _job_project(context, CONVERSATION_KINDS)
    first_name = str(context.params["firstDeploymentName"])
    second_name = str(context.params["secondDeploymentName"])
    _gate_still_valid(context, project)
    now = timezone.now()
    with transaction.atomic():
        rows = {
            d.name: d
            for d in Deployment.objects.select_for_update()
            .filter(project=project, name__in=[first_name, second_name])
            .order_by("pk")
        }
        for name in (first_name, second_name):
            if name not in rows:
                raise NotFound(
                    f"Deployment {name!r} was not found in project {project.name!r}.",
                    target="deploymentName",
                )
        first, second = rows[first_name], rows[second_name]
        for field in _POINTER_FIELDS:
            a, b = getattr(first, field), getattr(second, field)
            setattr(first, field, b)
            setattr(second, field, a)
        first.deployed_at = second.deployed_at = now
        first.save()
        second.save()
        shadow_clear_if_live(
            project=project, deployment_names=[first_name, second_name]
        )
        _finish_change(project, now)
        _still_running(context)
    return {}


def kb_records(project: Project) -> list[QnaRecord]:
    """The knowledge base's pairs as the engine reads them, in id order."""
    return [
        QnaRecord(
            id=pair.qna_id,
            questions=tuple(pair.questions),
            answer=pair.answer,
            source=pair.source,
            metadata={str(k): str(v) for k, v in (pair.metadata or {}).items()},
            prompts=tuple(pair.prompts or ()),
            is_context_only=pair.is_context_only,
        )
        for pair in QnaPair.objects.filter(project=project).order_by("qna_id")
    ]


def kb_bundle_build(project: Project) -> tuple[KnowledgeBaseBundle, str]:
    """The knowledge base as it is now (pairs, synonym groups, default answer) and
    the hash of exactly what was built from, read once so the two agree."""
    records = kb_records(project)
    synonyms = [
        list(group.alterations)
        for group in KbSynonymGroup.objects.filter(project=project).order_by("position")
    ]
    try:
        kb = KnowledgeBase.build(
            records,
            synonyms=synonyms,
            default_answer=project.default_answer or None,
            language=project.language,
        )
    except QnaError as exc:
        raise InvalidArgument(
            f"The knowledge base cannot be deployed: {exc}.", target="qnas"
        ) from None
    digest = training_data_hash(
        [
            {"language": project.language, "defaultAnswer": project.default_answer},
            {"synonyms": synonyms},
            *records,
        ]
    )
    return KnowledgeBaseBundle(kb=kb, language=project.language), digest


def _kb_deploy(context: JobContext) -> dict[str, Any]:
    project = _job_project(context, KB_KINDS)
    name = context.job.target_name
    bundle, digest = kb_bundle_build(project)
    context.progress(50)
    now = timezone.now()
    ticks = _EPOCH_TICKS + int(now.timestamp() * 10_000_000)
    model_id = f"kb-{ticks}"
    artifact_name, manifest = artifact_save(
        bundle,
        model_id=model_id,
        training_data_hash=digest,
        params={"kind": "QuestionAnswering", "language": project.language},
    )
    context.progress(80)
    try:
        context.raise_if_cancelled()
        with transaction.atomic():
            replaced = _point(
                project=project,
                name=name,
                pointer={
                    "model_label": "",
                    "model_id": model_id,
                    "artifact_name": artifact_name,
                    "manifest": manifest,
                    "model_trained_at": now,
                    "training_config_version": "",
                    "expires_on": KB_EXPIRES_ON,
                },
                now=now,
            )
            _finish_change(project, now)
            _delete_after_commit([replaced])
            _still_running(context)
    except BaseException:
        # Nothing points to the new artifact: do not leave it behind (best effort:
        # the original failure, not a failed clean-up, is what the job reports).
        try:
            artifact_delete_if_unused(artifact_name)
        except Exception:  # noqa: BLE001
            logger.exception("could not delete the unused artifact %s", artifact_name)
        raise
    return {"deploymentName": name, "modelId": model_id}


@shared_task(ignore_result=True)
def deploy_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_deploy)


@shared_task(ignore_result=True)
def deployment_delete_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_deployment_delete)


@shared_task(ignore_result=True)
def swap_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_swap)


@shared_task(ignore_result=True)
def kb_deploy_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=_kb_deploy)
