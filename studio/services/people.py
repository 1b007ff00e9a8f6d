"""People: the studio's own user management (create, invite, deactivate, reactivate,
password links), so that nobody needs the Django admin for it.

Who may manage people: active superusers and active staff users (``is_staff``, the
"studio staff"); ``may_manage_people`` is the one check. Staff who are not
superusers may not touch a superuser's account, and nobody deactivates themselves.
Project admins manage only the members of their projects (projects/services).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from studio.audit import audit_record
from studio.errors import Conflict, Forbidden, InvalidArgument, ServiceUnavailable

ONE_TIME_PASSWORD_BYTES = 12


def may_manage_people(user: AbstractBaseUser) -> bool:
    return bool(
        user.is_active
        and (getattr(user, "is_superuser", False) or getattr(user, "is_staff", False))
    )


def _check_may_change(*, actor: AbstractBaseUser, user: AbstractBaseUser) -> None:
    if not may_manage_people(actor):
        raise Forbidden("Only studio staff and superusers manage people.")
    if getattr(user, "is_superuser", False) and not getattr(
        actor, "is_superuser", False
    ):
        raise Forbidden("Only a superuser may change a superuser's account.")


@dataclass(frozen=True, slots=True)
class NewPerson:
    """A created user and how they sign in for the first time: a one-time password
    (shown once, never stored in clear) or an invitation e-mail."""

    user: AbstractBaseUser
    one_time_password: str | None
    invited: bool


def _password_link(user: AbstractBaseUser, site_url: str) -> str:
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),  # type: ignore[arg-type]
        },
    )
    return site_url.rstrip("/") + path


def _send_password_link(
    *, user: AbstractBaseUser, site_url: str, subject: str, intro: str
) -> None:
    """E-mail ``user`` a link to choose a password (Django's reset-confirm page; the
    token dies once the password changes)."""
    if not settings.STUDIO_EMAIL_ENABLED:
        raise InvalidArgument(
            "E-mail is not configured (EMAIL_HOST), so no link can be sent.",
            target="email",
        )
    email = getattr(user, "email", "")
    if not email:
        raise InvalidArgument(
            f"{user.get_username()} has no e-mail address.", target="email"
        )
    link = _password_link(user, site_url)
    body = (
        f"{intro}\n\nYour user name: {user.get_username()}\n\n"
        f"Choose your password here (the link works once):\n{link}\n"
    )
    try:
        send_mail(subject, body, None, [email])
    except OSError as exc:  # smtplib's errors are OSErrors too
        raise ServiceUnavailable(
            "The e-mail could not be sent; check the e-mail settings and try again.",
            target="email",
        ) from exc


def user_create(
    *,
    actor: AbstractBaseUser,
    username: str,
    email: str = "",
    invite: bool = False,
    is_staff: bool = False,
    site_url: str = "",
) -> NewPerson:
    """Create an active user who signs in with a one-time password (returned once)
    or, with ``invite``, follows a link e-mailed to them (no password until then).

    User names are unique regardless of case: ``Alice`` and ``alice`` would be two
    accounts that people cannot tell apart.
    """
    if not may_manage_people(actor):
        raise Forbidden("Only studio staff and superusers manage people.")
    if is_staff and not getattr(actor, "is_superuser", False):
        raise Forbidden("Only a superuser may make someone studio staff.")
    user_model = get_user_model()
    username = username.strip()
    email = email.strip()
    try:
        user_model.username_validator(username)
    except ValidationError as exc:
        raise InvalidArgument(
            "A user name has letters, digits and @ . + - _ only.", target="username"
        ) from exc
    if not username or len(username) > 150:
        raise InvalidArgument("A user name has 1 to 150 characters.", target="username")
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise InvalidArgument(
                "Enter an e-mail address such as name@example.com.", target="email"
            ) from exc
    if invite and not email:
        raise InvalidArgument(
            "An invitation goes by e-mail: enter an e-mail address.", target="email"
        )
    if invite and not settings.STUDIO_EMAIL_ENABLED:
        raise InvalidArgument(
            "E-mail is not configured (EMAIL_HOST): create a one-time password.",
            target="invite",
        )
    password = None if invite else secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)
    with transaction.atomic():
        if user_model.objects.filter(username__iexact=username).exists():
            raise Conflict(f"The user name {username} is taken.", target="username")
        user = user_model.objects.create_user(
            username=username, email=email, password=password, is_staff=is_staff
        )
        if invite:  # inside the transaction: no account when the e-mail fails
            _send_password_link(
                user=user,
                site_url=site_url,
                subject="Your Orchestration Studio account",
                intro=f"{actor.get_username()} created an Orchestration Studio "
                "account for you.",
            )
        audit_record(
            action="user.create",
            target=f"user {username}",
            after={"user": username, "email": email, "staff": is_staff},
        )
    return NewPerson(user=user, one_time_password=password, invited=invite)


def _sessions_end(user: AbstractBaseUser) -> int:
    """Delete every stored session signed in as ``user``; returns how many.

    Sessions are database rows (``django.contrib.sessions``) that do not index the
    user, so this decodes the unexpired ones: an admin action, rare, and fine at a
    studio's few thousand sessions. (Django already refuses an inactive user's
    session; deleting them also keeps a reactivation from reviving old ones.)
    """
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get(SESSION_KEY)) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def user_deactivate(*, actor: AbstractBaseUser, user: AbstractBaseUser) -> None:
    """The user can no longer sign in; their sessions end and their personal API
    keys answer 401 (``apikey_authenticate`` refuses an inactive owner's keys)."""
    _check_may_change(actor=actor, user=user)
    if actor.pk == user.pk:
        raise InvalidArgument("You cannot deactivate yourself.", target="user")
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        audit_record(action="user.deactivate", target=f"user {user.get_username()}")
        _sessions_end(user)


def user_reactivate(*, actor: AbstractBaseUser, user: AbstractBaseUser) -> None:
    """Let the user sign in again with their password; their keys work again."""
    _check_may_change(actor=actor, user=user)
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        audit_record(action="user.reactivate", target=f"user {user.get_username()}")


def user_password_link_send(
    *, actor: AbstractBaseUser, user: AbstractBaseUser, site_url: str
) -> None:
    """E-mail the user a link to choose a new password (needs ``EMAIL_HOST``). The
    admin never sees the link or a password."""
    _check_may_change(actor=actor, user=user)
    if not user.is_active:
        raise InvalidArgument(
            f"{user.get_username()} is deactivated: reactivate them first.",
            target="user",
        )
    _send_password_link(
        user=user,
        site_url=site_url,
        subject="Choose a new Orchestration Studio password",
        intro=f"{actor.get_username()} asked for a new password for your "
        "Orchestration Studio account.",
    )
