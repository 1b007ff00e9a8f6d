"""One environment-driven settings module.

Embedded default (no environment set): SQLite in WAL mode, Celery on kombu's filesystem
transport and file storage, all under ``STUDIO_VAR_DIR`` (default ``./var``, private
to the user), a secret key generated there, plain HTTP on the loopback addresses.
Scaled: set ``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` or ``REDIS_URL``
(Redis), ``CACHE_URL`` or ``REDIS_URL`` (shared cache); then ``SECRET_KEY`` must be set
and HTTPS hardening is on. ``DEBUG`` is off in both unless ``DEBUG=1`` or
``STUDIO_DEV=1``; with it off a weak ``SECRET_KEY`` is refused. The README lists every
variable.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (1/0, true/false).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


VAR_DIR = Path(env_str("STUDIO_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED = DATABASE_URL == ""
# Off unless asked for, in both modes: with DEBUG on, any 404 or 500 shows URL patterns
# and settings to whoever triggered it. DEBUG=1 (or STUDIO_DEV=1) is for development.
DEBUG = env_bool("DEBUG", default=env_bool("STUDIO_DEV", default=False))

if EMBEDDED:
    # The embedded data (database, media, broker messages, secret key) is private to
    # the account running the studio: everything the studio's processes create is
    # 0600 files in 0700 folders, whichever process (web, worker, manage.py) makes it.
    os.umask(0o077)
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
if EMBEDDED:
    # A var/ made by an older version (or by hand) is tightened too.
    with contextlib.suppress(OSError):
        VAR_DIR.chmod(0o700)

# Django's own rule for a key (security.W009): long, varied, not a generated
# "django-insecure-" placeholder. Shorter keys make signed cookies guessable.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5


def _secret_key_problem(key: str) -> str:
    """Why ``key`` is too weak to sign sessions with, or "" when it is fine."""
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return f"it has fewer than {SECRET_KEY_MIN_DISTINCT} distinct characters"
    if key.startswith("django-insecure-"):
        return "it is a 'django-insecure-' placeholder"
    return ""


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        problem = "" if DEBUG else _secret_key_problem(key)
        if problem:
            raise ImproperlyConfigured(
                f"SECRET_KEY is too weak: {problem}. With DEBUG off the studio refuses "
                "to start with it: set SECRET_KEY to at least 50 random characters, "
                "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
            )
        return key
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off and a DATABASE_URL the studio "
            "refuses to start without one: set SECRET_KEY to a long random string "
            "(see README, 'Production')."
        )
    # Embedded (or debug): generate once and keep it beside the data it protects.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # The web server and the worker may start at the same moment: write a
        # private temporary file, then link it into place, which fails instead of
        # overwriting when another process won the race.
        tmp = VAR_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()

# The embedded studio serves http://127.0.0.1:8000 (or localhost) out of the box;
# another name or address must be listed in ALLOWED_HOSTS.
_LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"] if DEBUG or EMBEDDED else []
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", _LOCAL_HOSTS + ["testserver"] if DEBUG else _LOCAL_HOSTS
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "studio",
    "jobs",
    "projects",
    "training",
    "runtime",
]

MIDDLEWARE = [
    # First, so that it sees every write of the request (the session's too).
    "studio.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "studio.requester.RequesterMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studio.middleware.AzureApiMiddleware",
    # Turns a throttled sign-in into the lockout page (studio/accounts.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "projects.permissions.studio_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Seconds an SQLite writer waits for the write lock before "database is locked": longer
# than the longest write transaction (a whole-project import or delete commits in one),
# shorter than gunicorn's 120 s request timeout.
STUDIO_SQLITE_BUSY_TIMEOUT_SECONDS = env_int("STUDIO_SQLITE_BUSY_TIMEOUT_SECONDS", 60)
# Bulk work (uploads) steps aside while another writer waits for SQLite's lock
# (studio/sqlite_writers.py); off only to measure what that buys (bench.upload_lock).
STUDIO_SQLITE_HANDOFF = env_bool("STUDIO_SQLITE_HANDOFF", default=True)
if EMBEDDED:
    DATABASES: dict[str, Any] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "studio.sqlite3",
            "OPTIONS": {
                # WAL lets readers (predictions, pages) read while one writer writes;
                # IMMEDIATE makes every transaction take the write lock when it
                # begins, so writers queue on busy_timeout instead of failing when a
                # read transaction tries to upgrade. busy_timeout comes first: the
                # other pragmas may need the lock too. Python's own timeout (the
                # same busy handler) is set to the same value, so one number rules.
                "init_command": (
                    f"PRAGMA busy_timeout={STUDIO_SQLITE_BUSY_TIMEOUT_SECONDS * 1000};"
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": STUDIO_SQLITE_BUSY_TIMEOUT_SECONDS,
            },
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CACHE_URL = env_str("CACHE_URL", REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # Lets several studios (or test runs) share one Redis without mixing keys.
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ---------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL) or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport with whole-file publishing: kombu's own lets a
    # consumer read a message file before its bytes are written, which crashed the
    # worker and lost the job's message (studio/broker.py).
    CELERY_BROKER_TRANSPORT = "studio.broker:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Without this kombu writes its exchange table to ./control in the CWD.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # Seconds between folder scans: short, so that jobs start and a Ctrl-C
        # stops the worker without a noticeable wait (a scan is one listdir).
        "polling_interval": 0.25,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")) and env_str(
    "CELERY_BROKER_KEY_PREFIX"
):
    # Same reason as CACHE_KEY_PREFIX: queues of separate studios stay apart.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "global_keyprefix": env_str("CELERY_BROKER_KEY_PREFIX")
    }
# Job state lives in our own Job table, never in a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Two queues (studio/queues.py), each with worker processes of its own: long work
# (training, big imports) cannot hold up short work (deploy, swap, export). Every job
# is sent to its queue explicitly; a worker started without -Q consumes both.
CELERY_TASK_DEFAULT_QUEUE = "short"
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in ("long", "short")]
CELERY_TASK_CREATE_MISSING_QUEUES = True

# --- Fair share of the job queues -----------------------------------------------------
# Unfinished (waiting or running) jobs one project, or one user, may have in each
# queue; one more is refused with 409 Conflict.
STUDIO_QUEUE_LIMIT_PER_PROJECT = env_int("STUDIO_QUEUE_LIMIT_PER_PROJECT", 3)
STUDIO_QUEUE_LIMIT_PER_USER = env_int("STUDIO_QUEUE_LIMIT_PER_USER", 5)
if STUDIO_QUEUE_LIMIT_PER_PROJECT < 1 or STUDIO_QUEUE_LIMIT_PER_USER < 1:
    raise ImproperlyConfigured(
        "STUDIO_QUEUE_LIMIT_PER_PROJECT and STUDIO_QUEUE_LIMIT_PER_USER must be at "
        "least 1."
    )

# --- Worker liveness (studio/worker.py, /healthz) -------------------------------------
# Workers write a heartbeat row this often; /healthz counts a worker alive while its
# heartbeat is younger than STUDIO_WORKER_STALE_SECONDS.
STUDIO_WORKER_HEARTBEAT_SECONDS = env_int("STUDIO_WORKER_HEARTBEAT_SECONDS", 5)
STUDIO_WORKER_STALE_SECONDS = env_int("STUDIO_WORKER_STALE_SECONDS", 30)
# Running jobs beat every STUDIO_JOB_HEARTBEAT_SECONDS; those whose heartbeat is older
# than STUDIO_JOB_STALE_SECONDS are marked failed (their worker died). Every worker
# runs that sweep every STUDIO_JOB_SWEEP_SECONDS.
STUDIO_JOB_HEARTBEAT_SECONDS = env_int("STUDIO_JOB_HEARTBEAT_SECONDS", 2)
STUDIO_JOB_STALE_SECONDS = env_int("STUDIO_JOB_STALE_SECONDS", 120)
STUDIO_JOB_SWEEP_SECONDS = env_int("STUDIO_JOB_SWEEP_SECONDS", 30)
# A queued job that has waited this long on an idle queue (nothing running, nothing
# finished meanwhile, a live worker listening) lost its broker message: the sweep
# sends it again, at most STUDIO_JOB_REDISPATCH_LIMIT times, then fails it with a
# reason. 0 turns re-sending off (jobs.services.jobs_redispatch_lost).
STUDIO_JOB_REDISPATCH_SECONDS = env_int("STUDIO_JOB_REDISPATCH_SECONDS", 120)
STUDIO_JOB_REDISPATCH_LIMIT = env_int("STUDIO_JOB_REDISPATCH_LIMIT", 3)
if STUDIO_JOB_REDISPATCH_SECONDS < 0 or STUDIO_JOB_REDISPATCH_LIMIT < 0:
    raise ImproperlyConfigured(
        "STUDIO_JOB_REDISPATCH_SECONDS and STUDIO_JOB_REDISPATCH_LIMIT cannot be "
        "negative."
    )
# Celery workers lower their CPU priority by this much when they start (studio/cpu.py):
# under contention the web server's requests get the cores first. 0 turns it off.
STUDIO_WORKER_NICE = env_int("STUDIO_WORKER_NICE", 10)
if not 0 <= STUDIO_WORKER_NICE <= 19:
    raise ImproperlyConfigured("STUDIO_WORKER_NICE must be between 0 and 19.")
if STUDIO_WORKER_HEARTBEAT_SECONDS < 1 or (
    STUDIO_WORKER_STALE_SECONDS <= STUDIO_WORKER_HEARTBEAT_SECONDS
):
    raise ImproperlyConfigured(
        "STUDIO_WORKER_HEARTBEAT_SECONDS must be at least 1 and smaller than "
        "STUDIO_WORKER_STALE_SECONDS, or live workers would look dead."
    )
if STUDIO_JOB_HEARTBEAT_SECONDS < 1 or (
    STUDIO_JOB_STALE_SECONDS <= 2 * STUDIO_JOB_HEARTBEAT_SECONDS
):
    raise ImproperlyConfigured(
        "STUDIO_JOB_STALE_SECONDS must exceed twice STUDIO_JOB_HEARTBEAT_SECONDS, or "
        "running jobs would be failed while their worker is alive."
    )

# --- Storage, static ------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Sentence embeddings of advanced training, keyed by (encoder sha256, normalized
# text). Workers that train the same projects should share it (a volume); "off"
# turns it off. The engine also reads STUDIO_EMBEDDING_CACHE itself.
EMBEDDING_CACHE_DIR: Path | None = (
    None
    if env_str("STUDIO_EMBEDDING_CACHE").strip().lower() in {"off", "0", "false", "no"}
    else Path(env_str("STUDIO_EMBEDDING_CACHE", "").strip() or VAR_DIR / "embeddings")
)
# Static word vectors of standard training (training/engine/static_vectors.py): a
# table distilled once from the bundled English encoder, built by a worker at first
# use (or `manage.py build_static_vectors`) and read by web processes, so web and
# workers must share it (a volume, as docker-compose does); "off" turns it off. The
# engine also reads STUDIO_STATIC_VECTORS itself.
STATIC_VECTORS_DIR: Path | None = (
    None
    if env_str("STUDIO_STATIC_VECTORS").strip().lower() in {"off", "0", "false", "no"}
    else Path(
        env_str("STUDIO_STATIC_VECTORS", "").strip() or VAR_DIR / "static-vectors"
    )
)
# Sentence encoders for advanced training besides the bundled ones (training/engine/
# embeddings.py): a JSON object, name -> ONNX model directory (model.onnx +
# tokenizer.json), or name -> {"path": ..., "languages": ["en"], "defaultFor": ["en"]}.
# Projects select one in Settings; "defaultFor" makes it the default of projects in
# those languages. The files are hashed when first used; nothing is downloaded.
try:
    STUDIO_ENCODERS: dict[str, object] = json.loads(env_str("STUDIO_ENCODERS") or "{}")
except ValueError as exc:
    raise ImproperlyConfigured(f"STUDIO_ENCODERS is not valid JSON: {exc}") from exc
if not isinstance(STUDIO_ENCODERS, dict):
    raise ImproperlyConfigured("STUDIO_ENCODERS must be a JSON object (name -> path).")
# Threads the batch encoding of a training worker uses (0: every core). Web processes
# always encode on one thread (studio/cpu.py).
STUDIO_ENCODER_THREADS = env_int("STUDIO_ENCODER_THREADS", 0)
if STUDIO_ENCODER_THREADS < 0:
    raise ImproperlyConfigured("STUDIO_ENCODER_THREADS cannot be negative.")
if EMBEDDED:
    # Django's storage would chmod model files 0644 whatever the umask says.
    FILE_UPLOAD_PERMISSIONS = 0o600
    FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Listed only when present: git keeps no empty folder, and a fresh clone must pass
# `check --deploy` before the UI adds its files.
STATICFILES_DIRS = [path for path in [BASE_DIR / "static"] if path.is_dir()]
# WhiteNoise warns on every start while the folder does not exist (before the first
# collectstatic, and always in debug, where files are served from the sources).
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# django-axes' backend first: it refuses a throttled sign-in before any hashing.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Request limits -------------------------------------------------------------------
# Large enough for a 50,000-utterance project import; anything larger is refused
# before it is read.
STUDIO_MAX_REQUEST_BYTES = env_int("STUDIO_MAX_REQUEST_BYTES", 8 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = STUDIO_MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = STUDIO_MAX_REQUEST_BYTES

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    # drf-spectacular's, plus the 4xx answers in Azure's error shape.
    "DEFAULT_SCHEMA_CLASS": "studio.api.schema.AzureAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["studio.api.parsers.StrictJSONParser"],
    "UNAUTHENTICATED_USER": None,
    # No password (Basic) or session authentication on any API view, not even the
    # schema: the API takes keys only, and passwords are checked at sign-in alone.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "EXCEPTION_HANDLER": "studio.api.errors.exception_handler",
}
# Seconds a client should wait between polls of a job (Retry-After).
STUDIO_RETRY_AFTER_SECONDS = env_int("STUDIO_RETRY_AFTER_SECONDS", 1)
SPECTACULAR_SETTINGS = {
    "TITLE": "Orchestration Studio API",
    "DESCRIPTION": (
        "Azure AI Language compatible authoring and runtime API "
        "(conversations, orchestration, question answering)."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Self-hosted: the docs page loads Redoc from our static files, never a CDN.
    "REDOC_DIST": "SIDECAR",
}


# --- Runtime (prediction API; runtime/README.md) ---------------------------
def _env_seconds(name: str, default: float) -> float:
    raw = env_str(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds.") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than 0.")
    return value


# How often a web process checks the deployment version row (one PK lookup) and
# reloads its deployment directory when it moved: a deploy or swap reaches every
# process within this time.
STUDIO_DEPLOYMENT_REFRESH_SECONDS = _env_seconds(
    "STUDIO_DEPLOYMENT_REFRESH_SECONDS", 0.5
)
# Loaded models kept per web process (LRU).
STUDIO_MODEL_CACHE_SIZE = env_int("STUDIO_MODEL_CACHE_SIZE", 32)
# Timeout of a call to an orchestration target's external endpoint (LUIS, Http).
STUDIO_TARGET_TIMEOUT_SECONDS = _env_seconds("STUDIO_TARGET_TIMEOUT_SECONDS", 3.0)
# LUIS-linked orchestration intents call <endpoint>/luis/prediction/v3.0/apps/<app>/...
# with this key (a LUIS prediction resource); unset = LUIS targets report an error.
STUDIO_LUIS_ENDPOINT = env_str("STUDIO_LUIS_ENDPOINT").rstrip("/")
STUDIO_LUIS_KEY = env_str("STUDIO_LUIS_KEY")
# Orchestration targets may call only public addresses; these host names, addresses
# or networks (comma-separated: "bot.internal,10.0.0.0/8,127.0.0.1") are allowed
# besides (studio/target_policy.py, README "Security").
STUDIO_TARGET_ALLOWED_HOSTS = env_list("STUDIO_TARGET_ALLOWED_HOSTS", [])

# --- Deployment resources (training/remote.py) ----------------------------------------
# One call to a resource (an HTTP request and its answer); one of its jobs (import,
# training, deploy) from acceptance to the end; how often such a job is polled.
STUDIO_RESOURCE_REQUEST_TIMEOUT_SECONDS = env_int(
    "STUDIO_RESOURCE_REQUEST_TIMEOUT_SECONDS", 30
)
STUDIO_RESOURCE_JOB_TIMEOUT_SECONDS = env_int(
    "STUDIO_RESOURCE_JOB_TIMEOUT_SECONDS", 3600
)
STUDIO_RESOURCE_POLL_SECONDS = env_int("STUDIO_RESOURCE_POLL_SECONDS", 2)
# Former SECRET_KEYs, still accepted to decrypt stored target secrets and resource
# keys (studio/crypto.py), to verify model manifests (training/artifact_store.py)
# and by Django for its signatures, until `manage.py rotatesecrets` moved them.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
# Predictions per API key per minute (fixed windows in the cache); 0 = no limit.
STUDIO_RATE_LIMIT_PER_MINUTE = env_int("STUDIO_RATE_LIMIT_PER_MINUTE", 0)
# Logged queries and keys' last-used times are written by a thread of each web
# process every this many milliseconds, never inside a prediction
# (studio/writebehind.py); 0: at once, in the request.
STUDIO_WRITE_BEHIND_MS = env_int("STUDIO_WRITE_BEHIND_MS", 1000)
if STUDIO_WRITE_BEHIND_MS < 0:
    raise ImproperlyConfigured("STUDIO_WRITE_BEHIND_MS cannot be negative.")
# Shadow deployments (runtime/shadow.py): queries waiting for a shadow model per web
# process (beyond it they are dropped and counted, never waited for), and the
# confidence gap at which a shadow agreeing on the top intent still counts as a
# disagreement (1 or more: only another top intent does).
STUDIO_SHADOW_QUEUE_SIZE = env_int("STUDIO_SHADOW_QUEUE_SIZE", 256)
if STUDIO_SHADOW_QUEUE_SIZE < 1:
    raise ImproperlyConfigured("STUDIO_SHADOW_QUEUE_SIZE must be at least 1.")
try:
    STUDIO_SHADOW_CONFIDENCE_GAP = float(
        os.environ.get("STUDIO_SHADOW_CONFIDENCE_GAP", "") or 0.3
    )
except ValueError:
    raise ImproperlyConfigured(
        "STUDIO_SHADOW_CONFIDENCE_GAP must be a number."
    ) from None
if not STUDIO_SHADOW_CONFIDENCE_GAP > 0:
    raise ImproperlyConfigured("STUDIO_SHADOW_CONFIDENCE_GAP must be above 0.")
# Shadow predictions run in a thread of the web process (off only in the test
# settings, where tests drain the queue themselves).
STUDIO_SHADOW_THREAD = True
# Days queries logged with isLoggingEnabled are kept; 0 = forever.
STUDIO_PREDICTION_LOG_RETENTION_DAYS = env_int(
    "STUDIO_PREDICTION_LOG_RETENTION_DAYS", 30
)
# Days audit events (who changed what) are kept; 0 = forever.
# How long the deploy gate keeps a model's predictions of a gate set
# (training/services/gate.py).
STUDIO_GATE_CACHE_SECONDS = env_int("STUDIO_GATE_CACHE_SECONDS", 600)
if STUDIO_GATE_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("STUDIO_GATE_CACHE_SECONDS must not be negative.")
STUDIO_AUDIT_RETENTION_DAYS = env_int("STUDIO_AUDIT_RETENTION_DAYS", 365)
if STUDIO_AUDIT_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("STUDIO_AUDIT_RETENTION_DAYS must not be negative.")
# Days the content a project had before an import replaced it is kept, restorable from
# the project's page; 0 = no copy is kept.
STUDIO_REPLACED_PROJECT_RETENTION_DAYS = env_int(
    "STUDIO_REPLACED_PROJECT_RETENTION_DAYS", 7
)
if STUDIO_REPLACED_PROJECT_RETENTION_DAYS < 0:
    raise ImproperlyConfigured(
        "STUDIO_REPLACED_PROJECT_RETENTION_DAYS must not be negative."
    )
if STUDIO_MODEL_CACHE_SIZE < 1:
    raise ImproperlyConfigured("STUDIO_MODEL_CACHE_SIZE must be at least 1.")
if STUDIO_RATE_LIMIT_PER_MINUTE < 0 or STUDIO_PREDICTION_LOG_RETENTION_DAYS < 0:
    raise ImproperlyConfigured(
        "STUDIO_RATE_LIMIT_PER_MINUTE and STUDIO_PREDICTION_LOG_RETENTION_DAYS must "
        "not be negative."
    )

# --- Bearer tokens from an OpenID Connect issuer (studio/api/tokens.py) -------------
# Off unless STUDIO_OIDC_ISSUER is set. The API then also takes
# ``Authorization: Bearer <JWT>`` signed by that issuer for one of the audiences, and
# acts as the studio user the token names, with that user's project roles.
STUDIO_OIDC_ISSUER = env_str("STUDIO_OIDC_ISSUER").strip()
STUDIO_OIDC_AUDIENCE = env_list("STUDIO_OIDC_AUDIENCE", [])
# Default: the jwks_uri of the issuer's /.well-known/openid-configuration.
STUDIO_OIDC_JWKS_URL = env_str("STUDIO_OIDC_JWKS_URL").strip()
# Which user a token is: the claim's value is a user name ("username") or the
# e-mail address of exactly one active user ("email").
STUDIO_OIDC_USER_MATCH = env_str("STUDIO_OIDC_USER_MATCH", "username").strip()
STUDIO_OIDC_USER_CLAIM = env_str(
    "STUDIO_OIDC_USER_CLAIM", "email" if STUDIO_OIDC_USER_MATCH == "email" else "sub"
).strip()
STUDIO_OIDC_ALGORITHMS = env_list("STUDIO_OIDC_ALGORITHMS", ["RS256"])
STUDIO_OIDC_LEEWAY_SECONDS = env_int("STUDIO_OIDC_LEEWAY_SECONDS", 60)
# The issuer's keys are cached this long; a token signed with a key not in the cache
# refetches them (at most once per cooldown), so a rotated key is picked up at once.
STUDIO_OIDC_JWKS_CACHE_SECONDS = env_int("STUDIO_OIDC_JWKS_CACHE_SECONDS", 300)
STUDIO_OIDC_JWKS_COOLDOWN_SECONDS = env_int("STUDIO_OIDC_JWKS_COOLDOWN_SECONDS", 30)
if STUDIO_OIDC_ISSUER:
    from studio.oidc_config import oidc_settings_problem

    _oidc_problem = oidc_settings_problem(
        issuer=STUDIO_OIDC_ISSUER,
        audience=STUDIO_OIDC_AUDIENCE,
        jwks_url=STUDIO_OIDC_JWKS_URL,
        user_match=STUDIO_OIDC_USER_MATCH,
        user_claim=STUDIO_OIDC_USER_CLAIM,
        algorithms=STUDIO_OIDC_ALGORITHMS,
        leeway=STUDIO_OIDC_LEEWAY_SECONDS,
        cache_seconds=STUDIO_OIDC_JWKS_CACHE_SECONDS,
        cooldown_seconds=STUDIO_OIDC_JWKS_COOLDOWN_SECONDS,
    )
    if _oidc_problem:
        raise ImproperlyConfigured(_oidc_problem)

# --- Sign-in throttling and e-mail (studio/accounts.py) -------------------------------
# Failed sign-ins are counted per user name and per client address; past the limit,
# sign-in is refused for the cool-off (an admin unlocks sooner by deleting the row
# under "Access attempts" in /admin/, or with `manage.py axes_reset`).
AXES_FAILURE_LIMIT = env_int("STUDIO_SIGN_IN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("STUDIO_SIGN_IN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "studio.accounts.lockout_response"
AXES_CLIENT_IP_CALLABLE = "studio.accounts.client_ip"
STUDIO_BEHIND_TLS_PROXY = env_bool("STUDIO_BEHIND_TLS_PROXY", default=False)
# Passwords hashed at once per web process, and how long a sign-in waits for a turn
# before it is told to try again: PBKDF2 must not crowd out predictions.
STUDIO_SIGN_IN_CONCURRENCY = env_int("STUDIO_SIGN_IN_CONCURRENCY", 1)
STUDIO_SIGN_IN_WAIT_SECONDS = _env_seconds("STUDIO_SIGN_IN_WAIT_SECONDS", 0.5)
if AXES_FAILURE_LIMIT < 1 or STUDIO_SIGN_IN_CONCURRENCY < 1:
    raise ImproperlyConfigured(
        "STUDIO_SIGN_IN_FAILURE_LIMIT and STUDIO_SIGN_IN_CONCURRENCY must be at "
        "least 1."
    )

# Password reset is offered only with an SMTP server (EMAIL_HOST). Without one there
# is no mailer at all (not a silent one, which `check --deploy` rightly refuses), and
# nothing tries to reach an SMTP server on localhost:25.
_email_host = env_str("EMAIL_HOST")
STUDIO_EMAIL_ENABLED = _email_host != ""
MAILERS: dict[str, Any] = {}
if not STUDIO_EMAIL_ENABLED:
    # "MAILERS has no 'default' entry": on purpose, see above.
    SILENCED_SYSTEM_CHECKS = ["mail.W001"]
else:
    _email_port = env_int("EMAIL_PORT", 587)
    MAILERS["default"] = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _email_host,
            "port": _email_port,
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", default=_email_port == 587),
            "use_ssl": env_bool("EMAIL_USE_SSL", default=_email_port == 465),
            "timeout": 10,
        },
    }
    DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"studio@{_email_host}")
    SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production) ------------------------------------------------------------
# HTTPS hardening is the default of the scaled setup. The embedded studio serves plain
# http://127.0.0.1:8000 to the person at the keyboard: a redirect to HTTPS or
# secure-only cookies would lock them out, so there each of these is opt-in.
_HTTPS = not DEBUG and not EMBEDDED
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=_HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=_HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=_HTTPS)
if STUDIO_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health checks and in-cluster bot traffic may arrive over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy on every response, in both modes: scripts, styles, images
# and requests from this origin only, no inline script, no style attributes, no
# framing. The studio's pages need nothing more (tests/browser/test_csp.py); the API
# docs page, which runs Redoc, relaxes it for itself (studio/urls.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Its version banner would open the output of every manage.py command.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}
