"""Idea classification behind one small interface.

`ModelClassifier` feeds jieba words, character n-grams and the configured keywords
to a calibrated linear model (see `nlp/model.py`). Text with no Chinese at all
(emoji, numbers, punctuation, English) gets `other` with low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nlp import similarity
from nlp.categories import Category as Category  # where it lived first; bot.config needs only it
from nlp.features import FeatureExtractor, has_content, prepare
from nlp.model import LinearModel

FALLBACK = "other"
UNKNOWN_CONFIDENCE = 0.2


@dataclass(frozen=True, slots=True)
class Prediction:
    category: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    """Every category with its probability, best first."""


class Classifier(Protocol):
    @property
    def categories(self) -> Sequence[Category]: ...

    def classify(self, text: str) -> Prediction: ...

    def terms(self, text: str) -> list[str]: ...


class ModelClassifier:
    def __init__(
        self, extractor: FeatureExtractor, model: LinearModel, categories: Sequence[Category]
    ) -> None:
        by_id = {c.id: c for c in categories}
        missing = [c for c in model.categories if c not in by_id]
        if missing:
            raise ValueError(f"model knows categories the configuration lacks: {missing}")
        self._categories = tuple(categories)
        # a model trained on another feature set (an older local one) gets its own features
        self._extractor = extractor.for_features(model.features)
        self._model = model

    @property
    def categories(self) -> Sequence[Category]:
        return self._categories

    @property
    def extractor(self) -> FeatureExtractor:
        return self._extractor

    @property
    def model(self) -> LinearModel:
        return self._model

    def classify(self, text: str) -> Prediction:
        prepared = prepare(text)
        if not has_content(prepared):
            rest = (1 - UNKNOWN_CONFIDENCE) / (len(self._model.categories) - 1)
            unknown = [(FALLBACK, UNKNOWN_CONFIDENCE)] + [
                (c, rest) for c in self._model.categories if c != FALLBACK
            ]
            return Prediction(FALLBACK, UNKNOWN_CONFIDENCE, tuple(unknown))
        idx, counts = self._extractor.counts(prepared)
        probs = self._model.probabilities(idx, counts)
        cats = self._model.categories
        best_first = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)  # stable
        ranking = tuple((cats[k], round(probs[k], 4)) for k in best_first)
        return Prediction(ranking[0][0], ranking[0][1], ranking)

    def terms(self, text: str) -> list[str]:
        """The words of `text` that similarity compares."""
        return similarity.terms(self._extractor, text)

    def explain(self, text: str, top: int = 5) -> list[tuple[str, float]]:
        """The features that pushed hardest towards the predicted category."""
        prediction = self.classify(text)
        if not has_content(prepare(text)):
            return []
        k = self._model.categories.index(prediction.category)
        idx, counts, names = self._extractor.vector(text)
        values = self._model.weigh(idx, counts).tolist()
        contributions: dict[str, float] = {}
        for i, v, name in zip(idx, values, names, strict=True):
            if name == "bias":
                continue
            shown = name.split(":", 1)[1] if not name.startswith("k:") else f"关键词({name[2:]})"
            weight = float(self._model.weights[i, k]) * v
            contributions[shown] = contributions.get(shown, 0.0) + weight
        ranked = sorted(contributions.items(), key=lambda kv: -kv[1])
        return [(name, round(weight, 3)) for name, weight in ranked[:top] if weight > 0]
