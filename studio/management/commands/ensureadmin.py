"""``manage.py ensureadmin``: make sure an administrator account exists.

Credentials come from ``STUDIO_ADMIN_USER`` (default ``admin``) and
``STUDIO_ADMIN_PASSWORD``. Without a password a random one is generated and printed,
once: it is only known at creation. Idempotent: when the account exists nothing changes,
except that a password given in the environment is applied if it differs (the
environment is the operator's source of truth, e.g. in docker compose).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEFAULT_ADMIN_USER = "admin"


@dataclass(frozen=True)
class AdminResult:
    username: str
    created: bool
    password_changed: bool
    # Only set when the password was generated here and must be shown to the user.
    generated_password: str | None


def admin_ensure(*, username: str | None, password: str | None) -> AdminResult | None:
    """Create or update the admin account; ``None`` when there is nothing to do
    because neither a name nor a password was given and a superuser exists."""
    user_model = get_user_model()
    if password:
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError(
                "STUDIO_ADMIN_PASSWORD is refused: " + " ".join(exc.messages)
            ) from exc
    with transaction.atomic():
        if username is None:
            if not password and user_model.objects.filter(is_superuser=True).exists():
                return None
            username = DEFAULT_ADMIN_USER
        user = user_model.objects.select_for_update().filter(username=username).first()
        if user is None:
            generated = None if password else secrets.token_urlsafe(12)
            user_model.objects.create_superuser(
                username=username, email="", password=password or generated
            )
            return AdminResult(username, True, False, generated)
        changed = False
        if not (user.is_superuser and user.is_staff and user.is_active):
            user.is_superuser = user.is_staff = user.is_active = True
            changed = True
        password_changed = bool(password) and not user.check_password(password)
        if password_changed:
            user.set_password(password)
        if changed or password_changed:
            user.save()
        return AdminResult(username, False, password_changed, None)


class Command(BaseCommand):
    help = (
        "Ensure an admin account exists (STUDIO_ADMIN_USER / STUDIO_ADMIN_PASSWORD; "
        "a generated password is printed once)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("STUDIO_ADMIN_USER", "").strip() or None
        password = os.environ.get("STUDIO_ADMIN_PASSWORD", "") or None
        result = admin_ensure(username=username, password=password)
        if result is None:
            self.stdout.write("Admin account: an administrator already exists.")
        elif result.created and result.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account {result.username!r} with password "
                    f"{result.generated_password!r} - shown only now; sign in at "
                    "/accounts/login/ and keep it safe."
                )
            )
        elif result.created:
            self.stdout.write(
                f"Created admin account {result.username!r} "
                "(password from STUDIO_ADMIN_PASSWORD)."
            )
        elif result.password_changed:
            self.stdout.write(
                f"Admin account {result.username!r}: password updated from "
                "STUDIO_ADMIN_PASSWORD."
            )
        else:
            self.stdout.write(f"Admin account {result.username!r} already exists.")
