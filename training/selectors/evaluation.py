"""Reads of the evaluation screens, shaped for a project of real size (CLINC150:
150 intents, 3,000 test utterances).

A 150 x 150 confusion matrix has 22,500 cells of which a few hundred are not zero,
so the matrix is built from Azure's sparse ``confusionMatrix`` as rows of non-zero
cells separated by *gaps* (runs of zero cells, drawn as one empty table cell
spanning them): the page stays small and only cells that list utterances are
interactive. Everything else here reads the stored evaluation (the model's
``evaluation_summary`` and its ``EvaluationResult`` rows, filtered by
``selectors.evaluation_result_list`` so hidden linked utterances stay hidden).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet

from projects.models import Project, Utterance
from projects.permissions import Actor
from training.models import EvaluationResult, TrainedModel
from training.selectors import authoring as selectors

MATRIX_ORDERS = ("evaluation", "name", "errors", "f1")
TOP_CONFUSIONS = 25
ERRORS_PAGE_SIZE = 25
COMPARE_SORTS = ("name", "a", "b", "delta")


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One intent's (or entity's) line of the per-label table."""

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


def label_rows(evaluation: dict[str, Any], key: str) -> list[LabelRow]:
    """``key`` ("intents" or "entities") of Azure's evaluation object as rows."""
    return [
        LabelRow(
            name=name,
            precision=float(metrics.get("precision", 0.0)),
            recall=float(metrics.get("recall", 0.0)),
            f1=float(metrics.get("f1", 0.0)),
            tp=int(metrics.get("truePositiveCount", 0)),
            fp=int(metrics.get("falsePositiveCount", 0)),
            fn=int(metrics.get("falseNegativeCount", 0)),
        )
        for name, metrics in (evaluation.get(key) or {}).items()
    ]


def label_rows_sorted(
    rows: list[LabelRow], sort: str, descending: bool
) -> list[LabelRow]:
    if sort == "name":
        return sorted(rows, key=lambda r: r.name.lower(), reverse=descending)
    return sorted(
        rows, key=lambda r: (getattr(r, sort), r.name.lower()), reverse=descending
    )


def metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    """The six model-level scores of an evaluation object (0.0 when absent)."""
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


@dataclass(frozen=True, slots=True)
class ConfidenceBin:
    """One bar of the confidence histogram, with how often its top intent was
    right (a reliability diagram in table form)."""

    lower: float
    upper: float
    count: int
    share: float  # percent of the test utterances
    accuracy: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Calibration:
    ece: float  # percent
    confidence: float  # percent
    accuracy: float  # percent
    runner_up: float  # percent
    bins: list[ConfidenceBin]


def calibration(evaluation: dict[str, Any]) -> Calibration | None:
    """The stored calibration report of an intents evaluation, in percent; None
    for models trained before it was recorded (or with nothing to report)."""
    report = evaluation.get("calibration")
    if not isinstance(report, dict) or not report.get("utteranceCount"):
        return None
    total = int(report["utteranceCount"])
    return Calibration(
        ece=100.0 * float(report.get("expectedCalibrationError", 0.0)),
        confidence=100.0 * float(report.get("averageConfidence", 0.0)),
        accuracy=100.0 * float(report.get("accuracy", 0.0)),
        runner_up=100.0 * float(report.get("runnerUpMass", 0.0)),
        bins=[
            ConfidenceBin(
                lower=100.0 * float(b.get("lowerBound", 0.0)),
                upper=100.0 * float(b.get("upperBound", 0.0)),
                count=int(b.get("count", 0)),
                share=100.0 * int(b.get("count", 0)) / total,
                accuracy=100.0 * float(b.get("accuracy", 0.0)),
                confidence=100.0 * float(b.get("averageConfidence", 0.0)),
            )
            for b in report.get("bins") or []
        ],
    )


THRESHOLD_EXTREMES = 5


@dataclass(frozen=True, slots=True)
class ThresholdOutcome:
    """The test set answered with one threshold rule, in percent (None: nothing
    to count, e.g. no out-of-scope test utterance)."""

    in_scope_accuracy: float | None
    oos_recall: float | None
    oos_precision: float | None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The evaluation with the project's confidence threshold applied, alone and
    per intent, and each intent's own threshold (highest first)."""

    threshold: float
    enabled: bool
    oos_count: int
    single: ThresholdOutcome
    per_intent: ThresholdOutcome
    intents: list[tuple[str, float]]
    current_threshold: float

    @property
    def highest(self) -> list[tuple[str, float]]:
        return self.intents[:THRESHOLD_EXTREMES]

    @property
    def lowest(self) -> list[tuple[str, float]]:
        if len(self.intents) <= THRESHOLD_EXTREMES:
            return []
        rest = self.intents[THRESHOLD_EXTREMES:]
        return rest[-THRESHOLD_EXTREMES:]

    @property
    def rows(self) -> list[tuple[str, ThresholdOutcome]]:
        return [
            ("One threshold for all intents", self.single),
            ("Per-intent thresholds", self.per_intent),
        ]

    @property
    def threshold_changed(self) -> bool:
        return self.current_threshold != self.threshold


