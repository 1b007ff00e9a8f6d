"""Loaders for the benchmark datasets (CLINC150 "full" and BANKING77).

The data lives outside the repository, in ``<repo>/../shared/data`` by default;
``STUDIO_SHARED_DATA`` or an explicit path overrides it.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "STUDIO_SHARED_DATA"


class DatasetMissing(FileNotFoundError):
    """A benchmark dataset is not where it was looked for."""


def default_data_dir() -> Path:
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value) if value else REPO_ROOT.parent / "shared" / "data"


@dataclass(frozen=True, slots=True)
class Split:
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def head_per_label(self, n: int) -> Split:
        """At most ``n`` examples of each label, in the original order."""
        seen: dict[str, int] = {}
        texts: list[str] = []
        labels: list[str] = []
        for text, label in zip(self.texts, self.labels, strict=True):
            if seen.get(label, 0) < n:
                seen[label] = seen.get(label, 0) + 1
                texts.append(text)
                labels.append(label)
        return Split(texts, labels)

    def only_labels(self, keep: set[str]) -> Split:
        pairs = [
            (t, lab)
            for t, lab in zip(self.texts, self.labels, strict=True)
            if lab in keep
        ]
        return Split([t for t, _ in pairs], [lab for _, lab in pairs])

    def validation_fold(self) -> tuple[Split, Split]:
        """80/20 of this split in a fixed random order (seed 0): a training part
        and a validation part, for sets without a validation split (BANKING77)."""
        import numpy as np

        order = np.random.default_rng(0).permutation(len(self.texts))
        cut = int(0.8 * len(order))

        def pick(rows: np.ndarray) -> Split:
            return Split([self.texts[i] for i in rows], [self.labels[i] for i in rows])

        return pick(order[:cut]), pick(order[cut:])


@dataclass(frozen=True, slots=True)
class Clinc150:
    train: Split
    val: Split
    test: Split
    oos_val: Split
    oos_test: Split


@dataclass(frozen=True, slots=True)
class Banking77:
    train: Split
    test: Split


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetMissing(
            f"{path} not found; pass --data PATH or set {DATA_ENV} to the folder "
            "holding clinc150/ and banking77/."
        )
    return path


def load_clinc150(data_dir: Path | None = None) -> Clinc150:
    path = _require((data_dir or default_data_dir()) / "clinc150" / "data_full.json")
    raw = json.loads(path.read_text(encoding="utf-8"))

    def split(name: str) -> Split:
        rows = raw[name]
        return Split([str(r[0]) for r in rows], [str(r[1]) for r in rows])

    return Clinc150(
        train=split("train"),
        val=split("val"),
        test=split("test"),
        oos_val=split("oos_val"),
        oos_test=split("oos_test"),
    )


def load_banking77(data_dir: Path | None = None) -> Banking77:
    root = (data_dir or default_data_dir()) / "banking77"

    def split(name: str) -> Split:
        with _require(root / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        return Split([r["text"] for r in rows], [r["category"] for r in rows])

    return Banking77(train=split("train"), test=split("test"))
