"""Supervision: findings raised on branch visits and followed until resolved, the visits
counted against the monthly target, and the Monday meeting's agenda."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from handlers import access
from handlers.messages import IncomingAttachment, Rows
from handlers.notify import Chat, notify
from handlers.rules import attachments, audience
from handlers.rules.periods import Month
from handlers.services import Services
from storage import Branch, Department, Finding, Person, Recipient

MAX_FINDING_CHARS = 500
MIN_FINDING_CHARS = 4
ACTION_LABELS = {
    "add": "提出",
    "note": "进展",
    "resolve": "已解决",
    "reopen": "重新打开",
    "escalate": "提交党委协调",
    "decide": "例会决定",
}


def substantial(text: str, at_least: int) -> bool:
    return sum(1 for ch in text if ch.isalnum()) >= at_least


async def scope(services: Services, person: Person) -> list[str] | None:
    """Branch ids whose findings the person may see; None means every branch."""
    return access.visible_branches(person, await services.repos.org.branches())


async def visible(services: Services, person: Person, number: int) -> Finding | None:
    """The finding, if it exists and lies in the person's scope."""
    finding = await services.repos.findings.get(number)
    if finding is None:
        return None
    return finding if in_scope(person, await scope(services, person), finding) else None


def in_scope(person: Person, allowed: Collection[str] | None, finding: Finding) -> bool:
    """Does the finding lie in the person's scope (`allowed`, from `scope`)? One answer for a
    finding looked up by number and for lists of them."""
    if "assigned" in access.finding_roles(person, finding):
        return True  # the department the meeting assigned it to follows it up
    return allowed is None or finding.branch_id in allowed


@dataclass(frozen=True, slots=True)
class Recorded:
    """A new finding and what to say of its notices."""

    finding: Finding
    told: str
    """',已通知支部书记' and the like, or why nobody was told."""


async def record(
    services: Services,
    person: Person,
    channel: str,
    branch: Branch,
    text: str,
    files: Sequence[IncomingAttachment] = (),
    project_ref: str | None = None,
    buttons: Callable[[Finding], Rows] | None = None,
) -> Recorded | str:
    """Store a finding with its photos and tell the branch (the secretaries' private chats
    with `buttons`, its groups without: a form is answered in a private chat); the refusal
    reason otherwise."""
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
    own = set(await audience.person(services, person.id))
    secretaries = [r for r in await audience.secretaries(services, branch.id) if r not in own]
    groups = []
    if services.settings.notify_group:
        groups = await audience.branch_groups(services, branch.id)
    notice = (
        f"📋 督导发现问题 #{finding.id}({branch.name}):{text}\n"
        f"请支部书记跟进:/findings note {finding.id} 进展,解决后 /findings resolve "
        f"{finding.id} 说明。"
    )
    key = f"finding:{finding.id}:add"
    offered = buttons(finding) if buttons is not None else ()
    await notify(
        services, secretaries, notice + TAP_HINT if offered else notice, key, buttons=offered
    )
    await notify(services, groups, notice, key)
    # the supervising department and the leaders responsible follow every finding up
    reached, overseers = set(secretaries), []
    for label, found in (
        ("督导部门", await audience.supervisors(services, finding.department_id)),
        ("党委领导", await audience.finding_leaders(services)),
    ):
        fresh = [r for r in audience.unique(found) if r not in own and r not in reached]
        if fresh:
            reached.update(fresh)
            overseers.append(label)
            await notify(services, fresh, notice, key)
    if secretaries:
        told = ",已通知支部书记" + (",并发到了支部群" if groups else "")
    else:
        told = ",该支部还没有登记的书记" + (",已发到支部群" if groups else "")
    if overseers:
        told += f",并通知了{'、'.join(overseers)}。"
    else:
        told += "。" if secretaries or groups else ",已记下,未通知。"
    return Recorded(finding, told)


TAP_HINT = "\n也可以直接点下面的按钮。"


