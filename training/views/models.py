"""Models and evaluation: each trained model's metrics, per-intent table, confusion
matrix heat map (sortable, collapsible to the intents with errors; its non-zero cells
list their test utterances, whose labels can be fixed from there), the top
confusions, an errors-only list with the same fix, entity metrics; two models side by
side; delete.

Everything shown comes from what training stored: ``TrainedModel.evaluation_summary``
(Azure's EvaluationSummary) and the model's ``EvaluationResult`` rows, read through
``training.selectors.evaluation``. Fixing a label changes the utterance through the
labeling service the Data page uses; the evaluation keeps describing the data the
model was trained on until the next training.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects.models import Project
from projects.permissions import project_view, user_can
from projects.selectors import authoring as project_selectors
from projects.services import Labeler, utterance_intent_set
from projects.views.ui_forms import rendered_version
from studio.errors import PreconditionFailed, StudioError
from studio.plain_errors import plain_message
from studio.vocabulary import CLU_KINDS
from training.models import TrainedModel
from training.selectors import authoring as selectors
from training.selectors import evaluation as ev
from training.services.review import data_add_corrected
from training.train_jobs import trained_model_delete
from training.views._common import INVALID, context, is_htmx, redirect_with

TEMPLATE = "training/model.html"
KINDS = tuple(CLU_KINDS)
CELL_LIMIT = 200
# A row changed by someone else since it was rendered (the Data page's answer too).
CONFLICT = 409
CHANGED_LIMIT = 500
SORT_COLUMNS = (
    ("name", "Intent"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("support", "Test utterances"),
)
SORTS = tuple(key for key, _ in SORT_COLUMNS)
MATRIX_ORDERS = (
    ("evaluation", "As evaluated"),
    ("name", "By name"),
    ("errors", "Most errors first"),
    ("f1", "Lowest F1 first"),
)
PARTS = ("intent-table", "matrix", "errors")
# The page's state in its query string; every link keeps the rest of it.
STATE = ("sort", "dir", "view", "order", "rows", "errors_page")


def _summary(model: TrainedModel) -> dict[str, Any]:
    return model.evaluation_summary or {}


def _state(request: HttpRequest) -> dict[str, str]:
    """The page's display choices, each valid or at its default."""
    get = request.GET
    sort = get.get("sort", "f1")
    sort = sort if sort in SORTS else "f1"
    default_dir = "asc" if sort == "name" else "desc"
    order = get.get("order", "evaluation")
    return {
        "sort": sort,
        "dir": "asc" if get.get("dir", default_dir) == "asc" else "desc",
        "view": "normalized" if get.get("view") == "normalized" else "raw",
        "order": order if order in ev.MATRIX_ORDERS else "evaluation",
        "rows": "errors" if get.get("rows") == "errors" else "all",
        "errors_page": _page_number(get.get("errors_page", "1")),
    }


def _page_number(value: str) -> str:
    """A page number as typed, if it is one: it is echoed into every link of the
    page, so anything else is the first page."""
    return value if re.fullmatch(r"[0-9]{1,6}", value) else "1"


def _query(state: dict[str, str], **changes: str) -> str:
    """``?...`` for the page with ``state`` changed by ``changes`` (defaults left
    out, so URLs stay short)."""
    query = QueryDict(mutable=True)
    for key, value in {**state, **changes}.items():
        if value and (key, value) not in (
            ("view", "raw"),
            ("order", "evaluation"),
            ("rows", "all"),
            ("errors_page", "1"),
        ):
            query[key] = value
    return "?" + query.urlencode()


def _links(state: dict[str, str]) -> dict[str, Any]:
    """Every state-changing link of the page, precomputed (templates cannot call
    ``_query``): the matrix toggles, its orders and the intent table's sortable
    columns (a column sorts largest first, names A to Z; again flips it)."""
    columns = []
    for key, name in SORT_COLUMNS:
        same = state["sort"] == key
        if key == "name":
            direction = "desc" if same and state["dir"] == "asc" else "asc"
        else:
            direction = "asc" if same and state["dir"] == "desc" else "desc"
        columns.append((key, name, _query(state, sort=key, dir=direction)))
    return {
        "links": {
            "view_raw": _query(state, view="raw"),
            "view_normalized": _query(state, view="normalized"),
            "rows_all": _query(state, rows="all"),
            "rows_errors": _query(state, rows="errors"),
        },
        "order_choices": [
            (key, name, _query(state, order=key)) for key, name in MATRIX_ORDERS
        ],
        "intent_columns": columns,
    }


