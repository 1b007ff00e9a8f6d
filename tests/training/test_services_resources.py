"""The deployment-resource registry (``training/services/resources.py``): checked
fields, the key encrypted and write-only, the outbound policy on the endpoint, no
removal while assigned."""

from __future__ import annotations

from typing import Any

import pytest

from studio.crypto import secret_decrypt
from studio.errors import Conflict, InvalidArgument
from studio.models import AuditEvent
from tests.factories import ProjectFactory
from training.models import DeploymentResource, ProjectResource
from training.services.resources import (
    resource_create,
    resource_delete,
    resource_update,
)

pytestmark = pytest.mark.django_db


def create(**overrides: Any) -> DeploymentResource:
    fields = {
        "azure_resource_id": "studio-b",
        "region": "westeurope",
        "endpoint": "https://studio-b.example.com/",
        "key": "s3cret-key",
    }
    return resource_create(**{**fields, **overrides})


def test_the_key_is_stored_encrypted_and_the_endpoint_without_its_slash() -> None:
    resource = create()

    assert resource.key_sealed.startswith("fernet:")
    assert "s3cret-key" not in resource.key_sealed
    assert secret_decrypt(resource.key_sealed) == "s3cret-key"
    assert resource.endpoint == "https://studio-b.example.com"


def test_the_audit_trail_records_the_change_but_never_the_key() -> None:
    resource = create()
    resource_update(
        resource=resource,
        region="northeurope",
        endpoint=resource.endpoint,
        kind="azure",
        key="new-key",
    )

    events = list(AuditEvent.objects.filter(action__startswith="resource."))
    assert sorted(e.action for e in events) == ["resource.create", "resource.update"]
    assert all("s3cret-key" not in str(e.after) for e in events)
    assert all("new-key" not in str(e.after) for e in events)


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("ftp://studio-b.example.com", "http(s) URL"),
        ("studio-b.example.com", "http(s) URL"),
        ("https://user:pw@studio-b.example.com", "must not carry"),
        ("https://studio-b.example.com?key=1", "must not carry"),
        ("http://127.0.0.1:8000", "local or private address"),
        ("http://localhost:8000", "local or private address"),
        ("http://169.254.169.254", "local or private address"),
        ("https://studio-b.example.com:99999", "port"),
    ],
)
def test_bad_or_private_endpoints_are_refused(endpoint: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        create(endpoint=endpoint)

    assert words in caught.value.message
    assert caught.value.target == "endpoint"
    assert not DeploymentResource.objects.exists()


def test_an_allowlisted_private_host_is_accepted(settings: Any) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]

    assert create(endpoint="http://127.0.0.1:8001").endpoint == "http://127.0.0.1:8001"


@pytest.mark.parametrize(
    ("overrides", "target"),
    [
        ({"azure_resource_id": ""}, "azureResourceId"),
        ({"azure_resource_id": "has space"}, "azureResourceId"),
        ({"region": ""}, "region"),
        ({"kind": "other"}, "kind"),
        ({"key": ""}, "key"),
        ({"key": "a\nb"}, "key"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(
    overrides: dict[str, Any], target: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        create(**overrides)

    assert caught.value.target == target
    assert not DeploymentResource.objects.exists()


def test_ids_are_unique_whatever_their_case() -> None:
    create(azure_resource_id="Studio-B")

    with pytest.raises(Conflict):
        create(azure_resource_id="studio-b")


def test_an_edit_without_a_key_keeps_the_key() -> None:
    resource = create()

    updated = resource_update(
        resource=resource,
        region="northeurope",
        endpoint="https://other.example.com",
        kind="azure",
    )

    assert secret_decrypt(updated.key_sealed) == "s3cret-key"
    assert (updated.region, updated.endpoint, updated.kind) == (
        "northeurope",
        "https://other.example.com",
        "azure",
    )


def test_an_assigned_resource_cannot_be_removed() -> None:
    resource = create()
    ProjectResource.objects.create(
        project=ProjectFactory.create(name="Travel"), resource=resource
    )

    with pytest.raises(Conflict) as caught:
        resource_delete(resource=resource)

    assert "assigned to Travel" in caught.value.message
    assert DeploymentResource.objects.filter(pk=resource.pk).exists()


def test_an_unassigned_resource_is_removed() -> None:
    resource = create()

    resource_delete(resource=resource)

    assert not DeploymentResource.objects.exists()
