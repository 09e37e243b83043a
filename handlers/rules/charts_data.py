"""The data of the /stats charts, one gatherer per chart, read through the bounded aggregate
queries (month buckets, category × branch groups, speed, verified sums): each stays fast at a
million ideas. The drawing is in `handlers.charts`; nothing here imports matplotlib."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from handlers.rules import names
from handlers.rules.ideas import ADOPTED, UNCOUNTED
from handlers.rules.periods import Month
from handlers.rules.scores import BranchScore, Figures, month_scores, speed, year_start
from handlers.services import Services

WAN = 1_000_000
"""Fen in 1 万元."""

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
"""Category colours by the category's place in the configured order; then these again.
Shared by the chat's images (`handlers.charts`) and the web 看板's charts."""
TARGET = "#c44e52"
OURS = "#4c72b0"
MEDIAN = "#b0b0b0"


def category_colours(category_ids: Sequence[str]) -> dict[str, str]:
    """Category id → colour, from the configured order: the same category has the same
    colour in every chart."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(category_ids)}


@dataclass(frozen=True, slots=True)
class YearTarget:
    """Cumulative verified benefit (万元) by month, January to this month."""

    year: int
    cumulative: Sequence[float]
    target: float
    projected: float
    """The year-end figure at the pace so far."""

    @property
    def done(self) -> float:
        return self.cumulative[-1] / self.target if self.cumulative and self.target else 0.0


@dataclass(frozen=True, slots=True)
class MonthlyCategories:
    title: str
    months: Sequence[str]
    categories: Sequence[tuple[str, str]]
    """(id, label) in the configured order: their colours."""
    counts: Mapping[str, Sequence[int]]
    """Category id → ideas per month."""


@dataclass(frozen=True, slots=True)
class BranchSpeed:
    name: str
    review_days: float
    """The median days to the first review."""
    adoption: float
    """Adopted ideas / ideas, 0..1."""


@dataclass(frozen=True, slots=True)
class ProjectBar:
    number: str
    title: str
    lead: str
    percent: int | None
    """The latest reported progress; None when none is reported yet (drawn as 0)."""


@dataclass(frozen=True, slots=True)
class ScoreBar:
    name: str
    base_part: float
    """The base score × (1 − project weight): its share of the total."""
    project_part: float
    """The key-project score × the project weight."""

    @property
    def total(self) -> float:
        return round(self.base_part + self.project_part, 2)


@dataclass(frozen=True, slots=True)
class Measure:
    label: str
    unit: str
    ours: float | None
    median: float | None
    """None: no figure yet (drawn as an empty place, labelled 暂无)."""


def year_target(services: Services, found: Figures) -> YearTarget:
    """The mine's year so far against the yearly target, from the figures /stats has read;
    the year-end figure is the benefit so far at the same pace for the rest of the year."""
    local = services.local(services.now())
    start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = (local - start) / (start.replace(year=start.year + 1) - start)
    cumulative, running = [], 0
    for _, _, fen in found.monthly:
        running += fen
        cumulative.append(running / WAN)
    projected = running / WAN / elapsed if elapsed > 0 else 0.0
    return YearTarget(found.year, cumulative, services.settings.yearly_target_fen / WAN, projected)


def _month_starts(services: Services) -> list[datetime]:
    """This year's local month starts, January to next month's (this month's end)."""
    start = year_start(services)
    month = services.local(services.now()).month
    starts = [start.replace(month=n) for n in range(1, month + 1)]
    starts.append(
        start.replace(year=start.year + 1) if month == 12 else start.replace(month=month + 1)
    )
    return starts


async def monthly_categories(
    services: Services, branch_id: str | None, scope: str
) -> MonthlyCategories:
    """Ideas of this year by month and category (withdrawn ones left out)."""
    starts = _month_starts(services)
    months = len(starts) - 1
    found = await services.repos.ideas.category_buckets(
        starts, branch_id=branch_id, excluded={"withdrawn"}
    )
    counts: dict[str, list[int]] = {}
    for bucket, category, ideas in found:
        if bucket < months:  # the last bucket is after this month: nothing is there yet
            counts.setdefault(category, [0] * months)[bucket] += ideas
    categories = [(c.id, c.label) for c in services.classifier.categories]
    known = {c for c, _ in categories}
    for unknown in sorted(set(counts) - known):  # a category since removed from the config
        categories.append((unknown, unknown))
    year = starts[0].year
    return MonthlyCategories(
        f"{scope} {year} 年每月金点子", [f"{n}月" for n in range(1, months + 1)], categories, counts
    )