def _cell_context(
    request: HttpRequest,
    project: Project,
    model: TrainedModel,
    expected: str,
    predicted: str,
) -> dict[str, Any]:
    results = list(
        selectors.evaluation_result_list(model=model, actor=request.user).filter(
            expected_intent=expected, predicted_intent=predicted
        )[:CELL_LIMIT]
    )
    return {
        "cell": {"expected": expected, "predicted": predicted},
        "cell_rows": list(
            zip(results, ev.current_utterances(project, results), strict=True)
        ),
        **_label_context(request, project),
    }


def _label_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    """What the fix-the-label forms need: may this user label, and into what."""
    can_label = user_can(request.user, project, "label")
    intents: list[str] = []
    if can_label:
        intents = list(
            project_selectors.intent_list(project=project).values_list(
                "name", flat=True
            )
        )
    return {"can_label": can_label, "intents": intents}


def _errors_context(
    request: HttpRequest, project: Project, model: TrainedModel, state: dict[str, str]
) -> dict[str, Any]:
    """One page of "Errors only" with each utterance as it is now."""
    paginator = Paginator(
        ev.evaluation_errors(model=model, actor=request.user), ev.ERRORS_PAGE_SIZE
    )
    errors_page = paginator.get_page(state["errors_page"])
    results = list(errors_page.object_list)
    number = errors_page.number
    return {
        "errors_page": errors_page,
        "errors_links": {
            "previous": _query(state, errors_page=str(number - 1)),
            "next": _query(state, errors_page=str(number + 1)),
        },
        "error_rows": list(
            zip(results, ev.current_utterances(project, results), strict=True)
        ),
    }


def _model_context(
    request: HttpRequest, project: Project, model: TrainedModel
) -> dict[str, Any]:
    summary = _summary(model)
    intents_eval = summary.get("intentsEvaluation") or {}
    entities_eval = summary.get("entitiesEvaluation") or {}
    state = _state(request)
    matrix = ev.confusion_matrix(
        intents_eval, order=state["order"], only_errors=state["rows"] == "errors"
    )
    values: dict[str, Any] = {
        "model": model,
        "intent_metrics": ev.metrics(intents_eval),
        "calibration": ev.calibration(intents_eval),
        "thresholds": ev.thresholds(intents_eval, project),
        "embedding_choice": ev.embedding_choice(model),
        "static_choice": ev.static_choice(model),
        "entity_metrics": ev.metrics(entities_eval),
        "intent_rows": ev.label_rows_sorted(
            ev.label_rows(intents_eval, "intents"),
            state["sort"],
            state["dir"] == "desc",
        ),
        "entity_rows": sorted(
            ev.label_rows(entities_eval, "entities"), key=lambda r: r.name.lower()
        ),
        "state": state,
        **_links(state),
        "cell_url": reverse("ui:model-cell", args=[project.name, model.label]),
        "sort": state["sort"],
        "descending": state["dir"] == "desc",
        "view": state["view"],
        "matrix": matrix,
        "confusions": ev.top_confusions(intents_eval),
        "test_count": selectors.evaluation_result_list(
            model=model, actor=request.user
        ).count(),
        "can_train": user_can(request.user, project, "train"),
        "options": model.evaluation_options,
        **_label_context(request, project),
        **_errors_context(request, project, model, state),
    }
    expected = request.GET.get("expected")
    predicted = request.GET.get("predicted")
    if expected is not None and predicted is not None:
        values.update(_cell_context(request, project, model, expected, predicted))
    return context(project, **values)


@project_view("read", kinds=KINDS)
@require_GET
def model_list(request: HttpRequest, project: Project) -> HttpResponse:
    models = list(selectors.trained_model_list(project=project))
    rows = [
        (model, ev.metrics(_summary(model).get("intentsEvaluation") or {}))
        for model in models
    ]
    return render(
        request,
        "training/models.html",
        context(
            project,
            rows=rows,
            models=models,
            can_train=user_can(request.user, project, "train"),
        ),
    )


@project_view("read", kinds=KINDS)
@require_GET
def model_detail(request: HttpRequest, project: Project, label: str) -> HttpResponse:
    """The evaluation page; with htmx and ``part`` one of its sections."""
    model = _model_or_404(project, label)
    values = _model_context(request, project, model)
    if is_htmx(request):
        part = request.GET.get("part")
        if part in PARTS:
            return render(request, f"{TEMPLATE}#{part}", values)
    return render(request, TEMPLATE, values)


