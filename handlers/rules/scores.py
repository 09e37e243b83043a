"""The monthly 100-point branch assessment, the quarter's review material and the campaign's
figures for /stats."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from handlers.money import format_yuan
from handlers.rules.ideas import ADOPTED, UNCOUNTED
from handlers.rules.periods import Month, Quarter
from handlers.services import Services
from storage import Branch, SpeedFigure

PARTS = ("base", "self", "dept", "leader")
PART_LABELS = {"base": "基础分", "self": "项目自评", "dept": "部门评价", "leader": "领导评价"}


@dataclass
class BranchScore:
    branch_id: str
    name: str
    parts: dict[str, float]
    project: float | None
    total: float | None
    missing: list[str]
    rank: int | None = None
    change: float | None = None
    comment: str = ""
    """The leader's comment: the text of the latest 领导评价 entry."""


def compute(
    parts: dict[str, float], project_weight: float, part_weights: tuple[tuple[str, float], ...]
) -> tuple[float | None, float | None, list[str]]:
    """(project part, total, missing parts); a missing part is never taken as zero."""
    missing = [p for p in PARTS if p not in parts]
    project = None
    if all(name in parts for name, _ in part_weights):
        project = round(sum(parts[name] * weight for name, weight in part_weights), 2)
    total = None
    if project is not None and "base" in parts:
        total = round(parts["base"] * (1 - project_weight) + project * project_weight, 2)
    return project, total, missing


async def month_scores(services: Services, month: str | Month) -> list[BranchScore]:
    """Every branch's month, ranked by total (ties share a rank), with the change from the
    month before."""
    period = month if isinstance(month, Month) else Month.parse(month)
    assert period is not None, month
    entries = await services.repos.scores.latest([str(period), str(period.previous())])
    found = _ranked(services, await services.repos.org.branches(), entries, period)
    comments = await services.repos.scores.notes(str(period), "leader")
    for score in found:
        score.comment = comments.get(score.branch_id, "")
    return found


def ranked_count(found: Sequence[BranchScore]) -> int:
    """How many branches have a total, so a rank reads "of N"."""
    return sum(1 for s in found if s.rank is not None)


def _ranked(
    services: Services,
    branches: Sequence[Branch],
    entries: dict[str, dict[str, dict[str, float]]],
    period: Month,
) -> list[BranchScore]:
    settings = services.settings
    current = entries.get(str(period), {})
    before = entries.get(str(period.previous()), {})
    scores = []
    for branch in branches:
        parts = current.get(branch.id, {})
        project, total, missing = compute(parts, settings.project_weight, settings.part_weights)
        score = BranchScore(branch.id, branch.name, parts, project, total, missing)
        _, last, _ = compute(
            before.get(branch.id, {}), settings.project_weight, settings.part_weights
        )
        if total is not None and last is not None:
            score.change = round(total - last, 2)
        scores.append(score)
    ranked = sorted((s for s in scores if s.total is not None), key=lambda s: -(s.total or 0))
    for index, score in enumerate(ranked):
        if index and score.total == ranked[index - 1].total:
            score.rank = ranked[index - 1].rank
        else:
            score.rank = index + 1
    return sorted(scores, key=lambda s: (s.rank is None, s.rank or 0, s.branch_id))


def previous_month(month: str) -> str:
    """'2026-01' → '2025-12'."""
    period = Month.parse(month)
    assert period is not None, month
    return str(period.previous())


async def month_refusal(services: Services, month: Month) -> str | None:
    """Why `month` takes no score entries (not yet come, closed), or None: one answer for the
    chat's /score and the web grid alike."""
    if month > Month.of(services.local(services.now())):
        return "这个月份还没到。"
    if await services.repos.scores.is_closed(str(month)):
        return (
            f"{month} 已经结账,不能再修改。如需更正,请党委领导先发送"
            f" /score reopen {month} 原因 重新打开。"
        )
    return None


async def enter(
    services: Services,
    person_id: int,
    branch_id: str,
    month: Month,
    part: str,
    value: float,
    text: str,
) -> str | None:
    """Record one part of a branch's month; why not, or None."""
    if await services.repos.scores.is_closed(str(month)):
        return (
            f"{month} 已经结账,不能再修改。如需更正,请党委领导先发送"
            f" /score reopen {month} 原因 重新打开。"
        )
    await services.repos.scores.enter(
        branch_id, str(month), part, value, text, person_id, services.now()
    )
    return None


_FIGURE = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,4})?")


def read_score(text: str) -> float | str:
    """A score typed as '85', '92.5' or '85分' → 85.0; what is wrong otherwise ('①', '120')."""
    typed = text.strip().removesuffix("分").strip()
    if typed.startswith("-") and _FIGURE.fullmatch(typed[1:]):
        return f"分数要在 0 到 100 之间,“{typed}”不行。"
    if not _FIGURE.fullmatch(typed):
        return "分数要写 0 到 100 的数字,例如 85 或 92.5。"
    value = float(typed)  # ASCII digits and one point only, checked above
    if value > 100:
        return f"分数要在 0 到 100 之间,“{typed}”不行。"
    return value


def pending(found: Sequence[BranchScore]) -> list[BranchScore]:
    """The branches whose total cannot be computed yet."""
    return [s for s in found if s.total is None]


