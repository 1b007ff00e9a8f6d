"""Artifacts in Django storage: write once, verify on every load, delete when unused.

Artifacts live in ``default_storage`` (local ``MEDIA_ROOT`` in the embedded setup, a
shared volume or S3 when scaled), so any web process can load what any worker wrote.
Manifests are signed with a key derived from ``SECRET_KEY``: someone who can write to
the storage but does not know the key cannot swap in bytes of their own. Loading also
accepts a signature of a key of ``SECRET_KEY_FALLBACKS`` (Django's rotation setting),
so rotating ``SECRET_KEY`` is no outage; ``artifact_manifests_resign`` (run by
``manage.py rotatesecrets``) then signs every stored manifest with the current key,
and ``router_target_secrets_reseal`` rewrites the routers whose pickled targets hold
secrets under an old key, so the old key can be dropped. A signature of no listed key
is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from studio.deployment_state import deployment_state_bump
from training.engine.artifacts import (
    ArtifactError,
    ArtifactManifest,
    describe_model,
    dump_model,
    load_model,
    manifest_sign,
    manifest_signed_by,
)

ARTIFACT_PREFIX = "models/"
# Folders of files that only trained models and deployments reference.
OWNED_FOLDERS = ("models", "snapshots")


def signing_key_for(secret_key: str) -> bytes:
    """The manifests' HMAC key derived from a ``SECRET_KEY``."""
    return hashlib.sha256(b"studio-artifacts:" + secret_key.encode()).digest()


def signing_key() -> bytes:
    """The key new manifests are signed with (the current ``SECRET_KEY``'s)."""
    return signing_key_for(settings.SECRET_KEY)


def fallback_signing_keys() -> list[bytes]:
    """Keys of ``SECRET_KEY_FALLBACKS``: still accepted, never used to sign."""
    return [signing_key_for(str(k)) for k in settings.SECRET_KEY_FALLBACKS]


def artifact_save(
    bundle: object,
    *,
    model_id: str,
    training_data_hash: str,
    params: Mapping[str, Any],
) -> tuple[str, dict[str, Any]]:
    """Serialize ``bundle`` and write it; returns ``(storage name, manifest dict)``.

    The name carries the model id and the first hash characters, so a name is never
    reused for different bytes.
    """
    data, manifest = dump_model(
        bundle,
        training_data_hash=training_data_hash,
        params=params,
        signing_key=signing_key(),
    )
    wanted = f"{ARTIFACT_PREFIX}{model_id}-{manifest.sha256[:12]}.bin"
    name = default_storage.save(wanted, ContentFile(data))
    return name, manifest.to_dict()


def _save_bytes(
    data: bytes, *, model_id: str, manifest: ArtifactManifest
) -> tuple[str, dict[str, Any]]:
    """``artifact_save`` for bytes already pickled: the manifest ``manifest``'s
    (training data hash, params, library versions), its sha256 and signature new."""
    described = describe_model(
        data,
        training_data_hash=manifest.training_data_hash,
        params=manifest.params,
        signing_key=signing_key(),
        versions=manifest.library_versions,
    )
    wanted = f"{ARTIFACT_PREFIX}{model_id}-{described.sha256[:12]}.bin"
    name = default_storage.save(wanted, ContentFile(data))
    return name, described.to_dict()


def artifact_load(name: str, manifest: Mapping[str, Any] | ArtifactManifest) -> Any:
    """Read and verify an artifact (sha256, signature, library versions); raises
    ``ArtifactError`` (or ``FileNotFoundError``/``OSError``) when it cannot be used."""
    return _load_bytes(_read(name), manifest)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return bytes(handle.read())


def _load_bytes(data: bytes, manifest: Mapping[str, Any] | ArtifactManifest) -> Any:
    return load_model(
        data,
        manifest,
        signing_key=signing_key(),
        fallback_keys=fallback_signing_keys(),
    )


def artifact_delete_if_unused(name: str) -> bool:
    """Delete the artifact when no trained model and no deployment (live or shadow
    model) points to it.

    Call it after the transaction that dropped a reference has committed.
    """
    from training.models import Deployment, TrainedModel

    if not name:
        return False
    if (
        TrainedModel.objects.filter(artifact_name=name).exists()
        or Deployment.objects.filter(artifact_name=name).exists()
        or Deployment.objects.filter(shadow_artifact_name=name).exists()
    ):
        return False
    default_storage.delete(name)
    return True


