"""Scores in chat: /score (the monthly 100-point assessment), /review_quarter and /stats."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from pathlib import Path

from handlers import access, forms, parsing, render
from handlers.messages import Button, Member, Reply
from handlers.money import format_yuan
from handlers.notify import notify
from handlers.router import Command, Feature, Subcommand
from handlers.rules import achievements as achieved
from handlers.rules import audience, charts_data, names, quarterly, scores, supervision
from handlers.rules import group as group_rules
from handlers.rules.periods import Month, Quarter
from handlers.rules.scores import PART_LABELS, PARTS
from handlers.services import Services
from storage import Branch, Person


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
        return [await _show(services, msg.person, month, msg.chat_type == "private")]
    first, rest = parsing.split_field(msg.args)
    if first != words[0] and first.lower() in PART_ENTRY.keys() | {"close"}:
        # '/score self:85' (a phone's ：): the second word ends at the separator too
        return await SCORE.run(dataclasses.replace(msg, args=f"{first} {rest}"), services)
    return [Reply(USAGE)]


def _this_month(services: Services) -> Month:
    return Month.of(services.local(services.now()))


ENTRY_PREFIX = "sc"
"""Callback data of an entry button under the month's scores: sc:<part>:<YYYY-MM>."""


async def _month_open(services: Services, month: Month) -> str | None:
    """Why the month takes no entries (not yet come, closed), or None."""
    return await scores.month_refusal(services, month)


def _may_use(person: Person, part: str) -> bool:
    return access.holds(person, PART_ENTRY[part][1])


async def _scorable(services: Services, person: Person, part: str) -> list[Branch]:
    """The branches whose `part` the person may enter."""
    if part not in PART_ENTRY or not _may_use(person, part):
        return []
    branches = await services.repos.org.branches()
    return [b for b in branches if access.may_enter_score(person, part, b)]


def _part(part: str) -> Subcommand:
    """The second word that enters one part of a branch's month; what it leaves out is asked."""

    async def handler(msg: Member, services: Services) -> list[Reply]:
        month = _this_month(services)
        first, rest = parsing.split_field(msg.args)
        if first and (named := Month.parse(first)):
            month = named
        else:
            rest = msg.args.strip()
        closed = await _month_open(services, month)
        if closed:
            return [Reply(closed)]
        answers = {"part": part, "month": str(month)}
        if part == "self":
            answers["branch"] = msg.person.branch_id
        else:
            typed, rest = parsing.split_field(rest)
            if not typed:
                return await _open_entry(msg, services, answers)
            found = names.branches(await services.repos.org.branches(), typed)
            if not found:
                return [Reply(f"没有编号为“{parsing.shown(typed)}”的支部。")]
            if len(found) > 1:
                listed = "、".join(names.short_branch_name(b) for b in found[:8])
                return [
                    Reply(f"“{parsing.shown(typed)}”可能是:{listed}。请写完整的支部名称或编号。")
                ]
            if not access.may_enter_score(msg.person, part, found[0]):
                return [Reply(f"{found[0].name}不在您所在部门的督导范围内,不能评价。")]
            answers["branch"] = found[0].id
        if not rest:
            return await _open_entry(msg, services, answers)
        answers["value"] = rest
        return await _enter(msg, services, answers)

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


