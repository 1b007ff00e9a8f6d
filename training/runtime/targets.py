"""Calls to external orchestration targets (LUIS and our generic ``Http`` links).

A target that fails — HTTP error, timeout, unreachable, a body that is not JSON —
raises ``TargetError``; the orchestration service turns it into the routed intent's
``error`` object instead of failing the whole request (training/README.md, "Runtime").

``Luis``: ``GET <url>?query=<text>&<callingOptions...>``, the LUIS v3 prediction
call (``luis_url``; ``targetProjectParameters.<intent>.query`` overrides the text).
``Http``: ``POST <url>`` with ``{"query", "language", "callingOptions"}`` as JSON.
Both send the link's headers and embed the JSON answer as-is.

Only project admins configure these URLs (http/https only, checked again here), yet
a call must never hold a web thread longer than the timeout: the whole call (DNS,
connect, headers and body) runs on a small pool of worker threads and the request
waits for it at most ``timeout`` seconds; the worker itself gives up reading once the
deadline passed (a target dripping its answer byte by byte cannot keep it busy), and
redirects are not followed (a 3xx is reported like any other non-2xx answer, so a
target cannot bounce the call to another host or scheme). Hosts resolving to a
link-local, multicast or unspecified address are refused: that is where cloud
metadata services live (169.254.169.254) and no bot backend does. Loopback and
private addresses stay allowed (bot backends behind the firewall are the normal case;
whoever links them is a project analyst or admin and an admin deploys). The check
resolves the name just before the call, so a DNS answer that changes in between is not
covered.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from training.engine.bundles import TargetSpec

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024
# Concurrent external calls per process; more wait in the pool's queue and are
# answered "Timeout" if their turn does not come within the timeout.
MAX_CONCURRENT_CALLS = 16
_CHUNK_BYTES = 16 * 1024


class TargetError(Exception):
    """A downstream target did not give a usable answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_azure(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def luis_url(spec: TargetSpec) -> tuple[str, dict[str, str]]:
    """The LUIS v3 prediction URL of a LUIS link and the key header.

    A link names its app and slot (or version); the endpoint and key are the
    studio's ``STUDIO_LUIS_ENDPOINT`` / ``STUDIO_LUIS_KEY``. A spec with its own
    ``url`` uses that.
    """
    if spec.url:
        return spec.url, {}
    endpoint = str(settings.STUDIO_LUIS_ENDPOINT)
    if not endpoint:
        raise TargetError(
            "InvalidRequest",
            "No LUIS endpoint is configured (STUDIO_LUIS_ENDPOINT); the LUIS target "
            "cannot be called.",
        )
    if not spec.luis_app_id:
        raise TargetError("InvalidRequest", "The LUIS link names no app id.")
    app = urllib.parse.quote(spec.luis_app_id, safe="")
    base = f"{endpoint}/luis/prediction/v3.0/apps/{app}"
    if spec.luis_app_version and not spec.luis_slot_name:
        version = urllib.parse.quote(spec.luis_app_version, safe="")
        url = f"{base}/versions/{version}/predict"
    else:
        slot = urllib.parse.quote(spec.luis_slot_name or "production", safe="")
        url = f"{base}/slots/{slot}/predict"
    key = str(settings.STUDIO_LUIS_KEY)
    return url, ({"Ocp-Apim-Subscription-Key": key} if key else {})


def _request(
    spec: TargetSpec,
    *,
    text: str,
    language: str | None,
    parameters: Mapping[str, Any],
) -> urllib.request.Request:
    url = spec.url
    extra_headers: dict[str, str] = {}
    if spec.kind == "Luis":
        url, extra_headers = luis_url(spec)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetError(
            "InvalidRequest", f"The target URL {url!r} is not an http(s) URL."
        )
    options = parameters.get("callingOptions") or {}
    headers = {"Accept": "application/json", **extra_headers, **spec.headers}
    if spec.kind == "Luis":
        query = parameters.get("query") or text
        params = {"query": query}
        params.update({str(k): _query_value(v) for k, v in options.items()})
        separator = "&" if "?" in url else "?"
        return urllib.request.Request(  # noqa: S310 (scheme checked above)
            url + separator + urllib.parse.urlencode(params),
            headers=headers,
            method="GET",
        )
    body = json.dumps(
        {"query": text, "language": language, "callingOptions": dict(options)}
    ).encode()
    headers["Content-Type"] = "application/json"
    return urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body, headers=headers, method="POST"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse to follow redirects: urllib then raises ``HTTPError`` for the 3xx."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    # Created on first use: a gunicorn master that forks after import has no threads.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="studio-target"
            )
        return _pool


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip.is_multicast or ip.is_unspecified


