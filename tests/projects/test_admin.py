"""Every authoring model is browsable in the Django admin."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from projects import services
from tests.projects.helpers import email_doc

pytestmark = pytest.mark.django_db

MODELS = ["project", "intent", "entity", "utterance", "qnapair", "kbsynonymgroup"]


@pytest.mark.parametrize("model", MODELS)
def test_admin_changelist_and_change_page_render(
    admin_client: Client, model: str
) -> None:
    project = services.project_import(name="EmailApp", document=email_doc())
    kb = services.kb_import(
        name="kb",
        document={
            "assets": {
                "qnas": [{"id": 1, "answer": "a", "questions": ["q"]}],
                "synonyms": [{"alterations": ["a", "b"]}],
            }
        },
        file_format="json",
    )
    objects = {
        "project": project,
        "intent": project.intents.get(name="Read"),
        "entity": project.entities.get(name="Sender"),
        "utterance": project.utterances.all()[0],
        "qnapair": kb.qnas.get(),
        "kbsynonymgroup": kb.kb_synonyms.get(),
    }
    response = admin_client.get(
        reverse(f"admin:projects_{model}_changelist"), secure=True
    )
    assert response.status_code == 200
    response = admin_client.get(
        reverse(f"admin:projects_{model}_change", args=[objects[model].pk]), secure=True
    )
    assert response.status_code == 200
