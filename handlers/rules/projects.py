"""Key projects: ideas adopted into projects, progress, benefit claimed and verified; the
rewards are in handlers.rules.rewards."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from handlers import access, parsing
from handlers.money import Product, format_product, format_yuan
from handlers.notify import notify
from handlers.rules import audience, ideas
from handlers.rules.periods import Month
from handlers.services import Services
from storage import (
    Benefit,
    Duplicate,
    Idea,
    KeyPoint,
    Kpi,
    Person,
    Project,
    Recipient,
)

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
    services: Services,
    person: Person,
    project: Project,
    percent: int | None,
    text: str,
    key_point: KeyPoint | None = None,
) -> None:
    await services.repos.projects.add_progress(
        project.id, person.id, percent, text, services.now(), key_point.id if key_point else None
    )


# -- key points --------------------------------------------------------------------------

MAX_KEY_POINTS = 30
"""Key points of one project: a few per branch; more would not fit the buttons."""
_TYPED_MONTH = re.compile(
    r"(?<![0-9])(?:([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})(?![0-9])\s*月?|([0-9]{1,2})\s*月(?!份?[0-9]))"
)


def typed_month(text: str, today: Month) -> Month | str | None:
    """The month written in `text`: '2026-11', '2026年11月', '2026/3', or '11月' (this year's,
    or last year's when it is still to come); None when there is none; the Chinese reason
    when one is written wrong ('2026-13')."""
    match = _TYPED_MONTH.search(parsing.fold(text))
    if match is None:
        return None
    year_text, month_text = (match[1], match[2]) if match[1] else (None, match[3])
    month = parsing.number(month_text, prefixes="")
    year = parsing.number(year_text, prefixes="") if year_text else today.year
    if month is None or year is None or not 1 <= month <= 12 or not 1900 <= year <= 2999:
        return f"月份“{parsing.shown(match[0].strip())}”不对,请写 2026-11 或 11月。"
    found = Month(year, month)
    if year_text is None and found > today:  # '12月' typed in January: the one just past
        found = Month(year - 1, month)
    return found


def mentions_month(text: str) -> bool:
    """Whether `text` names a month at all (rightly or not)."""
    return _TYPED_MONTH.search(parsing.fold(text)) is not None


def key_point_label(index: int, point: KeyPoint, branch_names: dict[str, str]) -> str:
    return f"关键点{index}「{point.title}」({branch_names.get(point.branch_id, point.branch_id)})"


def reportable(person: Person, project: Project, points: Sequence[KeyPoint]) -> list[KeyPoint]:
    """The key points `person` may report progress on."""
    return [
        k for k in points if access.may_report_on_key_point(person, project.lead_id, k.branch_id)
    ]


async def add_key_point(
    services: Services,
    person: Person,
    project: Project,
    branch_id: str,
    title: str,
    due: Month,
    group_id: int | None = None,
) -> int | str:
    """Share a part of the project out to a branch (or one of its party groups); its number
    within the project (1, 2 …), or why not."""
    points = await services.repos.projects.key_points(project.id)
    if len(points) >= MAX_KEY_POINTS:
        return f"{project.number} 已经有 {MAX_KEY_POINTS} 个关键点了,请合并一些。"
    if any(k.title == title and k.branch_id == branch_id for k in points):
        return f"{project.number} 已经有这个关键点了。"
    await services.repos.projects.add_key_point(
        project.id, branch_id, title, str(due), person.id, services.now(), group_id
    )
    return len(points) + 1


# -- evidence as numbers -----------------------------------------------------------------


def describe_amount(fen: int, product: Product | None = None, period: str | None = None) -> str:
    """'1,740 套 × 23.00 元 = 40,020.00 元(2026-11)' or '4.00 万元(2026-11)'."""
    shown = (
        format_product(product.quantity, product.unit, product.price_fen, fen)
        if product is not None
        else format_yuan(fen)
    )
    return shown + (f"({period})" if period else "")


def benefit_amount(benefit: Benefit) -> str:
    """A claim's amount as it was claimed: its calculation when it has one, and its month."""
    product = (
        Product(benefit.quantity, benefit.unit, benefit.unit_price_fen, benefit.amount_fen)
        if benefit.quantity is not None and benefit.unit_price_fen is not None
        else None
    )
    return describe_amount(benefit.amount_fen, product, benefit.period)


async def claim(
    services: Services,
    person: Person,
    project: Project,
    fen: int,
    text: str,
    *,
    product: Product | None = None,
    period: Month | None = None,
) -> tuple[int, int]:
    """Record a benefit claim and ask the leaders to verify it, except the claimant (who may
    not); the claim's id and how many leaders were told."""
    claim_id = await services.repos.projects.claim(
        project.id,
        fen,
        text,
        person.id,
        services.now(),
        quantity=product.quantity if product else None,
        unit=product.unit if product else "",
        unit_price_fen=product.price_fen if product else None,
        period=str(period) if period else None,
    )
    amount = describe_amount(fen, product, str(period) if period else None)
    told = 0
    for leader in await services.repos.people.with_role("leader"):
        if not access.may_verify_benefit(leader, person.id):
            continue
        told += bool(
            await notify(
                services,
                await audience.person(services, leader.id),
                f"💰 {project.number} 申报效益 {amount}({person.name}):{text}\n"
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
    amount = benefit_amount(benefit)
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


# -- KPIs --------------------------------------------------------------------------------

MAX_KPIS = 20


def kpi_done(kpi: Kpi) -> Decimal | None:
    """The share of the way from baseline to target the current value has come (0.73 for
    16.07 → 12.8 of 16.07 → 11.6); None before any value. Below 0 or above 1 when it went
    the wrong way or past the target."""
    if kpi.current is None:
        return None
    baseline, target = Decimal(kpi.baseline), Decimal(kpi.target)
    return (Decimal(kpi.current) - baseline) / (target - baseline)


def percent_of(share: Decimal) -> int:
    return int((share * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def kpi_line(kpi: Kpi) -> str:
    """'中煤带煤损失率:16.07% → 12.8% → 目标 11.6%(已完成 73%)'."""
    unit = kpi.unit
    done = kpi_done(kpi)
    current = f" → {kpi.current}{unit}" if kpi.current is not None else " → 未记录"
    tail = f"(已完成 {percent_of(done)}%)" if done is not None else ""
    return f"{kpi.name}:基线 {kpi.baseline}{unit}{current} → 目标 {kpi.target}{unit}{tail}"


async def add_kpi(
    services: Services,
    person: Person,
    project: Project,
    name: str,
    unit: str,
    baseline: Decimal,
    target: Decimal,
) -> str | None:
    """Set a KPI of the project; why not, or None."""
    if baseline == target:
        return "基线和目标相同,请核对。"
    if len(await services.repos.projects.kpis(project.id)) >= MAX_KPIS:
        return f"{project.number} 已经有 {MAX_KPIS} 个指标了。"
    try:
        await services.repos.projects.add_kpi(
            project.id,
            name,
            unit,
            plain_decimal(baseline),
            plain_decimal(target),
            person.id,
            services.now(),
        )
    except Duplicate:
        return f"{project.number} 已经有指标“{name}”了。"
    return None


def plain_decimal(value: Decimal) -> str:
    """'16.07', '11.6', '12': as typed, without trailing zeros or an exponent."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


async def record_kpi(services: Services, person: Person, kpi: Kpi, value: Decimal) -> None:
    await services.repos.projects.add_kpi_value(
        kpi.id, plain_decimal(value), person.id, services.now()
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
    days: int
    """Days since the last progress (or the project's creation), counted at the job's now."""


async def progress_nudges(services: Services, now: datetime) -> list[Nudge]:
    """Stale projects with the lead and the branch secretaries who should report."""
    nudges = []
    for project in await stale_projects(services, now):
        recipients = await audience.person(services, project.lead_id)
        for branch in project.branches:
            recipients += await audience.secretaries(services, branch)
        if recipients:
            days = (now - (project.last_progress_at or project.created_at)).days
            nudges.append(Nudge(project, audience.unique(recipients), days))
    return nudges
