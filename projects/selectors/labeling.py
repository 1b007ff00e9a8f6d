"""Reads of the labeling screen: the filtered, sorted page of utterances, the intent
distribution and the latest model's predictions.

The page is ``LIMIT/OFFSET`` over the indexes ``Utterance.Meta`` declares
(``(project, intent, id)``, ``(project, dataset, id)``, ``(project, text)``) plus one
``COUNT``: three queries per page (rows, spans, count), whatever the filter.
``bench/labeling.py`` measures it at 50,000 utterances.

Predictions come from the project's most recently trained model, loaded once per
process and model id (the artifact never changes), and remembered per text: after the
first request a filter by disagreement only predicts utterances it has not seen.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet

from jobs.models import Job
from projects import validators as v
from projects.models import Intent, Project, Utterance
from projects.selectors import authoring as selectors
from projects.trained import trained
from studio.models import ApiKey

logger = logging.getLogger(__name__)

SORTS = {
    "id": ("id",),
    "-id": ("-id",),
    "text": ("text", "id"),
    "-text": ("-text", "-id"),
    "intent": ("intent__name", "id"),
    "-intent": ("-intent__name", "-id"),
    "dataset": ("dataset", "id"),
    "-dataset": ("-dataset", "-id"),
}
DATASET_FILTERS = ("Train", "Test", "unassigned")
# "all": every utterance whose normalized text occurs more than once; "conflicts":
# only those whose copies carry different intents.
DUPLICATE_FILTERS = ("all", "conflicts")
ENTITY_FILTERS = ("yes", "no")
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_SEARCH_TERMS = 20

# Distribution thresholds (see projects/README.md, "Labeling screen").
# Below WEAK_BELOW utterances an intent trains but is rarely predicted well.
WEAK_BELOW = 5
# A percentage split sends an intent to test only when it has at least two utterances.
PERCENTAGE_EVALUABLE_FROM = 2


@dataclass(frozen=True, slots=True)
class UtteranceFilter:
    """What the table shows. Empty strings and False mean "no restriction"."""

    search: str = ""
    intent: str = ""
    dataset: str = ""
    unlabeled: bool = False
    entities: str = ""
    entity: str = ""
    disagree: bool = False
    sort: str = "id"
    # Last labeler: "user:<id>", "key:<id>" (a resource key) or "nobody" (unknown).
    labeler: str = ""
    # One of DUPLICATE_FILTERS, or "".
    duplicates: str = ""
    # Only the deploy gate's golden utterances.
    golden: bool = False
    # Not a filter: show a deployment's predicted intent on unlabeled rows
    # (``prelabel_from``: its name; "" = "production", else the first).
    prelabel: bool = False
    prelabel_from: str = ""

    def as_query(self) -> dict[str, str]:
        """The non-default values as query parameters (links, hidden inputs)."""
        query: dict[str, str] = {}
        for key, value in (
            ("q", self.search),
            ("intent", self.intent),
            ("dataset", self.dataset),
            ("entities", self.entities),
            ("entity", self.entity),
            ("labeler", self.labeler),
            ("duplicates", self.duplicates),
        ):
            if value:
                query[key] = value
        if self.unlabeled:
            query["unlabeled"] = "1"
        if self.disagree:
            query["disagree"] = "1"
        if self.golden:
            query["golden"] = "1"
        if self.sort != "id":
            query["sort"] = self.sort
        if self.prelabel:
            query["prelabel"] = "1"
            if self.prelabel_from:
                query["prelabel_from"] = self.prelabel_from
        return query

    @property
    def is_filtered(self) -> bool:
        return bool(set(self.as_query()) - {"sort", "prelabel", "prelabel_from"})


@dataclass(slots=True)
class UtterancePage:
    rows: list[Utterance]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def utterances_filtered(
    *, project: Project, filters: UtteranceFilter
) -> QuerySet[Utterance]:
    """The utterances matching ``filters`` in their sort order, spans prefetched.
    The disagreement filter is not SQL: :func:`utterance_page` and
    :func:`utterance_ids_matching` apply it."""
    dataset = filters.dataset or None
    qs = selectors.utterance_list(
        project=project,
        intent=filters.intent or None,
        dataset="none" if dataset == "unassigned" else dataset,
        has_entities={"yes": True, "no": False}.get(filters.entities),
        entity=filters.entity or None,
    )
    for term in search_terms(filters.search):
        qs = qs.filter(text__icontains=term)
    if filters.unlabeled:
        qs = qs.filter(intent__name=Intent.BUILTIN_NONE)
    if filters.labeler:
        qs = qs.filter(**_labeler_lookup(filters.labeler))
    if filters.golden:
        qs = qs.filter(golden=True)
    if filters.duplicates:
        conflicts = filters.duplicates == "conflicts"
        qs = qs.filter(text_key__in=_repeated_keys(project, conflicts=conflicts))
    return qs.order_by(*SORTS[filters.sort])


def search_terms(search: str) -> list[str]:
    """The words of a table search: every one must occur in the text, in any
    order ("card new" finds "I need a new card"); each is a case-insensitive
    substring, so a word's start also matches ("transf" finds "transfer"). At most
    ``MAX_SEARCH_TERMS`` distinct words (a longer paste is cut, not a huge query)."""
    terms = list(dict.fromkeys(search.split()))
    return terms[:MAX_SEARCH_TERMS]


LABELER_RE = re.compile(r"\A(?:(?:user|key):[1-9][0-9]{0,17}|nobody)\Z")


def _labeler_lookup(labeler: str) -> dict[str, Any]:
    """The indexed filter (``utt_project_labeler``, ``utt_project_labeler_key``) of
    a ``UtteranceFilter.labeler`` value."""
    if labeler == "nobody":
        return {"labeled_by__isnull": True, "labeled_by_key__isnull": True}
    kind, pk = labeler.split(":")
    return {"labeled_by_id" if kind == "user" else "labeled_by_key_id": int(pk)}


@dataclass(frozen=True, slots=True)
class LabelerChoice:
    value: str
    label: str


def labeler_name(utterance: Utterance) -> str:
    """Who labeled ``utterance`` last, as the table shows it ("" when unknown)."""
    if utterance.labeled_by_id is not None:
        user = utterance.labeled_by
        return user.get_username() if user is not None else ""
    if utterance.labeled_by_key_id is not None:
        key = utterance.labeled_by_key
        return f"API key {key.name}" if key is not None else "A deleted API key"
    return ""


def project_labelers(*, project: Project) -> list[LabelerChoice]:
    """Everyone who last labeled some utterance of the project (the filter's
    choices): two index-only scans of the labeler indexes, then the names."""
    rows = project.utterances.order_by()
    user_ids = rows.filter(labeled_by__isnull=False).values("labeled_by").distinct()
    key_ids = (
        rows.filter(labeled_by_key__isnull=False).values("labeled_by_key").distinct()
    )
    users = get_user_model().objects.filter(pk__in=user_ids).order_by("username")
    keys = ApiKey.objects.filter(pk__in=key_ids).order_by("name", "pk")
    return [
        *(LabelerChoice(f"user:{u.pk}", u.get_username()) for u in users),
        *(LabelerChoice(f"key:{k.pk}", f"API key {k.name}") for k in keys),
    ]


def _ids_in_order(qs: QuerySet[Utterance], keep: Collection[int]) -> list[int]:
    # The ids in table order (one indexed query of integers), kept in Python: a
    # disagreement set of thousands of ids never becomes an IN list (SQLite
    # allows 32,766 parameters).
    return [
        pk
        for pk in qs.prefetch_related(None).values_list("pk", flat=True)
        if pk in keep
    ]


def _kept_ids(
    project: Project,
    filters: UtteranceFilter,
    disagreeing: Collection[int] | None,
) -> Collection[int] | None:
    """The ids the non-SQL filter (disagreement) keeps, or None when it is off."""
    if filters.disagree:
        return disagreeing or frozenset()
    return None


def utterance_ids_matching(
    *, project: Project, filters: UtteranceFilter, disagreeing: Collection[int] | None
) -> list[int]:
    """Every id the filter matches ("select all N matching"), in table order.
    ``disagreeing`` is :func:`disagreeing_ids`' set when ``filters.disagree``."""
    qs = utterances_filtered(project=project, filters=filters)
    keep = _kept_ids(project, filters, disagreeing)
    if keep is not None:
        return _ids_in_order(qs, keep)
    return list(qs.prefetch_related(None).values_list("pk", flat=True))


