"""Training and evaluation: the shipped corpus, corrections, stratified cross-validation."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from nlp.features import FeatureExtractor
from nlp.model import LinearModel, Matrix, digest, fit_temperature, fit_weights

CORRECTION_WEIGHT = 2.0
"""A correction by a person counts double: it is a real message, not a written example."""


def corpus_path() -> Path:
    return Path(str(resources.files("nlp").joinpath("data", "corpus.tsv")))


def shipped_model_path() -> Path:
    return Path(str(resources.files("nlp").joinpath("data", "model.npz")))


def load_corpus(path: Path | None = None) -> list[tuple[str, str]]:
    """(category, text) rows of a TSV file with the header `category<TAB>text`."""
    path = path or corpus_path()
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
    l2: float = 1e-4
    epochs: int = 150

    def _labels(self, rows: Sequence[tuple[str, str]]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.categories)}
        unknown = {label for label, _ in rows if label not in index}
        if unknown:
            raise ValueError(f"unknown categories in training data: {', '.join(sorted(unknown))}")
        return np.asarray([index[label] for label, _ in rows], dtype=np.int64)

    def _fit(self, x: Matrix, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return fit_weights(
            x, y, len(self.categories), l2=self.l2, epochs=self.epochs, sample_weight=weights
        )

    def out_of_fold_logits(
        self, x: Matrix, y: np.ndarray, weights: np.ndarray, folds: Sequence[int], k: int
    ) -> np.ndarray:
        logits = np.zeros((len(y), len(self.categories)), dtype=np.float32)
        fold_of = np.asarray(folds)
        for fold in range(k):
            test = np.flatnonzero(fold_of == fold)
            train = np.flatnonzero(fold_of != fold)
            w = self._fit(x.take(train), y[train], weights[train])
            logits[test] = x.take(test).dot(w)
        return logits

    def train(
        self, rows: Sequence[tuple[str, str]], corrections: Sequence[tuple[str, str]] = ()
    ) -> LinearModel:
        """Fit on the corpus plus corrections; calibrate on 5-fold out-of-fold predictions."""
        everything = [*rows, *corrections]
        x = Matrix.build(self.extractor, [text for _, text in everything])
        y = self._labels(everything)
        weights = np.asarray(
            [1.0] * len(rows) + [CORRECTION_WEIGHT] * len(corrections), dtype=np.float32
        )
        k = 5
        folds = stratified_folds([label for label, _ in everything], k)
        temperature = fit_temperature(self.out_of_fold_logits(x, y, weights, folds, k), y)
        return LinearModel(self.categories, self._fit(x, y, weights), temperature, digest(rows))

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

    @classmethod
    def of(
        cls, categories: tuple[str, ...], truth: np.ndarray, predicted: np.ndarray, folds: int
    ) -> Report:
        size = len(categories)
        confusion = [[0] * size for _ in range(size)]
        for t, p in zip(truth.tolist(), predicted.tolist(), strict=True):
            confusion[t][p] += 1
        report = cls(categories, confusion, folds)
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

    def render(self) -> str:
        lines = [
            f"stratified {self.folds}-fold cross-validation on {sum(map(sum, self.confusion))}"
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
