"""The official ``azure-ai-language-questionanswering==1.1.0`` authoring client,
unchanged, against a live studio (gunicorn + Celery worker + PostgreSQL + Redis).

The 1.1.0 client speaks api-version 2021-10-01 on ``/language/query-knowledgebases``;
raw REST calls cover the 2023-04-01 ``/language/authoring/...`` paths. Pollers rely on
the server's ``Retry-After: 1``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from azure.ai.language.questionanswering.authoring import AuthoringClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest

from tests.conftest import LiveStudio

pytestmark = pytest.mark.integration

POLL_TIMEOUT = 120
QNAS = [
    {
        "id": 1,
        "answer": "Use the reset link on the sign-in page.",
        "source": "faq.tsv",
        "questions": ["How do I reset my password?", "forgot password"],
        "metadata": {"area": "account"},
        "dialog": {
            "isContextOnly": False,
            "prompts": [{"displayOrder": 1, "qnaId": 2, "displayText": "Locked?"}],
        },
    },
    {
        "id": 2,
        "answer": "Wait 15 minutes, then try again.",
        "source": "https://example.com/help",
        "questions": ["My account is locked"],
    },
]


@pytest.fixture(scope="module")
def client(live_studio: LiveStudio) -> AuthoringClient:
    return AuthoringClient(live_studio.url, AzureKeyCredential(live_studio.api_key))


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def test_project_lifecycle_qnas_synonyms_sources(client: AuthoringClient) -> None:
    name = unique("Kb")
    created = client.create_project(
        name,
        {
            "description": "from the SDK",
            "language": "en",
            "multilingualResource": False,
            "settings": {"defaultAnswer": "Sorry, no answer."},
        },
    )
    assert created["projectName"] == name
    assert created["settings"] == {"defaultAnswer": "Sorry, no answer."}
    assert client.get_project_details(name)["description"] == "from the SDK"
    assert name in [p["projectName"] for p in client.list_projects()]

    poller = client.begin_update_qnas(name, [{"op": "add", "value": q} for q in QNAS])
    poller.result(timeout=POLL_TIMEOUT)
    assert poller.status().lower() == "succeeded"
    qnas = list(client.list_qnas(name))
    assert [q["id"] for q in qnas] == [1, 2]
    assert qnas[0]["dialog"]["prompts"][0]["qnaId"] == 2
    assert [q["id"] for q in client.list_qnas(name, source="faq.tsv")] == [1]

    client.update_synonyms(
        name, {"value": [{"alterations": ["password", "passcode", "pwd"]}]}
    )
    assert list(client.list_synonyms(name)) == [
        {"alterations": ["password", "passcode", "pwd"]}
    ]
    sources = {s["source"]: s["sourceKind"] for s in client.list_sources(name)}
    assert sources == {"faq.tsv": "file", "https://example.com/help": "url"}
    client.begin_update_sources(
        name,
        [
            {
                "op": "delete",
                "value": {
                    "source": "faq.tsv",
                    "sourceUri": "faq.tsv",
                    "sourceKind": "file",
                },
            }
        ],
    ).result(timeout=POLL_TIMEOUT)
    assert [q["id"] for q in client.list_qnas(name)] == [2]

    client.add_feedback(
        name, {"records": [{"userId": "u", "userQuestion": "locked out", "qnaId": 2}]}
    )
    suggestions = next(iter(client.list_qnas(name)))["activeLearningSuggestions"]
    assert suggestions[0]["clusterHead"] == "locked out"

    client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)
    with pytest.raises(ResourceNotFoundError):
        client.get_project_details(name)


def test_json_import_export_round_trip(client: AuthoringClient) -> None:
    name = unique("KbIo")
    document = {
        "metadata": {"language": "en", "description": "imported"},
        "assets": {
            "qnas": QNAS,
            "synonyms": [{"alterations": ["sign in", "log in"]}],
        },
    }
    client.begin_import_assets(name, document, file_format="json").result(
        timeout=POLL_TIMEOUT
    )
    exported_job = client.begin_export(name, file_format="json").result(
        timeout=POLL_TIMEOUT
    )
    assert exported_job["status"] == "succeeded"
    first = client.send_request(HttpRequest("GET", exported_job["resultUrl"]))
    assert first.status_code == 200
    exported = first.json()
    assert [q["id"] for q in exported["assets"]["qnas"]] == [1, 2]

    copy_name = unique("KbCopy")
    client.begin_import_assets(copy_name, exported).result(timeout=POLL_TIMEOUT)
    again = client.begin_export(copy_name).result(timeout=POLL_TIMEOUT)
    second = client.send_request(HttpRequest("GET", again["resultUrl"])).json()
    assert second["assets"] == exported["assets"]
    assert second["metadata"]["description"] == "imported"


def test_tsv_import_and_export(client: AuthoringClient, shared_data: Path) -> None:
    tsv = shared_data / "azure-language-samples" / "qna-maker" / "SampleQnAs.tsv"
    tsv_name = unique("KbTsv")
    # The SDK sends bytes as the raw body; its overloads only name dicts and IO
    # (and a BytesIO would be serialized as JSON).
    body: Any = tsv.read_bytes()
    client.begin_import_assets(
        tsv_name,
        body,
        file_format="tsv",
        content_type="text/tab-separated-values",
    ).result(timeout=POLL_TIMEOUT)
    assert len(list(client.list_qnas(tsv_name))) > 5
    tsv_job = client.begin_export(tsv_name, file_format="tsv").result(
        timeout=POLL_TIMEOUT
    )
    download = client.send_request(HttpRequest("GET", tsv_job["resultUrl"]))
    assert download.headers["Content-Type"].startswith("text/tab-separated-values")
    assert download.text().startswith("Question\tAnswer")


def test_errors_surface_as_sdk_exceptions(
    client: AuthoringClient, live_studio: LiveStudio
) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.get_project_details(unique("missing"))
    bad_key = AuthoringClient(live_studio.url, AzureKeyCredential("osk_wrong"))
    with pytest.raises(ClientAuthenticationError):
        list(bad_key.list_projects())
    name = unique("KbBad")
    client.create_project(name, {"language": "en"})
    with pytest.raises(HttpResponseError) as refused:
        client.begin_update_qnas(
            name, [{"op": "add", "value": {"id": 1, "answer": "", "questions": []}}]
        )
    assert refused.value.status_code == 400
    bad_import = {"assets": {"qnas": [{"id": 1, "answer": "a", "questions": "q"}]}}
    with pytest.raises(HttpResponseError) as failed:
        client.begin_import_assets(name, bad_import).result(timeout=POLL_TIMEOUT)
    assert "qnas[0]" in str(failed.value) or "failed" in str(failed.value).lower()
    assert list(client.list_qnas(name)) == []


def test_2023_paths_answer_raw_rest_calls(
    client: AuthoringClient, live_studio: LiveStudio
) -> None:
    name = unique("KbRest")
    base = f"{live_studio.url}/language/authoring/query-knowledgebases/projects"
    created = client.send_request(
        HttpRequest(
            "PATCH",
            f"{base}/{name}?api-version=2023-04-01",
            content=json.dumps({"language": "en"}),
            headers={"Content-Type": "application/json"},
        )
    )
    assert created.status_code == 201
    got: Any = client.send_request(
        HttpRequest("GET", f"{base}/{name}?api-version=2023-04-01")
    )
    assert got.json()["projectName"] == name


def test_sample_export_import_project_imports_metadata_only(
    client: AuthoringClient,
) -> None:
    """Issue #13: the 1.1.0 ``sample_export_import_project`` imports only
    ``Metadata``; Azure accepts it."""
    name = unique("KbMeta")
    project = {
        "Metadata": {
            "ProjectName": name,
            "Description": "This is the description of my project",
            "Language": "en",
            "MultilingualResource": False,
            "Settings": {"DefaultAnswer": "no answer"},
        }
    }
    client.begin_import_assets(name, project, file_format="json").result(
        timeout=POLL_TIMEOUT
    )
    details = client.get_project_details(name)
    assert details["description"] == "This is the description of my project"
    assert list(client.list_qnas(name)) == []
    client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)


def test_a_url_source_without_source_is_accepted_and_its_job_says_why_it_failed(
    client: AuthoringClient,
) -> None:
    """Issue #13: ``add`` without ``source`` is a 202 job (``source`` defaults to
    the URI). A name under ``.invalid`` never resolves, so the job fails saying the
    source could not be fetched, and the SDK raises."""
    name = unique("KbUrl")
    client.create_project(name, {"language": "en", "description": "url source"})
    poller = client.begin_update_sources(
        name,
        [
            {
                "op": "add",
                "value": {"sourceUri": "https://faq.invalid/faq", "sourceKind": "url"},
            }
        ],
    )
    with pytest.raises(HttpResponseError):
        poller.result(timeout=POLL_TIMEOUT)
    assert list(client.list_sources(name)) == []
    client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)


def test_a_url_source_on_an_allowed_host_becomes_qnas(client: AuthoringClient) -> None:
    """The live studio allows 127.0.0.1 (STUDIO_TARGET_ALLOWED_HOSTS): a Markdown
    page served there is fetched by the worker and its headings become questions."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = b"# FAQ\n\n## Where is the office?\n\nOn the third floor.\n"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/faq.md"
    name = unique("KbPage")
    try:
        client.create_project(name, {"language": "en", "description": "page"})
        client.begin_update_sources(
            name, [{"op": "add", "value": {"sourceUri": url, "sourceKind": "url"}}]
        ).result(timeout=POLL_TIMEOUT)
        qnas = list(client.list_qnas(name))
        assert [(q["questions"], q["answer"], q["source"]) for q in qnas] == [
            (["Where is the office?"], "On the third floor.", url)
        ]
        assert [s["sourceKind"] for s in client.list_sources(name)] == ["url"]
        client.begin_delete_project(name).result(timeout=POLL_TIMEOUT)
    finally:
        server.shutdown()
        server.server_close()
