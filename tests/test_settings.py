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

import pytest

from tests.conftest import REPO_ROOT

PROBE = """
import json, django
from django.conf import settings
django.setup()
from studio.celery import app
transport = type(app.connection_for_write().transport)
print(json.dumps({
    "BROKER_TRANSPORT_CLASS": f"{transport.__module__}.{transport.__qualname__}",
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
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
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


def test_embedded_defaults_use_sqlite_wal_filesystem_broker_with_debug_off(
    tmp_path: Path,
) -> None:
    values = probe(clean_env(tmp_path))

    # What `make run` runs: no technical error pages for whoever reaches the port.
    assert values["DEBUG"] is False
    assert values["DATABASE_ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASE_NAME"] == str(tmp_path / "studio.sqlite3")
    assert "journal_mode=WAL" in values["DATABASE_OPTIONS"]["init_command"]
    assert values["BROKER"] == "filesystem://"
    # Whole-file publishing (studio/broker.py), not kombu's own transport.
    assert values["BROKER_TRANSPORT_CLASS"] == "studio.broker.FilesystemTransport"
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        folder = Path(values["BROKER_OPTIONS"][key])
        assert folder.is_dir()
        assert tmp_path / "broker" in folder.parents
    assert values["CACHE"]["BACKEND"].endswith("FileBasedCache")
    assert values["MEDIA_ROOT"] == str(tmp_path / "media")
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    # Served on plain http://127.0.0.1: nothing may push the browser to HTTPS.
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_debug_is_an_opt_in_for_development(tmp_path: Path) -> None:
    assert probe(clean_env(tmp_path, STUDIO_DEV="1"))["DEBUG"] is True
    assert probe(clean_env(tmp_path, DEBUG="1"))["DEBUG"] is True
    assert probe(clean_env(tmp_path, STUDIO_DEV="1", DEBUG="0"))["DEBUG"] is False


def test_embedded_files_under_var_are_private_to_the_user(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    code = """
import django
django.setup()
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
call_command("migrate", verbosity=0)
default_storage.save("models/1/model.bin", ContentFile(b"weights"))
cache.set("probe", 1)
"""

    result = run_python(code, clean_env(var_dir))

    assert result.returncode == 0, result.stderr
    made = [var_dir, *var_dir.rglob("*")]
    names = {path.name for path in made}
    assert {"studio.sqlite3", "secret_key", "model.bin", "broker"} <= names
    loose = {
        str(path.relative_to(tmp_path)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in made
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    }
    assert loose == {}


def test_an_existing_var_folder_is_made_private(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    var_dir.chmod(0o755)

    probe(clean_env(var_dir))

    assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700


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
    assert values["BROKER_TRANSPORT_CLASS"] == "kombu.transport.redis.Transport"
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


def test_a_weak_secret_key_stops_start_up_when_debug_is_off(tmp_path: Path) -> None:
    production = clean_env(tmp_path, **{**PRODUCTION_ENV, "SECRET_KEY": "x"})
    embedded = clean_env(tmp_path, SECRET_KEY="short-" * 5)
    repetitive = clean_env(tmp_path, SECRET_KEY="ab" * 40)

    results = [manage("check", env=env) for env in (production, embedded, repetitive)]

    for result in results:
        assert result.returncode != 0
        assert "SECRET_KEY is too weak" in result.stderr
        assert "at least 50 random characters" in result.stderr
    assert "it has 1 characters, fewer than 50" in results[0].stderr
    assert "fewer than 5 distinct characters" in results[2].stderr


def test_a_short_secret_key_is_accepted_in_development(tmp_path: Path) -> None:
    result = manage("check", env=clean_env(tmp_path, DEBUG="1", SECRET_KEY="x"))

    assert result.returncode == 0, result.stderr


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


def test_check_deploy_is_clean_with_an_smtp_server_too(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path, **PRODUCTION_ENV, EMAIL_HOST="smtp.example.com", EMAIL_PORT="587"
    )

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_flags_debug_settings(tmp_path: Path) -> None:
    # Proves the check above can fail: the embedded (debug) setup is not deployable.
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=clean_env(tmp_path, STUDIO_DEV="1"),
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


def test_a_negative_lost_job_resend_setting_is_refused(tmp_path: Path) -> None:
    env = clean_env(tmp_path, STUDIO_JOB_REDISPATCH_LIMIT="-1")

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "STUDIO_JOB_REDISPATCH_LIMIT" in result.stderr


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"STUDIO_OIDC_ISSUER": "https://login.example.test/t/v2.0"}, "AUDIENCE"),
        (
            {
                "STUDIO_OIDC_ISSUER": "http://login.example.test/t/v2.0",
                "STUDIO_OIDC_AUDIENCE": "api://studio",
            },
            "must use https",
        ),
        (
            {
                "STUDIO_OIDC_ISSUER": "https://login.example.test/t/v2.0",
                "STUDIO_OIDC_AUDIENCE": "api://studio",
                "STUDIO_OIDC_ALGORITHMS": "HS256",
            },
            "STUDIO_OIDC_ALGORITHMS",
        ),
        (
            {
                "STUDIO_OIDC_ISSUER": "https://login.example.test/t/v2.0",
                "STUDIO_OIDC_AUDIENCE": "api://studio",
                "STUDIO_OIDC_USER_MATCH": "oid",
            },
            "STUDIO_OIDC_USER_MATCH",
        ),
    ],
)
def test_unsafe_or_incomplete_oidc_settings_stop_start_up(
    tmp_path: Path, extra: dict[str, str], named: str
) -> None:
    result = manage("check", env=clean_env(tmp_path, **extra))

    assert result.returncode != 0
    assert named in result.stderr


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


SQLITE_SETUP = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE lock_probe (x integer)")
"""

