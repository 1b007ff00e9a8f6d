"""Training's answers to what projects read of its models and deployments.

``projects.trained`` declares the questions (projects sit below training and never
import it); ``TrainingConfig.ready`` registers ``TrainedModels`` as the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from projects.models import Project
from training.artifact_store import artifact_load
from training.models import Deployment, TrainedModel
from training.selectors.authoring import trained_model_get
from training.train_jobs import snapshot_document


class TrainedModels:
    def latest_model(self, *, project: Project) -> TrainedModel | None:
        return (
            TrainedModel.objects.filter(project=project).order_by("-trained_at").first()
        )

    def model_by_label(self, *, project: Project, label: str) -> TrainedModel:
        return trained_model_get(project=project, label=label)

    def model_snapshot_document(
        self, *, project: Project, model_id: str, string_index_type: str
    ) -> dict[str, Any] | None:
        model = TrainedModel.objects.filter(project=project, model_id=model_id).first()
        if model is None:
            return None
        return snapshot_document(model=model, string_index_type=string_index_type)

    def model_load(self, *, artifact_name: str, manifest: Mapping[str, Any]) -> Any:
        return artifact_load(artifact_name, manifest)

    def deployment(self, *, project: Project, name: str) -> Deployment | None:
        return Deployment.objects.filter(project=project, name=name).first()

    def deployment_names(
        self, *, project_ids: Collection[int]
    ) -> list[tuple[str, str]]:
        rows = Deployment.objects.filter(project_id__in=list(project_ids))
        return list(
            rows.order_by("project__name", "name").values_list("project__name", "name")
        )
