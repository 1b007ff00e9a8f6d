"""Artifacts in Django storage: write once, verify on every load, delete when unused.

Artifacts live in ``default_storage`` (local ``MEDIA_ROOT`` in the embedded setup, a
shared volume or S3 when scaled), so any web process can load what any worker wrote.
Manifests are signed with a key derived from ``SECRET_KEY``: someone who can write to
the storage but does not know the key cannot swap in bytes of their own. Loading also
accepts a signature of a key of ``SECRET_KEY_FALLBACKS`` (Django's rotation setting),
so rotating ``SECRET_KEY`` is no outage; ``artifact_manifests_resign`` (run by
``manage.py rotatesecrets``) then signs every stored manifest with the current key, so
the old key can be dropped. A signature of no listed key is refused.
"""

from __future__ import annotations

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


def artifact_load(name: str, manifest: Mapping[str, Any] | ArtifactManifest) -> Any:
    """Read and verify an artifact (sha256, signature, library versions); raises
    ``ArtifactError`` (or ``FileNotFoundError``/``OSError``) when it cannot be used."""
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
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


def routers_with_stale_target_secrets() -> list[str]:
    """Trained and deployed routers (``project/label``, ``project/deployment``) whose
    artifact holds HTTP-target secrets not encrypted under the current
    ``SECRET_KEY``. Those live inside the pickled model, so a rotation cannot
    re-encrypt them in place: retrain and redeploy these routers before the old key
    leaves ``SECRET_KEY_FALLBACKS``. A model that cannot be loaded is named too."""
    from studio.crypto import secret_is_current
    from training.engine.bundles import OrchestrationBundle
    from training.models import Deployment, TrainedModel

    pointers: list[tuple[str, str, Mapping[str, Any]]] = []
    routers = {"project__kind": "Orchestration"}
    for model in TrainedModel.objects.filter(**routers).select_related("project"):
        what = f"{model.project.name}/{model.label}"
        pointers.append((what, model.artifact_name, model.manifest))
    for row in Deployment.objects.filter(**routers).select_related("project"):
        what = f"{row.project.name}/{row.name}"
        pointers.append((what, row.artifact_name, row.manifest))
        if row.shadow_artifact_name:
            shadow = (f"{what} (shadow)", row.shadow_artifact_name, row.shadow_manifest)
            pointers.append(shadow)
    stale_artifacts: dict[str, bool] = {}
    named: list[str] = []
    for what, name, manifest in pointers:
        if not name:
            continue
        if name not in stale_artifacts:
            try:
                bundle = artifact_load(name, manifest)
            # A broken artifact is named for the operator, whatever broke it.
            except Exception:  # noqa: BLE001
                stale_artifacts[name] = True
            else:
                stale_artifacts[name] = isinstance(bundle, OrchestrationBundle) and any(
                    not secret_is_current(value)
                    for spec in bundle.targets.values()
                    for value in (spec.sealed_headers or {}).values()
                )
        if stale_artifacts[name]:
            named.append(what)
    return named
