"""Reads for the studio's People and account pages."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.http import Http404


def people_list(*, search: str = "") -> QuerySet[AbstractBaseUser]:
    """Every user, active first then by user name; ``search`` matches part of the
    user name, e-mail address or name (case-insensitive)."""
    users = get_user_model().objects.all()
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    return users.order_by("-is_active", "username")


def person_get(*, pk: int) -> AbstractBaseUser:
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        raise Http404("No such user.")
    return user
