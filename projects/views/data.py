"""The Data (labeling) screen: the utterance table with its filters, inline edits,
entity spans, bulk actions with undo, pasted lines, file upload and the intent
distribution.

One template (``projects/data/page.html``) holds the page and its partials: an htmx
request gets only the part it swaps (``#table``, ``#row``, ``#distribution``,
``#add_form``, ``#upload``), a plain request the page. Every write works both ways: htmx
gets the fragment back (422 with the errors next to the field when the input is bad,
see ``static/js/labeling.js``), a plain form post is redirected back to the table it
came from. Views parse, call one service or selector and render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)
from django_htmx.http import trigger_client_event

from projects import validators as v
from projects.models import Entity, Intent, LabelingUndo, Project, Utterance
from projects.permissions import project_view
from projects.selectors import authoring as selectors
from projects.selectors import labeling as sl
from projects.services import Labeler, labeling, uploads
from projects.services.gate import utterance_golden_set
from projects.views.projects import job_context
from projects.views.ui_forms import rendered_version
from studio.errors import InvalidArgument, NotFound, PreconditionFailed, StudioError
from studio.middleware import refused_body_bytes
from studio.plain_errors import plain_message

LABELED_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
TEMPLATE = "projects/data/page.html"
ENTITY_COLORS = 10
# Keys that pick an entity in the picker, in order (1-9 first, like intents).
PICKER_KEYS = "123456789abcdfghilmnopqrsuvwyz"
INDEX_TYPES = (
    ("Utf16CodeUnit", "UTF-16 code units (Azure exports)"),
    ("UnicodeCodePoint", "Unicode code points"),
    ("TextElements_v8", "Text elements (graphemes)"),
)
# Events the page listens for (HX-Trigger): the table re-fetches itself, the
# distribution panel refreshes.
TABLE_STALE = "table-stale"
DISTRIBUTION_STALE = "distribution-stale"


# ---------------------------------------------------------------- forms


class FilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, strip=True)
    intent = forms.CharField(required=False, max_length=100)
    dataset = forms.ChoiceField(
        required=False, choices=[("", "Any")] + [(d, d) for d in sl.DATASET_FILTERS]
    )
    unlabeled = forms.BooleanField(required=False)
    entities = forms.ChoiceField(
        required=False, choices=[("", "Any")] + [(e, e) for e in sl.ENTITY_FILTERS]
    )
    entity = forms.CharField(required=False, max_length=100)
    disagree = forms.BooleanField(required=False)
    golden = forms.BooleanField(required=False)
    duplicates = forms.ChoiceField(
        required=False,
        choices=[("", "Any")] + [(d, d) for d in sl.DUPLICATE_FILTERS],
    )
    labeler = forms.RegexField(
        required=False,
        regex=sl.LABELER_RE,
        error_messages={"invalid": "Choose someone from the list."},
    )
    sort = forms.ChoiceField(required=False, choices=[(s, s) for s in sl.SORTS])
    prelabel = forms.BooleanField(required=False)
    prelabel_from = forms.CharField(required=False, max_length=50)
    page = forms.IntegerField(required=False, min_value=1)
    size = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(n, n) for n in sl.PAGE_SIZES]
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_intent(self) -> str:
        name: str = self.cleaned_data["intent"]
        if name and not self.project.intents.filter(name=name).exists():
            raise forms.ValidationError(f"There is no intent {name!r}.")
        return name

    def clean_entity(self) -> str:
        name: str = self.cleaned_data["entity"]
        if name and not self.project.entities.filter(name=name).exists():
            raise forms.ValidationError(f"There is no entity {name!r}.")
        return name

    def filters(self) -> sl.UtteranceFilter:
        data = self.cleaned_data
        return sl.UtteranceFilter(
            search=data["q"],
            intent=data["intent"],
            dataset=data["dataset"],
            unlabeled=data["unlabeled"],
            entities=data["entities"],
            entity=data["entity"],
            disagree=data["disagree"],
            sort=data["sort"] or "id",
            labeler=data["labeler"],
            duplicates=data["duplicates"],
            golden=data["golden"],
            prelabel=data["prelabel"],
            prelabel_from=data["prelabel_from"],
        )


class AddLinesForm(forms.Form):
    intent = forms.ChoiceField(label="Intent")
    dataset = forms.ChoiceField(
        label="Dataset",
        required=False,
        choices=[
            ("", "Unassigned (split at training)"),
            ("Train", "Train"),
            ("Test", "Test"),
        ],
    )
    text = forms.CharField(
        label="Utterances, one per line",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=labeling.MAX_LINES * 502,
    )

    def __init__(self, *args: Any, intents: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["intent"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
        field.choices = [(n, n) for n in intents]


class UploadForm(forms.Form):
    file = forms.FileField(label="Utterances file (JSON)")
    string_index_type = forms.ChoiceField(
        label="Offsets in the file are",
        choices=INDEX_TYPES,
        initial="Utf16CodeUnit",
        required=False,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # The API's limit too; refused before the file is read into memory.
        if (problem := v.size_error(upload.size)) is not None:
            raise forms.ValidationError(problem)
        return upload


class SpanForm(forms.Form):
    entity = forms.CharField(max_length=100)
    offset = forms.IntegerField(min_value=0)
    length = forms.IntegerField(min_value=1)


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in labeling.BULK_ACTIONS])
    intent = forms.CharField(required=False, max_length=100)
    dataset = forms.ChoiceField(
        required=False,
        choices=[
            ("", "-"),
            ("Train", "Train"),
            ("Test", "Test"),
            ("unassigned", "Unassigned"),
        ],
    )
    all_matching = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "intent" and not data.get("intent"):
            self.add_error("intent", "Pick the intent to assign.")
        if data.get("action") == "dataset" and not data.get("dataset"):
            self.add_error("dataset", "Pick the dataset to move to.")
        return data


# ---------------------------------------------------------------- presentation


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    # One entry per underline lane, top first: the entity's colour index, or "-" for
    # a lane no span covers here (e.g. "2 - 1"); "" when nothing covers the piece.
    # static/js/studio.js draws them (no style attribute: the CSP forbids those).
    underlines: str
    title: str


@dataclass(frozen=True, slots=True)
class SpanItem:
    pk: str
    entity: str
    color: int
    offset: int
    length: int
    text: str


def _lanes(spans: list[Any]) -> dict[int, int]:
    """A lane per span so that overlapping spans stack at fixed depths: greedy
    interval colouring in start order."""
    lane_end: list[int] = []
    lanes: dict[int, int] = {}
    for span in sorted(spans, key=lambda s: (s.offset, -s.length, s.pk)):
        for lane, end in enumerate(lane_end):
            if end <= span.offset:
                lane_end[lane] = span.end
                lanes[span.pk] = lane
                break
        else:
            lanes[span.pk] = len(lane_end)
            lane_end.append(span.end)
    return lanes


def text_segments(text: str, spans: list[Any], colors: dict[int, int]) -> list[Segment]:
    """Cut ``text`` at every span boundary; each piece carries one stacked underline
    per span covering it (a lane each, drawn 3 px apart), so that overlapping spans
    of different entities stay visible."""
    if not spans:
        return [Segment(text=text, underlines="", title="")]
    lanes = _lanes(spans)
    cuts = sorted({0, len(text)} | {s.offset for s in spans} | {s.end for s in spans})
    segments = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        covering = [s for s in spans if s.offset <= start and s.end >= end]
        if not covering:
            segments.append(Segment(text=text[start:end], underlines="", title=""))
            continue
        by_lane = {lanes[s.pk]: s for s in covering}
        underlines = []
        for lane in range(max(by_lane) + 1):
            span = by_lane.get(lane)
            underlines.append(str(colors.get(span.entity_id, 0)) if span else "-")
        names = ", ".join(s.entity.name for s in covering)
        segments.append(
            Segment(text=text[start:end], underlines=" ".join(underlines), title=names)
        )
    return segments


def _decorate(
    rows: Sequence[Utterance],
    screen: Screen,
    predicted: dict[int, str],
    prelabels: dict[int, tuple[str, float]] | None = None,
) -> None:
    """Attach what a row renders: text segments, span chips, the prediction. The
    intent is plain text: the label palette's list of intents comes once per page
    (:attr:`Screen.palette`), never as a select in every row (150 intents made a
    50-row page 576 KB, and typing into a row's select posted on every letter)."""
    colors = screen.colors
    base = reverse("ui:data", args=[screen.project.name])
    for u in rows:
        spans = list(u.spans.all())
        # Strings, not ints or {% url %}: a row renders ids and URLs a dozen
        # times, and each int goes through number localization in templates.
        u.key = str(u.pk)  # type: ignore[attr-defined]
        u.labeler_name = sl.labeler_name(u)  # type: ignore[attr-defined]
        u.url = f"{base}{u.pk}/"  # type: ignore[attr-defined]
        u.segments = text_segments(u.text, spans, colors)  # type: ignore[attr-defined]
        u.span_items = [  # type: ignore[attr-defined]
            SpanItem(
                pk=str(s.pk),
                entity=s.entity.name,
                color=colors.get(s.entity_id, 0),
                offset=s.offset,
                length=s.length,
                text=u.text[s.offset : s.end],
            )
            for s in sorted(spans, key=lambda s: (s.offset, s.length))
        ]
        guess = predicted.get(u.pk)
        u.predicted = guess  # type: ignore[attr-defined]
        u.disagrees = guess is not None and guess != u.intent.name  # type: ignore[attr-defined]
        pre = (prelabels or {}).get(u.pk)
        # [intent, whole percent]; an intent deleted since the deployment's
        # training cannot be accepted, so it is not offered.
        u.prelabel = (  # type: ignore[attr-defined]
            [pre[0], round(100 * pre[1])]
            if pre is not None and pre[0] in screen.intent_names
            else None
        )


@dataclass
class Screen:
    """What every part of the page needs: the project's intents and entities (one
    query each) and the caller's rights."""

    project: Project
    intents: list[Intent]
    entities: list[Entity]
    can_label: bool
    # The CSRF hidden input, rendered once per response instead of per row form.
    csrf_input: SafeString

    @property
    def intent_names(self) -> list[str]:
        return [i.name for i in self.intents]

    @property
    def colors(self) -> dict[int, int]:
        return {e.pk: n % ENTITY_COLORS for n, e in enumerate(self.entities)}

    @property
    def intent_keys(self) -> list[tuple[str, str]]:
        """The intents the keys 1-9 assign: the ones pinned to a key, else None and
        the first eight (an intent pinned elsewhere leaves its default key)."""
        pinned = {i.label_key: i.name for i in self.intents if i.label_key}
        taken = set(pinned.values())
        keys = dict(pinned)
        for n, i in enumerate(self.intents[:9]):
            if n + 1 not in keys and i.name not in taken:
                keys[n + 1] = i.name
        return [(str(k), keys[k]) for k in sorted(keys)]

    @property
    def palette(self) -> dict[str, Any]:
        """The label palette's data (static/js/labeling.js), rendered once per page
        as a JSON data block: every intent name in order, the keys 1-9 and (the
        palette labels entities too) every entity name."""
        return {
            "intents": self.intent_names,
            "keys": dict(self.intent_keys),
            "entities": [e.name for e in self.entities]
            if project_has_entities(self.project)
            else [],
        }

    def context(self) -> dict[str, Any]:
        colors = self.colors
        return {
            "project": self.project,
            "intents": self.intents,
            "intent_keys": self.intent_keys,
            "entities": [
                {
                    "name": e.name,
                    "color": colors[e.pk],
                    "key": PICKER_KEYS[n] if n < len(PICKER_KEYS) else "",
                }
                for n, e in enumerate(self.entities)
            ],
            "intent_palette": self.palette,
            "can_label": self.can_label,
            "csrf_input": self.csrf_input,
            "can_entities": project_has_entities(self.project),
            "urls": _urls(self.project),
        }


def project_has_entities(project: Project) -> bool:
    return project.kind == Project.Kind.CONVERSATION


def _screen(request: HttpRequest, project: Project) -> Screen:
    access = request.studio_access  # type: ignore[attr-defined]
    return Screen(
        project=project,
        intents=list(selectors.intent_list(project=project)),
        entities=list(selectors.entity_list(project=project)),
        can_label=access.can["label"],
        csrf_input=format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">',
            get_token(request),
        ),
    )


