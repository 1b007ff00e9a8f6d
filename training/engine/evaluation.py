"""Model evaluation with Azure's definitions (CLU / orchestration evaluation metrics).

Intents
    Each test utterance has one expected and one predicted intent. Per intent:
    TP = expected and predicted as it; FP = predicted as it but expected another;
    FN = expected as it but predicted another; TN = the rest of the test set
    (one-vs-rest, so TP + FP + FN + TN = number of test utterances).

Entities
    A predicted entity is a true positive only when an expected entity has the same
    category, offset and length (the documentation's example counts "mike" labelled
    ``contactName`` but predicted ``message`` as an FN of ``contactName`` and an FP
    of ``message``). Unmatched expected entities are FNs, unmatched predictions FPs,
    and entity TN is always 0, as in Azure's output.

Scores
    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R), each 0
    when its denominator is 0 (Azure reports 0.0 for an entity never predicted).
    Micro metrics use the summed counts; macro metrics are the unweighted means of the
    per-label values (Azure's official example: macroF1 is the mean of the per-entity
    F1 values, not the F1 of macro precision and recall). Macro means run over the
    labels that occur in the test set (expected or predicted); a label listed only
    through ``labels=`` is reported with zero counts but does not drag the mean down.

Confusion matrix
    Rows are expected labels, columns predicted ones; only non-zero cells are kept;
    ``normalizedValue`` is the percentage of the row total. For entities ``$none``
    means "no entity": each expected entity spreads a weight of 1 over the
    categories predicted on its characters (characters with no prediction go to
    column ``$none``), which is how partial overlaps give fractional ``rawValue``s;
    the part of an unmatched prediction lying outside every expected entity goes to
    row ``$none``; and, when texts are given, cell ``$none``/``$none`` counts the
    tokens outside all expected and predicted entities (fractional when a token is
    partly covered).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import regex

from training.engine.intents import apply_threshold
from training.engine.splits import kfold_indices

NONE_ENTITY = "$none"

_TOKEN = regex.compile(r"\w+")


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated (mismatched lengths, bad spans)."""


class SpanLike(Protocol):
    """Anything with a category and code-point offset/length (Span, EntityMatch)."""

    @property
    def category(self) -> str: ...

    @property
    def offset(self) -> int: ...

    @property
    def length(self) -> int: ...


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


@dataclass(frozen=True, slots=True)
class LabelMetrics:
    """Counts and scores of one intent or entity."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    @property
    def support(self) -> int:
        """Number of expected occurrences in the test set."""
        return self.tp + self.fn

    def to_azure(self) -> dict[str, Any]:
        return {
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "truePositiveCount": self.tp,
            "trueNegativeCount": self.tn,
            "falsePositiveCount": self.fp,
            "falseNegativeCount": self.fn,
        }


@dataclass(frozen=True)
class _Evaluation:
    """Per-label metrics, their micro/macro aggregates and the confusion matrix."""

    labels: tuple[str, ...]
    per_label: dict[str, LabelMetrics]
    # confusion[expected][predicted] = raw count; only non-zero cells.
    confusion: dict[str, dict[str, float]]
    _labels_key: ClassVar[str] = ""

    @property
    def _present(self) -> list[LabelMetrics]:
        return [m for m in self.per_label.values() if m.tp or m.fp or m.fn]

    @property
    def micro_precision(self) -> float:
        tp = sum(m.tp for m in self.per_label.values())
        return _ratio(tp, tp + sum(m.fp for m in self.per_label.values()))

    @property
    def micro_recall(self) -> float:
        tp = sum(m.tp for m in self.per_label.values())
        return _ratio(tp, tp + sum(m.fn for m in self.per_label.values()))

    @property
    def micro_f1(self) -> float:
        return _f1(self.micro_precision, self.micro_recall)

    @property
    def macro_precision(self) -> float:
        present = self._present
        return _ratio(sum(m.precision for m in present), len(present))

    @property
    def macro_recall(self) -> float:
        present = self._present
        return _ratio(sum(m.recall for m in present), len(present))

    @property
    def macro_f1(self) -> float:
        present = self._present
        return _ratio(sum(m.f1 for m in present), len(present))

    def normalized_confusion(self) -> dict[str, dict[str, float]]:
        """Each cell as a percentage (0-100) of its row total."""
        result: dict[str, dict[str, float]] = {}
        for expected, row in self.confusion.items():
            total = sum(row.values())
            result[expected] = {
                predicted: _ratio(100.0 * value, total)
                for predicted, value in row.items()
            }
        return result

    def _azure_matrix(self) -> dict[str, dict[str, dict[str, float]]]:
        normalized = self.normalized_confusion()
        return {
            expected: {
                predicted: {
                    "normalizedValue": normalized[expected][predicted],
                    "rawValue": float(value),
                }
                for predicted, value in row.items()
            }
            for expected, row in self.confusion.items()
        }

    def to_azure(self) -> dict[str, Any]:
        """Azure's ``intentsEvaluation`` / ``entitiesEvaluation`` object."""
        return {
            "confusionMatrix": self._azure_matrix(),
            self._labels_key: {
                label: metrics.to_azure() for label, metrics in self.per_label.items()
            },
            "microF1": self.micro_f1,
            "microPrecision": self.micro_precision,
            "microRecall": self.micro_recall,
            "macroF1": self.macro_f1,
            "macroPrecision": self.macro_precision,
            "macroRecall": self.macro_recall,
        }


