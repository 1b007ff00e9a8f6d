"""Hostile or unlucky input answers a clean 4xx in Azure's shape and changes nothing:
lone surrogates and NUL characters, JSON nested thousands deep, unknown methods,
numbers the database cannot hold, huge values echoed in errors, chunked bodies."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import DataError, IntegrityError, InterfaceError, close_old_connections
from django.test import Client

from projects.models import Intent, Project, Utterance
from projects.selectors import authoring as selectors
from studio.services import apikey_create
from studio.wsgi import application

pytestmark = pytest.mark.django_db

V = "api-version=2023-04-01"
CLU = "/language/authoring/analyze-conversations/projects"
QNA = "/language/authoring/query-knowledgebases/projects"
V1 = "/api/v1/projects"


@pytest.fixture
def call(client: Client) -> Callable[..., Any]:
    key = apikey_create(name="hostile")[1]

    def send(
        method: str,
        path: str,
        body: str | bytes = b"",
        content_type: str = "application/json",
    ) -> Any:
        sep = "&" if "?" in path else "?"
        return client.generic(
            method,
            f"{path}{sep}{V}",
            body,
            content_type=content_type,
            headers={"Ocp-Apim-Subscription-Key": key},
        )

    return send


@pytest.fixture
def clu(call: Callable[..., Any]) -> str:
    body = {"projectName": "clu", "projectKind": "Conversation", "language": "en-us"}
    response = call("PATCH", f"{CLU}/clu", json.dumps(body))
    assert response.status_code == 201, response.content
    return "clu"


def assert_azure_400(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] in ("InvalidRequest", "InvalidArgument")
    return error


# Every JSON endpoint decodes its body in one place; a sample of them, each with a
# body that is fine except for the poisoned string.
POISON_TARGETS = [
    (
        "PATCH",
        f"{CLU}/fresh",
        '{"projectName": "fresh", "projectKind": "Conversation", '
        '"language": "en-us", "description": "%s"}',
    ),
    ("POST", f"{V1}/clu/intents", '{"category": "Greet%s"}'),
    ("POST", f"{V1}/clu/utterances", '{"text": "hi %s", "intent": "None"}'),
    (
        "PATCH",
        f"{QNA}/kb",
        '{"language": "en", "description": "%s"}',
    ),
    (
        "POST",
        f"{CLU}/clu/deployments/:swap",
        '{"firstDeploymentName": "a%s", "secondDeploymentName": "b"}',
    ),
    ("PUT", f"{CLU}/clu/deployments/prod", '{"trainedModelLabel": "m%s"}'),
    (
        "POST",
        "/language/:analyze-conversations",
        '{"kind": "Conversation", "analysisInput": {"conversationItem": {"id": "1", '
        '"participantId": "u", "text": "hi %s"}}, "parameters": '
        '{"projectName": "clu", "deploymentName": "prod"}}',
    ),
    (
        "POST",
        "/language/:query-knowledgebases?projectName=kb&deploymentName=production",
        '{"question": "wifi %s"}',
    ),
]


@pytest.mark.parametrize("poison", ["\\ud800", "\\udfff", "\\u0000"])
@pytest.mark.parametrize(("method", "path", "template"), POISON_TARGETS)
def test_lone_surrogates_and_nul_in_a_json_body_are_400(
    call: Callable[..., Any],
    clu: str,
    method: str,
    path: str,
    template: str,
    poison: str,
) -> None:
    before = (
        Project.objects.count(),
        Intent.objects.count(),
        Utterance.objects.count(),
    )
    response = call(method, path, template % poison)
    error = assert_azure_400(response)
    assert "surrogate" in error["message"] or "NUL" in error["message"]
    after = (Project.objects.count(), Intent.objects.count(), Utterance.objects.count())
    assert after == before


def test_a_poisoned_key_is_refused_like_a_poisoned_value(
    call: Callable[..., Any], clu: str
) -> None:
    response = call("POST", f"{V1}/clu/intents", '{"category": "A", "x\\ud800": 1}')
    assert "surrogate" in assert_azure_400(response)["message"]


def test_a_surrogate_pair_is_one_character_and_is_accepted(
    call: Callable[..., Any], clu: str
) -> None:
    response = call(
        "POST",
        f"{V1}/clu/utterances",
        '{"text": "hi \\ud83d\\ude00", "intent": "None"}',
    )
    assert response.status_code == 201, response.content
    assert Utterance.objects.get().text == "hi \U0001f600"


def test_nul_in_the_url_path_or_query_is_400(call: Callable[..., Any]) -> None:
    assert_azure_400(call("GET", f"{CLU}/a%00b"))
    assert_azure_400(call("GET", f"{CLU}?top=1%00"))
    assert_azure_400(
        call(
            "POST",
            "/language/:query-knowledgebases?projectName=k%00b&deploymentName=x",
            '{"question": "q"}',
        )
    )


def test_a_tsv_body_with_a_nul_is_400(call: Callable[..., Any]) -> None:
    tsv = "Question\tAnswer\tSource\tMetadata\nq\ta\x00b\ts\t\n"
    response = call(
        "POST",
        f"{QNA}/kb/:import?format=tsv",
        tsv.encode(),
        "text/tab-separated-values",
    )
    assert "NUL" in assert_azure_400(response)["message"]
    assert not Project.objects.filter(name="kb").exists()


DEEP = "[" * 2000 + "]" * 2000


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("PATCH", f"{CLU}/deep", "application/merge-patch+json"),
        ("POST", f"{CLU}/deep/:import", "application/json"),
        ("POST", f"{V1}/clu/utterances", "application/json"),
        ("POST", "/language/:analyze-conversations", "application/json"),
        ("PATCH", f"{QNA}/deep", "application/json"),
    ],
)
def test_deeply_nested_json_is_400(
    call: Callable[..., Any], clu: str, method: str, path: str, content_type: str
) -> None:
    error = assert_azure_400(call(method, path, DEEP, content_type))
    assert "nested deeper" in error["message"]


def test_nesting_just_past_the_limit_is_refused_and_just_within_is_parsed(
    call: Callable[..., Any], clu: str
) -> None:
    from studio.inputs import MAX_JSON_DEPTH

    inside = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    ok = call("POST", f"{V1}/clu/intents", f'{{"category": "A", "x": {inside}}}')
    assert ok.status_code != 500
    assert "nested" not in ok.content.decode()
    outside = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    too_deep = call("POST", f"{V1}/clu/intents", f'{{"category": "A", "x": {outside}}}')
    assert "nested deeper" in assert_azure_400(too_deep)["message"]


@pytest.mark.parametrize("method", ["TRACE", "FOO", "PROPFIND", "CONNECT"])
@pytest.mark.parametrize(
    "path",
    [f"{CLU}/clu", f"{CLU}/clu/deployments/prod", f"{V1}/clu/intents", f"{QNA}/kb"],
)
def test_unknown_methods_on_project_routes_are_405_with_allow(
    call: Callable[..., Any], clu: str, method: str, path: str
) -> None:
    response = call(method, path)
    assert response.status_code == 405, response.content
    assert response.json()["error"]["code"] == "InvalidRequest"
    assert "GET" in response["Allow"]


def test_options_answers_204_with_the_methods_of_the_route(
    call: Callable[..., Any], clu: str
) -> None:
    response = call("OPTIONS", f"{CLU}/clu")
    assert response.status_code == 204
    assert response.content == b""
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed


@pytest.mark.parametrize(
    "query",
    ["skip=999999999999999999999", "top=99999999999999999999", "skip=2147483648"],
)
def test_paging_numbers_the_database_cannot_hold_are_400(
    call: Callable[..., Any], query: str
) -> None:
    response = call("GET", f"{CLU}?{query}")
    error = assert_azure_400(response)
    assert "Retry-After" not in response
    assert error["target"] in ("skip", "top")


def failing_get(
    call: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, error: Exception
) -> Any:
    def failing(**kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(selectors, "project_get", failing)
    return call("GET", f"{CLU}/anything")


def test_a_value_the_database_refuses_is_400_not_503(
    call: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    response = failing_get(call, monkeypatch, DataError("integer out of range"))
    assert_azure_400(response)
    assert "Retry-After" not in response


def test_a_unique_key_conflict_is_409_not_503(
    call: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    response = failing_get(call, monkeypatch, IntegrityError("duplicate key value"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert "Retry-After" not in response


def test_a_dropped_connection_is_still_503_with_retry_after(
    call: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    response = failing_get(call, monkeypatch, InterfaceError("connection closed"))
    assert response.status_code == 503
    assert response["Retry-After"] == "1"


def test_a_huge_value_is_not_echoed_whole_in_the_error(
    call: Callable[..., Any],
) -> None:
    huge = "k" * 1_000_000
    body = json.dumps({"kind": huge, "analysisInput": {}, "parameters": {}})
    response = call("POST", "/language/:analyze-conversations", body)
    error = assert_azure_400(response)
    assert len(response.content) < 2_000
    assert "kkkk" in error["message"]
    assert "1000002 characters" in error["message"]


def test_a_huge_name_is_not_echoed_whole_either(
    call: Callable[..., Any], clu: str
) -> None:
    response = call("POST", f"{V1}/clu/intents", json.dumps({"category": "x" * 50_000}))
    assert_azure_400(response)
    assert len(response.content) < 2_000


# --- chunked request bodies ------------------------------------------------------


def wsgi_call(
    *, method: str, path: str, chunks: list[bytes], headers: dict[str, str]
) -> tuple[str, dict[str, str], bytes]:
    """Call the WSGI application as gunicorn does with a de-chunked body: no
    CONTENT_LENGTH, ``Transfer-Encoding: chunked``, the body in ``wsgi.input``."""
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b"".join(chunks)),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        captured["status"] = status
        captured["headers"] = dict(response_headers)
        return lambda data: None

    # As Django's test client does: the request must not close the test's database
    # connection (it holds the test transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return captured["status"], captured["headers"], body


def test_a_chunked_body_is_read_not_taken_as_empty() -> None:
    key = apikey_create(name="chunked")[1]
    document = {"projectName": "chunky", "projectKind": "Conversation"}
    raw = json.dumps({**document, "language": "en-us"}).encode()
    status, _, body = wsgi_call(
        method="PATCH",
        path=f"{CLU}/chunky?{V}",
        chunks=[raw[:10], raw[10:]],
        headers={"Ocp-Apim-Subscription-Key": key},
    )
    assert status.startswith("201"), body
    assert Project.objects.filter(name="chunky").exists()


def test_a_chunked_body_over_the_limit_is_413(settings: Any) -> None:
    settings.STUDIO_MAX_REQUEST_BYTES = 1_000
    key = apikey_create(name="chunked")[1]
    raw = json.dumps(
        {
            "projectName": "big",
            "projectKind": "Conversation",
            "language": "en-us",
            "description": "d" * 2_000,
        }
    ).encode()
    status, headers, body = wsgi_call(
        method="PATCH",
        path=f"{CLU}/big?{V}",
        chunks=[raw],
        headers={"Ocp-Apim-Subscription-Key": key},
    )
    assert status.startswith("413"), body
    assert json.loads(body)["error"]["code"] == "InvalidRequest"
    assert not Project.objects.filter(name="big").exists()


@pytest.mark.parametrize("big", [2**63, 10**30])
def test_an_id_too_large_for_the_database_is_400_not_503(
    call: Callable[..., Any], big: int
) -> None:
    assert call("PATCH", f"{QNA}/kb", '{"language": "en"}').status_code == 201
    body = json.dumps({"id": big, "answer": "a", "questions": ["q"]})
    response = call("POST", f"{V1}/kb/qnas", body)
    assert_azure_400(response)
    assert "Retry-After" not in response
