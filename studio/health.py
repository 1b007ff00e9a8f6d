"""``GET /healthz``: is this studio able to do its work right now?

Three parts, each ``up`` or ``down``: the database answers a query, the Celery broker
is reachable, and every job queue (``long``, ``short``: studio/queues.py) has a
worker that wrote its heartbeat recently (studio/worker.py). Higher apps add parts
with ``health_check_register`` (training: ``deployments``, down when a deployment's
model cannot load on this server for a missing file); such a part down makes the
verdict ``degraded``. Worker liveness is read
from heartbeat rows, never from Celery's remote-control ping, which the embedded
filesystem transport does not support.

The verdict (``status``), with ``down`` naming the failing parts:

* ``healthy`` (200): every part is up.
* ``degraded`` (200): the database is up but the broker, a queue's workers or a
  registered part are not. This web process still serves predictions and
  authoring reads; jobs wait (or cannot be queued) until the workers come back.
  200 on purpose: a load balancer takes a backend that answers 503 out of
  rotation, which would stop predictions for a reason that does not concern
  them (a deployment that cannot load its model answers 503 on its own).
  Whoever needs "jobs run" reads ``status`` (or probes the workers: their
  container health check).
* ``unhealthy`` (503): the database does not answer; nothing works.

No authentication: load balancers and container runtimes call it; it reveals no
names, hosts or credentials. ``GET /ping`` (``ping``) is the framework floor of the
HTTP benchmark.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from studio.models import WorkerHeartbeat
from studio.selectors.workers import consumes, live_worker_queues

# Seconds: a health probe must answer quickly even when a service hangs.
PROBE_TIMEOUT = 1.0

_redis_clients: dict[str, Any] = {}
_extra_checks: dict[str, Callable[[], dict[str, Any]]] = {}


def health_check_register(name: str, check: Callable[[], dict[str, Any]]) -> None:
    """Add a part to ``/healthz`` (called by a higher app's ``ready``): ``check``
    returns ``{"status": "up" | "down", ...}`` and names nothing private."""
    _extra_checks[name] = check


_redis_lock = threading.Lock()


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"status": "down", "error": f"query failed ({type(exc).__name__})"}
    return {"status": "up", "vendor": connection.vendor}


def _redis_client(url: str) -> Any:
    """One client (with its connection pool) per URL, so probes reuse connections."""
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
            )
            _redis_clients[url] = client
        return client


def _folder_problem(path: Path) -> str | None:
    if not path.is_dir():
        return f"folder {path.name!r} is missing"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"folder {path.name!r} is not writable"
    return None


def check_broker() -> dict[str, Any]:
    url: str = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme or url.split(":", 1)[0]
    state: dict[str, Any] = {"transport": scheme}
    if scheme == "filesystem":
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        folders = {
            options.get(key)
            for key in (
                "data_folder_in",
                "data_folder_out",
                "processed_folder",
                "control_folder",
            )
        }
        problems = [
            problem
            for folder in sorted(f for f in folders if f)
            if (problem := _folder_problem(Path(folder))) is not None
        ]
        if not folders - {None}:
            problems.append("no broker folders are configured")
        if problems:
            return {**state, "status": "down", "error": "; ".join(problems)}
        return {**state, "status": "up"}
    if scheme in {"redis", "rediss"}:
        import redis

        try:
            _redis_client(url).ping()
        except (redis.RedisError, OSError) as exc:
            return {**state, "status": "down", "error": _unreachable(exc)}
        return {**state, "status": "up"}
    # Any other kombu transport (e.g. amqp): open and close one connection.
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=PROBE_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=1, timeout=int(PROBE_TIMEOUT) or 1)
    except Exception as exc:  # noqa: BLE001 - every transport raises its own types
        return {**state, "status": "down", "error": _unreachable(exc)}
    return {**state, "status": "up"}


def _unreachable(exc: BaseException) -> str:
    return f"not reachable ({type(exc).__name__})"


def check_workers() -> dict[str, Any]:
    """Live workers in all, and per queue; ``down`` when a queue has none."""
    from studio.queues import QUEUES

    stale_after = int(settings.STUDIO_WORKER_STALE_SECONDS)
    try:
        latest = WorkerHeartbeat.objects.order_by("-last_seen_at").first()
        live = live_worker_queues()
    except DatabaseError as exc:
        return {
            "status": "down",
            "alive": 0,
            "error": f"heartbeats unreadable ({type(exc).__name__})",
        }
    per_queue = {
        queue: sum(1 for names in live if consumes(names, queue)) for queue in QUEUES
    }
    idle = [queue for queue, count in per_queue.items() if not count]
    state: dict[str, Any] = {
        "status": "down" if idle else "up",
        "alive": len(live),
        "queues": per_queue,
        "staleAfterSeconds": stale_after,
        "lastHeartbeatDateTime": (
            latest.last_seen_at.isoformat().replace("+00:00", "Z") if latest else None
        ),
    }
    if not live:
        state["error"] = (
            f"no worker heartbeat in the last {stale_after} s"
            if latest
            else "no worker has ever reported"
        )
    elif idle:
        state["error"] = (
            f"no worker heartbeat in the last {stale_after} s for the "
            + " and ".join(idle)
            + " queue"
            + ("s" if len(idle) > 1 else "")
        )
    return state


def health_report() -> tuple[int, dict[str, Any]]:
    """The HTTP status and body of ``/healthz`` (see the module doc)."""
    parts = {
        "database": check_database(),
        "broker": check_broker(),
        "workers": check_workers(),
    }
    if parts["database"]["status"] == "up":
        # Registered parts read the database: without it they say nothing new.
        for name, check in _extra_checks.items():
            try:
                parts[name] = check()
            except DatabaseError as exc:
                parts[name] = {"status": "down", "error": f"{type(exc).__name__}"}
    down = [name for name, state in parts.items() if state["status"] != "up"]
    if "database" in down:
        verdict, status = "unhealthy", 503
    elif down:
        verdict, status = "degraded", 200
    else:
        verdict, status = "healthy", 200
    body: dict[str, Any] = {"status": verdict, "down": down}
    body.update(parts)
    return status, body


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    status, body = health_report()
    return JsonResponse(body, status=status)


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    """A trivial JSON answer through the full middleware stack and nothing else.

    ``bench/http.py`` measures it beside the prediction endpoint as the framework
    floor: what gunicorn + Django cost before any studio code runs. Public (like
    ``/healthz``) because it reveals nothing and touches no database.
    """
    return JsonResponse({"status": "ok"})
