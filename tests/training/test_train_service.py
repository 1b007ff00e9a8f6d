"""Training jobs as services (``training.train_jobs``, ``training.training_data``).

Jobs are created as the API creates them and run eagerly on commit
(``django_capture_on_commit_callbacks``); the engine fits real (small) models.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs.models import Job
from jobs.services import JobContext, job_cancel
from projects import services
from projects.models import Intent, Project, Utterance
from runtime.targets import spec_headers
from studio.errors import Conflict, InvalidArgument
from tests.factories import KbProjectFactory, QnaPairFactory
from training import train_jobs
from training.artifact_store import artifact_load
from training.engine.bundles import ConversationBundle, OrchestrationBundle
from training.engine.child import ChildFit
from training.engine.evaluation import threshold_report
from training.models import Deployment, EvaluationResult, TrainedModel
from training.training_data import training_data_load

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]

MAIL = {
    "Read": [
        "read my email",
        "open the latest message",
        "show me my inbox",
        "read the mail from Blake",
        "open Blake's email",
        "what did Dana write",
        "show unread messages",
        "read new mail",
        "open my messages please",
        "read the message from Sam",
    ],
    "Delete": [
        "delete this email",
        "remove the last message",
        "trash the mail from Blake",
        "delete all spam",
        "get rid of this message",
        "erase the email from Dana",
        "delete it",
        "remove my old mail",
        "throw away the newsletter",
        "delete the message from Sam",
    ],
    "Send": [
        "send an email to Blake",
        "write a message to Dana",
        "compose a new mail",
        "email Sam about lunch",
        "send a note to my boss",
        "draft an email to Blake",
        "write to Dana",
        "send mail to the team",
        "message Sam now",
        "compose a reply to Blake",
    ],
}
NAMES = ("Blake", "Dana", "Sam")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _spans(text: str) -> list[dict[str, Any]]:
    """Contact spans in UTF-16 code units, as the document declares."""
    return [
        {
            "category": "Contact",
            "offset": _utf16(text[: text.index(n)]),
            "length": len(n),
        }
        for n in NAMES
        if n in text
    ]


def clu_document(
    name: str,
    intents: dict[str, list[str]] | None = None,
    *,
    extra_intents: tuple[str, ...] = (),
    test_every: int = 0,
) -> dict[str, Any]:
    intents = MAIL if intents is None else intents
    utterances = []
    for intent, texts in intents.items():
        for n, text in enumerate(texts):
            item: dict[str, Any] = {
                "text": text,
                "intent": intent,
                "entities": _spans(text),
            }
            if test_every and n % test_every == 0:
                item["dataset"] = "Test"
            utterances.append(item)
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Conversation",
            "projectName": name,
            "language": "en-us",
            "settings": {"confidenceThreshold": 0.3},
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": i} for i in [*intents, *extra_intents]],
            "entities": [{"category": "Contact"}],
            "utterances": utterances,
        },
    }


def clu_project(name: str = "Mail", **kwargs: Any) -> Project:
    return services.project_import(name=name, document=clu_document(name, **kwargs))


def deploy_row(project: Project, name: str = "production") -> Deployment:
    now = timezone.now()
    return Deployment.objects.create(
        project=project,
        name=name,
        model_label="m",
        model_id=f"m-{project.name}",
        artifact_name="",
        manifest={},
        model_trained_at=now,
        deployed_at=now,
        expires_on=date(2099, 12, 31),
    )


def train(
    capture: Capture,
    project: Project,
    label: str = "model1",
    **body: Any,
) -> Job:
    request = {"modelLabel": label, "trainingMode": "standard", **body}
    with capture(execute=True):
        job = train_jobs.train_start(project=project, body=request)
    job.refresh_from_db()
    return job


def orchestration_document(
    name: str, intents: list[dict[str, Any]], utterances: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Orchestration",
            "projectName": name,
            "language": "en-us",
        },
        "assets": {
            "projectKind": "Orchestration",
            "intents": intents,
            "utterances": utterances,
        },
    }


# ---------------------------------------------------------------- conversation


def test_training_a_conversation_project_writes_model_evaluation_and_files(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=project, label="model1")
    assert model.model_id.startswith("model1-")
    assert job.result["modelId"] == model.model_id
    assert model.training_config_version == "2022-05-01"
    assert model.evaluation_options == {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
        "testingSplitPercentage": 20,
    }
    # 20% of each intent's 10 utterances: 2 each.
    rows = list(EvaluationResult.objects.filter(model=model))
    assert len(rows) == 6
    assert {r.expected_intent for r in rows} == {"Read", "Delete", "Send"}
    # Each result points at the utterance it came from (the evaluation screens fix
    # labels through it).
    for row in rows:
        assert row.utterance_id is not None
        utterance = Utterance.objects.get(pk=row.utterance_id)
        assert (utterance.text, utterance.intent.name) == (
            row.text,
            row.expected_intent,
        )
    summary = model.evaluation_summary
    matrix = summary["intentsEvaluation"]["confusionMatrix"]
    for cells in matrix.values():
        assert sum(c["normalizedValue"] for c in cells.values()) == pytest.approx(100)
    assert sum(c["rawValue"] for cells in matrix.values() for c in cells.values()) == 6
    assert "Contact" in summary["entitiesEvaluation"]["entities"]
    project.refresh_from_db()
    assert project.last_trained_at == model.trained_at
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, ConversationBundle)
    assert bundle.intents is not None
    assert set(bundle.intents.labels) == {"Read", "Delete", "Send"}
    assert bundle.entities is not None
    snapshot = json.loads(default_storage.open(model.snapshot_name).read())
    assert snapshot["stringIndexType"] == "UnicodeCodePoint"
    assert len(snapshot["assets"]["utterances"]) == 30


def test_the_evaluation_applies_the_projects_thresholds_as_the_runtime_does(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    Project.objects.filter(pk=project.pk).update(
        confidence_threshold=0.6, per_intent_thresholds=True
    )
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=project, label="model1")
    report = model.evaluation_summary["intentsEvaluation"]["thresholds"]
    assert report["confidenceThreshold"] == 0.6
    assert report["perIntentThresholds"] is True
    bundle = artifact_load(model.artifact_name, model.manifest)
    own = bundle.intents.intent_thresholds(0.6)
    assert own  # every intent has held-out predictions
    assert report["intentThresholds"] == {
        intent: pytest.approx(value) for intent, value in own.items()
    }
    rows = list(EvaluationResult.objects.filter(model=model).order_by("position"))
    args = (
        [r.expected_intent for r in rows],
        [r.predicted_intent for r in rows],
        [r.predicted_confidence for r in rows],
    )
    assert report["global"] == threshold_report(*args, threshold=0.6)
    assert report["perIntent"] == threshold_report(*args, threshold=0.6, per_intent=own)
    assert report["global"]["inScopeCount"] == len(rows)
    assert report["global"]["oosRecall"] is None  # no test utterance is None


def test_evaluation_uses_the_training_split_only_and_is_reproducible(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    train(django_capture_on_commit_callbacks, project, "a")
    train(django_capture_on_commit_callbacks, project, "b")
    a, b = (
        list(
            EvaluationResult.objects.filter(model__label=label)
            .order_by("position")
            .values_list("text", "predicted_intent")
        )
        for label in ("a", "b")
    )
    assert a == b
    snapshot = training_data_load(project=project)
    trained = TrainedModel.objects.get(label="a")
    assert trained.manifest["training_data_hash"] == snapshot.hash


def test_progress_moves_and_the_job_result_shows_both_phases(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = clu_project()
    seen: list[tuple[int, dict[str, Any]]] = []
    original = JobContext.progress

    def spy(self: JobContext, percent: float) -> None:
        original(self, percent)
        job = Job.objects.get(pk=self.job.pk)
        seen.append((job.percent_complete, train_jobs.training_job_result(job)))

    monkeypatch.setattr(JobContext, "progress", spy)
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED
    percents = [p for p, _ in seen]
    assert percents == sorted(percents)
    training_running = [
        r["trainingStatus"]["percentComplete"]
        for _, r in seen
        if r["trainingStatus"]["status"] == "running"
    ]
    assert any(0 < p < 100 for p in training_running)
    evaluating = [
        r["evaluationStatus"]["percentComplete"]
        for _, r in seen
        if r["evaluationStatus"]["status"] == "running"
    ]
    assert any(0 < p < 100 for p in evaluating)
    assert all(
        r["evaluationStatus"]["status"] == "notStarted"
        for p, r in seen
        if p < train_jobs.TRAINING_SHARE
    )
    final = train_jobs.training_job_result(job)
    assert final["trainingStatus"]["status"] == "succeeded"
    assert final["trainingStatus"]["percentComplete"] == 100
    assert final["evaluationStatus"] == {
        "percentComplete": 100,
        "status": "succeeded",
        "startDateTime": final["trainingStatus"]["endDateTime"],
        "endDateTime": final["evaluationStatus"]["endDateTime"],
    }
    assert final["modelLabel"] == "model1"
    assert final["trainingMode"] == "standard"


def test_an_intent_without_utterances_fails_the_job_and_writes_nothing(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project(extra_intents=("Forward",))
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.FAILED
    assert any("'Forward'" in e["message"] for e in job.errors), job.errors
    assert not TrainedModel.objects.exists()
    project.refresh_from_db()
    assert project.last_trained_at is None
    assert train_jobs.training_job_result(job)["trainingStatus"]["status"] == "failed"


def test_an_empty_none_intent_is_not_a_class(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    assert project.intents.filter(name="None").exists()
    train(django_capture_on_commit_callbacks, project)
    model = TrainedModel.objects.get()
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert "None" not in bundle.intents.labels


def test_a_single_intent_trains_a_single_intent_model(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project(intents={"Read": MAIL["Read"]})
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get()
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert bundle.intents is None
    assert bundle.single_intent == "Read"


def test_manual_split_uses_the_test_dataset_and_needs_one(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project(test_every=5)
    job = train(
        django_capture_on_commit_callbacks,
        project,
        evaluationOptions={"kind": "manual"},
    )
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get()
    assert model.evaluation_options == {"kind": "manual"}
    tested = set(EvaluationResult.objects.values_list("text", flat=True))
    expected = {
        text for texts in MAIL.values() for n, text in enumerate(texts) if n % 5 == 0
    }
    assert tested == expected

    plain = clu_project("Plain")
    job = train(
        django_capture_on_commit_callbacks, plain, evaluationOptions={"kind": "manual"}
    )
    assert job.status == Job.Status.FAILED
    assert "Test set" in job.errors[0]["message"]


def test_retraining_a_label_replaces_the_model_and_its_files(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    train(django_capture_on_commit_callbacks, project)
    old = TrainedModel.objects.get()
    Utterance.objects.filter(project=project, text="delete it").delete()
    train(django_capture_on_commit_callbacks, project)
    new = TrainedModel.objects.get()
    assert new.model_id != old.model_id
    assert not default_storage.exists(old.artifact_name)
    assert not default_storage.exists(old.snapshot_name)
    assert default_storage.exists(new.artifact_name)
    assert EvaluationResult.objects.filter(model_id=old.pk).count() == 0


def test_a_replaced_model_keeps_its_artifact_while_a_deployment_uses_it(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    train(django_capture_on_commit_callbacks, project)
    old = TrainedModel.objects.get()
    deployment = deploy_row(project)
    Deployment.objects.filter(pk=deployment.pk).update(
        artifact_name=old.artifact_name, manifest=old.manifest
    )
    train(django_capture_on_commit_callbacks, project)
    assert default_storage.exists(old.artifact_name)
    train_jobs.trained_model_delete(model=TrainedModel.objects.get())
    assert default_storage.exists(old.artifact_name)


def test_a_cancel_during_training_stops_the_job_before_anything_is_written(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = clu_project()
    original = JobContext.progress

    def cancel_then_report(self: JobContext, percent: float) -> None:
        if percent > train_jobs._LOAD_DONE:
            job_cancel(job=self.job)
        original(self, percent)

    monkeypatch.setattr(JobContext, "progress", cancel_then_report)
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.CANCELLED
    assert not TrainedModel.objects.exists()
    assert train_jobs.training_job_result(job)["trainingStatus"]["status"] == (
        "cancelled"
    )


def _training_phase() -> tuple[float, float]:
    """The percent range of the fits (intents and entities run side by side)."""
    return train_jobs._LOAD_DONE, train_jobs.TRAINING_SHARE


def big_clu_project(name: str = "Big", size: int = 4000) -> Project:
    """A Conversation project whose entity fit takes seconds (``size`` utterances
    with a Contact span each), so a test can act while it runs."""
    rng = random.Random(size)  # noqa: S311 - test data
    words = [f"w{n}" for n in range(400)]
    intents: dict[str, list[str]] = {"Send": [], "Read": []}
    names = [f"Nm{n}" for n in range(300)]
    utterances = []
    for k in range(size):
        intent = "Send" if k % 2 else "Read"
        before = " ".join(rng.sample(words, 4))
        contact = rng.choice(names)
        text = f"{before} {contact} {' '.join(rng.sample(words, 3))}"
        utterances.append(
            {
                "text": text,
                "intent": intent,
                "entities": [
                    {
                        "category": "Contact",
                        "offset": len(before) + 1,
                        "length": len(contact),
                    }
                ],
            }
        )
    document = clu_document(name, {intent: [] for intent in intents})
    document["assets"]["utterances"] = utterances
    return services.project_import(name=name, document=document)


def test_progress_moves_while_entities_fit_beside_intents(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = big_clu_project(size=3000)
    start, end = _training_phase()
    seen: list[tuple[int, str | None]] = []
    original = JobContext.progress

    def spy(self: JobContext, percent: float) -> None:
        original(self, percent)
        job = Job.objects.get(pk=self.job.pk)
        estimate = train_jobs.training_job_result(job).get("estimatedEndDateTime")
        seen.append((job.percent_complete, estimate))

    monkeypatch.setattr(JobContext, "progress", spy)
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED
    inside = {p for p, _ in seen if start < p < end}
    assert len(inside) >= 3, sorted({p for p, _ in seen})
    assert all(e is not None for p, e in seen if start < p < end)


def test_a_cancel_while_entities_fit_terminates_their_process_within_seconds(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = big_clu_project()
    start, end = _training_phase()
    monkeypatch.setattr(train_jobs, "CANCEL_CHECK_SECONDS", 0.0)
    cancelled_at: list[float] = []
    original = JobContext.progress

    def cancel_in_training(self: JobContext, percent: float) -> None:
        if start < percent < end and not cancelled_at:
            job_cancel(job=self.job)
            cancelled_at.append(time.monotonic())
        original(self, percent)

    stopped: list[tuple[bool, bool]] = []
    original_stop = ChildFit.stop

    def recording_stop(self: ChildFit) -> None:
        running = self.alive and not self.done
        original_stop(self)
        stopped.append((running, self.alive))

    monkeypatch.setattr(JobContext, "progress", cancel_in_training)
    monkeypatch.setattr(ChildFit, "stop", recording_stop)
    job = train(django_capture_on_commit_callbacks, project)
    ended = time.monotonic()
    assert cancelled_at, "the fits reported no progress to cancel at"
    assert job.status == Job.Status.CANCELLED
    # The entity fit was still running and its process is gone.
    assert stopped == [(True, False)]
    assert ended - cancelled_at[0] < 5
    assert not TrainedModel.objects.exists()
    assert not EvaluationResult.objects.exists()


def test_a_cancel_during_evaluation_stops_before_the_remaining_predictions(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.engine.entities import EntityExtractor

    project = clu_project()
    monkeypatch.setattr(train_jobs, "CANCEL_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(train_jobs, "_EVALUATION_REPORT_EVERY", 1, raising=False)
    predictions: list[str] = []
    original_predict = EntityExtractor.predict

    def cancel_at_the_first_prediction(
        self: EntityExtractor, text: str, **kwargs: Any
    ) -> Any:
        if not predictions:
            job = Job.objects.get(kind=Job.Kind.TRAIN)
            job_cancel(job=job)
        predictions.append(text)
        return original_predict(self, text, **kwargs)

    monkeypatch.setattr(EntityExtractor, "predict", cancel_at_the_first_prediction)
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.CANCELLED
    # The test part has 6 utterances: the loop stops after the one in flight.
    assert len(predictions) == 1
    assert not TrainedModel.objects.exists()


def test_the_estimated_end_uses_the_current_phase_rate() -> None:
    now = timezone.now()
    start, end = 61.25, train_jobs.TRAINING_SHARE
    # 61% in the first 10 s, then the slow entity fit: 8.75 points in 90 s.
    job = Job(
        kind=Job.Kind.TRAIN,
        project_name="P",
        status=Job.Status.RUNNING,
        started_at=now - timedelta(seconds=100),
        percent_complete=70,
        params={"modelLabel": "m"},
        result={
            "phase": {
                "start": start,
                "end": end,
                "startedAt": (now - timedelta(seconds=90)).isoformat(),
            }
        },
    )
    estimate = datetime.fromisoformat(
        train_jobs.training_job_result(job)["estimatedEndDateTime"]
    )
    # Rest of the phase: 10 points at 90 s / 8.75 points; then 20 points at the
    # earlier rate (10 s / 61.25 points): about 106 s from now.
    left = (estimate - now).total_seconds()
    assert 100 < left < 112, left


def test_a_failure_while_saving_leaves_no_model_and_no_files(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = clu_project()
    saved: list[str] = []
    original_save = default_storage.save

    def record_save(name: str, content: Any, **kwargs: Any) -> str:
        stored = original_save(name, content, **kwargs)
        saved.append(stored)
        return stored

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(default_storage, "save", record_save)
    monkeypatch.setattr(EvaluationResult.objects, "bulk_create", crash)
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.FAILED
    assert not TrainedModel.objects.exists()
    assert len(saved) == 2
    assert not any(default_storage.exists(name) for name in saved)
    project.refresh_from_db()
    assert project.last_trained_at is None


# ---------------------------------------------------------------- request rules


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"trainingMode": "standard"}, "modelLabel"),
        ({"modelLabel": "has space", "trainingMode": "standard"}, "modelLabel"),
        ({"modelLabel": "x" * 51, "trainingMode": "standard"}, "modelLabel"),
        ({"modelLabel": "m"}, "trainingMode"),
        ({"modelLabel": "m", "trainingMode": "expert"}, "trainingMode"),
        (
            {
                "modelLabel": "m",
                "trainingMode": "standard",
                "trainingConfigVersion": "x",
            },
            "trainingConfigVersion",
        ),
        (
            {
                "modelLabel": "m",
                "trainingMode": "standard",
                "evaluationOptions": {
                    "kind": "percentage",
                    "trainingSplitPercentage": 70,
                    "testingSplitPercentage": 20,
                },
            },
            "evaluationOptions",
        ),
        (
            {
                "modelLabel": "m",
                "trainingMode": "standard",
                "evaluationOptions": {"kind": "random"},
            },
            "evaluationOptions.kind",
        ),
        (
            {
                "modelLabel": "m",
                "trainingMode": "standard",
                "evaluationOptions": {"trainingSplitPercentage": 80.5},
            },
            "evaluationOptions.trainingSplitPercentage",
        ),
    ],
)
def test_bad_train_requests_are_refused_with_the_offending_field(
    body: dict[str, Any], target: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        train_jobs.train_request_parse(body)
    assert caught.value.target == target


def test_train_request_defaults_and_implied_split() -> None:
    params = train_jobs.train_request_parse(
        {
            "modelLabel": "m.1_x-y",
            "trainingMode": "advanced",
            "trainingConfigVersion": "latest",
            "evaluationOptions": {"testingSplitPercentage": 30},
        }
    )
    assert params == {
        "modelLabel": "m.1_x-y",
        "trainingMode": "advanced",
        "trainingConfigVersion": "2022-05-01",
        "evaluationOptions": {
            "kind": "percentage",
            "trainingSplitPercentage": 70,
            "testingSplitPercentage": 30,
        },
    }


def test_a_second_training_job_is_a_conflict(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = clu_project()
    with django_capture_on_commit_callbacks(execute=False):
        first = train_jobs.train_start(
            project=project, body={"modelLabel": "a", "trainingMode": "standard"}
        )
    with pytest.raises(Conflict) as caught:
        train_jobs.train_start(
            project=project, body={"modelLabel": "b", "trainingMode": "standard"}
        )
    assert first.job_id in caught.value.message
    # The database constraint holds without the early check too.
    monkeypatch.setattr(train_jobs, "_active_training_job", lambda name: None)
    with pytest.raises(Conflict):
        train_jobs.train_start(
            project=project, body={"modelLabel": "b", "trainingMode": "standard"}
        )


def test_the_model_limit_refuses_new_labels_but_not_retraining(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_jobs, "MAX_TRAINED_MODELS_PER_PROJECT", 2)
    project = clu_project()
    train(django_capture_on_commit_callbacks, project, "a")
    train(django_capture_on_commit_callbacks, project, "b")
    with pytest.raises(Conflict) as caught:
        train(django_capture_on_commit_callbacks, project, "c")
    assert "limit is 2" in caught.value.message
    assert train(django_capture_on_commit_callbacks, project, "a").status == (
        Job.Status.SUCCEEDED
    )


def test_advanced_mode_without_the_encoder_fails_clearly(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.engine.embeddings import AdvancedModeUnavailable

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise AdvancedModeUnavailable("the embedding package is not installed")

    monkeypatch.setattr(train_jobs, "load_encoder", unavailable)
    project = clu_project()
    job = train(django_capture_on_commit_callbacks, project, trainingMode="advanced")
    assert job.status == Job.Status.FAILED
    assert "advanced is not available" in job.errors[0]["message"]
    assert "not installed" in job.errors[0]["message"]
    assert not TrainedModel.objects.exists()


# ---------------------------------------------------------------- orchestration


def _router(name: str = "Router", *, deployment: str = "production") -> Project:
    KbProjectFactory(name="Faq")
    QnaPairFactory(
        project=Project.objects.get(name="Faq"),
        questions=["when are you open", "opening hours", "what time do you close"],
    )
    QnaPairFactory(
        project=Project.objects.get(name="Faq"),
        questions=["where is the office", "office address"],
    )
    return services.project_import(
        name=name,
        document=orchestration_document(
            name,
            [
                {
                    "category": "Mail",
                    "orchestration": {
                        "targetProjectKind": "Conversation",
                        "conversationOrchestration": {
                            "projectName": "Mail",
                            "deploymentName": deployment,
                        },
                    },
                },
                {
                    "category": "Faq",
                    "orchestration": {
                        "targetProjectKind": "QuestionAnswering",
                        "questionAnsweringOrchestration": {"projectName": "Faq"},
                    },
                },
                {"category": "Weather"},
            ],
            [
                {"text": t, "intent": "Weather"}
                for t in (
                    "will it rain today",
                    "weather tomorrow",
                    "is it sunny outside",
                    "forecast for the weekend",
                    "how cold is it",
                )
            ],
        ),
    )


def test_an_orchestration_project_learns_from_its_linked_projects(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    mail = clu_project()
    deploy_row(mail)
    router = _router()
    data = training_data_load(project=router)
    sources = {r.source for r in data.records}
    assert sources == {"", "Conversation:Mail", "QuestionAnswering:Faq"}
    assert sum(r.intent == "Mail" for r in data.records) == 30
    assert sum(r.intent == "Faq" for r in data.records) == 5
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=router)
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, OrchestrationBundle)
    assert bundle.intents is not None
    assert set(bundle.intents.labels) == {"Mail", "Faq", "Weather"}
    assert bundle.targets["Mail"].kind == "Conversation"
    assert bundle.targets["Mail"].deployment_name == "production"
    assert bundle.targets["Faq"].kind == "QuestionAnswering"
    assert bundle.targets["Faq"].deployment_name == "production"
    assert bundle.targets["Weather"].kind == "NonLinked"
    assert bundle.targets["None"].kind == "NonLinked"
    assert model.evaluation_summary["entitiesEvaluation"]["entities"] == {}
    top = bundle.intents.predict("read the message from Blake")[0][0]
    assert top == "Mail"


def test_the_orchestration_routers_confidences_are_calibrated_and_reported(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """Issue 15 item 6: the router is the same calibrated classifier, and its
    evaluation reports the calibration like a Conversation model's."""
    mail = clu_project()
    deploy_row(mail)
    router = _router()
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=router)
    calibration = model.evaluation_summary["intentsEvaluation"]["calibration"]
    assert 0.0 <= calibration["expectedCalibrationError"] <= 1.0
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, OrchestrationBundle)
    assert bundle.intents is not None
    scores = bundle.intents.predict("read the message from Blake")
    # Runner-ups keep a meaningful share, not ~1e-65 beside a top of 0.9999999.
    assert scores[0][1] < 0.999
    assert sum(confidence for _, confidence in scores[1:]) > 0.001


