"""Artifacts in Django storage: write once, verify on every load, delete when unused.

Artifacts live in ``default_storage`` (local ``MEDIA_ROOT`` in the embedded setup, a
shared volume or S3 when scaled), so any web process can load what any worker wrote.
Manifests are signed with a key derived from ``SECRET_KEY``: someone who can write to
the storage but does not know the key cannot swap in bytes of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from training.engine.artifacts import ArtifactManifest, dump_model, load_model

ARTIFACT_PREFIX = "models/"
# Folders of files that only trained models and deployments reference.
OWNED_FOLDERS = ("models", "snapshots")


def signing_key_for(secret_key: str) -> bytes:
    """The manifests' HMAC key derived from a ``SECRET_KEY``."""
    return hashlib.sha256(b"studio-artifacts:" + secret_key.encode()).digest()


def signing_key() -> bytes:
    return signing_key_for(settings.SECRET_KEY)


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
    return load_model(data, manifest, signing_key=signing_key())


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