def _urls(project: Project) -> dict[str, str]:
    name = project.name
    return {
        key: reverse(f"ui:data-{key}" if key != "page" else "ui:data", args=[name])
        for key in ("page", "distribution", "add", "upload", "bulk", "undo", "keys")
    }


def _query(filters: sl.UtteranceFilter, **extra: Any) -> str:
    query = filters.as_query()
    for key, value in extra.items():
        if value in (None, "", False) or (key == "page" and value == 1):
            query.pop(key, None)
        else:
            query[key] = str(value)
    return "?" + urlencode(query) if query else "?"


def _return_query(request: HttpRequest) -> QueryDict:
    """The table query a form came from (its ``next`` field, ``?q=...``): kept on
    redirect, used to re-render the table and to resolve "all matching"."""
    raw = request.POST.get("next", "")
    return QueryDict(raw[1:] if raw.startswith("?") else "")


def _back(request: HttpRequest, project: Project) -> HttpResponseRedirect:
    query = _return_query(request).urlencode()
    url = reverse("ui:data", args=[project.name])
    return HttpResponseRedirect(f"{url}?{query}" if query else url)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _htmx_target(request: HttpRequest) -> str | None:
    htmx = getattr(request, "htmx", None)
    return htmx.target if htmx else None


def _stale(response: HttpResponse, *events: str) -> HttpResponse:
    for event in events:
        trigger_client_event(response, event)
    return response


