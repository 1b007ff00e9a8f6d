"""Feature choices for the learned entity model, compared on a validation fold.

ATIS's ``Train`` dataset only (``atis/atis_clu.json``), split 80/20 stratified by
intent (seed 0, the engine's ``percentage_split``); the ``Test`` dataset is never
read, so what this picks can then be measured once on it by ``bench.entities
--atis``. Each variant sets the neighbour window and word clusters of
``training.engine.entities.learned.token_features``, may add feature strings to
what it gives, or changes the CRF's regularisation, and trains the same CRF. The
table gives exact-span micro F1 on the validation part, training CPU seconds
(clusters + features + CRF) and the tagging cost per utterance.

``vectors`` takes its word classes from the static word vector table instead
(``WordClusters.from_vectors``: hierarchical k-means of the table's rows, the
engine's branching, or e.g. ``vectors=8x8x8``); the table is read from
``--static-vectors`` (default ``STUDIO_STATIC_VECTORS`` or var/static-vectors,
built if missing). Their CPU seconds are counted in the variant's training CPU.

    python -m bench.entity_features [--variants window2,window4+clusters,...]
    python -m bench.entity_features --sample EmailAppDemo --variants ...
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import default_data_dir
from bench.entities import SAMPLES, SEED, load_sample, micro_prf
from training.engine.entities.learned import (
    C1,
    C2,
    VECTOR_BRANCHING,
    LearnedTagger,
    WordClusters,
    bio_labels,
    token_features,
)
from training.engine.entities.tokens import Token, tokenize
from training.engine.splits import percentage_split
from training.engine.static_vectors import StaticVectors
from training.engine.text import normalize
from training.engine.types import Span

Extra = Callable[[list[Token], list[list[str]], WordClusters | None], None]


def _neighbour_bigrams(
    tokens: list[Token], features: list[list[str]], _: WordClusters | None
) -> None:
    words = [t.text.lower() for t in tokens]
    n = len(words)
    for i, f in enumerate(features):
        if i >= 2:
            f.append(f"bi-2={words[i - 2]}|{words[i - 1]}")
        if i + 2 < n:
            f.append(f"bi+2={words[i + 1]}|{words[i + 2]}")


def _affix4(
    tokens: list[Token], features: list[list[str]], _: WordClusters | None
) -> None:
    for token, f in zip(tokens, features, strict=True):
        norm = normalize(token.text)
        if len(norm) > 4:
            f.extend(("p4=" + norm[:4], "s4=" + norm[-4:]))


def _far_words(
    tokens: list[Token], features: list[list[str]], _: WordClusters | None
) -> None:
    """Every word beyond the 4-word window, as a bag per side: "arriving" eight
    words before "afternoon" makes it an arrival time."""
    words = [t.text.lower() for t in tokens]
    for i, f in enumerate(features):
        f.extend(sorted({"L=" + w for w in words[: max(0, i - 4)]}))
        f.extend(sorted({"R=" + w for w in words[i + 5 :]}))


def _classes(
    clusters: WordClusters | None, tokens: list[Token]
) -> list[tuple[int, ...]]:
    if clusters is None:
        raise SystemExit("this variant needs word classes (+vectors)")
    return [clusters.table.get(normalize(t.text), ()) for t in tokens]


def _class_window4(
    tokens: list[Token], features: list[list[str]], clusters: WordClusters | None
) -> None:
    """The classes of the neighbours at distance 3 and 4 too (the engine: 2)."""
    if clusters is None:
        raise SystemExit("cwin4 needs word classes (+vectors)")
    n = len(tokens)
    for i, f in enumerate(features):
        for d in (-4, -3, 3, 4):
            if 0 <= i + d < n:
                f.extend(clusters.features(normalize(tokens[i + d].text), f"{d}"))


def _class_bigrams(
    tokens: list[Token], features: list[list[str]], clusters: WordClusters | None
) -> None:
    """Conjunctions of a word with its neighbours' finest class, and of the
    classes of neighbouring words: "from <city class>", "<city> to"."""
    ids = _classes(clusters, tokens)
    words = [t.text.lower() for t in tokens]
    n = len(tokens)
    fine = [c[-1] if c else "-" for c in ids]
    coarse = [c[0] if c else "-" for c in ids]
    for i, f in enumerate(features):
        if i > 0:
            f.append(f"wc-={words[i - 1]}|{fine[i]}")
            f.append(f"cc-={coarse[i - 1]}|{coarse[i]}")
        if i + 1 < n:
            f.append(f"wc+={fine[i]}|{words[i + 1]}")
            f.append(f"cc+={coarse[i]}|{coarse[i + 1]}")


def _cue_words(
    tokens: list[Token], features: list[list[str]], _: WordClusters | None
) -> None:
    """The nearest word before the token that ends in "-ing" or is one of the
    short words of at most 4 letters ("from", "to", "on", "at"), beyond the
    window: the cue that makes a time an arrival or a departure."""
    words = [t.text.lower() for t in tokens]
    for i, f in enumerate(features):
        for j in range(i - 5, -1, -1):
            w = words[j]
            if w.endswith("ing") or (w.isalpha() and len(w) <= 4):
                f.append("cue=" + w)
                break


VARIANTS: dict[str, tuple[Extra, ...]] = {
    "bigrams2": (_neighbour_bigrams,),
    "affix4": (_affix4,),
    "far": (_far_words,),
    "cwin4": (_class_window4,),
    "cbi": (_class_bigrams,),
    "cue": (_cue_words,),
}
# Dense features: the first K of the static table's (PCA) dimensions of the unit
# row of the word and its two neighbours, as real-valued CRF attributes.
Dense = tuple[dict[str, int], "np.ndarray"]
# Neighbour words on each side; "window2" without clusters is the model before
# issue 15's feature work.
WINDOWS = {"window2": 2, "window3": 3, "window4": 4, "window5": 5}
# c1/c2 variants train with other regularisation (the engine's: C1, C2; 0.05 and
# 0.01 before the word classes of the static table).
REGULARISATION = {
    "c1=0.1": (0.1, 0.01),
    "c1=0.05": (0.05, 0.01),
    "c1=0.02": (0.02, 0.01),
    "c2=0.1": (0.05, 0.1),
}
DEFAULT_VARIANTS = (
    "window4+c1=0.05,window4,window4+vectors+c1=0.05,window4+vectors,"
    "window4+vectors+c2=0.1"
)


def _sequences(
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    extras: tuple[Extra, ...],
    clusters: WordClusters | None,
    window: int,
    dense: Dense | None = None,
) -> list[tuple[list[Token], list[Any], list[str]]]:
    out: list[tuple[list[Token], list[Any], list[str]]] = []
    for text, labelled in zip(texts, spans, strict=True):
        tokens = tokenize(text)
        normalized = [normalize(t.text) for t in tokens]
        features = token_features(
            tokens, normalized, [[] for _ in tokens], window=window, clusters=clusters
        )
        for extra in extras:
            extra(tokens, features, clusters)
        if dense is None:
            out.append((tokens, features, bio_labels(tokens, labelled)))
            continue
        index, matrix = dense
        rows = [index.get(w) for w in normalized]
        items: list[dict[str, float]] = []
        for i, f in enumerate(features):
            item = dict.fromkeys(f, 1.0)
            for d, prefix in ((0, "v"), (-1, "-1v"), (1, "+1v")):
                j = i + d
                if 0 <= j < len(rows) and rows[j] is not None:
                    for k, value in enumerate(matrix[rows[j]]):
                        item[f"{prefix}{k}"] = float(value)
            items.append(item)
        out.append((tokens, items, bio_labels(tokens, labelled)))
    return out


def _swap_values(
    texts: list[str], spans: list[list[Span]], seed: int = 0
) -> tuple[list[str], list[list[Span]]]:
    """The training utterances plus one copy of each labelled one whose entity
    values are replaced by other values of the same category seen in training
    ("from boston" -> "from denver"): a value the CRF saw once in one context is
    then seen in others."""
    import random

    rng = random.Random(seed)
    values: dict[str, list[str]] = {}
    for text, labelled in zip(texts, spans, strict=True):
        for span in labelled:
            values.setdefault(span.category, []).append(text[span.offset : span.end])
    out_texts, out_spans = list(texts), [list(x) for x in spans]
    for text, labelled in zip(texts, spans, strict=True):
        if not labelled:
            continue
        pieces: list[str] = []
        moved: list[Span] = []
        at = 0
        for span in sorted(labelled, key=lambda x: x.offset):
            if span.offset < at:
                continue
            pieces.append(text[at : span.offset])
            value = rng.choice(values[span.category])
            offset = sum(len(piece) for piece in pieces)
            moved.append(Span(span.category, offset, len(value)))
            pieces.append(value)
            at = span.end
        pieces.append(text[at:])
        out_texts.append("".join(pieces))
        out_spans.append(moved)
    return out_texts, out_spans


def run_variant(
    name: str,
    train: tuple[list[str], list[list[Span]]],
    val: tuple[list[str], list[list[Span]]],
    *,
    iterations: int,
    table: StaticVectors | None = None,
) -> dict[str, float]:
    extras: list[Extra] = []
    c1, c2 = C1, C2
    use_clusters = False
    branching: tuple[int, ...] | None = None
    window = 2
    algorithm = "lbfgs"
    params: dict[str, float] = {}
    dense_k, dense_scale = 0, 1.0
    for part in name.split("+"):
        if part == "vectors" or part.startswith("vectors="):
            _, _, spec = part.partition("=")
            branching = (
                tuple(int(b) for b in spec.split("x")) if spec else VECTOR_BRANCHING
            )
        elif part in WINDOWS:
            window = WINDOWS[part]
        elif part in VARIANTS:
            extras.extend(VARIANTS[part])
        elif part in REGULARISATION:
            c1, c2 = REGULARISATION[part]
        elif part == "clusters":
            use_clusters = True
        elif part == "swap":
            train = _swap_values(*train)
        elif part.startswith("algo="):
            algorithm = part[5:]
        elif part.startswith("iter="):
            iterations = int(part[5:])
        elif part.startswith("c1="):
            c1 = float(part[3:])
        elif part.startswith("c2="):
            c2 = float(part[3:])
        elif part.startswith("param:"):
            key, _, value = part[6:].partition("=")
            params[key] = float(value)
        elif part.startswith("dense="):
            k, _, scale = part[6:].partition("@")
            dense_k, dense_scale = int(k), float(scale or 1)
        else:
            raise SystemExit(f"unknown variant part {part!r}")
    cpu = time.process_time()
    clusters = WordClusters.fit(train[0]) if use_clusters else None
    if branching is not None:
        if table is None:
            raise SystemExit("vectors: no static word vector table")
        clusters = WordClusters.from_vectors(
            table.words, table.rows, branching=branching
        )
    dense: Dense | None = None
    if dense_k:
        if table is None:
            raise SystemExit("dense: no static word vector table")
        rows = np.asarray(table.rows, dtype=np.float32)
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)
        dense = (table.index, dense_scale * rows[:, :dense_k])
    train_seqs = _sequences(*train, tuple(extras), clusters, window, dense)
    tagger = LearnedTagger.fit(
        [(f, labels) for _, f, labels in train_seqs],
        max_iterations=iterations,
        c1=c1,
        c2=c2,
        clusters=clusters,
        algorithm=algorithm,
        params=params,
    )
    train_cpu = time.process_time() - cpu
    if tagger is None:
        raise SystemExit("nothing labelled in the training part")
    val_seqs = _sequences(val[0], val[1], tuple(extras), clusters, window, dense)
    cpu = time.process_time()
    predicted = [
        [Span(h.category, h.start, h.end - h.start) for h in tagger.predict(t, f)]
        for t, f, _ in val_seqs
    ]
    tag_ms = 1000 * (time.process_time() - cpu) / len(val_seqs)
    # Validation utterances whose text the fit part lacks (ATIS repeats many):
    # closer to a test set of new utterances.
    seen = {" ".join(text.lower().split()) for text in train[0]}
    # Labelled values the fit part never labelled ("boise"): recall on them is
    # what word classes and the like are for.
    known = {
        (x.category, text[x.offset : x.end].lower())
        for text, labelled in zip(*train, strict=True)
        for x in labelled
    }
    unseen = [
        (x, i)
        for i, (text, labelled) in enumerate(zip(*val, strict=True))
        for x in labelled
        if (x.category, text[x.offset : x.end].lower()) not in known
    ]
    found = sum(1 for x, i in unseen if x in predicted[i])
    novel = [
        i for i, text in enumerate(val[0]) if " ".join(text.lower().split()) not in seen
    ]
    return {
        **micro_prf(val[1], predicted),
        "f1_novel": micro_prf(
            [val[1][i] for i in novel], [predicted[i] for i in novel]
        )["f1"],
        "recall_unseen": round(100 * found / max(len(unseen), 1), 2),
        "train_cpu_s": round(train_cpu, 1),
        "tag_ms": round(tag_ms, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data dir")
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help="comma-separated; join parts with + ("
        + ", ".join([*WINDOWS, *VARIANTS, *REGULARISATION, "clusters", "vectors"])
        + ", vectors=AxB, swap, dense=K[@scale], algo=ap|pa|l2sgd, iter=N, c1=X, "
        "c2=X, param:NAME=X); the window is 2 unless named",
    )
    parser.add_argument(
        "--static-vectors",
        default="",
        help="static word vector table directory for the vectors variants "
        "(default: $STUDIO_STATIC_VECTORS or var/static-vectors)",
    )
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument(
        "--sample",
        choices=SAMPLES,
        default=None,
        help="an Azure sample instead of ATIS: the 80%% its benchmark trains on, "
        "split again 80/20 by intent per seed, F1 averaged over --seeds",
    )
    parser.add_argument("--seeds", default="0,1,3,4", help="with --sample")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data_dir = args.data or default_data_dir()
    folds = (
        _sample_folds(data_dir, args.sample, args.seeds)
        if args.sample
        else ([_atis_fold(data_dir)])
    )
    title = f"{args.sample}, {len(folds)} folds" if args.sample else "ATIS Train"
    table = None
    if "vectors" in args.variants or "dense" in args.variants:
        from bench.engine import static_table

        table = static_table(args.static_vectors)
    results = {}
    print(f"{f'variant ({title}, 80/20 by intent)':<44}{'F1':>7}{'new F1':>8}"
          f"{'R unseen':>9}{'CPU s':>8}{'ms/utt':>8}", flush=True)  # fmt: skip
    for name in args.variants.split(","):
        runs = [
            run_variant(name, train, val, iterations=args.iterations, table=table)
            for train, val in folds
        ]
        scores = {
            key: round(sum(r[key] for r in runs) / len(runs), 3) for key in runs[0]
        }
        results[name] = scores
        print(
            f"{name:<44}{scores['f1']:>7.2f}{scores['f1_novel']:>8.2f}"
            f"{scores['recall_unseen']:>9.2f}"
            f"{scores['train_cpu_s']:>8.1f}"
            f"{scores['tag_ms']:>8.3f}",
            flush=True,
        )
    if args.json:
        print(json.dumps(results))


Fold = tuple[tuple[list[str], list[list[Span]]], tuple[list[str], list[list[Span]]]]


def _atis_fold(data_dir: Path) -> Fold:
    """ATIS's Train dataset split 80/20 by intent; its Test dataset is not read."""
    project, texts, spans, intents, _ = load_sample(data_dir / "atis" / "atis_clu.json")
    keep = [
        i
        for i, u in enumerate(project["assets"]["utterances"])
        if u.get("dataset") != "Test"
    ]
    fit, val = percentage_split([intents[i] for i in keep], training_percent=80)
    return (
        ([texts[keep[i]] for i in fit], [spans[keep[i]] for i in fit]),
        ([texts[keep[i]] for i in val], [spans[keep[i]] for i in val]),
    )


def _sample_folds(data_dir: Path, sample: str, seeds: str) -> list[Fold]:
    """The training part of ``bench.entities``' split of an Azure sample, split
    again 80/20 by intent once per seed; its test part is not read."""
    _, texts, spans, intents, _ = load_sample(
        data_dir / "azure-language-samples" / "CLU" / f"{sample}.json"
    )
    outer, _ = percentage_split(intents, training_percent=80, seed=SEED)
    folds = []
    for seed in (int(s) for s in seeds.split(",")):
        fit, val = percentage_split(
            [intents[i] for i in outer], training_percent=80, seed=seed
        )
        folds.append(
            (
                ([texts[outer[i]] for i in fit], [spans[outer[i]] for i in fit]),
                ([texts[outer[i]] for i in val], [spans[outer[i]] for i in val]),
            )
        )
    return folds


if __name__ == "__main__":
    main()
