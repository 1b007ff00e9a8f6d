"""Backups carry the static word vector tables their models need (issue 16 item 7,
issue 15 item 4): a table lives outside the media storage (``STUDIO_STATIC_VECTORS``)
and another machine's rebuild need not be byte-identical, so a restore into a
fresh studio must put the very file (same sha256) where that studio reads tables,
or every standard model trained with it would refuse to load.

The studio is "fresh" in this process: the database flushed, the stored files
deleted, the table folder a new empty one and the runtime's loaded models and
tables forgotten; a stand-in encoder's table (tests/training/word_encoder.py)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from jobs.models import Job
from runtime import keys
from runtime.registry import runtime_reset
from studio.services import apikey_create
from tests.training.model_helpers import deploy_trained_model
from tests.training.test_train_service import Capture, clu_project, train
from tests.training.word_encoder import TOPICS, stand_in_table
from training.backup import BackupError, studio_backup, studio_restore
from training.backup.archive import MANIFEST
from training.backup.dump import SNAPSHOT_ALIAS
from training.engine import static_vectors
from training.engine.static_vectors import StaticVectors, TableRecipe, build_table
from training.models import TrainedModel

pytestmark = pytest.mark.django_db(transaction=True)

ANALYZE = "/language/:analyze-conversations?api-version=2023-04-01"
# Words of each topic the training data never has: only the table knows them.
QUERIES = ["show me the jet", "i want a concert", "show me humid", "the guitar"]


@pytest.fixture
def recipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TableRecipe]:
    yield from stand_in_table(monkeypatch, tmp_path)


@pytest.fixture(autouse=True)
def snapshot_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the backup open its snapshot connection in this test (Django's test
    case forbids connections to aliases it was not told of; the real method is
    the one its patch wraps)."""
    patched = BaseDatabaseWrapper.ensure_connection
    real = next(
        cell.cell_contents
        for cell in patched.__closure__ or ()
        if getattr(cell.cell_contents, "__name__", "") == "ensure_connection"
    )

    def ensure_connection(self: BaseDatabaseWrapper) -> None:
        (real if self.alias == SNAPSHOT_ALIAS else patched)(self)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()
    yield
    runtime_reset()


def _topic_intents() -> dict[str, list[str]]:
    return {
        topic: [f"i need the {word} please" for word in words[:6]]
        for topic, words in TOPICS.items()
    }


def _deployed_with_vectors(capture: Capture, table: StaticVectors) -> TrainedModel:
    project = clu_project("Topics", intents=_topic_intents())
    job = train(capture, project)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=project, label="model1")
    recorded = model.manifest["params"]["staticVectors"]
    assert recorded["used"] is True and recorded["sha256"] == table.spec.sha256
    deploy_trained_model(model)
    return model


def _analyze(key: str, text: str) -> Any:
    body = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "u", "text": text}
        },
        "parameters": {"projectName": "Topics", "deploymentName": "production"},
    }
    return Client(HTTP_HOST="127.0.0.1").post(
        ANALYZE,
        json.dumps(body),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": key},
    )


def _answers(key: str) -> dict[str, Any]:
    answers = {}
    for text in QUERIES:
        response = _analyze(key, text)
        assert response.status_code == 200, response.content
        prediction = response.json()["result"]["prediction"]
        answers[text] = [prediction["topIntent"], prediction["intents"]]
    return answers


def _fresh_studio(monkeypatch: pytest.MonkeyPatch, tables: Path) -> None:
    """Another studio: no rows, no stored files, an empty table folder."""
    names = [
        *(m.artifact_name for m in TrainedModel.objects.all()),
        *(m.snapshot_name for m in TrainedModel.objects.all()),
    ]
    call_command("flush", interactive=False, verbosity=0)
    for name in names:
        default_storage.delete(name)
    monkeypatch.setattr(static_vectors, "_configured_dir", tables)
    monkeypatch.setattr(static_vectors, "_tables", {})
    runtime_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()