def artifacts_purge_orphans(
    *, older_than: timedelta = timedelta(hours=1), now: datetime | None = None
) -> int:
    """Delete model artifacts and snapshots nothing references any more.

    A worker killed between writing its files and committing the rows that point to
    them leaves such files behind. Only files older than ``older_than`` go, so a job
    that is between the two steps right now keeps its files. Returns how many were
    deleted.
    """
    from training.models import Deployment, TrainedModel

    cutoff = (now or timezone.now()) - older_than
    referenced: set[str] = set(
        TrainedModel.objects.values_list("artifact_name", flat=True)
    )
    referenced.update(TrainedModel.objects.values_list("snapshot_name", flat=True))
    referenced.update(Deployment.objects.values_list("artifact_name", flat=True))
    referenced.update(Deployment.objects.values_list("shadow_artifact_name", flat=True))
    deleted = 0
    for folder in OWNED_FOLDERS:
        try:
            _, files = default_storage.listdir(folder)
        except (FileNotFoundError, NotImplementedError):
            continue
        for file_name in files:
            name = f"{folder}/{file_name}"
            if name in referenced:
                continue
            try:
                modified = default_storage.get_modified_time(name)
            except (FileNotFoundError, NotImplementedError):
                continue
            if timezone.is_naive(modified):
                modified = timezone.make_aware(modified)
            if modified < cutoff:
                default_storage.delete(name)
                deleted += 1
    return deleted


@dataclass
class ResignSummary:
    """What ``artifact_manifests_resign`` did: manifests signed again with the
    current key, and the models whose manifest no known key signed (left as they
    are: they stay refused)."""

    resigned: int = 0
    unverifiable: list[str] = field(default_factory=list)


def artifact_manifests_resign() -> ResignSummary:
    """Sign every stored manifest that a ``SECRET_KEY_FALLBACKS`` key signed with
    the current ``SECRET_KEY`` instead: trained models, deployments' models and
    their shadows. One transaction, rows locked, so a deploy copying a manifest
    meanwhile waits and then copies the new one; running it again changes nothing.
    The deployment version is bumped so every web process reloads the manifests.
    """
    from training.models import Deployment, TrainedModel

    current = signing_key()
    known = [current, *fallback_signing_keys()]
    summary = ResignSummary()

    def resigned(raw: Any, what: str) -> dict[str, Any] | None:
        """The manifest signed with the current key, or ``None`` when it already is
        (or cannot be, which is recorded)."""
        try:
            manifest = ArtifactManifest.from_dict(raw)
        except ArtifactError:
            summary.unverifiable.append(what)
            return None
        signer = manifest_signed_by(manifest, known)
        if signer is None:
            summary.unverifiable.append(what)
            return None
        if signer == current:
            return None
        summary.resigned += 1
        return manifest_sign(manifest, current).to_dict()

    with transaction.atomic():
        models = (
            TrainedModel.objects.select_for_update(of=("self",))
            .select_related("project")
            .exclude(artifact_name="")
            .order_by("pk")
        )
        for model in models:
            manifest = resigned(model.manifest, f"{model.project.name}/{model.label}")
            if manifest is not None:
                TrainedModel.objects.filter(pk=model.pk).update(manifest=manifest)
        deployments = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("project")
            .order_by("pk")
        )
        changed = False
        for row in deployments:
            what = f"{row.project.name}/{row.name}"
            updates: dict[str, Any] = {}
            if row.artifact_name:
                manifest = resigned(row.manifest, what)
                if manifest is not None:
                    updates["manifest"] = manifest
            if row.shadow_artifact_name:
                manifest = resigned(row.shadow_manifest, f"{what} (shadow)")
                if manifest is not None:
                    updates["shadow_manifest"] = manifest
            if updates:
                Deployment.objects.filter(pk=row.pk).update(**updates)
                changed = True
        if changed:
            deployment_state_bump()
    return summary


