"""Language processing: the project's own jieba tokenizer and the idea classifier.

Depends on nothing else of ours.
"""

from nlp.classifier import Category, Classifier, KeywordClassifier, Prediction
from nlp.tokenizer import build_tokenizer, normalize

__all__ = [
    "Category",
    "Classifier",
    "KeywordClassifier",
    "Prediction",
    "build_tokenizer",
    "normalize",
]