def test_a_restore_into_a_fresh_studio_brings_the_table_and_the_same_predictions(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    table = build_table(recipe)
    _deployed_with_vectors(django_capture_on_commit_callbacks, table)
    key = apikey_create(name="bot")[1]
    before = _answers(key)
    archive = tmp_path / "backup.zip"
    studio_backup(path=archive)
    manifest = json.loads(zipfile.ZipFile(archive).read(MANIFEST))
    carried = [m for m in manifest["members"] if m.startswith("vectors/")]
    assert len(carried) == 1
    assert manifest["members"][carried[0]]["sha256"] == table.spec.sha256

    fresh = tmp_path / "fresh-tables"
    _fresh_studio(monkeypatch, fresh)
    summary = studio_restore(path=archive)

    assert summary.warnings == []
    restored = list(fresh.glob("*.npz"))
    assert [static_vectors._file_sha256(p) for p in restored] == [table.spec.sha256]
    assert _answers(key) == before


def test_a_table_already_here_is_kept_and_a_different_one_is_not_overwritten(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    table = build_table(recipe)
    path = static_vectors.table_path(recipe)
    assert path is not None
    _deployed_with_vectors(django_capture_on_commit_callbacks, table)
    key = apikey_create(name="bot")[1]
    before = _answers(key)
    archive = tmp_path / "backup.zip"
    studio_backup(path=archive)

    # The fresh studio built its own table of that recipe, not byte-identical.
    fresh = tmp_path / "fresh-tables"
    fresh.mkdir()
    local = fresh / path.name
    local.write_bytes(path.read_bytes() + b"\0")
    local_bytes = local.read_bytes()
    _fresh_studio(monkeypatch, fresh)
    studio_restore(path=archive)

    assert local.read_bytes() == local_bytes
    shas = sorted(static_vectors._file_sha256(p) for p in fresh.glob("*.npz"))
    assert shas == sorted([table.spec.sha256, static_vectors._file_sha256(local)])
    assert _answers(key) == before


def test_a_studio_with_tables_turned_off_restores_with_a_warning(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    table = build_table(recipe)
    _deployed_with_vectors(django_capture_on_commit_callbacks, table)
    archive = tmp_path / "backup.zip"
    studio_backup(path=archive)
    _fresh_studio(monkeypatch, tmp_path / "unused")
    monkeypatch.setenv(static_vectors.STATIC_DIR_ENV, "off")

    summary = studio_restore(path=archive)

    assert any("STUDIO_STATIC_VECTORS" in w for w in summary.warnings)
    assert not (tmp_path / "unused").exists()


def test_a_table_that_does_not_match_its_sha256_is_refused_and_nothing_restored(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    table = build_table(recipe)
    _deployed_with_vectors(django_capture_on_commit_callbacks, table)
    archive = tmp_path / "backup.zip"
    studio_backup(path=archive)
    # A table member swapped for other bytes with a manifest to match: the
    # archive is whole, but not the table the models were trained with.
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(forged, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename.startswith("vectors/"):
                data += b"\0"
                manifest["members"][info.filename] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                }
            if info.filename != MANIFEST:
                new.writestr(info, data)
        new.writestr(MANIFEST, json.dumps(manifest))
    fresh = tmp_path / "fresh-tables"
    _fresh_studio(monkeypatch, fresh)

    with pytest.raises(BackupError, match="static word vector table"):
        studio_restore(path=forged)

    assert not TrainedModel.objects.exists()
    assert not list(fresh.glob("*.npz")) if fresh.exists() else True


def test_a_deployment_whose_table_is_missing_answers_503_saying_what_to_do(
    django_capture_on_commit_callbacks: Capture,
    recipe: TableRecipe,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    table = build_table(recipe)
    path = static_vectors.table_path(recipe)
    assert path is not None
    _deployed_with_vectors(django_capture_on_commit_callbacks, table)
    key = apikey_create(name="bot")[1]
    # The table folder lost (a new volume, a restore of an old archive).
    monkeypatch.setattr(static_vectors, "_configured_dir", tmp_path / "empty")
    monkeypatch.setattr(static_vectors, "_tables", {})
    runtime_reset()

    response = _analyze(key, "show me the jet")

    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert error["code"] == "ServiceUnavailable"
    assert table.spec.sha256 in error["message"]
    assert "manage.py restore" in error["message"]
    assert "'production'" in error["message"] and "'Topics'" in error["message"]
    assert int(response["Retry-After"]) >= 5

    # /healthz counts it (never names it: it is public), the deployments page
    # says which and what to do.
    health = Client().get("/healthz").json()
    assert "deployments" in health["down"] and health["status"] != "healthy"
    assert health["deployments"]["status"] == "down"
    assert "1 deployment cannot load" in health["deployments"]["error"]
    assert "Topics" not in json.dumps(health)
    admin = Client()
    admin.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    )
    page = admin.get("/projects/Topics/deployments/").content.decode()
    problem = page.split('id="problem-production"')[1].split("</p>")[0]
    assert table.spec.sha256[:12] in problem and "manage.py restore" in problem

    # Once the table is back (a restore), the deployment serves again.
    monkeypatch.setattr(static_vectors, "_configured_dir", path.parent)
    runtime_reset()
    assert Client().get("/healthz").json()["deployments"]["status"] == "up"
    assert (
        "problem-production"
        not in admin.get("/projects/Topics/deployments/").content.decode()
    )
    assert _analyze(key, "show me the jet").status_code == 200
