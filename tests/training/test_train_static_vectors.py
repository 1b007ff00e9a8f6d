"""Standard training with and without the static word vector table (issue 15
item 4): a missing table never blocks or fails a training, is built in the
worker's background, and the model's manifest and details page say which."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.models import Job
from tests.training.test_train_service import Capture, clu_project, train
from tests.training.word_encoder import stand_in_table
from training.artifact_store import artifact_load
from training.engine import static_vectors
from training.engine.bundles import ConversationBundle
from training.engine.entities.learned import WordClusters
from training.engine.static_vectors import TableRecipe, build_table
from training.models import TrainedModel
from training.selectors.evaluation import static_choice

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TableRecipe]:
    yield from stand_in_table(monkeypatch, tmp_path)


def _params(project_name: str) -> dict[str, Any]:
    model = TrainedModel.objects.get(project__name=project_name, label="model1")
    return dict(model.manifest["params"])


def test_without_the_table_standard_training_works_and_builds_it_meanwhile(
    django_capture_on_commit_callbacks: Capture, recipe: TableRecipe
) -> None:
    project = clu_project()
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    recorded = _params("Mail")["staticVectors"]
    assert recorded["used"] is False
    assert "being built" in recorded["note"]
    model = TrainedModel.objects.get(project=project, label="model1")
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, ConversationBundle) and bundle.intents is not None
    assert bundle.intents.static_spec is None
    # The worker built the table in the background; the next training uses it.
    for thread in static_vectors._background.values():
        thread.join(30)
    path = static_vectors.table_path(recipe)
    assert path is not None and path.is_file()
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert "weightSelection" in _params("Mail")["staticVectors"]


def test_without_wordfreq_the_model_says_why_not_that_a_table_is_coming(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No vocabulary (the ``advanced`` extra's wordfreq missing): no table can be
    built, so the model's note must say so, not "being built, train again"."""
    monkeypatch.setitem(sys.modules, "wordfreq", None)
    no_words = dataclasses.replace(recipe, vocabulary=static_vectors.frequent_words)
    monkeypatch.setattr(static_vectors, "DEFAULT_RECIPE", no_words)
    project = clu_project()
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    recorded = _params("Mail")["staticVectors"]
    assert recorded["used"] is False
    assert "being built" not in recorded["note"]
    assert "wordfreq" in recorded["note"]
    assert not static_vectors._background


def test_with_the_table_standard_training_records_table_and_weight(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
) -> None:
    table = build_table(recipe)
    project = clu_project()
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    recorded = _params("Mail")["staticVectors"]
    assert [item["weight"] for item in recorded["weightSelection"]] == [0.0, 1.0, 2.0]
    model = TrainedModel.objects.get(project=project, label="model1")
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, ConversationBundle) and bundle.intents is not None
    if recorded["used"]:
        assert recorded["sha256"] == table.spec.sha256
        assert recorded["tableId"] == table.spec.table_id
        assert recorded["weight"] in {1.0, 2.0}
        assert bundle.intents.static_spec == table.spec
        # Training words the table lacks ("blake", "inbox", ...) travel with it.
        assert recorded["extraWords"] == len(bundle.intents.static_extra_words) > 0
    else:
        assert bundle.intents.static_spec is None
    choice = static_choice(model)
    assert choice is not None and len(choice.tried) == 3
    assert choice.used is recorded["used"]


def test_a_project_in_another_language_trains_on_word_features_alone(
    django_capture_on_commit_callbacks: Capture, recipe: TableRecipe
) -> None:
    build_table(recipe)
    project = clu_project()
    project.language = "de"
    project.save(update_fields=["language"])
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    recorded = _params("Mail")["staticVectors"]
    assert recorded["used"] is False
    assert "en projects only" in recorded["note"]


def _entity_classes(project_name: str) -> object:
    model = TrainedModel.objects.get(project__name=project_name, label="model1")
    bundle = artifact_load(model.artifact_name, model.manifest)
    assert isinstance(bundle, ConversationBundle) and bundle.entities is not None
    learned = bundle.entities._learned
    assert learned is not None
    return learned.clusters


def test_with_the_table_learned_entities_train_with_its_word_classes(
    django_capture_on_commit_callbacks: Capture, recipe: TableRecipe
) -> None:
    table = build_table(recipe)
    project = clu_project()
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    classes = _entity_classes("Mail")
    assert isinstance(classes, WordClusters)
    assert set(classes.table) == set(table.words)


@pytest.mark.parametrize("built", [False, True])
def test_without_a_table_for_the_project_learned_entities_train_without_classes(
    django_capture_on_commit_callbacks: Capture, recipe: TableRecipe, built: bool
) -> None:
    """Not built yet (English), or built but the project is in German."""
    project = clu_project()
    if built:
        build_table(recipe)
        project.language = "de"
        project.save(update_fields=["language"])
    job = train(django_capture_on_commit_callbacks, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert _entity_classes("Mail") is None