@dataclass(frozen=True)
class IntentEvaluation(_Evaluation):
    total: int = 0
    _labels_key: ClassVar[str] = "intents"

    @property
    def accuracy(self) -> float:
        correct = sum(m.tp for m in self.per_label.values())
        return _ratio(correct, self.total)


@dataclass(frozen=True)
class EntityEvaluation(_Evaluation):
    _labels_key: ClassVar[str] = "entities"


def _label_order(labels: Sequence[str] | None, seen: Iterable[str]) -> tuple[str, ...]:
    ordered = list(dict.fromkeys(labels or ()))
    known = set(ordered)
    ordered.extend(sorted({label for label in seen if label not in known}))
    return tuple(ordered)


def evaluate_intents(
    expected: Sequence[str],
    predicted: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
) -> IntentEvaluation:
    """Azure intent metrics for parallel lists of expected and predicted intents.

    ``labels`` (e.g. all the project's intents) fixes the reporting order and adds
    zero-count entries for intents absent from the test set; intents seen in the data
    but missing from ``labels`` are still reported, after them.
    """
    if len(expected) != len(predicted):
        raise EvaluationError(
            f"{len(expected)} expected intents but {len(predicted)} predictions"
        )
    pairs = Counter(zip(expected, predicted, strict=True))
    order = _label_order(labels, [*expected, *predicted])
    total = len(expected)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusion: dict[str, dict[str, float]] = defaultdict(dict)
    for (truth, guess), count in pairs.items():
        confusion[truth][guess] = float(count)
        if truth == guess:
            tp[truth] += count
        else:
            fn[truth] += count
            fp[guess] += count
    per_label = {
        label: LabelMetrics(
            tp=tp[label],
            fp=fp[label],
            fn=fn[label],
            tn=total - tp[label] - fp[label] - fn[label],
        )
        for label in order
    }
    return IntentEvaluation(
        labels=order,
        per_label=per_label,
        confusion=_ordered_matrix(confusion, order),
        total=total,
    )


def _ordered_matrix(
    confusion: Mapping[str, Mapping[str, float]], order: Sequence[str]
) -> dict[str, dict[str, float]]:
    rank = {label: i for i, label in enumerate(order)}
    last = len(order)

    def key(label: str) -> tuple[int, str]:
        return (rank.get(label, last), label)

    return {
        row: {col: confusion[row][col] for col in sorted(confusion[row], key=key)}
        for row in sorted(confusion, key=key)
        if confusion[row]
    }


def _check_spans(spans: Sequence[SpanLike], utterance: int, which: str) -> None:
    for span in spans:
        if span.offset < 0 or span.length <= 0:
            raise EvaluationError(
                f"utterance {utterance}: {which} entity {span.category!r} has "
                f"offset {span.offset} and length {span.length}"
            )


