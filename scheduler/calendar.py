"""The periodic jobs by name: title and period, with no job code.

The configuration checks `schedule.<job>` names here, so it never loads the jobs
(and through them every feature module); `scheduler.jobs` pairs each spec with its function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.rules.periods import Month, Quarter


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    title: str
    period: str  # day | week | month | quarter


JOB_SPECS = {
    spec.name: spec
    for spec in (
        JobSpec("weekly_meeting", "周一政工例会提醒", "week"),
        JobSpec("supervision_check", "周五督导走访检查", "week"),
        JobSpec("monthly_scores", "月度百分考核通报", "month"),
        JobSpec("score_draft", "月度考核草稿核对", "month"),
        JobSpec("quarterly_review", "季度讲评会汇报通知", "quarter"),
        JobSpec("quarter_reminder", "季度汇报催报", "day"),
        JobSpec("quarter_pack", "季度讲评会材料", "quarter"),
        JobSpec("reward_meeting", "首个周四安全办公会奖励", "month"),
        JobSpec("weekly_digest", "周日金点子周报", "week"),
        JobSpec("progress_nudge", "周四项目进展提醒", "week"),
    )
}


def period_of(job: JobSpec, local: datetime) -> str:
    """The period a run at `local` time belongs to: day, ISO week, month or quarter."""
    if job.period == "day":
        return f"{local:%Y-%m-%d}"
    if job.period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if job.period == "month":
        return str(Month.of(local))
    return str(Quarter.of(local))
