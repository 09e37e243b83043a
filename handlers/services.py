"""The services a handler receives: built once by the composition root."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nlp import Classifier
from storage import Repositories


@dataclass(frozen=True, slots=True)
class Settings:
    """The handful of configuration values the handlers need."""

    timezone: ZoneInfo
    max_text_chars: int = 1000
    min_idea_chars: int = 4
    page_size: int = 8
    confidence_threshold: float = 0.45
    similarity_threshold: float = 0.35
    visits_per_month: int = 4
    long_open_days: int = 14
    notify_group: bool = True
    reward_tiers: tuple[tuple[int | None, float], ...] = (
        (10_000_000, 0.6),
        (100_000_000, 0.3),
        (None, 0.1),
    )
    """(verified benefit up to, in fen, or None for the rest; the workers' share)."""
    project_weight: float = 0.20
    part_weights: tuple[tuple[str, float], ...] = (("self", 0.3), ("dept", 0.4), ("leader", 0.3))
    yearly_target_fen: int = 5_100_000_000
    chart_dir: Path = Path("data/charts")


@dataclass(frozen=True, slots=True)
class Services:
    repos: Repositories
    classifier: Classifier
    settings: Settings
    clock: Callable[[], datetime]
    outbox_signal: asyncio.Event
    """Set after a commit that queued messages, so the sender wakes at once."""

    def now(self) -> datetime:
        return self.clock()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.settings.timezone)

    def category_label(self, category_id: str) -> str:
        for c in self.classifier.categories:
            if c.id == category_id:
                return c.label
        return category_id
