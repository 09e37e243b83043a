"""The quarterly review (季度讲评会): who reports on which key project, and who must explain.

The case: "每季度首月上旬,矿党委召开党群系统讲评会,各支部书记汇报所负责重点项目的月度推进情况、
存在问题以及下一步的工作安排,各主管领导现场作出点评", and "发挥作用不佳的支部……还要在党群季度
讲评会上作出检查". The meeting in a quarter's first month reviews the quarter just ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import mean

from handlers import access
from handlers.rules.periods import Quarter
from handlers.rules.scores import compute
from handlers.services import Services
from storage import Branch, Person, Project, QuarterReport

TEXT_MAX = 500
"""The longest progress, problems, next steps or comment taken (a phone screen or two)."""
LAST_CALL = timedelta(days=2)
"""A reminder this close to the deadline is the last: the leaders hear who has not reported."""
NONE = "无"
"""What a skipped 存在问题 reads as."""
_NUMERALS = "一二三四"
BUTTON = "qr"
"""Callback prefix of the review's buttons: qr:r:<project id>:<quarter>, qr:c:<report id>."""


def under_review(local: datetime) -> Quarter:
    """The quarter a review at `local` is about: in a quarter's first month (the meeting
    month) the quarter just ended, otherwise the current quarter so far."""
    current = Quarter.of(local)
    return current.previous() if local.month == current.months[0].number else current


def quarter_end(services: Services, quarter: Quarter) -> datetime:
    """The instant the quarter ends: local midnight of the next quarter's first day."""
    return quarter.next().start(services.local(services.now()))


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


def label(quarter: Quarter) -> str:
    """'2026 年第四季度', as the meeting is called."""
    return f"{quarter.year} 年第{_NUMERALS[quarter.number - 1]}季度"


def due_text(services: Services, quarter: Quarter) -> str:
    """The deadline as people read it: '1 月 6 日前' (the deadline is the end of that day)."""
    last = report_deadline(services, quarter) - timedelta(microseconds=1)
    return f"{last.month} 月 {last.day} 日前"


def text_problem(text: str, what: str) -> str | None:
    """Why a typed report part or comment is not taken, or None."""
    if not text.strip():
        return f"{what}不能为空,请输入内容。"
    if len(text.strip()) > TEXT_MAX:
        return f"{what}太长了(最多 {TEXT_MAX} 字),请精简后再发。"
    return None


async def reportable(services: Services, person: Person, number: str) -> Project | str:
    """The key project `number` (P03) the person may report on, or what to say."""
    digits = number.strip()[1:] if number.strip()[:1] in "Pp" else ""
    project = await services.repos.projects.get(int(digits)) if digits.isdigit() else None
    if project is None:
        return f"没有编号为“{number.strip()[:20]}”的重点项目。"
    if not access.may_report_quarter(person, project):
        return f"{project.number} 不是本支部参与的重点项目,您不能汇报它。"
    return project


@dataclass(frozen=True, slots=True)
class Submitted:
    report: QuarterReport
    replaced: bool
    complete: BranchDue | None
    """The branch's dues when this report was its last one missing (first time only)."""


async def submit_report(
    services: Services,
    person: Person,
    project: Project,
    quarter: Quarter,
    progress: str,
    problems: str,
    next_steps: str,
) -> Submitted | str:
    """Save the secretary's report on `project` for `quarter` (replacing an earlier one), or
    say why not. Reports the branch complete when this one completed it."""
    if not access.may_report_quarter(person, project):
        return f"{project.number} 不是本支部参与的重点项目,您不能汇报它。"
    for text, what in (
        (progress, "本季度进展"),
        (problems, "存在问题"),
        (next_steps, "下一步安排"),
    ):
        why = text_problem(text, what)
        if why:
            return why
    branch_id = person.branch_id
    before = (await dues(services, quarter, branch_id))[0]
    replaced = project.id in before.reports
    report_id = await services.repos.quarters.save_report(
        quarter=str(quarter),
        project_id=project.id,
        branch_id=branch_id,
        progress=progress.strip(),
        problems=problems.strip() or NONE,
        next_steps=next_steps.strip(),
        person_id=person.id,
        now=services.now(),
    )
    after = (await dues(services, quarter, branch_id))[0]
    saved = await services.repos.quarters.report(report_id)
    assert saved is not None
    complete = after if before.missing and not after.missing and after.projects else None
    return Submitted(saved, replaced, complete)


async def readable(services: Services, person: Person, report_id: int) -> QuarterReport | None:
    """The report, if the person may read it (a leader any, a secretary their branch's)."""
    report = await services.repos.quarters.report(report_id)
    return report if report is not None and access.may_read_quarter(person, report) else None


async def comment(
    services: Services, person: Person, report_id: int, text: str
) -> QuarterReport | str:
    """A leader's comment on a report (the report with it), or why not."""
    if not access.may_comment_quarter(person):
        return "只有党委领导可以点评季度汇报。"
    report = await services.repos.quarters.report(report_id)
    if report is None:
        return f"没有编号为 {report_id} 的季度汇报。"
    why = text_problem(text, "点评")
    if why:
        return why
    await services.repos.quarters.add_comment(report_id, person.id, text.strip(), services.now())
    found = await services.repos.quarters.report(report_id)
    assert found is not None
    return found


@dataclass(frozen=True, slots=True)
class Reminder:
    quarter: Quarter
    missing: list[BranchDue]
    """Branches with reports still missing."""
    last: bool
    """The last reminder before the deadline: the leaders are told too."""


async def reminder(services: Services, at: datetime) -> Reminder | None:
    """Who still owes reports on the quarter under review at `at`; None after the deadline,
    outside the meeting month, or when nobody does."""
    local = services.local(at)
    quarter = under_review(local)
    if local.month != quarter.next().months[0].number:
        return None  # not the meeting month: nothing is due yet
    deadline = report_deadline(services, quarter)
    if local >= deadline:
        return None
    missing = [d for d in await dues(services, quarter) if d.missing]
    if not missing:
        return None
    return Reminder(quarter, missing, deadline - local <= LAST_CALL)
