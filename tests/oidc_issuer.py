"""A local OpenID Connect issuer for tests: RSA keys made in the test, the discovery
document and the JWKS served over HTTP on loopback, and tokens signed with them.

The studio fetches the keys over the network exactly as from Entra ID; only the
host differs (loopback may use plain http, see ``studio.oidc_config``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "https://cognitiveservices.azure.com"


class SigningKey:
    def __init__(self) -> None:
        self.kid = secrets.token_hex(8)
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk


class LocalIssuer:
    """Serves ``/.well-known/openid-configuration`` and ``/keys``; ``published``
    is the key set it serves now (``rotate`` replaces it)."""

    def __init__(self) -> None:
        self.key = SigningKey()
        self.published = [self.key]
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {"issuer": issuer.url, "jwks_uri": issuer.jwks_url}
                elif self.path == "/keys":
                    issuer.jwks_fetches += 1
                    body = {"keys": [key.jwk() for key in issuer.published]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/keys"

    def rotate(self) -> SigningKey:
        """A new signing key replaces the published one (as Entra ID rolls keys)."""
        self.key = SigningKey()
        self.published = [self.key]
        return self.key

    def token(
        self,
        subject: str,
        *,
        key: SigningKey | None = None,
        lifetime: float = 3600,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
        }
        payload.update(claims)
        signer = key or self.key
        return jwt.encode(
            payload, signer.private, algorithm="RS256", headers={"kid": signer.kid}
        )

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Django settings that trust this issuer."""
        values: dict[str, Any] = {
            "STUDIO_OIDC_ISSUER": self.url,
            "STUDIO_OIDC_AUDIENCE": [AUDIENCE],
            "STUDIO_OIDC_JWKS_URL": "",
            "STUDIO_OIDC_USER_MATCH": "username",
            "STUDIO_OIDC_USER_CLAIM": "sub",
            "STUDIO_OIDC_ALGORITHMS": ["RS256"],
            "STUDIO_OIDC_LEEWAY_SECONDS": 0,
            "STUDIO_OIDC_JWKS_CACHE_SECONDS": 300,
            "STUDIO_OIDC_JWKS_COOLDOWN_SECONDS": 0,
        }
        values.update(overrides)
        return values

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