# -- following a finding up: one table of what each step needs and whom it tells ---------


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom a step is meant to reach, as the reply names them."""

    label: str
    find: Callable[[Services, Finding], Awaitable[list[Recipient]]]
    stands: Callable[[Services, Finding], Awaitable[set[str]]]
    """How they stand to the finding (access.finding_roles): the buttons their notice gets."""
    absent: str = ""
    """Said when there is nobody of them at all (not when the one there did the step)."""


@dataclass(frozen=True, slots=True)
class FindingStep:
    """One way to move a finding on: note, resolve, reopen, escalate."""

    action: str
    usage: str
    button: str
    """The label of the button on a finding that takes this step."""
    ask: str
    """The form's question for the text, with {id}."""
    allowed: frozenset[str]
    """How one must stand to the finding (access.finding_roles): any of these."""
    refusal: str
    needs_text: bool
    blocked: Callable[[Finding], str | None]
    """Why the finding cannot take this step now, or None."""
    tells: tuple[Audience, ...]
    notice: str
    """Template with {id}, {name}, {text}."""
    done: str
    """Reply template with {id}, without the final stop: who was told follows."""
    status: str | None = None
    escalated: bool | None = None


async def _raiser(services: Services, finding: Finding) -> list[Recipient]:
    return await audience.person(services, finding.raised_by)


async def _secretaries(services: Services, finding: Finding) -> list[Recipient]:
    return await audience.secretaries(services, finding.branch_id)


async def _raiser_stands(services: Services, finding: Finding) -> set[str]:
    raiser = await services.repos.people.by_id(finding.raised_by)
    return access.finding_roles(raiser, finding) if raiser is not None else set()


async def _secretary_stands(services: Services, finding: Finding) -> set[str]:
    return {"secretary"}


async def _groups(services: Services, finding: Finding) -> list[Recipient]:
    return await audience.branch_groups(services, finding.branch_id)


async def _no_stands(services: Services, finding: Finding) -> set[str]:
    return set()  # a group chat gets no buttons: a step's text is answered in private


RAISER = Audience("提出问题的督导人员", _raiser, _raiser_stands)
SECRETARIES = Audience("支部书记", _secretaries, _secretary_stands)
GROUPS = Audience("支部群", _groups, _no_stands)
NO_SECRETARY = "该支部还没有登记的书记,未通知。"


def _never(finding: Finding) -> str | None:
    return None


def _resolved_already(finding: Finding) -> str | None:
    return f"问题 #{finding.id} 已经解决了。" if finding.status == "resolved" else None


def _still_open(finding: Finding) -> str | None:
    return f"问题 #{finding.id} 还没有解决,不需要重新打开。" if finding.status == "open" else None


def _not_escalatable(finding: Finding) -> str | None:
    if finding.status != "open":
        return f"问题 #{finding.id} 已经解决了,不需要提交协调。"
    if finding.escalated:
        return f"问题 #{finding.id} 已经在周一政工例会的议程上了。"
    return None


STEPS = {
    step.action: step
    for step in (
        FindingStep(
            action="note",
            usage="/findings note 编号 进展",
            button="记录进展",
            ask="请写上问题 #{id} 的进展:",
            allowed=frozenset({"secretary", "supervisor", "leader"}),
            refusal="只有本支部书记、督导部门或党委领导可以记录进展。",
            needs_text=True,
            blocked=_never,
            tells=(RAISER,),
            notice="问题 #{id} 有新进展({name}):{text}",
            done="已记录问题 #{id} 的进展",
        ),
        FindingStep(
            action="resolve",
            usage="/findings resolve 编号 说明",
            button="已解决",
            ask="请写上问题 #{id} 是怎么解决的:",
            allowed=frozenset({"secretary", "leader", "assigned"}),
            refusal="只有该问题所在支部的书记、例会指定的部门或党委领导可以标记解决。",
            needs_text=True,
            blocked=_resolved_already,
            tells=(RAISER, SECRETARIES, GROUPS),
            notice=(
                "问题 #{id} 已解决({name}):{text}\n如未真正解决,可发送 /findings reopen {id} 原因。"
            ),
            done="问题 #{id} 已标记为解决",
            status="resolved",
        ),
        FindingStep(
            action="reopen",
            usage="/findings reopen 编号 原因",
            button="重新打开",
            ask="请写上重新打开问题 #{id} 的原因:",
            allowed=frozenset({"supervisor", "leader"}),
            refusal="只有督导部门或党委领导可以重新打开问题。",
            needs_text=True,
            blocked=_still_open,
            tells=(Audience(SECRETARIES.label, _secretaries, _secretary_stands, NO_SECRETARY),),
            notice="问题 #{id} 被重新打开({name}):{text}",
            done="问题 #{id} 已重新打开",
            status="open",
        ),
        FindingStep(
            action="escalate",
            usage="/findings escalate 编号",
            button="提交党委",
            ask="",
            allowed=frozenset({"supervisor", "secretary", "leader"}),
            refusal="只有督导部门、本支部书记或党委领导可以提交党委协调。",
            needs_text=False,
            blocked=_not_escalatable,
            tells=(RAISER, SECRETARIES),
            notice="问题 #{id} 已提交党委协调,将列入周一政工例会议程。",
            done="问题 #{id} 已提交党委协调,会列入下一次周一政工例会的议程",
            escalated=True,
        ),
    )
}


