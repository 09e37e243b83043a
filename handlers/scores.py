"""Monthly 100-point branch scores, quarterly review material and /stats with a chart."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field

from handlers.charts import ranking_chart, stats_chart
from handlers.messages import Incoming, Reply
from handlers.money import format_yuan
from handlers.router import Command, Feature
from handlers.services import Services
from handlers.supervision import departments_of, is_leader
from storage import Person

PARTS = ("base", "self", "dept", "leader")
PART_LABELS = {"base": "基础分", "self": "项目自评", "dept": "部门评价", "leader": "领导评价"}
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
USAGE = (
    "用法:/score [YYYY-MM] 查看;/score self 分数 [说明](支部书记);"
    "/score dept 支部编号 分数 [说明](督导部门);/score leader 支部编号 分数 [说明]、"
    "/score base 支部编号 分数、/score close YYYY-MM(党委领导)"
)
ADOPTED = {"adopted", "implemented", "rewarded"}


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


async def month_scores(services: Services, month: str) -> list[BranchScore]:
    """Every branch's month, ranked by total (ties share a rank), with the change from the
    month before."""
    settings = services.settings
    current = await services.repos.scores.month(month)
    before = await services.repos.scores.month(previous_month(month))
    scores = []
    for branch in await services.repos.org.branches():
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
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def render(score: BranchScore) -> str:
    parts = ",".join(f"{PART_LABELS[p]} {score.parts[p]:g}" for p in PARTS if p in score.parts)
    if score.total is None:
        missing = "、".join(PART_LABELS[p] for p in score.missing)
        return f"{score.name}:总分待定(缺 {missing}){';' + parts if parts else ''}"
    change = ""
    if score.change is not None:
        change = f",比上月 {'+' if score.change >= 0 else ''}{score.change:g}"
    return (
        f"第 {score.rank} 名 {score.name}:{score.total:g} 分(项目部分 {score.project:g})"
        f";{parts}{change}"
    )


async def score(msg: Incoming, services: Services) -> list[Reply]:
    """月度百分考核:/score [YYYY-MM | self | dept | leader | base | close]"""
    person = msg.person
    assert person is not None
    words = msg.args.split()
    now_month = services.local(services.now()).strftime("%Y-%m")
    month = now_month
    if words and _MONTH.match(words[0]):  # /score 2026-10 [self 85 …]: another month
        month, words = words[0], words[1:]
        if month > now_month:
            return [Reply("这个月份还没到。")]
    if not words:
        return [await _show(services, person, month)]
    action = words[0].lower()
    if action == "close":
        return [await _close(services, person, words[1:], now_month)]
    if action not in ("self", "dept", "leader", "base"):
        return [Reply(USAGE)]
    if await services.repos.scores.is_closed(month):
        return [Reply(f"{month} 已经结账,不能再修改。")]
    if action == "self":
        if not person.has_role("secretary"):
            return [Reply("项目自评由支部书记填写。")]
        branch_id, rest = person.branch_id, words[1:]
    else:
        if len(words) < 3:
            return [Reply(USAGE)]
        branch_id, rest = words[1], words[2:]
    branch = await services.repos.org.branch(branch_id)
    if branch is None:
        return [Reply(f"没有编号为“{branch_id[:20]}”的支部。")]
    if action == "dept" and branch.department_id not in departments_of(person):
        return [Reply(f"{branch.name}不在您所在部门的督导范围内,不能评价。")]
    if action in ("leader", "base") and not is_leader(person):
        return [Reply("领导评价和基础分由党委领导填写。")]
    try:
        value = float(rest[0])
    except (IndexError, ValueError):
        return [Reply("分数要写 0 到 100 的数字。" + USAGE)]
    if not 0 <= value <= 100:
        return [Reply("分数要在 0 到 100 之间。")]
    text = " ".join(rest[1:])[:200]
    await services.repos.scores.enter(
        branch.id, month, action, value, text, person.id, services.now()
    )
    return [Reply(f"已记录 {branch.name} {month} 的{PART_LABELS[action]}:{value:g} 分。")]


async def _show(services: Services, person: Person, month: str) -> Reply:
    scores = await month_scores(services, month)
    if not is_leader(person):
        mine = {person.branch_id} if person.has_role("secretary") else set()
        mine |= {
            b.id
            for b in await services.repos.org.branches()
            if b.department_id in departments_of(person)
        }
        scores = [s for s in scores if s.branch_id in mine]
    if not scores:
        return Reply("您没有可查看的支部考核。")
    closed = "(已结账)" if await services.repos.scores.is_closed(month) else ""
    return Reply(f"{month} 月度考核{closed}:\n" + "\n".join(render(s) for s in scores))


async def _close(services: Services, person: Person, words: list[str], now_month: str) -> Reply:
    if not is_leader(person):
        return Reply("只有党委领导可以结账。")
    if not words or not _MONTH.match(words[0]):
        return Reply("用法:/score close YYYY-MM")
    if words[0] > now_month:
        return Reply("这个月份还没到,不能结账。")
    if not await services.repos.scores.close(words[0], person.id, services.now()):
        return Reply(f"{words[0]} 已经结账了。")
    return Reply(f"{words[0]} 已结账,之后不能再修改。")


# -- quarterly review material -----------------------------------------------------------


@dataclass
class QuarterBranch:
    name: str
    projects: list[str] = field(default_factory=list)
    open_findings: int = 0
    totals: list[str] = field(default_factory=list)


async def quarter_material(services: Services, year: int, quarter: int) -> dict[str, QuarterBranch]:
    """Per branch: its key projects with latest progress and verified benefit, open findings,
    and the quarter's monthly totals."""
    branches = {b.id: QuarterBranch(b.name) for b in await services.repos.org.branches()}
    for project in await services.repos.projects.all():
        line = (
            f"{project.number} {project.title}:"
            f"{project.last_percent if project.last_percent is not None else '—'}% "
            f"{project.last_progress or '未报告进展'};核实效益 {format_yuan(project.verified_fen)}"
        )
        for branch_id in project.branches:
            if branch_id in branches:
                branches[branch_id].projects.append(line)
    for finding in await services.repos.findings.search(branches=None, limit=10_000):
        if finding.branch_id in branches:
            branches[finding.branch_id].open_findings += 1
    for offset in range(3):
        month = f"{year}-{(quarter - 1) * 3 + offset + 1:02d}"
        for s in await month_scores(services, month):
            shown = f"{s.total:g}" if s.total is not None else "待定"
            branches[s.branch_id].totals.append(f"{month[5:]}月 {shown}")
    return branches


