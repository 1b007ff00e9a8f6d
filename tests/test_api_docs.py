"""The API documentation page is served by the app itself, offline."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client


@pytest.mark.django_db
def test_docs_page_loads_its_scripts_from_our_static_files(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    sources = re.findall(r'<script[^>]+src="([^"]+)"', response.content.decode())
    assert sources, "the docs page loads Redoc from a script"
    assert all(src.startswith("/static/") for src in sources), sources


def _schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(json.loads(response.content))


def _error_statuses(operation: dict[str, Any]) -> set[str]:
    return {code for code in operation["responses"] if code.startswith("4")}


@pytest.mark.django_db
def test_every_api_operation_documents_its_error_answers(client: Client) -> None:
    schema = _schema(client)
    paths = schema["paths"]
    error_schema = schema["components"]["schemas"]["AzureErrorResponse"]
    assert error_schema["required"] == ["error"]
    for path, item in paths.items():
        for method, operation in item.items():
            if not path.startswith(("/language/", "/api/v1/")):
                continue
            documented = _error_statuses(operation)
            assert {"400", "401"} <= documented, (method, path, documented)
            for code in documented:
                content = operation["responses"][code]["content"]
                assert content["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/AzureErrorResponse"
                }, (method, path, code)
            if "{project_name}" in path:
                assert {"403", "404"} <= documented, (method, path)
            if method in {"post", "put", "patch"}:
                assert "413" in documented, (method, path)
            if "202" in operation["responses"]:
                assert "409" in documented, (method, path)


@pytest.mark.django_db
def test_specific_error_answers_are_documented(client: Client) -> None:
    paths = _schema(client)["paths"]
    project = "/language/authoring/analyze-conversations/projects/{project_name}"
    kb = "/language/authoring/query-knowledgebases/projects/{project_name}"
    # Creating a project under a name that another kind of project holds.
    assert "409" in paths[project]["patch"]["responses"]
    assert "409" in paths[kb]["patch"]["responses"]
    for runtime in (":analyze-conversations", ":query-knowledgebases"):
        documented = _error_statuses(paths[f"/language/{runtime}"]["post"])
        assert {"400", "401", "403", "404", "413", "429"} <= documented, runtime
    # Lists of things every key may read: no project, nothing to forbid or miss.
    listing = paths["/language/authoring/analyze-conversations/projects"]["get"]
    assert _error_statuses(listing) == {"400", "401"}
