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
    """The handful of configuration values the handlers need.

    No defaults here: the composition root fills every field from the configuration,
    whose sections are the one home of each default.
    """

    timezone: ZoneInfo
    max_text_chars: int
    min_idea_chars: int
    page_size: int
    review_overdue_days: int
    confidence_threshold: float
    similarity_threshold: float
    visits_per_month: int
    long_open_days: int
    notify_group: bool
    finding_leaders: tuple[str, ...]
    """工号 of the leaders told of new findings; empty: every leader."""
    reward_tiers: tuple[tuple[int | None, float], ...]
    """(verified benefit up to, in fen, or None for the rest; the workers' share)."""
    project_weight: float
    part_weights: tuple[tuple[str, float], ...]
    yearly_target_fen: int
    quarter_report_days: int
    """Secretaries report on their key projects within the quarter's first this-many days."""
    bottom_branches: int
    """How many of the lowest-scored branches explain themselves at the quarterly review."""
    stalled_days: int
    """No progress for this long at the quarter's end: a stalled key project."""
    chart_dir: Path
    web_public_url: str
    """The web 看板's base URL for the /web links; empty: no 看板."""
    web_link_minutes: int


@dataclass(frozen=True, slots=True)
class MineView:
    """One mine as the group office sees it."""

    id: str
    name: str
    services: Services


@dataclass(frozen=True, slots=True)
class Services:
    repos: Repositories
    classifier: Classifier
    settings: Settings
    clock: Callable[[], datetime]
    outbox_signal: asyncio.Event
    """Set after a commit that queued messages, so the sender wakes at once."""
    group: tuple[MineView, ...] = ()
    """The mines this is the group office (集团党委) of, in configured order; empty for a
    mine. Each mine's figures are read through that mine's own services."""

    def now(self) -> datetime:
        return self.clock()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.settings.timezone)

    def category_label(self, category_id: str) -> str:
        for c in self.classifier.categories:
            if c.id == category_id:
                return c.label
        return category_id
