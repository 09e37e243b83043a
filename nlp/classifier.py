"""Idea classification behind one small interface.

The first classifier scores the configured keywords over jieba tokens; the model
of the classifier issue implements the same `Classifier` protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import jieba

from nlp.tokenizer import normalize

FALLBACK = "other"


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    label: str
    keywords: tuple[str, ...] = ()


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


class KeywordClassifier:
    """Sums keyword evidence per category and turns it into probabilities with a softmax.

    A keyword found as a whole jieba token counts fully, one found only inside a
    longer token counts half (typos and unknown compounds still leave a trace).
    With no evidence at all the answer is `other` with low confidence.
    """

    def __init__(
        self, tokenizer: jieba.Tokenizer, categories: Sequence[Category], sharpness: float = 1.5
    ) -> None:
        self.categories = tuple(categories)
        self._tokenizer = tokenizer
        self._sharpness = sharpness
        self._keywords = {c.id: tuple(k for k in c.keywords if k) for c in self.categories}
        ids = [c.id for c in self.categories]
        self._fallback = FALLBACK if FALLBACK in ids else ids[-1]

    def tokens(self, text: str) -> list[str]:
        return [t for t in self._tokenizer.lcut(normalize(text)) if t.strip()]

    def scores(self, text: str) -> dict[str, float]:
        clean = normalize(text).lower()
        tokens = set(self.tokens(clean))
        scores: dict[str, float] = {}
        for cat_id, keywords in self._keywords.items():
            score = 0.0
            for word in keywords:
                weight = min(len(word), 4) / 2
                if word in tokens:
                    score += weight
                elif word in clean:
                    score += weight / 2
            scores[cat_id] = score
        return scores

    def classify(self, text: str) -> Prediction:
        scores = self.scores(text)
        if not any(scores.values()):
            share = 1 / len(self.categories)
            low = min(share * 2, 0.3)
            rest = (1 - low) / max(len(self.categories) - 1, 1)
            ranking = [(self._fallback, low)] + [
                (c.id, rest) for c in self.categories if c.id != self._fallback
            ]
            return Prediction(self._fallback, round(low, 4), tuple(ranking))
        exps = {c: math.exp(self._sharpness * s) for c, s in scores.items()}
        total = sum(exps.values())
        ranked = sorted(((c, e / total) for c, e in exps.items()), key=lambda p: -p[1])
        best, confidence = ranked[0]
        return Prediction(best, round(confidence, 4), tuple(ranked))
