"""Models and evaluation: each trained model's metrics, per-intent table, confusion
matrix heat map (cells list their test utterances, whose labels can be fixed from
there), errors-only list and entity metrics; two models side by side; delete.

Everything shown comes from what training stored: ``TrainedModel.evaluation_summary``
(Azure's EvaluationSummary) and the model's ``EvaluationResult`` rows. Fixing a label
changes the utterance through the labeling service; the evaluation keeps describing
the data the model was trained on until the next training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects import selectors as project_selectors
from projects.models import Project, Utterance
from projects.permissions import AnyUser, project_view, user_can
from projects.services import utterance_intent_set
from studio.errors import StudioError
from training import selectors
from training.models import EvaluationResult, TrainedModel
from training.train_jobs import CLU_KINDS, trained_model_delete
from training.views._common import INVALID, context, is_htmx, redirect_with

TEMPLATE = "training/model.html"
KINDS = tuple(CLU_KINDS)
CELL_LIMIT = 200
ERRORS_LIMIT = 500
SORTS = ("f1", "precision", "recall", "name", "support")


@dataclass(frozen=True, slots=True)
class LabelRow:
    name: str
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn


@dataclass(frozen=True, slots=True)
class Cell:
    expected: str
    predicted: str
    raw: float
    normalized: float

    @property
    def heat(self) -> float:
        """0..1 colour intensity: the share of the expected intent's utterances."""
        return round(self.normalized / 100.0, 3)

    @property
    def diagonal(self) -> bool:
        return self.expected == self.predicted


def _label_rows(evaluation: dict[str, Any], key: str) -> list[LabelRow]:
    rows = []
    for name, metrics in (evaluation.get(key) or {}).items():
        rows.append(
            LabelRow(
                name=name,
                precision=float(metrics.get("precision", 0.0)),
                recall=float(metrics.get("recall", 0.0)),
                f1=float(metrics.get("f1", 0.0)),
                tp=int(metrics.get("truePositiveCount", 0)),
                fp=int(metrics.get("falsePositiveCount", 0)),
                fn=int(metrics.get("falseNegativeCount", 0)),
            )
        )
    return rows


def _sorted(rows: list[LabelRow], sort: str, descending: bool) -> list[LabelRow]:
    if sort == "name":
        return sorted(rows, key=lambda r: r.name.lower(), reverse=descending)
    return sorted(
        rows, key=lambda r: (getattr(r, sort), r.name.lower()), reverse=descending
    )


def confusion_matrix(evaluation: dict[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    """The labels (rows = expected, columns = predicted) and every cell, zeros
    included, from Azure's sparse ``confusionMatrix``."""
    matrix: dict[str, dict[str, dict[str, float]]] = (
        evaluation.get("confusionMatrix") or {}
    )
    labels = list((evaluation.get("intents") or {}).keys())
    for expected, row in matrix.items():
        for name in (expected, *row.keys()):
            if name not in labels:
                labels.append(name)
    rows = []
    for expected in labels:
        row = matrix.get(expected, {})
        cells = []
        for predicted in labels:
            value = row.get(predicted, {})
            cells.append(
                Cell(
                    expected=expected,
                    predicted=predicted,
                    raw=float(value.get("rawValue", 0.0)),
                    normalized=float(value.get("normalizedValue", 0.0)),
                )
            )
        rows.append(cells)
    return labels, rows


def _summary(model: TrainedModel) -> dict[str, Any]:
    return model.evaluation_summary or {}


def _metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(evaluation.get(key, 0.0))
        for key in (
            "microPrecision",
            "microRecall",
            "microF1",
            "macroPrecision",
            "macroRecall",
            "macroF1",
        )
    }


def _current_utterances(
    project: Project, results: list[EvaluationResult]
) -> list[tuple[int, str] | None]:
    """For each result, the utterance it came from now, as (pk, current intent).

    ``utterance_id`` when training recorded it; otherwise the project's utterance
    with the same text (and language), preferring one still labeled as evaluated.
    None when it was deleted since training.
    """
    ids = [r.utterance_id for r in results if r.utterance_id is not None]
    texts = [r.text for r in results if r.utterance_id is None]
    rows = Utterance.objects.filter(project=project).filter(
        Q(pk__in=ids) | Q(text__in=texts)
    )
    by_id: dict[int, tuple[int, str]] = {}
    by_text: dict[str, list[tuple[int, str, str]]] = {}
    for pk, text, language, intent in rows.order_by("pk").values_list(
        "pk", "text", "language", "intent__name"
    ):
        by_id[pk] = (pk, intent)
        by_text.setdefault(text, []).append((pk, language, intent))
    found: list[tuple[int, str] | None] = []
    for r in results:
        if r.utterance_id is not None:
            found.append(by_id.get(r.utterance_id))
            continue
        candidates = [
            c for c in by_text.get(r.text, []) if not r.language or c[1] == r.language
        ] or by_text.get(r.text, [])
        best = next((c for c in candidates if c[2] == r.expected_intent), None)
        best = best or (candidates[0] if candidates else None)
        found.append((best[0], best[2]) if best else None)
    return found


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
            zip(results, _current_utterances(project, results), strict=True)
        ),
        "intents": list(
            project_selectors.intent_list(project=project).values_list(
                "name", flat=True
            )
        ),
        "can_label": user_can(request.user, project, "label"),
    }


