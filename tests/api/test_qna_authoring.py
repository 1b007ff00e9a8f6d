"""Question-answering authoring API (``/language/[authoring/]query-knowledgebases``)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from projects.models import Project, QnaPair
from studio.services import apikey_create
from tests.conftest import require_shared_data

pytestmark = pytest.mark.django_db

BASE = "/language/authoring/query-knowledgebases/projects"
LEGACY = "/language/query-knowledgebases/projects"
V = "2023-04-01"
SPECS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "azure-specs"
EXAMPLES = SPECS / "2023-04-01" / "examples" / "questionanswering-authoring"


class Api:
    """The test client with the key header and api-version filled in."""

    def __init__(self, client: Client, key: str) -> None:
        self.client = client
        self.key = key

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        version: str | None = V,
        key: str | None = "",
        query: str = "",
    ) -> Any:
        params = [p for p in (query, f"api-version={version}" if version else "") if p]
        url = path + ("?" + "&".join(params) if params else "")
        headers = {}
        used_key = self.key if key == "" else key
        if used_key is not None:
            headers["Ocp-Apim-Subscription-Key"] = used_key
        data: Any = body
        if body is not None and content_type.endswith("json"):
            data = json.dumps(body)
        return getattr(self.client, method.lower())(
            url, data, content_type=content_type, headers=headers
        )

    def poll(self, response: Any) -> dict[str, Any]:
        """Follow a 202's Operation-Location once (jobs ran on commit)."""
        assert response.status_code == 202, response.content
        location = urlsplit(response["Operation-Location"])
        assert "api-version=" in location.query
        job = self.client.get(
            f"{location.path}?{location.query}",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )
        assert job.status_code == 200, job.content
        return dict(job.json())


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client, apikey_create(name="qna-tests")[1])


