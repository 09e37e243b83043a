"""Supervision: findings raised on branch visits and followed until resolved, the visits
counted against the monthly target, and the Monday meeting's agenda."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handlers import access
from handlers.messages import IncomingAttachment
from handlers.notify import Chat, notify
from handlers.rules import attachments, audience
from handlers.rules.periods import Month
from handlers.services import Services
from storage import Branch, Finding, Person, Recipient

MAX_FINDING_CHARS = 500
MIN_FINDING_CHARS = 4
ACTION_LABELS = {
    "add": "提出",
    "note": "进展",
    "resolve": "已解决",
    "reopen": "重新打开",
    "escalate": "提交党委协调",
}


def substantial(text: str, at_least: int) -> bool:
    return sum(1 for ch in text if ch.isalnum()) >= at_least


async def scope(services: Services, person: Person) -> list[str] | None:
    """Branch ids whose findings the person may see; None means every branch."""
    return access.visible_branches(person, await services.repos.org.branches())


async def visible(services: Services, person: Person, number: int) -> Finding | None:
    """The finding, if it exists and lies in the person's scope."""
    finding = await services.repos.findings.get(number)
    allowed = await scope(services, person)
    if finding is None or (allowed is not None and finding.branch_id not in allowed):
        return None
    return finding


async def record(
    services: Services,
    person: Person,
    channel: str,
    branch: Branch,
    text: str,
    files: Sequence[IncomingAttachment] = (),
    project_ref: str | None = None,
) -> Finding | str:
    """Store a finding with its photos and tell the branch; the refusal reason otherwise."""
    if not access.may_raise_finding(person, branch):
        return f"{branch.name}不在您所在部门的督导范围内,不能记录。"
    if not substantial(text, MIN_FINDING_CHARS):
        return "请写清楚发现的问题(至少几个字),例如:/findings add jj1 班前会记录不全"
    if len(text) > MAX_FINDING_CHARS:
        return f"问题描述太长了({len(text)} 字),请控制在 {MAX_FINDING_CHARS} 字以内。"
    finding = await services.repos.findings.add(
        branch=branch, text=text, person_id=person.id, project_ref=project_ref, now=services.now()
    )
    await attachments.keep(services, person.id, channel, files, finding_id=finding.id)
    recipients = await audience.secretaries(services, branch.id)
    if services.settings.notify_group:
        recipients += await audience.branch_groups(services, branch.id)
    await notify(
        services,
        recipients,
        f"📋 督导发现问题 #{finding.id}({branch.name}):{text}\n"
        f"请支部书记跟进:/findings note {finding.id} 进展,解决后 /findings resolve "
        f"{finding.id} 说明。",
        key=f"finding:{finding.id}:add",
    )
    return finding


# -- following a finding up: one table of what each step needs and whom it tells ---------


@dataclass(frozen=True, slots=True)
class FindingStep:
    """One way to move a finding on: note, resolve, reopen, escalate."""

    action: str
    usage: str
    allowed: frozenset[str]
    """How one must stand to the finding (access.finding_roles): any of these."""
    refusal: str
    needs_text: bool
    blocked: Callable[[Finding], str | None]
    """Why the finding cannot take this step now, or None."""
    tells: Callable[[Services, Finding], Awaitable[list[Recipient]]]
    notice: str
    """Template with {id}, {name}, {text}."""
    done: str
    """Reply template with {id}."""
    status: str | None = None
    escalated: bool | None = None


async def _raiser(services: Services, finding: Finding) -> list[Recipient]:
    return await audience.person(services, finding.raised_by)


async def _secretaries(services: Services, finding: Finding) -> list[Recipient]:
    return await audience.secretaries(services, finding.branch_id)


async def _raiser_and_secretaries(services: Services, finding: Finding) -> list[Recipient]:
    return [*await _raiser(services, finding), *await _secretaries(services, finding)]


def _never(finding: Finding) -> str | None:
    return None


