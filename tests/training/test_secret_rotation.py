"""Rotating ``SECRET_KEY`` the way Django documents it (new key in ``SECRET_KEY``,
the old one in ``SECRET_KEY_FALLBACKS``) keeps every model loading and every stored
secret readable; ``manage.py rotatesecrets`` then moves model signatures and
resource keys to the new key, so the old one can be dropped. A manifest no known key
signed stays refused."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from jobs.models import Job
from projects.models import Project
from runtime import keys
from runtime.errors import InternalServerError
from runtime.registry import (
    FAILED_LOAD_RETRY_SECONDS,
    ModelCache,
    runtime,
    runtime_reset,
)
from studio.crypto import secret_decrypt, secret_encrypt, secret_is_current
from studio.services import apikey_create
from tests.api.test_runtime_api import Target
from tests.factories import OrchestrationProjectFactory, ProjectFactory
from tests.training.model_helpers import deploy_trained_model, make_trained_model
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    TRAVEL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
)
from tests.training.test_train_service import clu_project, train
from training import artifact_store
from training.artifact_store import artifact_load, signing_key
from training.engine.artifacts import (
    ArtifactError,
    ArtifactManifest,
    manifest_signature_valid,
)
from training.engine.bundles import ConversationBundle, OrchestrationBundle, TargetSpec
from training.models import Deployment, DeploymentResource, TrainedModel
from training.services.resources import resource_create

pytestmark = pytest.mark.django_db

ANALYZE = "/language/:analyze-conversations?api-version=2023-04-01"
TEXTS = ["send an email to carol", "email bob", "read my inbox", "show my mail"]
LABELS = ["SendEmail", "SendEmail", "ReadEmail", "ReadEmail"]


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()
    yield
    runtime_reset()


def _new_key() -> str:
    return "rotated-" + secrets.token_urlsafe(50)


def _rotate(settings: Any) -> str:
    """Django's rotation: a new SECRET_KEY, the old one a fallback. Returns the old."""
    old = str(settings.SECRET_KEY)
    settings.SECRET_KEY = _new_key()
    settings.SECRET_KEY_FALLBACKS = [old]
    runtime_reset()  # a restarted process, as a settings change needs
    return old


def _predict(project: Project, text: str = "send an email to carol") -> Any:
    raw_key = apikey_create(name=f"bot-{secrets.token_hex(4)}")[1]
    body = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "u", "text": text}
        },
        "parameters": {"projectName": project.name, "deploymentName": "production"},
    }
    return Client().post(
        ANALYZE,
        json.dumps(body),
        content_type="application/json",
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw_key,
    )


def _deployed_with_shadow() -> tuple[Project, Deployment, TrainedModel]:
    project = ProjectFactory.create(name="Email", kind="Conversation")
    model = make_trained_model(project, "m1", TEXTS, LABELS)
    deployment = deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    shadow = deploy_bundle(
        project, conversation_bundle(TRAVEL_EXAMPLES), deployment="other", label="s"
    )
    Deployment.objects.filter(pk=deployment.pk).update(
        shadow_model_label="s",
        shadow_model_id=shadow.model_id,
        shadow_artifact_name=shadow.artifact_name,
        shadow_manifest=shadow.manifest,
        shadow_set_at=timezone.now(),
    )
    deployment.refresh_from_db()
    return project, deployment, model


def _every_manifest_loads() -> None:
    for model in TrainedModel.objects.all():
        assert artifact_load(model.artifact_name, model.manifest)
    for row in Deployment.objects.all():
        assert artifact_load(row.artifact_name, row.manifest)
        if row.shadow_artifact_name:
            assert artifact_load(row.shadow_artifact_name, row.shadow_manifest)


def test_a_deployed_model_still_predicts_after_the_key_moves_to_the_fallbacks(
    settings: Any,
) -> None:
    project, _, _ = _deployed_with_shadow()
    _rotate(settings)

    response = _predict(project)

    assert response.status_code == 200, response.content
    prediction = response.json()["result"]["prediction"]
    assert prediction["topIntent"] == "SendEmail"
    _every_manifest_loads()


