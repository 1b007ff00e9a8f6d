"""The runtime's deployment directory (version polling) and model cache (LRU)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from projects.services import project_create_or_update
from runtime.errors import InternalServerError, ServiceUnavailable
from runtime.registry import (
    DeployedModel,
    DeploymentDirectory,
    ModelCache,
    runtime,
    runtime_reset,
)
from studio.errors import InvalidArgument, NotFound, ProjectNotFound
from tests.factories import KbProjectFactory, ProjectFactory
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    TRAVEL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
)
from training.engine.bundles import ConversationBundle
from training.models import Deployment

pytestmark = pytest.mark.django_db

CLU = ("Conversation", "Orchestration")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    yield
    runtime_reset()


def _directory(clock: Clock) -> DeploymentDirectory:
    return DeploymentDirectory(refresh_seconds=0.5, clock=clock)


def test_directory_reads_nothing_between_checks_and_only_the_version_after() -> None:
    project = ProjectFactory.create(name="Email")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    clock = Clock()
    directory = _directory(clock)
    with CaptureQueriesContext(connection) as first:
        directory.lookup("Email", "production", kinds=CLU)
    assert len(first) == 2  # the version, then the directory
    with CaptureQueriesContext(connection) as between:
        for _ in range(50):
            directory.lookup("Email", "production", kinds=CLU)
    assert len(between) == 0
    clock.now += 0.6
    with CaptureQueriesContext(connection) as check:
        directory.lookup("Email", "production", kinds=CLU)
    assert len(check) == 1  # version unchanged: no reload
    assert "deploymentstate" in check[0]["sql"].lower()


def test_a_swap_is_visible_after_the_refresh_interval_and_not_before() -> None:
    project = ProjectFactory.create(name="Email")
    first = deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES), label="a")
    clock = Clock()
    directory = _directory(clock)
    assert directory.lookup("Email", "production", kinds=CLU).model_id == (
        first.model_id
    )
    second = deploy_bundle(project, conversation_bundle(TRAVEL_EXAMPLES), label="b")
    assert directory.lookup("Email", "production", kinds=CLU).model_id == (
        first.model_id
    )
    clock.now += 0.6
    with CaptureQueriesContext(connection) as reload:
        found = directory.lookup("Email", "production", kinds=CLU)
    assert found.model_id == second.model_id
    assert len(reload) == 2  # version moved: one query reloads everything


def test_confidence_threshold_change_reaches_the_runtime_by_the_version_bump() -> None:
    project = ProjectFactory.create(name="Email", kind="Conversation")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    clock = Clock()
    directory = _directory(clock)
    assert directory.lookup("Email", "production", kinds=CLU).confidence_threshold == 0
    project_create_or_update(
        name="Email", data={"settings": {"confidenceThreshold": 0.7}}
    )
    clock.now += 0.6
    assert directory.lookup("Email", "production", kinds=CLU).confidence_threshold == (
        0.7
    )


def test_missing_project_deployment_and_wrong_kind_errors() -> None:
    ProjectFactory.create(name="Empty")
    KbProjectFactory.create(name="Faq")
    directory = _directory(Clock())
    with pytest.raises(ProjectNotFound):
        directory.lookup("Nope", "production", kinds=CLU)
    with pytest.raises(NotFound) as missing:
        directory.lookup("Empty", "production", kinds=CLU)
    assert type(missing.value) is NotFound
    with pytest.raises(InvalidArgument, match="QuestionAnswering"):
        directory.lookup("Faq", "production", kinds=CLU)


def test_version_check_failure_keeps_serving_the_last_directory() -> None:
    project = ProjectFactory.create(name="Email")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    clock = Clock()
    failing = {"on": False}

    def version() -> int:
        if failing["on"]:
            raise OperationalError("server closed the connection unexpectedly")
        from studio.deployment_state import deployment_state_version

        return deployment_state_version()

    directory = DeploymentDirectory(
        refresh_seconds=0.5, clock=clock, version_reader=version
    )
    model = directory.lookup("Email", "production", kinds=CLU)
    failing["on"] = True
    clock.now += 0.6
    assert directory.lookup("Email", "production", kinds=CLU) == model
    empty = DeploymentDirectory(
        refresh_seconds=0.5, clock=clock, version_reader=version
    )
    with pytest.raises(ServiceUnavailable):
        empty.lookup("Email", "production", kinds=CLU)


def _model(model_id: str, sha: str = "s") -> DeployedModel:
    return DeployedModel(
        project_name="P",
        deployment_name="production",
        project_kind="Conversation",
        project_id=1,
        confidence_threshold=0.0,
        language="en",
        default_answer="",
        model_id=model_id,
        artifact_name=f"models/{model_id}.bin",
        manifest={"sha256": sha},
    )


def test_model_cache_loads_once_and_evicts_the_least_recently_used() -> None:
    loaded: list[str] = []

    def loader(name: str, manifest: Mapping[str, Any]) -> object:
        loaded.append(name)
        return {"name": name}

    cache = ModelCache(size=2, loader=loader)
    a, b, c = _model("a"), _model("b"), _model("c")
    assert cache.get(a) is cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # evicts b
    assert a.cache_key in cache and c.cache_key in cache
    assert b.cache_key not in cache
    cache.get(b)
    assert loaded == ["models/a.bin", "models/b.bin", "models/c.bin", "models/b.bin"]
    # A retrained model with the same id but other bytes is another entry.
    cache.get(_model("a", sha="other"))
    assert loaded[-1] == "models/a.bin" and len(loaded) == 5


def test_concurrent_first_requests_load_a_model_once_and_see_it_whole() -> None:
    calls: list[int] = []
    started = threading.Event()

    def slow_loader(name: str, manifest: Mapping[str, Any]) -> object:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return ("bundle", name)

    cache = ModelCache(size=4, loader=slow_loader)
    model = _model("x")
    results: list[object] = []

    def worker() -> None:
        results.append(cache.get(model))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]
    assert results == [("bundle", "models/x.bin")] * 8


def test_broken_artifact_is_a_clear_500_and_not_retried_on_every_request() -> None:
    project = ProjectFactory.create(name="Email")
    deployment = deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    default_storage.delete(deployment.artifact_name)
    default_storage.save(deployment.artifact_name, ContentFile(b"not a pickle"))
    clock = Clock()
    cache = ModelCache(size=2, clock=clock)
    model = runtime().directory.lookup("Email", "production", kinds=CLU)
    with pytest.raises(InternalServerError, match="cannot be loaded") as broken:
        cache.get(model)
    assert deployment.model_id in broken.value.message
    assert cache.loads == 0
    with pytest.raises(InternalServerError):
        cache.get(model)
    # Redeploying gives a new artifact that loads at once.
    fixed = deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES), label="m2")
    runtime().directory.invalidate()
    model = runtime().directory.lookup("Email", "production", kinds=CLU)
    assert model.model_id == fixed.model_id
    assert isinstance(cache.get(model), ConversationBundle)


def test_directory_holds_every_deployment_with_its_project_settings() -> None:
    project = ProjectFactory.create(
        name="Email", confidence_threshold=0.4, language="en"
    )
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES), deployment="staging")
    entries = runtime().directory.entries()
    assert set(entries) == {("Email", "production"), ("Email", "staging")}
    model = entries[("Email", "staging")]
    row = Deployment.objects.get(project=project, name="staging")
    assert (model.model_id, model.artifact_name) == (row.model_id, row.artifact_name)
    assert model.confidence_threshold == 0.4
    assert model.project_kind == "Conversation"


def test_a_deploy_prewarms_its_model_in_the_background() -> None:
    project = ProjectFactory.create(name="Email")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES), label="a")
    current = runtime()
    current.models.get(current.directory.lookup("Email", "production", kinds=CLU))
    deploy_bundle(project, conversation_bundle(TRAVEL_EXAMPLES), label="b")
    current.directory.invalidate()  # as when the refresh time passes
    swapped = current.directory.lookup("Email", "production", kinds=CLU)
    deadline = time.monotonic() + 10
    while swapped.cache_key not in current.models and time.monotonic() < deadline:
        time.sleep(0.01)
    assert swapped.cache_key in current.models  # loaded without any request
    assert current.models.loads == 2


def test_a_replaced_model_leaves_the_cache_on_the_reload_and_a_kept_one_stays() -> None:
    project = ProjectFactory.create(name="Email")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES), label="a")
    deploy_bundle(
        project, conversation_bundle(EMAIL_EXAMPLES), deployment="staging", label="s"
    )
    current = runtime()
    old = current.directory.lookup("Email", "production", kinds=CLU)
    staging = current.directory.lookup("Email", "staging", kinds=CLU)
    current.models.get(old)
    current.models.get(staging)
    deploy_bundle(project, conversation_bundle(TRAVEL_EXAMPLES), label="b")
    current.directory.invalidate()
    current.directory.entries()
    assert old.cache_key not in current.models  # no deployment serves it any more
    assert staging.cache_key in current.models


def test_a_new_deployment_is_found_at_once_a_miss_checks_the_version() -> None:
    project = ProjectFactory.create(name="Email")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    clock = Clock()
    directory = _directory(clock)
    directory.lookup("Email", "production", kinds=CLU)
    # Deployed right after this process loaded its directory (a bot deploying and
    # predicting at once): the miss checks the version instead of answering 404.
    fresh = deploy_bundle(
        project, conversation_bundle(EMAIL_EXAMPLES), deployment="new"
    )
    found = directory.lookup("Email", "new", kinds=CLU)
    assert found.model_id == fresh.model_id
    # A true miss still answers 404, with the version check and the project query.
    with CaptureQueriesContext(connection) as miss, pytest.raises(NotFound):
        directory.lookup("Email", "missing", kinds=CLU)
    assert len(miss) == 2


def test_a_database_that_starts_over_at_the_same_version_is_still_reloaded() -> None:
    """Regression: the directory compared the version number only, so a database
    flushed (a test) or restored from a backup that happened to reach the number a
    process had cached kept serving the old deployments."""
    from studio.deployment_state import deployment_state_bump
    from studio.models import DeploymentState

    project = ProjectFactory.create(name="Email")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    directory = DeploymentDirectory(refresh_seconds=0.0)
    assert directory.has_project("Email")
    cached = DeploymentState.objects.get(pk=1).version

    # The database starts over: nothing deployed, and the counter climbs back to
    # the number the process has cached.
    Deployment.objects.all().delete()
    DeploymentState.objects.all().delete()
    while deployment_state_bump() < cached:
        pass
    time.sleep(0.002)

    assert not directory.has_project("Email")
