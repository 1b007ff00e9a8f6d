from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from django.test.utils import override_settings
from django.urls import path
from django.utils import timezone

from studio import health
from studio.models import WorkerHeartbeat
from tests.conftest import (
    REPO_ROOT,
    LiveStudio,
    free_port,
    http_get_json,
    require_redis,
)

# Only the ops routes (studio/urls.py's ops_patterns, without the root URLconf's
# imports of every app): /healthz must answer even when the API modules are broken.
urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("ping", health.ping, name="ping"),
]


@pytest.fixture(autouse=True)
def ops_urls_only(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def filesystem_broker(tmp_path: Path) -> Any:
    folders = {
        "data_folder_in": tmp_path / "out",
        "data_folder_out": tmp_path / "out",
        "processed_folder": tmp_path / "processed",
        "control_folder": tmp_path / "control",
    }
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    options = {key: str(value) for key, value in folders.items()}
    with override_settings(
        CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=options
    ):
        yield folders


def beat(
    age_seconds: float, hostname: str = "celery@test", queues: str = ""
) -> WorkerHeartbeat:
    now = timezone.now()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": 123,
            "started_at": now - timedelta(hours=1),
            "last_seen_at": now - timedelta(seconds=age_seconds),
            "queues": queues,
        },
    )
    return heartbeat


