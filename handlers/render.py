"""What people read that is not one reply to one command: texts that chat replies and
scheduled notices share (a finding, the Monday agenda, a branch's monthly score, the ranking
chart) and the texts of the scheduled notices themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from handlers.messages import Button, Rows
from handlers.money import format_yuan
from handlers.rules import quarterly
from handlers.rules import scores as score_rules
from handlers.rules.charts_data import score_bars
from handlers.rules.ideas import DIGEST_SHOWN, BranchWeek, Overdue, status_label
from handlers.rules.periods import Month, Quarter
from handlers.rules.projects import Nudge
from handlers.rules.rewards import MeetingItem
from handlers.rules.scores import PART_LABELS, PARTS, BranchScore, Speed
from handlers.rules.supervision import AgendaDepartment, DepartmentVisits, PendingDecision
from handlers.services import Services
from storage import Finding, Project, QuarterReport, SpeedFigure


def age(finding: Finding, now: datetime) -> str:
    """How long the finding has been open, counted at `now` (a job's own clock, `--now`
    included; never the wall clock)."""
    days = (now - finding.created_at).days
    return "今天" if days <= 0 else f"{days} 天"


def finding_header(finding: Finding, names: dict[str, str], now: datetime) -> str:
    """The finding's number, branch, age and state, without its text."""
    status = "已解决" if finding.status == "resolved" else "未解决"
    flags = " · 待党委协调" if finding.escalated and finding.status == "open" else ""
    project = f" · 项目 {finding.project_ref}" if finding.project_ref else ""
    branch = names.get(finding.branch_id, finding.branch_id)
    return f"#{finding.id} {branch} · {age(finding, now)} · {status}{flags}{project}"


def finding_line(finding: Finding, names: dict[str, str], now: datetime) -> str:
    text = finding.text if len(finding.text) <= 30 else finding.text[:30] + "…"
    return f"{finding_header(finding, names, now)}\n    {text}"


def agenda(
    sections: Sequence[AgendaDepartment],
    now: datetime,
    pending: Sequence[PendingDecision] = (),
) -> str:
    """The agenda, then what earlier meetings decided that is still being done."""
    if not sections:
        lines = ["本周政工例会议程:没有需要党委协调或长期未解决的问题。"]
    else:
        lines = ["本周政工例会议程(需党委协调、长期未解决的问题):"]
        for section in sections:
            lines.append(f"【{section.name}】")
            for item in section.branches:
                lines.append(f"  {item.branch.name}")
                for finding in item.findings:
                    why = _agenda_why(finding, now)
                    lines.append(f"    #{finding.id} {finding.text[:40]}({why})")
    if pending:
        lines.append(f"已决定、正在办理({len(pending)} 项):")
        for decided in pending:
            finding = decided.finding
            lines.append(
                f"  #{finding.id} {decided.branch_name}:{finding.text[:30]} → "
                f"{decided.department_name},{finding.decision_due} 前完成"
            )
    if sections:
        lines.append("党委领导记录决定:/findings decide 编号 决定 | 责任部门 | 完成日期")
    return "\n".join(lines)


def _agenda_why(finding: Finding, now: datetime) -> str:
    if finding.decision is not None:  # on the agenda again: past its due day
        return f"逾期:例会决定「{finding.decision[:30]}」应于 {finding.decision_due} 前完成"
    return "待协调" if finding.escalated else f"已 {age(finding, now)}未解决"


def score_line(score: BranchScore) -> str:
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


async def ranking_image(services: Services, month: str, scores: list[BranchScore]) -> str | None:
    """The month's branch scores as a PNG (base and key-project parts stacked), drawn off the
    event loop; its path, or None for fewer than two scored branches (one bar compares
    nothing: the text says it)."""
    from handlers.charts import scores_chart  # matplotlib only once a chart is drawn (~0.7 s)

    path = await asyncio.to_thread(
        scores_chart,
        services.settings.chart_dir / f"ranking-{month}.png",
        score_bars(services, scores),
        f"{month} 支部月度考核",
        services.settings.project_weight,
    )
    return str(path) if path is not None else None


# -- scheduled notices -------------------------------------------------------------------


def meeting_day(at: datetime) -> str:
    return at.strftime("%m月%d日")


