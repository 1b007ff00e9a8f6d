"""A stand-in deployment resource: a loopback HTTP server speaking the subset of the
authoring API a copy uses (list and read projects, ``:import``, ``:train``, deploy,
delete a deployment, their job URLs), checking the key like a real one.

``fail`` makes one step's job end ``failed`` (``{"train": "..."}``) or one call
answer an HTTP status (``{"import-status": 409}``); ``close()`` takes it down.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "/language/authoring/analyze-conversations"


class RemoteStub:
    def __init__(self, *, key: str = "remote-key") -> None:
        self.key = key
        self.projects: dict[str, dict[str, Any]] = {}
        self.models: dict[tuple[str, str], dict[str, Any]] = {}
        self.deployments: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, Any] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(
                self,
                status: int,
                body: Any = None,
                headers: dict[str, str] | None = None,
            ) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                path = self.path.split("?")[0]
                owner.calls.append((method, path))
                if self.headers.get("Ocp-Apim-Subscription-Key") != owner.key:
                    self._answer(401, {"error": {"code": "401", "message": "bad key"}})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, answer, headers = owner.route(method, path, body, self)
                self._answer(status, answer, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _job(self, step: str, apply: Any) -> tuple[int, Any, dict[str, str]]:
        if f"{step}-status" in self.fail:
            status = int(self.fail[f"{step}-status"])
            return status, {"error": {"code": "Conflict", "message": "busy"}}, {}
        job_id = str(next(self._ids))
        if step in self.fail:
            self.jobs[job_id] = {
                "status": "failed",
                "errors": [{"code": "InvalidArgument", "message": self.fail[step]}],
            }
        else:
            apply()
            self.jobs[job_id] = {"status": "succeeded", "errors": []}
        location = f"{self.url}{API}/jobs/{job_id}?api-version=2023-04-01"
        return 202, None, {"Operation-Location": location}

    def route(
        self, method: str, path: str, body: Any, handler: Any
    ) -> tuple[int, Any, dict[str, str]]:
        rest = path[len(API) :]
        if method == "GET" and rest == "/projects":
            return 200, {"value": [{"projectName": p} for p in self.projects]}, {}
        if method == "GET" and (m := re.fullmatch(r"/jobs/(\d+)", rest)):
            job = self.jobs[m.group(1)]
            return 200, {"jobId": m.group(1), **job}, {}
        if m := re.fullmatch(r"/projects/([^/]+)", rest):
            project = m.group(1)
            if project in self.projects:
                return 200, {"projectName": project}, {}
            return 404, {"error": {"code": "ProjectNotFound", "message": "no"}}, {}
        if m := re.fullmatch(r"/projects/([^/]+)/:import", rest):
            project = m.group(1)
            return self._job("import", lambda: self.projects.__setitem__(project, body))
        if m := re.fullmatch(r"/projects/([^/]+)/:train", rest):
            project = m.group(1)
            return self._job(
                "train",
                lambda: self.models.__setitem__((project, body["modelLabel"]), body),
            )
        if m := re.fullmatch(r"/projects/([^/]+)/deployments/([^/]+)", rest):
            project, name = m.group(1), m.group(2)
            if method == "PUT":
                label = body["trainedModelLabel"]
                return self._job(
                    "deploy",
                    lambda: self.deployments.__setitem__((project, name), label),
                )
            if method == "DELETE":
                if (project, name) not in self.deployments:
                    return 404, {"error": {"code": "NotFound", "message": "no"}}, {}
                return self._job(
                    "delete", lambda: self.deployments.pop((project, name), None)
                )
        return 404, {"error": {"code": "NotFound", "message": path}}, {}