def test_artifact_and_snapshot_hold_no_plain_target_secret(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """The artifact carries the HTTP target's key and headers encrypted (the
    runtime decrypts them at call time) and the snapshot carries the mask."""
    key, token = "resource-key-0123456789abcdef", "Bearer token-0123456789"
    mail = clu_project()
    deploy_row(mail)
    router = _router()
    services.intent_update(
        intent=router.intents.get(name="Weather"),
        data={
            "orchestration": {
                "targetProjectKind": "Http",
                "httpOrchestration": {
                    "url": "https://weather.example.com/predict",
                    "headers": {"Authorization": token},
                    "key": key,
                },
            }
        },
    )
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=router)
    for name in (model.artifact_name, model.snapshot_name):
        data = default_storage.open(name).read()
        assert key.encode() not in data and b"token-0123456789" not in data, name
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, OrchestrationBundle)
    assert spec_headers(bundle.targets["Weather"]) == {
        "Authorization": token,
        "Ocp-Apim-Subscription-Key": key,
    }
    exported = train_jobs.snapshot_document(
        model=model, string_index_type="Utf16CodeUnit"
    )
    weather = next(
        i for i in exported["assets"]["intents"] if i["category"] == "Weather"
    )
    assert weather["orchestration"]["httpOrchestration"]["key"] == "***"


def test_rotatesecrets_masks_the_secrets_of_older_snapshots(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    from django.core.management import call_command

    mail = clu_project()
    deploy_row(mail)
    router = _router()
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=router)
    # A snapshot as written before masking: the key in plain text.
    document = json.loads(default_storage.open(model.snapshot_name).read())
    weather = next(
        i for i in document["assets"]["intents"] if i["category"] == "Weather"
    )
    weather["orchestration"] = {
        "targetProjectKind": "Http",
        "httpOrchestration": {"url": "https://w.example.com", "key": "old-plain"},
    }
    default_storage.delete(model.snapshot_name)
    default_storage.save(model.snapshot_name, ContentFile(json.dumps(document)))
    call_command("rotatesecrets", stdout=io.StringIO())
    model.refresh_from_db()
    stored = default_storage.open(model.snapshot_name).read()
    assert b"old-plain" not in stored
    assert b'"key": "***"' in stored


def test_a_link_to_a_missing_project_fails_naming_intent_and_project(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    router = _router()  # "Mail" does not exist
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.FAILED
    message = " ".join(e["message"] for e in job.errors)
    assert "'Mail'" in message and "does not exist" in message
    assert not TrainedModel.objects.exists()


def test_a_link_to_a_missing_deployment_fails(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    mail = clu_project()
    deploy_row(mail, "staging")
    router = _router(deployment="production")
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.FAILED
    message = job.errors[0]["message"]
    assert "'production'" in message and "'Mail'" in message
    assert "Intent 'Mail'" in message


def test_a_link_to_a_project_of_another_kind_fails(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    router = _router()
    KbProjectFactory(name="Mail")
    Intent.objects.filter(project=router, name="Mail").update(
        target_kind="Conversation"
    )
    job = train(django_capture_on_commit_callbacks, router)
    assert job.status == Job.Status.FAILED
    assert "QuestionAnswering project" in job.errors[0]["message"]


# ---------------------------------------------------------------- snapshots


def test_load_snapshot_restores_the_assets_the_model_was_trained_on(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    train(django_capture_on_commit_callbacks, project)
    model = TrainedModel.objects.get()
    Utterance.objects.filter(project=project, intent__name="Send").delete()
    Project.objects.filter(pk=project.pk).update(description="kept")
    with django_capture_on_commit_callbacks(execute=True):
        job = train_jobs.load_snapshot_start(project=project, model=model)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert Utterance.objects.filter(project=project).count() == 30
    project.refresh_from_db()
    assert project.description == "kept"
    blake = Utterance.objects.get(project=project, text="read the mail from Blake")
    span = blake.spans.get()
    assert (span.offset, span.length) == (19, 5)


def test_snapshot_document_converts_offsets(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project(intents={"Read": ["😀 read Blake's mail", "read my mail"]})
    train(django_capture_on_commit_callbacks, project)
    model = TrainedModel.objects.get()
    utf16 = train_jobs.snapshot_document(model=model, string_index_type="Utf16CodeUnit")
    points = train_jobs.snapshot_document(
        model=model, string_index_type="UnicodeCodePoint"
    )
    assert utf16["stringIndexType"] == "Utf16CodeUnit"
    assert utf16["assets"]["utterances"][0]["entities"][0]["offset"] == 8
    assert points["assets"]["utterances"][0]["entities"][0]["offset"] == 7


def test_deleting_a_project_deletes_its_model_files(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    project = clu_project()
    train(django_capture_on_commit_callbacks, project)
    model = TrainedModel.objects.get()
    names = [model.artifact_name, model.snapshot_name]
    with django_capture_on_commit_callbacks(execute=True):
        services.project_delete(project=project)
    assert not any(default_storage.exists(n) for n in names)


def test_knowledge_bases_are_not_trained() -> None:
    kb = KbProjectFactory.create()
    with pytest.raises(InvalidArgument) as caught:
        train_jobs.train_start(
            project=kb,
            body={"modelLabel": "m", "trainingMode": "standard"},
        )
    assert caught.value.target == "projectKind"
    assert not Job.objects.exists()


def test_a_job_failed_by_the_sweeper_meanwhile_writes_no_model_and_can_be_retried(
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker was only slow: the sweeper failed its job while it trained. Its
    late result must not become a model under a job that reports ``failed``."""
    project = clu_project()
    saved: list[str] = []
    original_save = default_storage.save

    def record_save(name: str, content: Any, **kwargs: Any) -> str:
        stored = original_save(name, content, **kwargs)
        saved.append(stored)
        return stored

    def swept(context: JobContext, name: str) -> None:
        Job.objects.filter(pk=context.job.pk).update(
            status=Job.Status.FAILED, errors=[{"code": "InternalServerError"}]
        )

    monkeypatch.setattr(default_storage, "save", record_save)
    monkeypatch.setattr(train_jobs, "_note_time", swept)
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.FAILED
    assert job.errors == [{"code": "InternalServerError"}]
    assert not TrainedModel.objects.exists()
    assert saved and not any(default_storage.exists(name) for name in saved)
    monkeypatch.undo()
    assert train(django_capture_on_commit_callbacks, project).status == (
        Job.Status.SUCCEEDED
    )


def test_parallel_fits_report_the_time_share_of_the_slowest_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(train_jobs.time, "monotonic", lambda: clock[0])
    reported: list[float] = []
    progress = train_jobs._ParallelProgress(["intents", "entities"], reported.append)
    clock[0] = 102.0
    progress.update("intents", 0.5)  # 2 s for half: 2 s left
    clock[0] = 104.0
    progress.update("intents", 1.0)
    # The entities have not reported yet: nothing to extrapolate, 50% holds.
    assert reported == pytest.approx([0.5, 0.5])
    progress.update("entities", 0.1)  # 4 s for a tenth: 36 s left, 10%
    clock[0] = 130.0
    progress.update("entities", 0.5)  # 30 s for half: 30 s left, 50%
    clock[0] = 140.0
    progress.update("entities", 0.8)  # 40 s for 80%: 10 s left, 80%
    progress.update("entities", 1.0)
    # Progress never goes back: the 10% found late holds the bar at 50%.
    assert reported == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.8, 1.0])
