"""Reads of API keys: a user's own keys on their account page."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F, QuerySet
from django.http import Http404

from studio.models import ApiKey


def user_api_keys(*, user: AbstractBaseUser) -> QuerySet[ApiKey]:
    """The keys a user created (active first, newest first)."""
    return ApiKey.objects.filter(created_by_id=user.pk).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at"
    )


def user_api_key_get(*, user: AbstractBaseUser, pk: int) -> ApiKey:
    """One of the user's own keys; someone else's is a 404, not a 403."""
    api_key = ApiKey.objects.filter(created_by_id=user.pk, pk=pk).first()
    if api_key is None:
        raise Http404("No such API key.")
    return api_key