def _model_context(
    request: HttpRequest, project: Project, model: TrainedModel
) -> dict[str, Any]:
    summary = _summary(model)
    intents_eval = summary.get("intentsEvaluation") or {}
    entities_eval = summary.get("entitiesEvaluation") or {}
    sort = request.GET.get("sort", "f1")
    if sort not in SORTS:
        sort = "f1"
    descending = request.GET.get("dir", "asc" if sort == "name" else "desc") == "desc"
    view = "normalized" if request.GET.get("view") == "normalized" else "raw"
    labels, matrix = confusion_matrix(intents_eval)
    errors = list(
        selectors.evaluation_result_list(model=model, actor=request.user).exclude(
            expected_intent=F("predicted_intent")
        )[:ERRORS_LIMIT]
    )
    values: dict[str, Any] = {
        "model": model,
        "models": list(selectors.trained_model_list(project=project)),
        "intent_metrics": _metrics(intents_eval),
        "entity_metrics": _metrics(entities_eval),
        "intent_rows": _sorted(_label_rows(intents_eval, "intents"), sort, descending),
        "entity_rows": sorted(
            _label_rows(entities_eval, "entities"), key=lambda r: r.name.lower()
        ),
        "sort": sort,
        "descending": descending,
        "view": view,
        "labels": labels,
        "matrix": matrix,
        "errors": errors,
        "test_count": selectors.evaluation_result_list(
            model=model, actor=request.user
        ).count(),
        "can_train": user_can(request.user, project, "train"),
        "options": model.evaluation_options,
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
        (model, _metrics(_summary(model).get("intentsEvaluation") or {}))
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
    model = _model_or_404(project, label)
    values = _model_context(request, project, model)
    if is_htmx(request):
        part = request.GET.get("part")
        if part in ("intent-table", "matrix"):
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


@project_view("label", kinds=KINDS)
@require_POST
def model_relabel(request: HttpRequest, project: Project, label: str) -> HttpResponse:
    """Fix the label of a test utterance listed under a matrix cell."""
    model = _model_or_404(project, label)
    expected = request.POST.get("expected", "")
    predicted = request.POST.get("predicted", "")
    intent = request.POST.get("intent", "")
    error = ""
    raw_id = request.POST.get("utterance_id", "")
    try:
        utterance_id = int(raw_id)
    except ValueError:
        utterance_id = 0
        error = "Choose an utterance to relabel."
    if not error:
        try:
            utterance_intent_set(project=project, pk=utterance_id, intent=intent)
        except StudioError as exc:
            error = exc.message
    message = "" if error else f"Relabeled as {intent}. Retrain to evaluate the change."
    if not is_htmx(request):
        url = reverse("ui:model", args=[project.name, model.label])
        url += f"?expected={expected}&predicted={predicted}#cell-utterances"
        if error:
            messages.error(request, error)
            return HttpResponseRedirect(url)
        return redirect_with(request, url, message)
    values = context(
        project,
        model=model,
        relabel_error=error,
        relabel_error_id=utterance_id,
        relabel_message=message,
        **_cell_context(request, project, model, expected, predicted),
    )
    return render(request, f"{TEMPLATE}#cell", values, status=INVALID if error else 200)


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


@dataclass(frozen=True, slots=True)
class Delta:
    name: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a


@project_view("read", kinds=KINDS)
@require_GET
def model_compare(request: HttpRequest, project: Project) -> HttpResponse:
    """Two models side by side: metrics, per-intent F1 deltas (b - a) and the test
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
    values: dict[str, Any] = {"models": models, "a": a, "b": b, "error": error}
    if a is not None and b is not None and not error:
        ea = _summary(a).get("intentsEvaluation") or {}
        eb = _summary(b).get("intentsEvaluation") or {}
        fa = {r.name: r.f1 for r in _label_rows(ea, "intents")}
        fb = {r.name: r.f1 for r in _label_rows(eb, "intents")}
        names = sorted(set(fa) | set(fb), key=str.lower)
        values["deltas"] = [Delta(n, fa.get(n), fb.get(n)) for n in names]
        values["metrics_a"] = _metrics(ea)
        values["metrics_b"] = _metrics(eb)
        values["changed"] = _changed_predictions(a, b, request.user)
    status = INVALID if error else 200
    return render(
        request, "training/compare.html", context(project, **values), status=status
    )


def _changed_predictions(
    a: TrainedModel, b: TrainedModel, user: AnyUser
) -> list[dict[str, str]]:
    """Test utterances present in both evaluations whose predicted intent differs.
    Matched by utterance id, else by text (the split may differ between models)."""
    first = {
        (r.utterance_id or r.text): r
        for r in selectors.evaluation_result_list(model=a, actor=user)
    }
    changed = []
    for r in selectors.evaluation_result_list(model=b, actor=user):
        other = first.get(r.utterance_id or r.text)
        if other is not None and other.predicted_intent != r.predicted_intent:
            changed.append(
                {
                    "text": r.text,
                    "expected": r.expected_intent,
                    "a": other.predicted_intent,
                    "b": r.predicted_intent,
                }
            )
    return changed[:ERRORS_LIMIT]