@dataclass
class ResealSummary:
    """What ``router_target_secrets_reseal`` did: the routers (``project/label``,
    ``project/deployment``, ``... (shadow)``) now pointing to an artifact whose
    target secrets are under the current key, those whose artifact cannot be
    loaded, and those holding a secret no listed key decrypts (both left as they
    are)."""

    resealed: list[str] = field(default_factory=list)
    unloadable: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    # Repointed by a deploy or swap in every pass: run the command again.
    moving: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _RouterPointer:
    """One row's reference to a router artifact: which model and columns hold it,
    and whether the runtime serves it (a deployment: the version is bumped)."""

    what: str
    model: type[Any]
    served: bool
    pk: int
    name_field: str
    manifest_field: str
    model_id: str
    artifact_name: str
    manifest: Mapping[str, Any]


def _router_pointers() -> list[_RouterPointer]:
    """Every trained model, deployment and shadow of an Orchestration project,
    the rows sharing an artifact next to each other: a resealed file is
    unreferenced until its rows take it, and the workers' orphan sweep deletes
    unreferenced files older than an hour, so all of them move right after it is
    written rather than after every other router's file (a long run)."""
    from training.models import Deployment, TrainedModel

    def pointer(what: str, row: Any, prefix: str, model_id: str) -> _RouterPointer:
        return _RouterPointer(
            what=what,
            model=type(row),
            served=isinstance(row, Deployment),
            pk=row.pk,
            name_field=f"{prefix}artifact_name",
            manifest_field=f"{prefix}manifest",
            model_id=model_id,
            artifact_name=getattr(row, f"{prefix}artifact_name"),
            manifest=getattr(row, f"{prefix}manifest"),
        )

    pointers: list[_RouterPointer] = []
    routers = {"project__kind": "Orchestration"}
    models = TrainedModel.objects.filter(**routers).select_related("project")
    for model in models.order_by("pk"):
        what = f"{model.project.name}/{model.label}"
        pointers.append(pointer(what, model, "", model.model_id))
    rows = Deployment.objects.filter(**routers).select_related("project")
    for row in rows.order_by("pk"):
        what = f"{row.project.name}/{row.name}"
        pointers.append(pointer(what, row, "", row.model_id))
        shadow_id = row.shadow_model_id or row.model_id
        pointers.append(pointer(f"{what} (shadow)", row, "shadow_", shadow_id))
    listed = [p for p in pointers if p.artifact_name]
    first_seen: dict[str, int] = {}
    for index, listed_pointer in enumerate(listed):
        first_seen.setdefault(listed_pointer.artifact_name, index)
    return sorted(listed, key=lambda p: first_seen[p.artifact_name])  # stable


class _Unloadable(Exception):
    pass


def _resealed_artifact(pointer: _RouterPointer) -> tuple[str, dict[str, Any]] | None:
    """Write the router of ``pointer`` again with its target secrets re-encrypted
    under the current key, and a manifest of the same training data hash, params
    and library versions signed with the current key; returns ``(storage name,
    manifest)``, or ``None`` when every secret already is under the current key.
    ``_Unloadable`` when the artifact cannot be loaded (or the new one does not
    verify), ``SecretUnreadable`` when no listed key decrypts a secret.

    The new bytes are the old ones with each sealed value replaced in place: a
    Fernet token of the same plain text has the same length, so the pickle is
    byte for byte the same model (unpickling and pickling again would not be: a
    set's order follows its insertions). Only a value stored in plain text
    (before encryption existed) changes length; then the loaded bundle is
    pickled again with the values encrypted.
    """
    from studio.crypto import secret_is_current, secret_rotate
    from training.engine.bundles import OrchestrationBundle

    try:
        data = _read(pointer.artifact_name)
        bundle = _load_bytes(data, pointer.manifest)
    # A broken artifact is named for the operator, whatever broke it.
    except Exception as exc:  # noqa: BLE001
        raise _Unloadable(str(exc)) from None
    if not isinstance(bundle, OrchestrationBundle):
        return None
    moved = {
        value: secret_rotate(value)
        for spec in bundle.targets.values()
        for value in (spec.sealed_headers or {}).values()
        if not secret_is_current(value)
    }
    if not moved:
        return None
    manifest = ArtifactManifest.from_dict(pointer.manifest)
    in_place = all(
        len(old) == len(new) and old.encode() in data for old, new in moved.items()
    )
    if in_place:
        for old, new in moved.items():
            data = data.replace(old.encode(), new.encode())
        name, new_manifest = _save_bytes(
            data, model_id=pointer.model_id, manifest=manifest
        )
    else:
        targets = {
            intent: dataclasses.replace(
                spec,
                sealed_headers={
                    header: moved.get(value, value)
                    for header, value in (spec.sealed_headers or {}).items()
                },
            )
            for intent, spec in bundle.targets.items()
        }
        name, new_manifest = artifact_save(
            dataclasses.replace(bundle, targets=targets),
            model_id=pointer.model_id,
            training_data_hash=manifest.training_data_hash,
            params=manifest.params,
        )
    try:
        # Loaded once as a web process will, before any row points to it.
        resealed = artifact_load(name, new_manifest)
        sealed = [
            value
            for spec in resealed.targets.values()
            for value in (spec.sealed_headers or {}).values()
        ]
        if not all(secret_is_current(value) for value in sealed):
            raise ArtifactError("a target secret is still under an old key")
    except Exception as exc:  # noqa: BLE001
        artifact_delete_if_unused(name)
        raise _Unloadable(str(exc)) from None
    return name, new_manifest


