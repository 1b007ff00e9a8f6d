"""The command lines of the studio's processes (web, and a Celery worker per queue),
shared by ``runstudio`` and the integration-test harness so that tests start exactly
what users run."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def web_command(*, host: str, port: int, workers: int) -> list[str]:
    """gunicorn serving ``studio.wsgi``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "studio.wsgi",
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        # The default control socket is one path per user, shared by every gunicorn
        # on the machine.
        "--no-control-socket",
        "--access-logfile",
        "-",
    ]


def worker_command(
    *,
    concurrency: int,
    hostname: str | None = None,
    queues: Sequence[str] = (),
) -> list[str]:
    """One Celery worker of the ``studio`` app, consuming ``queues`` (``long``,
    ``short``: studio/queues.py), or every queue when none is named."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "studio",
        "worker",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        # Liveness comes from our heartbeats; mingle and gossip only slow the start
        # and do nothing on the filesystem transport.
        "--without-mingle",
        "--without-gossip",
    ]
    if queues:
        command += ["--queues", ",".join(queues)]
    if hostname is not None:
        command += ["--hostname", hostname]
    return command