# Holds SQLite's write lock as a big import does (one transaction), for HOLD seconds.
SQLITE_HOLDER = """
import sys, time, django
django.setup()
from django.db import connection, transaction
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO lock_probe VALUES (1)")
    print("locked", flush=True)
    time.sleep(float(sys.argv[1]))
"""

SQLITE_WRITER = """
import json, time, django
django.setup()
from django.db import connection, transaction
started = time.monotonic()
with connection.cursor() as cursor:
    # A read never waits for the writer (WAL).
    cursor.execute("SELECT count(*) FROM lock_probe")
    read_seconds = time.monotonic() - started
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO lock_probe VALUES (2)")
print(json.dumps({"read": read_seconds, "write": time.monotonic() - started}))
"""


def test_embedded_sqlite_writers_wait_out_a_long_write_transaction(
    tmp_path: Path,
) -> None:
    """A whole-project import holds the write lock for seconds; other writers (the
    studio, job heartbeats) must queue behind it, not fail with "database is locked".
    Today's imports of 50,000 utterances take longer than the 10 s it used to wait."""
    env = clean_env(tmp_path)
    setup = run_python(SQLITE_SETUP, env)
    assert setup.returncode == 0, setup.stderr
    # Longer than the 10 s writers used to wait, counting the writer's start-up.
    hold = 16.0
    holder = subprocess.Popen(
        [sys.executable, "-c", SQLITE_HOLDER, str(hold)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked", holder.stderr
        writer = run_python(SQLITE_WRITER, env)
    finally:
        holder.wait(timeout=60)

    assert writer.returncode == 0, writer.stderr[-2000:]
    timings = json.loads(writer.stdout.strip().splitlines()[-1])
    assert timings["read"] < 2
    # It really waited longer than the old limit, and then succeeded.
    assert timings["write"] > 10.5


def test_embedded_sqlite_busy_timeout_is_one_setting(tmp_path: Path) -> None:
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0])\n"
    )
    default = run_python(code, clean_env(tmp_path))
    short = run_python(
        code, clean_env(tmp_path, STUDIO_SQLITE_BUSY_TIMEOUT_SECONDS="5")
    )

    assert default.stdout.strip() == "60000", default.stderr
    assert short.stdout.strip() == "5000", short.stderr