def _resolved_already(finding: Finding) -> str | None:
    return f"问题 #{finding.id} 已经是解决状态。" if finding.status == "resolved" else None


def _still_open(finding: Finding) -> str | None:
    return f"问题 #{finding.id} 还没有解决,不需要重新打开。" if finding.status == "open" else None


def _not_escalatable(finding: Finding) -> str | None:
    if finding.status != "open":
        return f"问题 #{finding.id} 已经解决,不需要提交协调。"
    if finding.escalated:
        return f"问题 #{finding.id} 已经在周一政工例会的议程上了。"
    return None


STEPS = {
    step.action: step
    for step in (
        FindingStep(
            "note",
            "/findings note 编号 进展",
            frozenset({"secretary", "supervisor", "leader"}),
            "只有本支部书记、督导部门或党委领导可以记录进展。",
            True,
            _never,
            _raiser,
            "问题 #{id} 有新进展({name}):{text}",
            "已记录问题 #{id} 的进展。",
        ),
        FindingStep(
            "resolve",
            "/findings resolve 编号 说明",
            frozenset({"secretary", "leader"}),
            "只有该问题所在支部的书记或党委领导可以标记解决。",
            True,
            _resolved_already,
            _raiser,
            "问题 #{id} 已解决({name}):{text}\n如未真正解决,可发送 /findings reopen {id} 原因。",
            "问题 #{id} 已标记为解决,已通知提出问题的督导人员。",
            status="resolved",
        ),
        FindingStep(
            "reopen",
            "/findings reopen 编号 原因",
            frozenset({"supervisor", "leader"}),
            "只有督导部门或党委领导可以重新打开问题。",
            True,
            _still_open,
            _secretaries,
            "问题 #{id} 被重新打开({name}):{text}",
            "问题 #{id} 已重新打开,已通知支部书记。",
            status="open",
        ),
        FindingStep(
            "escalate",
            "/findings escalate 编号",
            frozenset({"supervisor", "secretary", "leader"}),
            "只有督导部门、本支部书记或党委领导可以提交党委协调。",
            False,
            _not_escalatable,
            _raiser_and_secretaries,
            "问题 #{id} 已提交党委协调,将列入周一政工例会议程。",
            "问题 #{id} 已提交党委协调,会列入下一次周一政工例会的议程。",
            escalated=True,
        ),
    )
}


async def take_step(
    services: Services,
    person: Person,
    finding: Finding,
    step: FindingStep,
    text: str,
    sender: Chat,
) -> str:
    """Record the step and tell those it concerns (never the sender); the reply text."""
    if not access.finding_roles(person, finding) & step.allowed:
        return step.refusal
    blocked = step.blocked(finding)
    if blocked:
        return blocked
    event = await services.repos.findings.change(
        finding.id,
        person.id,
        step.action,
        text,
        services.now(),
        status=step.status,
        escalated=step.escalated,
    )
    recipients = [r for r in await step.tells(services, finding) if r != sender]
    await notify(
        services,
        recipients,
        step.notice.format(id=finding.id, name=person.name, text=text),
        key=f"finding:{finding.id}:event:{event}",
    )
    return step.done.format(id=finding.id)


# -- visits ------------------------------------------------------------------------------


async def record_visit(services: Services, person: Person, branch: Branch, note: str) -> int:
    """Store a visit; the branch's number of visits this month."""
    now = services.now()
    month = str(Month.of(services.local(now)))
    await services.repos.visits.add(
        branch=branch, person_id=person.id, note=note, now=now, local_month=month
    )
    return (await services.repos.visits.counts(month)).get(branch.id, 0)


@dataclass(frozen=True, slots=True)
class BranchVisits:
    branch: Branch
    this_month: int
    this_week: int


@dataclass(frozen=True, slots=True)
class DepartmentVisits:
    department_id: str
    name: str
    month: Month
    target: int
    branches: list[BranchVisits]

    @property
    def done(self) -> int:
        """Visits that count towards the target (extra visits to one branch do not)."""
        return sum(min(b.this_month, self.target) for b in self.branches)

    @property
    def not_this_week(self) -> list[Branch]:
        return [b.branch for b in self.branches if not b.this_week]


