"""Scores in chat: /score (the monthly 100-point assessment), /review_quarter and /stats."""

from __future__ import annotations

import asyncio
import dataclasses

from handlers import access, render
from handlers.messages import Member, Reply
from handlers.money import format_yuan
from handlers.router import Command, Feature, Subcommand
from handlers.rules import scores
from handlers.rules.periods import Month, Quarter
from handlers.rules.scores import PART_LABELS
from handlers.services import Services
from storage import Person


async def score(msg: Member, services: Services) -> list[Reply]:
    """月度百分考核:/score [YYYY-MM | self | dept | leader | base | close]"""
    words = msg.args.split()
    now_month = _this_month(services)
    month = now_month
    if words and (named := Month.parse(words[0])):  # /score 2026-10 [self 85 …]: another month
        month, words = named, words[1:]
        if month > now_month:
            return [Reply("这个月份还没到。")]
        if words and words[0].lower() in PART_ENTRY.keys() | {"close"}:
            # the part comes after the month: route it as `/score self 2026-10 85`
            moved = " ".join([words[0], str(month), *words[1:]])
            return await SCORE.run(dataclasses.replace(msg, args=moved), services)
    if not words:
        return [await _show(services, msg.person, month)]
    return [Reply(USAGE)]


def _this_month(services: Services) -> Month:
    return Month.of(services.local(services.now()))


def _part(part: str) -> Subcommand:
    """The second word that enters one part of a branch's month."""

    async def handler(msg: Member, services: Services) -> list[Reply]:
        words = msg.args.split()
        month = _this_month(services)
        if words and (named := Month.parse(words[0])):
            month, words = named, words[1:]
            if month > _this_month(services):
                return [Reply("这个月份还没到。")]
        if await services.repos.scores.is_closed(str(month)):
            return [Reply(f"{month} 已经结账,不能再修改。")]
        if part == "self":
            branch_id, rest = msg.person.branch_id, words
        else:
            if len(words) < 2:
                return [Reply(USAGE)]
            branch_id, rest = words[0], words[1:]
        branch = await services.repos.org.branch(branch_id)
        if branch is None:
            return [Reply(f"没有编号为“{branch_id[:20]}”的支部。")]
        if not access.may_enter_score(msg.person, part, branch):
            return [Reply(f"{branch.name}不在您所在部门的督导范围内,不能评价。")]
        try:
            value = float(rest[0])
        except (IndexError, ValueError):
            return [Reply("分数要写 0 到 100 的数字。" + USAGE)]
        if not 0 <= value <= 100:
            return [Reply("分数要在 0 到 100 之间。")]
        refusal = await scores.enter(
            services, msg.person.id, branch.id, month, part, value, " ".join(rest[1:])[:200]
        )
        if refusal:
            return [Reply(refusal)]
        return [Reply(f"已记录 {branch.name} {month} 的{PART_LABELS[part]}:{value:g} 分。")]

    usage, roles, refusal = PART_ENTRY[part]
    return Subcommand(part, handler, usage, roles, refusal)


PART_ENTRY = {
    "self": (
        "/score self 分数 [说明] — 项目自评(支部书记)",
        access.SECRETARIES,
        "项目自评由支部书记填写。",
    ),
    "dept": ("/score dept 支部编号 分数 [说明] — 部门评价(督导部门)", None, ""),
    "leader": (
        "/score leader 支部编号 分数 [说明] — 领导评价(党委领导)",
        access.LEADERS,
        "领导评价和基础分由党委领导填写。",
    ),
    "base": (
        "/score base 支部编号 分数 — 基础分(党委领导)",
        access.LEADERS,
        "领导评价和基础分由党委领导填写。",
    ),
}


async def _show(services: Services, person: Person, month: Month) -> Reply:
    found = await scores.month_scores(services, month)
    allowed = access.visible_branches(person, await services.repos.org.branches())
    if allowed is not None:
        found = [s for s in found if s.branch_id in allowed]
    if not found:
        return Reply("您没有可查看的支部考核。")
    closed = "(已结账)" if await services.repos.scores.is_closed(str(month)) else ""
    return Reply(f"{month} 月度考核{closed}:\n" + "\n".join(render.score_line(s) for s in found))