def _model_or_404(project: Project, label: str) -> TrainedModel:
    try:
        return selectors.trained_model_get(project=project, label=label)
    except StudioError as exc:
        raise Http404(exc.message) from exc


@project_view("read", kinds=KINDS)
@require_GET
def model_cell(request: HttpRequest, project: Project, label: str) -> HttpResponse:
    """The test utterances of one confusion-matrix cell (expected x predicted)."""
    model = _model_or_404(project, label)
    expected = request.GET.get("expected", "")
    predicted = request.GET.get("predicted", "")
    if not is_htmx(request):
        return render(request, TEMPLATE, _model_context(request, project, model))
    values = context(
        project,
        model=model,
        **_cell_context(request, project, model, expected, predicted),
    )
    return render(request, f"{TEMPLATE}#cell", values)


def _relabel_error(exc: StudioError, intent: str) -> str:
    """The service's refusal in the words of this screen (no field names)."""
    if exc.target in ("id", "ids"):
        return "This utterance was deleted since the evaluation."
    if exc.target == "intent" and not intent:
        return "Choose an intent."
    return plain_message(exc.message)


@project_view("label", kinds=KINDS)
@require_POST
def model_relabel(request: HttpRequest, project: Project, label: str) -> HttpResponse:
    """Fix the label of a test utterance listed under a matrix cell or in "Errors
    only", with the labeling service the Data page uses. htmx gets the row back,
    redrawn in place with the outcome (422 and the reason beside the field when
    refused, 409 and the other change when the row changed since it was rendered:
    the Data page's version rule); a plain form post is redirected back to where
    it came from."""
    model = _model_or_404(project, label)
    source = "errors" if request.POST.get("source") == "errors" else "cell"
    expected = request.POST.get("expected", "")
    predicted = request.POST.get("predicted", "")
    intent = request.POST.get("intent", "")
    error = ""
    try:
        utterance_id = int(request.POST.get("utterance_id", ""))
    except ValueError:
        utterance_id = 0
        error = "Choose an utterance to relabel."
    conflict = False
    if not error:
        try:
            # As on the Data page: the fix names its labeler and joins the
            # user's undo history.
            utterance_intent_set(
                project=project,
                pk=utterance_id,
                intent=intent,
                version=rendered_version(request),
                labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
                user=request.user,  # type: ignore[arg-type]
            )
        except StudioError as exc:
            conflict = isinstance(exc, PreconditionFailed)
            error = _relabel_error(exc, intent)
    message = "" if error else f"Relabeled as {intent}. Retrain to evaluate the change."
    if not is_htmx(request):
        url = reverse("ui:model", args=[project.name, model.label])
        if source == "errors":
            url += _query(
                _state(request),
                errors_page=_page_number(request.POST.get("errors_page", "1")),
            )
            url += "#errors-section"
        else:
            query = QueryDict(mutable=True)
            query.update({"expected": expected, "predicted": predicted})
            url += f"?{query.urlencode()}#cell-utterances"
        if error:
            messages.error(request, error)
            return HttpResponseRedirect(url)
        return redirect_with(request, url, message)
    try:
        position = int(request.POST.get("position", ""))
    except ValueError:
        position = -1
    result = ev.evaluation_result_get(
        model=model, actor=request.user, position=position
    )
    if result is None:
        # No row to redraw (an old form): the whole cell list, as before.
        values = context(
            project,
            model=model,
            relabel_error=error,
            relabel_message=message,
            **_cell_context(request, project, model, expected, predicted),
        )
        status = INVALID if error else 200
        return render(request, f"{TEMPLATE}#cell", values, status=status)
    values = context(
        project,
        model=model,
        r=result,
        now=ev.current_utterances(project, [result])[0],
        source=source,
        row_error=error,
        row_message=message,
        cell={"expected": expected, "predicted": predicted},
        **_label_context(request, project),
    )
    status = (CONFLICT if conflict else INVALID) if error else 200
    return render(request, "training/_result_row.html", values, status=status)


