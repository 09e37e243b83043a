"""The classifier built from the configuration, apart from the composition root so that
`jindianzi classify` loads no storage, handler or channel code."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from nlp import FeatureExtractor, LinearModel, ModelClassifier, build_tokenizer
from nlp.training import shipped_model_path

MODEL_FILE = "nlp-model.npz"


def model_path(config: Config) -> Path:
    """The model trained here (`jindianzi nlp train`) if there is one, else the shipped one."""
    local = config.storage.data_dir / MODEL_FILE
    return local if local.is_file() else shipped_model_path()


def build_extractor(config: Config) -> FeatureExtractor:
    keywords = {c.id: c.keywords for c in config.categories}
    words = [k for c in config.categories for k in c.keywords]
    return FeatureExtractor(build_tokenizer(config.storage.data_dir, words), keywords)


def build_classifier(config: Config) -> ModelClassifier:
    path = model_path(config)
    if not path.is_file():
        raise FileNotFoundError(f"没有分类模型 {path},请先运行 jindianzi nlp train")
    return ModelClassifier(build_extractor(config), LinearModel.load(path), config.categories)