def meeting_agenda(
    sections: Sequence[AgendaDepartment],
    at: datetime,
    pending: Sequence[PendingDecision] = (),
) -> str:
    return f"📅 今天({meeting_day(at)})下午政工例会。\n{agenda(sections, at, pending)}"


def visit_check(department: DepartmentVisits) -> str:
    missing = [b.name for b in department.not_this_week]
    lines = [f"🔎 {department.name}本周督导走访:"]
    lines.append("本周还没有走访:" + "、".join(missing) if missing else "本周每个支部都走访过了。")
    lines.append(f"{department.month} 走访次数(目标每支部 {department.target} 次):")
    lines += [f"  {b.branch.name} {b.this_month}/{department.target}" for b in department.branches]
    return "\n".join(lines)


def weekly_digest(services: Services, week: BranchWeek) -> str:
    lines = [
        f"💡 {week.branch.name}本周金点子:新提交 {week.new_count} 条,待审核 {week.waiting} 条。"
    ]
    shown = week.new[:DIGEST_SHOWN]
    for idea in shown:
        label = services.category_label(idea.category)
        lines.append(f"  #{idea.id} {label} · {status_label(idea.status)} · {idea.text[:30]}")
    if week.new_count > len(shown):
        lines.append(f"  ……另有 {week.new_count - len(shown)} 条")
    return "\n".join(lines)


def quarterly_meeting(quarter: Quarter, due: str) -> str:
    """The branch groups' notice of the review meeting on `quarter` (the one just ended)."""
    month = quarter.next().months[0].number
    return (
        f"📊 {quarterly.label(quarter)}党群讲评会将于 {month} 月上旬召开。"
        f"请支部书记在 {due}汇报本支部重点项目的季度进展、存在问题和下一步安排。"
    )


REPORT_BUTTONS = 6
"""Report buttons under a secretary's request; more projects are reached through /quarter."""


def report_button(project: Project, quarter: Quarter) -> Button:
    return Button(f"汇报 {project.number}", f"{quarterly.BUTTON}:r:{project.id}:{quarter}")


def comment_button(report: QuarterReport, number: str) -> Button:
    return Button(f"点评 {number}", f"{quarterly.BUTTON}:c:{report.id}")


def project_progress(project: Project) -> str:
    percent = f"{project.last_percent}%" if project.last_percent is not None else "—"
    return f"{project.number} {project.title}:{percent} {project.last_progress or '未报告进展'}"


def quarterly_report_request(
    quarter: Quarter, due: str, projects: Sequence[Project]
) -> tuple[str, Rows]:
    """A secretary's request: the branch's key projects with their last progress, a report
    button each (up to REPORT_BUTTONS)."""
    head = f"📝 {quarterly.label(quarter)}讲评会汇报:请在 {due}逐个汇报本支部的重点项目"
    lines = [
        head + "(本季度进展、存在问题、下一步安排)。",
        *(f"  {project_progress(p)}" for p in projects),
    ]
    shown = projects[:REPORT_BUTTONS]
    if len(projects) > len(shown):
        lines.append("项目较多,其余的请发送 /quarter 汇报。")
    else:
        lines.append("点下面的按钮开始汇报,也可以发送 /quarter 查看。")
    return "\n".join(lines), tuple((report_button(p, quarter),) for p in shown)


def quarterly_explain(quarter: Quarter, reasons: Sequence[str]) -> str:
    lines = [f"⚠️ {quarterly.label(quarter)}讲评会上,本支部需要说明以下情况:"]
    lines += [f"  · {r}" for r in reasons]
    lines.append("请在讲评会上作出检查,说明原因和整改措施。")
    return "\n".join(lines)


def quarterly_overview(
    quarter: Quarter,
    due: str,
    found: Sequence[quarterly.BranchDue],
    flags: Sequence[quarterly.Flag],
) -> str:
    """The leaders' overview: reports due per branch, and who must explain."""
    owing = [d for d in found if d.projects]
    total = sum(len(d.projects) for d in owing)
    lines = [
        f"📊 {quarterly.label(quarter)}讲评会:{len(owing)} 个支部共需汇报 {total} 项重点项目"
        f"({due}):"
    ]
    lines += [f"  {d.branch.name}:{len(d.reports)}/{len(d.projects)} 已汇报" for d in owing] or [
        "  (没有需要汇报的重点项目)"
    ]
    if flags:
        lines.append("需在会上作出检查:")
        lines += [f"  {f.branch_name}:{f.reason}" for f in flags]
    return "\n".join(lines)


