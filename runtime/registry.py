"""Per-process directory of deployments and cache of loaded models.

The hot path of a prediction asks two things: which model does
``(project, deployment)`` serve, and where is that model in memory. Both are answered
from this process's memory:

- ``DeploymentDirectory`` maps ``(project name, deployment name)`` to a
  ``DeployedModel``. It is loaded with one query (deployments joined with their
  project). At most every ``STUDIO_DEPLOYMENT_REFRESH_SECONDS`` one request reads
  ``DeploymentState`` (version and time of the last change, a primary-key lookup);
  when either moved the directory is reloaded (one query) and published by replacing
  one reference, so a reader sees either the old or the new dict, never a mix.
  Between checks a request costs no query at all.
- ``ModelCache`` keeps up to ``STUDIO_MODEL_CACHE_SIZE`` loaded bundles, keyed by
  ``(model id, artifact sha256)``. A bundle is loaded once per process (one lock per
  key, so two threads never load the same artifact twice) and published only when
  fully loaded, so no request ever sees a half-loaded model. The models a reload
  brings (a deploy or swap) are loaded at once in a background thread, and the
  models no deployment serves any more (a deleted deployment, the old side of a
  swap) leave the cache on that reload rather than waiting for the LRU to push
  them out: a process's memory holds at most the models deployed now, bounded by
  ``STUDIO_MODEL_CACHE_SIZE``. A deployment's shadow model (``runtime.shadow``)
  counts as deployed: loaded on the reload that brings it, dropped on the one that
  removes it.

When the database is unreachable during a version check, the last directory keeps
serving (its deployments were valid a moment ago); only a process that never loaded
one answers 503.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from projects.models import Project
from runtime.errors import (
    DeploymentUnavailable,
    InternalServerError,
    ServiceUnavailable,
)
from studio.deployment_state import deployment_state_stamp
from studio.errors import (
    DATABASE_OUTAGES,
    InvalidArgument,
    NotFound,
    ProjectNotFound,
    StudioError,
)
from training.artifact_store import artifact_load
from training.engine.artifacts import ArtifactDependencyMissing
from training.models import Deployment

logger = logging.getLogger(__name__)

# A broken artifact is not retried on every request: loading is expensive and the
# same bytes fail the same way. A redeploy changes the key and is tried at once.
FAILED_LOAD_RETRY_SECONDS = 5.0

DirectoryKey = tuple[str, str]
CacheKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DeployedModel:
    """What the runtime needs of one deployment: its model and project settings."""

    project_name: str
    deployment_name: str
    project_kind: str
    project_id: int
    confidence_threshold: float
    language: str
    default_answer: str
    model_id: str
    artifact_name: str
    manifest: Mapping[str, Any] = field(hash=False, compare=False)
    # The project option "per-intent thresholds" (settings.perIntentThresholds).
    per_intent_thresholds: bool = False
    # The deployment's shadow model (runtime/shadow.py): same project settings, its
    # own model; None when the deployment has none.
    shadow: DeployedModel | None = field(default=None, hash=False, compare=False)

    @property
    def cache_key(self) -> CacheKey:
        return (self.model_id, str(self.manifest.get("sha256", "")))

    @property
    def served_keys(self) -> list[CacheKey]:
        """The cache keys this deployment keeps loaded: its model and shadow."""
        keys = [self.cache_key]
        if self.shadow is not None:
            keys.append(self.shadow.cache_key)
        return keys


_DIRECTORY_FIELDS = (
    "name",
    "model_id",
    "artifact_name",
    "manifest",
    "project_id",
    "project__name",
    "project__kind",
    "project__confidence_threshold",
    "project__language",
    "project__default_answer",
    "project__per_intent_thresholds",
    "shadow_model_id",
    "shadow_artifact_name",
    "shadow_manifest",
)


def deployed_models_load() -> dict[DirectoryKey, DeployedModel]:
    """Every deployment with its project's runtime settings: one query."""
    entries: dict[DirectoryKey, DeployedModel] = {}
    for row in Deployment.objects.values_list(*_DIRECTORY_FIELDS):
        (
            name,
            model_id,
            artifact_name,
            manifest,
            project_id,
            project_name,
            kind,
            threshold,
            language,
            default_answer,
            per_intent_thresholds,
            shadow_model_id,
            shadow_artifact_name,
            shadow_manifest,
        ) = row
        common = {
            "project_name": project_name,
            "deployment_name": name,
            "project_kind": kind,
            "project_id": project_id,
            "confidence_threshold": float(threshold),
            "language": language,
            "default_answer": default_answer,
            "per_intent_thresholds": bool(per_intent_thresholds),
        }
        shadow = None
        if shadow_model_id:
            shadow = DeployedModel(
                **common,
                model_id=shadow_model_id,
                artifact_name=shadow_artifact_name,
                manifest=shadow_manifest,
            )
        entries[(project_name, name)] = DeployedModel(
            **common,
            model_id=model_id,
            artifact_name=artifact_name,
            manifest=manifest,
            shadow=shadow,
        )
    return entries


