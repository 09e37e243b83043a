"""Key projects in chat: /project, /projects, /progress, /benefit, /verify and
/reward; the rules are in handlers.rules.projects."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from handlers import access, parsing, project_forms
from handlers.messages import Member, Reply
from handlers.money import format_yuan
from handlers.project_forms import NEW_USAGE, project_or_refusal
from handlers.router import Command, Feature, Subcommand
from handlers.rules import achievements as achieved
from handlers.rules import projects as rules
from handlers.rules.names import short_branch_name
from handlers.rules.projects import text_length_ok
from handlers.services import Services
from storage import KeyPoint, Kpi, Project

LINK_USAGE = "用法:/project link P07 金点子编号 …"
PROGRESS_USAGE = "用法:/progress P07 [百分比] 进展,例如:/progress P07 60 已完成第一批改造"
VERIFY_USAGE = "用法:/verify B编号 [reject 原因]"
PROJECT_USAGE = (
    "查看:/project P07;分解关键点:/project P07 point add 关键点 | 支部 | 到期月份;"
    "指标:/project P07 kpi add 名称 | 单位 | 基线 | 目标,/project P07 kpi 名称 当前值"
)


def _describe(services: Services, project: Project, names: dict[str, str], points: int = 0) -> str:
    """The card's head; with key points the percentage is theirs, averaged."""
    branches = "、".join(names.get(b, b) for b in project.branches)
    percent = f"{project.last_percent}% · " if project.last_percent is not None else ""
    progress = percent + (project.last_progress or "还没有进展")
    if points:
        progress = f"{project.last_percent}%({points} 个关键点的平均);最新:" + (
            project.last_progress or "还没有进展"
        )
    return (
        f"{project.number} {project.title}({services.category_label(project.category)})\n"
        f"  负责人:{project.lead_name};支部:{branches}\n"
        f"  {'进度' if points else '最新进展'}:{progress}\n"
        f"  核实效益:{format_yuan(project.verified_fen)} / 预期年效益 "
        f"{format_yuan(project.expected_benefit_fen)}"
    )


async def project(msg: Member, services: Services) -> list[Reply]:
    """重点项目:/project new … | /project link P07 编号… | /project P07 [point add … | kpi …]"""
    word = msg.args.strip().partition(" ")[0]
    if not word:
        return [Reply(f"查看一个项目:/project P07;全部:/projects\n{NEW_USAGE}")]
    found = await project_or_refusal(
        services, word, f"没有这个重点项目。查看全部:/projects\n{NEW_USAGE}"
    )
    if isinstance(found, str):
        return [Reply(found)]
    if not rules.may_act(msg.person, found):
        return [Reply(f"{found.number} 没有本支部参与,详情请问项目负责人或党委领导。")]
    rest = msg.args.strip().partition(" ")[2].strip()
    part, _, detail = rest.partition(" ")
    if part.lower() in ("point", "关键点"):
        action, _, typed = detail.strip().partition(" ")
        if action.lower() not in ("add", "新增", "添加"):
            return [Reply(project_forms.POINT_USAGE)]
        return await project_forms.key_point(
            dataclasses.replace(msg, args=typed.strip()), services, found
        )
    if part.lower() in ("kpi", "指标"):
        return await project_forms.kpi(dataclasses.replace(msg, args=detail), services, found)
    if part:
        return [Reply(PROJECT_USAGE)]
    card = await _card(services, found)
    measured = [k for k in await services.repos.projects.kpis(found.id) if k.values]
    if not measured:
        return [Reply(card)]
    return [Reply(card, image_path=str(await _kpi_chart(services, found, measured)))]