def _error_text(exc: StudioError) -> list[str]:
    if len(exc.details) > 1:
        return [plain_message(d.message) for d in exc.details]
    return [plain_message(exc.message)]


def _row_context(
    screen: Screen,
    utterance: Utterance,
    labeling_model: sl.LabelingModel | None,
    query: QueryDict | None = None,
) -> dict[str, Any]:
    predicted = (
        sl.predicted_intents(labeling=labeling_model, utterances=[utterance])
        if labeling_model is not None
        else {}
    )
    state = _table_state(screen.project, query or QueryDict())
    pre = _prelabel(screen.project, state.filters, [utterance], [])
    _decorate([utterance], screen, predicted, pre.get("by_row"))
    return {
        **screen.context(),
        "u": utterance,
        "has_model": labeling_model is not None,
        **pre,
    }


def _prelabel(
    project: Project,
    filters: sl.UtteranceFilter,
    rows: Sequence[Utterance],
    errors: list[str],
) -> dict[str, Any]:
    """Pre-labels of the page's unlabeled rows by a deployment's model (only the
    rows shown: at most a page), and what the toolbar says about them."""
    try:
        chooser = sl.prelabeler(project=project, name=filters.prelabel_from)
    except ValueError as exc:
        errors.append(f"prelabel_from: {exc}")
        return {"prelabel_choices": sl.prelabel_deployments(project=project)}
    if chooser is None:
        return {"prelabel_choices": []}
    context: dict[str, Any] = {
        "prelabel_choices": chooser.available,
        "prelabel_deployment": chooser.deployment,
    }
    if filters.prelabel:
        by_row = sl.prelabels(prelabeler=chooser, utterances=rows)
        context["by_row"] = by_row
        context["prelabel_broken"] = by_row is None
    return context