async def review_quarter(msg: Incoming, services: Services) -> list[Reply]:
    """季度评审材料:/review_quarter [YYYY-Qn]"""
    person = msg.person
    assert person is not None
    local = services.local(services.now())
    year, quarter = local.year, (local.month - 1) // 3 + 1
    arg = msg.args.strip().upper()
    if arg:
        match = re.match(r"^(\d{4})-Q([1-4])$", arg)
        if match is None:
            return [Reply("用法:/review_quarter [2026-Q4]")]
        year, quarter = int(match.group(1)), int(match.group(2))
    material = await quarter_material(services, year, quarter)
    if not is_leader(person):
        material = {k: v for k, v in material.items() if k == person.branch_id}
    lines = [f"{year} 年第 {quarter} 季度评审材料:"]
    for item in material.values():
        lines.append(
            f"【{item.name}】未解决督导问题 {item.open_findings} 个;月度总分:"
            + ("、".join(item.totals))
        )
        lines += [f"  {p}" for p in item.projects] or ["  (没有重点项目)"]
    return [Reply("\n".join(lines))]


# -- /stats ------------------------------------------------------------------------------


async def stats(msg: Incoming, services: Services) -> list[Reply]:
    """金点子统计与图表:/stats"""
    person = msg.person
    assert person is not None
    local = services.local(services.now())
    year_start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    branch_filter = None if is_leader(person) else person.branch_id
    facts = [
        f
        for f in await services.repos.ideas.facts(year_start)
        if branch_filter is None or f[2] == branch_filter
    ]
    facts = [f for f in facts if f[3] != "withdrawn"]
    quarter_start = year_start.replace(month=(local.month - 1) // 3 * 3 + 1)
    month_start = year_start.replace(month=local.month)
    in_month = [f for f in facts if f[0] >= month_start]
    in_quarter = [f for f in facts if f[0] >= quarter_start]
    labels = {c.id: c.label for c in services.classifier.categories}
    by_category = Counter(labels.get(f[1], f[1]) for f in facts)
    names = {b.id: b.name for b in await services.repos.org.branches()}
    by_branch = Counter(names.get(f[2], f[2]) for f in facts)
    adopted = sum(1 for f in facts if f[3] in ADOPTED)
    projects = {p.id: p for p in await services.repos.projects.all()}
    verified = [
        v
        for v in await services.repos.projects.verified_facts(year_start)
        if branch_filter is None or branch_filter in projects[v[2]].branches
    ]
    verified_total = sum(v[1] for v in verified)
    scope = "全矿" if branch_filter is None else names.get(branch_filter, branch_filter)
    lines = [
        f"{scope} {local.year} 年金点子统计:",
        f"本月 {len(in_month)} 条,本季度 {len(in_quarter)} 条,本年 {len(facts)} 条;"
        f"采纳率 {adopted / len(facts):.0%}"
        if facts
        else "本年还没有金点子。",
        "按类别:" + ("、".join(f"{k} {v}" for k, v in by_category.most_common()) or "无"),
        f"核实效益:{format_yuan(verified_total)}",
    ]
    if branch_filter is None:
        target = services.settings.yearly_target_fen
        lines[-1] += f"(年度目标 {format_yuan(target)},完成 {verified_total / target:.0%})"
        lines.append(
            "支部前五:" + ("、".join(f"{k} {v} 条" for k, v in by_branch.most_common(5)) or "无")
        )
    monthly = []
    for number in range(1, local.month + 1):
        count = sum(1 for f in facts if services.local(f[0]).month == number)
        benefit = sum(v[1] for v in verified if services.local(v[0]).month == number)
        monthly.append((f"{number}月", count, benefit / 1_000_000))
    path = services.settings.chart_dir / f"stats-{person.id}-{services.now():%Y%m%d%H%M%S}.png"
    await asyncio.to_thread(  # rendering takes a while: keep the event loop free
        stats_chart,
        path,
        f"{scope} {local.year} 年金点子",
        [(c.label, by_category.get(c.label, 0)) for c in services.classifier.categories],
        monthly,
        [(k, float(v)) for k, v in by_branch.most_common()],
    )
    return [Reply("\n".join(lines), image_path=str(path))]


async def ranking_image(services: Services, month: str, scores: list[BranchScore]) -> str:
    path = services.settings.chart_dir / f"ranking-{month}.png"
    await asyncio.to_thread(
        ranking_chart,
        path,
        f"{month} 支部月度考核",
        [(s.name, s.total or 0.0) for s in scores if s.total is not None],
    )
    return str(path)


FEATURE = Feature(
    commands=[
        Command("score", score, frozenset({"secretary", "supervisor", "leader", "admin"})),
        Command("review_quarter", review_quarter, frozenset({"secretary", "leader", "admin"})),
        Command("stats", stats, frozenset({"secretary", "leader", "admin"})),
    ],
)
