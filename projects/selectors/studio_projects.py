"""Reads for the studio's project screens: the projects list with its counts, the
jobs a user started from the UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from jobs.models import Job
from projects.models import (
    Intent,
    Project,
    ProjectMembership,
    QnaPair,
    ReplacedProject,
    Utterance,
)


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    project: Project
    intents: int
    utterances: int
    qnas: int


def _count(model: type[Any], **filters: Any) -> Coalesce:
    """A correlated COUNT subquery: several counts on one project row without the
    row multiplication of joined Count()s."""
    subquery = (
        model.objects.filter(project=OuterRef("pk"), **filters)
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(subquery, output_field=IntegerField()), 0)


# The projects list's sort keys (the ``sort`` query parameter): most recent first for
# dates, projects never trained or deployed last.
PROJECT_SORTS: dict[str, tuple[Any, ...]] = {
    "name": ("name",),
    "-name": ("-name",),
    "kind": ("kind", "name"),
    "trained": (F("last_trained_at").desc(nulls_last=True), "name"),
    "deployed": (F("last_deployed_at").desc(nulls_last=True), "name"),
    "modified": (F("last_modified_at").desc(nulls_last=True), "name"),
}


def project_summaries(
    *, projects: QuerySet[Project], search: str = "", sort: str = "name"
) -> list[ProjectSummary]:
    """Each project with its counts, in one query; ``search`` keeps the projects
    whose name or description contains it (any case), ``sort`` is a key of
    ``PROJECT_SORTS`` (an unknown one sorts by name)."""
    if search:
        projects = projects.filter(
            Q(name__icontains=search) | Q(description__icontains=search)
        )
    rows = projects.annotate(
        n_intents=_count(Intent),
        n_utterances=_count(Utterance),
        n_qnas=_count(QnaPair),
    ).order_by(*PROJECT_SORTS.get(sort, PROJECT_SORTS["name"]))
    return [
        ProjectSummary(
            project=p,
            intents=p.n_intents,
            utterances=p.n_utterances,
            qnas=p.n_qnas,
        )
        for p in rows
    ]


def job_owner_id(job: Job) -> int | None:
    owner = job.params.get("owner_id")
    return owner if isinstance(owner, int) else None


def project_recent_jobs(*, project: Project, limit: int = 5) -> QuerySet[Job]:
    return Job.objects.filter(project=project).order_by("-created_at")[:limit]


def replaced_project_list(*, project: Project) -> QuerySet[ReplacedProject]:
    """The project's restorable previous states (``services.snapshots``), newest
    first; expired ones are hidden before the workers' sweep removes them."""
    return ReplacedProject.objects.filter(
        project=project, expires_at__gte=timezone.now()
    ).order_by("-replaced_at")


def user_may_see_job(*, user: AbstractBaseUser, job: Job) -> bool:
    """A UI job page is shown to the user who started the job (an import of a new
    project has no project to check roles on yet), or to anyone who may read the
    project it concerns."""
    from projects.permissions import projects_for_user

    if job_owner_id(job) == user.pk:
        return True
    if job.project_id is None:
        # A deleted project's deletion job: not another project's of that name.
        return False
    return projects_for_user(user).filter(pk=job.project_id).exists()


def project_members(*, project: Project) -> QuerySet[ProjectMembership]:
    return (
        ProjectMembership.objects.filter(project=project)
        .select_related("user")
        .order_by("user__username")
    )


def project_membership_get(*, project: Project, pk: int) -> ProjectMembership:
    membership = (
        ProjectMembership.objects.filter(project=project, pk=pk)
        .select_related("project", "user")
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership
