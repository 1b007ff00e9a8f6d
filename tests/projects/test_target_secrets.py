"""Secrets of external HTTP targets (``httpOrchestration.headers`` and ``key``) are
write-only: encrypted at rest with a key derived from ``SECRET_KEY``, masked
(``"***"``) in every read and export, and a write that sends the mask back keeps
the stored value. Only project admins (and resource keys) change LUIS/HTTP targets."""

from __future__ import annotations

import importlib
import io
import json
from typing import Any

import pytest
from django.apps import apps as django_apps

from projects import services
from projects.formats.conversation import intent_link, link_as_azure
from projects.models import Intent, Project
from runtime.targets import TargetError, spec_headers
from studio.crypto import SecretUnreadable, secret_decrypt
from studio.errors import Forbidden, InvalidArgument
from tests.factories import OrchestrationProjectFactory
from training.engine.bundles import TargetSpec
from training.training_data import training_data_load

pytestmark = pytest.mark.django_db

KEY = "full-access-resource-key-0123456789"
TOKEN = "Bearer very-secret-token"
MASK = "***"


def http_link(
    url: str = "https://bots.example.com/predict",
    headers: dict[str, str] | None = None,
    key: str | None = KEY,
) -> dict[str, Any]:
    target: dict[str, Any] = {"url": url}
    if headers is None:
        headers = {"Authorization": TOKEN}
    if headers:
        target["headers"] = headers
    if key is not None:
        target["key"] = key
    return {"targetProjectKind": "Http", "httpOrchestration": target}


@pytest.fixture
def router() -> Project:
    return OrchestrationProjectFactory.create(name="Router")


@pytest.fixture
def weather(router: Project) -> Intent:
    return services.intent_create(
        project=router, data={"category": "Weather", "orchestration": http_link()}
    )


def raw_row(intent: Intent) -> str:
    row = Intent.objects.filter(pk=intent.pk).values("http_headers", "http_key")[0]
    return json.dumps(row)


def sent_headers(project: Project, intent: str = "Weather") -> dict[str, str]:
    """The headers the runtime would send for ``intent``, decrypted."""
    spec = training_data_load(project=project).targets[intent]
    return spec_headers(spec)


def test_secrets_are_stored_encrypted(weather: Intent) -> None:
    stored = raw_row(weather)
    assert KEY not in stored and "very-secret-token" not in stored
    weather.refresh_from_db()
    assert weather.http_key.startswith("fernet:")
    assert secret_decrypt(weather.http_key) == KEY
    assert secret_decrypt(weather.http_headers["Authorization"]) == TOKEN


def test_every_read_shows_the_mask(weather: Intent, router: Project) -> None:
    link = link_as_azure(intent_link(weather))
    assert link == http_link(headers={"Authorization": MASK}, key=MASK)
    exported = json.dumps(services.project_export(project=router))
    assert KEY not in exported and "very-secret-token" not in exported
    assert '"key": "***"' in exported


def test_sending_the_mask_back_keeps_the_stored_values(
    weather: Intent, router: Project
) -> None:
    services.intent_update(
        intent=weather,
        data={
            "orchestration": http_link(
                headers={"Authorization": MASK, "X-Team": "support"}, key=MASK
            )
        },
    )
    assert sent_headers(router) == {
        "Authorization": TOKEN,
        "X-Team": "support",
        "Ocp-Apim-Subscription-Key": KEY,
    }
    # A rename (no orchestration in the patch) keeps them too.
    services.intent_update(intent=weather, data={"category": "Forecast"})
    assert sent_headers(router, "Forecast")["Ocp-Apim-Subscription-Key"] == KEY


def test_a_new_value_replaces_and_a_missing_one_removes(
    weather: Intent, router: Project
) -> None:
    services.intent_update(
        intent=weather, data={"orchestration": http_link(headers={}, key="new-key")}
    )
    assert sent_headers(router) == {"Ocp-Apim-Subscription-Key": "new-key"}
    services.intent_update(
        intent=weather, data={"orchestration": http_link(headers={}, key=None)}
    )
    assert sent_headers(router) == {}


def test_the_mask_does_not_carry_a_key_to_another_host(weather: Intent) -> None:
    with pytest.raises(InvalidArgument) as caught:
        services.intent_update(
            intent=weather,
            data={
                "orchestration": http_link(
                    url="https://attacker.example.net/collect",
                    headers={"Authorization": MASK},
                    key=MASK,
                )
            },
        )
    targets = {d.target for d in caught.value.details}
    assert "orchestration.httpOrchestration.key" in targets
    weather.refresh_from_db()
    assert weather.http_url == "https://bots.example.com/predict"


def test_a_mask_with_nothing_stored_is_refused(router: Project) -> None:
    with pytest.raises(InvalidArgument) as caught:
        services.intent_create(
            project=router,
            data={"category": "W", "orchestration": http_link(key=MASK, headers={})},
        )
    assert caught.value.details[0].target == "orchestration.httpOrchestration.key"
    assert not Intent.objects.filter(name="W").exists()


