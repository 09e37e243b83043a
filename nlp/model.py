"""A multinomial logistic regression over hashed features, written out in numpy.

Why not scikit-learn: for a few thousand short texts a softmax regression is forty
lines of numpy; scikit-learn would add scipy and ~100 MB to every install and a
slower start-up for the same accuracy. Probabilities are calibrated by temperature
scaling on out-of-fold predictions.

Term weighting: a feature's count c becomes (1 + ln c) × idf, idf = ln((1 + N) / (1 + df)) + 1
over the N training texts, and each row is L2-normalised (the bias stays 1). Without it every
character of a long message weighed as much as its one telling word. The IDF vector is saved
with the weights, so a model always classifies with the weighting it was trained with.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlp.features import BUCKETS, FeatureExtractor, batch

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
FORMAT = 2
"""2: IDF term weighting and the feature set stored with the model. 1: binary features."""
FORMATS = (1, 2)
LEGACY_FEATURES = "w1 c1-3 k1"
"""What format-1 models were trained on."""


@dataclass(frozen=True, slots=True)
class Matrix:
    """Sparse rows: CSR without scipy."""

    indices: IntArray
    values: FloatArray
    starts: IntArray
    rows: IntArray
    """Row number of every stored value."""

    @classmethod
    def build(cls, extractor: FeatureExtractor, texts: Sequence[str]) -> Matrix:
        idx, val, lengths = batch(extractor, texts)
        lens = np.asarray(lengths, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        rows = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        return cls(np.asarray(idx, dtype=np.int64), np.asarray(val, dtype=np.float32), starts, rows)

    def take(self, selected: IntArray) -> Matrix:
        """The sub-matrix of the selected rows."""
        ends = np.append(self.starts[1:], len(self.indices))
        parts = [np.arange(self.starts[r], ends[r]) for r in selected]
        pick = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        lens = ends[selected] - self.starts[selected]
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        rows = np.repeat(np.arange(len(selected), dtype=np.int64), lens)
        return Matrix(self.indices[pick], self.values[pick], starts, rows)

    def document_frequency(self) -> FloatArray:
        """In how many rows each bucket occurs (a bucket hit twice in a row counts once)."""
        pairs = np.unique(self.rows * BUCKETS + self.indices)
        df: FloatArray = np.bincount(pairs % BUCKETS, minlength=BUCKETS).astype(np.float32)
        return df

    def weighted(self, idf: FloatArray, *, sublinear: bool = True) -> Matrix:
        """Counts → (1 + ln c) × idf (or 1 × idf), each row L2-normalised; the bias stays 1."""
        tf = 1 + np.log(self.values) if sublinear else np.ones_like(self.values)
        values = (tf * idf[self.indices]).astype(np.float32)
        values[self.starts] = 0  # every row starts with the bias
        norms = np.sqrt(np.add.reduceat(values * values, self.starts))
        values /= np.maximum(norms, 1e-12)[self.rows]
        values[self.starts] = 1
        return Matrix(self.indices, values, self.starts, self.rows)

    def dot(self, weights: FloatArray) -> FloatArray:
        products = weights[self.indices] * self.values[:, None]
        summed: FloatArray = np.add.reduceat(products, self.starts, axis=0).astype(np.float32)
        return summed


def softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs: FloatArray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probs


def fit_weights(
    x: Matrix,
    labels: IntArray,
    classes: int,
    *,
    l2: float = 1e-3,
    epochs: int = 250,
    lr: float = 0.05,
    sample_weight: FloatArray | None = None,
) -> FloatArray:
    """Full-batch Adam on the L2-regularised cross-entropy; returns BUCKETS × classes weights."""
    used, local = np.unique(x.indices, return_inverse=True)
    n = len(labels)
    sw = np.ones(n, dtype=np.float32) if sample_weight is None else sample_weight
    sw = sw / sw.sum()
    onehot = np.zeros((n, classes), dtype=np.float32)
    onehot[np.arange(n), labels] = 1
    w = np.zeros((len(used), classes), dtype=np.float32)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    compact = Matrix(local.astype(np.int64), x.values, x.starts, x.rows)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, epochs + 1):
        probs = softmax(compact.dot(w))
        delta = (probs - onehot) * sw[:, None]
        grad = np.empty_like(w)
        weighted = delta[compact.rows] * compact.values[:, None]
        for k in range(classes):
            grad[:, k] = np.bincount(compact.indices, weights=weighted[:, k], minlength=len(used))
        grad += l2 * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        m_hat = m / (1 - beta1**step)
        v_hat = v / (1 - beta2**step)
        w -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(np.float32)
    full = np.zeros((BUCKETS, classes), dtype=np.float32)
    full[used] = w
    return full


def inverse_document_frequency(x: Matrix, *, unseen: bool = True) -> FloatArray:
    """Smoothed IDF per bucket from the training rows in `x` (raw counts).

    A bucket no training text has carries no weight in the model; with `unseen` it still takes
    the highest IDF and so its share of the row's length, else 0 (it is ignored).
    """
    df = x.document_frequency()
    idf: FloatArray = (np.log((1 + len(x.starts)) / (1 + df)) + 1).astype(np.float32)
    if not unseen:
        idf[df == 0] = 0
    return idf


def fit_temperature(logits: FloatArray, labels: IntArray) -> float:
    """The temperature that minimises the log-loss of held-out predictions."""
    best, best_loss = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.2), math.log(5.0), 61)):
        probs = softmax(logits / t)
        loss = -float(np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-9)))
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


@dataclass(frozen=True)
class LinearModel:
    categories: tuple[str, ...]
    weights: FloatArray
    temperature: float
    corpus_sha256: str
    idf: FloatArray
    """Per bucket; all ones for a model without term weighting."""
    sublinear: bool = True
    """Counts weigh 1 + ln c; otherwise a feature is present or not."""
    features: str = LEGACY_FEATURES
    """`FeatureExtractor.descriptor` of the features it was trained on."""

    def weigh(self, indices: Sequence[int] | IntArray, counts: Sequence[float]) -> FloatArray:
        """One text's feature counts (the bias first) → the values the weights multiply."""
        values: FloatArray = self.idf[indices]
        if self.sublinear:
            values *= 1 + np.log(np.asarray(counts, dtype=np.float32))
        values[0] = 0
        norm = math.sqrt(float(values @ values))
        if norm > 0:
            values *= 1 / norm
        values[0] = 1
        return values

    def logits(self, indices: Sequence[int], counts: Sequence[float]) -> FloatArray:
        idx = np.asarray(indices, dtype=np.int64)
        summed: FloatArray = self.weigh(idx, counts) @ self.weights[idx]
        return summed

    def probabilities(self, indices: Sequence[int], counts: Sequence[float]) -> list[float]:
        """Calibrated probabilities per category (plain floats: one idea is seven numbers)."""
        logits = (self.logits(indices, counts) / self.temperature).tolist()
        top = max(logits)
        exp = [math.exp(x - top) for x in logits]
        total = sum(exp)
        return [x / total for x in exp]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            format=np.asarray(FORMAT),
            categories=np.asarray(self.categories),
            weights=self.weights.astype(np.float16),
            idf=self.idf.astype(np.float16),
            sublinear=np.asarray(self.sublinear),
            features=np.asarray(self.features),
            temperature=np.asarray(self.temperature),
            corpus_sha256=np.asarray(self.corpus_sha256),
        )
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format"])
            if version not in FORMATS or data["weights"].shape[0] != BUCKETS:
                raise ValueError(f"{path}: model format is not {FORMAT}; run `jindianzi nlp train`")
            legacy = version == 1
            return cls(
                categories=tuple(str(c) for c in data["categories"]),
                weights=data["weights"].astype(np.float32),
                temperature=float(data["temperature"]),
                corpus_sha256=str(data["corpus_sha256"]),
                idf=np.ones(BUCKETS, np.float32) if legacy else data["idf"].astype(np.float32),
                sublinear=False if legacy else bool(data["sublinear"]),
                features=LEGACY_FEATURES if legacy else str(data["features"]),
            )


def digest(rows: Sequence[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for label, text in rows:
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()
