"""``studio_restore``: an archive of ``studio_backup`` into an empty studio (README,
"Backup and restore").

Order, so that a refusal changes nothing:

1. the archive is verified whole (``archive_verify``: every member's sha256);
2. it must come from this schema or an older one (a newer one is refused), and from
   a studio with this ``SECRET_KEY`` (or one of ``SECRET_KEY_FALLBACKS``);
3. every model artifact is checked against its row's manifest (sha256, and a
   signature of the archive's key or another key this studio lists);
4. the database is migrated if it is not yet, and must then be empty;
5. the static word vector tables the models need are put where this studio reads
   them (``STUDIO_STATIC_VECTORS``; a different file of the same name is kept),
   the files are written, then every row in one transaction; when that fails the
   transaction rolls back and the tables and files written are deleted again;
6. whatever is under a key of ``SECRET_KEY_FALLBACKS`` moves to ``SECRET_KEY``: the
   manifests are signed again while loading, target secrets and resource keys are
   re-encrypted after, so the old key can be dropped.

An archive of an older schema is loaded into the database migrated back to that
schema (it is empty, so nothing is lost) with the models as they were then, then
migrated forward, so data migrations run on the restored rows as on an upgrade.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from training.artifact_store import signing_key_for
from training.backup.archive import (
    CONTENT_TYPES,
    DATA_PREFIX,
    MEDIA_PREFIX,
    PERMISSIONS,
    VECTORS_PREFIX,
    BackupError,
    archive_verify,
    current_fingerprints,
    data_member,
    media_member,
    read_json,
    read_rows,
)
from training.backup.tables import backed_up_models, decode_value
from training.engine.artifacts import (
    ArtifactError,
    ArtifactManifest,
    check_versions,
    manifest_sign,
    manifest_signed_by,
)
from training.engine.static_vectors import (
    STATIC_DIR_ENV,
    StaticVectorsUnavailable,
    spec_from_params,
    static_dir,
    table_file,
    table_restore,
)

_BATCH = 500


@dataclass
class RestoreSummary:
    rows: dict[str, int]
    files: int
    migrated_from: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """What the checks found, for the load."""

    manifest: dict[str, Any]
    # Manifests to sign again with the current key (table label -> pk -> column ->
    # manifest): the archive was made under a key now in SECRET_KEY_FALLBACKS.
    resign: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The static word vector tables to put back: sha256 -> archive member.
    tables: dict[str, str] = field(default_factory=dict)


def _migration_targets(
    loader: MigrationLoader, state: dict[str, list[str]]
) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """The executor targets that put the database at the archive's schema, and the
    apps where that is older than this code's (app -> the archive's last one)."""
    disk = set(loader.disk_migrations)
    unknown = sorted(
        f"{app}.{name}"
        for app, names in state.items()
        for name in names
        if (app, name) not in disk and (app, name) not in loader.replacements
    )
    if unknown:
        raise BackupError(
            "The archive comes from a newer studio: its database has migrations "
            f"this version does not know ({', '.join(unknown[:5])}). Upgrade this "
            "studio to the version that made the backup (or a newer one), then "
            "restore. Nothing was restored."
        )
    targets: list[tuple[str, str | None]] = []
    older: dict[str, str] = {}
    leaves = dict(loader.graph.leaf_nodes())
    for app in {app for app, _ in disk}:
        applied = {(app, name) for name in state.get(app, [])}
        if not applied:
            targets.append((app, None))
            older[app] = "(none)"
            continue
        # The archive's last migration of the app: the applied one no other applied
        # one of the app depends on.
        last = next(
            node
            for node in sorted(applied)
            if not any(
                node in loader.graph.node_map[other].parents for other in applied
            )
        )
        targets.append(last)
        if last[1] != leaves.get(app):
            older[app] = last[1]
    return targets, older


def _check_key(manifest: dict[str, Any]) -> str:
    keys = current_fingerprints()
    key = keys.get(str(manifest.get("secretKeyFingerprint")))
    if key is None:
        raise BackupError(
            "The archive was made by a studio with another SECRET_KEY: its models' "
            "signatures and its stored target secrets need that key. Set SECRET_KEY "
            "to it (embedded studio: the file secret_key in its STUDIO_VAR_DIR), or "
            "add it to SECRET_KEY_FALLBACKS, and restore again. Nothing was restored."
        )
    return key


# (table, column naming an artifact, column of its manifest): a deployment's own
# model and its shadow's.
_ARTIFACT_COLUMNS = (
    ("training.trainedmodel", "artifact_name", "manifest"),
    ("training.deployment", "artifact_name", "manifest"),
    ("training.deployment", "shadow_artifact_name", "shadow_manifest"),
)


def _artifact_rows(
    archive: zipfile.ZipFile, manifest: dict[str, Any]
) -> Iterator[tuple[str, Any, str, str, dict[str, Any]]]:
    """(table, pk, artifact name, manifest column, manifest) of every artifact a
    trained model or a deployment names."""
    for label, name_column, manifest_column in _ARTIFACT_COLUMNS:
        member = data_member(label)
        if member not in manifest["members"]:
            continue
        header, rows = read_rows(archive, member)
        names = header["fields"]
        if name_column not in names:
            continue  # an archive of a schema without that column
        for row in rows:
            values = dict(zip(names, row, strict=True))
            if values[name_column]:
                yield (
                    label,
                    values["id"],
                    values[name_column],
                    manifest_column,
                    values[manifest_column],
                )


def _check_artifacts(archive: zipfile.ZipFile, plan: _Plan, current_key: str) -> None:
    """Each row's artifact is in the archive with the sha256 its manifest names and
    a signature of the archive's key; else the restore is refused."""
    current = signing_key_for(current_key)
    # The archive's key, and this studio's others: an archive taken after a
    # rotation but before rotatesecrets names the new key while its manifests still
    # carry the old key's signatures (both keys are this studio's, so trusted).
    trusted = [signing_key_for(key) for key in current_fingerprints().values()]
    stale_versions: set[str] = set()
    for label, pk, name, column, raw in _artifact_rows(archive, plan.manifest):
        what = f"{label.split('.')[1]} {pk} ({name})"
        member = media_member(name)
        if member not in plan.manifest["members"]:
            raise BackupError(
                f"The archive lacks the artifact of {what}. Nothing was restored."
            )
        try:
            artifact = ArtifactManifest.from_dict(raw)
        except ArtifactError as exc:
            raise BackupError(f"{what}: {exc}. Nothing was restored.") from exc
        digest = hashlib.sha256()
        with archive.open(member) as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        if not hmac.compare_digest(digest.hexdigest(), artifact.sha256):
            raise BackupError(
                f"The artifact of {what} does not match its manifest's sha256. "
                "Nothing was restored."
            )
        signer = manifest_signed_by(artifact, trusted)
        if signer is None:
            raise BackupError(
                f"The artifact manifest of {what} is not signed with the key of the "
                "studio that made the archive, nor with SECRET_KEY or a key of "
                "SECRET_KEY_FALLBACKS. Nothing was restored."
            )
        if signer != current:
            plan.resign.setdefault(label, {}).setdefault(pk, {})[column] = (
                manifest_sign(artifact, current).to_dict()
            )
        try:
            check_versions(artifact.library_versions)
        except ArtifactError as exc:
            stale_versions.add(str(exc))
    for problem in sorted(stale_versions):
        plan.warnings.append(
            f"Some models cannot be loaded by this installation ({problem}): they "
            "were restored, retrain them to serve them."
        )


