"""The periodic jobs: each asks the same services a chat command would and returns notices.

A job never sends: the runner queues its notices in the outbox together with the
ledger row, so a period runs once. A job with nothing real to say returns no notices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.ideas import STATUS_LABELS
from handlers.notify import Notice, Recipient
from handlers.projects import reward_meeting_list, stale_projects
from handlers.scores import (
    month_scores,
    previous_month,
    quarter_material,
    ranking_image,
    render,
)
from handlers.services import Services
from handlers.supervision import build_agenda, render_agenda

JobFunction = Callable[[Services, datetime], Awaitable[list[Notice]]]


async def _groups(services: Services, branch_id: str) -> list[Recipient]:
    return [(g.channel, g.chat_id) for g in await services.repos.groups.for_branch(branch_id)]


async def weekly_meeting(services: Services, at: datetime) -> list[Notice]:
    """Monday: each bound branch group, the afternoon meeting and its open findings;
    supervisors and leaders, the agenda."""
    repos = services.repos
    notices = []
    day = at.strftime("%m月%d日")
    for branch in await repos.org.branches():
        groups = await _groups(services, branch.id)
        if not groups:
            continue
        open_findings = await repos.findings.search(branches=[branch.id])
        lines = [f"📅 今天({day})下午召开政工例会。"]
        if open_findings:
            lines.append(f"{branch.name}尚未解决的督导问题:")
            lines += [f"  #{f.id} {f.text[:40]}" for f in open_findings]
            lines.append("请支部书记跟进,解决后发送 /findings resolve 编号 说明。")
        else:
            lines.append(f"{branch.name}目前没有未解决的督导问题。")
        notices.append(Notice(tuple(groups), "\n".join(lines)))
    agenda = render_agenda(services, await build_agenda(services, at))
    staff = [
        *await repos.people.identities_with_role("supervisor"),
        *await repos.people.identities_with_role("leader"),
    ]
    if staff:
        notices.append(
            Notice(tuple(dict.fromkeys(staff)), f"📅 今天({day})下午政工例会。\n{agenda}")
        )
    return notices


async def supervision_check(services: Services, at: datetime) -> list[Notice]:
    """Friday: each department, the branches not visited this week and the month's count."""
    repos = services.repos
    week_start = (at - timedelta(days=at.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    this_week = await repos.visits.since(week_start)
    month = at.strftime("%Y-%m")
    counts = await repos.visits.counts(month)
    target = services.settings.visits_per_month
    notices = []
    for department, name in await repos.org.department_names():
        recipients = await repos.people.identities_with_role("supervisor", department_id=department)
        branches = [b for b in await repos.org.branches() if b.department_id == department]
        if not recipients or not branches:
            continue
        missing = [b.name for b in branches if not this_week.get(b.id)]
        lines = [f"🔎 {name}本周督导走访:"]
        lines.append(
            "本周还没有走访:" + "、".join(missing) if missing else "本周每个支部都走访过了。"
        )
        lines.append(f"{month} 走访次数(目标每支部 {target} 次):")
        lines += [f"  {b.name} {counts.get(b.id, 0)}/{target}" for b in branches]
        notices.append(Notice(tuple(recipients), "\n".join(lines)))
    return notices


async def weekly_digest(services: Services, at: datetime) -> list[Notice]:
    """Sunday: each secretary, their branch's new ideas and those waiting for review."""
    repos = services.repos
    since = at - timedelta(days=7)
    notices = []
    for branch in await repos.org.branches():
        recipients = await repos.people.identities_with_role("secretary", branch_id=branch.id)
        if not recipients:
            continue
        new = await repos.ideas.for_branch(branch.id, since=since)
        waiting = await repos.ideas.for_branch(branch.id, status="submitted")
        lines = [f"💡 {branch.name}本周金点子:新提交 {len(new)} 条,待审核 {len(waiting)} 条。"]
        for idea in new[:15]:
            label = services.category_label(idea.category)
            status = STATUS_LABELS.get(idea.status, idea.status)
            lines.append(f"  #{idea.id} {label} · {status} · {idea.text[:30]}")
        if len(new) > 15:
            lines.append(f"  ……另有 {len(new) - 15} 条")
        notices.append(Notice(tuple(recipients), "\n".join(lines)))
    return notices


async def quarterly_review(services: Services, at: datetime) -> list[Notice]:
    """First Monday of a quarter: the review meeting notice to each branch group, and each
    secretary the projects to report on with their last progress."""
    repos = services.repos
    quarter = (at.month - 1) // 3 + 1
    previous = (at.year, quarter - 1) if quarter > 1 else (at.year - 1, 4)
    material = await quarter_material(services, *previous)
    text = (
        f"📊 {at.year} 年第 {quarter} 季度重点项目评审会将在本月上旬召开,"
        "请各支部书记准备汇报本支部重点项目的进展和效益。"
    )
    notices = []
    for branch in await repos.org.branches():
        groups = await _groups(services, branch.id)
        if groups:
            notices.append(Notice(tuple(groups), text))
        secretaries = await repos.people.identities_with_role("secretary", branch_id=branch.id)
        if secretaries:
            item = material[branch.id]
            lines = (
                [text, "要汇报的项目:", *(f"  {p}" for p in item.projects)]
                if item.projects
                else [text, "本支部目前没有重点项目。"]
            )
            notices.append(Notice(tuple(secretaries), "\n".join(lines)))
    return notices


async def reward_meeting(services: Services, at: datetime) -> list[Notice]:
    """First Thursday: leaders, the projects verified since the last meeting and proposals."""
    since = await services.repos.job_runs.last_fire("reward_meeting", before=at)
    text = await reward_meeting_list(services, since or at - timedelta(days=35))
    leaders = await services.repos.people.identities_with_role("leader")
    return [Notice(tuple(leaders), text)] if text and leaders else []


async def progress_nudge(services: Services, at: datetime) -> list[Notice]:
    """Thursday: project leads and secretaries whose project had no progress for 7 days."""
    notices = []
    for project in await stale_projects(services, at):
        recipients = list(await services.repos.people.identities_of(project.lead_id))
        for branch in project.branches:
            recipients += await services.repos.people.identities_with_role(
                "secretary", branch_id=branch
            )
        if recipients:
            notices.append(
                Notice(
                    tuple(dict.fromkeys(recipients)),
                    f"⏰ 重点项目 {project.number}「{project.title}」已经 7 天没有报告"
                    f"进展了。请发送 /progress {project.number} [百分比] 进展。",
                )
            )
    return notices


async def monthly_scores(services: Services, at: datetime) -> list[Notice]:
    """The 1st: each branch group, last month's total, parts, rank and change; leaders, the
    ranking with its chart."""
    month = previous_month(at.strftime("%Y-%m"))
    scores = await month_scores(services, month)
    if not any(s.parts for s in scores):
        return []  # nobody entered anything for that month: nothing to announce
    notices = []
    for branch_score in scores:
        groups = await _groups(services, branch_score.branch_id)
        if groups:
            notices.append(Notice(tuple(groups), f"📈 {month} 月度考核:{render(branch_score)}"))
    leaders = await services.repos.people.identities_with_role("leader")
    if leaders:
        image = await ranking_image(services, month, scores)
        text = f"📈 {month} 支部月度考核排名:\n" + "\n".join(render(s) for s in scores)
        notices.append(Notice(tuple(leaders), text, image))
    return notices


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    title: str
    period: str  # week | month | quarter
    run: JobFunction


JOBS = {
    job.name: job
    for job in (
        Job("weekly_meeting", "周一政工例会提醒", "week", weekly_meeting),
        Job("supervision_check", "周五督导走访检查", "week", supervision_check),
        Job("monthly_scores", "月度百分考核通报", "month", monthly_scores),
        Job("quarterly_review", "季度重点项目评审", "quarter", quarterly_review),
        Job("reward_meeting", "首个周四安全办公会奖励", "month", reward_meeting),
        Job("weekly_digest", "周日金点子周报", "week", weekly_digest),
        Job("progress_nudge", "周四项目进展提醒", "week", progress_nudge),
    )
}


def period_of(job: Job, local: datetime) -> str:
    """The period a run at `local` time belongs to: ISO week, month or quarter."""
    if job.period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if job.period == "month":
        return local.strftime("%Y-%m")
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
