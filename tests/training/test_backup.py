"""``manage.py backup`` / ``restore`` (training/backup): whole studios in separate
processes and databases, as an operator runs them.

Studio A is the demo (three projects trained and deployed, an API key, logged
queries, an audit trail) in a SQLite studio of its own; its archive is restored into
fresh studios (SQLite, PostgreSQL) and into this test process's database."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client

from projects.models import Project
from studio.crypto import secret_decrypt
from studio.models import AuditEvent
from tests.conftest import REPO_ROOT, require_postgres
from tests.factories import ProjectFactory
from tests.separate_studio import PROBE, Studio, studio_env
from training.artifact_store import artifact_load
from training.backup import BackupError, studio_restore
from training.backup.archive import MANIFEST, secret_key_fingerprint
from training.models import Deployment, DeploymentResource, TrainedModel

RESOURCE_KEY = "resource-key-s3cret"


@dataclass
class Source:
    studio: Studio
    key: str
    seen: dict[str, Any]
    archive: Path


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    """Studio A (the demo, used, on SQLite) and its archive. It shares this test
    process's SECRET_KEY, so its archive also restores here."""
    base = tmp_path_factory.mktemp("studio-a")
    studio = Studio(studio_env(base / "var", secret_key=str(settings.SECRET_KEY)))
    studio.manage("migrate", "--noinput", "-v0")
    studio.manage("loaddemo")
    # A second model of HomeOffice shadows its production deployment: the archive
    # holds the shadow's artifact too.
    studio.manage(
        "shell",
        "-c",
        "from projects.models import Project; "
        "from studio.management.commands.loaddemo import _run_inline; "
        "from training import train_jobs; "
        "from training.services.shadow import deployment_shadow_set; "
        "p = Project.objects.get(name='HomeOffice'); "
        "body = {'modelLabel': 'challenger', 'trainingMode': 'standard'}; "
        "_run_inline(train_jobs.train_start(project=p, body=body), "
        "train_jobs.train_task); "
        "deployment_shadow_set(project=p, deployment_name='production', "
        "model_label='challenger')",
    )
    # A registered deployment resource: its key is stored encrypted.
    studio.manage(
        "shell",
        "-c",
        "from training.services.resources import resource_create; "
        "resource_create(azure_resource_id='/subscriptions/1/resource-b', "
        f"region='westeurope', endpoint='https://b.example.com', key={RESOURCE_KEY!r})",
    )
    key = studio.manage("createapikey", "bots").stdout.strip().splitlines()[-1]
    seen = studio.probe(key)
    archive = base / "a.zip"
    out = studio.manage("backup", str(archive)).stdout
    assert "Backed up" in out and archive.is_file()
    return Source(studio=studio, key=key, seen=seen, archive=archive)


def restored_view(seen: dict[str, Any]) -> dict[str, Any]:
    """What must be the same after a restore: the answers, the audit trail before the
    restore's own event, the row counts of the tables a backup holds."""
    skipped = {
        "contenttypes.contenttype",
        "auth.permission",
        "sessions.session",
        "studio.workerheartbeat",
        "studio.deploymentstate",
        # The probe's logged queries (and the shadow's tallies of them) and the
        # restore's own audit event come after.
        "training.predictionlog",
        "training.shadowtally",
        "studio.auditevent",
    }
    return {
        "answers": seen["answers"],
        "audit": [e for e in seen["audit"] if e["action"] != "studio.restore"],
        "counts": {
            k: v
            for k, v in seen["counts"].items()
            if k not in skipped and not k.startswith("axes.")
        },
    }


def assert_same_studio(source: Source, after: dict[str, Any]) -> None:
    before = restored_view(source.seen)
    now = restored_view(after)
    assert now["answers"] == before["answers"]
    assert now["counts"] == before["counts"]
    # The trail restored as it was (ids, times to the microsecond, who, what), then
    # the probe's queries logged and the restore's own event.
    assert now["audit"][: len(before["audit"])] == before["audit"]
    restores = [e for e in after["audit"] if e["action"] == "studio.restore"]
    assert len(restores) == 1