# ---------------------------------------------------------------- table


@dataclass
class TableState:
    filters: sl.UtteranceFilter
    page: int
    size: int
    errors: list[str]


def _table_state(project: Project, data: QueryDict) -> TableState:
    form = FilterForm(data, project=project)
    if not form.is_valid():
        errors = [
            f"{field}: {message}"
            for field, field_errors in form.errors.items()
            for message in field_errors
        ]
        return TableState(sl.UtteranceFilter(), 1, sl.DEFAULT_PAGE_SIZE, errors)
    return TableState(
        form.filters(),
        form.cleaned_data["page"] or 1,
        form.cleaned_data["size"] or sl.DEFAULT_PAGE_SIZE,
        [],
    )


def _sort_links(filters: sl.UtteranceFilter, size: int | None) -> dict[str, Any]:
    links = {}
    for column in ("id", "text", "intent", "dataset"):
        state = (
            "ascending"
            if filters.sort == column
            else "descending"
            if filters.sort == "-" + column
            else "none"
        )
        next_sort = "-" + column if state == "ascending" else column
        links[column] = {
            "url": _query(filters, sort=next_sort, size=size),
            "state": state,
        }
    return links


def _table_context(
    request: HttpRequest, screen: Screen, state: TableState
) -> dict[str, Any]:
    project = screen.project
    labeling_model = sl.labeling_model(project=project)
    filters = state.filters
    errors = list(state.errors)
    disagreeing: frozenset[int] | None = None
    if filters.disagree:
        if labeling_model is None:
            errors.append("disagree: no model has been trained yet.")
        else:
            disagreeing = sl.disagreeing_ids(project=project, labeling=labeling_model)
    page = sl.utterance_page(
        project=project,
        filters=filters,
        page=state.page,
        per_page=state.size,
        disagreeing=disagreeing,
    )
    predicted = (
        sl.predicted_intents(labeling=labeling_model, utterances=page.rows)
        if labeling_model is not None
        else {}
    )
    pre = _prelabel(project, filters, page.rows, errors)
    _decorate(page.rows, screen, predicted, pre.get("by_row"))
    # {row id: [intent, percent]}: labeling.js shows them on the rows.
    pre["prelabel_rows"] = {
        u.key: u.prelabel  # type: ignore[attr-defined]
        for u in page.rows
        if u.prelabel  # type: ignore[attr-defined]
    }
    size = state.size if state.size != sl.DEFAULT_PAGE_SIZE else None
    history = LabelingUndo.objects.filter(project=project, user_id=request.user.pk or 0)
    newest = history.order_by("-id").values_list("summary", flat=True).first()
    undo = None
    if newest is not None:
        undo = {
            "summary": newest,
            "last": newest[:1].lower() + newest[1:],
            "steps": history.count(),
        }
    return {
        **screen.context(),
        "filters": filters,
        "filter_errors": errors,
        "labelers": sl.project_labelers(project=project),
        "page": page,
        "size": state.size,
        "page_sizes": sl.PAGE_SIZES,
        "has_model": labeling_model is not None,
        "labeling_model": labeling_model,
        "sort_links": _sort_links(filters, size),
        "this_query": _query(filters, page=page.page, size=size),
        "prev_query": _query(filters, page=page.page - 1, size=size),
        "next_query": _query(filters, page=page.page + 1, size=size),
        "last_query": _query(filters, page=page.pages, size=size),
        "first_query": _query(filters, size=size),
        "undo": undo,
        **pre,
    }