def quarterly_reminder(quarter: Quarter, due: str, due_branch: quarterly.BranchDue) -> str:
    listed = "、".join(f"{p.number} {p.title}" for p in due_branch.missing)
    return (
        f"⏰ 提醒:{quarterly.label(quarter)}讲评会汇报请在 {due}完成,"
        f"本支部还有 {len(due_branch.missing)} 项没有汇报:{listed}。请发送 /quarter 汇报。"
    )


def quarterly_missing(quarter: Quarter, due: str, missing: Sequence[quarterly.BranchDue]) -> str:
    lines = [f"⏰ {quarterly.label(quarter)}讲评会汇报 {due}截止,以下支部还没有交齐:"]
    lines += [f"  {d.branch.name}:缺 " + "、".join(p.number for p in d.missing) for d in missing]
    return "\n".join(lines)


def reward_meeting(items: Sequence[MeetingItem]) -> str | None:
    """Every verified benefit still waiting for its reward, each with its proposal and the
    proposed recipients."""
    if not items:
        return None
    lines = ["🏅 安全办公会(矿长特别奖励):待奖励的核实效益(奖励或不予奖励前每月都会列出)"]
    for item in items:
        offer = item.proposal
        new = (
            f"新核实 {format_yuan(item.newly_verified_fen)},"
            if item.newly_verified_fen
            else "此前已列,"
        )
        lines.append(
            f"  {item.project.number} {item.project.title}:{new}"
            f"待奖励 {format_yuan(offer.basis_fen)},"
            f"建议奖励 {format_yuan(offer.proposed_fen)}(按档累进,合 {offer.share:.0%})"
        )
        if item.shares:
            lines.append(
                "    建议分给:"
                + "、".join(f"{s.label} {format_yuan(s.amount_fen)}" for s in item.shares)
            )
        number = item.project.number
        lines.append(f"    确认:/reward {number};不予奖励:/reward {number} set-aside 原因")
    return "\n".join(lines)


def progress_nudge(nudge: Nudge) -> str:
    number = nudge.project.number
    return (
        f"⏰ 重点项目 {number}「{nudge.project.title}」已经 {nudge.days} 天没有报告"
        f"进展了。请发送 /progress {number} [百分比] 进展。"
    )


def _percent(weight: float) -> str:
    return f"{weight * 100:g}%"


def monthly_score(
    month: str,
    score: BranchScore,
    of: int,
    project_weight: float,
    part_weights: Sequence[tuple[str, float]],
) -> str:
    """One branch's closed month, a line per fact, short enough for a phone."""
    lines = [f"📈 {month} 月度考核结果(已结账)", score.name]
    if score.total is None or score.rank is None:
        missing = "、".join(PART_LABELS[p] for p in score.missing)
        lines.append(f"总分未算出(缺 {missing}),本月不参加排名。")
    else:
        change = ""
        if score.change is not None:
            change = f"(比上月 {'+' if score.change >= 0 else ''}{score.change:g})"
        lines.append(f"排名:第 {score.rank} 名 / 共 {of} 个支部")
        lines.append(f"总分 {score.total:g} 分{change}")
    if "base" in score.parts:
        lines.append(
            f"· 基础分 {score.parts['base']:g} 分,占总分 {_percent(1 - project_weight)}"
            "(支部日常工作)"
        )
    if score.project is not None:
        lines.append(
            f"· 重点项目 {score.project:g} 分,占总分 {_percent(project_weight)},由三项合成:"
        )
    else:
        lines.append(f"· 重点项目(占总分 {_percent(project_weight)})由三项合成:")
    lines += [
        f"  {PART_LABELS[part]} {score.parts[part]:g}(占项目部分 {_percent(weight)})"
        if part in score.parts
        else f"  {PART_LABELS[part]} 未录入(占项目部分 {_percent(weight)})"
        for part, weight in part_weights
    ]
    if score.comment:
        lines.append(f"领导点评:{score.comment}")
    return "\n".join(lines)


