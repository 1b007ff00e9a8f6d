"""``Ocp-Apim-Subscription-Key`` authentication for the Azure-compatible API."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from studio.api.errors import InvalidKey
from studio.models import ApiKey
from studio.services import apikey_authenticate

KEY_HEADER = "HTTP_OCP_APIM_SUBSCRIPTION_KEY"


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
            return None  # HasApiKey turns this into the "missing key" 401
        api_key = apikey_authenticate(raw_key=raw.strip())
        if api_key is None:
            raise InvalidKey()
        return KeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Any value makes DRF answer 401 (not 403) for unauthenticated calls.
        return 'AzureApiManagementKey realm="studio"'


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)
