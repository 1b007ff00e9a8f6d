"""Calls to external orchestration targets (LUIS and our generic ``Http`` links).

A target that fails — HTTP error, timeout, unreachable, a body that is not JSON —
raises ``TargetError``; the orchestration service turns it into the routed intent's
``error`` object instead of failing the whole request (training/README.md, "Runtime").

``Luis``: ``GET <url>?query=<text>&<callingOptions...>`` (the LUIS v3 prediction
call; ``targetProjectParameters.<intent>.query`` overrides the text).
``Http``: ``POST <url>`` with ``{"query", "language", "callingOptions"}`` as JSON.
Both send the link's headers and embed the JSON answer as-is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from training.engine.bundles import TargetSpec

MAX_RESPONSE_BYTES = 1024 * 1024


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


def _request(
    spec: TargetSpec,
    *,
    text: str,
    language: str | None,
    parameters: Mapping[str, Any],
) -> urllib.request.Request:
    url = spec.url
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetError(
            "InvalidRequest", f"The target URL {url!r} is not an http(s) URL."
        )
    options = parameters.get("callingOptions") or {}
    headers = {"Accept": "application/json", **spec.headers}
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


def external_call(
    spec: TargetSpec,
    *,
    text: str,
    language: str | None,
    parameters: Mapping[str, Any],
    timeout: float,
) -> Any:
    """The target's JSON answer; raises ``TargetError`` for anything else."""
    request = _request(spec, text=text, language=language, parameters=parameters)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TargetError(
            "InternalServerError",
            f"The target endpoint answered HTTP {exc.code}.",
        ) from exc
    except TimeoutError as exc:
        raise TargetError(
            "Timeout", f"The target endpoint did not answer within {timeout:g} s."
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise TargetError(
                "Timeout", f"The target endpoint did not answer within {timeout:g} s."
            ) from exc
        raise TargetError(
            "ServiceUnavailable", f"The target endpoint is unreachable: {reason}"
        ) from exc
    if len(data) > MAX_RESPONSE_BYTES:
        raise TargetError(
            "InternalServerError",
            f"The target endpoint's answer is larger than {MAX_RESPONSE_BYTES} bytes.",
        )
    try:
        return json.loads(data)
    except ValueError as exc:
        raise TargetError(
            "InternalServerError", "The target endpoint's answer is not JSON."
        ) from exc
