"""``Authorization: Bearer <JWT>`` from the configured OpenID Connect issuer, on the
authoring and runtime APIs: a valid token acts as the studio user it names, with
that user's project roles; every failed check is a 401 in Azure's shape naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from projects.models import Project
from tests.oidc_issuer import LocalIssuer, SigningKey
from tests.ui.conftest import UiUsers, make_projects, make_users

pytestmark = pytest.mark.django_db

V = "2023-04-01"
PROJECTS = f"/language/authoring/analyze-conversations/projects?api-version={V}"
ANALYZE = "/language/:analyze-conversations?api-version=2023-04-01"


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    served = LocalIssuer()
    with override_settings(**served.settings()):
        yield served
    served.close()


@pytest.fixture
def users(db: None) -> UiUsers:
    return make_users(make_projects())


def bearer(token: str, **headers: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}", **headers})


def listed(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {p["projectName"] for p in response.json()["value"]}


def assert_unauthorized(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.content
    error = response.json()["error"]
    assert error["code"] == "401"
    assert reason in error["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_token_acts_as_its_user_with_that_users_roles(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    viewer = bearer(issuer.token("vic-viewer"))
    outsider = bearer(issuer.token("oscar-outsider"))

    seen = listed(viewer.get(PROJECTS))
    denied = viewer.patch(
        f"/language/authoring/analyze-conversations/projects/conv?api-version={V}",
        data=json.dumps({"description": "by a viewer's token"}),
        content_type="application/merge-patch+json",
    )

    assert seen == {"conv", "orch"}
    assert denied.status_code == 403
    assert Project.objects.get(name="conv").description != "by a viewer's token"
    assert listed(outsider.get(PROJECTS)) == set()


def test_a_token_reaches_the_runtime_api(issuer: LocalIssuer, users: UiUsers) -> None:
    body = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "1", "text": "hi"}
        },
        "parameters": {"projectName": "conv", "deploymentName": "production"},
    }
    member = bearer(issuer.token("ana-analyst"))
    outsider = bearer(issuer.token("oscar-outsider"))

    as_member = member.post(ANALYZE, json.dumps(body), content_type="application/json")
    as_outsider = outsider.post(
        ANALYZE, json.dumps(body), content_type="application/json"
    )

    # Authenticated: the project has no deployment yet, so "not found", not 401.
    assert as_member.status_code == 404
    assert "production" in as_member.json()["error"]["message"]
    assert as_outsider.status_code == 404
    assert "'conv'" in as_outsider.json()["error"]["message"]


def test_a_user_can_be_matched_by_e_mail(issuer: LocalIssuer, users: UiUsers) -> None:
    with override_settings(
        **issuer.settings(
            STUDIO_OIDC_USER_MATCH="email", STUDIO_OIDC_USER_CLAIM="email"
        )
    ):
        token = issuer.token("opaque-id", email="Vic-Viewer@Example.test")
        unverified = issuer.token(
            "opaque-id", email="vic-viewer@example.test", email_verified=False
        )
        assert listed(bearer(token).get(PROJECTS)) == {"conv", "orch"}
        refused = bearer(unverified).get(PROJECTS)
    assert refused.status_code == 403


def test_an_expired_token_is_refused(issuer: LocalIssuer, users: UiUsers) -> None:
    token = issuer.token("vic-viewer", lifetime=-10)
    assert_unauthorized(bearer(token).get(PROJECTS), "has expired")


def test_a_token_not_valid_yet_is_refused(issuer: LocalIssuer, users: UiUsers) -> None:
    token = issuer.token("vic-viewer", nbf=2**31)
    assert_unauthorized(bearer(token).get(PROJECTS), "not valid yet")


def test_a_token_for_another_audience_is_refused(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    token = issuer.token("vic-viewer", aud="https://graph.microsoft.com")
    assert_unauthorized(bearer(token).get(PROJECTS), "audience")


def test_a_token_from_another_issuer_is_refused(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    token = issuer.token("vic-viewer", iss="https://login.example.test/other")
    assert_unauthorized(bearer(token).get(PROJECTS), "issuer")


def test_a_token_with_a_forged_signature_is_refused(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    forger = SigningKey()
    forger.kid = issuer.key.kid  # claims to be the issuer's key
    token = issuer.token("vic-viewer", key=forger)
    assert_unauthorized(bearer(token).get(PROJECTS), "signature")


def test_a_token_signed_with_an_unpublished_key_is_refused(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    token = issuer.token("vic-viewer", key=SigningKey())
    assert_unauthorized(bearer(token).get(PROJECTS), "key the issuer does not publish")


def test_garbage_and_unsigned_tokens_are_refused(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    import jwt

    unsigned = jwt.encode(
        {"iss": issuer.url, "aud": "x", "sub": "vic-viewer", "exp": 2**31},
        key="",
        algorithm="none",
    )
    assert_unauthorized(bearer("not-a-jwt").get(PROJECTS), "well-formed")
    assert_unauthorized(bearer(unsigned).get(PROJECTS), "algorithm")


def test_a_token_for_no_studio_user_is_forbidden(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    users.viewer.is_active = False
    users.viewer.save()
    unknown = bearer(issuer.token("nobody-here")).get(PROJECTS)
    inactive = bearer(issuer.token("vic-viewer")).get(PROJECTS)

    for response in (unknown, inactive):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "PermissionDenied"
        assert "not a user of this studio" in response.json()["error"]["message"]


def test_a_rotated_key_is_fetched_and_the_retired_one_refused(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    old_token = issuer.token("vic-viewer")
    assert listed(bearer(old_token).get(PROJECTS)) == {"conv", "orch"}
    fetches = issuer.jwks_fetches

    issuer.rotate()
    new_token = issuer.token("vic-viewer")

    assert listed(bearer(new_token).get(PROJECTS)) == {"conv", "orch"}
    assert issuer.jwks_fetches == fetches + 1
    assert_unauthorized(
        bearer(old_token).get(PROJECTS), "key the issuer does not publish"
    )


def test_keys_are_cached_between_calls(issuer: LocalIssuer, users: UiUsers) -> None:
    client = bearer(issuer.token("vic-viewer"))
    for _ in range(3):
        listed(client.get(PROJECTS))
    assert issuer.jwks_fetches == 1


def test_an_unreachable_issuer_is_a_503_not_a_refusal(users: UiUsers) -> None:
    issuer = LocalIssuer()
    token = issuer.token("vic-viewer")
    settings = issuer.settings()
    issuer.close()
    with override_settings(**settings):
        response = bearer(token).get(PROJECTS)
    assert response.status_code == 503
    assert "OpenID Connect issuer" in response.json()["error"]["message"]


def test_without_an_issuer_bearer_tokens_are_refused_with_the_reason(
    users: UiUsers,
) -> None:
    response = bearer("anything").get(PROJECTS)
    assert_unauthorized(response, "no OpenID Connect issuer is configured")


def test_a_key_still_wins_when_both_are_sent(
    issuer: LocalIssuer, users: UiUsers
) -> None:
    from studio.services import apikey_create

    _key, raw = apikey_create(name="resource key", created_by=None)
    headers = {"Ocp-Apim-Subscription-Key": raw}
    client = bearer(issuer.token("oscar-outsider"), **headers)
    assert listed(client.get(PROJECTS)) == {"conv", "orch"}
