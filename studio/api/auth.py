"""Authentication for the Azure-compatible API: the ``Ocp-Apim-Subscription-Key``
header, or ``Authorization: Bearer <JWT>`` from the configured OpenID Connect issuer
(``studio.api.tokens``), as Azure takes a resource key or an Entra ID token."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from studio.api.errors import InvalidKey, InvalidToken, PrincipalForbidden
from studio.api.tokens import (
    BearerToken,
    TokenRejected,
    UnknownPrincipal,
    bearer_authenticate,
)
from studio.models import ApiKey
from studio.services import apikey_authenticate

KEY_HEADER = "HTTP_OCP_APIM_SUBSCRIPTION_KEY"
AUTHORIZATION_HEADER = "HTTP_AUTHORIZATION"


class KeyPrincipal:
    """``request.user`` for key-authenticated calls: a resource-level caller, as an
    Azure Language resource key is."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        raw = request.META.get(KEY_HEADER)
        if raw is None:
            return None  # HasCredential turns this into the "missing key" 401
        api_key = apikey_authenticate(raw_key=raw.strip())
        if api_key is None:
            raise InvalidKey()
        return KeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Any value makes DRF answer 401 (not 403) for unauthenticated calls.
        return 'AzureApiManagementKey realm="studio"'


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <JWT>``; other schemes are not ours (None: the
    "missing key" 401 unless the key header authenticated the call)."""

    def authenticate(self, request: Request) -> tuple[Any, BearerToken] | None:
        scheme, _, token = request.META.get(AUTHORIZATION_HEADER, "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            bearer = bearer_authenticate(token.strip())
        except TokenRejected as exc:
            raise InvalidToken(str(exc)) from None
        except UnknownPrincipal as exc:
            raise PrincipalForbidden(str(exc)) from None
        return bearer.user, bearer

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="studio"'


class HasCredential(BasePermission):
    """A key or a verified bearer token authenticated the call."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey | BearerToken)
