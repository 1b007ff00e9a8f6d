"""Deploy, delete and swap services and their jobs (eager Celery, real engine)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services import jobs_fail_stale
from projects.models import KbSynonymGroup, Project, QnaPair
from studio.deployment_state import deployment_state_version
from studio.errors import Conflict, InvalidArgument, NotFound, ProjectNotFound
from tests.factories import (
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
)
from tests.training.model_helpers import make_trained_model
from training import deploy_jobs
from training.artifact_store import artifact_load
from training.models import Deployment, TrainedModel

pytestmark = pytest.mark.django_db

TEXTS = [
    "book a flight to paris",
    "fly me to london tomorrow",
    "i need a plane ticket",
    "what's the weather like",
    "will it rain today",
    "is it sunny outside",
]
LABELS = ["Travel"] * 3 + ["Weather"] * 3


@pytest.fixture
def run(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[[Callable[[], Job]], Job]:
    """Start a job and run it (and the after-commit work it schedules)."""

    def go(start: Callable[[], Job]) -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            job = start()
        job.refresh_from_db()
        return job

    return go


@pytest.fixture
def project() -> Project:
    return ProjectFactory.create(name="Travel")


@pytest.fixture
def models(project: Project) -> Iterator[tuple[TrainedModel, TrainedModel]]:
    first = make_trained_model(project, "m1", TEXTS, LABELS)
    second = make_trained_model(project, "m2", TEXTS[:4], LABELS[:4])
    yield first, second


def deploy(project: Project, name: str, label: str) -> Callable[[], Job]:
    return lambda: deploy_jobs.deploy_start(
        project_name=project.name,
        deployment_name=name,
        body={"trainedModelLabel": label},
    )


def pointer(deployment: Deployment) -> tuple[Any, ...]:
    return (
        deployment.model_label,
        deployment.model_id,
        deployment.artifact_name,
        deployment.manifest,
        deployment.model_trained_at,
        deployment.training_config_version,
        deployment.expires_on,
    )


def test_deploy_copies_the_model_pointer_and_bumps_the_version(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    model = models[0]
    before = deployment_state_version()
    job = run(deploy(project, "production", "m1"))
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert (job.kind, job.target_name) == (Job.Kind.DEPLOY, "production")
    deployment = Deployment.objects.get(project=project, name="production")
    assert pointer(deployment) == (
        "m1",
        model.model_id,
        model.artifact_name,
        model.manifest,
        model.trained_at,
        model.training_config_version,
        model.expires_on,
    )
    assert deployment_state_version() == before + 1
    project.refresh_from_db()
    assert project.last_deployed_at == deployment.deployed_at
    # What is deployed loads and predicts.
    bundle = artifact_load(deployment.artifact_name, deployment.manifest)
    assert bundle.intents.predict("will it rain tomorrow")[0][0] == "Weather"


def test_redeploy_repoints_and_a_deleted_models_artifact_is_collected(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    first, second = models
    run(deploy(project, "production", "m1"))
    # The model row goes (as a model delete would); its deployment keeps the bytes.
    first.delete()
    assert default_storage.exists(first.artifact_name)
    version = deployment_state_version()
    job = run(deploy(project, "production", "m2"))
    assert job.status == Job.Status.SUCCEEDED, job.errors
    deployment = Deployment.objects.get(project=project, name="production")
    assert deployment.model_id == second.model_id
    assert deployment_state_version() == version + 1
    assert not default_storage.exists(first.artifact_name)
    assert default_storage.exists(second.artifact_name)


def test_replaced_artifact_still_used_by_a_model_is_kept(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    first, _ = models
    run(deploy(project, "production", "m1"))
    run(deploy(project, "production", "m2"))
    assert default_storage.exists(first.artifact_name)


def test_tampered_artifact_fails_the_job_and_changes_nothing(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    first, second = models
    run(deploy(project, "production", "m1"))
    before = pointer(Deployment.objects.get(project=project, name="production"))
    version = deployment_state_version()
    # Same name, other bytes: the manifest's hash and signature no longer match.
    default_storage.delete(second.artifact_name)
    default_storage.save(second.artifact_name, ContentFile(b"not a model"))
    job = run(deploy(project, "production", "m2"))
    assert job.status == Job.Status.FAILED
    assert job.errors[0]["code"] == "InternalServerError"
    assert "cannot be loaded" in job.errors[0]["message"]
    assert pointer(Deployment.objects.get(project=project, name="production")) == before
    assert deployment_state_version() == version
    # A missing artifact fails the same way and creates nothing.
    default_storage.delete(second.artifact_name)
    job = run(deploy(project, "staging", "m2"))
    assert job.status == Job.Status.FAILED
    assert not Deployment.objects.filter(name="staging").exists()


def test_a_worker_killed_mid_deploy_changes_nothing_and_a_retry_succeeds(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    first, second = models
    run(deploy(project, "production", "m1"))
    before = pointer(Deployment.objects.get(project=project, name="production"))
    version = deployment_state_version()

    def killed(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("SIGKILL")  # not an Exception: job_execute cannot record it

    # Dies after repointing the row, before the transaction commits.
    with (
        mock.patch("training.deploy_jobs.deployment_state_bump", killed),
        pytest.raises(SystemExit),
    ):
        run(deploy(project, "production", "m2"))
    job = Job.objects.get(kind=Job.Kind.DEPLOY, status=Job.Status.RUNNING)
    assert pointer(Deployment.objects.get(project=project, name="production")) == before
    assert deployment_state_version() == version
    # The running job blocks other deployment changes until the sweeper fails it.
    with pytest.raises(Conflict):
        deploy(project, "staging", "m1")()
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert jobs_fail_stale(stale_after=timedelta(seconds=30)) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    retry = run(deploy(project, "production", "m2"))
    assert retry.status == Job.Status.SUCCEEDED, retry.errors
    assert Deployment.objects.get(name="production").model_id == second.model_id
    assert deployment_state_version() == version + 1


def test_a_slow_worker_whose_job_was_failed_changes_nothing(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    run(deploy(project, "production", "m1"))
    before = pointer(Deployment.objects.get(project=project, name="production"))
    version = deployment_state_version()
    verify = deploy_jobs._verify_artifact

    def slow_verify(*args: Any) -> None:
        verify(*args)
        # Meanwhile the sweeper decided this worker was dead.
        Job.objects.filter(status=Job.Status.RUNNING).update(status=Job.Status.FAILED)

    with mock.patch("training.deploy_jobs._verify_artifact", slow_verify):
        job = run(deploy(project, "production", "m2"))
    assert job.status == Job.Status.FAILED
    assert pointer(Deployment.objects.get(project=project, name="production")) == before
    assert deployment_state_version() == version


@pytest.mark.parametrize(
    "name", ["swap", "SWAP", "Swap", "has space", "a/b", "x" * 51, "", "é"]
)
def test_bad_or_reserved_deployment_names_are_refused(
    project: Project, models: Any, name: str
) -> None:
    with pytest.raises(InvalidArgument):
        deploy(project, name, "m1")()
    assert not Job.objects.exists()


def test_unknown_model_project_or_kind_is_a_404(project: Project, models: Any) -> None:
    with pytest.raises(NotFound) as error:
        deploy(project, "production", "nope")()
    assert "nope" in error.value.message
    with pytest.raises(ProjectNotFound):
        deploy_jobs.deploy_start(
            project_name="missing",
            deployment_name="production",
            body={"trainedModelLabel": "m1"},
        )
    kb = KbProjectFactory.create(name="kb")
    with pytest.raises(ProjectNotFound):
        deploy(kb, "production", "m1")()
    with pytest.raises(InvalidArgument):
        deploy_jobs.deploy_start(
            project_name=project.name, deployment_name="production", body={}
        )
    assert not Job.objects.exists()


def test_at_most_ten_deployments(run: Any, project: Project, models: Any) -> None:
    for i in range(10):
        job = run(deploy(project, f"d{i}", "m1"))
        assert job.status == Job.Status.SUCCEEDED, job.errors
    with pytest.raises(InvalidArgument) as error:
        deploy(project, "d10", "m1")()
    assert "10" in error.value.message
    # Redeploying an existing name is always allowed.
    assert run(deploy(project, "d3", "m2")).status == Job.Status.SUCCEEDED
    assert Deployment.objects.filter(project=project).count() == 10


def test_one_deployment_job_per_project(project: Project, models: Any) -> None:
    with mock.patch.object(deploy_jobs.deploy_task, "delay"):
        with transaction.atomic():
            waiting = deploy(project, "production", "m1")()
        with pytest.raises(Conflict) as error:
            deploy(project, "staging", "m1")()
        assert waiting.job_id in error.value.message
        # The database constraint holds even when the early check is skipped.
        with pytest.raises(IntegrityError), transaction.atomic():
            Job.objects.create(
                job_id="x_1",
                kind=Job.Kind.SWAP,
                project_name=project.name,
                expires_at=timezone.now(),
            )
        # Another project is not blocked.
        other = ProjectFactory.create(name="Other")
        make_trained_model(other, "m1", TEXTS, LABELS)
        deploy(other, "production", "m1")()


def test_swap_exchanges_the_two_pointers_atomically(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    run(deploy(project, "production", "m1"))
    run(deploy(project, "staging", "m2"))
    prod = pointer(Deployment.objects.get(name="production"))
    staging = pointer(Deployment.objects.get(name="staging"))
    version = deployment_state_version()
    job = run(
        lambda: deploy_jobs.swap_start(
            project_name=project.name,
            body={
                "firstDeploymentName": "production",
                "secondDeploymentName": "staging",
            },
        )
    )
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert (job.kind, job.target_name) == (Job.Kind.SWAP, "swap")
    assert pointer(Deployment.objects.get(name="production")) == staging
    assert pointer(Deployment.objects.get(name="staging")) == prod
    assert deployment_state_version() == version + 1
    # Nothing was collected: both artifacts are still served.
    assert default_storage.exists(prod[2]) and default_storage.exists(staging[2])


def test_swap_needs_two_existing_different_deployments(
    run: Any, project: Project, models: Any
) -> None:
    run(deploy(project, "production", "m1"))

    def swap(body: Any) -> Job:
        return deploy_jobs.swap_start(project_name=project.name, body=body)

    with pytest.raises(NotFound):
        swap({"firstDeploymentName": "production", "secondDeploymentName": "nope"})
    with pytest.raises(InvalidArgument):
        swap(
            {"firstDeploymentName": "production", "secondDeploymentName": "production"}
        )
    with pytest.raises(InvalidArgument):
        swap({"firstDeploymentName": "production"})
    assert not Job.objects.filter(kind=Job.Kind.SWAP).exists()


def test_delete_deployment_removes_the_row_and_unused_artifact(
    run: Any, project: Project, models: tuple[TrainedModel, TrainedModel]
) -> None:
    first, _ = models
    run(deploy(project, "production", "m1"))
    first.delete()
    version = deployment_state_version()
    job = run(
        lambda: deploy_jobs.deployment_delete_start(
            project_name=project.name, deployment_name="production"
        )
    )
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.kind == Job.Kind.DEPLOYMENT_DELETE
    assert not Deployment.objects.filter(project=project).exists()
    assert deployment_state_version() == version + 1
    assert not default_storage.exists(first.artifact_name)
    with pytest.raises(NotFound):
        deploy_jobs.deployment_delete_start(
            project_name=project.name, deployment_name="production"
        )


def test_orchestration_projects_deploy_too(run: Any) -> None:
    router = OrchestrationProjectFactory.create(name="Router")
    make_trained_model(router, "r1", TEXTS, LABELS)
    job = run(deploy(router, "production", "r1"))
    assert job.status == Job.Status.SUCCEEDED, job.errors


def test_a_model_of_another_kind_is_not_deployed(run: Any) -> None:
    # An artifact that loads but holds a CLU model cannot serve an orchestration.
    router = OrchestrationProjectFactory.create(name="Router")
    clu = ProjectFactory.create(name="Clu")
    model = make_trained_model(clu, "m", TEXTS, LABELS)
    TrainedModel.objects.create(
        project=router,
        label="r1",
        model_id="r1-1",
        training_mode="standard",
        training_config_version="2022-05-01",
        artifact_name=model.artifact_name,
        manifest=model.manifest,
        trained_at=timezone.now(),
        expires_on=model.expires_on,
    )
    job = run(deploy(router, "production", "r1"))
    assert job.status == Job.Status.FAILED
    assert "Orchestration" in job.errors[0]["message"]


# --- knowledge bases --------------------------------------------------------------


@pytest.fixture
def kb() -> Project:
    kb = KbProjectFactory.create(name="faq", default_answer="Sorry, no idea.")
    QnaPair.objects.create(
        project=kb,
        qna_id=1,
        questions=["How do I reset my password?", "forgot password"],
        answer="Use the reset link on the sign-in page.",
    )
    QnaPair.objects.create(
        project=kb,
        qna_id=2,
        questions=["What are your opening hours?"],
        answer="We are open 9 to 5 on weekdays.",
        metadata={"topic": "hours"},
    )
    KbSynonymGroup.objects.create(
        project=kb, position=0, alterations=["passcode", "password"]
    )
    return kb


def kb_deploy(kb: Project, name: str = "production") -> Callable[[], Job]:
    return lambda: deploy_jobs.kb_deploy_start(
        project_name=kb.name, deployment_name=name
    )


def test_kb_deploy_builds_a_knowledge_base_that_answers(run: Any, kb: Project) -> None:
    version = deployment_state_version()
    job = run(kb_deploy(kb))
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.api == Job.Api.QUESTION_ANSWERING
    deployment = Deployment.objects.get(project=kb, name="production")
    assert deployment.model_label == ""
    assert deployment.model_id.startswith("kb-")
    assert deployment_state_version() == version + 1
    bundle = artifact_load(deployment.artifact_name, deployment.manifest)
    assert bundle.kind == "QuestionAnswering"
    # Through the synonym group: "passcode" is "password".
    answers = bundle.kb.query("I forgot my passcode")
    assert answers[0]["id"] == 1
    assert answers[0]["answer"] == "Use the reset link on the sign-in page."
    assert bundle.kb.query("quantum chromodynamics")[0]["answer"] == "Sorry, no idea."
    kb.refresh_from_db()
    assert kb.last_deployed_at == deployment.deployed_at


def test_kb_redeploy_serves_the_edited_kb_and_collects_the_old_artifact(
    run: Any, kb: Project
) -> None:
    run(kb_deploy(kb))
    old = Deployment.objects.get(project=kb, name="production")
    QnaPair.objects.filter(project=kb, qna_id=2).update(answer="Open 24/7 now.")
    job = run(kb_deploy(kb))
    assert job.status == Job.Status.SUCCEEDED, job.errors
    new = Deployment.objects.get(project=kb, name="production")
    assert new.model_id != old.model_id
    assert not default_storage.exists(old.artifact_name)
    bundle = artifact_load(new.artifact_name, new.manifest)
    assert bundle.kb.query("opening hours")[0]["answer"] == "Open 24/7 now."


def test_kb_deploy_failure_leaves_no_artifact_behind(run: Any, kb: Project) -> None:
    run(kb_deploy(kb))
    before = pointer(Deployment.objects.get(project=kb, name="production"))
    saved = set(default_storage.listdir("models")[1])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    with mock.patch("training.deploy_jobs.deployment_state_bump", broken):
        job = run(kb_deploy(kb))
    assert job.status == Job.Status.FAILED
    assert pointer(Deployment.objects.get(project=kb, name="production")) == before
    assert set(default_storage.listdir("models")[1]) == saved


def test_kb_deploy_checks_name_kind_and_limit(run: Any, kb: Project) -> None:
    with pytest.raises(InvalidArgument):
        kb_deploy(kb, "swap")()
    with pytest.raises(ProjectNotFound):
        kb_deploy(ProjectFactory.create(name="clu"))()
    for i in range(10):
        Deployment.objects.create(
            project=kb,
            name=f"d{i}",
            model_id=f"kb-{i}",
            artifact_name="",
            model_trained_at=timezone.now(),
            deployed_at=timezone.now(),
            expires_on=deploy_jobs.KB_EXPIRES_ON,
        )
    with pytest.raises(InvalidArgument):
        kb_deploy(kb, "production")()
    assert run(kb_deploy(kb, "d0")).status == Job.Status.SUCCEEDED


def test_an_empty_kb_deploys_and_gives_the_default_answer(run: Any) -> None:
    kb = KbProjectFactory.create(name="empty", default_answer="Nothing yet.")
    job = run(kb_deploy(kb))
    assert job.status == Job.Status.SUCCEEDED, job.errors
    deployment = Deployment.objects.get(project=kb)
    bundle = artifact_load(deployment.artifact_name, deployment.manifest)
    assert bundle.kb.query("anything")[0] == {
        "questions": [],
        "answer": "Nothing yet.",
        "confidenceScore": 0.0,
        "id": -1,
        "metadata": {},
    }
