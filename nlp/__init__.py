"""Language processing: the project's own jieba tokenizer and the idea classifier.

Depends on nothing else of ours.
"""

from nlp.classifier import Category, Classifier, ModelClassifier, Prediction
from nlp.features import FeatureExtractor
from nlp.model import LinearModel
from nlp.tokenizer import build_tokenizer, normalize

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