def utterance_page(
    *,
    project: Project,
    filters: UtteranceFilter,
    page: int = 1,
    per_page: int = DEFAULT_PAGE_SIZE,
    disagreeing: Collection[int] | None = None,
) -> UtterancePage:
    """One page of the table; a page past the end shows the last page (after a bulk
    delete the user lands on rows instead of an empty table)."""
    qs = utterances_filtered(project=project, filters=filters)
    ids: list[int] | None = None
    keep = _kept_ids(project, filters, disagreeing)
    if keep is not None:
        ids = _ids_in_order(qs, keep)
        total = len(ids)
    else:
        total = qs.count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    if ids is None:
        rows = list(qs[start : start + per_page])
    else:
        wanted = ids[start : start + per_page]
        by_pk = {u.pk: u for u in qs.filter(pk__in=wanted)}
        rows = [by_pk[pk] for pk in wanted if pk in by_pk]
    return UtterancePage(rows=rows, total=total, page=page, per_page=per_page)


def utterance_row(*, project: Project, pk: int) -> Utterance:
    """One utterance with its intent and spans, as a table row renders it."""
    return selectors.utterance_get(project=project, pk=pk)


# ---------------------------------------------------------------- duplicates


# What makes two utterances "the same text" (``Utterance.text_key`` stores it).
normalized_text = v.text_key


