"""Bearer tokens from the OpenID Connect issuer the admin configures.

The new-generation Azure SDK samples authenticate with a token credential (Entra ID):
``Authorization: Bearer <JWT>``. The studio accepts such a token when

* its signature verifies with a key the issuer publishes (its JWKS, fetched from
  ``STUDIO_OIDC_JWKS_URL`` or the issuer's discovery document, cached, and fetched
  again when a token names a key not in the cache: key rotation needs no restart);
* ``iss`` is ``STUDIO_OIDC_ISSUER``, ``aud`` one of ``STUDIO_OIDC_AUDIENCE``, and
  ``exp``/``nbf`` hold (with ``STUDIO_OIDC_LEEWAY_SECONDS`` for clock skew);
* the claim ``STUDIO_OIDC_USER_CLAIM`` names an active studio user (by user name, or
  by e-mail with ``STUDIO_OIDC_USER_MATCH=email``).

The call then acts as that user: the same project roles as a key the user made.
Verification is PyJWT's (``jwt.decode`` and its ``PyJWKClient``).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model

from studio.errors import ServiceUnavailable
from studio.inputs import echo
from studio.oidc_config import url_problem

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 10


class TokenRejected(Exception):
    """The token is not acceptable; the message says why (sent to the caller)."""


class UnknownPrincipal(Exception):
    """A valid token whose user is not (or no longer) a user of this studio."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: tuple[str, ...]
    jwks_url: str
    user_match: str
    user_claim: str
    algorithms: tuple[str, ...]
    leeway: int
    cache_seconds: int
    cooldown_seconds: int

    @classmethod
    def from_settings(cls) -> OidcConfig | None:
        if not settings.STUDIO_OIDC_ISSUER:
            return None
        return cls(
            issuer=settings.STUDIO_OIDC_ISSUER,
            audience=tuple(settings.STUDIO_OIDC_AUDIENCE),
            jwks_url=settings.STUDIO_OIDC_JWKS_URL,
            user_match=settings.STUDIO_OIDC_USER_MATCH,
            user_claim=settings.STUDIO_OIDC_USER_CLAIM,
            algorithms=tuple(settings.STUDIO_OIDC_ALGORITHMS),
            leeway=settings.STUDIO_OIDC_LEEWAY_SECONDS,
            cache_seconds=settings.STUDIO_OIDC_JWKS_CACHE_SECONDS,
            cooldown_seconds=settings.STUDIO_OIDC_JWKS_COOLDOWN_SECONDS,
        )


@dataclass(frozen=True)
class BearerToken:
    """``request.auth`` of a token-authenticated call."""

    user: AbstractBaseUser
    claims: dict[str, Any]

    def __str__(self) -> str:
        return f"token:{self.user.get_username()}"


def _fetch_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - http(s) checked by url_problem
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        return json.load(response)


class OidcVerifier:
    """Verifies tokens for one configuration; holds its (thread-safe) key cache."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwks_url(self) -> str:
        if self.config.jwks_url:
            return self.config.jwks_url
        discovery = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = _fetch_json(discovery)
        except (OSError, ValueError) as exc:
            raise _unreachable(f"its discovery document {discovery}", exc) from None
        jwks_url = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(jwks_url, str) or url_problem("jwks_uri", jwks_url):
            raise _unreachable(
                f"a usable jwks_uri in {discovery}", ValueError(echo(jwks_url))
            )
        return jwks_url

    def _jwks_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                self._client = jwt.PyJWKClient(
                    self._jwks_url(),
                    cache_jwk_set=True,
                    lifespan=self.config.cache_seconds,
                    timeout=FETCH_TIMEOUT_SECONDS,
                    cooldown_duration=self.config.cooldown_seconds,
                )
            return self._client

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; TokenRejected naming the first check that failed."""
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRejected("The access token is not a well-formed JWT.") from None
        if header.get("alg") not in config.algorithms:
            raise TokenRejected(
                f"The access token's algorithm {echo(header.get('alg'))} is not "
                "accepted (" + ", ".join(config.algorithms) + ")."
            )
        if not isinstance(header.get("kid"), str):
            raise TokenRejected("The access token names no signing key (kid).")
        try:
            key = self._jwks_client().get_signing_key(header["kid"])
        except jwt.PyJWKClientConnectionError as exc:
            raise _unreachable("its signing keys", exc) from None
        except jwt.PyJWKClientError:
            raise TokenRejected(
                "The access token is signed with a key the issuer does not publish."
            ) from None
        try:
            return jwt.decode(
                token,
                key=key.key,
                algorithms=list(config.algorithms),
                audience=list(config.audience),
                issuer=config.issuer,
                leeway=config.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("The access token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("The access token is not valid yet (nbf).") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(
                "The access token's audience is incorrect; accepted: "
                + ", ".join(config.audience)
                + "."
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRejected(
                f"The access token's issuer is not {config.issuer}."
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("The access token's signature is invalid.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(
                f"The access token has no {exc.claim!r} claim."
            ) from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"The access token is invalid ({exc}).") from None


def _unreachable(what: str, exc: Exception) -> ServiceUnavailable:
    logger.warning("OpenID Connect issuer: cannot fetch %s: %s", what, exc)
    return ServiceUnavailable(
        "Bearer tokens cannot be checked right now: the studio could not fetch "
        f"{what} from the OpenID Connect issuer. Retry later, or use a key."
    )


_verifier: OidcVerifier | None = None
_verifier_lock = threading.Lock()


def oidc_verifier() -> OidcVerifier | None:
    """The process's verifier for the current settings; None when tokens are off.
    A changed configuration (tests override settings) gets a fresh key cache."""
    global _verifier
    config = OidcConfig.from_settings()
    if config is None:
        return None
    with _verifier_lock:
        if _verifier is None or _verifier.config != config:
            _verifier = OidcVerifier(config)
        return _verifier


def token_user(claims: dict[str, Any], config: OidcConfig) -> AbstractBaseUser:
    """The active studio user the claims name (one indexed query)."""
    claim = config.user_claim
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise TokenRejected(f"The access token has no {claim!r} claim.")
    users = get_user_model()._default_manager.filter(is_active=True)
    if config.user_match == "email":
        if claims.get("email_verified") is False:
            raise UnknownPrincipal(
                f"The access token's e-mail address {echo(value)} is not verified."
            )
        found = list(users.filter(email__iexact=value.strip())[:2])
    else:
        found = list(users.filter(username=value)[:2])
    if len(found) != 1:
        raise UnknownPrincipal(
            f"The principal {echo(value)} (claim {claim!r}) is not a user of this "
            "studio, or is not unique; an administrator adds it under People."
        )
    return found[0]


def bearer_authenticate(token: str) -> BearerToken:
    """The verified token and its user. TokenRejected (401), UnknownPrincipal
    (403), or ServiceUnavailable (503, the issuer's keys cannot be fetched)."""
    verifier = oidc_verifier()
    if verifier is None:
        raise TokenRejected(
            "Bearer tokens are not accepted: no OpenID Connect issuer is configured "
            "on this studio. Send the Ocp-Apim-Subscription-Key header instead."
        )
    claims = verifier.verify(token)
    return BearerToken(user=token_user(claims, verifier.config), claims=claims)
