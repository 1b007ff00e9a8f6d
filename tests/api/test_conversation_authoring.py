"""The conversation authoring API (azure-api.md §3) through Django's test client.

Celery runs eagerly (``studio.settings_test``); a request that enqueues a job runs it
when its transaction commits, which ``django_capture_on_commit_callbacks`` triggers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from jobs.models import Job
from projects import validators
from projects.models import Entity, Intent, Project, Utterance
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.conftest import require_shared_data, shared_data_dir, skip_or_fail
from tests.projects.helpers import orchestration_doc

pytestmark = pytest.mark.django_db

V = "2023-04-01"
BASE = "/language/authoring/analyze-conversations"
IMPORT_EXAMPLE = (
    shared_data_dir().parent
    / "reference"
    / "azure-specs/2023-04-01/examples/analyzeconversations-authoring"
    / "SuccessfulImportProject.json"
)


def small_project(name: str = "Mail", **metadata: Any) -> dict[str, Any]:
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "Conversation",
            "projectName": name,
            "language": "en-us",
            "description": "mail",
            "multilingual": False,
            "settings": {"confidenceThreshold": 0.5},
            **metadata,
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": "None"}, {"category": "Read"}],
            "entities": [{"category": "Sender"}],
            "utterances": [
                {
                    "text": "Open Blake's email",
                    "intent": "Read",
                    "dataset": "Train",
                    "language": "en-us",
                    "entities": [{"category": "Sender", "offset": 5, "length": 5}],
                },
                {"text": "read it", "intent": "Read", "entities": []},
            ],
        },
    }


class Api:
    """A keyed client for the authoring paths that runs enqueued jobs on commit."""

    def __init__(self, client: Client, key: str, capture: Callable[..., Any]) -> None:
        self.client = client
        self.key = key
        self.capture = capture

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: str = "",
        key: str | None = "default",
        run_jobs: bool = True,
        content_type: str = "application/json",
    ) -> Any:
        headers = {}
        if key is not None:
            headers["Ocp-Apim-Subscription-Key"] = self.key if key == "default" else key
        url = f"{path}?api-version={V}" + (f"&{query}" if query else "")
        data = (
            body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        )
        kwargs: dict[str, Any] = {"headers": headers}
        if data is not None:
            kwargs.update(data=data, content_type=content_type)
        with self.capture(execute=run_jobs):
            return getattr(self.client, method.lower())(url, **kwargs)

    def follow(self, response: Any) -> dict[str, Any]:
        """The job a 202 points at (its jobs already ran)."""
        assert response.status_code == 202, response.content
        location = urlsplit(response["Operation-Location"])
        status = self.client.get(
            f"{location.path}?{location.query}",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )
        assert status.status_code == 200, status.content
        return dict(status.json())

    def create(self, name: str, **fields: Any) -> Any:
        body = {
            "projectName": name,
            "projectKind": "Conversation",
            "language": "en",
            **fields,
        }
        return self.call(
            "PATCH",
            f"{BASE}/projects/{name}",
            body,
            content_type="application/merge-patch+json",
        )

    def import_(self, name: str, document: Any, **kwargs: Any) -> dict[str, Any]:
        return self.follow(
            self.call("POST", f"{BASE}/projects/{name}/:import", document, **kwargs)
        )

    def export(self, name: str) -> dict[str, Any]:
        job = self.follow(
            self.call(
                "POST",
                f"{BASE}/projects/{name}/:export",
                query="stringIndexType=Utf16CodeUnit&format=Conversation",
            )
        )
        assert job["status"] == "succeeded", job
        url = urlsplit(job["resultUrl"])
        result = self.client.get(
            f"{url.path}?{url.query}", headers={"Ocp-Apim-Subscription-Key": self.key}
        )
        assert result.status_code == 200
        return dict(result.json())


@pytest.fixture
def api(client: Client, django_capture_on_commit_callbacks: Any) -> Api:
    return Api(
        client, apikey_create(name="tests")[1], django_capture_on_commit_callbacks
    )


def counts() -> dict[str, int]:
    return {
        "Project": Project.objects.count(),
        "Intent": Intent.objects.count(),
        "Entity": Entity.objects.count(),
        "Utterance": Utterance.objects.count(),
    }


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = dict(response.json()["error"])
    assert error["code"] == code, error
    return error


# --- projects -----------------------------------------------------------------------


def test_patch_creates_then_merges_and_reports_201_then_200(api: Api) -> None:
    created = api.create(
        "Mail", description="first", settings={"confidenceThreshold": 0.4}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["projectName"] == "Mail"
    assert body["projectKind"] == "Conversation"
    assert body["settings"] == {"confidenceThreshold": 0.4}
    assert body["createdDateTime"].endswith("Z")
    assert body["lastModifiedDateTime"].endswith("Z")
    assert "lastTrainedDateTime" not in body

    updated = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        {"projectName": "Mail", "description": "second"},
        content_type="application/merge-patch+json",
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["description"] == "second"
    # Merge-patch: the absent settings are kept.
    assert updated.json()["settings"] == {"confidenceThreshold": 0.4}
    got = api.call("GET", f"{BASE}/projects/Mail").json()
    assert got["description"] == "second"
    assert got["createdDateTime"] == body["createdDateTime"]


def test_patch_refuses_bad_bodies_and_changes_nothing(api: Api) -> None:
    before = counts()
    mismatch = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        {"projectName": "Other", "projectKind": "Conversation", "language": "en"},
        content_type="application/merge-patch+json",
    )
    assert mismatch.status_code == 400
    qa = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        {"projectName": "Mail", "projectKind": "QuestionAnswering", "language": "en"},
        content_type="application/merge-patch+json",
    )
    assert assert_error(qa, 400, "InvalidArgument")["target"] == "projectKind"
    reserved = api.create("global")
    assert reserved.status_code == 400
    assert "reserved" in reserved.json()["error"]["message"]
    bad_threshold = api.create("Mail", settings={"confidenceThreshold": 3})
    assert bad_threshold.status_code == 400
    not_json = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        "{nope",
        content_type="application/merge-patch+json",
    )
    assert_error(not_json, 400, "InvalidRequest")
    assert counts() == before


def test_per_intent_thresholds_setting_is_off_by_default_audited_and_exported(
    api: Api,
) -> None:
    created = api.create("Mail", settings={"confidenceThreshold": 0.4})
    assert created.json()["settings"] == {"confidenceThreshold": 0.4}  # Azure's shape
    assert Project.objects.get(name="Mail").per_intent_thresholds is False

    on = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        {"projectName": "Mail", "settings": {"perIntentThresholds": True}},
        content_type="application/merge-patch+json",
    )
    assert on.status_code == 200, on.content
    # Merge-patch: the threshold is kept beside the option.
    assert on.json()["settings"] == {
        "confidenceThreshold": 0.4,
        "perIntentThresholds": True,
    }
    event = AuditEvent.objects.get(action="project.settings")
    assert event.before == {"perIntentThresholds": False}
    assert event.after == {"perIntentThresholds": True}

    before = counts()
    bad = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        {"projectName": "Mail", "settings": {"perIntentThresholds": "yes"}},
        content_type="application/merge-patch+json",
    )
    error = assert_error(bad, 400, "InvalidArgument")
    assert "settings.perIntentThresholds" in json.dumps(error)
    assert counts() == before
    assert Project.objects.get(name="Mail").per_intent_thresholds is True

    exported = api.export("Mail")
    assert exported["metadata"]["settings"]["perIntentThresholds"] is True
    assert api.import_("Copy", exported)["status"] == "succeeded"
    assert Project.objects.get(name="Copy").per_intent_thresholds is True

    off = api.call(
        "PATCH",
        f"{BASE}/projects/Mail",
        {"projectName": "Mail", "settings": {"perIntentThresholds": None}},
        content_type="application/merge-patch+json",
    )
    assert off.json()["settings"] == {"confidenceThreshold": 0.4}


def test_list_pages_with_top_skip_and_absolute_next_link(api: Api) -> None:
    for name in ("A1", "A2", "A3"):
        assert api.create(name).status_code == 201
    first = api.call("GET", f"{BASE}/projects", query="top=2").json()
    assert [p["projectName"] for p in first["value"]] == ["A1", "A2"]
    assert "nextLink" not in first  # top=2 asked for two items in all
    page = api.call("GET", f"{BASE}/projects", query="maxpagesize=2").json()
    assert [p["projectName"] for p in page["value"]] == ["A1", "A2"]
    assert page["nextLink"].startswith("http://testserver/language/")
    assert "api-version=2023-04-01" in page["nextLink"]
    url = urlsplit(page["nextLink"])
    rest = api.client.get(
        f"{url.path}?{url.query}", headers={"Ocp-Apim-Subscription-Key": api.key}
    ).json()
    assert [p["projectName"] for p in rest["value"]] == ["A3"]
    assert "nextLink" not in rest
    skipped = api.call("GET", f"{BASE}/projects", query="skip=1&top=1").json()
    assert [p["projectName"] for p in skipped["value"]] == ["A2"]


def test_question_answering_projects_are_invisible_here(api: Api) -> None:
    Project.objects.create(
        name="Kb", kind=Project.Kind.QUESTION_ANSWERING, language="en"
    )
    assert api.call("GET", f"{BASE}/projects").json()["value"] == []
    error = assert_error(api.call("GET", f"{BASE}/projects/Kb"), 404, "ProjectNotFound")
    assert "Kb" in error["message"]
    taken = api.create("Kb")
    assert_error(taken, 409, "Conflict")
    assert Project.objects.get(name="Kb").kind == Project.Kind.QUESTION_ANSWERING


def test_missing_and_wrong_keys_get_401_everywhere(api: Api) -> None:
    api.create("Mail")
    for method, path in (
        ("GET", f"{BASE}/projects"),
        ("GET", f"{BASE}/projects/Mail"),
        ("DELETE", f"{BASE}/projects/Mail"),
        ("POST", f"{BASE}/projects/Mail/:export"),
        ("GET", f"{BASE}/projects/global/languages"),
    ):
        missing = api.call(method, path, key=None)
        assert missing.status_code == 401
        assert "missing subscription key" in missing.json()["error"]["message"]
        wrong = api.call(method, path, key="osk_wrong")
        assert wrong.status_code == 401
        assert "invalid subscription key" in wrong.json()["error"]["message"]
    assert Project.objects.filter(name="Mail").exists()
    assert not Job.objects.exists()


def test_unknown_project_is_a_404_naming_it(api: Api) -> None:
    for method, path, query in (
        ("GET", f"{BASE}/projects/Ghost", ""),
        ("DELETE", f"{BASE}/projects/Ghost", ""),
        ("POST", f"{BASE}/projects/Ghost/:export", "stringIndexType=Utf16CodeUnit"),
    ):
        error = assert_error(
            api.call(method, path, query=query), 404, "ProjectNotFound"
        )
        assert "Ghost" in error["message"]
    assert not Job.objects.exists()


def test_paths_of_later_issues_and_unknown_paths_get_azure_404(api: Api) -> None:
    api.create("Mail")
    for method, path in (
        ("POST", f"{BASE}/projects/Mail/:retrain"),
        ("GET", f"{BASE}/projects/Mail/models/m1/evaluation"),
        ("GET", "/language/no/such/thing"),
        # A newline in the path (%0A): the catch-all must match it too.
        ("GET", "/language/analyze-conversations/jobs/a%0Ab"),
        ("DELETE", f"{BASE}/projects/Mail/%0A"),
    ):
        response = api.call(method, path, {} if method == "POST" else None)
        assert_error(response, 404, "NotFound")
        assert response["Content-Type"].startswith("application/json")


# --- delete -------------------------------------------------------------------------


def test_delete_is_a_job_polled_under_global_deletion_jobs(api: Api) -> None:
    api.import_("Mail", small_project())
    response = api.call("DELETE", f"{BASE}/projects/Mail")
    assert response.status_code == 202
    assert "Location" not in response
    assert response["Retry-After"] == "1"
    location = response["Operation-Location"]
    assert location.startswith(
        f"http://testserver{BASE}/projects/global/deletion-jobs/"
    )
    assert location.endswith("?api-version=2023-04-01")
    job = api.follow(response)
    assert job["status"] == "succeeded"
    assert "resourceLocation" not in job
    assert_error(api.call("GET", f"{BASE}/projects/Mail"), 404, "ProjectNotFound")
    assert counts() == {"Project": 0, "Intent": 0, "Entity": 0, "Utterance": 0}


def test_deleting_a_project_deletes_its_jobs_and_files_and_a_new_one_sees_none(
    api: Api,
) -> None:
    """Name reuse must not leak history: the old export (job and file) goes with the
    project, and a new project of the same name sees none of the old jobs."""
    imported = api.import_("Mail", small_project())
    exported = api.follow(
        api.call(
            "POST",
            f"{BASE}/projects/Mail/:export",
            query="stringIndexType=Utf16CodeUnit",
        )
    )
    stored = Job.objects.get(job_id=exported["jobId"]).result["file"]
    assert default_storage.exists(stored)
    deletion = api.follow(api.call("DELETE", f"{BASE}/projects/Mail"))
    assert deletion["status"] == "succeeded"
    assert not default_storage.exists(stored)
    assert not Job.objects.filter(
        job_id__in=[imported["jobId"], exported["jobId"]]
    ).exists()
    api.create("Mail")
    for path in (
        f"Mail/export/jobs/{exported['jobId']}",
        f"Mail/export/jobs/{exported['jobId']}/result",
        f"Mail/import/jobs/{imported['jobId']}",
        f"global/deletion-jobs/{deletion['jobId']}",
    ):
        response = api.call("GET", f"{BASE}/projects/{path}")
        assert_error(response, 404, "OperationNotFound")


def test_jobs_belong_to_the_project_row_not_to_its_name(api: Api) -> None:
    """Even a job row that outlived its project (deleted behind the services' back)
    is not reachable through a new project of the same name."""
    api.import_("Mail", small_project())
    exported = api.follow(
        api.call(
            "POST",
            f"{BASE}/projects/Mail/:export",
            query="stringIndexType=Utf16CodeUnit",
        )
    )
    Project.objects.filter(name="Mail").delete()
    assert Job.objects.filter(job_id=exported["jobId"]).exists()
    api.create("Mail")
    for path in (
        f"export/jobs/{exported['jobId']}",
        f"export/jobs/{exported['jobId']}/result",
    ):
        response = api.call("GET", f"{BASE}/projects/Mail/{path}")
        assert_error(response, 404, "OperationNotFound")


def test_job_status_of_a_waiting_job_carries_retry_after(api: Api) -> None:
    api.create("Mail")
    response = api.call("DELETE", f"{BASE}/projects/Mail", run_jobs=False)
    location = urlsplit(response["Operation-Location"])
    status = api.client.get(
        f"{location.path}?{location.query}",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    assert status.json()["status"] == "notStarted"
    assert status["Retry-After"] == "1"
    for field in ("createdDateTime", "lastUpdatedDateTime", "expirationDateTime"):
        assert status.json()[field].endswith("Z")


def test_unknown_job_and_a_job_of_another_project_are_404(api: Api) -> None:
    api.create("A")
    api.create("B")
    job = api.import_("A", small_project("A"))
    assert job["status"] == "succeeded"
    other = api.call("GET", f"{BASE}/projects/B/import/jobs/{job['jobId']}")
    assert_error(other, 404, "OperationNotFound")
    unknown = api.call("GET", f"{BASE}/projects/A/import/jobs/nope_1")
    assert_error(unknown, 404, "OperationNotFound")
    # An import job is not an export job, nor a deletion job.
    assert_error(
        api.call("GET", f"{BASE}/projects/A/export/jobs/{job['jobId']}"),
        404,
        "OperationNotFound",
    )
    assert_error(
        api.call("GET", f"{BASE}/projects/global/deletion-jobs/{job['jobId']}"),
        404,
        "OperationNotFound",
    )


# --- import -------------------------------------------------------------------------


def test_import_creates_the_project_and_export_round_trips(api: Api) -> None:
    response = api.call("POST", f"{BASE}/projects/Mail/:import", small_project())
    assert response.status_code == 202
    assert "Location" not in response
    assert response["Retry-After"] == "1"
    assert "/projects/Mail/import/jobs/" in response["Operation-Location"]
    job = api.follow(response)
    assert job["status"] == "succeeded", job
    assert job["errors"] == []
    project = api.call("GET", f"{BASE}/projects/Mail").json()
    assert project["settings"] == {"confidenceThreshold": 0.5}
    first = api.export("Mail")
    assert first["assets"]["utterances"][0]["entities"] == [
        {"category": "Sender", "offset": 5, "length": 5}
    ]
    api.import_("Mail", first)
    assert api.export("Mail") == first


def test_export_job_reports_result_url_and_serves_the_file(api: Api) -> None:
    api.import_("Mail", small_project())
    response = api.call(
        "POST",
        f"{BASE}/projects/Mail/:export",
        query="stringIndexType=Utf16CodeUnit&assetKind=x&trainedModelLabel=",
    )
    # Azure's 202s are JSON like every other answer (the spec's `produces`), even
    # with an empty body.
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.content == b""
    job = api.follow(response)
    assert job["status"] == "succeeded"
    assert job["resultUrl"] == (
        f"http://testserver{BASE}/projects/Mail/export/jobs/{job['jobId']}/result"
        "?api-version=2023-04-01"
    )
    stored = Job.objects.get(job_id=job["jobId"]).result["file"]
    assert stored == f"exports/{job['jobId']}.json"
    result = api.call("GET", f"{BASE}/projects/Mail/export/jobs/{job['jobId']}/result")
    assert result.status_code == 200
    assert result["Content-Type"].startswith("application/json")
    assert result.json()["metadata"]["projectName"] == "Mail"
    # Same key auth as every other route.
    assert (
        api.call(
            "GET", f"{BASE}/projects/Mail/export/jobs/{job['jobId']}/result", key=None
        ).status_code
        == 401
    )


def test_export_result_is_404_until_the_job_succeeds(api: Api) -> None:
    api.create("Mail")
    response = api.call(
        "POST",
        f"{BASE}/projects/Mail/:export",
        query="stringIndexType=Utf16CodeUnit",
        run_jobs=False,
    )
    job_id = response["Operation-Location"].split("/jobs/")[1].split("?")[0]
    status = api.call("GET", f"{BASE}/projects/Mail/export/jobs/{job_id}").json()
    assert "resultUrl" not in status
    result = api.call("GET", f"{BASE}/projects/Mail/export/jobs/{job_id}/result")
    assert_error(result, 404, "NotFound")


def test_export_query_parameters_are_checked(api: Api) -> None:
    api.create("Mail")
    missing = api.call("POST", f"{BASE}/projects/Mail/:export")
    assert assert_error(missing, 400, "InvalidArgument")["target"] == "stringIndexType"
    bad = api.call(
        "POST", f"{BASE}/projects/Mail/:export", query="stringIndexType=Bytes"
    )
    assert "Bytes" in assert_error(bad, 400, "InvalidArgument")["message"]
    luis = api.call(
        "POST",
        f"{BASE}/projects/Mail/:export",
        query="stringIndexType=Utf16CodeUnit&format=Luis",
    )
    assert assert_error(luis, 400, "InvalidArgument")["target"] == "format"
    model = api.call(
        "POST",
        f"{BASE}/projects/Mail/:export",
        query="stringIndexType=Utf16CodeUnit&trainedModelLabel=m1",
    )
    assert "m1" in assert_error(model, 404, "NotFound")["message"]
    assert not Job.objects.exists()


def test_export_in_code_points_counts_astral_characters_once(api: Api) -> None:
    document = small_project()
    document["assets"]["utterances"] = [
        {
            "text": "😀 mail from Blake",
            "intent": "Read",
            # "😀" is two UTF-16 code units: Blake starts at unit 13, code point 12.
            "entities": [{"category": "Sender", "offset": 13, "length": 5}],
        }
    ]
    assert api.import_("Mail", document)["status"] == "succeeded"
    job = api.follow(
        api.call(
            "POST",
            f"{BASE}/projects/Mail/:export",
            query="stringIndexType=UnicodeCodePoint",
        )
    )
    url = urlsplit(job["resultUrl"])
    exported = api.client.get(
        f"{url.path}?{url.query}", headers={"Ocp-Apim-Subscription-Key": api.key}
    ).json()
    assert exported["stringIndexType"] == "UnicodeCodePoint"
    assert exported["assets"]["utterances"][0]["entities"][0]["offset"] == 12


def sample_files() -> Iterator[Path]:
    folder = shared_data_dir() / "azure-language-samples" / "CLU"
    if folder.is_dir():
        # clu_utterances.json is a flat utterance list (the /api/v1 bulk import).
        yield from sorted(
            p for p in folder.glob("*.json") if p.name != "clu_utterances.json"
        )


@pytest.mark.data
@pytest.mark.parametrize("path", list(sample_files()), ids=lambda p: p.name)
def test_every_clu_sample_imports_and_round_trips(api: Api, path: Path) -> None:
    require_shared_data()
    document = json.loads(path.read_text(encoding="utf-8"))
    job = api.import_("Sample", document)
    assert job["status"] == "succeeded", job["errors"]
    assert Utterance.objects.count() == len(document["assets"]["utterances"])
    first = api.export("Sample")
    assert first["assets"]["utterances"]
    api.import_("Sample", first)
    assert api.export("Sample") == first


def test_clu_samples_are_present_when_shared_data_is() -> None:
    require_shared_data()
    names = {p.name for p in sample_files()}
    assert {"EmailAppDemo.json", "HomeAutomationDemo.json"} <= names


def test_azure_import_example_imports(api: Api) -> None:
    if not IMPORT_EXAMPLE.is_file():
        skip_or_fail(f"the Azure spec example {IMPORT_EXAMPLE} is absent")
    document = json.loads(IMPORT_EXAMPLE.read_text())["parameters"]["body"]
    job = api.import_("EmailApp", document)
    assert job["status"] == "succeeded", job["errors"]
    project = api.call("GET", f"{BASE}/projects/EmailApp").json()
    assert project["multilingual"] is True
    assert project["settings"] == {"confidenceThreshold": 0.7}


def test_orchestration_import_keeps_its_links(api: Api) -> None:
    document = orchestration_doc()
    assert api.import_("Router", document)["status"] == "succeeded"
    assert api.call("GET", f"{BASE}/projects/Router").json()["projectKind"] == (
        "Orchestration"
    )
    exported = api.export("Router")
    link = next(
        i for i in exported["assets"]["intents"] if i["category"] == "EmailIntent"
    )
    assert (
        link["orchestration"]["conversationOrchestration"]["projectName"] == "EmailApp"
    )


def _long_utterance(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][1]["text"] = "x" * 600


def _offset_outside(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][0]["entities"][0]["offset"] = 40


def _unknown_intent(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][1]["intent"] = "Nowhere"


def _unknown_entity(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][0]["entities"][0]["category"] = "Ghost"


def _duplicate_intent(doc: dict[str, Any]) -> None:
    doc["assets"]["intents"].append({"category": "Read"})


def _duplicate_entity(doc: dict[str, Any]) -> None:
    doc["assets"]["entities"].append({"category": "Sender"})


def _bad_dataset(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][1]["dataset"] = "Validation"


def _overlapping_spans(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][0]["entities"].append(
        {"category": "Sender", "offset": 7, "length": 5}
    )


def _bad_regex(doc: dict[str, Any]) -> None:
    doc["assets"]["entities"][0]["regex"] = {
        "expressions": [{"regexKey": "k", "language": "en-us", "regexPattern": "(["}]
    }


def _bad_intent_name(doc: dict[str, Any]) -> None:
    doc["assets"]["intents"].append({"category": "a/b"})


def _missing_metadata(doc: dict[str, Any]) -> None:
    del doc["metadata"]


def _utterances_not_a_list(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"] = {"text": "hi"}


def _kinds_disagree(doc: dict[str, Any]) -> None:
    doc["assets"]["projectKind"] = "Orchestration"


def _bad_string_index_type(doc: dict[str, Any]) -> None:
    doc["stringIndexType"] = "Bytes"


def _negative_length(doc: dict[str, Any]) -> None:
    doc["assets"]["utterances"][0]["entities"][0]["length"] = -2


BAD_IMPORTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "600-character utterance": (_long_utterance, "utterances[1]"),
    "offset outside the text": (_offset_outside, "utterances[0].entities[0]"),
    "unknown intent": (_unknown_intent, "utterances[1]"),
    "unknown entity": (_unknown_entity, "utterances[0].entities[0]"),
    "duplicate intent": (_duplicate_intent, "intents[2]"),
    "duplicate entity": (_duplicate_entity, "entities[1]"),
    "bad dataset": (_bad_dataset, "utterances[1]"),
    "overlapping spans": (_overlapping_spans, "utterances[0].entities"),
    "bad regex": (_bad_regex, "entities[0].regex"),
    "forbidden intent name": (_bad_intent_name, "intents[2]"),
    "missing metadata": (_missing_metadata, "metadata"),
    "utterances not a list": (_utterances_not_a_list, "utterances"),
    "kinds disagree": (_kinds_disagree, "projectKind"),
    "unknown stringIndexType": (_bad_string_index_type, "stringIndexType"),
    "negative span length": (_negative_length, "utterances[0].entities[0]"),
}


@pytest.mark.parametrize("case", list(BAD_IMPORTS))
def test_bad_import_fails_the_job_naming_the_item_and_changes_nothing(
    api: Api, case: str
) -> None:
    api.import_("Mail", small_project())
    before = api.export("Mail")
    rows = counts()
    modify, target = BAD_IMPORTS[case]
    document = copy.deepcopy(small_project(description="changed"))
    modify(document)
    job = api.import_("Mail", document)
    assert job["status"] == "failed", job
    joined = json.dumps(job["errors"])
    assert target in joined, job["errors"]
    assert all(e["code"] for e in job["errors"])
    assert counts() == rows
    assert api.export("Mail") == before


def test_import_without_string_index_type_reads_utf16_offsets_as_azure_does(
    api: Api,
) -> None:
    """Azure defaults a missing ``stringIndexType`` to ``Utf16CodeUnit``: an emoji
    before the span counts as two."""
    document = small_project()
    del document["stringIndexType"]
    document["assets"]["utterances"][0]["text"] = "\N{GRINNING FACE} Open Blake's email"
    document["assets"]["utterances"][0]["entities"][0]["offset"] = 8
    job = api.import_("Mail", document)
    assert job["status"] == "succeeded", job
    span = Utterance.objects.get(text__endswith="Blake's email").spans.get()
    assert (span.offset, span.length) == (7, 5)  # code points inside
    exported = api.export("Mail")
    assert exported["stringIndexType"] == "Utf16CodeUnit"
    assert exported["assets"]["utterances"][0]["entities"][0]["offset"] == 8


def test_too_many_utterances_fail_the_import(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert validators.MAX_UTTERANCES_PER_PROJECT == 50_000
    monkeypatch.setattr(validators, "MAX_UTTERANCES_PER_PROJECT", 1)
    job = api.import_("Mail", small_project())
    assert job["status"] == "failed"
    assert "utterances" in json.dumps(job["errors"])
    assert counts() == {"Project": 0, "Intent": 0, "Entity": 0, "Utterance": 0}


def test_import_request_checks_are_cheap_and_clear(api: Api) -> None:
    not_json = api.call("POST", f"{BASE}/projects/Mail/:import", "{broken")
    assert_error(not_json, 400, "InvalidRequest")
    empty = api.call("POST", f"{BASE}/projects/Mail/:import", "")
    assert_error(empty, 400, "InvalidRequest")
    array = api.call("POST", f"{BASE}/projects/Mail/:import", [1, 2])
    assert_error(array, 400, "InvalidRequest")
    qa = small_project()
    qa["assets"]["projectKind"] = "QuestionAnswering"
    wrong_kind = api.call("POST", f"{BASE}/projects/Mail/:import", qa)
    assert assert_error(wrong_kind, 400, "InvalidArgument")["target"] == (
        "assets.projectKind"
    )
    odd = api.call(
        "POST", f"{BASE}/projects/Mail/:import", small_project(), query="format=Csv"
    )
    assert_error(odd, 400, "InvalidArgument")
    reserved = api.call("POST", f"{BASE}/projects/global/:import", small_project())
    assert "reserved" in assert_error(reserved, 400, "InvalidArgument")["message"]
    assert not Job.objects.exists()
    assert counts()["Project"] == 0


def test_a_second_import_or_a_delete_during_an_import_is_409(api: Api) -> None:
    api.import_("Mail", small_project())
    waiting = api.call(
        "POST", f"{BASE}/projects/Mail/:import", small_project(), run_jobs=False
    )
    assert waiting.status_code == 202
    again = api.call("POST", f"{BASE}/projects/Mail/:import", small_project())
    assert "import" in assert_error(again, 409, "Conflict")["message"]
    assert_error(api.call("DELETE", f"{BASE}/projects/Mail"), 409, "Conflict")
    # Other projects are not blocked, and exports may run meanwhile.
    assert api.import_("Other", small_project("Other"))["status"] == "succeeded"
    export = api.call(
        "POST", f"{BASE}/projects/Mail/:export", query="stringIndexType=Utf16CodeUnit"
    )
    assert export.status_code == 202
    # Once the waiting import is finished, imports are accepted again.
    Job.objects.filter(status=Job.Status.NOT_STARTED, kind=Job.Kind.IMPORT).update(
        status=Job.Status.FAILED
    )
    assert api.import_("Mail", small_project())["status"] == "succeeded"


def test_a_body_over_the_limit_is_refused_with_413(api: Api) -> None:
    document = small_project()
    document["padding"] = "x" * (10 * 1024 * 1024)
    response = api.call("POST", f"{BASE}/projects/Mail/:import", document)
    assert_error(response, 413, "InvalidRequest")
    assert not Job.objects.exists()


# --- global lists ---------------------------------------------------------------------


def test_supported_languages_list(api: Api) -> None:
    page = api.call(
        "GET", f"{BASE}/projects/global/languages", query="projectKind=Conversation"
    ).json()
    codes = {item["languageCode"]: item["languageName"] for item in page["value"]}
    assert codes["en"] == "English"
    assert "de" in codes and "ja" in codes
    bad = api.call("GET", f"{BASE}/projects/global/languages", query="projectKind=X")
    assert assert_error(bad, 400, "InvalidArgument")["target"] == "projectKind"


def test_prebuilt_entities_list_the_engine_catalog(api: Api) -> None:
    from training.engine.entities.prebuilt import PREBUILT_CATALOG

    page = api.call(
        "GET",
        f"{BASE}/projects/global/prebuilt-entities",
        query="language=en&multilingual=false",
    ).json()
    assert [p["category"] for p in page["value"]] == [
        e["category"] for e in PREBUILT_CATALOG
    ]
    assert all(p["description"] and p["examples"] for p in page["value"])
    # Azure's breadth (issue 15): the quantities with units, booleans and IPs too.
    assert {
        "Quantity.Age",
        "Choice.Boolean",
        "Quantity.Currency",
        "Quantity.Dimension",
        "IP",
        "Quantity.Speed",
        "Quantity.Temperature",
        "Quantity.Weight",
    } <= {p["category"] for p in page["value"]}
    bad = api.call(
        "GET", f"{BASE}/projects/global/prebuilt-entities", query="language=english!"
    )
    assert assert_error(bad, 400, "InvalidArgument")["target"] == "language"


def test_training_config_versions_list(api: Api) -> None:
    page = api.call(
        "GET",
        f"{BASE}/projects/global/training-config-versions",
        query="projectKind=Orchestration",
    ).json()
    assert page == {
        "value": [
            {"trainingConfigVersion": "2022-05-01", "modelExpirationDate": "2099-12-31"}
        ],
    }


def test_import_under_another_name_succeeds_with_a_warning(api: Api) -> None:
    job = api.import_("Copy", small_project("Original"))
    assert job["status"] == "succeeded", job["errors"]
    assert job["errors"] == []
    assert any("Original" in w["message"] for w in job["warnings"]), job
    assert all(set(w) >= {"code", "message"} for w in job["warnings"])
    assert api.call("GET", f"{BASE}/projects/Copy").status_code == 200
    assert_error(api.call("GET", f"{BASE}/projects/Original"), 404, "ProjectNotFound")


def test_unsupported_methods_get_405_in_azure_shape(api: Api) -> None:
    api.create("Mail")
    response = api.call("PUT", f"{BASE}/projects/Mail", {})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "InvalidRequest"


def test_list_component_is_accepted_under_list_and_entities(api: Api) -> None:
    sublists = [
        {
            "listKey": "Blake",
            "synonyms": [{"language": "en-us", "values": ["Blake", "B."]}],
        }
    ]
    for key in ("list", "entities"):
        document = small_project()
        document["assets"]["entities"][0][key] = {"sublists": sublists}
        job = api.import_("Mail", document)
        assert job["status"] == "succeeded", (key, job["errors"])
        exported = api.export("Mail")["assets"]["entities"][0]
        assert exported["list"] == {"sublists": sublists}


def test_operation_location_is_built_from_the_request_host(
    api: Api, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "studio.example"]
    api.create("Mail")
    response = api.client.delete(
        f"{BASE}/projects/Mail?api-version={V}",
        headers={"Ocp-Apim-Subscription-Key": api.key},
        HTTP_HOST="studio.example:8443",
    )
    assert response.status_code == 202
    assert response["Operation-Location"].startswith(
        f"http://studio.example:8443{BASE}/projects/global/deletion-jobs/"
    )


def test_import_over_a_knowledge_base_name_fails_and_keeps_it(api: Api) -> None:
    Project.objects.create(
        name="Kb", kind=Project.Kind.QUESTION_ANSWERING, language="en"
    )
    job = api.import_("Kb", small_project("Kb"))
    assert job["status"] == "failed"
    assert "QuestionAnswering" in json.dumps(job["errors"])
    assert Project.objects.get(name="Kb").kind == Project.Kind.QUESTION_ANSWERING
    assert counts()["Intent"] == 0


@pytest.mark.parametrize(
    "sample", ["pizza-app-for-luis-v6.json", "HumanResources.json"]
)
def test_luis_apps_import_as_conversation_projects(api: Api, sample: str) -> None:
    path = require_shared_data() / "azure-language-samples" / "luis" / sample
    app = json.loads(path.read_text(encoding="utf-8"))
    job = api.import_("FromLuis", app, query="format=Luis")
    assert job["status"] == "succeeded", job["errors"]
    exported = api.export("FromLuis")
    assert exported["assets"]["projectKind"] == "Conversation"
    intents = {i["category"] for i in exported["assets"]["intents"]}
    assert {i["name"] for i in app["intents"]} <= intents
    assert len(exported["assets"]["utterances"]) == len(app["utterances"])


def test_a_bad_luis_app_fails_its_job_and_changes_nothing(api: Api) -> None:
    job = api.import_("FromLuis", {"intents": "not a list"}, query="format=Luis")
    assert job["status"] == "failed"
    assert job["errors"]
    assert counts()["Project"] == 0