@dataclass(frozen=True, slots=True)
class DuplicateIds:
    # Every utterance whose normalized text occurs more than once in the project.
    all: frozenset[int]
    # Those of them whose copies carry more than one intent.
    conflicts: frozenset[int]


def _repeated_keys(project: Project, *, conflicts: bool) -> QuerySet[Any, Any]:
    """The ``text_key`` of every text the project holds more than once (with more
    than one intent when ``conflicts``): a GROUP BY over the
    ``utt_project_text_key`` index, as a subquery."""
    groups = (
        Utterance.objects.filter(project=project)
        .order_by()
        .values("text_key")
        .annotate(copies=Count("id"), intents=Count("intent", distinct=True))
        .filter(intents__gt=1 if conflicts else 0, copies__gt=1)
    )
    return groups.values("text_key")


def duplicate_ids(*, project: Project) -> DuplicateIds:
    """The duplicate and conflicting-label utterances of the project: two grouped
    queries on the stored ``text_key``."""
    rows = project.utterances.order_by()
    every = rows.filter(text_key__in=_repeated_keys(project, conflicts=False))
    clashing = rows.filter(text_key__in=_repeated_keys(project, conflicts=True))
    return DuplicateIds(
        all=frozenset(every.values_list("pk", flat=True)),
        conflicts=frozenset(clashing.values_list("pk", flat=True)),
    )