async def department_visits(
    services: Services, at: datetime, departments: Sequence[str] | None = None
) -> list[DepartmentVisits]:
    """Each department's branches with their visits this month and this week (local `at`)."""
    repos = services.repos
    month = Month.of(at)
    week_start = (at - timedelta(days=at.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    this_week = await repos.visits.since(week_start)
    counts = await repos.visits.counts(str(month))
    branches = await repos.org.branches()
    found = []
    for department, name in await repos.org.department_names():
        if departments is not None and department not in departments:
            continue
        mine = [
            BranchVisits(b, counts.get(b.id, 0), this_week.get(b.id, 0))
            for b in branches
            if b.department_id == department
        ]
        found.append(
            DepartmentVisits(department, name, month, services.settings.visits_per_month, mine)
        )
    return found


# -- the Monday meeting ------------------------------------------------------------------


@dataclass
class AgendaBranch:
    branch: Branch
    findings: list[Finding] = field(default_factory=list)


@dataclass
class AgendaDepartment:
    department_id: str
    name: str
    branches: list[AgendaBranch] = field(default_factory=list)


async def build_agenda(
    services: Services, now: datetime, departments: Collection[str] | None = None
) -> list[AgendaDepartment]:
    """Escalated findings and those open longer than `long_open_days`, by department and
    branch; only those of `departments` when given (a supervisor sees their own)."""
    cutoff = now - timedelta(days=services.settings.long_open_days)
    items = [
        f
        for f in await services.repos.findings.for_agenda(cutoff)
        if departments is None or f.department_id in departments
    ]
    branches = {b.id: b for b in await services.repos.org.branches()}
    names = dict(await services.repos.org.department_names())
    agenda: dict[str, AgendaDepartment] = {}
    for finding in items:
        branch = branches[finding.branch_id]
        section = agenda.setdefault(
            finding.department_id,
            AgendaDepartment(
                finding.department_id, names.get(finding.department_id, finding.department_id)
            ),
        )
        if not section.branches or section.branches[-1].branch.id != branch.id:
            section.branches.append(AgendaBranch(branch))
        section.branches[-1].findings.append(finding)
    return list(agenda.values())


@dataclass(frozen=True, slots=True)
class MeetingBrief:
    """What a branch group hears on Monday morning."""

    branch: Branch
    groups: tuple[Recipient, ...]
    open_findings: list[Finding]


async def meeting_briefs(services: Services) -> list[MeetingBrief]:
    """Each branch with a bound group: its open findings."""
    briefs = []
    for branch in await services.repos.org.branches():
        groups = await audience.branch_groups(services, branch.id)
        if groups:
            open_findings = await services.repos.findings.search(branches=[branch.id])
            briefs.append(MeetingBrief(branch, tuple(groups), open_findings))
    return briefs


def agenda_scope(person: Person) -> set[str] | None:
    """The departments whose part of the agenda a person sees; None: the whole agenda."""
    return None if access.is_leader(person) else access.departments_of(person)


@dataclass(frozen=True, slots=True)
class AgendaCopy:
    recipients: tuple[Recipient, ...]
    sections: list[AgendaDepartment]


async def meeting_agendas(services: Services, now: datetime) -> list[AgendaCopy]:
    """Who attends the Monday political-work meeting and what each sees: the leaders the
    whole agenda first, then each department's supervisors their department's part."""
    copies = []
    leaders = await audience.leaders(services)
    if leaders:
        copies.append(AgendaCopy(audience.unique(leaders), await build_agenda(services, now)))
    for department, _ in await services.repos.org.department_names():
        supervisors = await audience.supervisors(services, department)
        if supervisors:
            sections = await build_agenda(services, now, {department})
            copies.append(AgendaCopy(audience.unique(supervisors), sections))
    return copies
