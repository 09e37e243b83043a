"""`jindianzi nlp train` and `jindianzi nlp eval`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import MODEL_FILE, build_extractor, open_storage
from bot.config import Config
from nlp import LinearModel, ModelClassifier
from nlp.training import Trainer, load_corpus, shipped_model_path
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


async def evaluate(config: Config, folds: int = 5) -> str:
    trainer = await asyncio.to_thread(_trainer, config)
    report = await asyncio.to_thread(trainer.cross_validate, load_corpus(), folds)
    lines = [report.render()]
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
