"""The export stamp (``metadata.lastModifiedDateTime``) and the drift check between
two studios (``manage.py projectdrift``, ``projects.selectors.drift``)."""

from __future__ import annotations

import copy
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from projects import services
from projects.models import Project
from studio.errors import InvalidArgument
from studio.services import apikey_create
from tests.projects.helpers import email_doc
from tests.separate_studio import Studio, studio_env

pytestmark = pytest.mark.django_db


def _add_utterance(project: Project, text: str) -> None:
    services.utterance_create(project=project, data={"text": text, "intent": "Read"})


def test_an_unchanged_copy_exports_its_sources_stamp_and_a_change_moves_it() -> None:
    source = services.project_import(name="EmailApp", document=email_doc())
    first = services.project_export(project=source)
    stamp = first["metadata"]["lastModifiedDateTime"]

    copy_ = services.project_import(name="Copy", document=copy.deepcopy(first))
    second = services.project_export(project=copy_)
    assert second["metadata"]["lastModifiedDateTime"] == stamp
    assert copy_.last_modified_at > source.last_modified_at

    _add_utterance(Project.objects.get(name="Copy"), "read the new mail")
    third = services.project_export(project=Project.objects.get(name="Copy"))
    assert third["metadata"]["lastModifiedDateTime"] > stamp


def test_an_import_refuses_a_stamp_that_is_not_a_date_and_time() -> None:
    document = email_doc()
    document["metadata"]["lastModifiedDateTime"] = "yesterday"

    with pytest.raises(InvalidArgument) as caught:
        services.project_import(name="EmailApp", document=document)

    assert "metadata.lastModifiedDateTime" in json.dumps(caught.value.as_azure())
    assert not Project.objects.exists()


def _next_second() -> None:
    """The source's project list tells times to the second: a change in the same
    second as the export would not show there."""
    time.sleep(1.05 - timezone.now().microsecond / 1_000_000)


@pytest.mark.django_db(transaction=True)
def test_a_copy_in_another_studio_sees_the_source_and_itself_drift(
    live_server: Any, tmp_path: Path
) -> None:
    # Studio A is this process, served at live_server.url; B a studio of its own.
    source = services.project_import(name="Mail", document=email_doc())
    services.project_import(name="NeverCopied", document=email_doc())
    _, key = apikey_create(name="replica")
    exported = tmp_path / "mail.json"
    exported.write_text(json.dumps(services.project_export(project=source)))
    replica = Studio(
        studio_env(
            tmp_path / "var",
            secret_key=str(settings.SECRET_KEY),
            STUDIO_DRIFT_SOURCE_KEY=key,
        )
    )
    replica.manage("migrate", "--noinput", "-v0")
    replica.manage(
        "shell",
        "-c",
        "import json; from projects import services; "
        f"document = json.load(open({str(exported)!r})); "
        "services.project_import(name='Mail', document=document); "
        "services.project_create_or_update(name='LocalOnly', data={"
        "'projectName': 'LocalOnly', 'projectKind': 'Conversation', "
        "'language': 'en-us'})",
    )

    def drift() -> subprocess.CompletedProcess[str]:
        return replica.manage("projectdrift", "--source", live_server.url, check=False)

    fresh = drift()
    assert fresh.returncode == 0, fresh.stderr
    assert "Mail: in sync" in fresh.stdout
    assert "LocalOnly: not a copy" in fresh.stdout

    _next_second()
    _add_utterance(source, "forward this to Anna")
    after_source = drift()
    assert after_source.returncode == 1
    assert "Mail: changed at the source since the copy (copy of " in after_source.stdout
    assert "1 project(s) drifted" in after_source.stderr

    replica.manage(
        "shell",
        "-c",
        "from projects import services; from projects.models import Project; "
        "services.utterance_create(project=Project.objects.get(name='Mail'), "
        "data={'text': 'a local change', 'intent': 'Read'})",
    )
    both = drift()
    assert both.returncode == 1
    assert "Mail: changed at the source and here since the copy" in both.stdout

    source.delete()
    gone = drift()
    assert "Mail: not at the source" in gone.stdout and gone.returncode == 1
