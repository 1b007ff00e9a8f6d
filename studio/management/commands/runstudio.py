"""``manage.py runstudio``: prepare the studio and run the web server and two Celery
workers together, one per queue (``long``: training, big imports; ``short``: deploy,
swap, export, small imports; see jobs/queues.py) — what ``make run`` calls,
through ``scripts/run``.

Preparation (skipped with ``--no-setup``): migrate, ensure an admin account, create an
API key the first time only (printed once), load the demo (it skips what exists) and,
with ``DEBUG`` off, collect static files. Each step is a no-op when already done, so a
second start takes seconds.

Every server runs in a process group of its own: the terminal's Ctrl-C reaches only
this supervisor, which stops them in order - a graceful SIGTERM first, SIGKILL after
``--stop-timeout`` seconds or at a second Ctrl-C - and exits when all are gone.

A worker that dies is restarted, after 1 s, then 2, 4, ... up to ``MAX_BACKOFF``
seconds while it keeps dying quickly (a worker that ran ``STABLE_AFTER`` seconds starts
over at 1 s). The web server keeps serving predictions meanwhile, and ``/healthz``
says ``degraded``; the sweeper of the restarted worker fails the jobs the dead one was
running. If the web server dies, the workers are stopped too and the exit status is 1.

gunicorn serves in both modes (whitenoise serves static files; in DEBUG straight from
the source folders): the same server as production, no auto-reloader doubling the
processes, and signals that behave the same everywhere.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studio.errors import StudioError
from studio.processes import web_command, worker_command
from studio.queues import QUEUE_LONG, QUEUE_SHORT, worker_queues

# Restart back-off of a crashed worker (seconds): doubles from 1 up to MAX_BACKOFF
# while the worker keeps dying; a worker that ran STABLE_AFTER seconds starts over.
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0


def _die_with_parent() -> None:
    """Runs in the child before exec: if this supervisor is SIGKILLed, the child gets
    SIGTERM instead of living on as an orphan (Linux only; best effort elsewhere)."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(
                pr_set_pdeathsig, signal.SIGTERM
            )


class Restarts:
    """When to restart one crashed worker: exponential back-off."""

    def __init__(self) -> None:
        self.backoff = 1.0
        self.started_at = time.monotonic()
        self.due_at: float | None = None

    def schedule(self, *, now: float) -> float:
        """The worker just died: plan its restart, and return the delay."""
        if now - self.started_at >= STABLE_AFTER:
            self.backoff = 1.0
        delay = self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        self.due_at = now + delay
        return delay

    def started(self, *, now: float) -> None:
        self.started_at = now
        self.due_at = None


