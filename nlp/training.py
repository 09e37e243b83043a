"""Training and evaluation: the shipped corpus, corrections, stratified cross-validation."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from nlp.features import BUCKETS, FeatureExtractor
from nlp.model import (
    FloatArray,
    LinearModel,
    Matrix,
    digest,
    fit_temperature,
    fit_weights,
    inverse_document_frequency,
)

CORRECTION_WEIGHT = 2.0
"""A correction by a person counts double: it is a real message, not a written example."""


def data_dir() -> Path:
    return Path(str(resources.files("nlp").joinpath("data")))


def corpus_paths() -> list[Path]:
    """Every training file: `data/corpus*.tsv` in name order (never `dev.tsv`)."""
    return sorted(data_dir().glob("corpus*.tsv"))


def shipped_model_path() -> Path:
    return data_dir() / "model.npz"


def dev_path() -> Path:
    """The development set: written apart from the corpus, never trained on."""
    return data_dir() / "dev.tsv"


def load_corpus(path: Path | None = None) -> list[tuple[str, str]]:
    """(category, text) rows of one TSV file, or of every corpus file when `path` is None."""
    if path is None:
        return [row for p in corpus_paths() for row in load_corpus(p)]
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header != ["category", "text"]:
            raise ValueError(f"{path}: header must be 'category<TAB>text'")
        return [(row[0], row[1]) for row in reader if len(row) == 2 and row[1].strip()]


def stratified_folds(labels: Sequence[str], k: int, seed: int = 7) -> list[int]:
    """A fold number for every example; each class is spread evenly over the folds."""
    rng = random.Random(seed)
    folds = [0] * len(labels)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for members in by_class.values():
        rng.shuffle(members)
        for j, i in enumerate(members):
            folds[i] = j % k
    return folds


@dataclass
class Trainer:
    extractor: FeatureExtractor
    categories: tuple[str, ...]
    l2: float = 1e-5
    epochs: int = 150
    idf: bool = True
    sublinear: bool = True
    unseen: bool = True
    """Whether features no training text has still count in a row's length (see the model)."""

    def _labels(self, rows: Sequence[tuple[str, str]]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.categories)}
        unknown = {label for label, _ in rows if label not in index}
        if unknown:
            raise ValueError(f"unknown categories in training data: {', '.join(sorted(unknown))}")
        return np.asarray([index[label] for label, _ in rows], dtype=np.int64)

    def _idf(self, x: Matrix) -> FloatArray:
        if not self.idf:
            return np.ones(BUCKETS, dtype=np.float32)
        return inverse_document_frequency(x, unseen=self.unseen)

    def _fit(self, x: Matrix, y: np.ndarray, weights: np.ndarray) -> tuple[FloatArray, FloatArray]:
        """Weights and IDF from the raw counts `x` of the training rows only."""
        idf = self._idf(x)
        w = fit_weights(
            x.weighted(idf, sublinear=self.sublinear),
            y,
            len(self.categories),
            l2=self.l2,
            epochs=self.epochs,
            sample_weight=weights,
        )
        return w, idf

    def out_of_fold_logits(
        self, x: Matrix, y: np.ndarray, weights: np.ndarray, folds: Sequence[int], k: int
    ) -> np.ndarray:
        logits = np.zeros((len(y), len(self.categories)), dtype=np.float32)
        fold_of = np.asarray(folds)
        for fold in range(k):
            test = np.flatnonzero(fold_of == fold)
            train = np.flatnonzero(fold_of != fold)
            w, idf = self._fit(x.take(train), y[train], weights[train])
            logits[test] = x.take(test).weighted(idf, sublinear=self.sublinear).dot(w)
        return logits

    def train(
        self, rows: Sequence[tuple[str, str]], corrections: Sequence[tuple[str, str]] = ()
    ) -> LinearModel:
        """Fit on the corpus plus corrections; calibrate on 5-fold out-of-fold predictions."""
        return self.train_and_validate(rows, corrections)[0]

    def train_and_validate(
        self, rows: Sequence[tuple[str, str]], corrections: Sequence[tuple[str, str]] = ()
    ) -> tuple[LinearModel, Report]:
        """The model, and the 5-fold cross-validation its temperature was fitted on."""
        everything = [*rows, *corrections]
        x = Matrix.build(self.extractor, [text for _, text in everything])
        y = self._labels(everything)
        weights = np.asarray(
            [1.0] * len(rows) + [CORRECTION_WEIGHT] * len(corrections), dtype=np.float32
        )
        k = 5
        folds = stratified_folds([label for label, _ in everything], k)
        held_out = self.out_of_fold_logits(x, y, weights, folds, k)
        temperature = fit_temperature(held_out, y)
        w, idf = self._fit(x, y, weights)
        model = LinearModel(
            self.categories,
            w,
            temperature,
            digest(rows),
            idf,
            sublinear=self.sublinear,
            features=self.extractor.descriptor,
        )
        return model, Report.of(self.categories, y, held_out.argmax(axis=1), k)

    def cross_validate(self, rows: Sequence[tuple[str, str]], k: int = 5) -> Report:
        x = Matrix.build(self.extractor, [text for _, text in rows])
        y = self._labels(rows)
        weights = np.ones(len(rows), dtype=np.float32)
        folds = stratified_folds([label for label, _ in rows], k)
        predicted = self.out_of_fold_logits(x, y, weights, folds, k).argmax(axis=1)
        return Report.of(self.categories, y, predicted, k)


