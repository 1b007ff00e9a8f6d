"""The review page's "Clusters" view: waiting queries grouped by similarity
(``training.selectors.clusters``), listed by size; a cluster opens on its own page
where the analyst unchecks the items that do not belong and labels the rest at
once — an intent from the label palette (or the 1-9 keys), None, skip, discard —
or creates the new intent the cluster suggests (``training.services.clusters``).

Acting posts the cluster's form; success goes back to the list with the outcome,
a problem re-renders the cluster with it next to the field concerned.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from projects.models import Project
from projects.permissions import project_view
from projects.services import Labeler
from studio.errors import StudioError
from studio.plain_errors import plain_message
from training.selectors import clusters as sc
from training.selectors import review as sr
from training.services import clusters as svc
from training.views._common import INVALID
from training.views.review import LABELED_KINDS, _screen

LIST = "training/review_clusters.html"
DETAIL = "training/review_cluster.html"
SHOWN = 50
SAMPLES = 3
SORT_CHOICES = [
    ("size", "Most queries"),
    ("cohesion", "Tightest"),
    ("confidence", "Least confident"),
]


class ClusterFilterForm(forms.Form):
    deployment = forms.CharField(required=False, max_length=100)
    intent = forms.CharField(required=False, max_length=100)
    min_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=sc.MAX_LOGS,
        label="At least",
        error_messages={
            "invalid": "Enter a whole number of queries.",
            "min_value": "Enter at least 1.",
            "max_value": f"Enter at most {sc.MAX_LOGS}.",
        },
    )
    sort = forms.ChoiceField(
        required=False,
        choices=SORT_CHOICES,
        error_messages={"invalid_choice": "Choose an order from the list."},
    )

    def filters(self) -> sc.ClusterFilter:
        data = self.cleaned_data
        return sc.ClusterFilter(
            deployment=data["deployment"],
            intent=data["intent"],
            min_size=data["min_size"] or 2,
            sort=data["sort"] or "size",
        )


def _taken(project: Project) -> list[str]:
    return list(project.intents.values_list("name", flat=True))


@require_GET
@project_view("read", kinds=LABELED_KINDS)
def cluster_list(request: HttpRequest, project: Project) -> HttpResponse:
    """The clusters, largest first (or htmx aimed at the list: just the list)."""
    form = ClusterFilterForm(request.GET or None)
    found: list[sc.ReviewCluster] = []
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = form.filters() if form.is_bound else sc.ClusterFilter()
        found = sc.review_clusters(project=project, filters=filters)
    taken = _taken(project)
    screen = _screen(request, project)
    context = {
        "project": project,
        "form": form,
        "clusters": [(c, c.suggestion(taken)) for c in found[:SHOWN]],
        "total": len(found),
        "samples": SAMPLES,
        "deployments": sr.review_deployments(project=project),
        "intents": screen.intents,
        "this_query": request.GET.urlencode(),
        "max_logs": sc.MAX_LOGS,
    }
    part = "#clusters" if request.headers.get("HX-Target") == "review-clusters" else ""
    return render(request, LIST + part, context, status=status)


def _detail(
    request: HttpRequest,
    project: Project,
    cluster: sc.ReviewCluster,
    *,
    deployment: str,
    excluded: set[int] | None = None,
    errors: dict[str, str] | None = None,
    new_intent: str | None = None,
    status: int = 200,
) -> HttpResponse:
    screen = _screen(request, project)
    suggestion = cluster.suggestion(_taken(project))
    context = {
        "project": project,
        "cluster": cluster,
        "suggestion": suggestion,
        "new_intent": suggestion if new_intent is None else new_intent,
        "excluded": excluded or set(),
        "errors": errors or {},
        "deployment": deployment,
        "intents": screen.intents,
        "intent_keys": screen.intent_keys,
        "intent_palette": screen.palette,
        "can_label": screen.can_label,
        "csrf_input": screen.csrf_input,
        "review_dataset": project.review_dataset,
    }
    return render(request, DETAIL, context, status=status)


@require_GET
@project_view("read", kinds=LABELED_KINDS)
def cluster_detail(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    deployment = request.GET.get("deployment", "")
    version = _version(request.GET.get("version", ""))
    cluster = sc.review_cluster(
        project=project, cluster_id=pk, deployment=deployment, version=version
    )
    if cluster is None:
        messages.info(
            request,
            "That cluster is gone: it was labeled meanwhile, or new traffic "
            "regrouped the clusters.",
        )
        return HttpResponseRedirect(reverse("ui:review-clusters", args=[project.name]))
    return _detail(request, project, cluster, deployment=deployment)


def _version(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def _ids(values: list[str]) -> set[int]:
    return {int(v) for v in values if v.isdigit()}


# Where a service problem shows on the cluster's page.
_FIELDS = {"intent": "intent", "newIntent": "new_intent", "category": "new_intent"}


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def cluster_act(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    post = request.POST
    deployment = post.get("deployment", "")
    version = _version(post.get("version", ""))
    action = post.get("action", "")
    # The boxes left unchecked are the exclusions: every item shown minus those
    # checked (an item that joined the cluster since is not excluded).
    excluded = _ids(post.getlist("shown")) - _ids(post.getlist("item"))
    new_intent = post.get("new_intent", "").strip()
    try:
        outcome = svc.review_cluster_act(
            project=project,
            cluster_id=pk,
            action=action,
            intent=post.get("intent") or None,
            new_intent=new_intent or None,
            exclude=sorted(excluded),
            deployment=deployment,
            version=version,
            user=request.user,  # type: ignore[arg-type]
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
        )
    except StudioError as exc:
        cluster = sc.review_cluster(
            project=project, cluster_id=pk, deployment=deployment, version=version
        )
        if cluster is None:
            messages.error(request, plain_message(exc.message))
            return HttpResponseRedirect(
                reverse("ui:review-clusters", args=[project.name])
            )
        field = _FIELDS.get(exc.target or "", "action")
        if field == "new_intent" and action != "create":
            field = "action"
        return _detail(
            request,
            project,
            cluster,
            deployment=deployment,
            excluded=excluded,
            errors={field: plain_message(exc.message)},
            new_intent=new_intent or None,
            status=INVALID,
        )
    messages.success(request, outcome.summary)
    url = reverse("ui:review-clusters", args=[project.name])
    query = post.get("next", "")
    return HttpResponseRedirect(url + (f"?{query}" if query else ""))
