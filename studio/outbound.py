"""Outbound HTTP under the target policy: every call the studio makes to an address
a user configured (orchestration targets, knowledge-source URLs, deployment
resources) goes through here.

The host is resolved once, every address it resolves to must be public (or
allowlisted in ``STUDIO_TARGET_ALLOWED_HOSTS``, ``studio.target_policy``) and the
connection goes to that checked address, with the configured name in the Host header
and for TLS (no DNS-rebinding window). Redirects are never followed. The whole call
(connect, headers, body) must finish by a deadline; a body is read in chunks and
refused beyond ``MAX_RESPONSE_BYTES``. Every failure to reach a host reads the same
(``UNREACHABLE_MESSAGE``; details in the server log only), so the error text cannot
tell a closed port from an open one speaking another protocol.

``runtime.targets`` builds the runtime's calls on this (``fetch``: a 2xx body or an
error); ``document_fetch`` GETs a knowledge source's page (``projects.services.kb``);
``exchange`` returns any status with its headers and body, for API clients that read
error bodies and ``Operation-Location`` (``training.resources``).
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from studio import target_policy

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024
_CHUNK_BYTES = 16 * 1024
UNREACHABLE_MESSAGE = "The target endpoint could not be reached."


class OutboundError(Exception):
    """An outbound call did not give a usable answer (``code`` is Azure's error
    code, ``message`` is safe to show: it never tells why a host was unreachable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_azure(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    # The operator's own STUDIO_LUIS_ENDPOINT: not subject to the address policy.
    trusted: bool = False


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address resolved and checked beforehand; the Host header
    still names the configured host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As ``PinnedHTTPConnection``, with TLS verified for the configured host
    name (SNI and certificate), not for the address."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _unreachable(host: str, detail: object) -> OutboundError:
    """The one answer for every failure to reach a target (details logged only):
    a closed port, a refused address, a port speaking another protocol and a name
    that does not resolve must read alike, or the runtime is a port scanner."""
    logger.warning("Outbound host %r could not be reached: %s", host, detail)
    return OutboundError("ServiceUnavailable", UNREACHABLE_MESSAGE)


def timeout_error(timeout: float) -> OutboundError:
    return OutboundError(
        "Timeout", f"The target endpoint did not answer within {timeout:g} s."
    )


def _addresses(host: str, port: int, *, trusted: bool) -> list[str]:
    """Resolve ``host`` once; every address must pass the policy (or the host is
    the operator's own LUIS endpoint)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _unreachable(host, f"does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [] if trusted else target_policy.refused_addresses(host, addresses)
    if refused or not addresses:
        raise _unreachable(
            host,
            f"resolves to {', '.join(refused) or 'nothing'}: refused by the target "
            "policy (not public and not in STUDIO_TARGET_ALLOWED_HOSTS)",
        )
    return addresses


def _connect(call: Call, timeout: float, deadline: float) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(call.url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError as exc:
        raise _unreachable(host, exc) from None
    kind = PinnedHTTPSConnection if https else PinnedHTTPConnection
    failures: list[str] = []
    for address in _addresses(host, port, trusted=call.trusted):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error(timeout)
        connection = kind(host, port, address=address, timeout=remaining)
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise timeout_error(timeout) from None
        except OSError as exc:  # refused, reset, unreachable, TLS
            connection.close()
            failures.append(f"{address}: {exc}")
            continue
        return connection
    raise _unreachable(host, "; ".join(failures))


def _read_body(
    response: http.client.HTTPResponse,
    timeout: float,
    deadline: float,
    *,
    max_bytes: int,
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise timeout_error(timeout)
            chunk = response.read1(_CHUNK_BYTES)
            if not chunk:
                if response.length:  # Content-Length promised more
                    raise http.client.IncompleteRead(b"".join(chunks))
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise OutboundError(
                    "InternalServerError",
                    f"The target endpoint's answer is larger than {max_bytes} bytes.",
                )
    except TimeoutError:
        raise timeout_error(timeout) from None
    except (OSError, http.client.HTTPException):
        raise OutboundError(
            "InternalServerError", "The target endpoint's answer was cut short."
        ) from None
    return b"".join(chunks)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


def _exchange(call: Call, timeout: float, deadline: float, *, max_bytes: int) -> Reply:
    connection = _connect(call, timeout, deadline)
    host = connection.host
    parts = urllib.parse.urlsplit(call.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        try:
            connection.request(call.method, path, body=call.body, headers=call.headers)
            response = connection.getresponse()
        except TimeoutError:
            raise timeout_error(timeout) from None
        except (OSError, http.client.HTTPException) as exc:
            # Closed before answering, or answered in another protocol.
            raise _unreachable(host, f"no HTTP answer: {exc!r}") from None
        headers = {name.lower(): value for name, value in response.getheaders()}
        body = _read_body(response, timeout, deadline, max_bytes=max_bytes)
        return Reply(response.status, headers, body)
    finally:
        connection.close()


def fetch(call: Call, timeout: float, deadline: float) -> bytes:
    """The body of a 2xx answer, read in chunks until the deadline;
    ``OutboundError`` otherwise (a 3xx is an error like any other)."""
    reply = _exchange(call, timeout, deadline, max_bytes=MAX_RESPONSE_BYTES)
    if not 200 <= reply.status < 300:
        raise OutboundError(
            "InternalServerError",
            f"The target endpoint answered HTTP {reply.status}.",
        )
    return reply.body


def exchange(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Reply:
    """One request under the policy, in the calling thread; the answer whatever its
    status (redirects are not followed). ``OutboundError`` when the host cannot be
    reached, does not answer by ``timeout`` or answers more than ``max_bytes``."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise OutboundError("InvalidRequest", "The URL is not an http(s) URL.")
    call = Call(method, url, dict(headers), body)
    return _exchange(call, timeout, time.monotonic() + timeout, max_bytes=max_bytes)


def document_fetch(url: str, *, timeout: float) -> bytes:
    """GET a public document (a knowledge source's URL): a 2xx body of at most
    ``MAX_RESPONSE_BYTES``, in the calling thread (a job); ``OutboundError``
    otherwise, as for a target call."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise OutboundError("InvalidRequest", "The source URL is not an http(s) URL.")
    call = Call(
        "GET",
        url,
        {"Accept": "text/html, text/markdown;q=0.9, text/plain;q=0.8"},
    )
    return fetch(call, timeout, time.monotonic() + timeout)