async def branch_speeds(services: Services) -> list[BranchSpeed]:
    """Per branch with a reviewed idea this year: the median days to the first review and
    the adoption rate."""
    since = year_start(services)
    fast = await speed(services, None, since)
    groups = await services.repos.ideas.groups(
        since, branch_id=None, adopted=ADOPTED, excluded=UNCOUNTED
    )
    ideas: dict[str, list[int]] = {}
    for g in groups:
        counted = ideas.setdefault(g.branch_id, [0, 0])
        counted[0] += g.ideas
        counted[1] += g.adopted
    shown = {b.id: names.short_branch_name(b) for b in await services.repos.org.branches()}
    rows = []
    for branch_id, (review, _) in fast.by_branch.items():
        if review is None or branch_id not in shown:
            continue
        total, adopted = ideas.get(branch_id, [0, 0])
        rows.append(
            BranchSpeed(
                shown[branch_id], round(review.median_days, 1), adopted / total if total else 0.0
            )
        )
    return rows


async def project_bars(services: Services, branch_id: str | None) -> list[ProjectBar]:
    """The key projects (of one branch, or all) with their latest progress."""
    return [
        ProjectBar(p.number, p.title, p.lead_name, p.last_percent)
        for p in await services.repos.projects.all()
        if branch_id is None or branch_id in p.branches
    ]


async def latest_closed(services: Services, back: int = 12) -> Month | None:
    """The latest closed month of the last `back` months, this one included."""
    month = Month.of(services.local(services.now()))
    for _ in range(back):
        if await services.repos.scores.is_closed(str(month)):
            return month
        month = month.previous()
    return None


def score_bars(services: Services, found: Sequence[BranchScore]) -> list[ScoreBar]:
    """The branches with a total, ranked, each total split into its base and project parts."""
    weight = services.settings.project_weight
    return [
        ScoreBar(
            s.name.removesuffix("党支部"),
            round(s.parts["base"] * (1 - weight), 2),
            round((s.project or 0) * weight, 2),
        )
        for s in found
        if s.total is not None and "base" in s.parts
    ]


def _median(values: Sequence[float]) -> float | None:
    return round(median(values), 1) if values else None


async def against_median(
    services: Services, branch_id: str, scores: Sequence[BranchScore] | None
) -> list[Measure]:
    """One branch beside the median branch of the mine: ideas per month this year, the
    adoption rate, the median days to a first review and the latest closed month's total.
    Only the branch's own figures and the mine's medians leave this function."""
    since = year_start(services)
    months = services.local(services.now()).month
    groups = await services.repos.ideas.groups(
        since, branch_id=None, adopted=ADOPTED, excluded=UNCOUNTED
    )
    counted: dict[str, list[int]] = {b.id: [0, 0] for b in await services.repos.org.branches()}
    for g in groups:
        pair = counted.setdefault(g.branch_id, [0, 0])
        pair[0] += g.ideas
        pair[1] += g.adopted
    per_month = {b: round(n / months, 1) for b, (n, _) in counted.items()}
    rates = {b: a / n for b, (n, a) in counted.items() if n}
    fast = await speed(services, None, since)
    days = {b: r.median_days for b, (r, _) in fast.by_branch.items() if r is not None}
    totals = {s.branch_id: s.total for s in scores or () if s.total is not None}
    measures = [
        Measure(
            "每月金点子", "条", per_month.get(branch_id, 0.0), _median(list(per_month.values()))
        ),
        Measure("采纳率", "%", rates.get(branch_id), _median(list(rates.values()))),
        Measure("首次审核用时", "天", days.get(branch_id), _median(list(days.values()))),
    ]
    if scores is not None:
        measures.append(
            Measure("月度考核总分", "分", totals.get(branch_id), _median(list(totals.values())))
        )
    return measures


async def closed_scores(services: Services) -> tuple[Month | None, list[BranchScore]]:
    """The latest closed month and its scores (none when no month is closed)."""
    month = await latest_closed(services)
    return month, (await month_scores(services, month) if month is not None else [])