async def _kpi_chart(services: Services, found: Project, kpis: list[Kpi]) -> Path:
    """The project's KPIs from baseline to now against their targets, as a PNG."""
    from handlers.charts import kpi_chart  # matplotlib only once a chart is drawn

    path = services.settings.chart_dir / f"kpi-{found.id}-{services.now():%Y%m%d%H%M%S}.png"
    series = [
        (
            k.name,
            k.unit,
            float(k.baseline),
            float(k.target),
            [(services.local(when).strftime("%m-%d"), float(value)) for value, when in k.values],
        )
        for k in kpis
    ]
    return await asyncio.to_thread(kpi_chart, path, f"{found.number} {found.title} 指标", series)


async def _card(services: Services, found: Project) -> str:
    """Everything about one project: its head, key points, KPIs, ideas and rewards."""
    branches = await services.repos.org.branches()
    names = {b.id: b.name for b in branches}
    short = {b.id: short_branch_name(b) for b in branches}
    points = await services.repos.projects.key_points(found.id)
    lines = [_describe(services, found, names, len(points))]
    if points:
        groups: dict[int, str] = {}
        for group_id in {k.group_id for k in points if k.group_id is not None}:
            group = await services.repos.party_groups.group(group_id)
            groups[group_id] = group.name if group is not None else ""
        lines.append("  关键点:")
        lines += [
            f"    {i}. {_point_line(k, short, groups)}" for i, k in enumerate(points, start=1)
        ]
    else:  # the latest report leads, and no branch's figure is lost under another's
        reported = await services.repos.projects.branch_percents(found.id)
        if len(reported) > 1:
            lines.append(
                "  各支部最新:" + "、".join(f"{short.get(b, b)} {p}%" for b, p in reported)
            )
    kpis = await services.repos.projects.kpis(found.id)
    if kpis:
        lines.append("  指标:")
        lines += [f"    {rules.kpi_line(k)}" for k in kpis]
    results = await services.repos.achievements.listed(project_id=found.id)
    if results:
        lines.append(f"  成果({len(results)} 项):")
        lines += [f"    {achieved.line(a)}" for a in results]
    if found.idea_ids:
        lines.append("  金点子:" + "、".join(f"#{i}" for i in found.idea_ids))
    if found.rewarded_fen:
        lines.append(f"  已奖励:{format_yuan(found.rewarded_fen)}")
    return "\n".join(lines)


def _point_line(point: KeyPoint, short: dict[str, str], groups: dict[int, str]) -> str:
    percent = f"{point.percent}%" if point.percent is not None else "未报告"
    text = f" · {point.last_text}" if point.last_text else ""
    branch = short.get(point.branch_id, point.branch_id)
    if point.group_id is not None:  # the party group of the branch that owns it
        branch += groups.get(point.group_id, "")
    return f"{point.title} · {branch} · {point.due_month} 到期 · {percent}{text}"


