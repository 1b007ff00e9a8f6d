"""The OpenAPI schema's error answers (drf-spectacular's ``DEFAULT_SCHEMA_CLASS``).

Every Azure-compatible operation documents the 4xx answers it can give, in Azure's
error shape (``studio.errors``), so clients and fuzzers know them. Which ones follow
from rules that hold for every ``AzureApiView``:

* 400: always (``api-version`` is checked on every call, and bodies and queries);
* 401: always (the ``Ocp-Apim-Subscription-Key`` header);
* 403 and 404: the path names a project or a job (a user key's role; an unknown
  project, job, model...), 404 also for any other path parameter;
* 409: operations that queue a job (202): one import/deletion, training or
  deployment change per project at a time (and the deploy gate's refusal);
* 413: operations that take a body (``STUDIO_MAX_REQUEST_BYTES``).

A view adds the others it gives (say 429 of the runtime's rate limit) through
``schema_error_statuses``, or lists an error in its ``extend_schema(responses=...)``
(a 409 of creating a project under a name another kind holds, the 412 of
``If-Match``); every 4xx entry gets the error body here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR_COMPONENT = "AzureErrorResponse"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
ERROR_DESCRIPTIONS = {
    400: "Invalid request: missing or unsupported api-version, or a body or query "
    "parameter that breaks a rule (the error names it in target).",
    401: "The Ocp-Apim-Subscription-Key header is missing, unknown or revoked.",
    403: "The key's user may not do this in the project (its role is too low).",
    404: "The project, job, model, deployment or item does not exist (or is not "
    "visible to the key's user).",
    409: "Another job that changes the project is queued or running, the name "
    "is taken by another kind of project, or (deploy, swap) the project's deploy "
    "gate blocks a model worse than the one serving.",
    412: "If-Match names a version the resource no longer has.",
    413: "The request body is larger than STUDIO_MAX_REQUEST_BYTES.",
    429: "Too many predictions for this key this minute (see Retry-After).",
}
BODY_METHODS = {"POST", "PUT", "PATCH"}
_INNER_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "target": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "target": {"type": "string"},
                    "innererror": _INNER_ERROR,
                },
            },
        },
        "innererror": _INNER_ERROR,
    },
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Azure's error body (ErrorResponse).",
    "required": ["error"],
    "properties": {"error": _ERROR},
}


def error_statuses(*, path: str, method: str, success: set[str]) -> set[int]:
    """The 4xx answers an Azure-compatible operation can give (module docstring)."""
    statuses = {400, 401}
    if "{project_name}" in path or "{job_id}" in path:
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    if "202" in success:
        statuses.add(409)
    if method in BODY_METHODS:
        statuses.add(413)
    return statuses


class AzureAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the 4xx answers of Azure-compatible views."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        from studio.api.views import AzureApiView  # views import the schema class

        if direction != "response" or not isinstance(self.view, AzureApiView):
            return responses
        statuses = error_statuses(
            path=self.path, method=self.method, success=set(responses)
        )
        statuses |= set(getattr(self.view, "schema_error_statuses", ()))
        for status in statuses:
            responses.setdefault(str(status), {})
        self.registry.register_on_missing(
            ResolvedComponent(
                name=ERROR_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                schema=ERROR_SCHEMA,
                object=ERROR_COMPONENT,
            )
        )
        for code, response in responses.items():
            if code.startswith("4"):
                # Every 4xx is rendered by studio.api.errors in Azure's shape,
                # whatever body a view's extend_schema named.
                if not response.get("description"):
                    response["description"] = ERROR_DESCRIPTIONS.get(int(code), "")
                response["content"] = {"application/json": {"schema": ERROR_REF}}
        return dict(sorted(responses.items()))