@dataclass(frozen=True, slots=True)
class TextClash:
    """A text about to be added that the project already holds."""

    text: str
    # The intents its copies already carry (names, sorted).
    intents: tuple[str, ...]

    @property
    def quoted(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"“{text}”"


def existing_texts(
    *, project: Project, texts: Sequence[str], intent: str | None = None
) -> tuple[list[TextClash], list[TextClash]]:
    """Of ``texts`` (about to be added with ``intent``, or each with its own when
    None is given and the caller compares), the ones the project already holds:
    (conflicts: already there with another intent, duplicates: already there with
    the same intent)."""
    wanted = {normalized_text(t): t for t in texts}
    digests = {v.text_key_digest(key): key for key in wanted}
    held: dict[str, set[str]] = defaultdict(set)
    chunk = 500  # digests per IN list (an import may paste thousands of lines)
    keys = list(digests)
    for start in range(0, len(keys), chunk):
        rows = project.utterances.order_by().filter(
            text_key__in=keys[start : start + chunk]
        )
        for digest, name in rows.values_list("text_key", "intent__name"):
            held[digests[digest]].add(name)
    conflicts: list[TextClash] = []
    duplicates: list[TextClash] = []
    for key, text in wanted.items():
        if key not in held:
            continue
        clash = TextClash(text=text, intents=tuple(sorted(held[key])))
        if intent is not None and held[key] == {intent}:
            duplicates.append(clash)
        else:
            conflicts.append(clash)
    return conflicts, duplicates


# ---------------------------------------------------------------- distribution


@dataclass(frozen=True, slots=True)
class IntentDistribution:
    intent: Intent
    train: int
    test: int
    unassigned: int
    total: int
    # (level, message): level is "error" (cannot train), "warn" (cannot be
    # evaluated, or weak) or "info".
    notes: tuple[tuple[str, str], ...]

    @property
    def level(self) -> str:
        levels = [level for level, _ in self.notes]
        for level in ("error", "warn", "info"):
            if level in levels:
                return level
        return "ok"


@dataclass(frozen=True, slots=True)
class Distribution:
    rows: list[IntentDistribution]
    train: int
    test: int
    unassigned: int
    total: int
    largest: int

    @property
    def problems(self) -> int:
        return sum(1 for r in self.rows if r.level in ("error", "warn"))


def _intent_notes(
    intent: Intent, counts: dict[str, int]
) -> tuple[tuple[str, str], ...]:
    total, test = counts["total"], counts["Test"]
    trainable = total - test  # Train and unassigned both train under a manual split
    notes: list[tuple[str, str]] = []
    if intent.is_builtin:
        if total == 0:
            notes.append(
                (
                    "info",
                    "No examples: fine for None, which also catches "
                    "everything below the confidence threshold.",
                )
            )
        return tuple(notes)
    if total == 0:
        notes.append(("error", "No utterances: the intent cannot be trained."))
        return tuple(notes)
    if trainable == 0:
        notes.append(
            (
                "error",
                "Every utterance is Test: nothing to train on with a manual split.",
            )
        )
    elif total < WEAK_BELOW:
        notes.append(
            (
                "warn",
                f"Only {total} utterance{'s' if total != 1 else ''}: add at "
                f"least {WEAK_BELOW} for a usable model.",
            )
        )
    if test == 0:
        notes.append(
            ("warn", "No Test utterance: cannot be evaluated with a manual split.")
        )
    if total < PERCENTAGE_EVALUABLE_FROM:
        notes.append(
            (
                "warn",
                "A single utterance stays in training with a percentage split: "
                "not evaluated.",
            )
        )
    return tuple(notes)


def labeling_distribution(*, project: Project) -> Distribution:
    """Utterances per intent and dataset (one query), with the warnings of the
    distribution panel."""
    rows = [
        IntentDistribution(
            intent=intent,
            train=counts["Train"],
            test=counts["Test"],
            unassigned=counts["unassigned"],
            total=counts["total"],
            notes=_intent_notes(intent, counts),
        )
        for intent, counts in selectors.intent_list_with_counts(project=project)
    ]
    return Distribution(
        rows=rows,
        train=sum(r.train for r in rows),
        test=sum(r.test for r in rows),
        unassigned=sum(r.unassigned for r in rows),
        total=sum(r.total for r in rows),
        largest=max((r.total for r in rows), default=0),
    )


# ---------------------------------------------------------------- predictions


@dataclass(slots=True)
class _Predictor:
    """One trained model's intent predictions, remembered per text."""

    model_id: str
    classifier: Any  # IntentClassifier | None
    single_intent: str | None
    by_text: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (intent, confidence) per text, for pre-labels; bounded: rows of pages seen.
    scored: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)

    def best(self, texts: Sequence[str]) -> dict[str, tuple[str, float]]:
        """The most likely intent of each text with its probability (no
        threshold), computed in one batch for the texts not seen yet."""
        with self.lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self.scored))
            if missing:
                if self.classifier is None:
                    name = self.single_intent or Intent.BUILTIN_NONE
                    found = [(name, 1.0)] * len(missing)
                else:
                    probs = self.classifier.predict_proba_batch(missing)
                    labels = self.classifier.labels
                    found = [
                        (labels[k], float(row[k]))
                        for row, k in zip(
                            probs, probs.argmax(axis=1).tolist(), strict=True
                        )
                    ]
                self.scored.update(zip(missing, found, strict=True))
                while len(self.scored) > _SCORED_KEPT:
                    self.scored.popitem(last=False)
            return {t: self.scored[t] for t in texts if t in self.scored}

    def predict(self, texts: Sequence[str]) -> dict[str, str]:
        with self.lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self.by_text))
            if missing:
                if self.classifier is None:
                    labels = [self.single_intent or Intent.BUILTIN_NONE] * len(missing)
                else:
                    labels = self.classifier.predict_batch(missing)
                self.by_text.update(zip(missing, labels, strict=True))
            return {t: self.by_text[t] for t in texts}