def _outcome(report: Any) -> ThresholdOutcome:
    report = report if isinstance(report, dict) else {}

    def pct(key: str) -> float | None:
        value = report.get(key)
        return None if value is None else 100.0 * float(value)

    return ThresholdOutcome(
        in_scope_accuracy=pct("inScopeAccuracy"),
        oos_recall=pct("oosRecall"),
        oos_precision=pct("oosPrecision"),
    )


def thresholds(evaluation: dict[str, Any], project: Project) -> Thresholds | None:
    """The stored threshold evaluation of an intents evaluation; None for models
    trained before it was recorded."""
    report = evaluation.get("thresholds")
    if not isinstance(report, dict):
        return None
    own = report.get("intentThresholds") or {}
    return Thresholds(
        threshold=float(report.get("confidenceThreshold", 0.0)),
        enabled=bool(report.get("perIntentThresholds")),
        oos_count=int((report.get("global") or {}).get("oosCount", 0)),
        single=_outcome(report.get("global")),
        per_intent=_outcome(report.get("perIntent")),
        intents=sorted(
            ((str(name), float(value)) for name, value in own.items()),
            key=lambda item: (-item[1], item[0].lower()),
        ),
        current_threshold=project.confidence_threshold,
    )


@dataclass(frozen=True, slots=True)
class WeightTried:
    """One block weight a training tried: its held-out accuracy (percent) and
    log-loss (None for models trained before the manifest recorded it)."""

    weight: float
    accuracy: float
    log_loss: float | None