def _check_host(url: str) -> None:
    """Refuse hosts resolving to link-local / multicast / unspecified addresses."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise TargetError(
            "ServiceUnavailable", f"The target endpoint is unreachable: {exc}"
        ) from exc
    for info in infos:
        if _refused_address(str(info[4][0])):
            raise TargetError(
                "InvalidRequest",
                f"The target host {host!r} resolves to {info[4][0]}, a link-local, "
                "multicast or unspecified address; such targets are refused.",
            )


def _timeout_error(timeout: float) -> TargetError:
    return TargetError(
        "Timeout", f"The target endpoint did not answer within {timeout:g} s."
    )


def _fetch(request: urllib.request.Request, timeout: float, deadline: float) -> bytes:
    """The body, read in chunks until the deadline; ``TargetError`` otherwise."""
    _check_host(request.full_url)
    try:
        with _opener.open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise _timeout_error(timeout)
                chunk = response.read1(_CHUNK_BYTES)
                if not chunk:
                    if response.length:  # Content-Length promised more
                        raise TargetError(
                            "InternalServerError",
                            "The target endpoint's answer was cut short.",
                        )
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise TargetError(
                        "InternalServerError",
                        "The target endpoint's answer is larger than "
                        f"{MAX_RESPONSE_BYTES} bytes.",
                    )
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise TargetError(
            "InternalServerError",
            f"The target endpoint answered HTTP {exc.code}.",
        ) from exc
    except (http.client.HTTPException, ValueError) as exc:
        # Not HTTP (a status line from another protocol), a broken chunked body,
        # a URL urllib cannot use.
        raise TargetError(
            "InternalServerError",
            f"The target endpoint did not answer in HTTP: {exc!r}",
        ) from exc
    except TimeoutError as exc:
        raise _timeout_error(timeout) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise _timeout_error(timeout) from exc
        raise TargetError(
            "ServiceUnavailable", f"The target endpoint is unreachable: {reason}"
        ) from exc


def external_call(
    spec: TargetSpec,
    *,
    text: str,
    language: str | None,
    parameters: Mapping[str, Any],
    timeout: float,
) -> Any:
    """The target's JSON answer within ``timeout`` seconds; raises ``TargetError``
    for anything else."""
    request = _request(spec, text=text, language=language, parameters=parameters)
    deadline = time.monotonic() + timeout
    future = _executor().submit(_fetch, request, timeout, deadline)
    try:
        data = future.result(timeout=timeout)
    except TimeoutError:
        future.cancel()  # still queued: never starts
        raise _timeout_error(timeout) from None
    except TargetError:
        raise
    # The promise is that a target never fails the request; anything _fetch did not
    # foresee is still this target's failure, reported in its intent (and logged).
    except Exception as exc:  # noqa: BLE001
        logger.exception("Unexpected failure calling the target %s", request.full_url)
        raise TargetError(
            "InternalServerError", f"The target call failed: {exc!r}"
        ) from exc
    try:
        return json.loads(data)
    except ValueError as exc:
        raise TargetError(
            "InternalServerError", "The target endpoint's answer is not JSON."
        ) from exc
