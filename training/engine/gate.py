"""The deploy gate's comparison: two models' top intents on the same labeled
utterances, as accuracy and macro-F1 (overall and per intent), the predictions that
changed and the new errors. Pure Python: the Django side
(``training/services/gate.py``) loads the models and the set.

Both models are scored on every item by its top intent without the confidence
threshold, as the evaluation does (the threshold is a setting that can change without
retraining). Macro-F1 averages the intents that occur in the set, as expected or as
predicted by either model, so that both sides are averaged over the same intents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from training.engine.bundles import ConversationBundle, OrchestrationBundle

# Changed predictions and new errors listed in full up to this many (counts are exact).
MAX_LISTED = 50


def predict_top_intents(
    bundle: ConversationBundle | OrchestrationBundle, texts: Sequence[str]
) -> list[str]:
    """The top intent of each text (one vectorized pass)."""
    if not texts:
        return []
    if bundle.intents is None:
        return [bundle.single_intent or "None"] * len(texts)
    return list(bundle.intents.predict_batch(list(texts)))


@dataclass(frozen=True, slots=True)
class Scores:
    accuracy: float
    macro_f1: float
    per_intent: dict[str, float]  # intent -> F1

    def as_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macroF1": self.macro_f1,
            "perIntentF1": self.per_intent,
        }


def _f1(tp: int, fp: int, fn: int) -> float:
    if tp == 0:
        return 0.0
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def scores(
    expected: Sequence[str], predicted: Sequence[str], intents: Sequence[str]
) -> Scores:
    """Accuracy, per-intent F1 and their macro average, counted in one pass over the
    set (not one per intent: 10,000 utterances x 150 intents, bench/gate.py)."""
    total = len(expected)
    right: Counter[str] = Counter()
    as_expected: Counter[str] = Counter(expected)
    as_predicted: Counter[str] = Counter(predicted)
    for e, p in zip(expected, predicted, strict=True):
        if e == p:
            right[e] += 1
    per_intent: dict[str, float] = {}
    for intent in intents:
        tp = right[intent]
        per_intent[intent] = _f1(
            tp, as_predicted[intent] - tp, as_expected[intent] - tp
        )
    macro = sum(per_intent.values()) / len(per_intent) if per_intent else 0.0
    return Scores(
        accuracy=right.total() / total if total else 0.0,
        macro_f1=macro,
        per_intent=per_intent,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """The candidate against the serving model on ``count`` utterances."""

    count: int
    serving: Scores
    candidate: Scores
    changed_count: int
    new_error_count: int
    fixed_count: int
    # [{"text", "expected", "serving", "candidate"}], at most MAX_LISTED each.
    changed: list[dict[str, str]] = field(default_factory=list)
    new_errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def accuracy_drop_points(self) -> float:
        """How many accuracy points the candidate loses (negative: it gains)."""
        return round((self.serving.accuracy - self.candidate.accuracy) * 100, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "utteranceCount": self.count,
            "serving": self.serving.as_json(),
            "candidate": self.candidate.as_json(),
            "accuracyDropPoints": self.accuracy_drop_points,
            "changedCount": self.changed_count,
            "newErrorCount": self.new_error_count,
            "fixedCount": self.fixed_count,
            "changed": self.changed,
            "newErrors": self.new_errors,
        }


def compare(
    *,
    texts: Sequence[str],
    expected: Sequence[str],
    serving: Sequence[str],
    candidate: Sequence[str],
) -> Comparison:
    """Compare two models' predictions of the same labeled texts."""
    intents = sorted(set(expected) | set(serving) | set(candidate))
    changed: list[dict[str, str]] = []
    new_errors: list[dict[str, str]] = []
    changed_count = new_error_count = fixed_count = 0
    for text, e, s, c in zip(texts, expected, serving, candidate, strict=True):
        if s == c:
            continue
        changed_count += 1
        row = {"text": text, "expected": e, "serving": s, "candidate": c}
        if len(changed) < MAX_LISTED:
            changed.append(row)
        if s == e:
            new_error_count += 1
            if len(new_errors) < MAX_LISTED:
                new_errors.append(row)
        elif c == e:
            fixed_count += 1
    return Comparison(
        count=len(texts),
        serving=scores(expected, serving, intents),
        candidate=scores(expected, candidate, intents),
        changed_count=changed_count,
        new_error_count=new_error_count,
        fixed_count=fixed_count,
        changed=changed,
        new_errors=new_errors,
    )