def refusal(person: Person, finding: Finding, step: FindingStep) -> str | None:
    """Why the person cannot take `step` on the finding now (their standing first, then the
    finding's state), or None."""
    if not access.finding_roles(person, finding) & step.allowed:
        return step.refusal
    return step.blocked(finding)


def text_problem(step: FindingStep, text: str) -> str | None:
    """What is wrong with the text a step is given, or None."""
    if step.needs_text and not substantial(text, 2):
        return "请写上说明(至少两个字)。"
    if len(text) > MAX_FINDING_CHARS:
        return f"说明太长了({len(text)} 字),请控制在 {MAX_FINDING_CHARS} 字以内。"
    return None


def open_steps(stands: Collection[str], finding: Finding) -> list[FindingStep]:
    """The steps someone standing so to the finding (access.finding_roles) may take now."""
    return [
        step
        for step in STEPS.values()
        if step.allowed & set(stands) and step.blocked(finding) is None
    ]


async def take_step(
    services: Services,
    person: Person,
    finding: Finding,
    step: FindingStep,
    text: str,
    sender: Chat,
    buttons: Callable[[Finding, Collection[str]], Rows] | None = None,
) -> str:
    """Record the step and tell those it concerns (never the person who took it, on any of
    their chats), each notice with `buttons` for the steps they may take next; the reply
    text, which says who was told only when somebody was."""
    why = refusal(person, finding, step) or text_problem(step, text)
    if why:
        return why
    event = await services.repos.findings.change(
        finding.id,
        person.id,
        step.action,
        text,
        services.now(),
        status=step.status,
        escalated=step.escalated,
    )
    own = {sender, *await audience.person(services, person.id)}
    after = await services.repos.findings.get(finding.id) or finding
    notice = step.notice.format(id=finding.id, name=person.name, text=text)
    told, absent = [], []
    for who in step.tells:
        everyone = await who.find(services, finding)
        reached = [r for r in everyone if r not in own]
        if reached:
            told.append(who.label)
            rows = buttons(after, await who.stands(services, after)) if buttons else ()
            await notify(
                services, reached, notice, f"finding:{finding.id}:event:{event}", None, rows
            )
        elif not everyone and who.absent:
            absent.append(who.absent)
    said = step.done.format(id=finding.id)
    said += f",已通知{'、'.join(told)}。" if told else "。"
    return said + "".join(absent)


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
    today = services.local(now).date().isoformat()
    items = [
        f
        for f in await services.repos.findings.for_agenda(cutoff, today)
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
class PendingDecision:
    """A Monday decision still being carried out, with the names it is read by."""

    finding: Finding
    branch_name: str
    department_name: str
    """The department assigned to carry it out."""


async def decided_pending(
    services: Services, now: datetime, departments: Collection[str] | None = None
) -> list[PendingDecision]:
    """Decided at a Monday meeting, still open and not yet due: what the meeting follows up.
    Only those supervised by or assigned to `departments` when given."""
    today = services.local(now).date().isoformat()
    branches = {b.id: b.name for b in await services.repos.org.branches()}
    names = dict(await services.repos.org.department_names())
    found = []
    for f in await services.repos.findings.decided_open(today):
        assigned = f.assigned_department or f.department_id
        if departments is None or f.department_id in departments or assigned in departments:
            found.append(
                PendingDecision(
                    f, branches.get(f.branch_id, f.branch_id), names.get(assigned, assigned)
                )
            )
    return found


def agenda_scope(person: Person) -> set[str] | None:
    """The departments whose part of the agenda a person sees; None: the whole agenda."""
    return None if access.is_leader(person) else access.departments_of(person)


@dataclass(frozen=True, slots=True)
class AgendaCopy:
    recipients: tuple[Recipient, ...]
    sections: list[AgendaDepartment]
    pending: list[PendingDecision]
    """Decided earlier, still being done."""


async def meeting_agendas(services: Services, now: datetime) -> list[AgendaCopy]:
    """Who attends the Monday political-work meeting and what each sees: the leaders the
    whole agenda first, then each department's supervisors their department's part."""
    copies = []
    leaders = await audience.leaders(services)
    if leaders:
        copies.append(
            AgendaCopy(
                audience.unique(leaders),
                await build_agenda(services, now),
                await decided_pending(services, now),
            )
        )
    for department, _ in await services.repos.org.department_names():
        supervisors = await audience.supervisors(services, department)
        if supervisors:
            sections = await build_agenda(services, now, {department})
            pending = await decided_pending(services, now, {department})
            copies.append(AgendaCopy(audience.unique(supervisors), sections, pending))
    return copies


# -- the Monday meeting's decision ---------------------------------------------------------


def overdue(finding: Finding, today: str) -> bool:
    """A decided finding still open after its due day (YYYY-MM-DD, local)."""
    return bool(finding.status == "open" and finding.decision_due and finding.decision_due < today)


def parse_due(text: str) -> str | None:
    """'2026-12-15' (or 2026/12/15, 2026.12.15) as YYYY-MM-DD; None when it is no day."""
    match = re.fullmatch(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*", text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:
        return None


async def decide(
    services: Services,
    person: Person,
    finding: Finding,
    text: str,
    department: Department,
    due: str,
) -> str:
    """Record the Monday meeting's decision and tell the branch (its secretaries and bound
    group) and the assigned department's supervisors; the reply text."""
    if not access.may_decide_finding(person):
        return "只有党委领导可以记录政工例会的决定。"
    if finding.status != "open":
        return f"问题 #{finding.id} 已经解决了,不需要再作决定。"
    if not substantial(text, 2) or len(text) > MAX_FINDING_CHARS:
        return f"请写清楚决定的内容(不超过 {MAX_FINDING_CHARS} 字)。"
    now = services.now()
    if due < services.local(now).date().isoformat():
        return f"完成日期 {due} 已经过去了,请写今天或以后的日期。"
    event = await services.repos.findings.decide(
        finding.id, person.id, text=text, department_id=department.id, due=due, now=now
    )
    branch = await services.repos.org.branch(finding.branch_id)
    branch_name = branch.name if branch is not None else finding.branch_id
    notice = (
        f"🏛 政工例会决定 · 问题 #{finding.id}({branch_name}):{finding.text}\n"
        f"决定:{text}\n责任部门:{department.name},{due} 前完成。"
        f"完成后发送 /findings resolve {finding.id} 说明。"
    )
    key = f"finding:{finding.id}:event:{event}"
    told = []
    for label, found in (
        ("支部书记", await audience.secretaries(services, finding.branch_id)),
        ("支部群", await audience.branch_groups(services, finding.branch_id)),
        (department.name, await audience.supervisors(services, department.id)),
    ):
        reached = await audience.others(services, found, person.id)
        if reached:
            told.append(label)
            await notify(services, reached, notice, key)
    said = f"已记录问题 #{finding.id} 的例会决定:{department.name}负责,{due} 前完成"
    return said + (f",已通知{'、'.join(told)}。" if told else "。")


@dataclass(frozen=True, slots=True)
class BranchMonth:
    """What supervision saw of one branch in one month: the department's reference when it
    scores the branch."""

    visits: int
    target: int
    findings: int
    still_open: int


async def branch_month(services: Services, branch_id: str, month: Month) -> BranchMonth:
    """The month's visits of the branch and the findings raised in it (local month)."""
    repos = services.repos
    visits = (await repos.visits.counts(str(month))).get(branch_id, 0)
    raised = [
        f
        for f in await repos.findings.search(
            branches=[branch_id], include_resolved=True, limit=1000
        )
        if Month.of(services.local(f.created_at)) == month
    ]
    still_open = sum(1 for f in raised if f.status == "open")
    return BranchMonth(visits, services.settings.visits_per_month, len(raised), still_open)
