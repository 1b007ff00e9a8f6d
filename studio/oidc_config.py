"""Checks of the OpenID Connect settings, run when the settings load (no Django
imports: ``studio.settings`` calls this before apps exist)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# Asymmetric algorithms only: with HS* anyone who knows the (public) issuer
# configuration could mint tokens, and "none" is no signature at all.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
USER_MATCHES = ("username", "email")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(name: str, url: str) -> str:
    """Why ``url`` cannot be fetched safely, or "". Keys fetched over plain HTTP
    could be swapped by anyone on the path, so HTTPS is required except on the
    loopback interface (a local test issuer)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name}={url!r} is not an http(s) URL."
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"{name}={url!r} must use https (plain http only on loopback)."
    return ""


def oidc_settings_problem(
    *,
    issuer: str,
    audience: list[str],
    jwks_url: str,
    user_match: str,
    user_claim: str,
    algorithms: list[str],
    leeway: int,
    cache_seconds: int,
    cooldown_seconds: int,
) -> str:
    """The first thing wrong with the OIDC settings, or "" when they are usable."""
    if problem := url_problem("STUDIO_OIDC_ISSUER", issuer):
        return problem
    if not audience:
        return (
            "STUDIO_OIDC_AUDIENCE is required with STUDIO_OIDC_ISSUER (for the Azure "
            "SDKs: https://cognitiveservices.azure.com)."
        )
    if jwks_url and (problem := url_problem("STUDIO_OIDC_JWKS_URL", jwks_url)):
        return problem
    if user_match not in USER_MATCHES:
        return (
            f"STUDIO_OIDC_USER_MATCH={user_match!r} must be one of: "
            + ", ".join(USER_MATCHES)
            + "."
        )
    if not user_claim:
        return "STUDIO_OIDC_USER_CLAIM must name a claim of the token."
    unknown = sorted(set(algorithms) - ALLOWED_ALGORITHMS)
    if unknown or not algorithms:
        return (
            f"STUDIO_OIDC_ALGORITHMS has unsupported values {unknown}; allowed: "
            + ", ".join(sorted(ALLOWED_ALGORITHMS))
            + "."
        )
    if leeway < 0 or cooldown_seconds < 0 or cache_seconds <= 0:
        return (
            "STUDIO_OIDC_LEEWAY_SECONDS and STUDIO_OIDC_JWKS_COOLDOWN_SECONDS must not "
            "be negative; STUDIO_OIDC_JWKS_CACHE_SECONDS must be greater than 0."
        )
    return ""
