"""``manage.py loaddemo``: load the demo projects written for this studio.

``studio/demo/`` holds three files in Azure's own formats: a Conversation project
(a home-office assistant), a question-answering knowledge base (an office FAQ), and an
orchestration project whose intents link to both, plus a non-linked chit-chat intent.
They go through the same import services as the API, so the demo is also a check
that those formats load. Idempotent: a project whose name exists is left untouched.
The targets load before the router, so its links point at existing projects.

Then each demo project without a ``production`` deployment is trained (model
``demo``) and deployed to ``production`` through the same job services as the API,
run in this process, in order: the router's training needs its CLU target deployed.
So the README's prediction examples answer right after ``make run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.core.management.base import BaseCommand, CommandError, CommandParser

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


DEMO_MODEL = "demo"
DEMO_DEPLOYMENT = "production"


def _run_inline(job: Any, task: Any) -> None:
    """Run a queued job in this process (unless the eager enqueue on commit already
    did) and raise when it did not succeed."""
    job.refresh_from_db()
    if job.status == job.Status.NOT_STARTED:
        # Inside a transaction (tests) the on-commit enqueue has not fired yet; when
        # it does, the job is no longer waiting and the task does nothing.
        task(str(job.pk))
        job.refresh_from_db()
    if job.status != job.Status.SUCCEEDED:
        reasons = "; ".join(str(e.get("message", e)) for e in job.errors) or job.status
        raise CommandError(
            f"The demo {job.kind} job of {job.project_name} failed: {reasons}"
        )


def demo_deploy() -> list[str]:
    """Train and deploy every demo project that has no production deployment yet;
    returns their names. Jobs run in this process (Celery eager for the call)."""
    from projects.models import Project
    from studio.celery import app
    from training import deploy_jobs, train_jobs
    from training.models import Deployment

    deployed: list[str] = []
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        for demo in DEMO_PROJECTS:
            project = Project.objects.filter(name=demo.name).first()
            if (
                project is None
                or Deployment.objects.filter(
                    project=project, name=DEMO_DEPLOYMENT
                ).exists()
            ):
                continue
            if demo.importer == "kb":
                _run_inline(
                    deploy_jobs.kb_deploy_start(
                        project_name=demo.name, deployment_name=DEMO_DEPLOYMENT
                    ),
                    deploy_jobs.kb_deploy_task,
                )
            else:
                _run_inline(
                    train_jobs.train_start(
                        project=project,
                        body={"modelLabel": DEMO_MODEL, "trainingMode": "standard"},
                    ),
                    train_jobs.train_task,
                )
                _run_inline(
                    deploy_jobs.deploy_start(
                        project_name=demo.name,
                        deployment_name=DEMO_DEPLOYMENT,
                        body={"trainedModelLabel": DEMO_MODEL},
                    ),
                    deploy_jobs.deploy_task,
                )
            deployed.append(demo.name)
    finally:
        app.conf.task_always_eager = eager
    return deployed


class Command(BaseCommand):
    help = (
        "Load the demo projects (skips the ones that already exist), then train and "
        "deploy the ones without a production deployment."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-deploy",
            action="store_true",
            help="Only import the projects; do not train or deploy them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            results = demo_load()
            deployed = [] if options["no_deploy"] else demo_deploy()
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
        if deployed:
            self.stdout.write(
                f"Demo projects trained and deployed to {DEMO_DEPLOYMENT!r}: "
                f"{', '.join(deployed)}."
            )
