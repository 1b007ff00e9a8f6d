"""Projects screens: the list at ``/``, create, import (a job with live progress),
the overview, export (a download) and delete (a job, after confirmation).

Every view checks the caller's role on the server (``projects.permissions``); a
project the user is not a member of is a 404 everywhere. Mutations answer htmx with
a fragment (or a client redirect to the page they created) and plain posts with a
redirect; a form with errors comes back bound (nothing typed is lost) with status
422, which the layout's htmx config swaps in.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from jobs.models import Job
from jobs.queues import job_wait_note
from jobs.services import job_cancel
from projects import validators as v
from projects.models import Project
from projects.permissions import (
    project_view,
    projects_for_user,
    role_allows,
    role_of,
)
from projects.selectors import studio_projects as sel
from projects.services import kb_export, project_export
from projects.services.studio_projects import (
    import_file_project_name,
    project_create_by_user,
    project_delete_start,
    project_import_start,
    replaced_project_restore_start,
)
from projects.views.project_forms import (
    ProjectCreateForm,
    ProjectDeleteForm,
    ProjectImportForm,
)
from studio.accounts import signed_in
from studio.errors import StudioError
from studio.middleware import refused_body_bytes
from studio.plain_errors import plain_job_messages, plain_message

INVALID = 422
JOB_POLL_SECONDS = 1
JOB_FRAGMENT = "projects/_job.html"
# The jobs the studio starts and shows at /jobs/<id>/.
STUDIO_JOB_KINDS = (
    Job.Kind.IMPORT,
    Job.Kind.PROJECT_DELETE,
    Job.Kind.UTTERANCES_UPLOAD,
)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _after_write(request: HttpRequest, url: str) -> HttpResponse:
    """Navigate to ``url``: a client redirect for htmx, 302 for a plain post."""
    if _is_htmx(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def project_url(project: Project) -> str:
    return reverse("ui:project", args=[project.name])


# ------------------------------------------------------------------ list / create


@signed_in
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    """The user's projects, searched (``q``) and sorted (``sort``); htmx searches
    get the results only."""
    search = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", "name")
    if sort not in sel.PROJECT_SORTS:
        sort = "name"
    summaries = sel.project_summaries(
        projects=projects_for_user(request.user), search=search, sort=sort
    )
    context = {
        "summaries": summaries,
        "search": search,
        "sort": sort,
        "any_project": bool(summaries) or projects_for_user(request.user).exists(),
    }
    template = "projects/list.html"
    return render(
        request, f"{template}#results" if _is_htmx(request) else template, context
    )


@signed_in
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    template = "projects/new.html"
    if request.method == "GET":
        form = ProjectCreateForm(
            initial={"kind": Project.Kind.CONVERSATION, "language": "en-us"}
        )
        return render(request, template, {"form": form})
    form = ProjectCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            project = project_create_by_user(
                user=request.user,  # type: ignore[arg-type]
                kind=data["kind"],
                name=data["name"],
                language=data["language"],
                description=data["description"],
                multilingual=data["multilingual"],
                confidence_threshold=data["confidence_threshold"],
                default_answer=data["default_answer"],
            )
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            messages.success(request, f"Project {project.name} created.")
            return _after_write(request, project_url(project))
    template_name = f"{template}#form" if _is_htmx(request) else template
    return render(request, template_name, {"form": form}, status=INVALID)


# ------------------------------------------------------------------ import / jobs


def _may_replace(request: HttpRequest, name: str) -> bool:
    project = Project.objects.filter(name=name).first()
    return project is not None and role_allows(role_of(request.user, project), "admin")


@signed_in
@require_http_methods(["GET", "POST"])
def project_import(request: HttpRequest) -> HttpResponse:
    template = "projects/import.html"
    if request.method == "GET":
        form = ProjectImportForm(initial={"file_format": "conversation"})
        return render(request, template, {"form": form})
    form = ProjectImportForm(request.POST, request.FILES)
    if (refused := refused_body_bytes(request)) is not None:
        # Refused before its body was read (studio.middleware): the form is empty,
        # and only the size is worth saying.
        form.full_clean()
        form.errors.clear()
        form.add_error("file", v.size_error(refused) or "The file is too large.")
    elif form.is_valid():
        data = form.cleaned_data
        content = data["file"].read()
        try:
            name = data["name"] or import_file_project_name(
                file_format=data["file_format"], content=content
            )
            if not name:
                form.add_error(
                    "name", "Enter a project name: the file does not name its project."
                )
            else:
                job = project_import_start(
                    user=request.user,  # type: ignore[arg-type]
                    name=name,
                    file_format=data["file_format"],
                    content=content,
                    may_replace=_may_replace(request, name),
                    confirm=data["confirm"],
                )
                if _is_htmx(request):
                    return render(request, JOB_FRAGMENT, job_context(job))
                return HttpResponseRedirect(reverse("ui:job", args=[job.job_id]))
        except StudioError as exc:
            form.add_studio_error(exc)
    template_name = f"{template}#form" if _is_htmx(request) else template
    return render(request, template_name, {"form": form}, status=INVALID)


def job_context(job: Job) -> dict[str, Any]:
    """What ``projects/_job.html`` shows of a job (also the Data screen's upload
    panel): progress, errors, warnings and, for an upload, its report."""
    project = None
    if job.status == Job.Status.SUCCEEDED and job.kind == Job.Kind.IMPORT:
        project = job.project
    report = dict(job.result) if job.kind == Job.Kind.UTTERANCES_UPLOAD else {}
    if report:
        report["more"] = max(0, report.get("added", 0) - len(report.get("rows", [])))
    return {
        "job": job,
        "job_project": project,
        "poll_seconds": JOB_POLL_SECONDS,
        "errors": plain_job_messages(job.errors),
        "warnings": plain_job_messages(job.warnings),
        "wait_note": job_wait_note(job=job),
        "report": report,
    }


def _studio_job(request: HttpRequest, job_id: str) -> Job:
    job = Job.objects.filter(job_id=job_id, kind__in=STUDIO_JOB_KINDS).first()
    if job is None or not sel.user_may_see_job(user=request.user, job=job):  # type: ignore[arg-type]
        raise Http404("No such job.")
    return job


def _job_response(request: HttpRequest, job: Job) -> HttpResponse:
    if not _is_htmx(request):
        return render(request, "projects/job.html", job_context(job))
    context = job_context(job)
    # The Data screen's upload panel polls with ?in=data (no link back to itself).
    context["in_data_screen"] = request.GET.get("in") == "data"
    response = render(request, JOB_FRAGMENT, context)
    if job.kind == Job.Kind.UTTERANCES_UPLOAD and job.status == Job.Status.SUCCEEDED:
        # The Data screen's table and distribution show the new rows (the poll
        # stops with this answer, so the events fire once).
        trigger_client_event(response, "table-stale")
        trigger_client_event(response, "distribution-stale")
    return response


@signed_in
@require_GET
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    """A job started from the UI; htmx polls the ``job`` fragment until it ends."""
    return _job_response(request, _studio_job(request, job_id))


@signed_in
@require_POST
def job_cancel_view(request: HttpRequest, job_id: str) -> HttpResponse:
    """Cancel a Data-page upload: whoever started it, or anyone who may label the
    project. The job removes what it had added and ends ``cancelled``."""
    job = _studio_job(request, job_id)
    project = job.project
    may_label = project is not None and role_allows(
        role_of(request.user, project), "label"
    )
    if job.kind != Job.Kind.UTTERANCES_UPLOAD or not (
        may_label or sel.job_owner_id(job) == request.user.pk
    ):
        raise Http404("No such job.")
    if not job.is_finished:
        job = job_cancel(job=job)
    if _is_htmx(request):
        return render(request, JOB_FRAGMENT, job_context(job))
    return HttpResponseRedirect(reverse("ui:job", args=[job.job_id]))


# ------------------------------------------------------------------ one project


@project_view("read")
@require_GET
def project_overview(request: HttpRequest, project: Project) -> HttpResponse:
    summary = sel.project_summaries(projects=Project.objects.filter(pk=project.pk))[0]
    return render(
        request,
        "projects/overview.html",
        {
            "project": project,
            "summary": summary,
            "jobs": sel.project_recent_jobs(project=project),
            "replaced": sel.replaced_project_list(project=project),
            "retention_days": settings.STUDIO_REPLACED_PROJECT_RETENTION_DAYS,
        },
    )


@project_view("admin")
@require_POST
def project_restore(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """Put back what the project held before an import replaced it (a job)."""
    snapshot = sel.replaced_project_list(project=project).filter(pk=pk).first()
    if snapshot is None:
        raise Http404("No such earlier state of this project.")
    try:
        job = replaced_project_restore_start(user=request.user, snapshot=snapshot)  # type: ignore[arg-type]
    except StudioError as exc:
        messages.error(request, plain_message(exc.message))
        return _after_write(request, project_url(project))
    return _after_write(request, reverse("ui:job", args=[job.job_id]))


@project_view("read")
@require_GET
def project_download(request: HttpRequest, project: Project) -> HttpResponse:
    """The project as a file: Azure's JSON, or a QnA Maker TSV for a knowledge base
    (``?format=tsv``). Built in the request: an export is a read of the project."""
    wanted = request.GET.get("format", "json")
    if wanted not in ("json", "tsv"):
        raise Http404("Unknown export format.")
    content: Any
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        content = kb_export(project=project, file_format=wanted)  # type: ignore[arg-type]
    else:
        if wanted != "json":
            raise Http404("Conversation projects export as JSON.")
        content = project_export(project=project)
    if isinstance(content, str):
        body, content_type = content, "text/tab-separated-values; charset=utf-8"
    else:
        body = json.dumps(content, ensure_ascii=False, indent=2)
        content_type = "application/json; charset=utf-8"
    response = HttpResponse(body.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{project.name}.{wanted}"'
    return response


@project_view("admin")
@require_http_methods(["GET", "POST"])
def project_delete(request: HttpRequest, project: Project) -> HttpResponse:
    template = "projects/delete.html"
    if request.method == "GET":
        form = ProjectDeleteForm(project=project)
        return render(request, template, {"project": project, "form": form})
    form = ProjectDeleteForm(request.POST, project=project)
    if form.is_valid():
        try:
            job = project_delete_start(user=request.user, project=project)  # type: ignore[arg-type]
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            if _is_htmx(request):
                return render(request, JOB_FRAGMENT, job_context(job))
            return HttpResponseRedirect(reverse("ui:job", args=[job.job_id]))
    template_name = f"{template}#form" if _is_htmx(request) else template
    return render(
        request, template_name, {"project": project, "form": form}, status=INVALID
    )
