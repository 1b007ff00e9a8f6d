"""A project's sentence encoder: the setting (API extension and studio), the
training that uses it, the manifest that records it, and the worker's threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.models import Job
from projects import services
from projects.models import Project
from projects.selectors.authoring import project_metadata_as_azure
from studio.errors import InvalidArgument
from tests.training.onnx_encoder import (
    build_onnx_encoder,
    tiny_encoder_registered,
    token_table,
)
from tests.training.test_train_service import Capture, clu_project, train
from training.artifact_store import artifact_load
from training.engine import embeddings
from training.engine.artifacts import ArtifactError
from training.engine.embeddings import DEFAULT_ENCODER, onnx_directory_sha256
from training.models import TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Path]:
    with tiny_encoder_registered(tmp_path / "tiny") as directory:
        yield directory


def patch(project: Project, settings: dict[str, object]) -> Project:
    updated, _ = services.project_create_or_update(
        name=project.name, data={"settings": settings}
    )
    return updated


def test_settings_encoder_is_an_api_extension_checked_against_the_language(
    tiny: Path,
) -> None:
    project = clu_project(name="Travel")
    assert project.language == "en-us"
    with pytest.raises(InvalidArgument) as caught:
        patch(project, {"encoder": "gpt-17"})
    assert caught.value.details[0].target == "settings.encoder"
    assert "not an encoder of this studio" in caught.value.details[0].message
    with pytest.raises(InvalidArgument):
        patch(project, {"encoder": 3})
    updated = patch(project, {"encoder": "tiny", "confidenceThreshold": 0.4})
    assert (updated.encoder, updated.confidence_threshold) == ("tiny", 0.4)
    body = project_metadata_as_azure(project=updated)
    assert body["settings"] == {"confidenceThreshold": 0.4, "encoder": "tiny"}
    # An English-only encoder cannot stay on a project that turns German.
    with pytest.raises(InvalidArgument, match="handles en, not 'de'") as caught:
        services.project_create_or_update(name="Travel", data={"language": "de"})
    project.refresh_from_db()
    assert (project.language, project.encoder) == ("en-us", "tiny")  # unchanged
    cleared = patch(project, {"encoder": None})
    assert cleared.encoder == ""
    assert "encoder" not in project_metadata_as_azure(project=cleared)["settings"]


def test_advanced_training_uses_the_projects_encoder_and_records_its_sha256(
    django_capture_on_commit_callbacks: Capture, tiny: Path
) -> None:
    project = clu_project()  # en-us: "tiny" is the default of English projects
    job = train(django_capture_on_commit_callbacks, project, trainingMode="advanced")
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.params["encoder"] == "tiny"
    model = TrainedModel.objects.get(project=project)
    recorded = model.manifest["params"]["encoder"]
    assert recorded == {
        "name": "tiny",
        "version": "onnx",
        "sha256": onnx_directory_sha256(tiny),
    }
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert bundle.intents.encoder_spec.name == "tiny"
    # Other weights in the encoder's directory: the model refuses them, clearly.
    changed = token_table()
    changed[0, 0] += 1.0
    build_onnx_encoder(tiny, table=changed)
    embeddings._encoders.clear()  # as in a freshly started process
    with pytest.raises(ArtifactError, match="sha256"):
        artifact_load(model.artifact_name, model.manifest)


def test_a_project_setting_overrides_the_languages_default(
    django_capture_on_commit_callbacks: Capture, tiny: Path
) -> None:
    project = patch(clu_project(), {"encoder": DEFAULT_ENCODER})
    calls: list[str] = []
    real = embeddings.load_encoder

    def spy(name: str) -> embeddings.Encoder:
        calls.append(name)
        return real("tiny")  # the bundled weights are not needed for this test

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("training.train_jobs.load_encoder", spy)
        mp.setattr("training.engine.intents.load_encoder", spy)
        job = train(
            django_capture_on_commit_callbacks, project, trainingMode="advanced"
        )
    assert job.params["encoder"] == DEFAULT_ENCODER
    assert calls and set(calls) == {DEFAULT_ENCODER}


def test_an_unregistered_encoder_is_refused_before_the_job_is_queued(
    django_capture_on_commit_callbacks: Capture, tiny: Path
) -> None:
    project = patch(clu_project(), {"encoder": "tiny"})
    embeddings.configure_encoders({})  # the admin removed it since
    with pytest.raises(InvalidArgument, match="Unknown sentence encoder 'tiny'"):
        train(django_capture_on_commit_callbacks, project, trainingMode="advanced")
    assert not Job.objects.filter(kind=Job.Kind.TRAIN).exists()
    # Standard training does not need it.
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED


def test_workers_encode_on_every_core_and_web_processes_on_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from studio.worker import worker_encode_threads

    monkeypatch.setattr(embeddings, "_encode_threads", 1)
    assert embeddings.encode_threads() == 1
    assert worker_encode_threads(0) == (os.cpu_count() or 1)
    assert embeddings.encode_threads() == (os.cpu_count() or 1)
    assert worker_encode_threads(3) == 3
    assert embeddings.encode_threads() == 3
