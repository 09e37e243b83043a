"""Language processing: the project's own jieba tokenizer and the idea classifier.

Depends on nothing else of ours. Each name below is imported on first use, so that
`from nlp.categories import Category` (all the configuration needs) loads neither jieba
nor numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlp.categories import Category
    from nlp.classifier import Classifier, ModelClassifier, Prediction
    from nlp.features import FeatureExtractor
    from nlp.model import LinearModel
    from nlp.tokenizer import build_tokenizer, normalize

_HOMES = {
    "Category": "nlp.categories",
    "Classifier": "nlp.classifier",
    "FeatureExtractor": "nlp.features",
    "LinearModel": "nlp.model",
    "ModelClassifier": "nlp.classifier",
    "Prediction": "nlp.classifier",
    "build_tokenizer": "nlp.tokenizer",
    "normalize": "nlp.tokenizer",
}

__all__ = [
    "Category",
    "Classifier",
    "FeatureExtractor",
    "LinearModel",
    "ModelClassifier",
    "Prediction",
    "build_tokenizer",
    "normalize",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'nlp' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value
