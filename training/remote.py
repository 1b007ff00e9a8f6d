"""A client of a deployment resource's authoring REST API: the few calls that copy a
deployment there (import, train, deploy) or take it away (delete a deployment).

A resource is another Orchestration Studio or an Azure AI Language resource; both
serve ``/language/authoring/analyze-conversations`` at api-version ``2023-04-01``,
so one client serves both. Every call goes through ``studio.outbound`` (the target
policy: public addresses only unless ``STUDIO_TARGET_ALLOWED_HOSTS`` allows the
host, no redirects, a deadline, a size cap). The key is decrypted just before the
call and sent as ``Ocp-Apim-Subscription-Key``. A job's ``Operation-Location`` is
followed only on the resource's own scheme, host and port: a resource cannot send
the studio (and its key) elsewhere.

Every failure is a ``RemoteFailure`` whose message names the resource and says what
went wrong in words an admin can act on (unreachable, key refused, the resource's
own error message); nothing about the network beyond that (``studio.outbound``).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from django.conf import settings

from studio.crypto import SecretUnreadable, secret_decrypt
from studio.errors import clip
from studio.outbound import OutboundError, Reply, exchange
from training.models import DeploymentResource

API = "/language/authoring/analyze-conversations"
API_VERSION = "2023-04-01"
# Status strings of a finished Azure job.
_FINISHED = {"succeeded", "failed", "cancelled", "canceled", "partiallyCompleted"}


class RemoteFailure(Exception):
    """A call to a resource did not do what it should; ``message`` says why."""

    def __init__(self, message: str, *, code: str = "InternalServerError") -> None:
        super().__init__(message)
        self.message = clip(message)
        self.code = code


def _request_timeout() -> float:
    return float(getattr(settings, "STUDIO_RESOURCE_REQUEST_TIMEOUT_SECONDS", 30))


def _job_timeout() -> float:
    return float(getattr(settings, "STUDIO_RESOURCE_JOB_TIMEOUT_SECONDS", 3600))


def _poll_seconds() -> float:
    return float(getattr(settings, "STUDIO_RESOURCE_POLL_SECONDS", 2))


def _error_text(reply: Reply) -> str:
    """The resource's own error message, from Azure's error shape if it has one."""
    try:
        body = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    code, message = error.get("code"), error.get("message")
    text = ": ".join(str(part) for part in (code, message) if part)
    return clip(text, 400)


class RemoteClient:
    """Calls to one resource. ``tick`` is called while waiting for a remote job
    (the caller's cancel check); it may raise to stop waiting."""

    def __init__(
        self,
        resource: DeploymentResource,
        *,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.resource = resource
        self.name = resource.azure_resource_id
        self.base = resource.endpoint.rstrip("/")
        self.tick = tick or (lambda: None)
        self._origin = self._origin_of(self.base)

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str, int | None]:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        scheme = parts.scheme.lower()
        default = 443 if scheme == "https" else 80
        return scheme, (parts.hostname or "").lower(), port or default

    def _key(self) -> str:
        try:
            return secret_decrypt(self.resource.key_sealed)
        except SecretUnreadable as exc:
            raise RemoteFailure(
                f"The key of resource {self.name!r} cannot be decrypted: {exc}"
            ) from None

    def _url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base}{API}{path}{separator}api-version={API_VERSION}"

    def _send(self, method: str, url: str, *, body: Any = None, what: str) -> Reply:
        headers = {
            "Ocp-Apim-Subscription-Key": self._key(),
            "Accept": "application/json",
        }
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        timeout = _request_timeout()
        try:
            reply = exchange(
                method,
                url,
                headers=headers,
                body=data,
                timeout=timeout,
                max_bytes=8 * 1024 * 1024,
            )
        except OutboundError as exc:
            if exc.code == "Timeout":
                raise RemoteFailure(
                    f"Resource {self.name!r} did not answer {what} within "
                    f"{timeout:g} s.",
                    code="Timeout",
                ) from None
            if exc.code == "ServiceUnavailable":
                raise RemoteFailure(
                    f"Resource {self.name!r} ({self._origin[1]}) could not be "
                    "reached: it is down, or its endpoint is not allowed by the "
                    "studio's outbound policy (STUDIO_TARGET_ALLOWED_HOSTS).",
                    code="ServiceUnavailable",
                ) from None
            raise RemoteFailure(
                f"Resource {self.name!r}: {exc.message}", code=exc.code
            ) from None
        if reply.status in (401, 403):
            raise RemoteFailure(
                f"Resource {self.name!r} refused the key (HTTP {reply.status}) "
                f"{what}; check the key registered for it.",
                code="Unauthorized",
            )
        return reply

    def _expect(self, reply: Reply, statuses: tuple[int, ...], what: str) -> None:
        if reply.status in statuses:
            return
        detail = _error_text(reply)
        raise RemoteFailure(
            f"Resource {self.name!r} answered HTTP {reply.status} {what}"
            + (f": {detail}" if detail else "."),
        )

    def _json(self, reply: Reply, what: str) -> dict[str, Any]:
        try:
            body = json.loads(reply.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise RemoteFailure(
                f"Resource {self.name!r} answered {what} with something that is not "
                "a JSON object."
            )
        return body

    # --- calls ------------------------------------------------------------------

    def check(self) -> None:
        """The resource answers with this key (one cheap authenticated read)."""
        reply = self._send(
            "GET", self._url("/projects?top=1"), what="to a list of its projects"
        )
        self._expect(reply, (200,), "to a list of its projects")

    def project_exists(self, project: str) -> bool:
        reply = self._send(
            "GET", self._url(f"/projects/{_quote(project)}"), what="to a project read"
        )
        if reply.status == 404:
            return False
        self._expect(reply, (200,), f"to a read of project {project!r}")
        return True

    def project_import(self, project: str, document: dict[str, Any]) -> None:
        what = f"to the import of project {project!r}"
        reply = self._send(
            "POST",
            self._url(f"/projects/{_quote(project)}/:import"),
            body=document,
            what=what,
        )
        self._expect(reply, (202,), what)
        self._wait(reply, what=f"The import of project {project!r}")

    def train(
        self,
        project: str,
        *,
        label: str,
        training_mode: str,
        evaluation_options: dict[str, Any],
    ) -> None:
        what = f"to the training of {project!r} as model {label!r}"
        body: dict[str, Any] = {"modelLabel": label, "trainingMode": training_mode}
        if evaluation_options:
            body["evaluationOptions"] = evaluation_options
        url = self._url(f"/projects/{_quote(project)}/:train")
        reply = self._send("POST", url, body=body, what=what)
        self._expect(reply, (202,), what)
        self._wait(reply, what=f"The training of model {label!r}")

    def deploy(self, project: str, *, deployment: str, label: str) -> None:
        what = f"to the deployment {deployment!r} of {project!r}"
        reply = self._send(
            "PUT",
            self._url(f"/projects/{_quote(project)}/deployments/{_quote(deployment)}"),
            body={"trainedModelLabel": label},
            what=what,
        )
        self._expect(reply, (200, 201, 202), what)
        if reply.status == 202:
            self._wait(reply, what=f"The deployment {deployment!r}")

    def deployment_delete(self, project: str, *, deployment: str) -> bool:
        """Delete the deployment there; False when it (or the project) was not
        there to begin with, which is what was wanted."""
        what = f"to the deletion of deployment {deployment!r} of {project!r}"
        reply = self._send(
            "DELETE",
            self._url(f"/projects/{_quote(project)}/deployments/{_quote(deployment)}"),
            what=what,
        )
        if reply.status == 404:
            return False
        self._expect(reply, (200, 202, 204), what)
        if reply.status == 202:
            self._wait(reply, what=f"The deletion of deployment {deployment!r}")
        return True

    # --- jobs -------------------------------------------------------------------

    def _job_url(self, reply: Reply) -> str:
        location = reply.headers.get("operation-location", "")
        if not location:
            raise RemoteFailure(
                f"Resource {self.name!r} accepted the request but gave no "
                "Operation-Location to follow."
            )
        if self._origin_of(location) != self._origin:
            raise RemoteFailure(
                f"Resource {self.name!r} gave a job URL on another host; the studio "
                "follows job URLs on the resource's own endpoint only."
            )
        return location

    def _wait(self, accepted: Reply, *, what: str) -> None:
        url = self._job_url(accepted)
        deadline = time.monotonic() + _job_timeout()
        while True:
            self.tick()
            reply = self._send("GET", url, what="to a job status read")
            self._expect(reply, (200,), "to a job status read")
            job = self._json(reply, "a job status read")
            status = str(job.get("status", ""))
            if status == "succeeded":
                return
            if status in _FINISHED:
                errors = job.get("errors") or []
                texts = [
                    ": ".join(str(p) for p in (e.get("code"), e.get("message")) if p)
                    for e in errors
                    if isinstance(e, dict)
                ]
                reason = "; ".join(t for t in texts if t) or "no reason given"
                raise RemoteFailure(
                    f"{what} ended {status} on resource {self.name!r}: "
                    f"{clip(reason, 600)}"
                )
            if time.monotonic() > deadline:
                raise RemoteFailure(
                    f"{what} on resource {self.name!r} did not finish within "
                    f"{_job_timeout():g} s.",
                    code="Timeout",
                )
            time.sleep(_poll_seconds())


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
