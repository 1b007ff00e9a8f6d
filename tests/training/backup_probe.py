"""Run in a studio's own process by tests/training/test_backup.py (``python
backup_probe.py COMMAND KEY``, the studio chosen by the environment):

* ``predict KEY``: the demo's deployments' answers through the runtime API, and what
  a restore must keep: the audit trail and every table's row count, as JSON.
* ``write``: until killed, adds one utterance and moves the project's description to
  the number written, in one transaction each; prints each number written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

from studio.models import AuditEvent  # noqa: E402

QUERIES = [
    "schedule a meeting with Anna tomorrow at 10",
    "remind me to call the plumber",
    "turn off the printer",
    "what is the wifi password",
    "hello there",
]
API_VERSION = "api-version=2023-04-01"


def _conversation(client: Client, key: str, project: str, text: str) -> Any:
    body = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "u", "text": text}
        },
        "parameters": {
            "projectName": project,
            "deploymentName": "production",
            "isLoggingEnabled": True,
        },
    }
    response = client.post(
        f"/language/:analyze-conversations?{API_VERSION}",
        body,
        content_type="application/json",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=key,
    )
    assert response.status_code == 200, response.content
    return response.json()["result"]


def _question(client: Client, key: str, text: str) -> Any:
    response = client.post(
        f"/language/:query-knowledgebases?projectName=OfficeFAQ"
        f"&deploymentName=production&{API_VERSION}",
        {"question": text, "top": 3},
        content_type="application/json",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=key,
    )
    assert response.status_code == 200, response.content
    return response.json()


def predict(key: str) -> dict[str, Any]:
    client = Client(HTTP_HOST="127.0.0.1")
    answers = {
        text: {
            "HomeOffice": _conversation(client, key, "HomeOffice", text),
            "OfficeRouter": _conversation(client, key, "OfficeRouter", text),
            "OfficeFAQ": _question(client, key, text),
        }
        for text in QUERIES
    }
    audit = [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in AuditEvent.objects.order_by("id").values()
    ]
    counts = {
        model._meta.label_lower: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }
    return {"answers": answers, "audit": audit, "counts": counts}


def write() -> None:
    from projects.models import Intent, Project, Utterance

    project = Project.objects.get(name="Busy")
    intent = Intent.objects.get(project=project, name="Write")
    written = 0
    while True:
        written += 1
        with transaction.atomic():
            Utterance.objects.create(
                project=project, intent=intent, text=f"write number {written}"
            )
            Project.objects.filter(pk=project.pk).update(description=str(written))
        print(written, flush=True)  # noqa: T201 - read by the test
        time.sleep(0.002)


if __name__ == "__main__":
    if sys.argv[1] == "predict":
        print(json.dumps(predict(sys.argv[2])))  # noqa: T201 - read by the test
    else:
        write()