def _coverage(spans: Sequence[SpanLike], start: int, end: int) -> list[list[str]]:
    """For each character in [start, end), the categories of spans covering it."""
    covered: list[list[str]] = [[] for _ in range(end - start)]
    for span in spans:
        lo = max(span.offset, start)
        hi = min(span.offset + span.length, end)
        for position in range(lo, hi):
            covered[position - start].append(span.category)
    return covered


def _spread(
    row: dict[str, float], covered: list[list[str]], *, empty: str | None
) -> None:
    """Add one unit spread evenly over the characters and their categories."""
    share = 1.0 / len(covered)
    for categories in covered:
        if categories:
            for category in categories:
                row[category] = row.get(category, 0.0) + share / len(categories)
        elif empty is not None:
            row[empty] = row.get(empty, 0.0) + share


def evaluate_entities(
    expected: Sequence[Sequence[SpanLike]],
    predicted: Sequence[Sequence[SpanLike]],
    *,
    texts: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> EntityEvaluation:
    """Azure entity metrics for per-utterance lists of expected and predicted spans.

    Spans are anything with ``category``, ``offset`` and ``length`` in code points
    (``Span``, ``EntityMatch``). ``texts`` (the utterances) only feeds the
    ``$none``/``$none`` cell of the confusion matrix.
    """
    if len(expected) != len(predicted):
        raise EvaluationError(
            f"{len(expected)} expected entity lists but {len(predicted)} predicted"
        )
    if texts is not None and len(texts) != len(expected):
        raise EvaluationError(f"{len(texts)} texts for {len(expected)} entity lists")
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusion: dict[str, dict[str, float]] = defaultdict(dict)
    seen: set[str] = set()
    for index, (truth, guess) in enumerate(zip(expected, predicted, strict=True)):
        _check_spans(truth, index, "expected")
        _check_spans(guess, index, "predicted")
        seen.update(span.category for span in truth)
        seen.update(span.category for span in guess)
        # Each prediction can match one expected span; what is left over is FP.
        leftover = Counter((s.category, s.offset, s.length) for s in guess)
        for span in truth:
            key = (span.category, span.offset, span.length)
            if leftover[key] > 0:
                leftover[key] -= 1
                tp[span.category] += 1
                row = confusion[span.category]
                row[span.category] = row.get(span.category, 0.0) + 1.0
            else:
                fn[span.category] += 1
                covered = _coverage(guess, span.offset, span.offset + span.length)
                _spread(confusion[span.category], covered, empty=NONE_ENTITY)
        for span in guess:
            key = (span.category, span.offset, span.length)
            if leftover[key] <= 0:
                continue
            leftover[key] -= 1
            fp[span.category] += 1
            # The part of the prediction that lies on expected entities is already
            # counted in those entities' rows; only the rest is spurious.
            covered = _coverage(truth, span.offset, span.offset + span.length)
            outside = [[span.category] if not c else [] for c in covered]
            _spread(confusion[NONE_ENTITY], outside, empty=None)
        if texts is not None:
            _count_unlabelled_tokens(confusion, texts[index], [*truth, *guess])
    order = _label_order(labels, seen)
    per_label = {
        label: LabelMetrics(tp=tp[label], fp=fp[label], fn=fn[label], tn=0)
        for label in order
    }
    return EntityEvaluation(
        labels=order,
        per_label=per_label,
        confusion=_ordered_matrix(confusion, [*order, NONE_ENTITY]),
    )


def _count_unlabelled_tokens(
    confusion: dict[str, dict[str, float]], text: str, spans: Sequence[SpanLike]
) -> None:
    covered = [False] * len(text)
    for span in spans:
        for position in range(span.offset, min(span.offset + span.length, len(text))):
            covered[position] = True
    total = 0.0
    for token in _TOKEN.finditer(text):
        free = sum(1 for p in range(token.start(), token.end()) if not covered[p])
        total += free / (token.end() - token.start())
    if total:
        row = confusion[NONE_ENTITY]
        row[NONE_ENTITY] = row.get(NONE_ENTITY, 0.0) + total


_EMPTY_ENTITIES: dict[str, Any] = {
    "confusionMatrix": {},
    "entities": {},
    "microF1": 0.0,
    "microPrecision": 0.0,
    "microRecall": 0.0,
    "macroF1": 0.0,
    "macroPrecision": 0.0,
    "macroRecall": 0.0,
}


def evaluation_summary(
    intents: IntentEvaluation,
    entities: EntityEvaluation | None,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """The body of ``GET .../evaluation/summary-result``.

    ``entities=None`` (orchestration projects) still gives an ``entitiesEvaluation``
    object, empty with zero metrics, because Azure's schema requires it.
    ``options`` is the model's ``evaluationOptions`` as stored at training time.
    """
    return {
        "intentsEvaluation": intents.to_azure(),
        "entitiesEvaluation": (
            entities.to_azure() if entities is not None else dict(_EMPTY_ENTITIES)
        ),
        "evaluationOptions": dict(options),
    }


def _span_dict(span: SpanLike) -> dict[str, Any]:
    return {"category": span.category, "offset": span.offset, "length": span.length}


def utterance_result(
    text: str,
    language: str | None,
    expected_intent: str,
    predicted_intent: str,
    expected_spans: Sequence[SpanLike] = (),
    predicted_spans: Sequence[SpanLike] = (),
) -> dict[str, Any]:
    """One item of ``GET .../evaluation/result``; offsets stay as given."""
    return {
        "text": text,
        "language": language,
        "intentsResult": {
            "expectedIntent": expected_intent,
            "predictedIntent": predicted_intent,
        },
        "entitiesResult": {
            "expectedEntities": [_span_dict(s) for s in expected_spans],
            "predictedEntities": [_span_dict(s) for s in predicted_spans],
        },
    }


FitPredict = Callable[[list[str], list[str], list[str]], list[str]]


def _fold_metrics(evaluation: IntentEvaluation) -> dict[str, float]:
    return {
        "accuracy": evaluation.accuracy,
        "microF1": evaluation.micro_f1,
        "microPrecision": evaluation.micro_precision,
        "microRecall": evaluation.micro_recall,
        "macroF1": evaluation.macro_f1,
        "macroPrecision": evaluation.macro_precision,
        "macroRecall": evaluation.macro_recall,
    }


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    k: int,
    fit_predict: FitPredict,
    seed: int = 0,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of an intent classifier.

    ``fit_predict(train_texts, train_labels, test_texts)`` trains a fresh model and
    returns one predicted intent per test text. The result holds each fold's
    metrics, their mean and standard deviation, and ``pooled``: Azure's
    ``intentsEvaluation`` over all folds' predictions together (every utterance is
    predicted exactly once, by the model that did not see it).
    """
    if len(texts) != len(labels):
        raise EvaluationError(f"{len(texts)} texts but {len(labels)} labels")
    folds = kfold_indices(labels, k=k, seed=seed)
    pooled: list[str] = [""] * len(texts)
    fold_results: list[dict[str, Any]] = []
    for number, (train, test) in enumerate(folds):
        predictions = list(
            fit_predict(
                [texts[i] for i in train],
                [labels[i] for i in train],
                [texts[i] for i in test],
            )
        )
        if len(predictions) != len(test):
            raise EvaluationError(
                f"fold {number}: fit_predict returned {len(predictions)} predictions "
                f"for {len(test)} test texts"
            )
        for index, prediction in zip(test, predictions, strict=True):
            pooled[index] = prediction
        evaluation = evaluate_intents(
            [labels[i] for i in test], predictions, labels=sorted(set(labels))
        )
        fold_results.append(
            {
                "fold": number,
                "trainSize": len(train),
                "testSize": len(test),
                **_fold_metrics(evaluation),
            }
        )
    overall = evaluate_intents(list(labels), pooled, labels=sorted(set(labels)))
    metric_names = list(_fold_metrics(overall))
    return {
        "k": k,
        "seed": seed,
        "folds": fold_results,
        "mean": {
            name: statistics.fmean(fold[name] for fold in fold_results)
            for name in metric_names
        },
        "std": {
            name: statistics.pstdev(fold[name] for fold in fold_results)
            for name in metric_names
        },
        "pooled": {"accuracy": overall.accuracy, **overall.to_azure()},
    }


CALIBRATION_BINS = 10


def calibration_report(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    bins: int = CALIBRATION_BINS,
) -> dict[str, Any]:
    """How far the top intent's confidence is from how often it is right.

    ``confidences`` are the top intents' probabilities on the test utterances and
    ``correct`` says which top intents were the labeled ones. The utterances go
    into ``bins`` equal-width confidence bins (a confidence of exactly 1 in the
    last one); the expected calibration error (ECE) is the mean over utterances of
    ``|accuracy of its bin - mean confidence of its bin|``, as in Guo et al.
    (2017). Each bin is a bar of the score histogram, with its accuracy for a
    reliability diagram. ``runnerUpMass`` is the mean probability left for the
    other intents.
    """
    if len(confidences) != len(correct):
        raise EvaluationError(
            f"{len(confidences)} confidences but {len(correct)} correctness flags"
        )
    if bins < 1:
        raise EvaluationError(f"bins must be at least 1, got {bins}")
    counts = [0] * bins
    right = [0] * bins
    sums = [0.0] * bins
    for confidence, ok in zip(confidences, correct, strict=True):
        value = min(1.0, max(0.0, float(confidence)))
        k = min(bins - 1, int(value * bins))
        counts[k] += 1
        right[k] += 1 if ok else 0
        sums[k] += value
    total = len(confidences)
    ece = sum(
        abs(right[k] - sums[k]) for k in range(bins) if counts[k]
    )  # sum over bins of n_k * |acc_k - conf_k|
    return {
        "expectedCalibrationError": _ratio(ece, total),
        "averageConfidence": _ratio(sum(sums), total),
        "accuracy": _ratio(sum(right), total),
        "runnerUpMass": _ratio(total - sum(sums), total),
        "utteranceCount": total,
        "bins": [
            {
                "lowerBound": k / bins,
                "upperBound": (k + 1) / bins,
                "count": counts[k],
                "accuracy": _ratio(right[k], counts[k]),
                "averageConfidence": _ratio(sums[k], counts[k]),
            }
            for k in range(bins)
        ],
    }


def threshold_report(
    expected: Sequence[str],
    top_intents: Sequence[str],
    confidences: Sequence[float],
    *,
    threshold: float,
    per_intent: Mapping[str, float] | None = None,
    none_label: str = "None",
) -> dict[str, Any]:
    """What the project's confidence threshold does on the test utterances.

    Each utterance is answered as the runtime answers it (:func:`apply_threshold`,
    with the intents' own thresholds in ``per_intent`` when given): its top intent,
    or ``none_label`` below the threshold. Utterances labelled ``none_label`` are
    the out-of-scope ones. ``inScopeAccuracy``: share of the others answered with
    their own intent; ``oosRecall``: share of the out-of-scope ones answered
    ``none_label``; ``oosPrecision``: share of ``none_label`` answers that were
    out of scope. A share with nothing to count is ``None`` (e.g. no out-of-scope
    utterance in the test set).
    """
    if not len(expected) == len(top_intents) == len(confidences):
        raise EvaluationError(
            f"{len(expected)} expected intents, {len(top_intents)} predictions and "
            f"{len(confidences)} confidences must pair up"
        )
    answered = [
        apply_threshold(
            [(intent, float(confidence))],
            threshold,
            none_label,
            per_intent=per_intent,
        )
        for intent, confidence in zip(top_intents, confidences, strict=True)
    ]
    in_scope = [
        answer == truth
        for answer, truth in zip(answered, expected, strict=True)
        if truth != none_label
    ]
    oos = [
        answer == none_label
        for answer, truth in zip(answered, expected, strict=True)
        if truth == none_label
    ]
    refusals = sum(1 for answer in answered if answer == none_label)

    def share(hits: int, total: int) -> float | None:
        return hits / total if total else None

    return {
        "inScopeAccuracy": share(sum(in_scope), len(in_scope)),
        "oosRecall": share(sum(oos), len(oos)),
        "oosPrecision": share(sum(oos), refusals),
        "inScopeCount": len(in_scope),
        "oosCount": len(oos),
        "refusedCount": refusals,
    }
