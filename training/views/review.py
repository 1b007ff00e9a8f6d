"""The review queue screen: logged queries, the ones labeling would teach most first
(``training.selectors.review``), triaged by keyboard like the Data page — accept the
prediction, pick another intent in the label palette, mark out of scope (None), skip
or discard (``training.services.review``).

An action posts the row's form; htmx gets the list back without that item (and the
outcome as a status line), a plain post is redirected to the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from projects.models import Project
from projects.permissions import project_view
from projects.selectors import authoring as selectors
from projects.services import Labeler
from projects.views.data import Screen
from studio.errors import StudioError
from studio.filter_forms import DateRangeForm
from studio.plain_errors import plain_message
from training.selectors import review as sr
from training.services import review as svc
from training.services.review_recipe import review_keys_catch_up
from training.views._common import is_htmx

TEMPLATE = "training/review.html"
LABELED_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
SHOWN = 50
BAND_CHOICES = [
    ("", "Any"),
    ("low", "Low (below 0.5)"),
    ("medium", "Medium (0.5 to 0.8)"),
    ("high", "High (0.8 and above)"),
]


class ReviewFilterForm(DateRangeForm):
    deployment = forms.CharField(required=False, max_length=100)
    intent = forms.CharField(required=False, max_length=100)
    band = forms.ChoiceField(
        required=False,
        choices=BAND_CHOICES,
        error_messages={"invalid_choice": "Choose a confidence band from the list."},
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Waiting"), ("skipped", "Skipped")],
        error_messages={"invalid_choice": "Choose waiting or skipped."},
    )
    reason = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("shadow", "Shadow model disagrees")],
        error_messages={"invalid_choice": "Choose a reason from the list."},
    )

    def filters(self) -> sr.ReviewFilter:
        data = self.cleaned_data
        return sr.ReviewFilter(
            deployment=data["deployment"],
            intent=data["intent"],
            band=data["band"],
            since=data["since"],
            until=data["until"],
            status=data["status"] or "pending",
            shadow=data["reason"] == "shadow",
        )


def _screen(request: HttpRequest, project: Project) -> Screen:
    access = request.studio_access  # type: ignore[attr-defined]
    return Screen(
        project=project,
        intents=list(selectors.intent_list(project=project)),
        entities=[],
        can_label=access.can["label"],
        csrf_input=format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">',
            get_token(request),
        ),
    )


def _context(
    request: HttpRequest,
    project: Project,
    params: Any,
    *,
    refill: bool = True,
    **extra: Any,
) -> tuple[dict[str, Any], int]:
    """The screen's context and status. ``refill``: refill a bounded batch of
    stored review keys first (False after an action, which did)."""
    screen = _screen(request, project)
    form = ReviewFilterForm(params or None)
    groups: Sequence[sr.ReviewGroup] = []
    total_logs = 0
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = form.filters() if form.is_bound else sr.ReviewFilter()
        if refill:
            review_keys_catch_up(project=project)  # a bounded batch, if any
        queue = sr.review_queue(project=project, filters=filters)
        groups, total_logs = queue, queue.total_logs
    context = {
        "project": project,
        "form": form,
        "groups": groups[:SHOWN],
        "total": len(groups),
        "total_logs": total_logs,
        "deployments": sr.review_deployments(project=project),
        "intents": screen.intents,
        "intent_keys": screen.intent_keys,
        "intent_palette": screen.palette,
        "can_label": screen.can_label,
        "csrf_input": screen.csrf_input,
        "this_query": params.urlencode() if params else "",
        "review_dataset": project.review_dataset,
        **extra,
    }
    return context, status


@require_GET
@project_view("read", kinds=LABELED_KINDS)
def review_page(request: HttpRequest, project: Project) -> HttpResponse:
    """The screen, or (htmx aimed at the list) just the list."""
    context, status = _context(request, project, request.GET)
    part = "#queue" if request.headers.get("HX-Target") == "review-queue" else ""
    return render(request, TEMPLATE + part, context, status=status)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def review_act(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    action = request.POST.get("action", "")
    intent = request.POST.get("intent") or None
    query = request.POST.get("next", "")
    notice, error = "", ""
    try:
        outcome = svc.review_act(
            project=project,
            log_id=pk,
            action=action,
            intent=intent,
            user=request.user,  # type: ignore[arg-type]
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
        )
        notice = outcome.summary
    except StudioError as exc:
        error = plain_message(exc.message)
    if not is_htmx(request):
        url = reverse("ui:review", args=[project.name]) + (f"?{query}" if query else "")
        if error:
            messages.error(request, error)
        else:
            messages.success(request, notice)
        return HttpResponseRedirect(url)
    params = QueryDict(query) if query else None
    # svc.review_act refilled a bounded batch already.
    context, _ = _context(
        request,
        project,
        params,
        refill=False,
        notice=notice,
        act_error=error,
        acted=pk,
    )
    return render(request, TEMPLATE + "#queue", context, status=422 if error else 200)
