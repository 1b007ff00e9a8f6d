"""``/api/v1/resources``: the registry over REST for staff (resource keys, staff and
superusers' keys); the key never comes back; errors in Azure's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from studio.crypto import secret_decrypt
from studio.services import apikey_create
from tests.factories import ProjectFactory
from training.models import DeploymentResource, ProjectResource

pytestmark = pytest.mark.django_db

URL = "/api/v1/resources"
BODY = {
    "azureResourceId": "studio-b",
    "region": "westeurope",
    "endpoint": "https://studio-b.example.com",
    "key": "s3cret",
}


def client_with(owner: Any = None) -> Client:
    _key, raw = apikey_create(name="registry", created_by=owner)
    return Client(headers={"Ocp-Apim-Subscription-Key": raw})


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json")


def test_a_resource_key_registers_lists_edits_and_removes_a_resource() -> None:
    api = client_with()

    created = send(api, "post", URL, BODY)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["azureResourceId"] == "studio-b"
    assert "key" not in body and "s3cret" not in created.content.decode()
    pk = body["id"]
    assert send(api, "get", URL).json()["value"][0]["id"] == pk

    edited = send(api, "patch", f"{URL}/{pk}", {"region": "northeurope"})
    assert edited.status_code == 200
    assert edited.json()["region"] == "northeurope"
    resource = DeploymentResource.objects.get(pk=pk)
    assert secret_decrypt(resource.key_sealed) == "s3cret"  # kept

    assert send(api, "delete", f"{URL}/{pk}").status_code == 204
    assert not DeploymentResource.objects.exists()


def test_only_staff_keys_may_manage_resources() -> None:
    model = get_user_model()
    someone = client_with(model.objects.create_user("ann", password="x"))  # noqa: S106
    staff = client_with(
        model.objects.create_user("sam", password="x", is_staff=True)  # noqa: S106
    )

    refused = send(someone, "post", URL, BODY)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Forbidden"
    assert send(someone, "get", URL).status_code == 403
    assert send(staff, "post", URL, BODY).status_code == 201
    assert Client().get(URL).status_code == 401


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({**BODY, "endpoint": "http://127.0.0.1:8000"}, "endpoint"),
        ({**BODY, "key": 7}, "key"),
        ({k: v for k, v in BODY.items() if k != "key"}, "key"),
        ({**BODY, "secret": "x"}, "secret"),
    ],
)
def test_bad_bodies_are_400_and_register_nothing(
    body: dict[str, Any], target: str
) -> None:
    answer = send(client_with(), "post", URL, body)

    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == target
    assert not DeploymentResource.objects.exists()


def test_an_assigned_resource_is_409_and_stays() -> None:
    api = client_with()
    pk = send(api, "post", URL, BODY).json()["id"]
    ProjectResource.objects.create(
        project=ProjectFactory.create(name="Travel"), resource_id=pk
    )

    answer = send(api, "delete", f"{URL}/{pk}")

    assert answer.status_code == 409
    assert "assigned to Travel" in answer.json()["error"]["message"]
    assert send(api, "get", f"{URL}/{pk}").json()["assignedProjects"] == ["Travel"]


def test_the_id_cannot_change_and_unknown_ids_are_404() -> None:
    api = client_with()
    pk = send(api, "post", URL, BODY).json()["id"]

    assert (
        send(api, "patch", f"{URL}/{pk}", {"azureResourceId": "x"}).status_code == 400
    )
    assert send(api, "get", f"{URL}/{pk + 1}").status_code == 404
