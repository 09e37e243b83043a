"""The quarterly meeting pack (季度讲评会材料): per branch, what the leaders read first.

The case: at the meeting in a quarter's first ten days the secretaries report on their key
projects and the leaders comment; branches that did poorly "在党群季度讲评会上作出检查". The pack
gathers, for the quarter under review, each branch's three monthly scores with the average and
rank, its reports (and those missing), the supervision findings and visits, the verified
benefit, and why it is flagged. Times here are local (the configured timezone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from handlers.rules.periods import Quarter
from handlers.rules.quarterly import Flag, dues, flags, quarter_end, quarter_scores
from handlers.services import Services
from storage import Branch

STATUS_NAMES = {"open": "未解决", "resolved": "已解决"}


@dataclass(frozen=True, slots=True)
class PackReport:
    """One key project a branch reports on; `missing` when nothing was reported (未汇报)."""

    project_number: str
    project_title: str
    missing: bool = False
    progress: str = ""
    problems: str = ""
    next_steps: str = ""
    person_name: str = ""
    reported_at: datetime | None = None
    comments: str = ""
    """The leaders' comments, '张三:…' joined by newlines."""


@dataclass(frozen=True, slots=True)
class PackFinding:
    id: int
    department: str
    text: str
    status: str
    """In Chinese: 未解决 or 已解决."""
    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class PackBenefit:
    project_number: str
    project_title: str
    amount_fen: int
    text: str
    verified_at: datetime


@dataclass
class BranchPack:
    branch: Branch
    department: str
    totals: tuple[float | None, float | None, float | None]
    average: float | None = None
    rank: int | None = None
    """Ties share a rank; None when the branch has no closed month scored."""
    reports: list[PackReport] = field(default_factory=list)
    findings: list[PackFinding] = field(default_factory=list)
    visits: list[tuple[str, int]] = field(default_factory=list)
    """(department name, visits in the quarter)."""
    benefits: list[PackBenefit] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    @property
    def reported(self) -> int:
        return sum(1 for r in self.reports if not r.missing)

    @property
    def missing(self) -> list[PackReport]:
        return [r for r in self.reports if r.missing]

    @property
    def open_findings(self) -> int:
        return sum(1 for f in self.findings if f.status == STATUS_NAMES["open"])

    @property
    def benefit_fen(self) -> int:
        return sum(b.amount_fen for b in self.benefits)


@dataclass
class Pack:
    quarter: Quarter
    generated_at: datetime
    branches: list[BranchPack] = field(default_factory=list)
    """In the organisation's order: by supervising department (as configured), then id."""

    @property
    def month_labels(self) -> tuple[str, str, str]:
        first, second, third = (f"{m.number}月" for m in self.quarter.months)
        return first, second, third

    @property
    def reports_due(self) -> int:
        return sum(len(b.reports) for b in self.branches)

    @property
    def reports_in(self) -> int:
        return sum(b.reported for b in self.branches)

    @property
    def flagged(self) -> list[BranchPack]:
        return [b for b in self.branches if b.flags]

    @property
    def empty(self) -> bool:
        """Nothing to review: no report due, no score, finding, visit nor benefit."""
        return not any(
            b.reports or b.average is not None or b.findings or b.visits or b.benefits
            for b in self.branches
        )

    @property
    def scored(self) -> list[BranchPack]:
        """Branches with a quarter average, best first."""
        found = [b for b in self.branches if b.average is not None]
        return sorted(found, key=lambda b: (-(b.average or 0), b.branch.id))


async def pack(services: Services, quarter: Quarter) -> Pack:
    """Everything the review meeting of `quarter` reads, per branch."""
    repos = services.repos
    now = services.local(services.now())
    start = quarter.start(now)
    end = quarter_end(services, quarter)
    departments = {d.id: d.name for d in await repos.org.department_names()}
    projects = {p.id: p for p in await repos.projects.all()}
    scores = {s.branch_id: s for s in await quarter_scores(services, quarter)}
    averages = [s.average for s in scores.values() if s.average is not None]
    found: dict[str, BranchPack] = {}
    for due in await dues(services, quarter):
        branch = due.branch
        score = scores.get(branch.id)
        totals = score.totals if score else (None, None, None)
        average = score.average if score else None
        rank = None if average is None else 1 + sum(1 for a in averages if a > average)
        entry = BranchPack(branch, departments.get(branch.department_id, ""), totals, average, rank)
        for project in due.projects:
            report = due.reports.get(project.id)
            if report is None:
                entry.reports.append(PackReport(project.number, project.title, missing=True))
                continue
            entry.reports.append(
                PackReport(
                    project.number,
                    project.title,
                    progress=report.progress,
                    problems=report.problems,
                    next_steps=report.next_steps,
                    person_name=report.person_name,
                    reported_at=services.local(report.reported_at),
                    comments="\n".join(f"{c.person_name}:{c.text}" for c in report.comments),
                )
            )
        found[branch.id] = entry
    for finding, resolved_at in await repos.findings.opened_between(start, end):
        if finding.branch_id in found:
            found[finding.branch_id].findings.append(
                PackFinding(
                    finding.id,
                    departments.get(finding.department_id, finding.department_id),
                    finding.text,
                    STATUS_NAMES.get(finding.status, finding.status),
                    services.local(finding.created_at),
                    services.local(resolved_at) if resolved_at else None,
                )
            )
    visits = await repos.visits.by_department([str(m) for m in quarter.months])
    for (branch_id, department_id), count in sorted(visits.items()):
        if branch_id in found:
            name = departments.get(department_id, department_id)
            found[branch_id].visits.append((name, count))
    for benefit in await repos.projects.verified_between(start, end):
        owner = projects.get(benefit.project_id)
        if owner is None or benefit.decided_at is None:
            continue
        item = PackBenefit(
            owner.number,
            owner.title,
            benefit.amount_fen,
            benefit.text,
            services.local(benefit.decided_at),
        )
        for branch_id in owner.branches:  # a shared project's benefit counts for each branch
            if branch_id in found:
                found[branch_id].benefits.append(item)
    for flag in await flags(services, quarter):
        if flag.branch_id in found:
            found[flag.branch_id].flags.append(flag)
    order = {d: k for k, d in enumerate(departments)}  # the configured departments' order
    ordered = sorted(
        found.values(), key=lambda b: (order.get(b.branch.department_id, 99), b.branch.id)
    )
    return Pack(quarter, now, ordered)