def get_healthz(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(response.content)


@pytest.mark.django_db
def test_healthz_is_200_with_database_broker_and_a_fresh_worker(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    beat(age_seconds=2)

    status, body = get_healthz(client)

    assert status == 200
    assert body["status"] == "healthy"
    assert body["down"] == []
    assert body["database"]["status"] == "up"
    assert body["broker"] == {"transport": "filesystem", "status": "up"}
    assert body["workers"]["status"] == "up"
    assert body["workers"]["alive"] == 1


@pytest.mark.django_db
def test_healthz_needs_no_api_key_and_reveals_no_hostnames(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    beat(age_seconds=1, hostname="celery@secret-host-name")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert b"secret-host-name" not in response.content
    assert str(filesystem_broker["data_folder_in"]).encode() not in response.content


@pytest.mark.django_db
def test_healthz_is_200_degraded_naming_workers_when_the_only_heartbeat_is_stale(
    client: Client, filesystem_broker: dict[str, Path], settings: Any
) -> None:
    settings.STUDIO_WORKER_STALE_SECONDS = 30
    beat(age_seconds=31)

    status, body = get_healthz(client)

    # The web process still serves predictions: a load balancer must keep it.
    assert status == 200
    assert body["status"] == "degraded"
    assert body["down"] == ["workers"]
    assert body["workers"]["alive"] == 0
    assert "30 s" in body["workers"]["error"]
    assert body["workers"]["lastHeartbeatDateTime"].endswith("Z")


@pytest.mark.django_db
def test_healthz_is_degraded_when_no_worker_ever_reported(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    status, body = get_healthz(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["down"] == ["workers"]
    assert body["workers"]["error"] == "no worker has ever reported"


@pytest.mark.django_db
def test_healthz_counts_only_fresh_workers(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    beat(age_seconds=1, hostname="celery@a")
    beat(age_seconds=3600, hostname="celery@b")
    beat(age_seconds=2, hostname="celery@c")

    status, body = get_healthz(client)

    assert status == 200
    assert body["workers"]["alive"] == 2


@pytest.mark.django_db
def test_healthz_is_degraded_naming_the_broker_when_a_broker_folder_is_missing(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    beat(age_seconds=1)
    filesystem_broker["processed_folder"].rmdir()

    status, body = get_healthz(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["down"] == ["broker"]
    assert body["broker"]["status"] == "down"
    assert "'processed' is missing" in body["broker"]["error"]


@pytest.mark.django_db
def test_healthz_is_degraded_naming_the_broker_when_redis_does_not_answer(
    client: Client,
) -> None:
    beat(age_seconds=1)
    # Nothing listens on a port that was just free: connection refused at once.
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):
        status, body = get_healthz(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["down"] == ["broker"]
    assert body["broker"]["transport"] == "redis"
    assert body["broker"]["error"].startswith("not reachable")


@pytest.mark.django_db
def test_healthz_reports_a_reachable_redis_broker_as_up(client: Client) -> None:
    url = require_redis()
    beat(age_seconds=1)
    with override_settings(CELERY_BROKER_URL=f"{url}/0"):
        status, body = get_healthz(client)

    assert status == 200
    assert body["broker"] == {"transport": "redis", "status": "up"}


class FailingConnection:
    """Stands in for ``django.db.connection`` when the database server is gone."""

    vendor = "postgresql"

    @contextlib.contextmanager
    def cursor(self) -> Any:
        raise OperationalError("connection refused")
        yield


@pytest.mark.django_db
def test_healthz_is_503_naming_the_database_when_it_does_not_answer(
    client: Client, filesystem_broker: dict[str, Path], monkeypatch: Any
) -> None:
    beat(age_seconds=1)
    monkeypatch.setattr(health, "connection", FailingConnection())

    status, body = get_healthz(client)

    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["down"] == ["database"]
    assert body["database"] == {
        "status": "down",
        "error": "query failed (OperationalError)",
    }


@pytest.mark.django_db
def test_healthz_is_degraded_naming_the_queue_no_live_worker_consumes(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    beat(age_seconds=1, hostname="short@host", queues="short")
    beat(age_seconds=3600, hostname="long@host", queues="long")

    status, body = get_healthz(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["down"] == ["workers"]
    assert body["workers"]["queues"] == {"long": 0, "short": 1}
    assert body["workers"]["error"].endswith("for the long queue")


@pytest.mark.django_db
def test_healthz_is_healthy_with_a_live_worker_per_queue(
    client: Client, filesystem_broker: dict[str, Path]
) -> None:
    beat(age_seconds=1, hostname="short@host", queues="short")
    beat(age_seconds=2, hostname="long@host", queues="long")

    status, body = get_healthz(client)

    assert status == 200
    assert body["status"] == "healthy"
    assert body["workers"]["queues"] == {"long": 1, "short": 1}


@pytest.mark.django_db
def test_healthz_refuses_other_methods(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


@pytest.mark.integration
def test_live_studio_is_healthy_over_postgresql_redis_and_a_worker_process(
    live_studio: LiveStudio,
) -> None:
    status, body = http_get_json(f"{live_studio.url}/healthz")

    assert status == 200, body
    assert body["database"] == {"status": "up", "vendor": "postgresql"}
    assert body["broker"] == {"transport": "redis", "status": "up"}
    assert body["workers"]["alive"] >= 1
    assert live_studio.api_key
    assert live_studio.worker_pid > 0


@pytest.mark.integration
def test_live_studio_restart_worker_brings_a_new_beating_worker(
    live_studio: LiveStudio,
) -> None:
    old_pid = live_studio.worker_pid

    live_studio.restart_worker()

    assert live_studio.worker_pid != old_pid
    rows = live_studio.database_query(
        "SELECT pid FROM studio_workerheartbeat WHERE pid = %s", (old_pid,)
    )
    # A warm shutdown removes the old worker's heartbeat row.
    assert rows == []
    status, body = http_get_json(f"{live_studio.url}/healthz")
    assert status == 200, body


@pytest.mark.integration
def test_live_studio_manage_runs_commands_against_its_database(
    live_studio: LiveStudio,
) -> None:
    result = live_studio.manage("createapikey", "second-key")

    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key != live_studio.api_key
    rows = live_studio.database_query("SELECT count(*) FROM studio_apikey")
    assert rows[0][0] >= 2


@pytest.mark.integration
def test_container_healthcheck_script_passes_on_a_healthy_studio_only(
    live_studio: LiveStudio,
) -> None:
    script = str(REPO_ROOT / "scripts" / "healthcheck")
    port = live_studio.url.rsplit(":", 1)[1]
    env = {"PATH": os.environ["PATH"], "ALLOWED_HOSTS": ".example.org,localhost"}

    # The first allowed host is a wildcard domain: sent as example.org, refused (400).
    refused = subprocess.run(
        [sys.executable, script],
        env={**env, "PORT": port},
        capture_output=True,
        text=True,
        timeout=30,
    )
    healthy = subprocess.run(
        [sys.executable, script],
        env={**env, "PORT": port, "ALLOWED_HOSTS": "localhost"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    closed = subprocess.run(
        [sys.executable, script],
        env={**env, "PORT": str(free_port()), "ALLOWED_HOSTS": "localhost"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert refused.returncode == 1
    assert healthy.returncode == 0, healthy.stderr
    assert closed.returncode == 1
    assert "healthz:" in closed.stderr