def test_training_works_after_a_rotation_and_signs_with_the_new_key(
    settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    mail = clu_project()
    _rotate(settings)

    job = train(django_capture_on_commit_callbacks, mail)

    assert job.status == Job.Status.SUCCEEDED, job.errors
    model = TrainedModel.objects.get(project=mail)
    settings.SECRET_KEY_FALLBACKS = []
    assert artifact_load(model.artifact_name, model.manifest)


def test_rotatesecrets_resigns_every_manifest_and_reencrypts_resource_keys(
    settings: Any,
) -> None:
    project, deployment, _ = _deployed_with_shadow()
    resource = resource_create(
        azure_resource_id="/subscriptions/1/resource-b",
        region="westeurope",
        endpoint="https://b.example.com",
        key="resource-key-s3cret",
    )
    _rotate(settings)
    # Readable under the fallback before anything moved.
    assert secret_decrypt(resource.key_sealed) == "resource-key-s3cret"
    out = io.StringIO()

    call_command("rotatesecrets", stdout=out)

    report = out.getvalue()
    # 1 trained model; 2 deployments' models and 1 shadow.
    assert "Re-signed the manifests of 4 model(s)" in report
    assert "Re-encrypted the keys of 1 deployment resource(s)" in report
    settings.SECRET_KEY_FALLBACKS = []
    runtime_reset()
    _every_manifest_loads()
    resource.refresh_from_db()
    assert secret_decrypt(resource.key_sealed) == "resource-key-s3cret"
    response = _predict(project)
    assert response.status_code == 200, response.content
    deployment.refresh_from_db()
    assert artifact_load(deployment.shadow_artifact_name, deployment.shadow_manifest)

    # Run again: everything is under the current key already, nothing is rewritten.
    again = io.StringIO()
    call_command("rotatesecrets", stdout=again)
    assert "Re-signed the manifests of 0 model(s)" in again.getvalue()
    assert "Re-encrypted the keys of 0 deployment resource(s)" in again.getvalue()


def test_a_manifest_signed_by_an_unknown_key_is_refused_and_not_resigned(
    settings: Any,
) -> None:
    project = ProjectFactory.create(name="Email", kind="Conversation")
    settings.SECRET_KEY = _new_key()  # a key this studio never lists again
    foreign = deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    _rotate(settings)
    settings.SECRET_KEY_FALLBACKS = [_new_key()]

    with pytest.raises(ArtifactError, match="signature mismatch"):
        artifact_load(foreign.artifact_name, foreign.manifest)
    assert _predict(project).status_code == 500
    with pytest.raises(CommandError, match="Email/production"):
        call_command("rotatesecrets", stdout=io.StringIO())
    foreign_after = Deployment.objects.get(pk=foreign.pk)
    assert foreign_after.manifest == foreign.manifest  # left as it was


def test_a_tampered_manifest_is_refused_under_a_fallback_key(settings: Any) -> None:
    project = ProjectFactory.create(name="Email", kind="Conversation")
    model = make_trained_model(project, "m1", TEXTS, LABELS)
    _rotate(settings)
    tampered = {**model.manifest, "training_data_hash": "f" * 64}

    with pytest.raises(ArtifactError, match="signature mismatch"):
        artifact_load(model.artifact_name, tampered)
    TrainedModel.objects.filter(pk=model.pk).update(manifest=tampered)
    with pytest.raises(CommandError, match="Email/m1"):
        call_command("rotatesecrets", stdout=io.StringIO())
    assert TrainedModel.objects.get(pk=model.pk).manifest == tampered


def test_a_resource_key_of_an_unknown_key_is_reported_by_rotatesecrets(
    settings: Any,
) -> None:
    resource = resource_create(
        azure_resource_id="/subscriptions/1/resource-c",
        region="westeurope",
        endpoint="https://c.example.com",
        key="k",
    )
    settings.SECRET_KEY = _new_key()  # the old key is gone, not a fallback

    with pytest.raises(CommandError, match="resource-c"):
        call_command("rotatesecrets", stdout=io.StringIO())
    assert DeploymentResource.objects.get(pk=resource.pk).key_sealed == (
        resource.key_sealed
    )


SECRET_HEADER = "Ocp-Apim-Subscription-Key"


@pytest.fixture
def target(settings: Any) -> Iterator[Target]:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]  # the fake target's host
    server = Target()
    yield server
    server.close()


def _router_model(label: str, url: str, value: str) -> TrainedModel:
    """A trained router of project "Router" whose SendEmail intent calls the HTTP
    target at ``url`` with the header sealed under the current key."""
    router = Project.objects.filter(name="Router").first()
    if router is None:
        router = OrchestrationProjectFactory.create(name="Router", language="en")
    http = TargetSpec(
        kind="Http", url=url, sealed_headers={SECRET_HEADER: secret_encrypt(value)}
    )
    return make_trained_model(router, label, TEXTS, LABELS, targets={"SendEmail": http})


