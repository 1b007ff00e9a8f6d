"""A studio of its own (var folder, database) driven through subprocesses, as an
operator runs ``manage.py``: the backup and drift tests use two studios at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

PROBE = REPO_ROOT / "tests" / "training" / "backup_probe.py"


@dataclass
class Studio:
    """A studio of its own: environment (var folder, database) for subprocesses."""

    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def manage(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run("manage.py", *args, check=check)

    def probe(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.run(str(PROBE), "predict", key).stdout)
        return result


def studio_env(var_dir: Path, *, secret_key: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "STUDIO_", "SECURE_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL"}
    }
    # DEBUG stays as the test run has it: the PostgreSQL pass (scripts/test-postgres)
    # runs with DEBUG=1 and a short SECRET_KEY, which these studios share.
    env.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        STUDIO_VAR_DIR=str(var_dir),
        SECRET_KEY=secret_key,
        # Jobs (the demo's training) run in the process; logged queries are written
        # in the request.
        CELERY_TASK_ALWAYS_EAGER="1",
        STUDIO_WRITE_BEHIND_MS="0",
        # Standard training would have the process distill the static word vector
        # table from the real encoder in the background (a minute of CPU).
        STUDIO_STATIC_VECTORS="off",
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env
