"""What training does when a project is deleted: delete its models' files.

Trained models and deployments go with the project's row (database cascade), but
their artifacts and snapshots are files in storage. Projects sit below training and
never import it, so ``projects.services.project_delete`` deletes the row and this
receiver deletes training's files: names collected before the delete (the rows are
gone after it), files deleted once the deletion has committed (a rollback keeps
both), an artifact only when nothing else points to it.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from training.artifact_store import artifact_delete_if_unused
from training.models import Deployment, TrainedModel

_FILES = "_training_files"


@receiver(pre_delete, sender="projects.Project")
def project_files_collect(sender: Any, instance: Any, **kwargs: Any) -> None:
    models = TrainedModel.objects.filter(project=instance)
    artifacts = {
        *models.values_list("artifact_name", flat=True),
        *Deployment.objects.filter(project=instance).values_list(
            "artifact_name", flat=True
        ),
    }
    snapshots = set(models.values_list("snapshot_name", flat=True))
    setattr(instance, _FILES, (artifacts, snapshots))


@receiver(post_delete, sender="projects.Project")
def project_files_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    artifacts, snapshots = getattr(instance, _FILES, (set(), set()))

    def delete_files() -> None:
        for name in artifacts:
            artifact_delete_if_unused(name)
        for name in snapshots:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete_files)