def _check_tables(archive: zipfile.ZipFile, plan: _Plan) -> None:
    """The static word vector tables (``vectors/<sha256>/<file>``) are the ones
    their names vouch for, else the restore is refused; models whose table the
    archive lacks (an archive of format 1, or a table missing at backup) or that
    this studio cannot use (tables turned off) are restored with a warning."""
    carried: dict[str, str] = {}
    for member, entry in plan.manifest["members"].items():
        if not member.startswith(VECTORS_PREFIX):
            continue
        sha256, _, file_name = member[len(VECTORS_PREFIX) :].partition("/")
        if not file_name or "/" in file_name or entry.get("sha256") != sha256:
            raise BackupError(
                f"The archive's static word vector table {member} does not match "
                "the sha256 its name gives. Nothing was restored."
            )
        carried[sha256] = member
    plan.tables = carried
    needed: dict[str, list[str]] = {}
    lacking: list[str] = []
    for _label, _pk, name, _column, raw in _artifact_rows(archive, plan.manifest):
        params = raw.get("params") if isinstance(raw, dict) else None
        spec = spec_from_params(params) if isinstance(params, dict) else None
        if spec is None:
            continue
        needed.setdefault(spec.sha256, []).append(name)
        if spec.sha256 in carried:
            continue
        try:
            table_file(spec)
        except StaticVectorsUnavailable:
            lacking.append(name)
    if needed and static_dir() is None:
        plan.warnings.append(
            "Static word vectors are turned off here "
            f"({STATIC_DIR_ENV}=off): the models trained with them cannot load "
            f"({', '.join(sorted({n for ns in needed.values() for n in ns}))}). "
            f"Set {STATIC_DIR_ENV} to a folder and restore again, or retrain them."
        )
        plan.tables = {}
    elif lacking:
        plan.warnings.append(
            "The archive lacks the static word vector table of "
            f"{', '.join(sorted(set(lacking)))}: copy the table file from the "
            f"old studio's {STATIC_DIR_ENV} folder, or retrain those models."
        )


