"""Test shim for the published samples (tests/compat/published_samples.py).

The samples sign in with ``azure.identity.DefaultAzureCredential``, which asks Entra
ID for a token. Under test, with ``STUDIO_SAMPLES_BEARER_TOKEN`` set, that class (sync
and async) is replaced by a credential handing out that token: a JWT the tests'
OpenID Connect issuer signed for the studio's audience. The studio verifies it as it
would an Entra ID token (signature from the issuer's JWKS, issuer, audience, expiry,
user). Nothing else of the samples or the SDKs changes. Python imports this module at
start-up because its folder is on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import time

TOKEN = os.environ.get("STUDIO_SAMPLES_BEARER_TOKEN", "")
# The scope the SDKs ask for; a sample asking for another gets an error, as it
# would from Entra ID.
SCOPE = os.environ.get(
    "STUDIO_SAMPLES_TOKEN_SCOPE", "https://cognitiveservices.azure.com/.default"
)


def _install() -> None:
    import azure.identity
    import azure.identity.aio
    from azure.core.credentials import AccessToken, AccessTokenInfo

    expires_on = int(os.environ.get("STUDIO_SAMPLES_TOKEN_EXPIRES_ON", "0")) or (
        int(time.time()) + 3600
    )

    def check(scopes: tuple[str, ...]) -> None:
        if SCOPE not in scopes:
            raise azure.identity.CredentialUnavailableError(
                f"test issuer: scopes {scopes} do not include {SCOPE}"
            )

    class TestIssuerCredential:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
            check(scopes)
            return AccessToken(TOKEN, expires_on)

        def get_token_info(self, *scopes: str, **kwargs: object) -> AccessTokenInfo:
            check(scopes)
            return AccessTokenInfo(TOKEN, expires_on)

        def close(self) -> None:
            pass

        def __enter__(self) -> TestIssuerCredential:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    class AsyncTestIssuerCredential:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
            check(scopes)
            return AccessToken(TOKEN, expires_on)

        async def get_token_info(
            self, *scopes: str, **kwargs: object
        ) -> AccessTokenInfo:
            check(scopes)
            return AccessTokenInfo(TOKEN, expires_on)

        async def close(self) -> None:
            pass

        async def __aenter__(self) -> AsyncTestIssuerCredential:
            return self

        async def __aexit__(self, *exc: object) -> None:
            pass

    azure.identity.DefaultAzureCredential = TestIssuerCredential
    azure.identity.aio.DefaultAzureCredential = AsyncTestIssuerCredential


if TOKEN:
    _install()