def _signed_by_current_key(manifest: dict[str, Any]) -> bool:
    return manifest_signature_valid(ArtifactManifest.from_dict(manifest), signing_key())


def _sealed_values(name: str, manifest: dict[str, Any]) -> list[str]:
    bundle = artifact_load(name, manifest)
    assert isinstance(bundle, OrchestrationBundle)
    return [
        value
        for spec in bundle.targets.values()
        for value in spec.sealed_headers.values()
    ]


def _stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return bytes(handle.read())


def _rows() -> list[tuple[Any, ...]]:
    models = TrainedModel.objects.order_by("pk").values_list(
        "artifact_name", "manifest"
    )
    deployments = Deployment.objects.order_by("pk").values_list(
        "artifact_name", "manifest", "shadow_artifact_name", "shadow_manifest"
    )
    return [*models, *deployments]


def test_rotatesecrets_moves_a_deployed_routers_target_secrets_to_the_new_key(
    settings: Any,
    target: Target,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.STUDIO_DEPLOYMENT_REFRESH_SECONDS = 0  # every request checks the version
    model = _router_model("r1", target.url, "target-s3cret")
    deployment = deploy_trained_model(model)
    old_artifact, old_manifest = model.artifact_name, model.manifest
    old_bundle = artifact_load(model.artifact_name, model.manifest)
    old_bytes = _stored_bytes(model.artifact_name)
    _rotate(settings)
    # Manifests signed first, so only moving the secrets can tell web processes.
    artifact_store.artifact_manifests_resign()
    # The web process has the router loaded, under the fallback key.
    assert _predict(model.project).status_code == 200
    assert target.requests[-1]["headers"][SECRET_HEADER] == "target-s3cret"
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotatesecrets", stdout=out)

    report = out.getvalue()
    assert "Router/r1" in report
    assert "Router/production" in report
    # The old key goes; the running process serves the new artifact (no restart).
    settings.SECRET_KEY_FALLBACKS = []
    response = _predict(model.project)
    assert response.status_code == 200, response.content
    routed = response.json()["result"]["prediction"]["intents"]["SendEmail"]
    assert "error" not in routed, routed
    assert target.requests[-1]["headers"][SECRET_HEADER] == "target-s3cret"
    model.refresh_from_db()
    deployment.refresh_from_db()
    assert model.artifact_name != old_artifact
    assert deployment.artifact_name == model.artifact_name  # still one artifact
    assert deployment.manifest == model.manifest
    assert model.manifest["sha256"] != old_manifest["sha256"]
    assert _signed_by_current_key(model.manifest)
    for key in ("training_data_hash", "params"):
        assert model.manifest[key] == old_manifest[key]
    new_bundle = artifact_load(model.artifact_name, model.manifest)
    assert artifact_load(deployment.artifact_name, deployment.manifest)
    assert all(secret_is_current(v) for v in _sealed_values(
        model.artifact_name, model.manifest))  # fmt: skip
    # Only the sealed header changed: byte for byte the same model otherwise.
    old_value = old_bundle.targets["SendEmail"].sealed_headers[SECRET_HEADER]
    new_value = new_bundle.targets["SendEmail"].sealed_headers[SECRET_HEADER]
    new_bytes = _stored_bytes(model.artifact_name)
    assert new_bytes != old_bytes
    assert new_bytes.replace(new_value.encode(), old_value.encode()) == old_bytes
    assert new_bundle.targets.keys() == old_bundle.targets.keys()
    assert new_bundle.targets["SendEmail"].url == target.url
    assert not default_storage.exists(old_artifact)  # cleaned up once unused

    # Run again: nothing left under the old key, nothing is rewritten.
    before = _rows()
    again = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotatesecrets", stdout=again)
    assert "Router/r1" not in again.getvalue()
    assert _rows() == before


def test_rotatesecrets_moves_a_shadow_routers_target_secrets(
    settings: Any,
    target: Target,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    live = _router_model("r1", target.url, "live-s3cret")
    shadow = _router_model("r2", target.url, "shadow-s3cret")
    deployment = deploy_trained_model(live)
    Deployment.objects.filter(pk=deployment.pk).update(
        shadow_model_label=shadow.label,
        shadow_model_id=shadow.model_id,
        shadow_artifact_name=shadow.artifact_name,
        shadow_manifest=shadow.manifest,
        shadow_set_at=timezone.now(),
    )
    old_shadow = shadow.artifact_name
    _rotate(settings)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotatesecrets", stdout=io.StringIO())

    settings.SECRET_KEY_FALLBACKS = []
    deployment.refresh_from_db()
    shadow.refresh_from_db()
    assert deployment.shadow_artifact_name != old_shadow
    assert deployment.shadow_artifact_name == shadow.artifact_name
    assert _signed_by_current_key(deployment.shadow_manifest)
    values = _sealed_values(deployment.shadow_artifact_name, deployment.shadow_manifest)
    assert [secret_decrypt(v) for v in values] == ["shadow-s3cret"]
    assert not default_storage.exists(old_shadow)
    response = _predict(live.project)
    assert response.status_code == 200, response.content
    assert target.requests[-1]["headers"][SECRET_HEADER] == "live-s3cret"
    before = _rows()
    call_command("rotatesecrets", stdout=io.StringIO())
    assert _rows() == before


def test_a_crash_half_way_leaves_every_row_on_a_verifiable_artifact(
    settings: Any, target: Target
) -> None:
    model = _router_model("r1", target.url, "target-s3cret")
    deploy_trained_model(model)
    old_artifact = model.artifact_name
    _rotate(settings)
    artifact_store.artifact_manifests_resign()  # so the next bump is the reseal's

    def killed() -> int:
        raise RuntimeError("killed while repointing the deployment")

    with (
        mock.patch.object(artifact_store, "deployment_state_bump", killed),
        pytest.raises(RuntimeError, match="killed"),
    ):
        call_command("rotatesecrets", stdout=io.StringIO())

    # The trained model moved, the deployment's change rolled back: both verify.
    model.refresh_from_db()
    deployment = Deployment.objects.get()
    assert deployment.artifact_name == old_artifact != model.artifact_name
    _every_manifest_loads()
    # Run again: the deployment gets a resealed artifact of its own.
    call_command("rotatesecrets", stdout=io.StringIO())
    settings.SECRET_KEY_FALLBACKS = []
    deployment.refresh_from_db()
    _every_manifest_loads()
    values = _sealed_values(deployment.artifact_name, deployment.manifest)
    assert [secret_decrypt(v) for v in values] == ["target-s3cret"]


def test_a_swap_during_the_run_is_moved_too_not_reported_as_done(
    settings: Any, target: Target
) -> None:
    """A deployment repointed (swap, promote) after the command listed the rows
    misses its conditional update; the command must not then report success
    with that deployment still on a router sealed under the old key."""
    first = _router_model("r1", target.url, "first-s3cret")
    second = _router_model("r2", target.url, "second-s3cret")
    deployment = deploy_trained_model(first)
    _rotate(settings)
    listed = artifact_store._router_pointers

    def listed_then_swapped() -> list[Any]:
        pointers = listed()
        if not swapped:
            swapped.append(True)
            now = TrainedModel.objects.get(pk=second.pk)  # as a swap reads it
            Deployment.objects.filter(pk=deployment.pk).update(
                model_label=now.label,
                model_id=now.model_id,
                artifact_name=now.artifact_name,
                manifest=now.manifest,
            )
        return pointers

    swapped: list[bool] = []
    with mock.patch.object(artifact_store, "_router_pointers", listed_then_swapped):
        call_command("rotatesecrets", stdout=io.StringIO())

    assert swapped
    settings.SECRET_KEY_FALLBACKS = []
    deployment.refresh_from_db()
    values = _sealed_values(deployment.artifact_name, deployment.manifest)
    assert all(secret_is_current(v) for v in values)
    assert [secret_decrypt(v) for v in values] == ["second-s3cret"]
    _every_manifest_loads()


def test_a_router_repointed_in_every_pass_fails_the_command(
    settings: Any, target: Target
) -> None:
    """Rows that keep moving under the command (every pass's conditional update
    missed) are named and fail it: the old key may still be needed."""
    model = _router_model("r1", target.url, "first-s3cret")
    deploy_trained_model(model)
    _rotate(settings)
    one_pass = artifact_store._reseal_pass
    passes: list[int] = []

    def always_missed(summary: Any) -> list[str]:
        one_pass(summary)
        passes.append(1)
        return ["Router/production"]

    with (
        mock.patch.object(artifact_store, "_reseal_pass", always_missed),
        pytest.raises(CommandError, match="deployed or swapped again") as failed,
    ):
        call_command("rotatesecrets", stdout=io.StringIO())

    assert "Router/production" in str(failed.value)
    assert len(passes) == artifact_store._RESEAL_PASSES


def test_every_row_of_an_artifact_takes_its_resealed_file_before_the_next_is_written(
    settings: Any, target: Target
) -> None:
    """A resealed file is unreferenced until a row takes it, and the workers'
    orphan sweep deletes unreferenced files older than an hour: so every row on
    one artifact must move right after its file is written, not after the files
    of every other router (a long run would leave a row pointing at a swept file)."""
    first = _router_model("r1", target.url, "first-s3cret")
    second = _router_model("r2", target.url, "second-s3cret")
    deployment = deploy_trained_model(first)  # listed after r2's trained model
    _rotate(settings)
    write = artifact_store._resealed_artifact
    still_on_old: list[str] = []

    def tracking(pointer: Any) -> Any:
        # Writing r2's file: every row of r1 must already be on r1's new file.
        left = Deployment.objects.filter(
            pk=deployment.pk, artifact_name=first.artifact_name
        )
        if pointer.artifact_name == second.artifact_name and left.exists():
            still_on_old.append(pointer.what)
        return write(pointer)

    with mock.patch.object(artifact_store, "_resealed_artifact", tracking):
        call_command("rotatesecrets", stdout=io.StringIO())

    assert still_on_old == []
    settings.SECRET_KEY_FALLBACKS = []
    deployment.refresh_from_db()
    first.refresh_from_db()
    assert deployment.artifact_name == first.artifact_name
    _every_manifest_loads()


def test_a_plain_text_value_left_from_before_encryption_is_encrypted(
    settings: Any, target: Target
) -> None:
    router = OrchestrationProjectFactory.create(name="Router", language="en")
    plain = TargetSpec(
        kind="Http", url=target.url, sealed_headers={SECRET_HEADER: "plain-s3cret"}
    )
    model = make_trained_model(
        router, "r1", TEXTS, LABELS, targets={"SendEmail": plain}
    )
    _rotate(settings)

    call_command("rotatesecrets", stdout=io.StringIO())

    settings.SECRET_KEY_FALLBACKS = []
    model.refresh_from_db()
    (value,) = _sealed_values(model.artifact_name, model.manifest)
    assert secret_is_current(value)
    assert secret_decrypt(value) == "plain-s3cret"
    before = _rows()
    call_command("rotatesecrets", stdout=io.StringIO())
    assert _rows() == before


def test_routers_rotatesecrets_cannot_move_are_named_and_fail_the_command(
    settings: Any,
) -> None:
    router = OrchestrationProjectFactory.create(name="Router")
    settings.SECRET_KEY = _new_key()  # a key this studio never lists again
    sealed = TargetSpec(
        kind="Http",
        url="https://bots.example.com/predict",
        sealed_headers={SECRET_HEADER: secret_encrypt("k")},
    )
    _rotate(settings)
    lost = make_trained_model(
        router, "r1", TEXTS, LABELS, targets={"SendEmail": sealed}
    )
    broken = OrchestrationProjectFactory.create(name="Broken")
    gone = make_trained_model(broken, "b1", TEXTS, ["A", "A", "B", "B"])
    default_storage.delete(gone.artifact_name)
    clean = OrchestrationProjectFactory.create(name="Plain")
    make_trained_model(clean, "p1", TEXTS, ["A", "A", "B", "B"])
    settings.SECRET_KEY_FALLBACKS = [_new_key()]
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("rotatesecrets", stdout=out)

    message = str(failed.value)
    assert "Router/r1" in message
    assert "Broken/b1" in message
    assert "Plain/p1" not in message + out.getvalue()
    assert TrainedModel.objects.get(pk=lost.pk).artifact_name == lost.artifact_name


def test_a_load_refused_for_the_key_is_retried_once_the_key_is_accepted(
    settings: Any,
) -> None:
    project = ProjectFactory.create(name="Email", kind="Conversation")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
    old = str(settings.SECRET_KEY)
    settings.SECRET_KEY = _new_key()  # rotated, but the fallback was forgotten
    now = [100.0]
    cache = ModelCache(size=2, clock=lambda: now[0])
    model = runtime().directory.lookup("Email", "production", kinds=("Conversation",))
    with pytest.raises(InternalServerError, match="signature mismatch"):
        cache.get(model)

    settings.SECRET_KEY_FALLBACKS = [old]
    with pytest.raises(InternalServerError):
        cache.get(model)  # within the retry pause: not reloaded on every request
    now[0] += FAILED_LOAD_RETRY_SECONDS + 0.1
    assert isinstance(cache.get(model), ConversationBundle)
