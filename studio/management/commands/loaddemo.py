"""``manage.py loaddemo``: load the demo projects written for this studio.

``studio/demo/`` holds three files in Azure's own formats: a Conversation project
(a home-office assistant), a question-answering knowledge base (an office FAQ), and an
orchestration project whose intents link to both, plus a non-linked chit-chat intent.
They go through the same import services as the API, so the demo is also a check
that those formats load. Idempotent: a project whose name exists is left untouched.
The targets load before the router, so its links point at existing projects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.core.management.base import BaseCommand, CommandError

from studio.errors import StudioError

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"


@dataclass(frozen=True)
class DemoProject:
    name: str
    file_name: str
    importer: Literal["project", "kb"]
    format: str


DEMO_PROJECTS: tuple[DemoProject, ...] = (
    DemoProject("HomeOffice", "home-office.json", "project", "Conversation"),
    DemoProject("OfficeFAQ", "office-faq.json", "kb", "json"),
    DemoProject("OfficeRouter", "office-router.json", "project", "Orchestration"),
)


def demo_document(demo: DemoProject) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (DEMO_DIR / demo.file_name).read_text(encoding="utf-8")
    )
    return document


def demo_load() -> list[tuple[str, bool]]:
    """Import each demo project that does not exist yet; ``(name, loaded)`` pairs."""
    from projects import services
    from projects.models import Project

    results: list[tuple[str, bool]] = []
    for demo in DEMO_PROJECTS:
        if Project.objects.filter(name=demo.name).exists():
            results.append((demo.name, False))
            continue
        document = demo_document(demo)
        if demo.importer == "kb":
            services.kb_import(name=demo.name, document=document, file_format="json")
        else:
            services.project_import(
                name=demo.name, document=document, format=demo.format
            )
        results.append((demo.name, True))
    return results


class Command(BaseCommand):
    help = "Load the demo projects (skips the ones that already exist)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            results = demo_load()
        except StudioError as exc:
            details = "; ".join(
                f"{d.target}: {d.message}" if d.target else d.message
                for d in exc.details[:5]
            )
            raise CommandError(
                f"Loading the demo failed: {exc.message}"
                + (f" ({details})" if details else "")
            ) from exc
        loaded = [name for name, was_loaded in results if was_loaded]
        kept = [name for name, was_loaded in results if not was_loaded]
        if loaded:
            self.stdout.write(f"Demo projects loaded: {', '.join(loaded)}.")
        if kept:
            self.stdout.write(f"Demo projects already present: {', '.join(kept)}.")
