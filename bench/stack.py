"""A production-style studio made of local processes, for the HTTP benchmarks.

gunicorn (``studio.processes.web_command``, what ``runstudio`` and the live test
harness start) + one Celery worker (``worker_command``) over a fresh PostgreSQL
database, created and dropped here, and Redis database 12 with a per-run key prefix
(the test harness uses 11). Nothing under the repository's ``var/`` is touched: the
studio's var folder is a temporary directory, removed at the end with the logs unless
``keep_logs``.

``embedded_stack`` starts the studio the way ``make run`` does instead:
``manage.py runstudio`` (gunicorn, a ``long`` and a ``short`` Celery worker) in a
temporary var folder, so SQLite and kombu's filesystem broker, nothing shared.
``running_stack(split_queues=True)`` gives the PostgreSQL stack the same two workers.

``Stack.call`` speaks the Azure API with the stack's key; ``Stack.wait_job`` polls an
``Operation-Location`` until the job ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
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

from studio.processes import web_command, worker_command

# What runstudio's workers consume (studio.queues.worker_queues; not imported:
# that module needs Django's app registry, which the bench process does not set up).
WORKER_QUEUES = {"long": ["long"], "short": ["short", "celery"]}
REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "STUDIO_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STUDIO_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = 12
API_VERSION = "2023-04-01"
QNA_API_VERSION = "2021-10-01"
CLU_AUTHORING = "/language/authoring/analyze-conversations"
QNA_AUTHORING = "/language/authoring/query-knowledgebases"


class StackUnavailable(RuntimeError):
    """PostgreSQL or Redis is not reachable, so no stack can be started."""


class StackError(RuntimeError):
    """The stack started but did not do what was asked (with its log tails)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_services() -> None:
    """Raise ``StackUnavailable`` naming the first missing service."""
    import psycopg
    import redis

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise StackUnavailable(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} "
            f"(set STUDIO_BENCH_POSTGRES_URL): {exc}"
        ) from exc
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        raise StackUnavailable(
            f"Redis is not reachable at {REDIS_URL} (set STUDIO_BENCH_REDIS_URL): {exc}"
        ) from exc


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as c:
        c.execute(sql)  # our own [a-z0-9_] names only


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes] | None, *, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes in process group ``pgid``.

    Read from ``/proc``; exited workers are not counted, so take differences over a
    window in which the group's processes stay the same (gunicorn workers do).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        # After the ")": state ppid pgrp session ... utime(12) stime(13).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    ticks = os.sysconf("SC_CLK_TCK")
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / ticks, sum(values) / ticks


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    database_name: str
    base_dir: Path
    api_key: str = ""
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    web_workers: int = 2
    web_threads: int = 4
    redis_prefix: str = ""
    # More workers (``split_queues``: the short queue's); stopped with the rest.
    extra_workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # "postgres" (gunicorn + workers started here) or "embedded" (runstudio).
    mode: str = "postgres"
    # The checkout whose code the processes run (another one for bench.http --ab).
    root: Path = REPO_ROOT
    _web_starts: int = field(default=0, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "logs"

    def describe_logs(self) -> str:
        return (
            f"web log:\n{_tail(self.log_dir / 'web.log')}\n\n"
            f"worker log:\n{_tail(self.log_dir / 'worker.log')}"
        )

    def manage(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [sys.executable, str(self.root / "manage.py"), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(
                f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def start_web(self, *, workers: int, threads: int) -> None:
        """(Re)start gunicorn with ``workers`` processes of ``threads`` threads."""
        _stop(self.web)
        command = web_command(host=self.host, port=self.port, workers=workers)
        # web_command fixes the thread count; the benchmark sweeps it.
        command[command.index("--threads") + 1] = str(threads)
        self.web_workers, self.web_threads = workers, threads
        self._web_starts += 1
        with (self.log_dir / "web.log").open("ab") as log:
            self.web = subprocess.Popen(
                command,
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_until_up()

    def start_worker(self, queue: str | None = None) -> None:
        """One worker of every queue, or of ``queue`` (``long``/``short``) as
        ``runstudio`` starts them; the first is ``worker``, others ``extra_workers``."""
        queues = WORKER_QUEUES[queue] if queue else []
        hostname = f"{queue or 'all'}-{self.database_name}@%h"
        with (self.log_dir / "worker.log").open("ab") as log:
            process = subprocess.Popen(
                worker_command(concurrency=1, hostname=hostname, queues=queues),
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.worker is None:
            self.worker = process
        else:
            self.extra_workers.append(process)

    def wait_until_up(self, *, timeout: float = 120, need_worker: bool = False) -> None:
        """Until ``/healthz`` answers (``healthy`` when ``need_worker``: 200 alone
        may be ``degraded``, i.e. no live worker; any answer else)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in (("web", self.web), ("worker", self.worker)):
                if process is not None and process.poll() is not None:
                    raise StackError(
                        f"the {name} process exited with {process.returncode}\n"
                        + self.describe_logs()
                    )
            with contextlib.suppress(OSError):
                status, _, body = self.call("GET", "/healthz", auth=False, timeout=3)
                healthy = isinstance(body, dict) and body.get("status") == "healthy"
                if healthy or (not need_worker and status in (200, 503)):
                    return
            time.sleep(0.2)
        raise StackError(
            f"/healthz did not answer in {timeout:.0f}s\n" + self.describe_logs()
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        timeout: float = 60,
    ) -> tuple[int, dict[str, str], Any]:
        """One request; (status, headers, decoded JSON body or None)."""
        url = path if path.startswith("http") else self.url + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Ocp-Apim-Subscription-Key", self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status, headers, raw = (
                    response.status,
                    dict(response.headers),
                    response.read(),
                )
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers), exc.read()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        return status, headers, decoded

    def expect(
        self, status: int, method: str, path: str, body: Any = None
    ) -> tuple[dict[str, str], Any]:
        got, headers, decoded = self.call(method, path, body)
        if got != status:
            raise StackError(
                f"{method} {path}: expected {status}, got {got}: {decoded}"
            )
        return headers, decoded

    def wait_job(
        self, operation_location: str, *, timeout: float = 600
    ) -> dict[str, Any]:
        """Poll a job until it ends; its final JSON. A failed job raises."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, job = self.expect(200, "GET", operation_location)
            if job.get("status") in {"succeeded", "failed", "cancelled"}:
                if job["status"] != "succeeded":
                    raise StackError(f"job {operation_location} ended {job}")
                return dict(job)
            time.sleep(0.05)
        raise StackError(f"job {operation_location} still running after {timeout:.0f}s")

    def start_job(self, method: str, path: str, body: Any = None) -> str:
        """Send an LRO request (202 expected); its ``Operation-Location``."""
        headers, _ = self.expect(202, method, path, body)
        location = {k.lower(): v for k, v in headers.items()}.get("operation-location")
        if not location:
            raise StackError(f"{method} {path}: 202 without Operation-Location")
        return location

    def close(self) -> None:
        _stop(self.web, timeout=40)
        for worker in (self.worker, *self.extra_workers):
            _stop(worker, timeout=30)


def stack_env(
    *, database_url: str | None, redis_prefix: str, var_dir: Path
) -> dict[str, str]:
    """Production settings (DEBUG off, PostgreSQL, Redis broker and cache) minus TLS;
    without ``database_url`` the embedded default (SQLite, filesystem broker)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "STUDIO_", "SECURE_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEBUG", "SECRET_KEY"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on the loopback: a TLS proxy would sit in front in production.
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STUDIO_VAR_DIR": str(var_dir),
            "STUDIO_JOB_HEARTBEAT_SECONDS": "1",
            "STUDIO_WORKER_HEARTBEAT_SECONDS": "1",
            "STUDIO_WORKER_STALE_SECONDS": "10",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url is not None:
        env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": f"{REDIS_URL}/{REDIS_DB}",
                "CELERY_BROKER_KEY_PREFIX": f"{redis_prefix}:broker:",
                "CACHE_KEY_PREFIX": f"{redis_prefix}:cache",
            }
        )
    return env


@contextlib.contextmanager
def running_stack(
    *,
    web_workers: int = 2,
    web_threads: int = 4,
    keep_logs: bool = False,
    split_queues: bool = False,
    env: dict[str, str] | None = None,
    root: Path = REPO_ROOT,
) -> Iterator[Stack]:
    """Start the stack (database, migrations, API key, web, worker); tear it down.

    ``split_queues``: a ``long`` and a ``short`` worker, as ``runstudio`` runs them,
    instead of one worker of every queue. ``env`` is added to the processes'.
    ``root``: the checkout whose code they run (this one by default)."""
    check_services()
    token = secrets.token_hex(5)
    name = f"studio_bench_{token}"
    base_dir = Path(tempfile.mkdtemp(prefix=f"studio-bench-{token}-"))
    (base_dir / "logs").mkdir()
    database_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    prefix = f"studio-bench-{token}"
    stack = Stack(
        url=f"http://127.0.0.1:{free_port()}",
        env=stack_env(
            database_url=database_url, redis_prefix=prefix, var_dir=base_dir / "var"
        ),
        database_name=name,
        base_dir=base_dir,
        redis_prefix=prefix,
        root=root,
    )
    # The checkout's own code first, whatever is installed in the environment.
    stack.env["PYTHONPATH"] = str(root)
    stack.env.update(env or {})
    _admin(f'CREATE DATABASE "{name}"')
    try:
        stack.manage("migrate", "--noinput")
        stack.api_key = stack.manage("createapikey", "bench").strip().splitlines()[-1]
        if split_queues:
            stack.start_worker("long")
            stack.start_worker("short")
        else:
            stack.start_worker()
        stack.start_web(workers=web_workers, threads=web_threads)
        stack.wait_until_up(need_worker=True)
        yield stack
    finally:
        stack.close()
        with contextlib.suppress(Exception):
            _delete_redis_keys(prefix)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if keep_logs:
            print(f"[bench] logs kept in {stack.log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(base_dir, ignore_errors=True)


@contextlib.contextmanager
def embedded_stack(
    *,
    keep_logs: bool = False,
    env: dict[str, str] | None = None,
    root: Path = REPO_ROOT,
) -> Iterator[Stack]:
    """The embedded default as ``make run`` starts it: ``manage.py runstudio`` (its
    own setup: migrate, admin, collectstatic; no demo) in a temporary var folder -
    SQLite, the filesystem broker, gunicorn and a long and a short worker under
    runstudio's supervision. ``env`` is added to the processes' environment;
    ``root``: the checkout whose code they run (this one by default)."""
    token = secrets.token_hex(5)
    base_dir = Path(tempfile.mkdtemp(prefix=f"studio-bench-embedded-{token}-"))
    (base_dir / "logs").mkdir()
    port = free_port()
    stack = Stack(
        url=f"http://127.0.0.1:{port}",
        env=stack_env(database_url=None, redis_prefix="", var_dir=base_dir / "var"),
        database_name=f"embedded_{token}",
        base_dir=base_dir,
        mode="embedded",
        root=root,
    )
    stack.env["PYTHONPATH"] = str(root)
    stack.env.update(env or {})
    try:
        # Before runstudio, so that its "first API key" step finds one and skips.
        stack.manage("migrate", "--noinput")
        stack.api_key = stack.manage("createapikey", "bench").strip().splitlines()[-1]
        with (stack.log_dir / "web.log").open("ab") as log:
            stack.web = subprocess.Popen(
                [
                    sys.executable,
                    str(root / "manage.py"),
                    "runstudio",
                    "--no-demo",
                    "--host",
                    stack.host,
                    "--port",
                    str(port),
                ],
                cwd=root,
                env=stack.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.wait_until_up(timeout=300, need_worker=True)
        yield stack
    finally:
        # runstudio stops its children in order on SIGTERM.
        stack.close()
        if keep_logs:
            print(f"[bench] logs kept in {stack.log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(base_dir, ignore_errors=True)


def _delete_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}", socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()
