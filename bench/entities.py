"""Entity benchmark: exact-span micro precision/recall/F1 on Azure's CLU samples.

Reads ``azure-language-samples/CLU/{EmailAppDemo,HomeAutomationDemo}.json`` under
the data directory (default ``<repo>/../shared/data``), converts their UTF-16
offsets to code points, splits 80/20 stratified by intent (seed 0, the engine's
``percentage_split``), fits ``EntityExtractor`` on the train part with the
project's own entity definitions, and scores the test part. A prediction counts
only when category, offset and length all equal a labelled span.

ATIS (``atis/atis_clu.json``, 83 entity types) is scored on its own ``Train`` /
``Test`` datasets, as a user importing it with a manual split would train, beside
a CRF baseline with simple word features (python-crfsuite, 100 iterations)
trained on the same data in the same run; training times are wall and CPU
seconds, so a busy machine can be read as a ratio. Two more rows time a training
job's fit phase (standard intents and entities) with the entity fit after the
intent fit in one process, and side by side as jobs run it (the entity fit in a
child process, ``training.engine.child``).

The engine fits with the word classes of the static word vector table, as a
training job of an English project does (``--static-vectors DIR``, default
``STUDIO_STATIC_VECTORS`` or ``var/static-vectors``, built if missing; ``off``:
without them). ATIS's engine time includes computing the classes from the table.

    python -m bench.entities [--data PATH] [--atis] [--static-vectors DIR|off]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.data import default_data_dir
from training.engine.child import ChildFit
from training.engine.entities import EntityExtractor, definition_from_exported
from training.engine.entities.learned import (
    OUTSIDE,
    WordClusters,
    bio_labels,
    vector_classes,
)
from training.engine.entities.tokens import tokenize
from training.engine.evaluation import evaluate_entities
from training.engine.intents import IntentClassifier
from training.engine.offsets import StringIndexType, parse_index_type, to_code_points
from training.engine.splits import percentage_split
from training.engine.static_vectors import StaticVectors
from training.engine.types import Span

SAMPLES = ("EmailAppDemo", "HomeAutomationDemo")
SEED = 0


def load_sample(
    path: Path,
) -> tuple[dict[str, Any], list[str], list[list[Span]], list[str], list[str]]:
    """(project, texts, code-point spans, intents, languages) of one export."""
    project = json.loads(path.read_text(encoding="utf-8"))
    index_type = parse_index_type(project.get("stringIndexType"))
    default_language = project["metadata"].get("language", "en")
    texts: list[str] = []
    spans: list[list[Span]] = []
    intents: list[str] = []
    languages: list[str] = []
    for utterance in project["assets"]["utterances"]:
        text = utterance["text"]
        labelled = []
        for entity in utterance.get("entities") or []:
            offset, length = to_code_points(
                text, entity["offset"], entity["length"], index_type
            )
            labelled.append(Span(entity["category"], offset, length))
        texts.append(text)
        spans.append(labelled)
        intents.append(utterance.get("intent") or "None")
        languages.append(utterance.get("language") or default_language)
    return project, texts, spans, intents, languages


def micro_prf(
    expected: list[list[Span]], predicted: list[list[Span]]
) -> dict[str, float]:
    """Micro precision, recall and F1 in percent, by the engine's evaluation."""
    scores = evaluate_entities(expected, predicted)
    return {
        "precision": round(100 * scores.micro_precision, 2),
        "recall": round(100 * scores.micro_recall, 2),
        "f1": round(100 * scores.micro_f1, 2),
    }