@pytest.fixture
def run_jobs(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Any]:
    """Run the request and then the jobs it enqueued (eager Celery)."""

    def run(call: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def create_kb(api: Api, name: str = "kb1", **extra: Any) -> Any:
    body = {"description": "d", "language": "en", **extra}
    return api("PATCH", f"{BASE}/{name}", body)


QNA_1 = {
    "id": 1,
    "answer": "ans1",
    "source": "source1",
    "questions": ["question 1.1", "question 1.2"],
    "metadata": {"k1": "v1"},
    "dialog": {
        "isContextOnly": False,
        "prompts": [{"displayOrder": 1, "qnaId": 2, "displayText": "prompt 1.1"}],
    },
}
QNA_2 = {"id": 2, "answer": "ans2", "source": "source2", "questions": ["question 2"]}


def add_qnas(api: Api, name: str = "kb1", *records: dict[str, Any]) -> Any:
    ops = [{"op": "add", "value": r} for r in (records or (QNA_1, QNA_2))]
    return api("PATCH", f"{BASE}/{name}/qnas", ops)


def kb_snapshot(name: str) -> Any:
    project = Project.objects.filter(name=name).first()
    if project is None:
        return None
    return (
        project.description,
        project.language,
        project.last_modified_at,
        list(
            QnaPair.objects.filter(project=project)
            .order_by("qna_id")
            .values_list("qna_id", "questions", "answer", "source", "metadata")
        ),
        list(project.kb_synonyms.values_list("alterations", flat=True)),
    )


def example_body(name: str) -> Any:
    path = EXAMPLES / name
    if not path.is_file():
        require_shared_data()
        pytest.fail(f"{path} is missing from the shared reference folder")
    return json.loads(path.read_text())["parameters"]["body"]


# --- authentication, versions, unknown things ------------------------------------


def test_missing_and_wrong_keys_get_azure_401(api: Api) -> None:
    for key in (None, "osk_wrong"):
        response = api("GET", BASE, key=key)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "401"


def test_api_version_is_required_and_checked_against_qna_versions(api: Api) -> None:
    missing = api("GET", BASE, version=None)
    assert missing.status_code == 400
    assert missing.json()["error"]["target"] == "api-version"
    # 2022-05-01 is a conversations version, not a question-answering one.
    assert api("GET", BASE, version="2022-05-01").status_code == 400
    assert api("GET", BASE, version="2021-10-01").status_code == 200


def test_unknown_project_is_project_not_found(api: Api) -> None:
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/qnas")):
        response = api(method, f"{BASE}/nope{suffix}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ProjectNotFound"
        assert "nope" in response.json()["error"]["message"]


def test_conversation_project_is_not_found_under_query_knowledgebases(
    api: Api,
) -> None:
    response = api(
        "PATCH",
        "/language/authoring/analyze-conversations/projects/clu1",
        {"projectName": "clu1", "projectKind": "Conversation", "language": "en"},
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 201, response.content
    for suffix in ("", "/qnas", "/synonyms", "/sources"):
        got = api("GET", f"{BASE}/clu1{suffix}")
        assert got.status_code == 404
        assert got.json()["error"]["code"] == "ProjectNotFound"
    assert api("POST", f"{BASE}/clu1/:export").status_code == 404


def test_creating_a_kb_with_a_conversation_projects_name_is_refused(api: Api) -> None:
    api(
        "PATCH",
        "/language/authoring/analyze-conversations/projects/clu2",
        {"projectName": "clu2", "projectKind": "Conversation", "language": "en"},
        content_type="application/merge-patch+json",
    )
    response = create_kb(api, "clu2")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert Project.objects.get(name="clu2").kind == "Conversation"


# --- projects --------------------------------------------------------------------


def test_create_returns_201_then_200_and_merges_fields(api: Api) -> None:
    created = create_kb(
        api, settings={"defaultAnswer": "No answer."}, multilingualResource=True
    )
    assert created.status_code == 201
    body = created.json()
    assert body["projectName"] == "kb1"
    assert body["language"] == "en"
    assert body["multilingualResource"] is True
    assert body["settings"] == {"defaultAnswer": "No answer."}
    assert body["createdDateTime"].endswith("Z")
    updated = api(
        "PATCH",
        f"{BASE}/kb1",
        {"description": "new"},
        content_type="application/merge-patch+json",
    )
    assert updated.status_code == 200
    assert updated.json()["description"] == "new"
    assert updated.json()["settings"] == {"defaultAnswer": "No answer."}
    got = api("GET", f"{BASE}/kb1").json()
    assert got["description"] == "new"
    assert got["language"] == "en"


def test_bad_project_bodies_are_400_and_change_nothing(api: Api) -> None:
    create_kb(api)
    before = kb_snapshot("kb1")
    for body in (
        {"language": "not a language!"},
        {"settings": "no"},
        {"description": 5},
    ):
        response = api("PATCH", f"{BASE}/kb1", body)
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["code"] in ("InvalidArgument", "InvalidRequest")
    assert kb_snapshot("kb1") == before
    assert api("PATCH", f"{BASE}/bad name", {"language": "en"}).status_code in (
        400,
        404,
    )
    assert api("PATCH", f"{BASE}/global", {"language": "en"}).status_code == 400
    assert not Project.objects.filter(name__in=["bad name", "global"]).exists()


def test_list_is_paged_with_next_link(api: Api) -> None:
    for name in ("kb-a", "kb-b", "kb-c"):
        create_kb(api, name)
    first = api("GET", BASE, query="maxpagesize=2").json()
    assert [p["projectName"] for p in first["value"]] == ["kb-a", "kb-b"]
    assert first["nextLink"].startswith("http://testserver/")
    nxt = urlsplit(first["nextLink"])
    second = api.client.get(
        f"{nxt.path}?{nxt.query}", headers={"Ocp-Apim-Subscription-Key": api.key}
    ).json()
    assert [p["projectName"] for p in second["value"]] == ["kb-c"]
    assert "nextLink" not in second
    assert len(api("GET", BASE, query="top=1").json()["value"]) == 1


def test_delete_is_a_job_polled_at_deletion_jobs(api: Api, run_jobs: Any) -> None:
    create_kb(api)
    add_qnas(api)
    response = run_jobs(lambda: api("DELETE", f"{BASE}/kb1"))
    assert (
        "/query-knowledgebases/projects/deletion-jobs/"
        in (response["Operation-Location"])
    )
    assert response["Retry-After"]
    assert api.poll(response)["status"] == "succeeded"
    assert api("GET", f"{BASE}/kb1").status_code == 404
    assert not QnaPair.objects.exists()


def test_unknown_or_foreign_job_ids_are_operation_not_found(
    api: Api, run_jobs: Any
) -> None:
    create_kb(api, "kb1")
    create_kb(api, "kb2")
    exported = run_jobs(lambda: api("POST", f"{BASE}/kb1/:export"))
    job_id = exported["Operation-Location"].split("/jobs/")[1].split("?")[0]
    for path in (
        f"{BASE}/kb2/export/jobs/{job_id}",
        f"{BASE}/kb1/import/jobs/{job_id}",
        f"{BASE}/deletion-jobs/{job_id}",
        f"{BASE}/kb1/export/jobs/nope",
    ):
        response = api("GET", path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "OperationNotFound"


# --- QnAs --------------------------------------------------------------------------


def test_update_qnas_is_a_finished_job_and_lists_them(api: Api) -> None:
    create_kb(api)
    response = add_qnas(api)
    assert "/kb1/qnas/jobs/" in response["Operation-Location"]
    assert api.poll(response)["status"] == "succeeded"
    listed = api("GET", f"{BASE}/kb1/qnas").json()["value"]
    assert [q["id"] for q in listed] == [1, 2]
    first = listed[0]
    assert first["answer"] == "ans1"
    assert first["questions"] == ["question 1.1", "question 1.2"]
    assert first["metadata"] == {"k1": "v1"}
    assert first["dialog"]["prompts"][0]["displayText"] == "prompt 1.1"
    assert first["lastUpdatedDateTime"].endswith("Z")
    only = api("GET", f"{BASE}/kb1/qnas", query="source=source2").json()["value"]
    assert [q["id"] for q in only] == [2]


def test_replace_and_delete_operations(api: Api) -> None:
    create_kb(api)
    add_qnas(api)
    replaced = {**QNA_2, "answer": "new answer", "questions": ["q2", "q2 again"]}
    ops = [{"op": "replace", "value": replaced}, {"op": "delete", "value": {"id": 1}}]
    assert api.poll(api("PATCH", f"{BASE}/kb1/qnas", ops))["status"] == "succeeded"
    listed = api("GET", f"{BASE}/kb1/qnas").json()["value"]
    assert [(q["id"], q["answer"]) for q in listed] == [(2, "new answer")]
    assert listed[0]["questions"] == ["q2", "q2 again"]


def test_qnas_are_paged(api: Api) -> None:
    create_kb(api)
    records = [
        {"id": i, "answer": f"a{i}", "questions": [f"q{i}"]} for i in range(1, 6)
    ]
    add_qnas(api, "kb1", *records)
    page = api("GET", f"{BASE}/kb1/qnas", query="maxpagesize=2&skip=1").json()
    assert [q["id"] for q in page["value"]] == [2, 3]
    assert "skip=3" in page["nextLink"]


@pytest.mark.parametrize(
    "operations",
    [
        {"op": "add"},  # not an array
        [],
        [{"op": "upsert", "value": QNA_2}],
        [{"op": "add", "value": {"id": 3, "answer": "", "questions": ["q"]}}],
        [{"op": "add", "value": {"id": 3, "answer": "a", "questions": []}}],
        [{"op": "add", "value": {"id": 3, "answer": "a" * 25_001, "questions": ["q"]}}],
        [{"op": "add", "value": {**QNA_2, "id": 1}}],  # duplicate id
        [{"op": "replace", "value": {**QNA_2, "id": 99}}],
        [{"op": "delete", "value": {"id": 99}}],
        # The good first operation must not be applied when the second one is bad.
        [
            {"op": "add", "value": {"id": 7, "answer": "a", "questions": ["q"]}},
            {"op": "add", "value": {"id": 8, "answer": "a", "questions": "q"}},
        ],
    ],
)
def test_bad_qna_updates_are_400_and_change_nothing(api: Api, operations: Any) -> None:
    create_kb(api)
    add_qnas(api)
    before = kb_snapshot("kb1")
    response = api("PATCH", f"{BASE}/kb1/qnas", operations)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("InvalidArgument", "InvalidRequest")
    assert kb_snapshot("kb1") == before


# --- synonyms and sources ----------------------------------------------------------


def test_synonyms_put_204_then_get_paged(api: Api) -> None:
    create_kb(api)
    body = example_body("SuccessfulUpdateSynonyms.json")
    response = api("PUT", f"{BASE}/kb1/synonyms", body)
    assert response.status_code == 204
    got = api("GET", f"{BASE}/kb1/synonyms").json()
    assert got["value"] == body["value"]
    assert "nextLink" not in got
    assert len(api("GET", f"{BASE}/kb1/synonyms", query="top=1").json()["value"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"value": "x"},
        {"value": [{"alterations": "x"}]},
        {"value": [{"alterations": [1, 2]}]},
        {"value": [{"alterations": [f"w{i}" for i in range(21)]}]},
        {},
    ],
)
def test_bad_synonyms_are_400_and_change_nothing(api: Api, body: Any) -> None:
    create_kb(api)
    api("PUT", f"{BASE}/kb1/synonyms", {"value": [{"alterations": ["a", "b"]}]})
    before = kb_snapshot("kb1")
    response = api("PUT", f"{BASE}/kb1/synonyms", body)
    assert response.status_code == 400, response.content
    assert kb_snapshot("kb1") == before


def test_sources_are_the_distinct_sources_of_the_qnas(api: Api) -> None:
    create_kb(api)
    url = "https://example.com/faq"
    add_qnas(api, "kb1", QNA_1, QNA_2, {**QNA_2, "id": 3, "source": url})
    sources = api("GET", f"{BASE}/kb1/sources").json()["value"]
    assert [(s["source"], s["sourceKind"]) for s in sources] == [
        (url, "url"),
        ("source1", "file"),
        ("source2", "file"),
    ]


def test_every_source_has_a_uri_as_the_spec_requires(api: Api) -> None:
    create_kb(api)
    url = "https://example.com/faq"
    named = {**QNA_2, "id": 3, "source": "office handbook.pdf"}
    add_qnas(api, "kb1", QNA_1, QNA_2, {**QNA_2, "id": 4, "source": url}, named)
    sources = api("GET", f"{BASE}/kb1/sources").json()["value"]
    # QnaSourceRecord.sourceUri is a required "uri": a file source (we keep its
    # name only) gets a file URI; a URL source is its own URI.
    assert {s["source"]: s["sourceUri"] for s in sources} == {
        url: url,
        "office handbook.pdf": "file:///office%20handbook.pdf",
        "source1": "file:///source1",
        "source2": "file:///source2",
    }


def test_deleting_a_source_removes_its_qnas(api: Api) -> None:
    create_kb(api)
    add_qnas(api)
    ops = [
        {
            "op": "delete",
            "value": {"source": "source1", "sourceKind": "file", "sourceUri": "x"},
        }
    ]
    response = api("PATCH", f"{BASE}/kb1/sources", ops)
    assert "/kb1/sources/jobs/" in response["Operation-Location"]
    assert api.poll(response)["status"] == "succeeded"
    assert [q["id"] for q in api("GET", f"{BASE}/kb1/qnas").json()["value"]] == [2]


# --- import / export ---------------------------------------------------------------


def test_import_of_the_spec_example_creates_the_kb(api: Api, run_jobs: Any) -> None:
    body = example_body("SuccessfulProjectSubmitImportJob.json")
    response = run_jobs(lambda: api("POST", f"{BASE}/proj1/:import", body))
    assert "/proj1/import/jobs/" in response["Operation-Location"]
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    qnas = api("GET", f"{BASE}/proj1/qnas").json()["value"]
    assert [q["id"] for q in qnas] == [1, 2]
    synonyms = api("GET", f"{BASE}/proj1/synonyms").json()["value"]
    assert synonyms == body["assets"]["synonyms"]


def export_file(api: Api, run_jobs: Any, name: str, file_format: str) -> Any:
    response = run_jobs(
        lambda: api("POST", f"{BASE}/{name}/:export", query=f"format={file_format}")
    )
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    result = urlsplit(job["resultUrl"])
    assert result.path == f"{urlsplit(response['Operation-Location']).path}/result"
    download = api.client.get(
        f"{result.path}?{result.query}",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    assert download.status_code == 200
    assert api.client.get(f"{result.path}?{result.query}").status_code == 401
    return download


def test_json_export_import_export_is_identical(api: Api, run_jobs: Any) -> None:
    body = example_body("SuccessfulProjectSubmitImportJob.json")
    run_jobs(lambda: api("POST", f"{BASE}/proj1/:import", body))
    # Pairs last edited long ago: re-importing must keep their dates, not stamp now.
    QnaPair.objects.update(last_updated_at=datetime(2021, 5, 1, 17, 21, 14, tzinfo=UTC))
    first = export_file(api, run_jobs, "proj1", "json").json()
    response = run_jobs(lambda: api("POST", f"{BASE}/proj1/:import", first))
    assert api.poll(response)["status"] == "succeeded"
    second = export_file(api, run_jobs, "proj1", "json").json()
    assert second == first
    assert [q["id"] for q in first["assets"]["qnas"]] == [1, 2]


def test_tsv_export_downloads_tab_separated_text(api: Api, run_jobs: Any) -> None:
    create_kb(api)
    add_qnas(api)
    download = export_file(api, run_jobs, "kb1", "tsv")
    assert download["Content-Type"].startswith("text/tab-separated-values")
    text = download.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Question\tAnswer")
    assert "question 1.1\tans1" in text


@pytest.mark.parametrize(
    "sample",
    [
        "SampleQnAs.tsv",
        "SampleV2QnAs.tsv",
        "SampleActiveLearning.tsv",
        "basic-kb.tsv",
    ],
)
def test_qna_maker_tsv_samples_import(api: Api, run_jobs: Any, sample: str) -> None:
    path = require_shared_data() / "azure-language-samples" / "qna-maker" / sample
    text = path.read_text(encoding="utf-8-sig")
    create_kb(api, "tsvkb")
    response = run_jobs(
        lambda: api(
            "POST",
            f"{BASE}/tsvkb/:import",
            text,
            content_type="text/tab-separated-values",
            query="format=tsv",
        )
    )
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    qnas = api("GET", f"{BASE}/tsvkb/qnas", query="top=1000").json()["value"]
    assert qnas
    assert all(q["answer"] and q["questions"] for q in qnas)


def test_tsv_import_accepts_text_plain(api: Api, run_jobs: Any) -> None:
    text = "Question\tAnswer\tSource\tMetadata\nhi\thello\teditorial\t\n"
    response = run_jobs(
        lambda: api(
            "POST",
            f"{BASE}/plainkb/:import",
            text,
            content_type="text/plain",
            query="format=tsv",
        )
    )
    assert api.poll(response)["status"] == "succeeded"
    qnas = api("GET", f"{BASE}/plainkb/qnas").json()["value"]
    assert [(q["questions"], q["answer"]) for q in qnas] == [(["hi"], "hello")]


def test_bad_import_fails_the_job_naming_the_item_and_changes_nothing(
    api: Api, run_jobs: Any
) -> None:
    create_kb(api)
    add_qnas(api)
    before = kb_snapshot("kb1")
    bad = {
        "assets": {
            "qnas": [
                {"id": 5, "answer": "fine", "questions": ["q"]},
                {"id": 6, "answer": "", "questions": ["q"]},
            ]
        }
    }
    response = run_jobs(lambda: api("POST", f"{BASE}/kb1/:import", bad))
    job = api.poll(response)
    assert job["status"] == "failed"
    assert any("qnas[1]" in (e.get("target") or "") for e in job["errors"]), job
    assert kb_snapshot("kb1") == before


@pytest.mark.parametrize(
    ("query", "body", "content_type"),
    [
        ("format=excel", {"assets": {}}, "application/json"),
        ("format=xml", {"assets": {}}, "application/json"),
        ("assetKind=pictures", {"assets": {}}, "application/json"),
        ("", {"fileUri": "https://example.com/kb.tsv"}, "application/json"),
        ("", [1, 2], "application/json"),
        ("", {}, "application/json"),
        ("format=tsv", {"assets": {}}, "application/json"),
        ("format=json", "Question\tAnswer\n", "text/plain"),
        ("format=tsv", "   ", "text/plain"),
    ],
)
def test_bad_import_requests_are_400_and_queue_nothing(
    api: Api, query: str, body: Any, content_type: str
) -> None:
    from jobs.models import Job

    create_kb(api)
    before = kb_snapshot("kb1")
    response = api(
        "POST", f"{BASE}/kb1/:import", body, content_type=content_type, query=query
    )
    assert response.status_code == 400, response.content
    assert "error" in response.json()
    assert not Job.objects.exists()
    assert kb_snapshot("kb1") == before


def test_malformed_json_import_body_is_400(api: Api) -> None:
    create_kb(api)
    response = api.client.post(
        f"{BASE}/kb1/:import?api-version={V}",
        "{not json",
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequest"


def test_import_into_a_conversation_projects_name_is_refused(api: Api) -> None:
    api(
        "PATCH",
        "/language/authoring/analyze-conversations/projects/clu3",
        {"projectName": "clu3", "projectKind": "Conversation", "language": "en"},
        content_type="application/merge-patch+json",
    )
    response = api("POST", f"{BASE}/clu3/:import", {"assets": {"qnas": []}})
    assert response.status_code == 409
    assert "Conversation" in response.json()["error"]["message"]


def test_second_import_while_one_is_queued_is_409(api: Api) -> None:
    create_kb(api)
    body = {"assets": {"qnas": [QNA_2]}}
    # Without running on-commit callbacks the first job stays notStarted.
    assert api("POST", f"{BASE}/kb1/:import", body).status_code == 202
    response = api("POST", f"{BASE}/kb1/:import", body)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert api("DELETE", f"{BASE}/kb1").status_code == 409


def test_export_of_unknown_format_is_400(api: Api) -> None:
    create_kb(api)
    for fmt in ("excel", "csv"):
        response = api("POST", f"{BASE}/kb1/:export", query=f"format={fmt}")
        assert response.status_code == 400
        assert response.json()["error"]["target"] == "format"


# --- the 2021-10-01 paths of azure-ai-language-questionanswering 1.1.0 -------------


def test_legacy_prefix_serves_the_same_api_and_polls_on_it(
    api: Api, run_jobs: Any
) -> None:
    created = api("PATCH", f"{LEGACY}/old", {"language": "en"}, version="2021-10-01")
    assert created.status_code == 201
    response = run_jobs(
        lambda: api(
            "POST",
            f"{LEGACY}/old/:import",
            {"assets": {"qnas": [QNA_2]}},
            version="2021-10-01",
        )
    )
    location = urlsplit(response["Operation-Location"])
    assert location.path.startswith(f"{LEGACY}/old/import/jobs/")
    assert "api-version=2021-10-01" in location.query
    assert api.poll(response)["status"] == "succeeded"
    listed = api("GET", f"{LEGACY}/old/qnas", version="2021-10-01").json()
    assert [q["id"] for q in listed["value"]] == [2]
    deleted = run_jobs(lambda: api("DELETE", f"{LEGACY}/old", version="2021-10-01"))
    assert f"{LEGACY}/deletion-jobs/" in deleted["Operation-Location"]


def test_openapi_schema_documents_the_qna_and_v1_routes(client: Client) -> None:
    response = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    text = response.content.decode()
    for operation_id in (
        "QuestionAnsweringProjects_UpdateQnas",
        "QuestionAnsweringProjects_Import",
        "v1_utterances_batch_update",
        "v1_intents_list",
    ):
        assert operation_id in text


def test_synonyms_tsv_imports_and_exports_with_asset_kind(
    api: Api, run_jobs: Any
) -> None:
    path = (
        require_shared_data()
        / "azure-language-samples"
        / "qna-maker"
        / "SampleSynonyms.tsv"
    )
    create_kb(api)
    add_qnas(api)
    response = run_jobs(
        lambda: api(
            "POST",
            f"{BASE}/kb1/:import",
            path.read_text(encoding="utf-8-sig"),
            content_type="text/tab-separated-values",
            query="format=tsv",
        )
    )
    assert api.poll(response)["status"] == "succeeded"
    synonyms = api("GET", f"{BASE}/kb1/synonyms").json()["value"]
    assert {"alterations": ["sdk", "software development kit"]} in synonyms
    # A synonyms file leaves the QnAs alone.
    assert len(api("GET", f"{BASE}/kb1/qnas").json()["value"]) == 2
    exported = run_jobs(
        lambda: api(
            "POST", f"{BASE}/kb1/:export", query="format=tsv&assetKind=synonyms"
        )
    )
    job = api.poll(exported)
    result = urlsplit(job["resultUrl"])
    text = api.client.get(
        f"{result.path}?{result.query}",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    ).content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Synonyms"
    assert "software development kit" in text


def test_json_export_of_one_asset_kind(api: Api, run_jobs: Any) -> None:
    create_kb(api)
    add_qnas(api)
    api("PUT", f"{BASE}/kb1/synonyms", {"value": [{"alterations": ["a", "b"]}]})
    exported = run_jobs(
        lambda: api("POST", f"{BASE}/kb1/:export", query="assetKind=qnas")
    )
    result = urlsplit(api.poll(exported)["resultUrl"])
    document = api.client.get(
        f"{result.path}?{result.query}",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    ).json()
    assert set(document["assets"]) == {"qnas"}


def test_a_10_mb_import_body_is_refused_with_413(api: Api) -> None:
    from jobs.models import Job

    create_kb(api)
    before = kb_snapshot("kb1")
    text = "Question\tAnswer\n" + "q\ta\n" * (10 * 1024 * 1024 // 4)
    response = api(
        "POST",
        f"{BASE}/kb1/:import",
        text,
        content_type="text/tab-separated-values",
        query="format=tsv",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "InvalidRequest"
    assert not Job.objects.exists()
    assert kb_snapshot("kb1") == before


def test_deleting_an_unknown_source_is_400_and_changes_nothing(api: Api) -> None:
    create_kb(api)
    add_qnas(api)
    before = kb_snapshot("kb1")
    ops = [
        {"op": "delete", "value": {"source": "source1"}},
        {"op": "delete", "value": {"source": "nowhere"}},
    ]
    response = api("PATCH", f"{BASE}/kb1/sources", ops)
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "[1].value.source"
    assert kb_snapshot("kb1") == before


def test_feedback_becomes_active_learning_suggestions(api: Api) -> None:
    create_kb(api)
    add_qnas(api)
    body = {
        "records": [
            {"userId": "u1", "userQuestion": "reset pwd", "qnaId": 1},
            {"userId": "u2", "userQuestion": "Reset PWD", "qnaId": 1},
            {"userId": "u3", "userQuestion": "q two?", "qnaId": 2},
        ]
    }
    assert api("POST", f"{BASE}/kb1/feedback", body).status_code == 204
    qnas = {q["id"]: q for q in api("GET", f"{BASE}/kb1/qnas").json()["value"]}
    assert qnas[1]["activeLearningSuggestions"] == [
        {
            "clusterHead": "reset pwd",
            "suggestedQuestions": [
                {
                    "question": "reset pwd",
                    "userSuggestedCount": 2,
                    "autoSuggestedCount": 0,
                }
            ],
        }
    ]
    assert qnas[2]["activeLearningSuggestions"][0]["clusterHead"] == "q two?"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"records": []},
        {"records": [{"userQuestion": "x", "qnaId": "1"}]},
        {"records": [{"userQuestion": " ", "qnaId": 1}]},
        {
            "records": [
                {"userQuestion": "fine", "qnaId": 1},
                {"userQuestion": "x", "qnaId": 99},
            ]
        },
    ],
)
def test_bad_feedback_is_400_and_changes_nothing(api: Api, body: Any) -> None:
    create_kb(api)
    add_qnas(api)
    before = kb_snapshot("kb1")
    suggestions = list(
        QnaPair.objects.order_by("qna_id").values_list(
            "active_learning_suggestions", flat=True
        )
    )
    response = api("POST", f"{BASE}/kb1/feedback", body)
    assert response.status_code == 400, response.content
    assert kb_snapshot("kb1") == before
    assert (
        list(
            QnaPair.objects.order_by("qna_id").values_list(
                "active_learning_suggestions", flat=True
            )
        )
        == suggestions
    )


# --- issue #13: Azure drop-in -------------------------------------------------------


def test_import_with_metadata_only_creates_the_kb_as_azure_does(
    api: Api, run_jobs: Any
) -> None:
    """The 1.1.0 sample ``sample_export_import_project`` imports only ``Metadata``."""
    body = {
        "Metadata": {
            "ProjectName": "IssueProjectImported",
            "Description": "imported from metadata",
            "Language": "en",
            "MultilingualResource": False,
            "Settings": {"DefaultAnswer": "no answer"},
        }
    }
    response = run_jobs(lambda: api("POST", f"{BASE}/meta1/:import", body))
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    project = api("GET", f"{BASE}/meta1").json()
    assert project["description"] == "imported from metadata"
    assert project["settings"]["defaultAnswer"] == "no answer"
    assert api("GET", f"{BASE}/meta1/qnas").json()["value"] == []


def test_import_with_metadata_only_keeps_the_existing_qnas(
    api: Api, run_jobs: Any
) -> None:
    create_kb(api)
    add_qnas(api)
    body = {"metadata": {"description": "renamed", "language": "en"}}
    job = api.poll(run_jobs(lambda: api("POST", f"{BASE}/kb1/:import", body)))
    assert job["status"] == "succeeded", job
    assert [q["id"] for q in api("GET", f"{BASE}/kb1/qnas").json()["value"]] == [1, 2]
    assert api("GET", f"{BASE}/kb1").json()["description"] == "renamed"


# --- issue #13 item 2: URL sources are fetched in a job ------------------------------

FAQ_HTML = b"""<!doctype html><html><head><title>FAQ</title>
<script>var x = "<h2>not a question</h2>";</script></head>
<body><nav><h2>Menu</h2><p>Home</p></nav>
<h1>Contoso help</h1>
<h2>How do I reset my password?</h2>
<p>Open <b>Settings</b> and choose <i>Reset password</i>.</p>
<ul><li>Check your e-mail</li><li>Follow the link</li></ul>
<h2>When is the shop open?</h2><p>Every day from 9 to 5.</p>
</body></html>"""
FAQ_MARKDOWN = b"""# Shipping FAQ

## How long does shipping take?

Two to four days.

## Do you ship abroad?

Yes, to 40 countries.
"""


class Pages:
    """A loopback web server serving ``pages`` (path -> body) for source fetches."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def pages() -> Iterator[Pages]:
    server = Pages()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]


def qna_rows(name: str = "kb1") -> list[tuple[str, str, str]]:
    return [
        (q["questions"][0], q["answer"], q["source"])
        for q in QnaPair.objects.filter(project__name=name)
        .order_by("qna_id")
        .values("questions", "answer", "source")
    ]


def test_a_url_source_without_source_is_fetched_and_its_faq_becomes_qnas(
    api: Api, run_jobs: Any, pages: Pages, allow_loopback: None
) -> None:
    """Azure answers 202 to an add without ``source`` (it defaults to the URI)."""
    create_kb(api)
    pages.pages["/faq"] = FAQ_HTML
    url = f"{pages.base}/faq"
    ops = [{"op": "add", "value": {"sourceUri": url, "sourceKind": "url"}}]
    response = run_jobs(lambda: api("PATCH", f"{BASE}/kb1/sources", ops))
    assert "/kb1/sources/jobs/" in response["Operation-Location"]
    job = api.poll(response)
    assert job["status"] == "succeeded", job
    assert qna_rows() == [
        (
            "How do I reset my password?",
            "Open Settings and choose Reset password.\n\n"
            "- Check your e-mail\n- Follow the link",
            url,
        ),
        ("When is the shop open?", "Every day from 9 to 5.", url),
    ]
    sources = api("GET", f"{BASE}/kb1/sources").json()["value"]
    assert [(s["source"], s["sourceUri"], s["sourceKind"]) for s in sources] == [
        (url, url, "url")
    ]


def test_a_markdown_source_is_read_and_replace_refreshes_it(
    api: Api, run_jobs: Any, pages: Pages, allow_loopback: None
) -> None:
    create_kb(api)
    add_qnas(api)
    pages.pages["/shipping.md"] = FAQ_MARKDOWN
    url = f"{pages.base}/shipping.md"
    add = [{"op": "add", "value": {"sourceUri": url, "source": "shipping"}}]
    assert (
        api.poll(run_jobs(lambda: api("PATCH", f"{BASE}/kb1/sources", add)))["status"]
        == "succeeded"
    )
    assert [r for r in qna_rows() if r[2] == "shipping"] == [
        ("How long does shipping take?", "Two to four days.", "shipping"),
        ("Do you ship abroad?", "Yes, to 40 countries.", "shipping"),
    ]
    pages.pages["/shipping.md"] = b"## Is shipping free?\n\nAbove 50 euros.\n"
    refresh = [
        {
            "op": "replace",
            "value": {"sourceUri": url, "source": "shipping", "refresh": True},
        },
        {"op": "delete", "value": {"source": "source1"}},
    ]
    job = api.poll(run_jobs(lambda: api("PATCH", f"{BASE}/kb1/sources", refresh)))
    assert job["status"] == "succeeded", job["errors"]
    assert [(r[0], r[2]) for r in qna_rows()] == [
        ("question 2", "source2"),
        ("Is shipping free?", "shipping"),
    ]


def test_the_spec_example_is_accepted_and_fails_clearly_without_network(
    api: Api, run_jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine (like many studios) cannot reach docs.microsoft.com: the 202
    job fails saying why, and nothing changes."""
    create_kb(api)
    add_qnas(api, "kb1", QNA_2, {**QNA_2, "id": 3, "source": "surface-guide.pdf"})
    before = kb_snapshot("kb1")

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    body = example_body("SuccessfulUpdateSources.json")
    response = run_jobs(lambda: api("PATCH", f"{BASE}/kb1/sources", body))
    job = api.poll(response)
    assert job["status"] == "failed"
    [error] = job["errors"]
    assert error["target"] == "[0].value.sourceUri"
    assert "could not be fetched" in error["message"]
    assert "STUDIO_TARGET_ALLOWED_HOSTS" in error["message"]
    assert kb_snapshot("kb1") == before


def test_a_source_resolving_to_a_private_address_is_refused_by_the_target_policy(
    api: Api, run_jobs: Any, pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same policy as orchestration HTTP targets: a public-looking name that
    resolves to loopback is refused unless STUDIO_TARGET_ALLOWED_HOSTS names it."""
    create_kb(api)
    pages.pages["/faq"] = FAQ_HTML
    port = pages.server.server_address[1]
    real = socket.getaddrinfo

    def rebind(host: Any, *args: Any, **kwargs: Any) -> Any:
        # Only a real lookup of the name (not the numeric-host check) rebinds it.
        numeric = kwargs.get("flags", 0) & socket.AI_NUMERICHOST
        if host == "faq.example.com" and not numeric:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebind)
    ops = [{"op": "add", "value": {"sourceUri": f"http://faq.example.com:{port}/faq"}}]
    job = api.poll(run_jobs(lambda: api("PATCH", f"{BASE}/kb1/sources", ops)))
    assert job["status"] == "failed"
    assert "could not be fetched" in job["errors"][0]["message"]
    assert pages.pages and qna_rows() == []


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ({"sourceKind": "url"}, "[0].value"),
        ({"sourceUri": "ftp://example.com/faq"}, "[0].value.sourceUri"),
        ({"sourceUri": "http://127.0.0.1/faq"}, "[0].value.sourceUri"),
        (
            {"sourceUri": "https://example.com/", "sourceKind": "web"},
            "[0].value.sourceKind",
        ),
    ],
)
def test_bad_source_additions_are_400_and_queue_nothing(
    api: Api, value: dict[str, Any], target: str
) -> None:
    from jobs.models import Job

    create_kb(api)
    before = kb_snapshot("kb1")
    response = api("PATCH", f"{BASE}/kb1/sources", [{"op": "add", "value": value}])
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"][0]["target"] == target
    assert not Job.objects.exists()
    assert kb_snapshot("kb1") == before


def test_a_page_without_questions_or_a_pdf_fails_the_job_saying_so(
    api: Api, run_jobs: Any, pages: Pages, allow_loopback: None
) -> None:
    create_kb(api)
    pages.pages["/plain"] = b"<p>No headings here.</p>"
    pages.pages["/guide.pdf"] = b"%PDF-1.7 ..."
    for path, words in (("/plain", "no question"), ("/guide.pdf", "PDF")):
        ops = [{"op": "add", "value": {"sourceUri": pages.base + path}}]
        job = api.poll(
            run_jobs(lambda ops=ops: api("PATCH", f"{BASE}/kb1/sources", ops))
        )
        assert job["status"] == "failed"
        assert words in job["errors"][0]["message"], job
    assert qna_rows() == []
