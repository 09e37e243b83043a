"""Key projects: ideas adopted into projects, progress, benefit claimed and verified; the
rewards are in handlers.rules.rewards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import access, parsing
from handlers.money import format_yuan
from handlers.notify import notify
from handlers.rules import audience, ideas
from handlers.services import Services
from storage import Benefit, Duplicate, Idea, Person, Project, Recipient

STALE_DAYS = 7
"""A project with no progress for this long is nudged on Thursday."""


def project_number(text: str) -> int | None:
    """7 for 'P07', 'p7' or '7'."""
    return parsing.number(text, prefixes="P")


def text_length_ok(text: str) -> bool:
    return sum(1 for ch in text if ch.isalnum()) >= 2 and len(text) <= 500


async def find(services: Services, text: str) -> Project | None:
    """The project named by 'P07' (or '7'), if there is one."""
    number = project_number(text) if text else None
    return await services.repos.projects.get(number) if number else None


async def link(services: Services, person: Person, project: Project, idea: Idea) -> str:
    """Adopt an idea into a project and tell its authors; what happened, in words."""
    if await services.repos.projects.project_of(idea.id) is not None:
        return f"金点子 #{idea.id} 已经属于一个重点项目了,一条金点子只能进一个项目。"
    if idea.status not in ("submitted", "under_review"):
        return f"金点子 #{idea.id} 现在是“{ideas.status_label(idea.status)}”,不能再采纳。"
    try:
        await services.repos.projects.link(project.id, idea.id)
    except Duplicate:
        return f"金点子 #{idea.id} 已经属于一个重点项目了。"
    await ideas.move(services, person, idea, "adopted", f"纳入重点项目 {project.number}")
    told = idea.author_id != person.id and await audience.person(services, idea.author_id)
    return f"金点子 #{idea.id} 已纳入重点项目 {project.number}" + (
        ",已通知作者。" if told else "。"
    )


async def unlinked_ideas(services: Services, numbers: Sequence[str]) -> list[Idea] | str:
    """The ideas named by '#3' or '3', none yet in a project; or why not."""
    found = []
    for item in numbers:
        number = parsing.number(item)
        idea = await services.repos.ideas.get(number) if number is not None else None
        if idea is None:
            return f"没有编号为 {item} 的金点子。"
        if await services.repos.projects.project_of(idea.id) is not None:
            return f"金点子 #{idea.id} 已经属于一个重点项目了。"
        found.append(idea)
    return found


@dataclass(frozen=True, slots=True)
class NewProject:
    title: str
    category: str
    lead_no: str
    branches: list[str]
    expected_fen: int
    ideas: list[Idea]


async def create(services: Services, person: Person, plan: NewProject) -> tuple[Project, list[str]]:
    """Create the project and adopt its ideas; the project and what happened to each idea."""
    lead = await services.repos.people.by_employee_no(plan.lead_no)
    assert lead is not None  # checked by `check_new`
    project_id = await services.repos.projects.create(
        title=plan.title,
        category=plan.category,
        lead_id=lead.id,
        branches=plan.branches,
        expected_fen=plan.expected_fen,
        person_id=person.id,
        now=services.now(),
    )
    created = await services.repos.projects.get(project_id)
    assert created is not None  # just created in this transaction
    return created, [await link(services, person, created, idea) for idea in plan.ideas]


async def check_new(services: Services, lead_no: str, branches: Sequence[str]) -> str | None:
    """Why a project cannot have this lead or these branches, or None."""
    lead = await services.repos.people.by_employee_no(lead_no)
    if lead is None or not access.is_committee_member(lead):
        return f"负责人要写党委委员(领导)的工号,“{lead_no}”不是。"
    known = {b.id for b in await services.repos.org.branches()}
    unknown = [b for b in branches if b not in known]
    if not branches or unknown:
        return f"支部编号不对:{'、'.join(unknown) or '没写'}。"
    return None


def may_act(person: Person, project: Project) -> bool:
    return access.may_act_on_project(person, project.lead_id, project.branches)


async def add_progress(
    services: Services, person: Person, project: Project, percent: int | None, text: str
) -> None:
    await services.repos.projects.add_progress(project.id, person.id, percent, text, services.now())


async def claim(
    services: Services, person: Person, project: Project, fen: int, text: str
) -> tuple[int, int]:
    """Record a benefit claim and ask the leaders to verify it, except the claimant (who may
    not); the claim's id and how many leaders were told."""
    claim_id = await services.repos.projects.claim(project.id, fen, text, person.id, services.now())
    told = 0
    for leader in await services.repos.people.with_role("leader"):
        if not access.may_verify_benefit(leader, person.id):
            continue
        told += bool(
            await notify(
                services,
                await audience.person(services, leader.id),
                f"💰 {project.number} 申报效益 {format_yuan(fen)}({person.name}):{text}\n"
                f"核实:/verify B{claim_id};不认可:/verify B{claim_id} reject 原因",
                key=f"benefit:{claim_id}:claimed",
            )
        )
    return claim_id, told


def may_decide(person: Person, benefit: Benefit) -> str | None:
    """Why `person` may not verify this claim now, or None."""
    if benefit.claimed_by == person.id:
        return "不能核实自己申报的效益,请另一位党委领导核实。"
    if not access.may_verify_benefit(person, benefit.claimed_by):
        return "只有党委领导可以核实效益。"
    if benefit.status != "claimed":
        return f"B{benefit.id} 已经处理过了。"
    return None


async def decide(
    services: Services, person: Person, benefit: Benefit, verified: bool, reason: str = ""
) -> int:
    """Verify or reject a claim and tell the claimant; how many chats were told."""
    status = "verified" if verified else "rejected"
    await services.repos.projects.decide(benefit.id, status, person.id, reason, services.now())
    project = await services.repos.projects.get(benefit.project_id)
    number = project.number if project is not None else f"P{benefit.project_id:02d}"
    amount = format_yuan(benefit.amount_fen)
    text = (
        f"✅ 您申报的 {number} 效益 {amount}(B{benefit.id})已核实({person.name}),计入项目效益。"
        if verified
        else f"❌ 您申报的 {number} 效益 {amount}(B{benefit.id})未核实,原因:{reason}"
    )
    return await notify(
        services,
        await audience.others(
            services, await audience.person(services, benefit.claimed_by), person.id
        ),
        text,
        key=f"benefit:{benefit.id}:{status}",
    )


async def stale_projects(
    services: Services, now: datetime, days: int = STALE_DAYS
) -> list[Project]:
    """Projects with no progress (or none since creation) for `days`."""
    cutoff = now - timedelta(days=days)
    return [
        p
        for p in await services.repos.projects.all()
        if (p.last_progress_at or p.created_at) < cutoff
    ]


@dataclass(frozen=True, slots=True)
class Nudge:
    project: Project
    recipients: tuple[Recipient, ...]


async def progress_nudges(services: Services, now: datetime) -> list[Nudge]:
    """Stale projects with the lead and the branch secretaries who should report."""
    nudges = []
    for project in await stale_projects(services, now):
        recipients = await audience.person(services, project.lead_id)
        for branch in project.branches:
            recipients += await audience.secretaries(services, branch)
        if recipients:
            nudges.append(Nudge(project, audience.unique(recipients)))
    return nudges