def _page(
    request: HttpRequest,
    project: Project,
    query: QueryDict,
    *,
    status: int = 200,
    **parts: Any,
) -> HttpResponse:
    """The whole screen for the table ``query``; ``parts`` replace the fresh add and
    upload forms (a plain post that failed shows its bound form again)."""
    screen = _screen(request, project)
    state = _table_state(project, query)
    context = _table_context(request, screen, state)
    if context["filter_errors"] and status == 200:
        status = 400
    default_intent = state.filters.intent or next(
        (i.name for i in screen.intents if not i.is_builtin), ""
    )
    context.update(
        add_form=AddLinesForm(
            intents=screen.intent_names, initial={"intent": default_intent}
        ),
        upload_form=UploadForm(),
        upload=None,
        upload_job=_running_upload(project),
        upload_limit_mb=_limit_mb(),
        distribution=sl.labeling_distribution(project=project),
        index_types=INDEX_TYPES,
    )
    context.update(parts)
    return render(request, TEMPLATE, context, status=status)


@require_GET
@project_view("read", kinds=LABELED_KINDS)
def data_page(request: HttpRequest, project: Project) -> HttpResponse:
    """The screen, or (htmx aimed at the table) just the table."""
    if _htmx_target(request) == "utterance-table":
        screen = _screen(request, project)
        context = _table_context(request, screen, _table_state(project, request.GET))
        status = 400 if context["filter_errors"] else 200
        return render(request, TEMPLATE + "#table", context, status=status)
    return _page(request, project, request.GET)


@require_GET
@project_view("read", kinds=LABELED_KINDS)
def data_distribution(request: HttpRequest, project: Project) -> HttpResponse:
    context = {
        "project": project,
        "distribution": sl.labeling_distribution(project=project),
    }
    return render(request, TEMPLATE + "#distribution", context)


def _exists_or_404(project: Project, pk: int) -> None:
    """Before a row edit: a row of another project is "not found" (one cheap query;
    the row is read once, after the edit, to render it)."""
    if not project.utterances.filter(pk=pk).exists():
        raise Http404(f"Utterance {pk} not found in project {project.name!r}.")


