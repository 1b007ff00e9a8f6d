"""Request-body parsing of the Azure-compatible API: one JSON decoder for every view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.parsers import BaseParser, JSONParser

from studio.inputs import json_loads, text_decode


class StrictJSONParser(JSONParser):
    """JSON bodies through ``studio.inputs.json_loads``: UTF-8 only, no NUL, no lone
    surrogate, at most ``MAX_JSON_DEPTH`` levels deep. A refusal is ``InvalidRequest``
    (400) saying why; DRF re-raises what a parser raises."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return json_loads(stream.read() if stream is not None else b"")


class MergePatchJSONParser(StrictJSONParser):
    """``application/merge-patch+json``: what the SDK sends on project PATCH."""

    media_type = "application/merge-patch+json"


class PlainTextParser(BaseParser):
    """``text/*`` bodies (the TSV of ``:import?format=tsv``) as a ``str``: UTF-8, and
    refused like JSON strings when they hold a NUL or a lone surrogate."""

    media_type = "text/*"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        # A str, not the Mapping the stubs expect: format=tsv carries the file.
        return text_decode(raw, what="The request body")
