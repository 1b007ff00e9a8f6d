"""``studio_backup``: one consistent archive of the whole studio (README, "Backup and
restore").

Consistency: every row comes from one snapshot of the database.

* SQLite: the database is first copied with SQLite's online backup API into a
  temporary file. In WAL mode (the studio's) that is one step inside a read
  transaction, which never blocks writers; in another journal mode it copies
  256 pages per step and SQLite restarts it when someone writes in between. The
  rows are then read from the copy, so the live database is held for the copy only.
* PostgreSQL: the rows are read in one ``REPEATABLE READ, READ ONLY`` transaction
  on a connection of its own: one snapshot, no lock that stops writers.

Files are copied after the snapshot, by the names its rows reference. They are
written once and never changed in place, but one may be deleted between the
snapshot and its copy (its model was deleted): then the snapshot is taken again,
up to three times.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from training.backup.archive import (
    CONTENT_TYPES,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PERMISSIONS,
    ArchiveWriter,
    BackupError,
    data_member,
    media_member,
    secret_key_fingerprint,
    vectors_member,
)
from training.backup.tables import (
    EXCLUDED_APPS,
    EXCLUDED_MODELS,
    JOB_LABEL,
    backed_up_models,
    encode_value,
    row_fields,
)
from training.engine.static_vectors import (
    StaticVectorsSpec,
    StaticVectorsUnavailable,
    spec_from_params,
    table_file,
)

SNAPSHOT_ALIAS = "studio_backup_snapshot"
SNAPSHOT_ATTEMPTS = 3
_SQLITE_PAGES_PER_STEP = 256


@dataclass
class BackupSummary:
    path: Path
    size: int
    rows: dict[str, int]
    files: int
    missing_files: list[str] = field(default_factory=list)
    # Static word vector tables models need that are not here (see _write_tables).
    missing_static_vectors: list[str] = field(default_factory=list)


class _FileVanished(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def studio_version() -> str:
    try:
        return metadata.version("orchestration-studio")
    except metadata.PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def _snapshot() -> Iterator[str]:
    """A database alias that reads one consistent snapshot of ``default``."""
    source = connections["default"]
    vendor = source.vendor
    config = dict(connections.settings["default"])
    temp_dir: tempfile.TemporaryDirectory[str] | None = None
    if vendor == "sqlite":
        temp_dir = tempfile.TemporaryDirectory(prefix="studio-backup-")
        copy_path = Path(temp_dir.name) / "snapshot.sqlite3"
        source.ensure_connection()
        raw = source.connection
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        target = sqlite3.connect(copy_path)
        try:
            raw.backup(
                target,
                pages=-1 if str(mode).lower() == "wal" else _SQLITE_PAGES_PER_STEP,
                sleep=0.005,
            )
        finally:
            target.close()
        config.update(NAME=str(copy_path), OPTIONS={}, CONN_MAX_AGE=0)
    elif vendor != "postgresql":
        raise BackupError(
            f"Backups support SQLite and PostgreSQL; this database is {vendor}."
        )
    connections.settings[SNAPSHOT_ALIAS] = config
    try:
        with transaction.atomic(using=SNAPSHOT_ALIAS):
            if vendor == "postgresql":
                with connections[SNAPSHOT_ALIAS].cursor() as cursor:
                    cursor.execute(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                    )
            yield SNAPSHOT_ALIAS
    finally:
        connections[SNAPSHOT_ALIAS].close()
        del connections[SNAPSHOT_ALIAS]
        del connections.settings[SNAPSHOT_ALIAS]
        if temp_dir is not None:
            temp_dir.cleanup()


def _migration_state(alias: str) -> dict[str, list[str]]:
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        pending = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        raise BackupError(
            f"The database is not fully migrated (pending: {pending}): run "
            "`manage.py migrate` first, then back up."
        )
    state: dict[str, list[str]] = {}
    for app_label, name in sorted(MigrationRecorder(connection).applied_migrations()):
        state.setdefault(app_label, []).append(name)
    return state


def _rows_of(
    model: type[models.Model], alias: str, now: datetime
) -> models.QuerySet[Any]:
    queryset = model._base_manager.using(alias).order_by("pk")
    if model._meta.label_lower == JOB_LABEL:
        from jobs.models import Job

        queryset = queryset.filter(status__in=Job.FINISHED, expires_at__gt=now)
    return queryset


def _table_lines(
    model: type[models.Model], alias: str, now: datetime, counts: dict[str, int]
) -> Iterator[bytes]:
    fields = row_fields(model)
    label = model._meta.label_lower
    header = {"model": label, "fields": [f.attname for f in fields]}
    yield json.dumps(header).encode() + b"\n"
    count = 0
    for obj in _rows_of(model, alias, now).iterator(chunk_size=2000):
        row = [encode_value(f, obj) for f in fields]
        yield json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n"
        count += 1
    counts[label] = count


def _referenced_files(alias: str, now: datetime) -> tuple[set[str], set[str]]:
    """(files the studio cannot work without, files it can): model artifacts are
    required; snapshots, replaced-project copies and export results are not."""
    from jobs.models import Job
    from projects.models import ReplacedProject
    from training.models import Deployment, TrainedModel

    required: set[str] = set()
    optional: set[str] = set()
    for artifact, snapshot in TrainedModel.objects.using(alias).values_list(
        "artifact_name", "snapshot_name"
    ):
        required.add(artifact)
        optional.add(snapshot)
    for live, shadow in Deployment.objects.using(alias).values_list(
        "artifact_name", "shadow_artifact_name"
    ):
        required.update((live, shadow))
    optional.update(ReplacedProject.objects.using(alias).values_list("file", flat=True))
    for result in (
        _rows_of(Job, alias, now)
        .filter(kind=Job.Kind.EXPORT)
        .values_list("result", flat=True)
    ):
        if isinstance(result, dict) and isinstance(result.get("file"), str):
            optional.add(result["file"])
    required.discard("")
    optional.discard("")
    return required, optional - required


def _referenced_tables(alias: str) -> dict[StaticVectorsSpec, list[str]]:
    """The static word vector tables the stored models and deployments were
    trained with (their manifests' params), each with the model ids using it."""
    from training.models import Deployment, TrainedModel

    manifests: list[tuple[str, Any]] = list(
        TrainedModel.objects.using(alias).values_list("model_id", "manifest")
    )
    for model_id, live, shadow_id, shadow in Deployment.objects.using(
        alias
    ).values_list("model_id", "manifest", "shadow_model_id", "shadow_manifest"):
        manifests += [(model_id, live), (shadow_id, shadow)]
    tables: dict[StaticVectorsSpec, list[str]] = {}
    for model_id, manifest in manifests:
        params = manifest.get("params") if isinstance(manifest, dict) else None
        spec = spec_from_params(params) if isinstance(params, dict) else None
        if spec is not None and model_id not in tables.setdefault(spec, []):
            tables[spec].append(model_id)
    return tables


def _write_tables(archive: ArchiveWriter, alias: str) -> list[str]:
    """The tables the models need, as ``vectors/`` members; returns the problems
    (a table that is not here: its models cannot load in this studio either, so
    the backup goes on and says so)."""
    problems: list[str] = []
    for spec, model_ids in sorted(
        _referenced_tables(alias).items(), key=lambda item: item[0].sha256
    ):
        try:
            path = table_file(spec)
        except StaticVectorsUnavailable as exc:
            problems.append(f"models {', '.join(sorted(model_ids))}: {exc}")
            continue
        with path.open("rb") as handle:
            archive.write_stream(vectors_member(spec.sha256, path.name), handle)
    return problems


def _refs(alias: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    content_types = {
        str(pk): [app_label, model]
        for pk, app_label, model in ContentType.objects.using(alias).values_list(
            "pk", "app_label", "model"
        )
    }
    permissions = {
        str(pk): [codename, *content_types.get(str(ct), ["", ""])]
        for pk, codename, ct in Permission.objects.using(alias).values_list(
            "pk", "codename", "content_type_id"
        )
    }
    return content_types, permissions


def _write(archive: ArchiveWriter, alias: str) -> tuple[dict[str, Any], list[str]]:
    """Everything but the manifest; returns the manifest's other fields and the
    optional files that were missing."""
    now = timezone.now()
    migrations = _migration_state(alias)
    counts: dict[str, int] = {}
    for model in backed_up_models(apps.get_models(include_auto_created=True)):
        label = model._meta.label_lower
        archive.write_lines(data_member(label), _table_lines(model, alias, now, counts))
    content_types, permissions = _refs(alias)
    archive.write_bytes(CONTENT_TYPES, json.dumps(content_types).encode())
    archive.write_bytes(PERMISSIONS, json.dumps(permissions).encode())
    required, optional = _referenced_files(alias, now)
    missing: list[str] = []
    for name in sorted(required | optional):
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError:
            if name in required:
                raise _FileVanished(name) from None
            missing.append(name)
            continue
        with handle:
            archive.write_stream(media_member(name), handle)
    missing_tables = _write_tables(archive, alias)
    fields = {
        "createdDateTime": now.isoformat(),
        "database": {"vendor": connections[alias].vendor, "migrations": migrations},
        "rows": counts,
        "files": len(required | optional) - len(missing),
        "missingFiles": missing,
        "missingStaticVectors": missing_tables,
    }
    return fields, missing


def _target(path: Path, *, folder: bool) -> Path:
    if folder:
        # A name ending in "/" is a folder, made when missing (a cron job's first run).
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_dir():
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
        return path / f"studio-backup-{stamp}.zip"
    if path.exists():
        raise BackupError(f"{path} exists: choose a new file name, or a folder.")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    return path


def studio_backup(*, path: Path | str) -> BackupSummary:
    """Write the whole studio to a new archive at ``path`` (a file name, or a folder
    to put ``studio-backup-<time>.zip`` in: an existing one, or a name ending in
    ``/``); written under a temporary name and renamed when complete, so ``path``
    is never a partial archive."""
    target = _target(Path(path), folder=str(path).endswith(("/", os.sep)))
    vanished: list[str] = []
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        fd, temp_name = tempfile.mkstemp(
            prefix=".studio-backup-", suffix=".partial", dir=target.parent
        )
        os.close(fd)
        temp = Path(temp_name)
        try:
            with (
                _snapshot() as alias,
                zipfile.ZipFile(
                    temp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
                ) as zip_file,
            ):
                # The manifest is written last, once every member's sha256 is known.
                writer = ArchiveWriter(zip_file)
                fields, missing = _write(writer, alias)
                manifest = {
                    "format": FORMAT,
                    "formatVersion": FORMAT_VERSION,
                    "studioVersion": studio_version(),
                    **fields,
                    "secretKeyFingerprint": secret_key_fingerprint(
                        str(settings.SECRET_KEY)
                    ),
                    "excluded": {
                        **EXCLUDED_MODELS,
                        **{f"{app}.*": why for app, why in EXCLUDED_APPS.items()},
                        f"{JOB_LABEL} (unfinished or expired)": (
                            "a job cannot resume in another studio"
                        ),
                        "static word vector tables no model uses": (
                            "standard training builds them again"
                        ),
                        "embedding cache": (
                            "a cache (STUDIO_EMBEDDING_CACHE): advanced training "
                            "fills it again"
                        ),
                    },
                    "members": writer.members,
                }
                zip_file.writestr(
                    MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False)
                )
        except _FileVanished as exc:
            temp.unlink(missing_ok=True)
            vanished.append(exc.name)
            continue
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        # mkstemp made it 0600: the archive holds password hashes and key digests.
        temp.rename(target)
        return BackupSummary(
            path=target,
            size=target.stat().st_size,
            rows=fields["rows"],
            files=fields["files"],
            missing_files=missing,
            missing_static_vectors=fields["missingStaticVectors"],
        )
    raise BackupError(
        "Model artifacts referenced by the database are missing from storage "
        f"({', '.join(sorted(set(vanished)))}); the backup was tried "
        f"{SNAPSHOT_ATTEMPTS} times. Retrain or delete those models, then back up."
    )