async def _open_entry(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    """Start the entry form for what is not known yet (the branch, the figure)."""
    if "branch" not in answers and not await _scorable(services, msg.person, answers["part"]):
        return [Reply(f"您没有可以录入{PART_LABELS[answers['part']]}的支部。")]
    if msg.chat_type != "private":  # a form's typed answers are read in a private chat only
        usage = PART_ENTRY[answers["part"]][0].partition(" — ")[0]
        return [Reply(f"请私聊我录入分数(在群里的回答我收不到),也可以一次写全:{usage}")]
    return await forms.start(ENTRY, msg, services, answers)


async def on_press(msg: Member, services: Services) -> list[Reply]:
    """An entry button under the month's scores: the entry form for that part and month."""
    parts = (msg.callback or "").split(":")
    part = parts[1] if len(parts) == 3 and parts[1] in PART_ENTRY else None
    month = Month.parse(parts[2]) if part is not None else None
    if part is None or month is None:
        return [Reply("这个按钮已经失效了,请重新发送 /score。")]
    if not _may_use(msg.person, part):
        return [Reply(PART_ENTRY[part][2] or "您不能录入这一项。")]
    closed = await _month_open(services, month)
    if closed:
        return [Reply(closed)]
    answers = {"part": part, "month": str(month)}
    if part == "self":
        answers["branch"] = msg.person.branch_id
    return await _open_entry(msg, services, answers)


async def _branch_options(
    msg: Member, services: Services, answers: forms.Answers
) -> list[forms.Choice]:
    mine = await _scorable(services, msg.person, answers.get("part", ""))
    return [forms.Choice(names.short_branch_name(b), b.id) for b in mine]


async def _branch_typed(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    return forms.branch_named(await _scorable(services, msg.person, answers.get("part", "")), text)


def _label(answers: forms.Answers) -> str:
    return PART_LABELS.get(answers.get("part", ""), "分数")


async def _ask_value(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    branch = await services.repos.org.branch(answers["branch"])
    name = branch.name if branch is not None else answers["branch"]
    reference = ""
    month = Month.parse(answers["month"])
    if answers.get("part") == "dept" and branch is not None and month is not None:
        # the case scores a branch with supervision as "an important reference"
        seen = await supervision.branch_month(services, branch.id, month)
        reference = (
            f"参考:本月走访 {seen.visits} 次(目标 {seen.target} 次),"
            f"发现问题 {seen.findings} 个,{seen.still_open} 个未解决。\n"
        )
    return forms.Ask(
        f"{reference}请输入 {name} {answers['month']} 的{_label(answers)}"
        "(0 到 100,后面可以写一句说明):"
    )


async def _read_value(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    typed = parsing.fold(text).strip()
    value = scores.read_score(parsing.split_field(typed)[0])
    return forms.Problem(value) if isinstance(value, str) else typed


async def _existing(services: Services, answers: forms.Answers) -> float | None:
    entered = await services.repos.scores.month(answers["month"])
    return entered.get(answers["branch"], {}).get(answers["part"])


async def _entered(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    """The figure is in: enter it, or first confirm that it replaces another."""
    old = await _existing(services, answers)
    value = scores.read_score(parsing.split_field(answers["value"])[0])
    if old is not None and value != old:
        return await forms.start(REPLACE, msg, services, answers)
    return await _enter(msg, services, answers)


async def _replace_summary(msg: Member, services: Services, answers: forms.Answers) -> str:
    branch = await services.repos.org.branch(answers["branch"])
    name = branch.name if branch is not None else answers["branch"]
    old = await _existing(services, answers)
    value = scores.read_score(parsing.split_field(answers["value"])[0])
    shown = f"{value:g}" if isinstance(value, float) else parsing.shown(answers["value"])
    was = f"已有 {old:g} 分," if old is not None else ""
    return f"{name} {answers['month']} 的{_label(answers)}{was}要改为 {shown} 分吗?"


async def _enter(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    """Enter one part of a branch's month: the one-line form and the guided one end here."""
    part, month = answers.get("part", ""), Month.parse(answers.get("month", ""))
    branch = await services.repos.org.branch(answers.get("branch", ""))
    if part not in PART_ENTRY or month is None or branch is None:
        return [Reply("这个操作已经结束了,请重新发送 /score。")]
    if not _may_use(msg.person, part) or not access.may_enter_score(msg.person, part, branch):
        return [Reply(f"{branch.name}不在您所在部门的督导范围内,不能评价。")]
    closed = await _month_open(services, month)
    if closed:
        return [Reply(closed)]
    figure, note = parsing.split_field(answers.get("value", ""))
    value = scores.read_score(figure)
    if isinstance(value, str):
        return [Reply(value)]
    old = await _existing(services, answers)
    refusal = await scores.enter(services, msg.person.id, branch.id, month, part, value, note[:200])
    if refusal:
        return [Reply(refusal)]
    said = f"已记录 {branch.name} {month} 的{PART_LABELS[part]}:{value:g} 分。"
    if old is not None and old != value:
        said += f"(原为 {old:g} 分)"
    return [Reply(said)]


ENTRY = forms.Form(
    "score_entry",
    (
        forms.choice_step(
            "branch",
            lambda answers: f"请选择要录入{_label(answers)}的支部:",
            _branch_options,
            typed=_branch_typed,
        ),
        forms.Step("value", _ask_value, _read_value),
    ),
    _entered,
)
REPLACE = forms.Form("score_replace", (), _enter, confirm=_replace_summary)


async def _show(
    services: Services, person: Person, month: Month, with_buttons: bool = True
) -> Reply:
    found = await scores.month_scores(services, month)
    allowed = access.visible_branches(person, await services.repos.org.branches())
    if allowed is not None:
        found = [s for s in found if s.branch_id in allowed]
    if not found:
        return Reply("您没有可查看的支部考核。")
    closed = await services.repos.scores.is_closed(str(month))
    text = f"{month} 月度考核{'(已结账)' if closed else ''}:\n" + "\n".join(
        render.score_line(s) for s in found
    )
    if closed or not with_buttons:  # no entry in a group: its answers could not be read there
        return Reply(text)
    parts = [p for p in PARTS if p in PART_ENTRY and await _scorable(services, person, p)]
    buttons = tuple(Button(f"录入{PART_LABELS[p]}", f"{ENTRY_PREFIX}:{p}:{month}") for p in parts)
    return Reply(text, buttons=(buttons,) if buttons else ())


async def _close(msg: Member, services: Services) -> list[Reply]:
    """结账"""
    first, _ = parsing.split_field(msg.args)
    month = Month.parse(first) if first else None
    if month is None:
        return [Reply("用法:/score close YYYY-MM")]
    if month > _this_month(services):
        return [Reply("这个月份还没到,不能结账。")]
    if await services.repos.scores.is_closed(str(month)):
        return [Reply(f"{month} 已经结账了。")]
    return await forms.start(CLOSE, msg, services, {"month": str(month)})


async def _close_summary(msg: Member, services: Services, answers: forms.Answers) -> str:
    month = answers["month"]
    waiting = scores.pending(await scores.month_scores(services, month))
    if not waiting:
        return f"{month} 各支部的总分都已算出。结账后就不能再修改了,确定结账吗?"
    lines = [f"⚠️ {month} 还有 {len(waiting)} 个支部的总分还没有算出:"]
    lines += [f"  {s.name}(缺 {'、'.join(PART_LABELS[p] for p in s.missing)})" for s in waiting]
    lines.append("结账后这些分数就不能再补录了。仍要结账吗?")
    return "\n".join(lines)


async def _closed(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    month = Month.parse(answers.get("month", ""))
    if not access.is_leader(msg.person):
        return [Reply("只有党委领导可以结账。")]
    if month is None:
        return [Reply("用法:/score close YYYY-MM")]
    reopened = await services.repos.scores.last_reopening(str(month))
    said = await scores.close(services, msg.person.id, month, _this_month(services))
    if not await services.repos.scores.is_closed(str(month)):
        return [Reply(said)]
    if month < _this_month(services) or reopened is not None:
        # the 1st's job has passed (or the month was announced and corrected): announce now
        told = await _announce(services, month, reopened)
        said += f"已通知 {told} 个支部群。" if told else ""
    return [Reply(said)]


async def _announce(services: Services, month: Month, reopened: tuple[str, datetime] | None) -> int:
    """The closed month to each bound branch group; after a reopening, with what changed."""
    found = await scores.month_scores(services, month)
    of = scores.ranked_count(found)
    settings = services.settings
    changes: dict[str, list[str]] = {}
    if reopened is not None:
        for branch_id, part, old, new in await services.repos.scores.changed_since(
            str(month), reopened[1]
        ):
            was = f"{old:g}" if old is not None else "未录入"
            changes.setdefault(branch_id, []).append(f"{PART_LABELS[part]} {was} → {new:g}")
    told = 0
    for branch_score in found:
        groups = await audience.branch_groups(services, branch_score.branch_id)
        if not groups:
            continue
        text = render.monthly_score(
            str(month), branch_score, of, settings.project_weight, settings.part_weights
        )
        key = f"score:{month}"
        if reopened is not None:
            mine = changes.get(branch_score.branch_id)
            what = ";".join(mine) if mine else "本支部的分数没有变化"
            text = f"🔁 更正:{month} 重新结账(原因:{reopened[0]})。本支部改动:{what}\n{text}"
            key += f":{reopened[1].isoformat()}"
        told += bool(await notify(services, groups, text, key=f"{key}:{branch_score.branch_id}"))
    leaders = await audience.leaders(services)
    if leaders:  # the ranking the 1st's job would have sent, or its correction
        text, image = await render.leaders_ranking(services, month, found)
        key = f"ranking:{month}"
        if reopened is not None:
            text = f"🔁 更正:{month} 重新结账(原因:{reopened[0]})。\n{text}"
            key += f":{reopened[1].isoformat()}"
        await notify(services, leaders, text, key=key, image_path=image)
    return told


CLOSE = forms.Form("score_close", (), _closed, confirm=_close_summary, confirm_label="确认关闭")


async def _draft(msg: Member, services: Services) -> list[Reply]:
    """把草稿发给支部书记核对"""
    first, _ = parsing.split_field(msg.args)
    month = Month.parse(first) if first else None
    if month is None:
        return [Reply("用法:/score draft YYYY-MM")]
    closed = await _month_open(services, month)
    if closed:
        return [Reply(closed)]
    told = 0
    for branch_score in await scores.month_scores(services, month):
        secretaries = await audience.secretaries(services, branch_score.branch_id)
        text = render.score_draft(str(month), branch_score)
        stamp = services.now().isoformat()
        told += bool(
            await notify(
                services, secretaries, text, key=f"draft:{month}:{stamp}:{branch_score.branch_id}"
            )
        )
    if not told:
        return [Reply(f"{month} 的考核草稿没有可以通知的支部书记。")]
    return [Reply(f"已把 {month} 的考核草稿发给 {told} 个支部的书记核对,已通知。")]


async def _reopen(msg: Member, services: Services) -> list[Reply]:
    """重新打开已结账的月份"""
    first, reason = parsing.split_field(msg.args)
    month = Month.parse(first) if first else None
    if month is None or not reason.strip():
        return [Reply("用法:/score reopen YYYY-MM 原因(例如 /score reopen 2026-11 部门评价录错)")]
    if not await services.repos.scores.is_closed(str(month)):
        return [Reply(f"{month} 还没有结账,可以直接修改。")]
    answers = {"month": str(month), "reason": reason.strip()[:200]}
    return await forms.start(REOPEN, msg, services, answers)


async def _reopen_summary(msg: Member, services: Services, answers: forms.Answers) -> str:
    return (
        f"要重新打开 {answers['month']} 的月度考核吗?原因:{answers['reason']}\n"
        "改完后请再次 /score close 结账,各支部群会收到更正通知。"
    )


async def _reopened(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    month = Month.parse(answers.get("month", ""))
    if not access.is_leader(msg.person):
        return [Reply("只有党委领导可以重新打开已结账的月份。")]
    if month is None:
        return [Reply("用法:/score reopen YYYY-MM 原因")]
    opened = await services.repos.scores.reopen(
        str(month), answers.get("reason", ""), msg.person.id, services.now()
    )
    if not opened:
        return [Reply(f"{month} 还没有结账,可以直接修改。")]
    return [Reply(f"{month} 已重新打开,现在可以修改。改完后请再次 /score close {month} 结账。")]


REOPEN = forms.Form(
    "score_reopen", (), _reopened, confirm=_reopen_summary, confirm_label="确认重新打开"
)


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
        Subcommand(
            "draft",
            _draft,
            "/score draft YYYY-MM — 把考核草稿发给各支部书记核对(党委领导)",
            access.LEADERS,
            "只有党委领导可以发送考核草稿。",
        ),
        Subcommand(
            "reopen",
            _reopen,
            "/score reopen YYYY-MM 原因 — 重新打开已结账的月份以更正(党委领导)",
            access.LEADERS,
            "只有党委领导可以重新打开已结账的月份。",
        ),
    ),
)
USAGE = "用法:/score [YYYY-MM] 查看;" + ";".join(sub.usage for sub in SCORE.subcommands)
FORMS = (ENTRY, REPLACE, CLOSE, REOPEN)


async def review_quarter(msg: Member, services: Services) -> list[Reply]:
    """季度评审材料:/review_quarter [YYYY-Qn]"""
    arg = msg.args.strip().upper()
    quarter = quarterly.under_review(services.local(services.now()))
    if arg:
        named = Quarter.parse(arg)
        if named is None:
            return [Reply("用法:/review_quarter [2026-Q4]")]
        quarter = named
    material = await scores.quarter_material(services, quarter)
    scope = access.own_branch_scope(msg.person)
    if scope is not None:
        material = {k: v for k, v in material.items() if k == scope}
    reported = {d.branch.id: d for d in await quarterly.dues(services, quarter, scope)}
    lines = [f"{quarter.year} 年第 {quarter.number} 季度评审材料:"]
    if quarterly.quarter_end(services, quarter) > services.now():
        lines.append("(本季度还在进行中,以下是截至目前的情况。)")
    for branch_id, item in material.items():
        lines.append(
            f"【{item.name}】未解决督导问题 {item.open_findings} 个;月度总分:"
            + ("、".join(item.totals))
        )
        lines += [f"  {p}" for p in item.projects] or ["  (没有重点项目)"]
        due = reported.get(branch_id)
        if due is not None and due.projects:
            lines.append(f"  季度汇报 {len(due.reports)}/{len(due.projects)}:")
            lines += _report_lines(due)
    lines += await _quarter_achievements(services, msg, quarter)
    return [Reply("\n".join(lines))]


def _report_lines(due: quarterly.BranchDue) -> list[str]:
    """The branch's reports per project, with the leaders' comments; the missing ones named."""
    lines = []
    for project in due.projects:
        report = due.reports.get(project.id)
        if report is None:
            lines.append(f"    {project.number}:未汇报")
            continue
        lines.append(
            f"    {project.number} 进展:{report.progress};问题:{report.problems};"
            f"下一步:{report.next_steps}"
        )
        lines += [f"      💬 {c.person_name}:{c.text}" for c in report.comments]
    return lines


async def _quarter_achievements(services: Services, msg: Member, quarter: Quarter) -> list[str]:
    """The quarter's new achievements (a secretary sees those of their branch's projects)."""
    local = services.local(services.now())
    since = quarter.start(local)
    until = quarter.next().start(local)
    found = await services.repos.achievements.listed(since=since, until=until)
    if not access.is_leader(msg.person):
        ours = {
            p.id for p in await services.repos.projects.all() if msg.person.branch_id in p.branches
        }
        found = [a for a in found if a.project_id in ours]
    if not found:
        return ["本季度新增成果:无"]
    return [
        f"本季度新增成果 {len(found)} 项:{achieved.counts_line(achieved.count(found))}",
        *(f"  {achieved.line(a)}" for a in found),
    ]


async def stats(msg: Member, services: Services) -> list[Reply]:
    """金点子统计与图表:/stats"""
    person = msg.person
    if services.group and access.is_leader(person):
        return await group_stats(person, services)
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
    speed = await scores.speed(services, branch_filter, scores.year_start(services))
    lines += render.speed_lines(speed, names, per_branch=branch_filter is None)
    shown = charts_for(person)
    first, second = shown[0], shown[1]  # only the two the reader needs most are drawn now
    one = await _chart(services, person, first, found)
    two = await _chart(services, person, second, found)
    rest = [Button(f"查看:{CHART_NAMES[name]}", f"{STATS_PREFIX}:{name}") for name in shown[2:]]
    return [
        Reply("\n".join([*lines, one.text]), image_path=one.image_path),
        Reply(two.text, image_path=two.image_path, buttons=tuple((b,) for b in rest)),
    ]


async def group_stats(person: Person, services: Services) -> list[Reply]:
    """The group office's /stats: the group's year, and every mine ranked by the share of
    its yearly benefit target verified, each mine's figures by the rules of its own /stats."""
    from handlers import charts  # matplotlib only once a chart is drawn

    rows = await group_rules.mine_figures(services.group)
    year = services.local(services.now()).year
    ideas = sum(r.ideas for r in rows)
    adopted = sum(r.adopted for r in rows)
    verified = sum(r.verified_fen for r in rows)
    target = sum(r.target_fen for r in rows)
    lines = [
        f"集团 {year} 年金点子统计({len(rows)} 个矿):",
        f"本年 {ideas} 条,采纳率 {adopted / ideas:.0%}" if ideas else "本年还没有金点子。",
        f"核实效益:{format_yuan(verified)}(各矿年度目标合计 {format_yuan(target)},"
        f"完成 {verified / target if target else 0:.0%})",
        "各矿排名(按效益完成率):",
        *(
            f"{n}. {r.name}:完成 {r.done:.0%},金点子 {r.ideas} 条,采纳率 {r.adoption:.0%}"
            for n, r in enumerate(rows, 1)
        ),
    ]
    stamp = f"{person.id}-{services.now():%Y%m%d%H%M%S}"
    path = services.settings.chart_dir / f"stats-mines-{stamp}.png"
    drawn = await asyncio.to_thread(charts.mines_chart, path, rows, f"{year} 年各矿效益完成率")
    return [Reply("\n".join(lines), image_path=str(drawn))]


STATS_PREFIX = "st"
"""Callback data of a chart button under /stats: st:<chart>."""

CHART_NAMES = {
    "year": "年度目标进度",
    "scores": "支部月度考核",
    "compare": "本支部与全矿中位数",
    "months": "每月金点子",
    "speed": "采纳与审核用时",
    "projects": "重点项目进展",
}
LEADER_CHARTS = ("year", "scores", "months", "speed", "projects")
"""A leader's charts, the two drawn with /stats first: is the year on track, how do the
branches stand."""
SECRETARY_CHARTS = ("compare", "months", "projects")
"""A secretary's: their branch against the mine's median, their ideas per month; never
another branch's name."""


def charts_for(person: Person) -> tuple[str, ...]:
    return LEADER_CHARTS if access.is_leader(person) else SECRETARY_CHARTS


async def _chart(
    services: Services, person: Person, name: str, found: scores.Figures | None = None
) -> Reply:
    """One chart of /stats for the person, drawn off the event loop; a reply saying why not
    when there is nothing to compare."""
    from handlers import charts  # matplotlib only once a chart is drawn (~0.7 s)

    branch = access.own_branch_scope(person)
    stamp = f"{person.id}-{services.now():%Y%m%d%H%M%S}"
    path = services.settings.chart_dir / f"stats-{name}-{stamp}.png"
    drawn: Path | None = None
    note = f"📊 {CHART_NAMES[name]}"
    if name == "year":
        found = found if found is not None else await scores.figures(services, None)
        year = charts_data.year_target(services, found)
        drawn = await asyncio.to_thread(charts.year_chart, path, year)
        note += f":完成 {year.done:.0%},按目前进度年底约 {year.projected:,.0f} 万元"
    elif name == "months":
        scope = "全矿" if branch is None else await _short_branch(services, branch)
        months = await charts_data.monthly_categories(services, branch, scope)
        drawn = await asyncio.to_thread(charts.months_chart, path, months)
    elif name == "speed":
        rows = await charts_data.branch_speeds(services)
        this_year = services.local(services.now()).year
        drawn = await asyncio.to_thread(
            charts.speed_chart, path, rows, f"{this_year} 年采纳率与首次审核用时"
        )
        if drawn is None:
            note += ":有审核记录的支部不到两个,不画图。"
    elif name == "projects":
        bars = await charts_data.project_bars(services, branch)
        drawn = await asyncio.to_thread(charts.projects_chart, path, bars, "重点项目进展")
        if drawn is None:
            only = f":{bars[0].number} {bars[0].title} {bars[0].percent or 0}%" if bars else ""
            note += f"{only}(重点项目不到两个,不画图)"
    elif name == "scores":
        month, found_scores = await charts_data.closed_scores(services)
        ranked = charts_data.score_bars(services, found_scores)
        if month is None:
            note += ":还没有结账的月份。"
        else:
            drawn = await asyncio.to_thread(
                charts.scores_chart,
                path,
                ranked,
                f"{month} 支部月度考核",
                services.settings.project_weight,
            )
            note += f"({month})"
            if drawn is None:
                note += ":有总分的支部不到两个,不画图。"
    else:  # compare
        assert branch is not None, "a leader has no branch of their own to compare"
        _, found_scores = await charts_data.closed_scores(services)
        measures = await charts_data.against_median(services, branch, found_scores or None)
        short = await _short_branch(services, branch)
        drawn = await asyncio.to_thread(charts.compare_chart, path, short, measures)
    return Reply(note, image_path=str(drawn) if drawn is not None else None)


async def _short_branch(services: Services, branch_id: str) -> str:
    branch = await services.repos.org.branch(branch_id)
    return names.short_branch_name(branch) if branch is not None else branch_id


async def on_chart(msg: Member, services: Services) -> list[Reply]:
    """A chart button under /stats: that chart, if it is one of the reader's."""
    name = (msg.callback or "").partition(":")[2]
    if not access.holds(msg.person, access.BRANCH_STAFF):
        return [Reply("图表只给支部书记和党委领导查看。")]
    if name not in CHART_NAMES:
        return [Reply("这个按钮已经失效了,请重新发送 /stats。")]
    if name not in charts_for(msg.person):
        whose = "党委领导" if name in LEADER_CHARTS else "支部书记(本支部)"
        return [Reply(f"这个图表只给{whose}查看。")]
    return [await _chart(services, msg.person, name)]


FEATURE = Feature(
    commands=[
        SCORE,
        Command("review_quarter", review_quarter, access.BRANCH_STAFF),
        Command("stats", stats, access.BRANCH_STAFF),
    ],
    callbacks={ENTRY_PREFIX: on_press, STATS_PREFIX: on_chart},
)
