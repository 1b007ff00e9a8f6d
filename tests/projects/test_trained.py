"""Projects read training's models and deployments through the reader training
registers (projects.trained), never by importing training."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from projects.models import Project
from projects.trained import trained
from studio.errors import NotFound
from tests.factories import ProjectFactory
from training.models import Deployment
from training.project_reads import TrainedModels

pytestmark = pytest.mark.django_db


def _deploy(project: Project, name: str) -> None:
    now = timezone.now()
    Deployment.objects.create(
        project=project,
        name=name,
        model_id="m1",
        artifact_name="a",
        model_trained_at=now,
        deployed_at=now,
        expires_on=dt.date(2099, 1, 1),
    )


def test_training_registers_the_reader_projects_use() -> None:
    assert isinstance(trained(), TrainedModels)


def test_the_reader_answers_for_the_projects_asked_about_only() -> None:
    mail, faq, other = (ProjectFactory.create(name=n) for n in ("Mail", "Faq", "X"))
    _deploy(mail, "production")
    _deploy(mail, "beta")
    _deploy(faq, "production")
    _deploy(other, "production")
    names = trained().deployment_names(project_ids=[faq.pk, mail.pk])
    assert names == [("Faq", "production"), ("Mail", "beta"), ("Mail", "production")]
    assert trained().deployment(project=mail, name="beta") is not None
    assert trained().deployment(project=faq, name="beta") is None
    assert trained().latest_model(project=mail) is None
    assert (
        trained().model_snapshot_document(
            project=mail, model_id="m1", string_index_type="Utf16CodeUnit"
        )
        is None
    )
    with pytest.raises(NotFound):
        trained().model_by_label(project=mail, label="m1")
