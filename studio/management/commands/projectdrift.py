"""``manage.py projectdrift --source URL``: which projects of this studio, copied
from the studio at URL by export and import, drifted from it (README, "Backup and
restore"). Exits with status 1 when one did, so a scheduler can alert."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.selectors.drift import projects_drift

LIST_PATH = "/language/authoring/analyze-conversations/projects?api-version=2023-04-01"
KEY_VARIABLE = "STUDIO_DRIFT_SOURCE_KEY"


def source_projects(url: str, key: str, *, timeout: float = 30) -> dict[str, Any]:
    """``{projectName: lastModifiedDateTime}`` of every Conversation and
    Orchestration project the key may read at the source, all pages."""
    found: dict[str, Any] = {}
    next_url: str | None = url.rstrip("/") + LIST_PATH
    while next_url:
        if urllib.parse.urlsplit(next_url).scheme not in ("http", "https"):
            raise CommandError(f"The source URL {next_url!r} is not http(s).")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            next_url, headers={"Ocp-Apim-Subscription-Key": key}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
                page = json.load(reply)
        except urllib.error.HTTPError as exc:
            raise CommandError(
                f"The source answered {exc.code} to {next_url}: check the URL and "
                "the key."
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CommandError(f"The source at {url} cannot be read: {exc}") from exc
        for item in page.get("value", []):
            found[str(item.get("projectName"))] = item.get("lastModifiedDateTime")
        next_url = page.get("nextLink")
    return found


class Command(BaseCommand):
    help = (
        "Compare this studio's projects imported from another studio's exports with "
        "that studio (its project list, through the API): in sync, changed at the "
        "source, changed here, or both. Exit status 1 when any drifted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", required=True, help="the other studio's URL (its endpoint)"
        )
        parser.add_argument(
            "--key",
            help=f"an API key of the source (default: ${KEY_VARIABLE}; prefer it, "
            "command lines are visible to other users)",
        )
        parser.add_argument("projects", nargs="*", help="only these projects")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["key"] or os.environ.get(KEY_VARIABLE, "")
        if not key:
            raise CommandError(f"Give the source's API key in ${KEY_VARIABLE}.")
        found = source_projects(options["source"], key)
        rows = projects_drift(source_modified=found, names=options["projects"] or None)
        for row in rows:
            detail = ""
            if row.copied is not None and row.source is not None and row.drifted:
                detail = (
                    f" (copy of {row.copied:%Y-%m-%dT%H:%M:%SZ}, source now "
                    f"{row.source:%Y-%m-%dT%H:%M:%SZ})"
                )
            self.stdout.write(f"{row.name}: {row.state}{detail}")
        drifted = [row.name for row in rows if row.drifted]
        if drifted:
            raise CommandError(
                f"{len(drifted)} project(s) drifted from {options['source']}: "
                f"{', '.join(drifted)}.",
                returncode=1,
            )