@project_view("label", kinds=KINDS)
@require_POST
def model_add_to_data(
    request: HttpRequest, project: Project, label: str
) -> HttpResponse:
    """ "Add to data" for a test result whose utterance was deleted since the
    evaluation: its text (read from the evaluation, not the form) joins the data
    with the chosen intent (``data_add_corrected``). htmx gets the row back, now
    with its utterance; a plain post goes back to the page."""
    model = _model_or_404(project, label)
    source = "errors" if request.POST.get("source") == "errors" else "cell"
    intent = request.POST.get("intent", "")
    try:
        position = int(request.POST.get("position", ""))
    except ValueError:
        position = -1
    result = ev.evaluation_result_get(
        model=model, actor=request.user, position=position
    )
    error, message, now = "", "", None
    if result is None:
        error = "This test result is not part of the evaluation."
    else:
        try:
            added = data_add_corrected(
                project=project,
                text=result.text,
                intent=intent,
                source={"from": "evaluation", "model": label, "position": position},
                labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
            )
        except StudioError as exc:
            error = plain_message(exc.message)
        else:
            message = added.summary + " Retrain to evaluate the change."
            u = added.utterance
            now = ev.Current(u.pk, u.intent.name, u.version)
    if not is_htmx(request) or result is None:
        url = reverse("ui:model", args=[project.name, model.label])
        if error:
            messages.error(request, error)
            return HttpResponseRedirect(url)
        return redirect_with(request, url, message)
    values = context(
        project,
        model=model,
        r=result,
        now=now if now is not None else ev.current_utterances(project, [result])[0],
        source=source,
        row_error=error,
        row_message=message,
        cell={
            "expected": request.POST.get("expected", ""),
            "predicted": request.POST.get("predicted", ""),
        },
        **_label_context(request, project),
    )
    return render(
        request,
        "training/_result_row.html",
        values,
        status=INVALID if error else 200,
    )


@project_view("train", kinds=KINDS)
@require_POST
def model_delete(request: HttpRequest, project: Project, label: str) -> HttpResponse:
    model = _model_or_404(project, label)
    trained_model_delete(model=model)
    url = reverse("ui:models", args=[project.name])
    if is_htmx(request):
        messages.success(request, f"Model {label} deleted.")
        return HttpResponseClientRedirect(url)
    return redirect_with(request, url, f"Model {label} deleted.")


@project_view("read", kinds=KINDS)
@require_GET
def model_compare(request: HttpRequest, project: Project) -> HttpResponse:
    """Two models side by side: metrics, a warning when they were not tested on
    the same utterances, per-intent F1 deltas (b - a, sortable) and the test
    utterances (same text) whose prediction changed."""
    models = list(selectors.trained_model_list(project=project))
    by_label = {m.label: m for m in models}
    a_label, b_label = request.GET.get("a", ""), request.GET.get("b", "")
    error = ""
    a = by_label.get(a_label)
    b = by_label.get(b_label)
    if request.GET and (a is None or b is None):
        error = "Choose two trained models of this project."
    elif a is not None and a is b:
        error = "Choose two different models."
    sort = request.GET.get("sort", "name")
    sort = sort if sort in ev.COMPARE_SORTS else "name"
    default_dir = "asc" if sort == "name" else "desc"
    descending = request.GET.get("dir", default_dir) == "desc"
    values: dict[str, Any] = {
        "models": models,
        "a": a,
        "b": b,
        "error": error,
        "sort": sort,
        "descending": descending,
    }
    if a is not None and b is not None and not error:
        ea = _summary(a).get("intentsEvaluation") or {}
        eb = _summary(b).get("intentsEvaluation") or {}
        values["deltas"] = ev.compare_deltas(
            ev.label_rows(ea, "intents"),
            ev.label_rows(eb, "intents"),
            sort=sort,
            descending=descending,
        )
        names = {"name": "Intent", "a": a.label, "b": b.label, "delta": "Δ (B − A)"}
        values["delta_columns"] = [
            (key, names[key], _compare_query(a.label, b.label, key, sort, descending))
            for key in ev.COMPARE_SORTS
        ]
        values["metrics_a"] = ev.metrics(ea)
        values["metrics_b"] = ev.metrics(eb)
        values["test_sets"] = ev.compare_test_sets(a=a, b=b, actor=request.user)
        values["changed"] = ev.changed_predictions(
            a=a, b=b, actor=request.user, limit=CHANGED_LIMIT
        )
    status = INVALID if error else 200
    return render(
        request, "training/compare.html", context(project, **values), status=status
    )


def _compare_query(a: str, b: str, sort: str, current: str, descending: bool) -> str:
    """The link of a column header: sort by it, or flip the direction when it is
    the current sort (names A to Z first, numbers largest first)."""
    if sort == current:
        direction = "asc" if descending else "desc"
    else:
        direction = "asc" if sort == "name" else "desc"
    query = QueryDict(mutable=True)
    query.update({"a": a, "b": b, "sort": sort, "dir": direction})
    return f"?{query.urlencode()}"