def test_backup_restores_into_a_fresh_sqlite_studio_with_the_same_predictions_and_trail(
    source: Source, tmp_path: Path
) -> None:
    manifest = json.loads(zipfile.ZipFile(source.archive).read(MANIFEST))
    assert manifest["database"]["vendor"] == "sqlite"
    assert "0011_review_queue" in manifest["database"]["migrations"]["training"]
    assert manifest["rows"]["training.deployment"] == 3
    assert any(m.startswith("media/models/") for m in manifest["members"])
    assert all(len(m["sha256"]) == 64 for m in manifest["members"].values())

    target = Studio(studio_env(tmp_path / "var", secret_key=str(settings.SECRET_KEY)))
    out = target.manage("restore", str(source.archive)).stdout

    assert "Restored" in out
    assert_same_studio(source, target.probe(source.key))


@pytest.fixture
def postgres_database() -> Iterator[str]:
    import psycopg

    admin_url = require_postgres()
    name = f"studio_backup_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.integration
def test_sqlite_archive_restores_into_postgresql_whose_backup_restores_into_sqlite(
    source: Source, tmp_path: Path, postgres_database: str
) -> None:
    on_postgres = Studio(
        studio_env(
            tmp_path / "pg-var",
            secret_key=str(settings.SECRET_KEY),
            DATABASE_URL=postgres_database,
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
        )
    )
    on_postgres.manage("restore", str(source.archive))
    assert_same_studio(source, on_postgres.probe(source.key))
    # New rows get new ids after the restored ones (sequences moved on).
    on_postgres.manage("createapikey", "after-restore")

    archive = tmp_path / "pg.zip"
    on_postgres.manage("backup", str(archive))
    manifest = json.loads(zipfile.ZipFile(archive).read(MANIFEST))
    assert manifest["database"]["vendor"] == "postgresql"

    back = Studio(studio_env(tmp_path / "var", secret_key=str(settings.SECRET_KEY)))
    back.manage("restore", str(archive))
    seen = back.probe(source.key)
    assert seen["answers"] == source.seen["answers"]
    assert seen["counts"]["studio.apikey"] == source.seen["counts"]["studio.apikey"] + 1


def _rewritten(archive: Path, target: Path, change: Any) -> Path:
    """A copy of ``archive`` whose manifest ``change`` edits, members as they were."""
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        change(manifest)
        for info in old.infolist():
            if info.filename != MANIFEST:
                new.writestr(info, old.read(info.filename))
        new.writestr(MANIFEST, json.dumps(manifest))
    return target


STORAGE_FOLDERS = ("models", "snapshots", "exports", "replaced")


def _stored() -> set[str]:
    """The files in the tests' storage (in memory, shared by the whole run: other
    tests' files stay there)."""
    names: set[str] = set()
    for folder in STORAGE_FOLDERS:
        with contextlib.suppress(FileNotFoundError):
            names.update(f"{folder}/{n}" for n in default_storage.listdir(folder)[1])
    return names


@pytest.fixture(autouse=True)
def stored_before() -> Iterator[set[str]]:
    """The files stored before the test; those a restore adds are deleted after."""
    before = _stored()
    yield before
    for name in _stored() - before:
        default_storage.delete(name)


