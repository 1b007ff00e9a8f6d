"""Encryption at rest of the secrets users store: the headers and key of an
orchestration intent's external HTTP target (``projects.models.Intent``) and the
keys of deployment resources (``training.models.DeploymentResource``).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a
key derived from ``SECRET_KEY`` with HKDF, stored as ``fernet:<token>`` so plain
text left from before encryption is recognisable. Decryption also tries every key
of ``SECRET_KEY_FALLBACKS`` (Django's own rotation setting), so rotating
``SECRET_KEY`` keeps old values readable while the old key is listed there; new
values are always encrypted with the current key. A value no key can read raises
``SecretUnreadable`` with a message that says what to do, never a crash.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "fernet:"
_SALT = b"orchestration-studio"
_INFO = b"orchestration target secrets v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with ``SECRET_KEY`` or its fallbacks."""

    def __init__(self) -> None:
        super().__init__(
            "A stored target secret cannot be decrypted: SECRET_KEY changed and the "
            "key it was encrypted with is not in SECRET_KEY_FALLBACKS. Add the old "
            "key to SECRET_KEY_FALLBACKS, or enter the target's key and headers "
            "again (and retrain)."
        )


def _derive(secret_key: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8"))))


@functools.lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(k) for k in keys])


def _current() -> MultiFernet:
    fallbacks = tuple(str(k) for k in getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return _fernet((str(settings.SECRET_KEY), *fallbacks))


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def secret_encrypt(value: str) -> str:
    """``fernet:<token>`` of ``value`` under the current ``SECRET_KEY``."""
    token = _current().encrypt(value.encode("utf-8")).decode("ascii")
    return PREFIX + token


def secret_decrypt(value: str) -> str:
    """The plain text of a value made by ``secret_encrypt``. Plain text stored
    before encryption existed is returned as it is (the data migration encrypts
    it; this keeps a half-migrated row usable)."""
    if not is_encrypted(value):
        return value
    try:
        return _current().decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SecretUnreadable() from exc


def secret_is_current(value: str) -> bool:
    """Whether ``value`` is encrypted under the current ``SECRET_KEY`` (so a
    rotation has nothing to do for it)."""
    if not is_encrypted(value):
        return False
    try:
        _fernet((str(settings.SECRET_KEY),)).decrypt(
            value[len(PREFIX) :].encode("ascii")
        )
    except (InvalidToken, ValueError):
        return False
    return True


def secret_rotate(value: str) -> str:
    """``value`` encrypted under the current ``SECRET_KEY`` (readable with a
    fallback key now); ``SecretUnreadable`` when no key reads it."""
    if not is_encrypted(value):
        return secret_encrypt(value)
    try:
        token = _current().rotate(value[len(PREFIX) :].encode("ascii"))
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable() from exc
    return PREFIX + token.decode("ascii")