class Command(BaseCommand):
    help = (
        "Migrate, ensure admin/API key/demo, then run gunicorn and a Celery worker "
        "per queue (long, short)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default=os.environ.get("HOST", "127.0.0.1"),
            help="Address to bind (env HOST, default 127.0.0.1).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT", "8000")),
            help="Port to serve on (env PORT, default 8000).",
        )
        parser.add_argument(
            "--web-workers",
            type=int,
            default=int(os.environ.get("WEB_CONCURRENCY", "2")),
            help="gunicorn worker processes (env WEB_CONCURRENCY, default 2).",
        )
        parser.add_argument(
            "--worker-concurrency",
            type=int,
            default=int(os.environ.get("STUDIO_WORKER_CONCURRENCY", "1")),
            help="Concurrency of the long-queue worker (env "
            "STUDIO_WORKER_CONCURRENCY, default 1).",
        )
        parser.add_argument(
            "--short-worker-concurrency",
            type=int,
            default=int(os.environ.get("STUDIO_SHORT_WORKER_CONCURRENCY", "1")),
            help="Concurrency of the short-queue worker (env "
            "STUDIO_SHORT_WORKER_CONCURRENCY, default 1).",
        )
        parser.add_argument(
            "--no-setup",
            action="store_true",
            help="Skip migrate/admin/API key/demo/collectstatic.",
        )
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not load the demo projects."
        )
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=10.0,
            help="Seconds to wait for a graceful stop before killing (default 10).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError(f"PORT={options['port']} is not a valid port.")
        if (
            min(
                options["web_workers"],
                options["worker_concurrency"],
                options["short_worker_concurrency"],
            )
            < 1
        ):
            raise CommandError("Worker counts must be at least 1.")
        self.check_port_free(options["host"], options["port"])
        if not options["no_setup"]:
            self.setup(load_demo=not options["no_demo"])
        code = self.serve(
            host=options["host"],
            port=options["port"],
            web_workers=options["web_workers"],
            worker_concurrency=options["worker_concurrency"],
            short_worker_concurrency=options["short_worker_concurrency"],
            stop_timeout=options["stop_timeout"],
        )
        if code:
            raise SystemExit(code)

    def check_port_free(self, host: str, port: int) -> None:
        # Said up front: otherwise gunicorn fails after the whole setup, in its log.
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"Cannot serve on {host}:{port} ({exc.strerror}). Is another "
                    "studio running? Choose another port with PORT=..."
                ) from exc

    # --- preparation ------------------------------------------------------------------

    def setup(self, *, load_demo: bool) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is migrated.")
        call_command("ensureadmin", stdout=self.stdout, stderr=self.stderr)
        self.ensure_first_api_key()
        if load_demo:
            try:
                call_command("loaddemo", stdout=self.stdout, stderr=self.stderr)
            except (CommandError, StudioError) as exc:
                # The studio is usable without its demo; say why it is missing.
                self.stderr.write(f"The demo was not loaded: {exc}")
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
            self.stdout.write("Static files are collected.")

    def ensure_first_api_key(self) -> None:
        from studio.models import ApiKey

        # Only the very first start makes a key: revoked keys count, so revoking
        # every key is not undone by a restart.
        if ApiKey.objects.exists():
            return
        out, err = io.StringIO(), io.StringIO()
        call_command("createapikey", "default", stdout=out, stderr=err)
        key = out.getvalue().strip().splitlines()[-1]
        self.stdout.write(
            self.style.WARNING(
                f"Created API key 'default': {key}\n"
                "  Send it as the Ocp-Apim-Subscription-Key header. It is shown only "
                "now; make more with `python manage.py createapikey NAME`."
            )
        )

    # --- serving ----------------------------------------------------------------------

    def commands(
        self,
        *,
        host: str,
        port: int,
        web_workers: int,
        worker_concurrency: int,
        short_worker_concurrency: int = 1,
    ) -> dict[str, list[str]]:
        # Distinct node names: heartbeat rows are keyed by them (studio/worker.py).
        return {
            "web": web_command(host=host, port=port, workers=web_workers),
            "worker-long": worker_command(
                concurrency=worker_concurrency,
                hostname="long@%h",
                queues=worker_queues(QUEUE_LONG),
            ),
            "worker-short": worker_command(
                concurrency=short_worker_concurrency,
                hostname="short@%h",
                queues=worker_queues(QUEUE_SHORT),
            ),
        }

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - our own argv
            command,
            cwd=settings.BASE_DIR,
            preexec_fn=_die_with_parent,
        )
        self.stdout.write(f"Started {name} (pid {process.pid}).")
        self.stdout.flush()
        return process

    def serve(
        self,
        *,
        host: str,
        port: int,
        web_workers: int,
        worker_concurrency: int,
        stop_timeout: float,
        short_worker_concurrency: int = 1,
    ) -> int:
        stop_requests = 0

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stop_requests
            stop_requests += 1

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        commands = self.commands(
            host=host,
            port=port,
            web_workers=web_workers,
            worker_concurrency=worker_concurrency,
            short_worker_concurrency=short_worker_concurrency,
        )
        processes = {
            name: self.start(name, command) for name, command in commands.items()
        }
        restarts = {name: Restarts() for name in commands if name != "web"}
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        self.stdout.write(
            self.style.SUCCESS(
                f"Orchestration Studio is running at http://{shown_host}:{port}/ "
                f"(sign in at /accounts/login/, API at /language/, health at "
                f"/healthz). Press Ctrl-C to stop."
            )
        )
        self.stdout.flush()

        failed = ""
        while not stop_requests and not failed:
            now = time.monotonic()
            for name, process in processes.items():
                code = process.poll()
                if code is None:
                    continue
                if name == "web":
                    failed = name
                    break
                plan = restarts[name]
                if plan.due_at is None:
                    # Its pool children must not outlive it (and hold messages).
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGKILL)
                    self.forget_heartbeat(process.pid)
                    delay = plan.schedule(now=now)
                    self.stderr.write(
                        f"The {name} process exited with status {code}; restarting "
                        f"it in {delay:.0f} s (the web server keeps serving)."
                    )
                    self.stderr.flush()
                elif now >= plan.due_at:
                    processes[name] = self.start(name, commands[name])
                    plan.started(now=now)
            else:
                time.sleep(0.2)
        if failed:
            self.stderr.write(
                f"The {failed} process exited with status "
                f"{processes[failed].returncode}; stopping the studio."
            )
        else:
            self.stdout.write("Stopping (press Ctrl-C again to force)...")
        self.stdout.flush()
        self.stop(processes, timeout=stop_timeout, force=lambda: stop_requests > 1)
        self.stdout.write("Stopped.")
        return 1 if failed else 0

    def forget_heartbeat(self, pid: int) -> None:
        """The worker is dead: /healthz must not count its last heartbeat."""
        from django.db import DatabaseError

        from studio.worker import heartbeat_forget

        try:
            heartbeat_forget(pid=pid)
        except DatabaseError as exc:  # it goes stale on its own then
            self.stderr.write(f"Could not clear the dead worker's heartbeat ({exc}).")

    def stop(
        self,
        processes: dict[str, subprocess.Popen[bytes]],
        *,
        timeout: float,
        force: Any,
    ) -> None:
        # SIGTERM: gunicorn finishes its requests, Celery its running task (warm
        # shutdown, which also removes the worker's heartbeat).
        for process in processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not force():
            if all(process.poll() is not None for process in processes.values()):
                break
            time.sleep(0.1)
        for process in processes.values():
            # The whole group: a killed Celery parent would orphan its pool child.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