def _nothing_restored(stored_before: set[str]) -> None:
    assert not Project.objects.exists()
    assert not TrainedModel.objects.exists()
    assert not AuditEvent.objects.exists()
    assert _stored() == stored_before


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_archive_is_refused_and_nothing_changes(
    source: Source, tmp_path: Path, stored_before: set[str]
) -> None:
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(source.archive) as old, zipfile.ZipFile(damaged, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename.startswith("media/models/"):
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            new.writestr(info, data)

    with pytest.raises(BackupError, match="does not match its sha256"):
        studio_restore(path=damaged)
    _nothing_restored(stored_before)

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(source.archive.read_bytes()[:5000])
    with pytest.raises(BackupError, match="damaged or not a studio backup"):
        studio_restore(path=truncated)
    _nothing_restored(stored_before)


@pytest.mark.django_db(transaction=True)
def test_a_studio_that_is_not_empty_is_refused(
    source: Source, stored_before: set[str]
) -> None:
    ProjectFactory(name="Existing")

    with pytest.raises(BackupError, match=r"not empty \(it holds 1 projects"):
        studio_restore(path=source.archive)

    assert list(Project.objects.values_list("name", flat=True)) == ["Existing"]
    assert not TrainedModel.objects.exists()
    assert _stored() == stored_before


@pytest.mark.django_db(transaction=True)
def test_an_archive_of_a_newer_schema_is_refused(
    source: Source, tmp_path: Path, stored_before: set[str]
) -> None:
    newer = _rewritten(
        source.archive,
        tmp_path / "newer.zip",
        lambda m: m["database"]["migrations"]["training"].append("0999_future"),
    )

    with pytest.raises(BackupError, match=r"newer studio.*training\.0999_future"):
        studio_restore(path=newer)
    _nothing_restored(stored_before)


@pytest.mark.django_db(transaction=True)
def test_an_archive_of_another_secret_key_is_refused_unless_it_is_a_fallback(
    source: Source, settings: Any, stored_before: set[str]
) -> None:
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-studio-" + secrets.token_urlsafe(50)

    with pytest.raises(BackupError, match="another SECRET_KEY"):
        studio_restore(path=source.archive)
    _nothing_restored(stored_before)

    settings.SECRET_KEY_FALLBACKS = [old_key]
    summary = studio_restore(path=source.archive)

    assert summary.rows["training.deployment"] == 3
    # The manifests now carry the current key's signature: the runtime loads them.
    deployment = Deployment.objects.get(project__name="HomeOffice")
    settings.SECRET_KEY_FALLBACKS = []
    body = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "u", "text": "hello"}
        },
        "parameters": {"projectName": "HomeOffice", "deploymentName": "production"},
    }
    response = Client(HTTP_HOST="127.0.0.1").post(
        "/language/:analyze-conversations?api-version=2023-04-01",
        body,
        content_type="application/json",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=source.key,
    )
    assert response.status_code == 200, response.content
    first = source.seen["answers"]["hello there"]["HomeOffice"]["prediction"]
    assert (
        response.json()["result"]["prediction"]["projectKind"] == first["projectKind"]
    )
    archived = _archive_row(source.archive, "training.deployment", deployment.pk)
    assert deployment.manifest["signature"] != archived["manifest"]["signature"]
    assert deployment.shadow_artifact_name == archived["shadow_artifact_name"] != ""
    assert (
        deployment.shadow_manifest["signature"]
        != archived["shadow_manifest"]["signature"]
    )
    assert default_storage.exists(deployment.shadow_artifact_name)
    # The resource key was re-encrypted too: readable without the archive's key.
    resource = DeploymentResource.objects.get()
    archived_resource = _archive_row(
        source.archive, "training.deploymentresource", resource.pk
    )
    assert resource.key_sealed != archived_resource["key_sealed"]
    assert secret_decrypt(resource.key_sealed) == RESOURCE_KEY


@pytest.mark.django_db(transaction=True)
def test_an_archive_taken_before_rotatesecrets_restores_under_the_rotated_keys(
    source: Source, settings: Any, tmp_path: Path
) -> None:
    """A backup between the two steps of a rotation (new SECRET_KEY, the old one a
    fallback, rotatesecrets not run yet) names the new key, but its manifests are
    still signed with the old one: it restores where both keys are known."""
    old_key = str(settings.SECRET_KEY)
    new_key = "rotated-" + secrets.token_urlsafe(50)

    def rotated(manifest: dict[str, Any]) -> None:
        manifest["secretKeyFingerprint"] = secret_key_fingerprint(new_key)

    archive = _rewritten(source.archive, tmp_path / "rotated.zip", rotated)
    settings.SECRET_KEY = new_key
    settings.SECRET_KEY_FALLBACKS = [old_key]

    summary = studio_restore(path=archive)

    assert summary.rows["training.deployment"] == 3
    settings.SECRET_KEY_FALLBACKS = []  # every manifest was signed with the new key
    for model in TrainedModel.objects.all():
        assert artifact_load(model.artifact_name, model.manifest)
    for row in Deployment.objects.exclude(shadow_artifact_name=""):
        assert artifact_load(row.shadow_artifact_name, row.shadow_manifest)
    resource = DeploymentResource.objects.get()
    assert secret_decrypt(resource.key_sealed) == RESOURCE_KEY