@contextlib.contextmanager
def _tables_written(archive: zipfile.ZipFile, plan: _Plan) -> Iterator[None]:
    """Put the archive's tables where this studio reads them (each verified
    against its sha256); delete those written when the block fails."""
    written = []
    try:
        for sha256, member in sorted(plan.tables.items()):
            with archive.open(member) as handle:
                try:
                    path = table_restore(member.rsplit("/", 1)[1], handle, sha256)
                except (StaticVectorsUnavailable, OSError) as exc:
                    raise BackupError(
                        f"The static word vector table {member} cannot be put "
                        f"back: {exc}. Nothing was restored."
                    ) from exc
            if path is not None:
                written.append(path)
        yield
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _check_empty() -> None:
    filled = []
    for model in backed_up_models(global_apps.get_models(include_auto_created=True)):
        count = model._base_manager.count()
        if count:
            filled.append(f"{count} {model._meta.verbose_name_plural}")
    if filled:
        raise BackupError(
            "This studio is not empty (it holds "
            f"{', '.join(filled[:6])}{', ...' if len(filled) > 6 else ''}). "
            "Restore only into a new, empty database: create one, run "
            "`manage.py migrate`, then restore. Nothing was changed."
        )


def _historical_apps(loader: MigrationLoader, targets: list[Any]) -> Apps:
    """The models as the archive's schema had them, with ``auto_now`` off so that
    the stored times are kept (a private registry: the real models are untouched)."""
    nodes = [target for target in targets if target[1] is not None]
    state_apps: Apps = loader.project_state(nodes, at_end=True).apps
    for model in state_apps.get_models(include_auto_created=True):
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, models.DateField):
                model_field.auto_now = False
                model_field.auto_now_add = False
    return state_apps