def _version_read() -> Hashable:
    return deployment_state_stamp()


def _directory_load() -> dict[DirectoryKey, DeployedModel]:
    return deployed_models_load()


class DeploymentDirectory:
    """``(project, deployment) -> DeployedModel``, refreshed by version polling."""

    def __init__(
        self,
        *,
        refresh_seconds: float,
        version_reader: Callable[[], Hashable] | None = None,
        loader: Callable[[], dict[DirectoryKey, DeployedModel]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_reload: Callable[[list[DeployedModel]], object] | None = None,
        on_publish: Callable[[dict[DirectoryKey, DeployedModel]], object] | None = None,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self._version_reader = version_reader or _version_read
        self._loader = loader or _directory_load
        self._on_reload = on_reload
        self._on_publish = on_publish
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[DirectoryKey, DeployedModel] | None = None
        self._version: Hashable | None = None
        self._next_check = 0.0

    @property
    def version(self) -> Hashable | None:
        return self._version

    def entries(self) -> dict[DirectoryKey, DeployedModel]:
        """The current directory; checks the version when the refresh time passed."""
        entries = self._entries
        if entries is None or self._clock() >= self._next_check:
            entries = self._refresh()
        return entries

    def _refresh(self, *, force: bool = False) -> dict[DirectoryKey, DeployedModel]:
        current = self._entries
        if current is not None:
            # Another thread is already checking: keep serving what we have.
            if not self._lock.acquire(blocking=False):
                return current
        else:
            self._lock.acquire()
        try:
            current = self._entries
            if current is not None and not force and self._clock() < self._next_check:
                return current
            try:
                version = self._version_reader()
                if current is None or version != self._version:
                    previous = current
                    current = self._loader()
                    self._entries = current  # one reference assignment: atomic
                    self._version = version
                    if self._on_publish is not None:
                        self._on_publish(current)
                    if previous is not None and self._on_reload is not None:
                        changed = []
                        for key, model in current.items():
                            before = previous.get(key)
                            if before is None or before.cache_key != model.cache_key:
                                changed.append(model)
                            shadow = model.shadow
                            if shadow is not None and (
                                before is None
                                or before.shadow is None
                                or before.shadow.cache_key != shadow.cache_key
                            ):
                                changed.append(shadow)
                        if changed:
                            self._on_reload(changed)
            except DatabaseError as exc:
                if current is None:
                    raise ServiceUnavailable(
                        "The deployment directory cannot be read: the database is "
                        "unavailable. Retry shortly."
                    ) from exc
                logger.warning(
                    "Deployment version check failed (%s); serving the last known "
                    "deployments (version %s).",
                    exc,
                    self._version,
                )
            self._next_check = self._clock() + self.refresh_seconds
            return current
        finally:
            self._lock.release()

    def has_project(self, project_name: str) -> bool:
        """Whether some deployment of ``project_name`` is served (no query)."""
        return any(name == project_name for name, _ in self.entries())

    def invalidate(self) -> None:
        """Force a version check on the next lookup (tests, management commands)."""
        self._next_check = 0.0

    def lookup(
        self, project_name: str, deployment_name: str, *, kinds: tuple[str, ...]
    ) -> DeployedModel:
        """The deployment, or Azure's 404 / 400.

        A miss first checks the version at once (a deployment made a moment ago,
        before the next periodic check, is found rather than answered 404), then
        costs one query (does the project exist, and of which kind?) so the error
        says whether the project or the deployment is missing; hits cost none.
        """
        key = (project_name, deployment_name)
        model = self.entries().get(key)
        if model is None:
            model = self._refresh(force=True).get(key)
        if model is not None:
            if model.project_kind not in kinds:
                raise _wrong_kind(project_name, model.project_kind, kinds)
            return model
        try:
            kind = (
                Project.objects.filter(name=project_name)
                .values_list("kind", flat=True)
                .first()
            )
        except DATABASE_OUTAGES as exc:
            # Only an outage: a name the database refuses is the client's 400
            # (``studio.api.errors.database_error``).
            raise ServiceUnavailable(
                "The database is unavailable. Retry shortly."
            ) from exc
        if kind is None:
            raise ProjectNotFound(
                f"The project {project_name!r} does not exist.", target="projectName"
            )
        if kind not in kinds:
            raise _wrong_kind(project_name, kind, kinds)
        raise NotFound(
            f"The deployment {deployment_name!r} does not exist in project "
            f"{project_name!r}.",
            target="deploymentName",
        )


def _wrong_kind(
    project_name: str, kind: str, kinds: tuple[str, ...]
) -> InvalidArgument:
    return InvalidArgument(
        f"The project {project_name!r} is a {kind} project; this endpoint serves "
        + " and ".join(kinds)
        + " projects.",
        target="projectName",
    )


class ModelCache:
    """LRU of loaded bundles, keyed by ``(model id, sha256)``."""

    def __init__(
        self,
        *,
        size: int,
        loader: Callable[[str, Mapping[str, Any]], Any] = artifact_load,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = max(1, size)
        self._loader = loader
        self._clock = clock
        self._entries: OrderedDict[CacheKey, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[CacheKey, threading.Lock] = {}
        self._failures: dict[CacheKey, tuple[float, StudioError]] = {}
        self.loads = 0

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, model: DeployedModel) -> Any:
        """The loaded bundle of ``model``; loads it on first use in this process.

        Raises ``InternalServerError`` when the artifact cannot be loaded.
        """
        key = model.cache_key
        bundle = self._entries.get(key)
        if bundle is not None:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
            return bundle
        return self._load(model, key)

    def _load(self, model: DeployedModel, key: CacheKey) -> Any:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            bundle = self._entries.get(key)
            if bundle is not None:
                return bundle
            failure = self._failures.get(key)
            if failure is not None and self._clock() < failure[0]:
                raise type(failure[1])(failure[1].message)
            try:
                bundle = self._loader(model.artifact_name, model.manifest)
            except ArtifactDependencyMissing as exc:
                # The artifact is sound; a file it needs on this server is not:
                # an operator's fix, said as such (503), not a crash (500).
                error: StudioError = DeploymentUnavailable(
                    f"The deployment {model.deployment_name!r} of project "
                    f"{model.project_name!r} cannot serve: its model "
                    f"{model.model_id!r} {exc}"
                )
                self._fail(key, error, exc)
                raise error from exc
            # Unpickling can raise nearly anything (a missing module, a truncated
            # stream); the process must survive it and say which model is broken.
            except Exception as exc:  # noqa: BLE001
                message = (
                    f"The model {model.model_id!r} of deployment "
                    f"{model.deployment_name!r} (project {model.project_name!r}) "
                    f"cannot be loaded: {exc}"
                )
                error = InternalServerError(message)
                self._fail(key, error, exc)
                raise error from exc
            self.loads += 1
            with self._lock:
                self._failures.pop(key, None)
                self._entries[key] = bundle
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    evicted, _ = self._entries.popitem(last=False)
                    self._key_locks.pop(evicted, None)
            return bundle

    def _fail(self, key: CacheKey, error: StudioError, exc: Exception) -> None:
        """Log a failed load and answer it again for a few seconds (no reload
        storm while a deployment is broken)."""
        logger.error("%s", error.message, exc_info=exc)
        with self._lock:  # retain() iterates the dict under this lock
            self._failures[key] = (self._clock() + FAILED_LOAD_RETRY_SECONDS, error)

    def retain(self, keys: set[CacheKey]) -> None:
        """Drop every loaded model (and remembered failure) not in ``keys``: the
        directory was reloaded and no deployment serves them any more."""
        with self._lock:
            for key in [k for k in self._entries if k not in keys]:
                del self._entries[key]
            for key in [k for k in self._failures if k not in keys]:
                del self._failures[key]
            for key, lock in list(self._key_locks.items()):
                # A held lock is a load under way; its key may be needed again.
                if key not in keys and not lock.locked():
                    del self._key_locks[key]

    def prewarm(self, models: list[DeployedModel]) -> threading.Thread:
        """Load ``models`` in a background thread (a deploy or swap just published
        them), so their first request finds them loaded or waits on the load
        already under way instead of starting it."""

        def run() -> None:
            for model in models[: self.size]:
                # A broken artifact is logged by get(); its requests report it.
                with contextlib.suppress(InternalServerError):
                    self.get(model)

        thread = threading.Thread(target=run, name="studio-model-prewarm", daemon=True)
        thread.start()
        return thread


class Runtime:
    """The process-wide pair; built from settings on first use."""

    def __init__(self) -> None:
        self.models = ModelCache(size=int(settings.STUDIO_MODEL_CACHE_SIZE))
        self.directory = DeploymentDirectory(
            refresh_seconds=float(settings.STUDIO_DEPLOYMENT_REFRESH_SECONDS),
            on_reload=self.models.prewarm,
            on_publish=self._retain_deployed,
        )

    def _retain_deployed(self, entries: dict[DirectoryKey, DeployedModel]) -> None:
        self.models.retain(
            {key for model in entries.values() for key in model.served_keys}
        )


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    global _runtime
    current = _runtime
    if current is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = Runtime()
            current = _runtime
    return current


def runtime_reset() -> None:
    """Drop this process's directory and cache (tests; settings changes)."""
    global _runtime
    with _runtime_lock:
        _runtime = None