def evaluate_sample(path: Path, table: StaticVectors | None = None) -> dict[str, float]:
    project, texts, spans, intents, languages = load_sample(path)
    definitions = [
        definition_from_exported(item) for item in project["assets"]["entities"]
    ]
    train, test = percentage_split(intents, training_percent=80, seed=SEED)
    started = time.perf_counter()
    extractor = EntityExtractor.fit(
        definitions,
        [texts[i] for i in train],
        [spans[i] for i in train],
        language=project["metadata"].get("language", "en"),
        word_classes=None if table is None else vector_classes(table),
    )
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    predicted = [
        [m.as_span() for m in extractor.predict(texts[i], language=languages[i])]
        for i in test
    ]
    predict_ms = 1000 * (time.perf_counter() - started) / max(len(test), 1)
    scores = micro_prf([spans[i] for i in test], predicted)
    # HomeAutomationDemo lists device names it never labels, so every list match
    # counts as a false positive above; this view scores labelled categories only.
    labelled = {s.category for i in train for s in spans[i]}
    restricted = micro_prf(
        [spans[i] for i in test],
        [[s for s in guess if s.category in labelled] for guess in predicted],
    )
    scores.update({f"{k}_labelled_only": v for k, v in restricted.items()})
    scores["train_s"] = round(fit_s, 2)
    scores["predict_ms"] = round(predict_ms, 3)
    return scores


def _baseline_features(words: list[str]) -> list[list[str]]:
    """Simple word features: the word, its suffix and shape, the neighbours."""
    features = []
    for i, word in enumerate(words):
        low = word.lower()
        f = ["bias", "w=" + low, "s3=" + low[-3:], f"title={word[:1].isupper()}"]
        f.append(f"digit={word.isdigit()}")
        f.append("-1w=" + words[i - 1].lower() if i else "BOS")
        f.append("+1w=" + words[i + 1].lower() if i + 1 < len(words) else "EOS")
        features.append(f)
    return features


def _baseline_crf(
    train: list[tuple[str, list[Span]]], test: list[str]
) -> list[list[Span]]:
    """A plain BIO CRF on tokens (the reference entity training is measured by)."""
    import os
    import tempfile

    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for text, labelled in train:
        tokens = tokenize(text)
        if tokens:
            trainer.append(
                _baseline_features([t.text for t in tokens]),
                bio_labels(tokens, labelled),
            )
    trainer.set_params({"c1": 0.1, "c2": 0.01, "max_iterations": 100})
    handle, path = tempfile.mkstemp(suffix=".crfsuite")
    os.close(handle)
    try:
        trainer.train(path)
        tagger = pycrfsuite.Tagger()
        tagger.open(path)
        predicted: list[list[Span]] = []
        for text in test:
            tokens = tokenize(text)
            labels = tagger.tag(_baseline_features([t.text for t in tokens]))
            found: list[Span] = []
            i = 0
            while i < len(labels):
                if labels[i] == OUTSIDE:
                    i += 1
                    continue
                category = labels[i][2:]
                j = i + 1
                while j < len(labels) and labels[j] == "I-" + category:
                    j += 1
                start, end = tokens[i].start, tokens[j - 1].end
                found.append(Span(category, start, end - start))
                i = j
            predicted.append(found)
        tagger.close()
    finally:
        os.unlink(path)
    return predicted


