"""The deploy gate (training/services/gate.py): deploys and swaps compared with the
serving model on the gate set, accepted, blocked or overridden (eager Celery, real
engine); and the comparison itself (training/engine/gate.py)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from jobs.models import Job
from projects.models import Project, Utterance
from projects.services.gate import (
    evaluation_set_pin,
    project_gate_update,
)
from studio.models import AuditEvent
from tests.factories import IntentFactory, ProjectFactory
from tests.training.model_helpers import make_trained_model
from training import deploy_jobs
from training.engine.gate import compare, scores
from training.models import Deployment
from training.services.gate import DeployGateBlocked

pytestmark = pytest.mark.django_db

TEXTS = [
    "book a flight to paris",
    "fly me to london tomorrow",
    "i need a plane ticket",
    "what's the weather like",
    "will it rain today",
    "is it sunny outside",
]
GOOD = ["Travel"] * 3 + ["Weather"] * 3
# Every label swapped: a deliberately wrong model.
BAD = ["Weather"] * 3 + ["Travel"] * 3


@pytest.fixture
def run(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[[Callable[[], Job]], Job]:
    def go(start: Callable[[], Job]) -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            job = start()
        job.refresh_from_db()
        return job

    return go


@pytest.fixture
def project() -> Project:
    project = ProjectFactory.create(name="Travel")
    intents = {
        name: IntentFactory.create(project=project, name=name)
        for name in ("Travel", "Weather")
    }
    for text, label in zip(TEXTS, GOOD, strict=True):
        Utterance.objects.create(
            project=project, text=text, intent=intents[label], dataset="Test"
        )
    return project


def _deploy(run: Any, project: Project, label: str, **kwargs: Any) -> Job:
    return run(
        lambda: deploy_jobs.deploy_start(
            project_name=project.name,
            deployment_name="production",
            body={"trainedModelLabel": label},
            **kwargs,
        )
    )


def _actions(project: Project) -> list[str]:
    return list(
        AuditEvent.objects.filter(project_id=project.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


# ---------------------------------------------------------------- the comparison


def test_compare_counts_changes_new_errors_and_fixes() -> None:
    result = compare(
        texts=["a", "b", "c", "d"],
        expected=["X", "X", "Y", "Y"],
        serving=["X", "Y", "Y", "Y"],
        candidate=["Y", "X", "Y", "Y"],
    )
    assert result.changed_count == 2
    assert result.new_error_count == 1 and result.new_errors[0]["text"] == "a"
    assert result.fixed_count == 1
    assert result.serving.accuracy == result.candidate.accuracy == 0.75
    assert result.accuracy_drop_points == 0
    assert set(result.serving.per_intent) == {"X", "Y"}


# ---------------------------------------------------------------- deploys


def test_scores_match_a_per_intent_count_on_random_labels() -> None:
    """The single-pass scoring gives what counting each intent on its own gives."""
    rng = random.Random(7)
    names = [f"i{n}" for n in range(12)]
    expected = [rng.choice(names) for _ in range(400)]
    predicted = [e if rng.random() < 0.6 else rng.choice(names) for e in expected]
    intents = sorted(set(expected) | set(predicted) | {"never"})
    got = scores(expected, predicted, intents)
    for intent in intents:
        pairs = list(zip(expected, predicted, strict=True))
        tp = sum(1 for e, p in pairs if e == p == intent)
        fp = sum(1 for e, p in pairs if p == intent != e)
        fn = sum(1 for e, p in pairs if e == intent != p)
        f1 = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
        assert got.per_intent[intent] == pytest.approx(f1)
    assert got.macro_f1 == pytest.approx(sum(got.per_intent.values()) / len(intents))
    assert (
        got.accuracy
        == sum(e == p for e, p in zip(expected, predicted, strict=True)) / 400
    )
    assert list(got.per_intent) == intents


def test_first_deploy_passes_with_a_warning_that_nothing_was_compared(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    project_gate_update(project=project, max_drop=0)
    make_trained_model(project, "v1", TEXTS, GOOD)
    job = _deploy(run, project, "v1")
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.warnings[0]["code"] == "DeployGateSkipped"
    assert "nothing serves deployment 'production' yet" in job.warnings[0]["message"]
    assert "deployment.gate_pass" in _actions(project)


def test_empty_gate_set_passes_with_a_warning_saying_so(
    project: Project, run: Any
) -> None:
    project_gate_update(project=project, max_drop=0)
    make_trained_model(project, "v1", TEXTS, GOOD)
    make_trained_model(project, "v2", TEXTS, BAD)
    _deploy(run, project, "v1")
    job = _deploy(run, project, "v2")
    assert job.status == Job.Status.SUCCEEDED
    assert job.warnings[0]["code"] == "DeployGateSkipped"
    assert "the gate set is empty" in job.warnings[0]["message"]


def test_an_equal_or_better_model_is_accepted_with_the_comparison(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    project_gate_update(project=project, max_drop=1)
    bad = make_trained_model(project, "bad", TEXTS, BAD)
    make_trained_model(project, "good", TEXTS, GOOD)
    _deploy(run, project, "bad")
    job = _deploy(run, project, "good")
    assert job.status == Job.Status.SUCCEEDED
    warning = job.warnings[0]
    assert warning["code"] == "DeployGate"
    assert (
        "on 6 utterances: accuracy 0.0% → 100.0% (+100.0 points)"
        in (warning["message"])
    )
    assert "6 predictions changed, 0 new errors, 6 fixed" in warning["message"]
    # What the gate compared with, re-checked by the job.
    assert job.params["gate"] == {"production": bad.model_id}
    assert Deployment.objects.get(name="production").model_label == "good"
    event = AuditEvent.objects.filter(action="deployment.gate_pass").first()
    assert event is not None
    check = (event.after or {})["checks"][0]
    assert check["accuracyDropPoints"] == -100.0 and check["blocked"] is False


def test_a_worse_model_is_blocked_and_nothing_changes(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    project_gate_update(project=project, max_drop=5)
    good = make_trained_model(project, "good", TEXTS, GOOD)
    make_trained_model(project, "bad", TEXTS, BAD)
    _deploy(run, project, "good")
    jobs = Job.objects.count()
    with pytest.raises(DeployGateBlocked) as blocked:
        _deploy(run, project, "bad")
    error = blocked.value
    assert error.status_code == 409 and error.code == "Conflict"
    assert "100.0 accuracy points worse" in error.message
    assert "more than 5 points" in error.message
    assert Job.objects.count() == jobs
    assert Deployment.objects.get(name="production").model_id == good.model_id
    event = AuditEvent.objects.filter(action="deployment.gate_block").first()
    assert event is not None and event.target == "deployment production"
    assert (event.after or {})["checks"][0]["accuracyDropPoints"] == 100.0


def test_off_by_default_a_worse_model_is_reported_not_blocked(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    make_trained_model(project, "good", TEXTS, GOOD)
    make_trained_model(project, "bad", TEXTS, BAD)
    _deploy(run, project, "good")
    job = _deploy(run, project, "bad")
    assert job.status == Job.Status.SUCCEEDED
    assert "(−100.0 points)" in job.warnings[0]["message"]
    assert "6 new errors" in job.warnings[0]["message"]


def test_an_override_with_a_reason_deploys_and_is_audited(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    project_gate_update(project=project, max_drop=5)
    make_trained_model(project, "good", TEXTS, GOOD)
    bad = make_trained_model(project, "bad", TEXTS, BAD)
    _deploy(run, project, "good")
    job = _deploy(run, project, "bad", override_reason="hotfix for the demo")
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert [w["code"] for w in job.warnings] == ["DeployGate", "DeployGateOverridden"]
    assert job.warnings[1]["message"].endswith("hotfix for the demo")
    assert Deployment.objects.get(name="production").model_id == bad.model_id
    event = AuditEvent.objects.filter(action="deployment.gate_override").first()
    assert event is not None and (event.after or {})["reason"] == "hotfix for the demo"
    # The deploy's own event keeps the reason too.
    deploy = AuditEvent.objects.filter(action="deployment.deploy").first()
    assert deploy is not None
    assert (deploy.after or {})["gateOverrideReason"] == "hotfix for the demo"


def test_the_job_refuses_when_the_deployment_changed_after_the_check(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    make_trained_model(project, "good", TEXTS, GOOD)
    make_trained_model(project, "bad", TEXTS, BAD)
    _deploy(run, project, "good")
    job = deploy_jobs.deploy_start(
        project_name=project.name,
        deployment_name="production",
        body={"trainedModelLabel": "bad"},
    )
    Deployment.objects.filter(name="production").update(model_id="someone-else")
    deploy_jobs.deploy_task.apply(args=(str(job.pk),))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "changed after the deploy gate compared it" in job.errors[0]["message"]


# ---------------------------------------------------------------- swaps


def test_swap_is_checked_both_ways_and_blocked_when_one_side_gets_worse(
    project: Project, run: Any
) -> None:
    evaluation_set_pin(project=project)
    good = make_trained_model(project, "good", TEXTS, GOOD)
    bad = make_trained_model(project, "bad", TEXTS, BAD)
    _deploy(run, project, "good")
    run(
        lambda: deploy_jobs.deploy_start(
            project_name=project.name,
            deployment_name="staging",
            body={"trainedModelLabel": "bad"},
        )
    )
    project_gate_update(project=project, max_drop=10)
    body = {"firstDeploymentName": "production", "secondDeploymentName": "staging"}
    with pytest.raises(DeployGateBlocked) as blocked:
        run(lambda: deploy_jobs.swap_start(project_name=project.name, body=body))
    assert "serving deployment 'production'" in blocked.value.message
    assert Deployment.objects.get(name="production").model_id == good.model_id
    job = run(
        lambda: deploy_jobs.swap_start(
            project_name=project.name, body=body, override_reason="rollback test"
        )
    )
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert [w["code"] for w in job.warnings] == [
        "DeployGate",
        "DeployGate",
        "DeployGateOverridden",
    ]
    assert Deployment.objects.get(name="production").model_id == bad.model_id
    assert _actions(project).count("deployment.gate_block") == 1
    assert _actions(project).count("deployment.gate_override") == 1


def test_a_serving_model_that_cannot_be_loaded_does_not_block_its_replacement(
    project: Project, run: Any
) -> None:
    from django.core.files.storage import default_storage

    evaluation_set_pin(project=project)
    project_gate_update(project=project, max_drop=0)
    make_trained_model(project, "good", TEXTS, GOOD)
    _deploy(run, project, "good")
    served = Deployment.objects.get(name="production")
    # The serving artifact is gone (the model row was retrained meanwhile).
    Deployment.objects.filter(pk=served.pk).update(
        artifact_name="models/missing.joblib"
    )
    assert not default_storage.exists("models/missing.joblib")
    make_trained_model(project, "next", TEXTS, BAD)
    job = _deploy(run, project, "next")
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.warnings[0]["code"] == "DeployGateSkipped"
    assert "model 'good' could not be loaded" in job.warnings[0]["message"]


def test_orchestration_routers_are_compared_too(run: Any) -> None:
    from tests.factories import OrchestrationProjectFactory

    router = OrchestrationProjectFactory.create(name="Router")
    intents = {
        name: IntentFactory.create(project=router, name=name)
        for name in ("Travel", "Weather")
    }
    for text, label in zip(TEXTS, GOOD, strict=True):
        Utterance.objects.create(
            project=router, text=text, intent=intents[label], dataset="Test"
        )
    evaluation_set_pin(project=router)
    project_gate_update(project=router, max_drop=10)
    make_trained_model(router, "good", TEXTS, GOOD)
    make_trained_model(router, "bad", TEXTS, BAD)
    _deploy(run, router, "good")
    with pytest.raises(DeployGateBlocked):
        _deploy(run, router, "bad")