def _tried(recorded: Any) -> list[WeightTried]:
    out = []
    for item in recorded or []:
        log_loss = item.get("heldOutLogLoss")
        out.append(
            WeightTried(
                weight=float(item["weight"]),
                accuracy=100.0 * float(item["heldOutAccuracy"]),
                log_loss=None if log_loss is None else float(log_loss),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class EmbeddingChoice:
    """Advanced mode's embedding weight and the weights tried on held-out
    training utterances (``intents._choose_candidate``)."""

    weight: float
    tried: list[WeightTried]
    # The sentence encoder and the first 12 hex digits of its weights' sha256
    # ("" for models trained before the manifest recorded them).
    encoder: str = ""
    encoder_sha256: str = ""


def embedding_choice(model: TrainedModel) -> EmbeddingChoice | None:
    params = (model.manifest or {}).get("params") or {}
    if "embeddingWeight" not in params:
        return None
    encoder = params.get("encoder") or {}
    return EmbeddingChoice(
        encoder=str(encoder.get("name") or ""),
        encoder_sha256=str(encoder.get("sha256") or "")[:12],
        weight=float(params["embeddingWeight"]),
        tried=_tried(params.get("embeddingWeightSelection")),
    )


@dataclass(frozen=True, slots=True)
class StaticChoice:
    """Standard mode's static word vectors: whether the model uses them, at what
    weight (chosen on held-out training utterances, as advanced mode's), from which
    table, or why not."""

    used: bool
    weight: float
    tried: list[WeightTried]
    table_sha256: str
    extra_words: int
    note: str


def static_choice(model: TrainedModel) -> StaticChoice | None:
    params = (model.manifest or {}).get("params") or {}
    recorded = params.get("staticVectors")
    if not isinstance(recorded, dict):
        return None
    return StaticChoice(
        used=bool(recorded.get("used")),
        weight=float(recorded.get("weight") or 0.0),
        tried=_tried(recorded.get("weightSelection")),
        table_sha256=str(recorded.get("sha256") or "")[:12],
        extra_words=int(recorded.get("extraWords") or 0),
        note=str(recorded.get("note") or ""),
    )


# ---------------------------------------------------------------- matrix


@dataclass(frozen=True, slots=True)
class Cell:
    """A non-zero cell (``span`` 0) or a gap of ``span`` zero cells."""

    expected: str
    predicted: str
    raw: float
    normalized: float
    column: int
    span: int = 0
    # The grid's one tab stop (the first non-zero cell); arrows move from it.
    tab_stop: bool = False

    @property
    def heat(self) -> float:
        """0..1 colour intensity: the share of the expected intent's utterances."""
        return round(self.normalized / 100.0, 3)

    @property
    def diagonal(self) -> bool:
        return self.expected == self.predicted


@dataclass(frozen=True, slots=True)
class MatrixRow:
    name: str
    index: int
    cells: list[Cell]


@dataclass(frozen=True, slots=True)
class Matrix:
    """The confusion matrix as drawn: ``labels`` are both the rows (labeled
    intent) and the columns (predicted intent), in one order so the diagonal stays
    the diagonal; ``total_labels`` counts them before collapsing."""

    labels: list[str]
    rows: list[MatrixRow]
    nonzero: int
    total_labels: int
    order: str
    only_errors: bool


def _matrix_cells(
    evaluation: dict[str, Any],
) -> tuple[list[str], dict[str, dict[str, tuple[float, float]]]]:
    """Every label (evaluation order, then any only the matrix names) and the
    non-zero cells as ``{expected: {predicted: (raw, normalized)}}``."""
    matrix: dict[str, dict[str, dict[str, float]]] = (
        evaluation.get("confusionMatrix") or {}
    )
    labels = list((evaluation.get("intents") or {}).keys())
    known = set(labels)
    cells: dict[str, dict[str, tuple[float, float]]] = {}
    for expected, row in matrix.items():
        for name in (expected, *row.keys()):
            if name not in known:
                known.add(name)
                labels.append(name)
        kept = {
            predicted: (
                float(value.get("rawValue", 0.0)),
                float(value.get("normalizedValue", 0.0)),
            )
            for predicted, value in row.items()
            if float(value.get("rawValue", 0.0))
        }
        if kept:
            cells[expected] = kept
    return labels, cells


def confusion_matrix(
    evaluation: dict[str, Any], *, order: str = "evaluation", only_errors: bool = False
) -> Matrix:
    """The matrix in ``order`` (``MATRIX_ORDERS``: as evaluated, by name, most
    errors first, lowest F1 first), optionally collapsed to the intents that have
    an error (labeled as or predicted as something else)."""
    labels, cells = _matrix_cells(evaluation)
    total = len(labels)
    errors = dict.fromkeys(labels, 0.0)
    for expected, row in cells.items():
        for predicted, (raw, _) in row.items():
            if predicted != expected:
                errors[expected] += raw
                errors[predicted] += raw
    if only_errors:
        labels = [name for name in labels if errors[name]]
    f1 = {r.name: r.f1 for r in label_rows(evaluation, "intents")}
    if order == "name":
        labels.sort(key=str.lower)
    elif order == "errors":
        labels.sort(key=lambda name: (-errors[name], name.lower()))
    elif order == "f1":
        labels.sort(key=lambda name: (f1.get(name, 0.0), name.lower()))
    position = {name: n for n, name in enumerate(labels)}
    rows = []
    nonzero = 0
    for index, expected in enumerate(labels):
        present = sorted(
            (position[predicted], predicted, value)
            for predicted, value in cells.get(expected, {}).items()
            if predicted in position
        )
        drawn: list[Cell] = []
        column = 0
        for at, predicted, (raw, normalized) in present:
            if at > column:
                drawn.append(Cell(expected, "", 0.0, 0.0, column, span=at - column))
            first = not nonzero
            drawn.append(Cell(expected, predicted, raw, normalized, at, tab_stop=first))
            nonzero += 1
            column = at + 1
        if column < len(labels):
            drawn.append(
                Cell(expected, "", 0.0, 0.0, column, span=len(labels) - column)
            )
        rows.append(MatrixRow(name=expected, index=index, cells=drawn))
    return Matrix(
        labels=labels,
        rows=rows,
        nonzero=nonzero,
        total_labels=total,
        order=order,
        only_errors=only_errors,
    )


@dataclass(frozen=True, slots=True)
class Confusion:
    expected: str
    predicted: str
    count: int
    share: float  # percent of the expected intent's test utterances


def top_confusions(
    evaluation: dict[str, Any], *, limit: int = TOP_CONFUSIONS
) -> list[Confusion]:
    """The off-diagonal cells with the most utterances: which intent is taken for
    which, most often first."""
    _, cells = _matrix_cells(evaluation)
    pairs = [
        Confusion(expected, predicted, round(raw), normalized)
        for expected, row in cells.items()
        for predicted, (raw, normalized) in row.items()
        if predicted != expected
    ]
    pairs.sort(key=lambda c: (-c.count, c.expected.lower(), c.predicted.lower()))
    return pairs[:limit]


# ---------------------------------------------------------------- utterances


@dataclass(frozen=True, slots=True)
class Current:
    """The project's utterance a test result came from, as it is now; ``version``
    goes into the fix form so an edit made meanwhile is not overwritten."""

    pk: int
    intent: str
    version: int


def current_utterances(
    project: Project, results: Sequence[EvaluationResult]
) -> list[Current | None]:
    """For each result, the utterance it came from now (None when deleted since).

    ``utterance_id`` when training recorded it; otherwise the project's utterance
    with the same text (and language), preferring one still labeled as evaluated.
    """
    ids = [r.utterance_id for r in results if r.utterance_id is not None]
    texts = [r.text for r in results if r.utterance_id is None]
    if not ids and not texts:
        return [None] * len(results)
    rows = Utterance.objects.filter(project=project).filter(
        Q(pk__in=ids) | Q(text__in=texts)
    )
    by_id: dict[int, Current] = {}
    by_text: dict[str, list[Current]] = {}
    languages: dict[int, str] = {}
    for pk, text, language, intent, version in rows.order_by("pk").values_list(
        "pk", "text", "language", "intent__name", "version"
    ):
        by_id[pk] = Current(pk, intent, version)
        languages[pk] = language
        by_text.setdefault(text, []).append(by_id[pk])
    found: list[Current | None] = []
    for r in results:
        if r.utterance_id is not None:
            found.append(by_id.get(r.utterance_id))
            continue
        candidates = [
            c
            for c in by_text.get(r.text, [])
            if not r.language or languages[c.pk] == r.language
        ] or by_text.get(r.text, [])
        best = next((c for c in candidates if c.intent == r.expected_intent), None)
        found.append(best or (candidates[0] if candidates else None))
    return found


def evaluation_errors(
    *, model: TrainedModel, actor: Actor
) -> QuerySet[EvaluationResult]:
    """The test utterances predicted as another intent than labeled, in evaluation
    order, without those ``actor`` may not read."""
    return selectors.evaluation_result_list(model=model, actor=actor).exclude(
        expected_intent=F("predicted_intent")
    )


def evaluation_result_get(
    *, model: TrainedModel, actor: Actor, position: int
) -> EvaluationResult | None:
    return (
        selectors.evaluation_result_list(model=model, actor=actor)
        .filter(position=position)
        .first()
    )


# ---------------------------------------------------------------- compare


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


def compare_deltas(
    rows_a: Iterable[LabelRow],
    rows_b: Iterable[LabelRow],
    *,
    sort: str,
    descending: bool,
) -> list[Delta]:
    """Per-intent F1 of A and B and the change, in ``sort`` order
    (``COMPARE_SORTS``); intents missing from one model sort last whatever the
    direction."""
    fa = {r.name: r.f1 for r in rows_a}
    fb = {r.name: r.f1 for r in rows_b}
    deltas = [Delta(n, fa.get(n), fb.get(n)) for n in set(fa) | set(fb)]
    deltas.sort(key=lambda d: d.name.lower())
    if sort == "name":
        return deltas[::-1] if descending else deltas
    known = [d for d in deltas if getattr(d, sort) is not None]
    unknown = [d for d in deltas if getattr(d, sort) is None]
    known.sort(key=lambda d: getattr(d, sort), reverse=descending)
    return known + unknown


@dataclass(frozen=True, slots=True)
class TestSets:
    """How the two models' test utterances (as ``actor`` may see them) overlap."""

    a: int
    b: int
    common: int
    options_differ: bool

    @property
    def differ(self) -> bool:
        return self.options_differ or not (self.a == self.b == self.common)


def _result_key(utterance_id: int | None, text: str) -> int | str:
    return utterance_id if utterance_id is not None else text


def compare_test_sets(*, a: TrainedModel, b: TrainedModel, actor: Actor) -> TestSets:
    keys = []
    for model in (a, b):
        keys.append(
            {
                _result_key(pk, text)
                for pk, text in selectors.evaluation_result_list(
                    model=model, actor=actor
                ).values_list("utterance_id", "text")
            }
        )
    return TestSets(
        a=len(keys[0]),
        b=len(keys[1]),
        common=len(keys[0] & keys[1]),
        options_differ=(a.evaluation_options or {}) != (b.evaluation_options or {}),
    )


def changed_predictions(
    *, a: TrainedModel, b: TrainedModel, actor: Actor, limit: int
) -> list[dict[str, str]]:
    """Test utterances present in both evaluations whose predicted intent differs.
    Matched by utterance id, else by text (the split may differ between models)."""
    first = {
        _result_key(pk, text): predicted
        for pk, text, predicted in selectors.evaluation_result_list(
            model=a, actor=actor
        ).values_list("utterance_id", "text", "predicted_intent")
    }
    changed = []
    for pk, text, expected, predicted in selectors.evaluation_result_list(
        model=b, actor=actor
    ).values_list("utterance_id", "text", "expected_intent", "predicted_intent"):
        other = first.get(_result_key(pk, text))
        if other is not None and other != predicted:
            changed.append(
                {"text": text, "expected": expected, "a": other, "b": predicted}
            )
            if len(changed) >= limit:
                break
    return changed