_PREDICTORS: OrderedDict[str, _Predictor | None] = OrderedDict()
_PREDICTORS_LOCK = threading.Lock()
_PREDICTORS_KEPT = 4
_SCORED_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class LabelingModel:
    """The model the screen compares labels with: its label and where its
    predictions come from ("model": the artifact, for every utterance;
    "evaluation": only the test utterances of its evaluation, when the artifact
    cannot be loaded in this process)."""

    model: Any  # training.models.TrainedModel
    source: str


def labeling_model(*, project: Project) -> LabelingModel | None:
    """The project's most recently trained model, or None before the first training."""
    model = trained().latest_model(project=project)
    if model is None:
        return None
    source = "model" if _predictor(model) is not None else "evaluation"
    return LabelingModel(model=model, source=source)


def _predictor(model: Any) -> _Predictor | None:
    with _PREDICTORS_LOCK:
        if model.model_id in _PREDICTORS:
            _PREDICTORS.move_to_end(model.model_id)
            return _PREDICTORS[model.model_id]
    predictor = _load_predictor(model)
    with _PREDICTORS_LOCK:
        _PREDICTORS[model.model_id] = predictor
        while len(_PREDICTORS) > _PREDICTORS_KEPT:
            _PREDICTORS.popitem(last=False)
    return predictor


def _load_predictor(model: Any) -> _Predictor | None:
    from training.engine.artifacts import ArtifactError

    try:
        bundle = trained().model_load(
            artifact_name=model.artifact_name, manifest=model.manifest
        )
    except (ArtifactError, OSError) as exc:
        logger.warning("labeling: model %s cannot be loaded: %s", model.model_id, exc)
        return None
    if not hasattr(bundle, "intents"):
        return None
    return _Predictor(
        model_id=model.model_id,
        classifier=bundle.intents,
        single_intent=getattr(bundle, "single_intent", None),
    )


@dataclass(frozen=True, slots=True)
class PreLabeler:
    """A deployment whose model pre-labels the Data page's unlabeled rows."""

    deployment: Any  # training.models.Deployment
    available: list[str]  # every deployment name, the default first


def prelabel_deployments(*, project: Project) -> list[str]:
    """The project's deployment names, "production" first (the default)."""
    names = sorted(
        name for _, name in trained().deployment_names(project_ids=[project.pk])
    )
    if "production" in names:
        names.remove("production")
        names.insert(0, "production")
    return names


def prelabeler(*, project: Project, name: str = "") -> PreLabeler | None:
    """The deployment ``name`` (the default one when empty), or None when the
    project has no deployment. An unknown name is a ``ValueError``."""
    available = prelabel_deployments(project=project)
    if not available:
        return None
    chosen = name or available[0]
    deployment = trained().deployment(project=project, name=chosen)
    if deployment is None:
        raise ValueError(f"There is no deployment {chosen!r}.")
    return PreLabeler(deployment=deployment, available=available)