async def close(services: Services, person_id: int, month: Month, now_month: Month) -> str:
    if month > now_month:
        return "这个月份还没到,不能结账。"
    if not await services.repos.scores.close(str(month), person_id, services.now()):
        return f"{month} 已经结账了。"
    return f"{month} 已结账,之后不能再修改。"


# -- quarterly review material -----------------------------------------------------------


@dataclass
class QuarterBranch:
    name: str
    projects: list[str] = field(default_factory=list)
    open_findings: int = 0
    totals: list[str] = field(default_factory=list)


async def quarter_material(services: Services, quarter: Quarter) -> dict[str, QuarterBranch]:
    """Per branch: its key projects with latest progress and verified benefit, open findings,
    and the quarter's monthly totals."""
    repos = services.repos
    listed = await repos.org.branches()
    branches = {b.id: QuarterBranch(b.name) for b in listed}
    for project in await repos.projects.all():
        line = (
            f"{project.number} {project.title}:"
            f"{project.last_percent if project.last_percent is not None else '—'}% "
            f"{project.last_progress or '未报告进展'};核实效益 {format_yuan(project.verified_fen)}"
        )
        for branch_id in project.branches:
            if branch_id in branches:
                branches[branch_id].projects.append(line)
    for branch_id, count in (await repos.findings.open_counts()).items():
        if branch_id in branches:
            branches[branch_id].open_findings = count
    months = [quarter.months[0].previous(), *quarter.months]
    entries = await repos.scores.latest([str(m) for m in months])
    for month in quarter.months:
        for s in _ranked(services, listed, entries, month):
            shown = f"{s.total:g}" if s.total is not None else "待定"
            branches[s.branch_id].totals.append(f"{month.number:02d}月 {shown}")
    return branches


# -- the campaign in figures -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """The year so far, for the whole mine (branch_id None) or one branch."""

    branch_id: str | None
    year: int
    ideas_this_month: int
    ideas_this_quarter: int
    ideas_this_year: int
    adopted: int
    by_category: Counter[str]
    """Category id → ideas."""
    by_branch: Counter[str]
    """Branch id → ideas."""
    verified_fen: int
    monthly: list[tuple[int, int, int]]
    """(month number, ideas, verified fen) from January to this month."""

    @property
    def adoption_rate(self) -> float:
        return self.adopted / self.ideas_this_year if self.ideas_this_year else 0.0


async def figures(services: Services, branch_id: str | None) -> Figures:
    """Ideas and verified benefit of this year, withdrawn ideas left out."""
    local = services.local(services.now())
    year_start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    # Local month starts as instants: bucket n - 1 is month n, bucket local.month is "later".
    boundaries = [year_start.replace(month=n) for n in range(1, local.month + 1)]
    boundaries.append(
        year_start.replace(year=local.year + 1)
        if local.month == 12
        else year_start.replace(month=local.month + 1)
    )
    repos = services.repos
    excluded = {"withdrawn"}
    groups = await repos.ideas.groups(
        year_start, branch_id=branch_id, adopted=ADOPTED, excluded=excluded
    )
    by_month = await repos.ideas.buckets(boundaries, branch_id=branch_id, excluded=excluded)
    verified = await repos.projects.verified_sums(boundaries, branch_id=branch_id)
    quarter_first = Quarter.of(local).months[0].number
    by_category: Counter[str] = Counter()
    by_branch: Counter[str] = Counter()
    for g in groups:
        by_category[g.category] += g.ideas
        by_branch[g.branch_id] += g.ideas
    benefit = [0] * (local.month + 1)
    for v in verified:
        benefit[v.bucket] += v.amount_fen
    return Figures(
        branch_id=branch_id,
        year=local.year,
        ideas_this_month=sum(by_month[local.month - 1 :]),
        ideas_this_quarter=sum(by_month[quarter_first - 1 :]),
        ideas_this_year=sum(by_month),
        adopted=sum(g.adopted for g in groups),
        by_category=by_category,
        by_branch=by_branch,
        verified_fen=sum(benefit),
        monthly=[(n, by_month[n - 1], benefit[n - 1]) for n in range(1, local.month + 1)],
    )


# -- speed: "以最快速度将金点子变成金子" ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Speed:
    """Days to the first review and to adoption, for the scope together and per branch."""

    review: SpeedFigure | None
    adopted: SpeedFigure | None
    by_branch: dict[str, tuple[SpeedFigure | None, SpeedFigure | None]]
    """Branch id → (review, adopted)."""


async def speed(services: Services, branch_id: str | None, since: datetime) -> Speed:
    """The speed of the ideas submitted from `since` on, withdrawn ones left out."""
    found = await services.repos.ideas.speed(since, branch_id=branch_id, excluded=UNCOUNTED)
    steps: dict[str | None, dict[str, SpeedFigure]] = {}
    for f in found:
        steps.setdefault(f.branch_id, {})[f.step] = f
    together = steps.pop(None, {})
    return Speed(
        together.get("review"),
        together.get("adopted"),
        {b: (s.get("review"), s.get("adopted")) for b, s in steps.items() if b is not None},
    )


def year_start(services: Services) -> datetime:
    """The start of this local year, as an instant."""
    local = services.local(services.now())
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
