"""The quarterly review (季度讲评会): who reports on which key project, and who must explain.

The case: "每季度首月上旬,矿党委召开党群系统讲评会,各支部书记汇报所负责重点项目的月度推进情况、
存在问题以及下一步的工作安排,各主管领导现场作出点评", and "发挥作用不佳的支部……还要在党群季度
讲评会上作出检查". The meeting in a quarter's first month reviews the quarter just ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import mean

from handlers.rules.periods import Quarter
from handlers.rules.scores import compute
from handlers.services import Services
from storage import Branch, Project, QuarterReport


def under_review(local: datetime) -> Quarter:
    """The quarter a review at `local` is about: in a quarter's first month (the meeting
    month) the quarter just ended, otherwise the current quarter so far."""
    current = Quarter.of(local)
    return current.previous() if local.month == current.months[0].number else current


def quarter_end(services: Services, quarter: Quarter) -> datetime:
    """The instant the quarter ends: local midnight of the next quarter's first day."""
    following = quarter.next()
    local = services.local(services.now())
    return local.replace(
        year=following.year,
        month=following.months[0].number,
        day=1,
        hour=0,
        minute=0,
        second=0,
        microsecond=0,
    )


def report_deadline(services: Services, quarter: Quarter) -> datetime:
    """The end of the day reports on `quarter` are due: day `quarter_report_days` of the
    following quarter's first month, local time."""
    return quarter_end(services, quarter) + timedelta(days=services.settings.quarter_report_days)


@dataclass
class BranchDue:
    """One branch's key projects to report on for a quarter, and what it has reported."""

    branch: Branch
    projects: list[Project] = field(default_factory=list)
    reports: dict[int, QuarterReport] = field(default_factory=dict)
    """Project id → the branch's report."""

    @property
    def missing(self) -> list[Project]:
        return [p for p in self.projects if p.id not in self.reports]


async def dues(
    services: Services, quarter: Quarter, branch_id: str | None = None
) -> list[BranchDue]:
    """Per branch (or the one branch): the key projects it takes part in that existed before
    the quarter ended, with its reports on them, in the organisation's order."""
    repos = services.repos
    end = quarter_end(services, quarter)
    branches = [b for b in await repos.org.branches() if branch_id in (None, b.id)]
    found = {b.id: BranchDue(b) for b in branches}
    for project in await repos.projects.all():
        if project.created_at >= end:
            continue
        for member in project.branches:
            if member in found:
                found[member].projects.append(project)
    for report in await repos.quarters.reports(str(quarter), branch_id):
        if report.branch_id in found:
            found[report.branch_id].reports[report.project_id] = report
    return list(found.values())


@dataclass(frozen=True, slots=True)
class QuarterScore:
    branch_id: str
    name: str
    totals: tuple[float | None, float | None, float | None]
    """The three months' totals (None: not computable), closed months only."""

    @property
    def average(self) -> float | None:
        known = [t for t in self.totals if t is not None]
        return round(mean(known), 2) if known else None


async def quarter_scores(services: Services, quarter: Quarter) -> list[QuarterScore]:
    """Every branch's three monthly totals of the quarter, counting closed months only (an
    open month may still change), lowest average last."""
    repos = services.repos
    settings = services.settings
    months = [str(m) for m in quarter.months]
    closed = {m for m in months if await repos.scores.is_closed(m)}
    entries = await repos.scores.latest(sorted(closed))
    found = []
    for branch in await repos.org.branches():
        totals = []
        for month in months:
            parts = entries.get(month, {}).get(branch.id, {})
            _, total, _ = compute(parts, settings.project_weight, settings.part_weights)
            totals.append(total if month in closed else None)
        found.append(QuarterScore(branch.id, branch.name, (totals[0], totals[1], totals[2])))
    return sorted(found, key=lambda s: (s.average is None, -(s.average or 0), s.branch_id))


@dataclass(frozen=True, slots=True)
class Flag:
    """A branch that must explain itself at the review meeting (作出检查), and why."""

    branch_id: str
    branch_name: str
    reason: str
    project: Project | None = None
    """The stalled key project, for a flag of that kind."""


async def flags(services: Services, quarter: Quarter) -> list[Flag]:
    """The `bottom_branches` lowest branches by the quarter's average monthly total (ties at
    the cut included; none when no more branches than that are scored), and every branch of a
    key project with no progress reported in the `stalled_days` before the quarter's end
    (one at 100 % is finished, not stalled). The same answer whenever it is asked."""
    settings = services.settings
    found: list[Flag] = []
    ranked = [s for s in await quarter_scores(services, quarter) if s.average is not None]
    cut = settings.bottom_branches
    if cut and len(ranked) > cut:
        threshold = ranked[-cut].average
        for score in ranked:
            if score.average is None or threshold is None or score.average > threshold:
                continue
            place = 1 + sum(1 for s in ranked if (s.average or 0) > score.average)
            reason = (
                f"季度月度考核平均 {score.average:g} 分,排第 {place} 名(共 {len(ranked)} 个支部)"
            )
            found.append(Flag(score.branch_id, score.name, reason))
    end = quarter_end(services, quarter)
    since = end - timedelta(days=settings.stalled_days)
    latest = await services.repos.quarters.progress_as_of(end)
    names = {b.id: b.name for b in await services.repos.org.branches()}
    for project in await services.repos.projects.all():
        if project.created_at >= since:
            continue  # too new to have stalled
        last = latest.get(project.id)
        if last is not None and (last[1] == 100 or last[0] >= since):
            continue
        local = services.local(last[0]) if last else None
        reason = (
            f"重点项目 {project.number} {project.title} 自 {local:%m月%d日} 起没有报告进展"
            if local
            else f"重点项目 {project.number} {project.title} 一直没有报告进展"
        )
        found += [Flag(b, names.get(b, b), reason, project) for b in project.branches if b in names]
    return found
