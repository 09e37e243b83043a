"""The periodic jobs: each is a rule call plus a render, and returns notices.

A job never sends: the runner queues its notices in the outbox together with the
ledger row, so a period runs once. A job with nothing real to say returns no notices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import render
from handlers.messages import Rows
from handlers.notify import Notice
from handlers.quarter_pack import build as build_pack
from handlers.rules import audience, ideas, projects, quarterly, rewards, scores, supervision
from handlers.rules.periods import Month
from handlers.services import Services
from scheduler.calendar import JOB_SPECS, JobSpec
from scheduler.calendar import period_of as period_of  # callers import it from here

JobFunction = Callable[[Services, datetime], Awaitable[list[Notice]]]


async def weekly_meeting(services: Services, at: datetime) -> list[Notice]:
    """Monday: those who attend the afternoon political-work meeting (the leaders and each
    department's supervisors), the agenda. Branch groups do not attend, so they get nothing."""
    return [
        Notice(copy.recipients, render.meeting_agenda(copy.sections, at, copy.pending))
        for copy in await supervision.meeting_agendas(services, at)
    ]


async def supervision_check(services: Services, at: datetime) -> list[Notice]:
    """Friday: each department, the branches not visited this week and the month's count."""
    notices = []
    for department in await supervision.department_visits(services, at):
        recipients = await audience.supervisors(services, department.department_id)
        if recipients and department.branches:
            notices.append(Notice(tuple(recipients), render.visit_check(department)))
    return notices


async def weekly_digest(services: Services, at: datetime) -> list[Notice]:
    """Sunday: each secretary, their branch's new ideas and those waiting for review;
    leaders, the ideas waiting longer than `review_overdue_days` for a first review."""
    notices = [
        Notice(week.recipients, render.weekly_digest(services, week))
        for week in await ideas.weekly_digests(services, at)
    ]
    overdue = await ideas.overdue_reviews(services, at)
    leaders = await audience.leaders(services)
    if overdue.count and leaders:
        notices.append(Notice(tuple(leaders), render.overdue_reviews(overdue, at)))
    return notices


async def quarterly_review(services: Services, at: datetime) -> list[Notice]:
    """A quarter's first day: about the quarter just ended, each branch group the review
    meeting; each secretary the branch's key projects with a report button each; each flagged
    branch's secretaries what to explain (作出检查); the leaders one overview."""
    quarter = quarterly.under_review(services.local(at))
    due = quarterly.due_text(services, quarter)
    found = await quarterly.dues(services, quarter)
    flagged = await quarterly.flags(services, quarter)
    notices = []
    for branch_due in found:
        branch = branch_due.branch
        groups = await audience.branch_groups(services, branch.id)
        if groups:
            notices.append(Notice(tuple(groups), render.quarterly_meeting(quarter, due)))
        secretaries = tuple(await audience.secretaries(services, branch.id))
        if not secretaries:
            continue
        # one message per secretary: the runner queues one notice per chat and run
        parts: list[str] = []
        buttons: Rows = ()
        if branch_due.projects:
            text, buttons = render.quarterly_report_request(quarter, due, branch_due.projects)
            parts.append(text)
        reasons = [f.reason for f in flagged if f.branch_id == branch.id]
        if reasons:
            parts.append(render.quarterly_explain(quarter, reasons))
        if parts:
            notices.append(Notice(secretaries, "\n\n".join(parts), buttons=buttons))
    leaders = await audience.leaders(services)
    if leaders:
        text = render.quarterly_overview(quarter, due, found, flagged)
        notices.append(Notice(tuple(leaders), text))
    return notices


async def quarter_reminder(services: Services, at: datetime) -> list[Notice]:
    """Before the reports' deadline: the secretaries of branches with reports missing; the
    last reminder also tells the leaders who has not reported."""
    due = await quarterly.reminder(services, at)
    if due is None:
        return []
    text_due = quarterly.due_text(services, due.quarter)
    notices = []
    for branch_due in due.missing:
        secretaries = await audience.secretaries(services, branch_due.branch.id)
        if secretaries:
            text = render.quarterly_reminder(due.quarter, text_due, branch_due)
            notices.append(Notice(tuple(secretaries), text))
    leaders = await audience.leaders(services)
    if due.last and leaders:
        text = render.quarterly_missing(due.quarter, text_due, due.missing)
        notices.append(Notice(tuple(leaders), text))
    return notices


async def reward_meeting(services: Services, at: datetime) -> list[Notice]:
    """First Thursday: leaders, every verified benefit not yet rewarded nor set aside, with
    proposals and recipients; what was verified since the last meeting is marked new."""
    since = await services.repos.job_runs.last_fire("reward_meeting", before=at)
    items = await rewards.reward_meeting_items(services, since or at - timedelta(days=35))
    text = render.reward_meeting(items)
    leaders = await audience.leaders(services)
    return [Notice(tuple(leaders), text)] if text and leaders else []


async def progress_nudge(services: Services, at: datetime) -> list[Notice]:
    """Thursday: project leads and secretaries whose project had no progress for a week."""
    return [
        Notice(nudge.recipients, render.progress_nudge(nudge))
        for nudge in await projects.progress_nudges(services, at)
    ]


async def monthly_scores(services: Services, at: datetime) -> list[Notice]:
    """The 1st: once last month is closed, each branch group its rank of N, total, parts,
    the leader's comment and change; leaders, the ranking with its chart."""
    month = str(Month.of(at).previous())
    if not await services.repos.scores.is_closed(month):
        return []  # a month still open may change: it is announced when it is closed
    found = await scores.month_scores(services, month)
    if not any(s.parts for s in found):
        return []  # nobody entered anything for that month: nothing to announce
    notices = []
    of = scores.ranked_count(found)
    settings = services.settings
    for branch_score in found:
        groups = await audience.branch_groups(services, branch_score.branch_id)
        if groups:
            text = render.monthly_score(
                month, branch_score, of, settings.project_weight, settings.part_weights
            )
            notices.append(Notice(tuple(groups), text))
    leaders = await audience.leaders(services)
    if leaders:
        text, image = await render.leaders_ranking(services, Month.of(at).previous(), found)
        notices.append(Notice(tuple(leaders), text, image))
    return notices


async def score_draft(services: Services, at: datetime) -> list[Notice]:
    """A few days before month end: each secretary, the branch's parts so far and what is
    missing, to check before the month is closed."""
    month = Month.of(at)
    if await services.repos.scores.is_closed(str(month)):
        return []  # closed early: the result itself follows, no draft to check
    notices = []
    for branch_score in await scores.month_scores(services, month):
        secretaries = await audience.secretaries(services, branch_score.branch_id)
        if secretaries:
            text = render.score_draft(str(month), branch_score)
            notices.append(Notice(tuple(secretaries), text))
    return notices


async def quarter_pack(services: Services, at: datetime) -> list[Notice]:
    """After the reports are due, before the review meeting: leaders, the meeting pack of the
    quarter under review (reports in and missing, who explains and why) with its chart and
    workbook."""
    leaders = await audience.leaders(services)
    if not leaders:
        return []
    quarter = quarterly.under_review(services.local(at))
    files = await build_pack(services, quarter)
    if files.pack.empty:
        return []  # nothing was due, scored, found nor verified: no meeting material
    chart = str(files.chart) if files.chart else None
    return [Notice(tuple(leaders), files.text, chart, document_path=str(files.workbook))]


@dataclass(frozen=True, slots=True)
class Job(JobSpec):
    run: JobFunction


_RUNS: dict[str, JobFunction] = {
    "weekly_meeting": weekly_meeting,
    "supervision_check": supervision_check,
    "monthly_scores": monthly_scores,
    "score_draft": score_draft,
    "quarterly_review": quarterly_review,
    "quarter_reminder": quarter_reminder,
    "quarter_pack": quarter_pack,
    "reward_meeting": reward_meeting,
    "weekly_digest": weekly_digest,
    "progress_nudge": progress_nudge,
}
JOBS = {
    name: Job(spec.name, spec.title, spec.period, _RUNS[name]) for name, spec in JOB_SPECS.items()
}