def _counts(points: Sequence[KeyPoint]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for k in points:
        counted[k.project_id] = counted.get(k.project_id, 0) + 1
    return counted


async def _link_command(msg: Member, services: Services) -> list[Reply]:
    """把金点子纳入重点项目"""
    number, _, items = msg.args.strip().partition(" ")
    found = await project_or_refusal(services, number, LINK_USAGE)
    if isinstance(found, str):
        return [Reply(found)]
    if not items.strip():
        return [Reply(f"请写上要纳入 {found.number} 的金点子编号。{LINK_USAGE}")]
    lines = []
    for item in parsing.fold_separators(items).replace(",", " ").split():
        idea_number = parsing.number(item)
        idea = await services.repos.ideas.get(idea_number) if idea_number is not None else None
        lines.append(
            f"没有编号为 {item} 的金点子。"
            if idea is None
            else await rules.link(services, msg.person, found, idea)
        )
    return [Reply("\n".join(lines))]


async def projects(msg: Member, services: Services) -> list[Reply]:
    """重点项目一览:/projects"""
    everything = await services.repos.projects.all()
    if not everything:
        return [Reply("还没有重点项目。党委领导可以用 /project new 建立。")]
    found = [p for p in everything if rules.may_act(msg.person, p)]
    if not found:
        return [Reply(f"全矿有 {len(everything)} 个重点项目,目前没有本支部参与的。")]
    names = {b.id: b.name for b in await services.repos.org.branches()}
    title = (
        f"重点项目(共 {len(found)} 个)"
        if len(found) == len(everything)
        else f"本支部参与的重点项目({len(found)} 个,全矿共 {len(everything)} 个)"
    )
    points = _counts(await services.repos.projects.key_points())
    return [
        Reply(
            f"{title}:\n"
            + "\n".join(_describe(services, p, names, points.get(p.id, 0)) for p in found)
        )
    ]


async def progress(msg: Member, services: Services) -> list[Reply]:
    """报告项目进展:/progress P07 [百分比] 进展"""
    person = msg.person
    number, _, rest = msg.args.strip().partition(" ")
    found = await project_or_refusal(services, number, PROGRESS_USAGE)
    if isinstance(found, str):
        return [Reply(found)]
    if not rules.may_act(person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以报告进展。")]
    first, _, text = rest.strip().partition(" ")
    percent: int | None = None
    if parsing.looks_like_percent(first):
        percent = parsing.percent(first)
        if percent is None:
            return [Reply(f"进度百分比要在 0 到 100 之间(写整数),“{parsing.shown(first)}”不对。")]
    else:
        text = rest.strip()
    if not text_length_ok(text.strip()):
        return [Reply(f"请写上进展内容(500 字以内)。{PROGRESS_USAGE}")]
    points = await services.repos.projects.key_points(found.id)
    if points:  # each key point keeps its own progress
        return await project_forms.progress_on_points(
            msg, services, found, points, percent, text.strip()
        )
    return await project_forms.record_progress(msg, services, found, percent, text.strip())


async def verify(msg: Member, services: Services) -> list[Reply]:
    """核实效益:/verify B编号 [reject 原因]"""
    person = msg.person
    number, _, rest = msg.args.strip().partition(" ")
    claim_number = parsing.number(number, prefixes="B")
    claim = (
        await services.repos.projects.benefit(claim_number) if claim_number is not None else None
    )
    if claim is None:
        return [Reply(VERIFY_USAGE)]
    refusal = rules.may_decide(person, claim)
    if refusal:
        return [Reply(refusal)]
    action, _, reason = rest.strip().partition(" ")
    if action and action != "reject":
        return [Reply(VERIFY_USAGE)]
    if action == "reject" and not text_length_ok(reason):
        return [Reply("不认可要写明原因,例如:/verify B3 reject 没有出库单")]
    told = await rules.decide(services, person, claim, verified=not action, reason=reason)
    claimant = await services.repos.people.by_id(claim.claimed_by)
    tell = f"已通知申报人{claimant.name}。" if told and claimant else ""
    if action:
        return [Reply(f"B{claim.id} 未核实:{reason}。{tell}")]
    return [
        Reply(
            f"B{claim.id} 已核实:{rules.benefit_amount(claim)}。{tell}"
            f"建议奖励:/reward P{claim.project_id:02d}"
        )
    ]


FEATURE = Feature(
    commands=[
        Command(
            "project",
            project,
            access.PROJECT_STAFF,
            subcommands=(
                Subcommand(
                    "new",
                    project_forms.new_project,
                    project_forms.NEW_LINE,
                    access.LEADERS,
                    "只有党委领导可以建立重点项目。",
                ),
                Subcommand(
                    "link",
                    _link_command,
                    "/project link P07 金点子编号 …",
                    access.LEADERS,
                    "只有党委领导可以把金点子纳入重点项目。",
                ),
            ),
        ),
        Command("projects", projects, access.PROJECT_STAFF),
        Command("progress", progress, access.PROJECT_STAFF),
        Command("benefit", project_forms.benefit, access.PROJECT_STAFF),
        Command("verify", verify, access.LEADERS),
        Command("reward", project_forms.reward, access.LEADERS),
    ],
)
