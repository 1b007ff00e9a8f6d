"""What projects read of trained models and deployments, which training owns.

Projects sit below training (runtime > training > projects > jobs > studio) and never
import it, yet a few project screens and operations show what training made: the
Data page compares labels with the latest model and pre-labels rows with a
deployment, the orchestration screen lists the deployments a link can target, and an
export can be of a trained model's snapshot. They ask through ``trained()``, which
returns the reader training registers from ``TrainingConfig.ready``
(training/project_reads.py). Models and deployments come back as training's rows,
typed ``Any`` here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from projects.models import Project


class TrainedReader(Protocol):
    def latest_model(self, *, project: Project) -> Any | None:
        """The project's most recently trained model, or None."""

    def model_by_label(self, *, project: Project, label: str) -> Any:
        """The project's trained model ``label``; ``NotFound`` when there is none."""

    def model_snapshot_document(
        self, *, project: Project, model_id: str, string_index_type: str
    ) -> dict[str, Any] | None:
        """The exported project the model ``model_id`` was trained on, offsets in
        ``string_index_type``; None when that model is gone (deleted, retrained)."""

    def model_load(self, *, artifact_name: str, manifest: Mapping[str, Any]) -> Any:
        """A model's (or deployment's) artifact, verified; raises ``ArtifactError``
        or ``OSError`` when it cannot be used in this process."""

    def deployment(self, *, project: Project, name: str) -> Any | None:
        """The project's deployment ``name``, or None."""

    def deployment_names(
        self, *, project_ids: Collection[int]
    ) -> list[tuple[str, str]]:
        """(project name, deployment name) of those projects, sorted."""


_READERS: list[TrainedReader] = []


def trained_reader_register(reader: TrainedReader) -> None:
    """Called once, by the app that owns trained models (training)."""
    _READERS[:] = [reader]


def trained() -> TrainedReader:
    if not _READERS:
        raise ImproperlyConfigured(
            "No trained-model reader is registered: INSTALLED_APPS needs training."
        )
    return _READERS[0]