def _delete_if_unused_after_commit(name: str) -> None:
    transaction.on_commit(lambda: artifact_delete_if_unused(name), robust=True)


def router_target_secrets_reseal() -> ResealSummary:
    """Move the HTTP-target secrets sealed inside routers' artifacts (pickled
    ``TargetSpec.sealed_headers``) to the current ``SECRET_KEY``.

    For every trained model, deployment and shadow of an Orchestration project
    whose artifact holds a secret not under the current key, a new artifact is
    written (see ``_resealed_artifact``; rows sharing an artifact share the new
    one) and each row is pointed to it in a transaction of its own, only if it
    still points to the artifact that was read (a deploy or retrain meanwhile
    wins). A deployment's change bumps the deployment version, so web processes
    load the new artifact (the cache key holds its sha256). A crash half-way
    leaves every row on a complete, verified artifact: the old one, still
    readable under the fallback key and signed by ``artifact_manifests_resign``,
    or the new one. Old artifacts go once no row uses them, and new ones no row
    took at once; a crash's leftovers go with ``artifacts_purge_orphans``. A row
    repointed meanwhile (its update missed) is looked at again over freshly listed
    rows, up to ``_RESEAL_PASSES`` passes; still moving then, it is named in
    ``moving`` and the command fails. Running it again changes nothing.
    """
    summary = ResealSummary()
    for _ in range(_RESEAL_PASSES):
        missed = _reseal_pass(summary)
        if not missed:
            return summary
    # Rows kept moving under the command (swaps, deploys): named, so the command
    # fails rather than let the old key be dropped while they may still need it.
    summary.moving.extend(missed)
    return summary


# A row whose conditional update missed (it was repointed meanwhile) is looked at
# again in a new pass over freshly listed rows.
_RESEAL_PASSES = 3


def _reseal_pass(summary: ResealSummary) -> list[str]:
    """One pass over freshly listed router rows; the rows whose conditional
    update missed because they were repointed meanwhile (to look at again)."""
    from studio.crypto import SecretUnreadable

    written: dict[str, tuple[str, dict[str, Any]] | None] = {}
    failed: dict[str, list[str]] = {}
    missed: list[str] = []
    for pointer in _router_pointers():
        old = pointer.artifact_name
        if old in failed:
            if pointer.what not in failed[old]:
                failed[old].append(pointer.what)
            continue
        if old not in written:
            try:
                written[old] = _resealed_artifact(pointer)
            except _Unloadable:
                failed[old] = summary.unloadable
                _add(summary.unloadable, pointer.what)
                continue
            except SecretUnreadable:
                failed[old] = summary.unreadable
                _add(summary.unreadable, pointer.what)
                continue
        resealed = written[old]
        if resealed is None:
            continue
        name, manifest = resealed
        with transaction.atomic():
            updated = pointer.model.objects.filter(
                pk=pointer.pk, **{pointer.name_field: old}
            ).update(**{pointer.name_field: name, pointer.manifest_field: manifest})
            if updated and pointer.served:
                deployment_state_bump()
            _delete_if_unused_after_commit(old)
        if updated:
            _add(summary.resealed, pointer.what)
        else:
            missed.append(pointer.what)
    for resealed in written.values():
        if resealed is not None:
            artifact_delete_if_unused(resealed[0])  # kept when some row took it
    return missed


def _add(names: list[str], what: str) -> None:
    if what not in names:
        names.append(what)