def score_draft(month: str, score: BranchScore) -> str:
    """What a secretary checks before the month closes: the parts so far and what is missing."""
    lines = [f"📝 {month} 月度考核草稿(还未结账),请核对本支部的分数:", score.name]
    lines += [
        f"· {PART_LABELS[p]} {score.parts[p]:g}"
        if p in score.parts
        else f"· {PART_LABELS[p]} 未录入"
        for p in PARTS
    ]
    if score.total is not None:
        lines.append(f"目前总分 {score.total:g} 分(重点项目部分 {score.project:g})。")
    else:
        lines.append(f"还缺:{'、'.join(PART_LABELS[p] for p in score.missing)},总分暂时算不出。")
    if score.comment:
        lines.append(f"领导点评:{score.comment}")
    lines.append("项目自评请发送 /score self 分数;其他分数有误请在结账前告诉党委。")
    return "\n".join(lines)


def monthly_ranking(month: str, scores: Sequence[BranchScore]) -> str:
    return f"📈 {month} 支部月度考核排名:\n" + "\n".join(score_line(s) for s in scores)


async def leaders_ranking(
    services: Services, month: Month, found: list[BranchScore]
) -> tuple[str, str | None]:
    """The leaders' copy of a closed month: the ranking, how fast the ideas of that month's
    year were reviewed and adopted so far, and the ranking chart; (text, image path)."""
    image = await ranking_image(services, str(month), found)
    since = datetime(month.year, 1, 1, tzinfo=services.settings.timezone)
    speed = await score_rules.speed(services, None, since)
    names = {s.branch_id: s.name for s in found}
    text = "\n".join(
        [monthly_ranking(str(month), found), *speed_lines(speed, names, per_branch=True)]
    )
    return text, image


def _days(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def speed_line(review: SpeedFigure | None, adopted: SpeedFigure | None) -> str:
    """'首次审核平均 2.3 天(中位数 1 天,共 42 条);采纳平均 9.5 天(中位数 8 天,共 7 条)'."""
    parts = []
    for label, figure in (("首次审核", review), ("采纳", adopted)):
        if figure is None:
            parts.append(f"{label}还没有记录")
        else:
            parts.append(
                f"{label}平均 {_days(figure.mean_days)} 天"
                f"(中位数 {_days(figure.median_days)} 天,共 {figure.ideas} 条)"
            )
    return ";".join(parts)


SPEED_BRANCHES_SHOWN = 5
"""Per-branch speed lines in a chat message: the slowest few (42 lines do not read on a phone)."""


def speed_lines(speed: Speed, names: dict[str, str], *, per_branch: bool) -> list[str]:
    """The speed together, and per branch (the slowest first review first, a few) when asked."""
    lines = ["用时:" + speed_line(speed.review, speed.adopted)]
    if per_branch and speed.by_branch:
        slowest = sorted(
            speed.by_branch.items(),
            key=lambda item: (-(item[1][0].mean_days if item[1][0] else -1), item[0]),
        )
        shown = slowest[:SPEED_BRANCHES_SHOWN]
        if len(slowest) > len(shown):
            lines.append(f"  审核最慢的 {len(shown)} 个支部:")
        lines += [f"  {names.get(b, b)}:{speed_line(r, a)}" for b, (r, a) in shown]
        if len(slowest) > len(shown):
            lines.append(f"  其余 {len(slowest) - len(shown)} 个支部见台账的“金点子”表。")
    return lines


def overdue_reviews(overdue: Overdue, at: datetime) -> str:
    """'等待审核超过 7 天的金点子 5 条:#12 机掘一队 9 天、…', the oldest first."""
    names = overdue.branch_names
    shown = "、".join(
        f"#{w.id} {names.get(w.branch_id, w.branch_id)} {(at - w.created_at).days} 天"
        for w in overdue.oldest
    )
    more = overdue.count - len(overdue.oldest)
    return f"⏳ 等待审核超过 {overdue.days} 天的金点子 {overdue.count} 条:{shown}" + (
        f"……另有 {more} 条" if more > 0 else ""
    )
