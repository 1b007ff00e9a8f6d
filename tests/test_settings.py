"""The settings module is read in fresh processes, each with exactly the environment
under test (settings are evaluated once per process)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "DATABASE_ENGINE": settings.DATABASES["default"]["ENGINE"],
    "DATABASE_NAME": str(settings.DATABASES["default"]["NAME"]),
    "DATABASE_OPTIONS": settings.DATABASES["default"].get("OPTIONS", {}),
    "BROKER": settings.CELERY_BROKER_URL,
    "BROKER_OPTIONS": getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    "CACHE": settings.CACHES["default"],
    "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
}))
"""

# The production environment documented in README.md ("Production").
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "q8R3-zt5VbN_w0yK1mLpX9cJ7hG2fD4sA6eU0iO3nT8rW5vB1xZ7kQ2jH9gF4dS6",
    "DATABASE_URL": "postgres://studio:secret@db.internal:5432/studio",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "studio.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://studio.example.com",
    "STUDIO_BEHIND_TLS_PROXY": "1",
}


def clean_env(var_dir: Path, **extra: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "STUDIO_VAR_DIR": str(var_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def probe(env: dict[str, str]) -> dict[str, Any]:
    result = run_python(PROBE, env)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_embedded_defaults_use_sqlite_wal_filesystem_broker_and_debug(
    tmp_path: Path,
) -> None:
    values = probe(clean_env(tmp_path))

    assert values["DEBUG"] is True
    assert values["DATABASE_ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASE_NAME"] == str(tmp_path / "studio.sqlite3")
    assert "journal_mode=WAL" in values["DATABASE_OPTIONS"]["init_command"]
    assert values["BROKER"] == "filesystem://"
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        folder = Path(values["BROKER_OPTIONS"][key])
        assert folder.is_dir()
        assert tmp_path / "broker" in folder.parents
    assert values["CACHE"]["BACKEND"].endswith("FileBasedCache")
    assert values["MEDIA_ROOT"] == str(tmp_path / "media")
    assert "localhost" in values["ALLOWED_HOSTS"]


def test_embedded_secret_key_is_generated_once_and_kept_private(
    tmp_path: Path,
) -> None:
    first = probe(clean_env(tmp_path))["SECRET_KEY"]
    second = probe(clean_env(tmp_path))["SECRET_KEY"]

    key_file = tmp_path / "secret_key"
    assert first == second == key_file.read_text().strip()
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret")] == []


def test_a_database_url_turns_debug_off_and_redis_serves_broker_and_cache(
    tmp_path: Path,
) -> None:
    values = probe(clean_env(tmp_path, **PRODUCTION_ENV))

    assert values["DEBUG"] is False
    assert values["DATABASE_ENGINE"] == "django.db.backends.postgresql"
    assert values["BROKER"] == "redis://redis.internal:6379/0"
    assert values["CACHE"]["BACKEND"].endswith("RedisCache")
    assert values["ALLOWED_HOSTS"] == ["studio.example.com"]
    assert not (tmp_path / "secret_key").exists()


def test_debug_off_without_secret_key_stops_start_up_with_a_clear_message(
    tmp_path: Path,
) -> None:
    env = clean_env(tmp_path, **PRODUCTION_ENV)
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "DEBUG off" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_debug_off_in_embedded_mode_also_requires_a_secret_key(
    tmp_path: Path,
) -> None:
    result = manage("check", env=clean_env(tmp_path, DEBUG="0"))

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_under_the_documented_production_env(
    tmp_path: Path,
) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=clean_env(tmp_path, **PRODUCTION_ENV),
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_flags_debug_settings(tmp_path: Path) -> None:
    # Proves the check above can fail: the embedded (debug) setup is not deployable.
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=clean_env(tmp_path)
    )

    assert result.returncode != 0
    assert "DEBUG" in result.stderr + result.stdout


def test_a_malformed_boolean_is_refused_by_name(tmp_path: Path) -> None:
    result = manage("check", env=clean_env(tmp_path, DEBUG="maybe"))

    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_worker_heartbeat_slower_than_its_staleness_limit_is_refused(
    tmp_path: Path,
) -> None:
    env = clean_env(
        tmp_path,
        STUDIO_WORKER_HEARTBEAT_SECONDS="30",
        STUDIO_WORKER_STALE_SECONDS="10",
    )

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "STUDIO_WORKER_HEARTBEAT_SECONDS" in result.stderr


def test_redis_key_prefixes_reach_the_broker_and_the_cache(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        **PRODUCTION_ENV,
        CELERY_BROKER_KEY_PREFIX="blue:broker:",
        CACHE_KEY_PREFIX="blue:cache",
    )

    values = probe(env)

    assert values["BROKER_OPTIONS"] == {"global_keyprefix": "blue:broker:"}
    assert values["CACHE"]["KEY_PREFIX"] == "blue:cache"