def test_reimporting_an_export_keeps_the_secrets(
    weather: Intent, router: Project
) -> None:
    exported = services.project_export(project=router)
    services.project_import(name="Router", document=exported)
    assert sent_headers(router) == {
        "Authorization": TOKEN,
        "Ocp-Apim-Subscription-Key": KEY,
    }
    # Into another project the masks have nothing to keep: dropped, with a warning.
    warnings: list[Any] = []
    copy = services.project_import(name="Copy", document=exported, warnings=warnings)
    assert sent_headers(copy) == {}
    assert any("Weather" in w.message and "***" in w.message for w in warnings)


def test_the_runtime_spec_holds_only_encrypted_values(
    weather: Intent, router: Project
) -> None:
    spec = training_data_load(project=router).targets["Weather"]
    assert spec.headers == {}
    assert KEY not in repr(spec) and "very-secret-token" not in repr(spec)


def test_a_changed_secret_key_is_a_clear_error_and_fallbacks_still_read(
    weather: Intent, router: Project, settings: Any
) -> None:
    spec = training_data_load(project=router).targets["Weather"]
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-completely-different-secret-key-" + "y" * 30
    with pytest.raises(TargetError) as caught:
        spec_headers(spec)
    assert "SECRET_KEY_FALLBACKS" in caught.value.message
    with pytest.raises(SecretUnreadable):
        secret_decrypt(Intent.objects.get(pk=weather.pk).http_key)
    settings.SECRET_KEY_FALLBACKS = [old]
    assert spec_headers(spec)["Ocp-Apim-Subscription-Key"] == KEY


def test_the_data_migration_encrypts_plain_text_rows(router: Project) -> None:
    intent = Intent.objects.create(
        project=router,
        name="Legacy",
        target_kind="Http",
        http_url="https://bots.example.com/p",
        http_headers={"Authorization": TOKEN},
        http_key=KEY,
    )
    assert KEY in raw_row(intent)  # as rows written before encryption
    migration = importlib.import_module("projects.migrations.0004_target_secrets")
    migration.encrypt_target_secrets(django_apps, None)
    migration.encrypt_target_secrets(django_apps, None)  # idempotent
    assert KEY not in raw_row(intent) and "very-secret" not in raw_row(intent)
    assert sent_headers(router, "Legacy") == {
        "Authorization": TOKEN,
        "Ocp-Apim-Subscription-Key": KEY,
    }


# ---------------------------------------------------------------- who may change


def test_without_admin_rights_external_targets_cannot_be_created_or_changed(
    weather: Intent, router: Project
) -> None:
    with pytest.raises(Forbidden):
        services.intent_create(
            project=router,
            data={"category": "Other", "orchestration": http_link()},
            targets_allowed=False,
        )
    for change in (
        {"orchestration": http_link(url="https://elsewhere.example.com/p")},
        {"orchestration": http_link(headers={"Authorization": MASK}, key="mine")},
        {"orchestration": None},
    ):
        with pytest.raises(Forbidden):
            services.intent_update(intent=weather, data=change, targets_allowed=False)
    luis = {"targetProjectKind": "Luis", "luisOrchestration": {"appId": "a"}}
    with pytest.raises(Forbidden):
        services.intent_create(
            project=router,
            data={"category": "Legacy", "orchestration": luis},
            targets_allowed=False,
        )
    # What does not touch a target stays open to analysts.
    services.intent_update(
        intent=weather, data={"category": "Forecast"}, targets_allowed=False
    )
    services.intent_update(
        intent=weather,
        data={"orchestration": http_link(headers={"Authorization": MASK}, key=MASK)},
        targets_allowed=False,
    )
    services.intent_create(
        project=router, data={"category": "Chitchat"}, targets_allowed=False
    )
    assert sent_headers(router, "Forecast")["Ocp-Apim-Subscription-Key"] == KEY


def test_a_spec_with_plain_headers_from_an_old_artifact_still_works() -> None:
    spec = TargetSpec(kind="Http", url="https://x.example.com", headers={"A": "b"})
    assert spec_headers(spec) == {"A": "b"}


def test_rotatesecrets_moves_secrets_to_the_new_key(
    weather: Intent, router: Project, settings: Any
) -> None:
    from django.core.management import CommandError, call_command

    old = settings.SECRET_KEY
    settings.SECRET_KEY = "the-new-secret-key-" + "z" * 40
    settings.SECRET_KEY_FALLBACKS = [old]
    call_command("rotatesecrets", stdout=io.StringIO())
    settings.SECRET_KEY_FALLBACKS = []
    assert sent_headers(router) == {
        "Authorization": TOKEN,
        "Ocp-Apim-Subscription-Key": KEY,
    }
    settings.SECRET_KEY = "yet-another-secret-key-" + "w" * 40
    with pytest.raises(CommandError, match="Router/Weather"):
        call_command("rotatesecrets", stdout=io.StringIO())


def test_a_header_that_would_split_the_request_is_refused(router: Project) -> None:
    with pytest.raises(InvalidArgument) as caught:
        services.intent_create(
            project=router,
            data={
                "category": "W",
                "orchestration": http_link(headers={"X-A": "1\r\nX-Injected: 2"}),
            },
        )
    assert caught.value.details[0].target == "orchestration.httpOrchestration.headers"
