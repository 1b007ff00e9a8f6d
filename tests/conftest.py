"""The shared test harness.

* ``shared_data``: the read-only data folder beside the repository.
* ``require_postgres()`` / ``require_redis()``: skip when a service is missing, or fail
  when ``STUDIO_REQUIRE_SERVICES=1`` (CI) so that nothing is silently skipped there.
* ``live_studio``: a production-style studio made of real local processes (gunicorn,
  a Celery worker, PostgreSQL, Redis) for integration and SDK-compatibility tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from studio.processes import web_command, worker_command

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "STUDIO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STUDIO_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# A Redis database of its own; the per-run key prefix keeps parallel runs apart.
REDIS_DB = 11


def services_required() -> bool:
    return os.environ.get("STUDIO_REQUIRE_SERVICES", "") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose optional service or data is missing; in CI, fail instead."""
    if services_required():
        pytest.fail(f"{reason} (STUDIO_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


def shared_data_dir() -> Path:
    override = os.environ.get("STUDIO_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


def require_shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        skip_or_fail(
            f"shared data folder {path} is absent "
            "(set STUDIO_SHARED_DATA to its location)"
        )
    return path


def require_postgres() -> str:
    """The admin URL of a reachable PostgreSQL server."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    return POSTGRES_ADMIN_URL


def require_redis() -> str:
    """The URL of a reachable Redis server (without a database number)."""
    import redis

    try:
        client = redis.Redis.from_url(
            REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        client.ping()
        client.close()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(autouse=True)
def web_process_encode_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts as a web process does: batch encoding on one thread. A
    test that plays a worker (which sets every core) would otherwise leave its
    count to the tests after it; monkeypatch restores it."""
    from training.engine import embeddings

    monkeypatch.setattr(embeddings, "_encode_threads", 1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared_data()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get_json(url: str, *, timeout: float = 5) -> tuple[int, Any]:
    """GET ``url``; the status and decoded JSON body, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, body.decode(errors="replace")


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM a process started in its own session (and its children), then KILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # Pool children left behind by a killed parent.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class LiveStudio:
    """A running studio: gunicorn + one Celery worker over PostgreSQL and Redis."""

    url: str
    api_key: str
    env: dict[str, str]
    database_name: str
    log_dir: Path
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    worker_starts: int = 0
    _postgres_admin_url: str = field(default=POSTGRES_ADMIN_URL, repr=False)

    @property
    def worker_pid(self) -> int:
        assert self.worker is not None
        return self.worker.pid

    @property
    def web_log(self) -> Path:
        return self.log_dir / "web.log"

    @property
    def worker_log(self) -> Path:
        return self.log_dir / "worker.log"

    def manage(
        self, *args: str, check: bool = False, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py`` with the studio's environment."""
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def database_query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of a read query against the studio's own database."""
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def describe_logs(self) -> str:
        return (
            f"web log: {self.web_log}\n{log_tail(self.web_log)}\n\n"
            f"worker log: {self.worker_log}\n{log_tail(self.worker_log)}"
        )

    def start_web(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        with self.web_log.open("ab") as log:
            self.web = subprocess.Popen(
                web_command(host="127.0.0.1", port=int(port), workers=2),
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_worker(self) -> None:
        self.worker_starts += 1
        with self.worker_log.open("ab") as log:
            self.worker = subprocess.Popen(
                worker_command(
                    concurrency=1,
                    hostname=f"{self.database_name}-{self.worker_starts}@%h",
                ),
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session, so that the pool children can be signalled with it.
                start_new_session=True,
            )

    def wait_until_healthy(self, *, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, process in (("web", self.web), ("worker", self.worker)):
                if process is not None and process.poll() is not None:
                    raise RuntimeError(
                        f"live_studio: the {name} process exited with "
                        f"{process.returncode}.\n{self.describe_logs()}"
                    )
            with contextlib.suppress(OSError):
                status, last = http_get_json(f"{self.url}/healthz", timeout=3)
                # 200 also means "degraded" (no live worker): wait for every part.
                if status == 200 and last.get("status") == "healthy":
                    return dict(last)
            time.sleep(0.3)
        raise RuntimeError(
            f"live_studio: /healthz not 200 after {timeout:.0f}s (last answer: {last})."
            f"\n{self.describe_logs()}"
        )

    def wait_for_worker_heartbeat(self, pid: int, *, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.worker is not None
            if self.worker.poll() is not None:
                raise RuntimeError(
                    f"live_studio: the worker exited with {self.worker.returncode}."
                    f"\n{self.describe_logs()}"
                )
            rows = self.database_query(
                "SELECT 1 FROM studio_workerheartbeat WHERE pid = %s "
                "AND last_seen_at > now() - interval '5 seconds'",
                (pid,),
            )
            if rows:
                return
            time.sleep(0.3)
        raise RuntimeError(
            f"live_studio: no heartbeat from worker pid {pid} after {timeout:.0f}s."
            f"\n{self.describe_logs()}"
        )

    def stop_worker(self, *, kill: bool = False) -> None:
        """Stop the worker: warm shutdown (SIGTERM), or SIGKILL to simulate a crash."""
        if self.worker is None:
            return
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)
        else:
            stop_process_group(self.worker, timeout=30)

    def restart_worker(self, *, kill: bool = False) -> None:
        """Replace the worker by a new process and wait until it beats."""
        self.stop_worker(kill=kill)
        self.start_worker()
        self.wait_for_worker_heartbeat(self.worker_pid)

    def close(self) -> None:
        for process in (self.web, self.worker):
            if process is not None:
                stop_process_group(process, timeout=20)


_active_studio: LiveStudio | None = None


def _create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is our own [a-z0-9_] token


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _delete_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}", socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


def live_studio_env(
    *, database_url: str, redis_prefix: str, var_dir: Path
) -> dict[str, str]:
    """The production-style environment of the integration studio."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing from the developer's shell may turn this into another setup.
        if not key.startswith(("DJANGO_", "CELERY_", "STUDIO_", "SECURE_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEBUG", "SECRET_KEY"}
    }
    redis_db_url = f"{REDIS_URL}/{REDIS_DB}"
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_db_url,
            "CELERY_BROKER_KEY_PREFIX": f"{redis_prefix}:broker:",
            "CACHE_KEY_PREFIX": f"{redis_prefix}:cache",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STUDIO_VAR_DIR": str(var_dir),
            # Standard training would have the worker distill the static word
            # vector table (a minute of CPU) in the background of every run.
            "STUDIO_STATIC_VECTORS": "off",
            # The tests' orchestration targets listen on loopback, which the
            # studio refuses unless allowed (README, "Security").
            "STUDIO_TARGET_ALLOWED_HOSTS": "127.0.0.1",
            # Quick beats so that tests do not wait long for a (re)started worker,
            # and the jobs of a killed worker fail within ~20 s instead of minutes.
            "STUDIO_WORKER_HEARTBEAT_SECONDS": "1",
            "STUDIO_WORKER_STALE_SECONDS": "10",
            "STUDIO_JOB_HEARTBEAT_SECONDS": "1",
            "STUDIO_JOB_STALE_SECONDS": "15",
            "STUDIO_JOB_SWEEP_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def live_studio() -> Iterator[LiveStudio]:
    global _active_studio
    with live_studio_running() as studio:
        _active_studio = studio
        try:
            yield studio
        finally:
            _active_studio = None


@contextlib.contextmanager
def live_studio_running(prefix: str = "studio_it") -> Iterator[LiveStudio]:
    """A live studio of its own (database, Redis prefix, files, ports), stopped and
    dropped on exit: ``live_studio`` is one; a test that needs a second studio (a
    deployment resource) starts another with a different ``prefix``."""
    admin_url = require_postgres()
    require_redis()
    token = secrets.token_hex(6)
    database_name = f"{prefix}_{token}"
    base_dir = Path(tempfile.mkdtemp(prefix=f"{prefix.replace('_', '-')}-{token}-"))
    log_dir = base_dir / "logs"
    log_dir.mkdir()
    database_url = admin_url.rsplit("/", 1)[0] + f"/{database_name}"
    redis_prefix = f"{prefix.replace('_', '-')}-{token}"
    env = live_studio_env(
        database_url=database_url, redis_prefix=redis_prefix, var_dir=base_dir / "var"
    )
    studio = LiveStudio(
        url=f"http://127.0.0.1:{free_port()}",
        api_key="",
        env=env,
        database_name=database_name,
        log_dir=log_dir,
        _postgres_admin_url=admin_url,
    )
    _create_database(admin_url, database_name)
    try:
        for args in (("migrate", "--noinput"), ("collectstatic", "--noinput")):
            result = studio.manage(*args)
            if result.returncode != 0:
                raise RuntimeError(
                    f"live_studio: manage.py {' '.join(args)} failed:\n"
                    f"{result.stdout}\n{result.stderr}"
                )
        result = studio.manage("createapikey", "integration-tests")
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise RuntimeError(
                f"live_studio: manage.py createapikey failed:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        studio.api_key = lines[-1].strip()
        studio.start_web()
        studio.start_worker()
        studio.wait_until_healthy()
        sys.stderr.write(
            f"\nlive studio at {studio.url}; logs: {studio.web_log}, "
            f"{studio.worker_log}\n"
        )
        yield studio
    finally:
        studio.close()
        with contextlib.suppress(Exception):
            _delete_redis_keys(redis_prefix)
        _drop_database(admin_url, database_name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "live_studio" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    report = yield
    studio = _active_studio
    if (
        studio is not None
        and getattr(report, "failed", False)
        and "live_studio" in getattr(item, "fixturenames", ())
    ):
        report.sections.append(("live_studio logs", studio.describe_logs()))  # type: ignore[attr-defined]
    return report


# --- Compat and fault tests (H4): CLINC150 as an Azure import document -----------


def clinc150_import_document(
    shared: Path,
    project_name: str,
    *,
    per_intent: int | None = None,
    intent_count: int | None = None,
) -> dict[str, Any]:
    """A Conversation import document (azure-api.md §3.3) of CLINC150's train split:
    150 intents, 100 utterances each, no entities. ``per_intent`` and
    ``intent_count`` take slices of it (the first intents in file order) for tests that
    need a project that trains for a known while."""
    path = shared / "clinc150" / "data_full.json"
    if not path.is_file():
        skip_or_fail(f"{path} is absent")
    rows: list[list[str]] = json.loads(path.read_text(encoding="utf-8"))["train"]
    kept: dict[str, int] = {}
    utterances = []
    for text, intent in rows:
        if intent not in kept and (intent_count is None or len(kept) < intent_count):
            kept[intent] = 0
        if intent not in kept:
            continue
        if per_intent is not None and kept[intent] >= per_intent:
            continue
        kept[intent] += 1
        utterances.append({"text": text, "intent": intent, "entities": []})
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectName": project_name,
            "projectKind": "Conversation",
            "language": "en-us",
            "multilingual": False,
            "settings": {"confidenceThreshold": 0.0},
        },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": name} for name in kept],
            "entities": [],
            "utterances": utterances,
        },
    }
