"""Calls to external orchestration targets (LUIS and our generic ``Http`` links).

A target that fails — HTTP error, timeout, unreachable, a body that is not JSON —
raises ``TargetError``; the orchestration service turns it into the routed intent's
``error`` object instead of failing the whole request (runtime/README.md).

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
target cannot bounce the call to another host or scheme).

The runtime returns a target's JSON to anyone allowed to predict, so where a call may
go is policy (``studio.target_policy``): the host is resolved once, every address it
resolves to must be public (or allowlisted in ``STUDIO_TARGET_ALLOWED_HOSTS``) and
the connection goes to that checked address, with the configured name in the Host
header and for TLS (no DNS-rebinding window): all of that is ``studio.outbound``,
shared with every other outbound call. Every failure to reach a target reads the
same (details in the server log only), so the error text cannot tell a closed port
from an open one speaking another protocol. Header
values and keys arrive encrypted (``TargetSpec.sealed_headers``) and are decrypted
only here, just before the call.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from studio.crypto import SecretUnreadable, secret_decrypt
from studio.errors import InvalidRequest
from studio.inputs import json_loads
from studio.outbound import (
    Call,
    fetch,
    timeout_error,
)
from studio.outbound import OutboundError as TargetError
from training.engine.bundles import TargetSpec

logger = logging.getLogger(__name__)

# Concurrent external calls per process; more wait in the pool's queue and are
# answered "Timeout" if their turn does not come within the timeout.
MAX_CONCURRENT_CALLS = 16


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


def spec_headers(spec: TargetSpec) -> dict[str, str]:
    """The headers a call sends: the spec's plain ones and its sealed ones decrypted.
    A value that cannot be decrypted (``SECRET_KEY`` changed without the old key in
    ``SECRET_KEY_FALLBACKS``) is this target's error, with what to do."""
    headers = {str(k): str(v) for k, v in spec.headers.items()}
    try:
        for name, sealed in (spec.sealed_headers or {}).items():
            headers[str(name)] = secret_decrypt(sealed)
    except SecretUnreadable as exc:
        host = urllib.parse.urlsplit(spec.url).hostname
        logger.warning("Orchestration target host %r: %s", host, exc)
        raise TargetError("InternalServerError", str(exc)) from None
    return headers


def _request(
    spec: TargetSpec,
    *,
    text: str,
    language: str | None,
    parameters: Mapping[str, Any],
    verbose: bool = False,
) -> Call:
    url = spec.url
    extra_headers: dict[str, str] = {}
    trusted = False
    if spec.kind == "Luis":
        trusted = not spec.url
        url, extra_headers = luis_url(spec)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetError("InvalidRequest", "The target URL is not an http(s) URL.")
    options = parameters.get("callingOptions") or {}
    headers = {"Accept": "application/json", **extra_headers, **spec_headers(spec)}
    if spec.kind == "Luis":
        query = parameters.get("query") or text
        params = {"query": query}
        if verbose:
            params["verbose"] = "true"
        params.update({str(k): _query_value(v) for k, v in options.items()})
        separator = "&" if "?" in url else "?"
        full = url + separator + urllib.parse.urlencode(params)
        return Call("GET", full, headers, trusted=trusted)
    body = json.dumps(
        {"query": text, "language": language, "callingOptions": dict(options)}
    ).encode()
    headers["Content-Type"] = "application/json"
    return Call("POST", url, headers, body)


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


def external_call(
    spec: TargetSpec,
    *,
    text: str,
    language: str | None,
    parameters: Mapping[str, Any],
    timeout: float,
    verbose: bool = False,
) -> Any:
    """The target's JSON answer within ``timeout`` seconds; raises ``TargetError``
    for anything else. ``verbose`` is the request's top-level flag (LUIS gets it
    unless its ``callingOptions`` set their own)."""
    call = _request(
        spec, text=text, language=language, parameters=parameters, verbose=verbose
    )
    deadline = time.monotonic() + timeout
    future = _executor().submit(fetch, call, timeout, deadline)
    try:
        data = future.result(timeout=timeout)
    except TimeoutError:
        future.cancel()  # still queued: never starts
        raise timeout_error(timeout) from None
    except TargetError:
        raise
    # The promise is that a target never fails the request; anything fetch did not
    # foresee is still this target's failure, reported in its intent (and logged).
    except Exception as exc:  # noqa: BLE001
        host = urllib.parse.urlsplit(call.url).hostname
        logger.exception("Unexpected failure calling the target host %r", host)
        raise TargetError("InternalServerError", "The target call failed.") from exc
    try:
        # The same rules as a client's body: a hostile target's deep nesting or lone
        # surrogate must not fail our whole response.
        return json_loads(data, what="The target endpoint's answer")
    except InvalidRequest as exc:
        raise TargetError("InternalServerError", exc.message) from exc