async def _close(msg: Member, services: Services) -> list[Reply]:
    """结账"""
    words = msg.args.split()
    month = Month.parse(words[0]) if words else None
    if month is None:
        return [Reply("用法:/score close YYYY-MM")]
    return [Reply(await scores.close(services, msg.person.id, month, _this_month(services)))]


SCORE = Command(
    "score",
    score,
    access.STAFF,
    subcommands=(
        *(_part(part) for part in PART_ENTRY),
        Subcommand(
            "close",
            _close,
            "/score close YYYY-MM — 结账(党委领导)",
            access.LEADERS,
            "只有党委领导可以结账。",
        ),
    ),
)
USAGE = "用法:/score [YYYY-MM] 查看;" + ";".join(sub.usage for sub in SCORE.subcommands)


async def review_quarter(msg: Member, services: Services) -> list[Reply]:
    """季度评审材料:/review_quarter [YYYY-Qn]"""
    arg = msg.args.strip().upper()
    quarter = Quarter.of(services.local(services.now()))
    if arg:
        named = Quarter.parse(arg)
        if named is None:
            return [Reply("用法:/review_quarter [2026-Q4]")]
        quarter = named
    material = await scores.quarter_material(services, quarter)
    if not access.is_leader(msg.person):
        material = {k: v for k, v in material.items() if k == msg.person.branch_id}
    lines = [f"{quarter.year} 年第 {quarter.number} 季度评审材料:"]
    for item in material.values():
        lines.append(
            f"【{item.name}】未解决督导问题 {item.open_findings} 个;月度总分:"
            + ("、".join(item.totals))
        )
        lines += [f"  {p}" for p in item.projects] or ["  (没有重点项目)"]
    return [Reply("\n".join(lines))]


async def stats(msg: Member, services: Services) -> list[Reply]:
    """金点子统计与图表:/stats"""
    person = msg.person
    branch_filter = access.own_branch_scope(person)
    found = await scores.figures(services, branch_filter)
    labels = {c.id: c.label for c in services.classifier.categories}
    names = {b.id: b.name for b in await services.repos.org.branches()}
    by_category = [(labels.get(k, k), v) for k, v in found.by_category.most_common()]
    by_branch = [(names.get(k, k), v) for k, v in found.by_branch.most_common()]
    scope = "全矿" if branch_filter is None else names.get(branch_filter, branch_filter)
    lines = [
        f"{scope} {found.year} 年金点子统计:",
        f"本月 {found.ideas_this_month} 条,本季度 {found.ideas_this_quarter} 条,"
        f"本年 {found.ideas_this_year} 条;采纳率 {found.adoption_rate:.0%}"
        if found.ideas_this_year
        else "本年还没有金点子。",
        "按类别:" + ("、".join(f"{k} {v}" for k, v in by_category) or "无"),
        f"核实效益:{format_yuan(found.verified_fen)}",
    ]
    if branch_filter is None:
        target = services.settings.yearly_target_fen
        lines[-1] += f"(年度目标 {format_yuan(target)},完成 {found.verified_fen / target:.0%})"
        lines.append("支部前五:" + ("、".join(f"{k} {v} 条" for k, v in by_branch[:5]) or "无"))
    path = services.settings.chart_dir / f"stats-{person.id}-{services.now():%Y%m%d%H%M%S}.png"
    from handlers.charts import stats_chart  # matplotlib only once a chart is drawn (~0.7 s)

    counted = dict(by_category)
    await asyncio.to_thread(  # rendering takes a while: keep the event loop free
        stats_chart,
        path,
        f"{scope} {found.year} 年金点子",
        [(c.label, counted.get(c.label, 0)) for c in services.classifier.categories],
        [(f"{n}月", count, fen / 1_000_000) for n, count, fen in found.monthly],
        [(k, float(v)) for k, v in by_branch],
    )
    return [Reply("\n".join(lines), image_path=str(path))]


FEATURE = Feature(
    commands=[
        SCORE,
        Command("review_quarter", review_quarter, access.BRANCH_STAFF),
        Command("stats", stats, access.BRANCH_STAFF),
    ],
)
