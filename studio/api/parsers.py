from __future__ import annotations

from rest_framework.parsers import JSONParser


class MergePatchJSONParser(JSONParser):
    """``application/merge-patch+json``: what the SDK sends on project PATCH."""

    media_type = "application/merge-patch+json"