def prelabels(
    *, prelabeler: PreLabeler, utterances: Sequence[Utterance]
) -> dict[int, tuple[str, float]] | None:
    """The deployment's most likely intent (and its confidence) for each
    unlabeled one of ``utterances`` (only those: a page, at most its size, in one
    batch); rows where the model too says None get nothing. None when the
    deployment's model cannot be loaded in this process."""
    predictor = _predictor(prelabeler.deployment)
    if predictor is None:
        return None
    unlabeled = [u for u in utterances if u.intent.name == Intent.BUILTIN_NONE]
    if not unlabeled:
        return {}
    best = predictor.best([u.text for u in unlabeled])
    return {
        u.pk: best[u.text]
        for u in unlabeled
        if u.text in best and best[u.text][0] != Intent.BUILTIN_NONE
    }


def predictors_clear() -> None:
    """Forget loaded models and disagreement sets (tests; a process never needs it:
    model ids are unique)."""
    with _PREDICTORS_LOCK:
        _PREDICTORS.clear()
    _DISAGREEING.clear()


def predicted_intents(
    *, labeling: LabelingModel, utterances: Sequence[Utterance]
) -> dict[int, str]:
    """The model's intent for each of ``utterances`` (by id). From the evaluation
    only the test utterances are known; others are left out."""
    if labeling.source == "model":
        predictor = _predictor(labeling.model)
        if predictor is not None:
            by_text = predictor.predict([u.text for u in utterances])
            return {u.pk: by_text[u.text] for u in utterances}
    ids = [u.pk for u in utterances]
    return dict(
        labeling.model.evaluation_results.filter(utterance_id__in=ids).values_list(
            "utterance_id", "predicted_intent"
        )
    )


# (project id) -> (model id, project.last_modified_at, ids). Every labeling write
# moves last_modified_at (services.project_touch), so a stale set is never used.
_DISAGREEING: dict[int, tuple[str, Any, frozenset[int]]] = {}


def disagreeing_ids(*, project: Project, labeling: LabelingModel) -> frozenset[int]:
    """Ids of the utterances whose label differs from the model's prediction,
    remembered until the project's data or its latest model changes."""
    model_id = labeling.model.model_id
    cached = _DISAGREEING.get(project.pk)
    if cached and cached[0] == model_id and cached[1] == project.last_modified_at:
        return cached[2]
    ids = frozenset(_disagreeing(project, labeling))
    _DISAGREEING[project.pk] = (model_id, project.last_modified_at, ids)
    return ids


def _disagreeing(project: Project, labeling: LabelingModel) -> set[int]:
    if labeling.source == "model":
        predictor = _predictor(labeling.model)
        if predictor is not None:
            rows = list(project.utterances.values_list("pk", "text", "intent__name"))
            by_text = predictor.predict([text for _, text, _ in rows])
            return {pk for pk, text, intent in rows if by_text[text] != intent}
    evaluated = dict(
        labeling.model.evaluation_results.exclude(utterance_id=None).values_list(
            "utterance_id", "predicted_intent"
        )
    )
    current: list[tuple[int, str]] = []
    keys = list(evaluated)
    for start in range(0, len(keys), 1000):
        current.extend(
            project.utterances.filter(pk__in=keys[start : start + 1000]).values_list(
                "pk", "intent__name"
            )
        )
    return {pk for pk, intent in current if evaluated[pk] != intent}


def upload_job_active(*, project: Project) -> Job | None:
    """The project's Data-page upload still queued, running or cancelling (at
    most one: uploads share the one-active-job constraint with imports)."""
    return (
        Job.objects.filter(
            project_name=project.name,
            kind=Job.Kind.UTTERANCES_UPLOAD,
            status__in=[
                Job.Status.NOT_STARTED,
                Job.Status.RUNNING,
                Job.Status.CANCELLING,
            ],
        )
        .order_by("-created_at")
        .first()
    )
