"""Shadow models of deployments: set and clear (checks, audit, version bump,
artifact lifetime), cleared when promoted by a deploy or a swap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage

from jobs.models import Job
from projects.models import Project
from studio.deployment_state import deployment_state_version
from studio.errors import Conflict, InvalidArgument, NotFound
from studio.models import AuditEvent
from tests.factories import KbProjectFactory, ProjectFactory
from tests.training.model_helpers import make_trained_model
from training import deploy_jobs
from training.models import Deployment, TrainedModel
from training.services.shadow import (
    ShadowUnusable,
    deployment_shadow_clear,
    deployment_shadow_set,
)

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
) -> Callable[[Callable[[], Any]], Any]:
    """Call ``start`` and run what it schedules after commit (jobs, deletions)."""

    def go(start: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return start()

    return go


Deploy = Callable[..., Job]


@pytest.fixture
def deploy(run: Callable[[Callable[[], Any]], Any]) -> Deploy:
    def go(project: Project, name: str, label: str) -> Job:
        job: Job = run(
            lambda: deploy_jobs.deploy_start(
                project_name=project.name,
                deployment_name=name,
                body={"trainedModelLabel": label},
            )
        )
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.errors
        return job

    return go


@pytest.fixture
def project(deploy: Deploy) -> Project:
    project = ProjectFactory.create(name="Travel")
    make_trained_model(project, "m1", TEXTS, LABELS)
    make_trained_model(project, "m2", TEXTS, LABELS)
    deploy(project, "production", "m1")
    return project


def production(project: Project) -> Deployment:
    return Deployment.objects.get(project=project, name="production")


def test_set_copies_the_model_pointer_bumps_the_version_and_audits(
    project: Project,
) -> None:
    m2 = TrainedModel.objects.get(project=project, label="m2")
    before = deployment_state_version()
    deployment_shadow_set(
        project=project, deployment_name="production", model_label="m2"
    )
    deployment = production(project)
    assert (
        deployment.shadow_model_label,
        deployment.shadow_model_id,
        deployment.shadow_artifact_name,
        deployment.shadow_manifest,
    ) == ("m2", m2.model_id, m2.artifact_name, m2.manifest)
    assert deployment.shadow_set_at is not None
    assert deployment.model_label == "m1"  # the live model is untouched
    assert deployment_state_version() == before + 1
    event: Any = AuditEvent.objects.get(action="deployment.shadow_set")
    assert event.project_id == project.pk
    assert event.after["shadowModelLabel"] == "m2"
    assert event.before is None


def test_clear_removes_the_shadow_audits_and_is_idempotent(project: Project) -> None:
    deployment_shadow_set(
        project=project, deployment_name="production", model_label="m2"
    )
    before = deployment_state_version()
    change = deployment_shadow_clear(project=project, deployment_name="production")
    assert change.previous_label == "m2"
    deployment = production(project)
    assert not deployment.has_shadow
    assert deployment.shadow_artifact_name == "" and deployment.shadow_manifest == {}
    assert deployment_state_version() == before + 1
    assert AuditEvent.objects.filter(action="deployment.shadow_clear").count() == 1
    deployment_shadow_clear(project=project, deployment_name="production")
    assert AuditEvent.objects.filter(action="deployment.shadow_clear").count() == 1


def test_the_live_model_cannot_shadow_itself(project: Project) -> None:
    with pytest.raises(InvalidArgument) as caught:
        deployment_shadow_set(
            project=project, deployment_name="production", model_label="m1"
        )
    assert caught.value.target == "trainedModelLabel"
    assert "already serves" in caught.value.message
    assert not production(project).has_shadow
    assert not AuditEvent.objects.filter(action="deployment.shadow_set").exists()


def test_a_model_of_another_project_is_not_found(project: Project) -> None:
    other = ProjectFactory.create(name="Other")
    make_trained_model(other, "theirs", TEXTS, LABELS)
    with pytest.raises(NotFound) as caught:
        deployment_shadow_set(
            project=project, deployment_name="production", model_label="theirs"
        )
    assert caught.value.target == "trainedModelLabel"
    assert "same project" in caught.value.message
    assert not production(project).has_shadow


def test_a_model_still_training_is_a_conflict(project: Project) -> None:
    Job.objects.create(
        job_id="t-1",
        kind=Job.Kind.TRAIN,
        project_name=project.name,
        project=project,
        status=Job.Status.RUNNING,
        params={"modelLabel": "m3"},
        expires_at="2099-01-01T00:00:00Z",
    )
    with pytest.raises(Conflict, match="still training"):
        deployment_shadow_set(
            project=project, deployment_name="production", model_label="m3"
        )


@pytest.mark.parametrize("label", ["", "  ", None, 3, ["m2"]])
def test_a_missing_or_malformed_label_is_invalid(project: Project, label: Any) -> None:
    with pytest.raises(InvalidArgument) as caught:
        deployment_shadow_set(
            project=project, deployment_name="production", model_label=label
        )
    assert caught.value.target == "trainedModelLabel"


def test_an_unknown_deployment_is_not_found(project: Project) -> None:
    with pytest.raises(NotFound) as caught:
        deployment_shadow_set(
            project=project, deployment_name="staging", model_label="m2"
        )
    assert caught.value.target == "deploymentName"
    with pytest.raises(NotFound):
        deployment_shadow_clear(project=project, deployment_name="staging")


def test_knowledge_bases_have_no_shadow() -> None:
    kb = KbProjectFactory.create(name="Faq")
    with pytest.raises(InvalidArgument, match="only"):
        deployment_shadow_set(project=kb, deployment_name="production", model_label="x")


def test_an_unloadable_artifact_changes_nothing(project: Project) -> None:
    m2 = TrainedModel.objects.get(project=project, label="m2")
    default_storage.delete(m2.artifact_name)
    with pytest.raises(ShadowUnusable):
        deployment_shadow_set(
            project=project, deployment_name="production", model_label="m2"
        )
    assert not production(project).has_shadow


def test_the_shadow_artifact_outlives_a_retrain_of_its_label_until_cleared(
    project: Project, run: Callable[[Callable[[], Any]], Any]
) -> None:
    deployment_shadow_set(
        project=project, deployment_name="production", model_label="m2"
    )
    shadowed = production(project).shadow_artifact_name
    # Retraining m2 replaces its row and drops its old artifact, unless in use.
    TrainedModel.objects.filter(project=project, label="m2").delete()
    run(lambda: deploy_jobs._delete_after_commit([shadowed]))
    assert default_storage.exists(shadowed)
    run(lambda: deployment_shadow_clear(project=project, deployment_name="production"))
    assert not default_storage.exists(shadowed)


def test_promoting_the_shadow_by_a_deploy_clears_it(
    project: Project, deploy: Deploy
) -> None:
    deployment_shadow_set(
        project=project, deployment_name="production", model_label="m2"
    )
    deploy(project, "production", "m2")
    deployment = production(project)
    assert deployment.model_label == "m2"
    assert not deployment.has_shadow
    event: Any = AuditEvent.objects.get(action="deployment.shadow_clear")
    assert "promoted" in event.after["reason"]


def test_deploying_another_model_keeps_the_shadow(
    project: Project, deploy: Deploy
) -> None:
    make_trained_model(project, "m3", TEXTS, LABELS)
    deployment_shadow_set(
        project=project, deployment_name="production", model_label="m2"
    )
    deploy(project, "production", "m3")
    deployment = production(project)
    assert (deployment.model_label, deployment.shadow_model_label) == ("m3", "m2")


def test_a_swap_that_brings_the_shadow_model_live_clears_it(
    project: Project, deploy: Deploy, run: Callable[[Callable[[], Any]], Any]
) -> None:
    deploy(project, "staging", "m2")
    deployment_shadow_set(
        project=project, deployment_name="production", model_label="m2"
    )
    job = run(
        lambda: deploy_jobs.swap_start(
            project_name=project.name,
            body={
                "firstDeploymentName": "production",
                "secondDeploymentName": "staging",
            },
        )
    )
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.errors
    deployment = production(project)
    assert deployment.model_label == "m2" and not deployment.has_shadow
