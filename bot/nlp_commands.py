"""`jindianzi nlp train`, `jindianzi nlp eval` and `jindianzi nlp compare`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import MODEL_FILE, build_extractor, open_storage
from bot.config import Config
from nlp import FeatureExtractor, LinearModel, ModelClassifier, build_tokenizer
from nlp.evaluation import Evaluation, score
from nlp.training import Trainer, dev_path, load_corpus, shipped_model_path
from storage import CategoryCorrection


async def corrections(config: Config) -> list[CategoryCorrection]:
    """(text, category before, category after) of every idea whose category a person changed."""
    async with open_storage(config) as repos:
        return await repos.ideas.corrections()


def _trainer(config: Config) -> Trainer:
    return Trainer(build_extractor(config), tuple(c.id for c in config.categories))


async def train(config: Config, *, ship: bool) -> tuple[Path, int, int]:
    """Train on the corpus plus corrections; returns (path, corpus size, corrections)."""
    learned = [] if ship else [(new, text) for text, _, new in await corrections(config)]
    rows = load_corpus()
    trainer = await asyncio.to_thread(_trainer, config)
    model = await asyncio.to_thread(trainer.train, rows, learned)
    path = shipped_model_path() if ship else config.storage.data_dir / MODEL_FILE
    model.save(path)
    return path, len(rows), len(learned)


def development(
    config: Config, classifier: ModelClassifier, name: str, path: Path | None = None
) -> str:
    """The development-set figures of one model, or one line saying there is no such set."""
    path = path or dev_path()
    if not path.is_file():
        return f"development set: {path} not found; only cross-validation below"
    rows = load_corpus(path)
    categories = tuple(c.id for c in config.categories)
    title = f"development set {path.name}: {len(rows)} messages, {name}"
    scored = score(classifier.classify, rows)
    return Evaluation.of(categories, scored, config.nlp.confidence_threshold, title).render()


async def evaluate(config: Config, folds: int = 5, dev_set: Path | None = None) -> str:
    """The shipped model on the development set, CV on the corpus, and the corrections."""
    trainer = await asyncio.to_thread(_trainer, config)
    shipped = ModelClassifier(
        trainer.extractor, LinearModel.load(shipped_model_path()), config.categories
    )
    dev = await asyncio.to_thread(development, config, shipped, "shipped model", dev_set)
    report = await asyncio.to_thread(trainer.cross_validate, load_corpus(), folds)
    lines = [dev, "", report.render()]
    fixed = await corrections(config)
    local = config.storage.data_dir / MODEL_FILE
    lines.append("")
    if not fixed:
        lines.append("corrections: none recorded yet")
        return "\n".join(lines)
    before = ModelClassifier(
        trainer.extractor, LinearModel.load(shipped_model_path()), config.categories
    )
    after_path = local if local.is_file() else shipped_model_path()
    after = ModelClassifier(trainer.extractor, LinearModel.load(after_path), config.categories)
    right_before = right_after = 0
    detail = []
    for text, _, wanted in fixed:
        b = before.classify(text).category
        a = after.classify(text).category
        right_before += b == wanted
        right_after += a == wanted
        detail.append(f"  {wanted:<20} before {b:<20} after {a:<20} {text[:30]}")
    lines.append(f"corrections: {len(fixed)} (before = shipped model, after = {after_path.name})")
    lines.append(f"  right before training: {right_before}/{len(fixed)}")
    lines.append(f"  right after training:  {right_after}/{len(fixed)}")
    if after_path != local:
        lines.append("  (no model trained here yet: run `jindianzi nlp train` to learn them)")
    lines.extend(detail[:50])
    return "\n".join(lines)


@dataclass(frozen=True)
class Variant:
    """One feature set and training setting to compare."""

    name: str
    features: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)


BEFORE = {"ngrams": (1, 3)}
VARIANTS = (
    Variant(
        "binary, no IDF, 1–3-grams, λ = 1e-4 (before issue 18)",
        BEFORE,
        {"idf": False, "sublinear": False, "l2": 1e-4},
    ),
    Variant("binary × IDF, 1–3-grams, λ = 1e-4", BEFORE, {"sublinear": False, "l2": 1e-4}),
    Variant("sublinear TF, no IDF, 1–3-grams, λ = 1e-4", BEFORE, {"idf": False, "l2": 1e-4}),
    Variant("sublinear TF × IDF, 1–3-grams, λ = 1e-4", BEFORE, {"l2": 1e-4}),
    Variant("**sublinear TF × IDF, 1–2-grams, λ = 1e-5 (chosen)**"),
    Variant("  chosen, IDF 0 for unseen features", training={"unseen": False}),
    Variant("  chosen, without keyword features", features={"use_keywords": False}),
    Variant("  chosen, without jieba words", features={"words": False}),
    Variant("  chosen, character 1–3-grams", features={"ngrams": (1, 3)}),
    Variant("  chosen, character 1–4-grams", features={"ngrams": (1, 4)}),
    Variant("  chosen, character 2–3-grams", features={"ngrams": (2, 3)}),
    Variant("  chosen, λ = 3e-6", training={"l2": 3e-6}),
    Variant("  chosen, λ = 3e-5", training={"l2": 3e-5}),
    Variant("  chosen, λ = 1e-4", training={"l2": 1e-4}),
    Variant("  chosen, λ = 1e-3", training={"l2": 1e-3}),
    Variant("  chosen, 300 epochs", training={"epochs": 300}),
)
"""Each a change from the defaults of `FeatureExtractor` and `Trainer` (the chosen set)."""


def compare(config: Config) -> str:
    """Each variant trained on the corpus: its development-set figures beside its CV."""
    categories = tuple(c.id for c in config.categories)
    keywords = {c.id: c.keywords for c in config.categories}
    words = [k for c in config.categories for k in c.keywords]
    tokenizer = build_tokenizer(config.storage.data_dir, words)
    rows = load_corpus()
    dev = load_corpus(dev_path()) if dev_path().is_file() else []
    lines = [
        f"corpus {len(rows)} examples (5-fold CV); development set {len(dev)} messages",
        "",
        "| variant | dev macro-F1 | dev lowest class F1 | threshold for 0.95 | asked"
        " | top-3 of asked | CV macro-F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant in VARIANTS:
        extractor = FeatureExtractor(tokenizer, keywords, **variant.features)
        trainer = Trainer(extractor, categories, **variant.training)
        model, cv = trainer.train_and_validate(rows)
        cells = ["–"] * 5
        if dev:
            classifier = ModelClassifier(extractor, model, config.categories)
            e = Evaluation.of(categories, score(classifier.classify, dev), 1.0, "")
            cat, lowest = e.overall.lowest_f1
            cells = [
                f"{e.overall.macro_f1:.3f}",
                f"{lowest:.3f} ({cat})",
                f"{e.chosen.threshold:.2f}",
                f"{e.chosen.asked:.1%}",
                f"{e.chosen.top3_of_asked:.1%}",
            ]
        lines.append(f"| {variant.name} | {' | '.join(cells)} | {cv.macro_f1:.3f} |")
    return "\n".join(lines)