def _row_or_404(project: Project, pk: int) -> Utterance:
    try:
        return sl.utterance_row(project=project, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@project_view("read", kinds=LABELED_KINDS)
def data_row(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """One row, as the table shows it (htmx refresh of a single row)."""
    screen = _screen(request, project)
    utterance = _row_or_404(project, pk)
    context = _row_context(screen, utterance, sl.labeling_model(project=project))
    return render(request, TEMPLATE + "#row", context)


# ---------------------------------------------------------------- row edits


def _row_response(
    request: HttpRequest,
    project: Project,
    pk: int,
    error: StudioError | None = None,
    warnings: list[str] | None = None,
) -> HttpResponse:
    """After a row edit: htmx gets the fresh row (the error under it, 422; 409 when
    someone else changed the row since it was rendered: the row then shows their
    change and carries its new version); a plain post goes back to the table, or
    shows it with the error (400, 409)."""
    conflict = isinstance(error, PreconditionFailed)
    if _is_htmx(request):
        screen = _screen(request, project)
        utterance = _row_or_404(project, pk)
        context = _row_context(
            screen,
            utterance,
            sl.labeling_model(project=project),
            _return_query(request),
        )
        context["row_errors"] = _error_text(error) if error else []
        context["row_warnings"] = warnings or []
        if error:
            status = 409 if conflict else 422
            return render(request, TEMPLATE + "#row", context, status=status)
        response = render(request, TEMPLATE + "#row", context)
        return _stale(response, DISTRIBUTION_STALE)
    if error is not None:
        for message in _error_text(error):
            messages.error(request, message)
        status = 409 if conflict else 400
        return _page(request, project, _return_query(request), status=status)
    return _back(request, project)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_row_intent(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    _exists_or_404(project, pk)
    try:
        labeling.utterance_intent_set(
            project=project,
            pk=pk,
            intent=request.POST.get("intent", ""),
            version=rendered_version(request),
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
            user=request.user,  # type: ignore[arg-type]
        )
    except StudioError as exc:
        return _row_response(request, project, pk, exc)
    return _row_response(request, project, pk)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_row_dataset(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """``dataset`` = Train, Test or unassigned; ``toggle=1`` flips Train/Test."""
    _exists_or_404(project, pk)
    try:
        if request.POST.get("toggle"):
            labeling.utterance_dataset_toggle(
                project=project,
                pk=pk,
                version=rendered_version(request),
                user=request.user,  # type: ignore[arg-type]
            )
        elif "dataset" not in request.POST:
            raise InvalidArgument("Pick a dataset.", target="dataset")
        else:
            labeling.utterance_dataset_set(
                project=project,
                pk=pk,
                dataset=request.POST["dataset"],
                version=rendered_version(request),
                user=request.user,  # type: ignore[arg-type]
            )
    except StudioError as exc:
        return _row_response(request, project, pk, exc)
    return _row_response(request, project, pk)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_row_golden(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """``golden`` = 1 or 0 marks or unmarks the utterance golden (the deploy gate
    checks every deploy on it); ``toggle=1`` flips it (the ``m`` key)."""
    _exists_or_404(project, pk)
    try:
        if request.POST.get("toggle"):
            golden = not _row_or_404(project, pk).golden
        elif request.POST.get("golden") in ("0", "1"):
            golden = request.POST["golden"] == "1"
        else:
            raise InvalidArgument(
                "Say whether the utterance is golden.", target="golden"
            )
        utterance_golden_set(
            project=project, pk=pk, golden=golden, version=rendered_version(request)
        )
    except StudioError as exc:
        return _row_response(request, project, pk, exc)
    return _row_response(request, project, pk)


@require_http_methods(["GET", "POST"])
@project_view("label", kinds=LABELED_KINDS)
def data_row_text(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """GET: the row with its text in an edit box (htmx swaps it in place). POST
    ``text`` (and the rendered ``version``): the new text, entity labels kept where
    their words still are; the row comes back saying which labels could not be
    kept, or (422) the edit box again with the problem under it."""
    _exists_or_404(project, pk)
    if request.method == "GET":
        screen = _screen(request, project)
        utterance = _row_or_404(project, pk)
        context = _row_context(
            screen,
            utterance,
            sl.labeling_model(project=project),
            _return_query(request),
        )
        context["editing"] = True
        return render(request, TEMPLATE + "#row", context)
    text = request.POST.get("text", "")
    try:
        lost = labeling.utterance_text_edit(
            project=project,
            pk=pk,
            text=text,
            version=rendered_version(request),
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
            user=request.user,  # type: ignore[arg-type]
        )
    except StudioError as exc:
        if _is_htmx(request) and not isinstance(exc, PreconditionFailed):
            screen = _screen(request, project)
            utterance = _row_or_404(project, pk)
            model = sl.labeling_model(project=project)
            context = _row_context(screen, utterance, model)
            context.update(editing=True, edit_text=text, edit_errors=_error_text(exc))
            return render(request, TEMPLATE + "#row", context, status=422)
        return _row_response(request, project, pk, exc)
    warning = _lost_labels_text(lost)
    if not _is_htmx(request):
        if warning:
            messages.warning(request, warning)
        return _back(request, project)
    response = _row_response(request, project, pk, warnings=[warning] if lost else [])
    return response


def _lost_labels_text(lost: list[str]) -> str:
    if not lost:
        return ""
    n = len(lost)
    label = "entity label" if n == 1 else "entity labels"
    return f"{n} {label} could not be kept: {', '.join(lost)}. Undo (u) brings it back."


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_span_add(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    """Label a selection: ``entity``, ``offset`` and ``length`` in code points."""
    _exists_or_404(project, pk)
    form = SpanForm(request.POST)
    try:
        if not form.is_valid():
            field, field_errors = next(iter(form.errors.items()))
            raise InvalidArgument(f"{field}: {field_errors[0]}", target=field)
        labeling.utterance_span_add(
            project=project,
            pk=pk,
            entity=form.cleaned_data["entity"],
            offset=form.cleaned_data["offset"],
            length=form.cleaned_data["length"],
            version=rendered_version(request),
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
            user=request.user,  # type: ignore[arg-type]
        )
    except StudioError as exc:
        return _row_response(request, project, pk, exc)
    return _row_response(request, project, pk)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_span_remove(
    request: HttpRequest, project: Project, pk: int, span_id: int
) -> HttpResponse:
    _exists_or_404(project, pk)
    try:
        labeling.utterance_span_remove(
            project=project,
            pk=pk,
            span_id=span_id,
            version=rendered_version(request),
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
            user=request.user,  # type: ignore[arg-type]
        )
    except StudioError as exc:
        return _row_response(request, project, pk, exc)
    return _row_response(request, project, pk)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_label_key(request: HttpRequest, project: Project) -> HttpResponse:
    """Pin an intent to a key 1-9 (``key``, ``intent``; no intent unpins): htmx
    gets the palette's data block back (422 with the message when refused)."""
    raw = request.POST.get("key", "")
    try:
        labeling.intent_label_key_pin(
            project=project,
            key=int(raw) if raw.isascii() and raw.isdigit() else 0,
            intent=request.POST.get("intent", ""),
        )
    except StudioError as exc:
        if _is_htmx(request):
            return HttpResponse(
                plain_message(exc.message), status=422, content_type="text/plain"
            )
        messages.error(request, plain_message(exc.message))
        return _back(request, project)
    if not _is_htmx(request):
        return _back(request, project)
    # Only the data block: re-fetching the table here could race a key pressed
    # right after (its row edit) and draw the row as it was before that edit.
    screen = _screen(request, project)
    return render(request, TEMPLATE + "#palette_data", screen.context())


# ---------------------------------------------------------------- add lines


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_add(request: HttpRequest, project: Project) -> HttpResponse:
    screen = _screen(request, project)
    form = AddLinesForm(request.POST, intents=screen.intent_names)
    added: list[Utterance] = []
    clashes: dict[str, list[sl.TextClash]] = {}
    if form.is_valid():
        lines = [ln.strip() for ln in form.cleaned_data["text"].splitlines()]
        conflicts, duplicates = sl.existing_texts(
            project=project,
            texts=[ln for ln in lines if ln],
            intent=form.cleaned_data["intent"],
        )
        if conflicts or duplicates:
            clashes = {"conflicts": conflicts, "duplicates": duplicates}
        try:
            added = labeling.utterances_add_lines(
                project=project,
                intent=form.cleaned_data["intent"],
                text=form.cleaned_data["text"],
                dataset=form.cleaned_data["dataset"] or None,
                labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
            )
        except StudioError as exc:
            field = exc.target if exc.target in form.fields else "text"
            for message in _error_text(exc):
                form.add_error(field, message)
    if form.errors:
        if _is_htmx(request):
            context = {**screen.context(), "add_form": form}
            return render(request, TEMPLATE + "#add_form", context, status=422)
        return _page(
            request, project, _return_query(request), status=400, add_form=form
        )
    intent = form.cleaned_data["intent"]
    summary = f"Added {_count(len(added))} to {intent}."
    if not _is_htmx(request):
        messages.success(request, summary)
        for clash in clashes.get("conflicts", [])[:5]:
            messages.warning(
                request,
                f"Already labeled with another intent: {clash.quoted} "
                f"({', '.join(clash.intents)}).",
            )
        return _back(request, project)
    fresh = AddLinesForm(
        intents=screen.intent_names,
        initial={"intent": intent, "dataset": form.cleaned_data["dataset"]},
    )
    context = {
        **screen.context(),
        "add_form": fresh,
        "add_summary": summary,
        "add_clashes": clashes,
    }
    response = render(request, TEMPLATE + "#add_form", context)
    return _stale(response, TABLE_STALE, DISTRIBUTION_STALE)


def _count(n: int) -> str:
    return f"{n:,} utterance{'s' if n != 1 else ''}"


# ---------------------------------------------------------------- bulk and undo


def _bulk_ids(request: HttpRequest, project: Project, all_matching: bool) -> list[int]:
    if not all_matching:
        ids = []
        for raw in request.POST.getlist("ids"):
            try:
                ids.append(int(raw))
            except ValueError:
                raise InvalidArgument(
                    f"{raw!r} is not an utterance id.", target="ids"
                ) from None
        return ids
    state = _table_state(project, _return_query(request))
    if state.errors:
        raise InvalidArgument("; ".join(state.errors), target="filter")
    disagreeing = None
    if state.filters.disagree:
        model = sl.labeling_model(project=project)
        if model is None:
            raise InvalidArgument("No model has been trained yet.", target="filter")
        disagreeing = sl.disagreeing_ids(project=project, labeling=model)
    return sl.utterance_ids_matching(
        project=project, filters=state.filters, disagreeing=disagreeing
    )


def _table_after_write(
    request: HttpRequest, project: Project, summary: str | None, error: str | None
) -> HttpResponse:
    """htmx: the table again, with the outcome above it (422 on error). Plain: back
    to the table with a message, or the page with the error (400)."""
    if _is_htmx(request):
        screen = _screen(request, project)
        state = _table_state(project, _return_query(request))
        context = _table_context(request, screen, state)
        context["bulk_error"] = error
        context["bulk_summary"] = summary
        if error:
            return render(request, TEMPLATE + "#table", context, status=422)
        response = render(request, TEMPLATE + "#table", context)
        return _stale(response, DISTRIBUTION_STALE)
    if error:
        messages.error(request, error)
        return _page(request, project, _return_query(request), status=400)
    messages.success(request, summary or "Done.")
    return _back(request, project)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_bulk(request: HttpRequest, project: Project) -> HttpResponse:
    """Apply one action to the checked rows, or to every row the filter matches."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        error = "; ".join(str(m) for msgs in form.errors.values() for m in msgs)
        return _table_after_write(request, project, None, error)
    data = form.cleaned_data
    try:
        outcome = labeling.utterances_bulk_apply(
            project=project,
            user=request.user,  # type: ignore[arg-type]
            ids=_bulk_ids(request, project, data["all_matching"]),
            action=data["action"],
            value=data["intent"] if data["action"] == "intent" else data["dataset"],
        )
    except StudioError as exc:
        return _table_after_write(request, project, None, " ".join(_error_text(exc)))
    return _table_after_write(request, project, outcome.summary, None)


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_undo(request: HttpRequest, project: Project) -> HttpResponse:
    try:
        summary = labeling.labeling_undo(
            project=project,
            user=request.user,  # type: ignore[arg-type]
        )
    except StudioError as exc:
        return _table_after_write(request, project, None, plain_message(exc.message))
    response = _table_after_write(request, project, summary, None)
    return _stale(response, DISTRIBUTION_STALE) if _is_htmx(request) else response


# ---------------------------------------------------------------- upload


def _upload_context(project: Project, **extra: Any) -> dict[str, Any]:
    return {
        "project": project,
        "urls": _urls(project),
        "upload_form": UploadForm(),
        "upload": None,
        "upload_job": None,
        "index_types": INDEX_TYPES,
        "upload_limit_mb": _limit_mb(),
        **extra,
    }


def _running_upload(project: Project) -> dict[str, Any] | None:
    """An upload of this project still queued or running: the panel keeps showing
    its progress after a reload."""
    job = sl.upload_job_active(project=project)
    return job_context(job) if job is not None else None


def _limit_mb() -> str:
    return f"{v.max_upload_bytes() / 1_048_576:g}"


@require_POST
@project_view("label", kinds=LABELED_KINDS)
def data_upload(request: HttpRequest, project: Project) -> HttpResponse:
    """Check the file now (problems listed by line, nothing written) and add its
    utterances in a job whose progress the upload panel follows."""
    form = UploadForm(request.POST, request.FILES)
    upload: dict[str, Any] | None = None
    if (refused := refused_body_bytes(request)) is not None:
        # Refused before its body was read (studio.middleware): the form is empty,
        # and only the size is worth saying.
        form.full_clean()
        form.errors.clear()
        form.add_error("file", f"Nothing was added. {v.size_error(refused)}")
    elif form.is_valid():
        try:
            job = uploads.utterances_upload_start(
                project=project,
                user=request.user,  # type: ignore[arg-type]
                content=form.cleaned_data["file"].read(),
                string_index_type=form.cleaned_data["string_index_type"]
                or "Utf16CodeUnit",
            )
        except StudioError as exc:
            details = exc.details or [exc.as_detail()]
            if len(details) == 1:
                form.add_error(
                    "file", f"Nothing was added. {plain_message(details[0].message)}"
                )
            else:
                form.add_error(
                    "file", f"Nothing was added: {len(details)} problems, listed below."
                )
                upload = {"errors": [plain_message(d.message) for d in details]}
        else:
            if not _is_htmx(request):
                return HttpResponseRedirect(reverse("ui:job", args=[job.job_id]))
            job.refresh_from_db()  # a worker may have run it already (eager mode)
            context = _upload_context(project, upload_job=job_context(job))
            response = render(request, TEMPLATE + "#upload", context)
            if job.status == job.Status.SUCCEEDED:
                return _stale(response, TABLE_STALE, DISTRIBUTION_STALE)
            return response
    if _is_htmx(request):
        context = _upload_context(project, upload_form=form, upload=upload)
        return render(request, TEMPLATE + "#upload", context, status=422)
    return _page(
        request,
        project,
        _return_query(request),
        status=400,
        upload_form=form,
        upload=upload,
    )