def _archive_row(archive: Path, label: str, pk: int) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as zip_file:
        lines = zip_file.read(f"data/{label}.jsonl").splitlines()
    fields = json.loads(lines[0])["fields"]
    for line in lines[1:]:
        row = dict(zip(fields, json.loads(line), strict=True))
        if row["id"] == pk:
            return row
    raise AssertionError(f"{label} {pk} is not in the archive")


@pytest.mark.parametrize(
    "vendor", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def test_a_backup_taken_while_someone_writes_is_consistent_and_does_not_stop_them(
    tmp_path: Path, vendor: str, request: pytest.FixtureRequest
) -> None:
    extra = {}
    if vendor == "postgresql":
        extra = {
            "DATABASE_URL": request.getfixturevalue("postgres_database"),
            "ALLOWED_HOSTS": "127.0.0.1",
        }
    studio = Studio(
        studio_env(tmp_path / "var", secret_key=str(settings.SECRET_KEY), **extra)
    )
    studio.manage("migrate", "--noinput", "-v0")
    studio.manage(
        "shell",
        "-c",
        "from projects.models import Intent, Project; "
        "p = Project.objects.create(name='Busy', kind='Conversation', "
        "language='en-us'); "
        "Intent.objects.create(project=p, name='Write')",
    )
    writer = subprocess.Popen(
        [sys.executable, str(PROBE), "write"],
        cwd=REPO_ROOT,
        env=studio.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        first = int(writer.stdout.readline())
        archives = []
        for index in range(3):
            archive = tmp_path / f"busy-{index}.zip"
            studio.manage("backup", str(archive))
            archives.append(archive)
        time.sleep(0.2)
    finally:
        writer.terminate()
        out, err = writer.communicate(timeout=30)
    assert writer.returncode in (-15, 0), err
    last = int(out.split()[-1])
    assert last > first, "the writer made no progress while backups ran"
    seen = []
    for archive in archives:
        manifest = json.loads(zipfile.ZipFile(archive).read(MANIFEST))
        assert manifest["database"]["vendor"] == vendor
        project = _archive_row(archive, "projects.project", 1)
        with zipfile.ZipFile(archive) as zip_file:
            utterances = (
                len(zip_file.read("data/projects.utterance.jsonl").splitlines()) - 1
            )
        # The project row and the utterances are from one moment.
        assert utterances == int(project["description"]) > 0
        seen.append(utterances)
    # The writer went on between one backup's snapshot and the next.
    assert seen == sorted(set(seen)), seen


def _older_archive(archive: Path, target: Path) -> tuple[str, str, str]:
    """A copy of ``archive`` as the previous schema would have made it: one app's
    last migration (one nothing depends on) not applied, its tables and columns
    left out. Returns (app, the migration left out, its parent)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    leaves = loader.graph.leaf_nodes()
    leaf = next(
        node
        for node in leaves
        if node[0] in ("projects", "training", "studio")
        and not loader.graph.node_map[node].children
        and any(p[0] == node[0] for p in loader.graph.node_map[node].parents)
    )
    parent = next(p for p in loader.graph.node_map[leaf].parents if p[0] == leaf[0])
    state = loader.project_state(
        [node for node in leaves if node != leaf] + [parent.key], at_end=True
    )
    old_columns = {
        model._meta.label_lower: {f.attname for f in model._meta.concrete_fields}
        for model in state.apps.get_models(include_auto_created=True)
    }
    import hashlib

    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        manifest["database"]["migrations"][leaf[0]].remove(leaf[1])
        for name in list(manifest["members"]):
            data = old.read(name)
            if name.startswith("data/"):
                lines = data.splitlines()
                header = json.loads(lines[0])
                if header["model"] not in old_columns:
                    del manifest["members"][name]
                    continue
                keep = [
                    i
                    for i, f in enumerate(header["fields"])
                    if f in old_columns[header["model"]]
                ]
                header["fields"] = [header["fields"][i] for i in keep]
                rows = [json.loads(line) for line in lines[1:]]
                data = b"".join(
                    json.dumps(part).encode() + b"\n"
                    for part in [header, *([r[i] for i in keep] for r in rows)]
                )
            new.writestr(name, data)
            manifest["members"][name] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        new.writestr(MANIFEST, json.dumps(manifest))
    return leaf[0], leaf[1], parent.key[1]


@pytest.mark.django_db(transaction=True)
def test_an_archive_of_an_older_schema_is_restored_then_migrated(
    source: Source, tmp_path: Path
) -> None:
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    app, left_out, parent = _older_archive(source.archive, tmp_path / "older.zip")

    summary = studio_restore(path=tmp_path / "older.zip")

    assert summary.migrated_from == {app: parent}
    assert (app, left_out) in MigrationRecorder(connection).applied_migrations()
    counts = restored_view(source.seen)["counts"]
    assert Project.objects.count() == counts["projects.project"]
    assert TrainedModel.objects.count() == counts["training.trainedmodel"]
    assert AuditEvent.objects.filter(action="studio.restore").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_restore_that_fails_while_loading_leaves_no_row_and_no_file(
    source: Source, monkeypatch: Any, stored_before: set[str]
) -> None:
    from training.backup import load

    real = load._load_table
    loaded: list[str] = []

    def failing(archive: Any, member: str, *args: Any) -> int:
        if member == "data/training.deployment.jsonl":
            raise OSError("disk full")
        loaded.append(member)
        return real(archive, member, *args)

    monkeypatch.setattr(load, "_load_table", failing)

    with pytest.raises(OSError, match="disk full"):
        studio_restore(path=source.archive)

    assert "data/projects.project.jsonl" in loaded
    _nothing_restored(stored_before)


@pytest.mark.django_db(transaction=True)
def test_an_archive_naming_a_file_outside_the_storage_is_refused(
    source: Source, tmp_path: Path, stored_before: set[str]
) -> None:
    import hashlib

    evil = tmp_path / "evil.zip"
    payload = b"not a model"
    with zipfile.ZipFile(source.archive) as old, zipfile.ZipFile(evil, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        for info in old.infolist():
            if info.filename != MANIFEST:
                new.writestr(info, old.read(info.filename))
        new.writestr("media/../../outside.txt", payload)
        manifest["members"]["media/../../outside.txt"] = {
            "sha256": hashlib.sha256(payload).hexdigest(),
            "size": len(payload),
        }
        new.writestr(MANIFEST, json.dumps(manifest))

    with pytest.raises(BackupError, match="is not allowed"):
        studio_restore(path=evil)
    _nothing_restored(stored_before)


@pytest.mark.django_db(transaction=True)
def test_artifacts_are_verified_again_once_in_storage(
    source: Source, monkeypatch: Any, stored_before: set[str]
) -> None:
    import io

    from training.backup import load

    real_open = default_storage.open

    def tampering_open(name: str, mode: str = "rb") -> Any:
        if name.startswith("models/"):
            return io.BytesIO(b"other bytes")
        return real_open(name, mode)

    monkeypatch.setattr(load.default_storage, "open", tampering_open)

    with pytest.raises(BackupError, match="other bytes for models/"):
        studio_restore(path=source.archive)
    monkeypatch.undo()
    _nothing_restored(stored_before)


def test_backup_into_a_folder_names_each_archive_and_never_overwrites(
    source: Source, tmp_path: Path
) -> None:
    from training.backup.archive import archive_verify

    folder = tmp_path / "nightly"

    source.studio.manage("backup", f"{folder}/")
    source.studio.manage("backup", str(folder))

    first, second = sorted(folder.iterdir())
    assert first.name.startswith("studio-backup-") and first.suffix == ".zip"
    assert oct(first.stat().st_mode & 0o777) == oct(0o600)
    assert archive_verify(first)["rows"] == archive_verify(second)["rows"]
    refused = source.studio.manage("backup", str(first), check=False)
    assert refused.returncode == 1
    assert "exists: choose a new file name" in refused.stderr
    assert sorted(folder.iterdir()) == [first, second]