def _ref_maps(archive: zipfile.ZipFile) -> tuple[dict[int, int], dict[int, int]]:
    """Archive id -> this database's id, for content types and permissions."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    here_types = {
        (app, model): pk
        for pk, app, model in ContentType.objects.values_list(
            "pk", "app_label", "model"
        )
    }
    content_types = {
        int(pk): here_types[tuple(key)]
        for pk, key in read_json(archive, CONTENT_TYPES).items()
        if tuple(key) in here_types
    }
    here_permissions = {
        (codename, app, model): pk
        for pk, codename, app, model in Permission.objects.values_list(
            "pk", "codename", "content_type__app_label", "content_type__model"
        )
    }
    permissions = {
        int(pk): here_permissions[tuple(key)]
        for pk, key in read_json(archive, PERMISSIONS).items()
        if tuple(key) in here_permissions
    }
    return content_types, permissions


def _load_table(
    archive: zipfile.ZipFile,
    member: str,
    state_apps: Apps,
    refs: tuple[dict[int, int], dict[int, int]],
    resign: dict[Any, dict[str, Any]],
) -> int:
    header, rows = read_rows(archive, member)
    app_label, model_name = str(header["model"]).split(".", 1)
    try:
        model = state_apps.get_model(app_label, model_name)
    except LookupError:
        raise BackupError(
            f"The archive holds the table {header['model']}, which its schema does "
            "not define. Nothing was restored."
        ) from None
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = []
    for name in header["fields"]:
        if name not in by_attname:
            raise BackupError(
                f"The archive's table {header['model']} has a column {name} its "
                "schema does not define. Nothing was restored."
            )
        fields.append(by_attname[name])
    content_types, permissions = refs
    remap: dict[int, dict[int, int]] = {}
    for index, model_field in enumerate(fields):
        target = getattr(model_field.remote_field, "model", None)
        if target is not None and model_field.many_to_one:
            label = target._meta.label_lower
            if label == "contenttypes.contenttype":
                remap[index] = content_types
            elif label == "auth.permission":
                remap[index] = permissions
    pk_name = model._meta.pk.attname
    batch: list[models.Model] = []
    count = 0
    manager = model._base_manager
    for row in rows:
        values: dict[str, Any] = {}
        skip = False
        for index, (model_field, raw) in enumerate(zip(fields, row, strict=True)):
            value = decode_value(model_field, raw)
            if index in remap and value is not None:
                value = remap[index].get(int(value))
                if value is None and not model_field.null:
                    skip = True  # a permission of a model that no longer exists
            values[model_field.attname] = value
        if skip:
            continue
        if values.get(pk_name) in resign:
            values.update(resign[values[pk_name]])
        batch.append(model(**values))
        count += 1
        if len(batch) >= _BATCH:
            manager.bulk_create(batch)
            batch = []
    if batch:
        manager.bulk_create(batch)
    return count


def _sequences_reset(state_apps: Apps) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    statements = connection.ops.sequence_reset_sql(
        no_style(), list(state_apps.get_models(include_auto_created=True))
    )
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


@contextlib.contextmanager
def _files_written(archive: zipfile.ZipFile, manifest: dict[str, Any]) -> Iterator[int]:
    """Write the media members to storage under their names; delete them again when
    the block fails."""
    written: list[str] = []
    try:
        for member in sorted(manifest["members"]):
            if not member.startswith(MEDIA_PREFIX):
                continue
            name = member[len(MEDIA_PREFIX) :]
            # A leftover file of that name in an empty studio is an orphan.
            default_storage.delete(name)
            with archive.open(member) as handle:
                saved = default_storage.save(name, File(handle, name=name))
            written.append(saved)
            if saved != name:
                raise BackupError(
                    f"The storage saved {name} as {saved}; the restore needs the "
                    "exact name. Nothing was restored."
                )
            # Read back: what the storage holds is what the archive vouched for.
            digest = hashlib.sha256()
            with default_storage.open(name, "rb") as stored:
                while chunk := stored.read(1024 * 1024):
                    digest.update(chunk)
            if digest.hexdigest() != manifest["members"][member]["sha256"]:
                raise BackupError(
                    f"The storage returned other bytes for {name} than were written "
                    "(sha256 differs). Nothing was restored."
                )
        yield len(written)
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def _after_load(plan: _Plan) -> None:
    """Work that needs the current models (after any forward migration)."""
    from projects.services.targets import target_secrets_rotate
    from studio.audit import audit_record
    from studio.deployment_state import deployment_state_bump
    from training.services.resources import resource_keys_rotate

    with transaction.atomic():
        # Secrets under another key (the archive's, or an older one the archive's
        # studio still listed as a fallback) move to the current key.
        _, unreadable = target_secrets_rotate()
        if unreadable:
            plan.warnings.append(
                "No key decrypts the target secrets of "
                f"{', '.join(unreadable)}: enter them again."
            )
        _, unreadable_keys = resource_keys_rotate()
        if unreadable_keys:
            plan.warnings.append(
                "No key decrypts the key of the deployment resource(s) "
                f"{', '.join(unreadable_keys)}: enter it again."
            )
        deployment_state_bump()
        audit_record(
            action="studio.restore",
            target="studio",
            after={
                "backupCreatedDateTime": plan.manifest.get("createdDateTime"),
                "studioVersion": plan.manifest.get("studioVersion"),
                "databaseVendor": plan.manifest["database"].get("vendor"),
            },
        )


def studio_restore(*, path: Path) -> RestoreSummary:
    """Restore the archive at ``path`` into this studio, which must be empty."""
    manifest = archive_verify(path)
    _check_key(manifest)
    current_key = str(settings.SECRET_KEY)
    plan = _Plan(manifest=manifest)
    database = manifest.get("database")
    state = database.get("migrations") if isinstance(database, dict) else None
    if not isinstance(state, dict) or not all(
        isinstance(names, list) and all(isinstance(n, str) for n in names)
        for names in state.values()
    ):
        raise BackupError(
            f"The archive {path} names no migrations. Nothing was restored."
        )
    connection = connections[DEFAULT_DB_ALIAS]
    with zipfile.ZipFile(path) as archive:
        targets, older = _migration_targets(MigrationLoader(connection), state)
        _check_artifacts(archive, plan, current_key)
        _check_tables(archive, plan)
        # A new database is migrated first (a no-op when it already is).
        call_command("migrate", interactive=False, verbosity=0)
        _check_empty()
        loader = MigrationLoader(connection)
        if older:
            # Empty, so going back loses nothing; the rows then load as they were.
            MigrationExecutor(connection).migrate(targets)
        state_apps = _historical_apps(loader, targets)
        rows: dict[str, int] = {}
        try:
            with (
                _tables_written(archive, plan),
                _files_written(archive, manifest) as files,
                transaction.atomic(),
            ):
                refs = _ref_maps(archive)
                for member in manifest["members"]:
                    if not member.startswith(DATA_PREFIX):
                        continue
                    label = member[len(DATA_PREFIX) : -len(".jsonl")]
                    rows[label] = _load_table(
                        archive, member, state_apps, refs, plan.resign.get(label, {})
                    )
                _sequences_reset(state_apps)
        except BaseException:
            if older:
                call_command("migrate", interactive=False, verbosity=0)
            raise
    if older:
        call_command("migrate", interactive=False, verbosity=0)
    _after_load(plan)
    return RestoreSummary(
        rows=rows, files=files, migrated_from=older, warnings=plan.warnings
    )