@dataclass
class Report:
    categories: tuple[str, ...]
    confusion: list[list[int]]
    folds: int
    per_class: dict[str, tuple[float, float, float, int]] = field(default_factory=dict)
    title: str = ""
    """What was measured; by default the cross-validation."""

    @classmethod
    def of(
        cls,
        categories: tuple[str, ...],
        truth: np.ndarray,
        predicted: np.ndarray,
        folds: int,
        title: str = "",
    ) -> Report:
        size = len(categories)
        confusion = [[0] * size for _ in range(size)]
        for t, p in zip(truth.tolist(), predicted.tolist(), strict=True):
            confusion[t][p] += 1
        report = cls(categories, confusion, folds, title=title)
        for i, cat in enumerate(categories):
            tp = confusion[i][i]
            support = sum(confusion[i])
            predicted_i = sum(row[i] for row in confusion)
            precision = tp / predicted_i if predicted_i else 0.0
            recall = tp / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            report.per_class[cat] = (precision, recall, f1, support)
        return report

    @property
    def accuracy(self) -> float:
        total = sum(sum(row) for row in self.confusion)
        return sum(self.confusion[i][i] for i in range(len(self.confusion))) / max(total, 1)

    @property
    def macro_f1(self) -> float:
        return sum(f1 for _, _, f1, _ in self.per_class.values()) / max(len(self.per_class), 1)

    @property
    def lowest_f1(self) -> tuple[str, float]:
        """The weakest category and its F1."""
        cat = min(self.per_class, key=lambda c: self.per_class[c][2])
        return cat, self.per_class[cat][2]

    def render(self) -> str:
        lines = [
            self.title
            or f"stratified {self.folds}-fold cross-validation on {sum(map(sum, self.confusion))}"
            " examples",
            f"accuracy  {self.accuracy:.3f}",
            f"macro-F1  {self.macro_f1:.3f}",
            "",
            f"{'category':<22}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}",
        ]
        for cat, (p, r, f1, n) in self.per_class.items():
            lines.append(f"{cat:<22}{p:>10.3f}{r:>10.3f}{f1:>8.3f}{n:>9}")
        lines += ["", "confusion matrix (rows: true, columns: predicted)"]
        short = [c[:8] for c in self.categories]  # ASCII ids keep the columns aligned
        lines.append(" " * 10 + "".join(f"{s:>9}" for s in short))
        for cat, row in zip(short, self.confusion, strict=True):
            lines.append(f"{cat:<10}" + "".join(f"{n:>9}" for n in row))
        return "\n".join(lines)