def _job_fit_times(
    definitions: list[Any],
    texts: list[str],
    spans: list[list[Span]],
    intents: list[str],
    *,
    language: str,
    entity_fit_s: float,
    word_classes: WordClusters | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Wall seconds of a training job's fit phase (standard intents + entities):
    one after the other in one process (the entity fit measured above), and as the
    job runs them, the entity fit in a child process beside the intent fit."""
    wall = time.perf_counter()
    IntentClassifier.fit(texts, intents, mode="standard")
    intent_s = time.perf_counter() - wall
    wall = time.perf_counter()
    with ChildFit(
        EntityExtractor.fit,
        definitions,
        texts,
        spans,
        language=language,
        word_classes=word_classes,
    ) as fit:
        IntentClassifier.fit(texts, intents, mode="standard")
        fit.wait()
    parallel_s = time.perf_counter() - wall
    return (
        {"train_s": round(intent_s + entity_fit_s, 2)},
        {"train_s": round(parallel_s, 2)},
    )


def evaluate_atis(
    path: Path, table: StaticVectors | None = None
) -> dict[str, dict[str, float]]:
    """The engine and the baseline CRF on ATIS's Train/Test datasets."""
    project, texts, spans, intents, languages = load_sample(path)
    datasets = [u.get("dataset") for u in project["assets"]["utterances"]]
    train = [i for i, d in enumerate(datasets) if d != "Test"]
    test = [i for i, d in enumerate(datasets) if d == "Test"]
    definitions = [
        definition_from_exported(item) for item in project["assets"]["entities"]
    ]
    language = project["metadata"].get("language", "en")
    expected = [spans[i] for i in test]
    results: dict[str, dict[str, float]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    # Cold: the classes are computed here, not taken from the process's memo.
    classes = (
        None if table is None else WordClusters.from_vectors(table.words, table.rows)
    )
    extractor = EntityExtractor.fit(
        definitions,
        [texts[i] for i in train],
        [spans[i] for i in train],
        language=language,
        word_classes=classes,
    )
    fit_s, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    predicted = [
        [m.as_span() for m in extractor.predict(texts[i], language=languages[i])]
        for i in test
    ]
    results["engine"] = {
        **micro_prf(expected, predicted),
        "train_s": round(fit_s, 2),
        "train_cpu_s": round(fit_cpu, 2),
    }
    results["job fit, one after other"], results["job fit, side by side"] = (
        _job_fit_times(
            definitions,
            [texts[i] for i in train],
            [spans[i] for i in train],
            [intents[i] for i in train],
            language=language,
            entity_fit_s=fit_s,
            word_classes=classes,
        )
    )
    wall, cpu = time.perf_counter(), time.process_time()
    baseline = _baseline_crf(
        [(texts[i], spans[i]) for i in train], [texts[i] for i in test]
    )
    results["baseline CRF"] = {
        **micro_prf(expected, baseline),
        "train_s": round(time.perf_counter() - wall, 2),
        "train_cpu_s": round(time.process_time() - cpu, 2),
    }
    return results


def run(
    data_dir: Path, table: StaticVectors | None = None
) -> dict[str, dict[str, float]]:
    """``{"EmailAppDemo": {"precision", "recall", "f1", ...}, ...}`` in percent
    (plus ``train_s`` and ``predict_ms`` per sample)."""
    folder = Path(data_dir) / "azure-language-samples" / "CLU"
    return {name: evaluate_sample(folder / f"{name}.json", table) for name in SAMPLES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data dir")
    parser.add_argument(
        "--atis", action="store_true", help="also ATIS beside a baseline CRF"
    )
    parser.add_argument(
        "--static-vectors",
        default="",
        help="static word vector table directory (default: $STUDIO_STATIC_VECTORS "
        "or var/static-vectors; built if missing); off: no word classes",
    )
    args = parser.parse_args(argv)
    data_dir = args.data or default_data_dir()
    from bench.engine import static_table

    table = static_table(args.static_vectors)
    results = run(data_dir, table)
    print(
        f"{'sample':<22}{'P':>7}{'R':>7}{'F1':>7}{'F1 labelled-only':>18}"
        f"{'train s':>9}{'ms/utt':>8}"
    )
    for name, scores in results.items():
        print(
            f"{name:<22}{scores['precision']:>7.1f}{scores['recall']:>7.1f}"
            f"{scores['f1']:>7.1f}{scores['f1_labelled_only']:>18.1f}"
            f"{scores['train_s']:>9.2f}{scores['predict_ms']:>8.2f}"
        )
    print(
        f"(exact-span micro P/R/F1 in %, 80/20 split stratified by intent, seed "
        f"{SEED}; offsets read as {StringIndexType.UTF16_CODE_UNIT} when the file "
        "says so)"
    )
    if args.atis:
        print()
        print(
            f"{'ATIS (Train/Test)':<22}{'P':>7}{'R':>7}{'F1':>7}"
            f"{'train s':>9}{'CPU s':>8}"
        )
        atis = evaluate_atis(data_dir / "atis" / "atis_clu.json", table)
        for name, scores in atis.items():
            if "f1" not in scores:
                print(f"{name:<43}{scores['train_s']:>9.1f}")
                continue
            print(
                f"{name:<22}{scores['precision']:>7.1f}{scores['recall']:>7.1f}"
                f"{scores['f1']:>7.1f}{scores['train_s']:>9.1f}"
                f"{scores['train_cpu_s']:>8.1f}"
            )


if __name__ == "__main__":
    main()
