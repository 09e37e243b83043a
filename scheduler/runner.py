"""Running jobs exactly once per period, catching up after downtime, and the APScheduler wiring.

APScheduler 3 keeps no history and skips a run missed by more than its grace time, so
the (job, period) ledger decides what ran; the scheduler only says when to look.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from handlers.notify import Notice, notify
from handlers.services import Services
from scheduler.jobs import JOBS, Job, period_of

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

WEEKDAYS = {
    "mon": "周一",
    "tue": "周二",
    "wed": "周三",
    "thu": "周四",
    "fri": "周五",
    "sat": "周六",
    "sun": "周日",
}
ORDINALS = {
    "1st": "第一个",
    "2nd": "第二个",
    "3rd": "第三个",
    "4th": "第四个",
    "5th": "第五个",
    "last": "最后一个",
}


@dataclass(frozen=True, slots=True)
class RunResult:
    job: str
    period: str
    skipped: bool
    notices: list[Notice]
    queued: int


def trigger(fields: Mapping[str, Any], tz: ZoneInfo) -> CronTrigger:
    return CronTrigger(timezone=tz, **dict(fields))


def next_fires(cron: CronTrigger, after: datetime, count: int) -> list[datetime]:
    fires: list[datetime] = []
    moment = after
    while len(fires) < count:
        fire = cron.get_next_fire_time(None, moment)
        if fire is None:
            break
        fires.append(fire)
        moment = fire + timedelta(seconds=1)
    return fires


def previous_fire(cron: CronTrigger, now: datetime) -> datetime | None:
    """The last scheduled time at or before `now` (looking back at most 100 days)."""
    moment, last = now - timedelta(days=100), None
    while (fire := cron.get_next_fire_time(None, moment)) is not None and fire <= now:
        last, moment = fire, fire + timedelta(seconds=1)
    return last


def local_label(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return (
        local.strftime("%Y-%m-%d ")
        + list(WEEKDAYS.values())[local.weekday()]
        + local.strftime(" %H:%M")
    )


def describe(fields: Mapping[str, Any]) -> str:
    """A trigger in words: 每周一 08:30, 每月第一个周四 07:30, 1、4、7、10 月 1 日 09:00."""
    parts = []
    month = fields.get("month")
    if month is not None:
        parts.append("、".join(str(month).split(",")) + " 月 ")
    day = str(fields.get("day", "")) if fields.get("day") is not None else ""
    weekday = fields.get("day_of_week")
    if day and " " in day:
        which, name = day.split(" ", 1)
        parts.append(
            ("" if month else "每月") + ORDINALS.get(which, which) + WEEKDAYS.get(name, name)
        )
    elif day:
        parts.append(("" if month else "每月 ") + "、".join(day.split(",")) + " 日")
    elif weekday is not None:
        parts.append("每" + "、".join(WEEKDAYS.get(d, d) for d in str(weekday).split(",")))
    else:
        parts.append("每天")
    hour, minute = fields.get("hour", 0), fields.get("minute", 0)
    return "".join(parts) + f" {int(hour):02d}:{int(minute):02d}"


async def collect(
    services: Services, name: str, at: datetime, jobs: Mapping[str, Job] = JOBS
) -> tuple[str, list[Notice]]:
    """The period and the notices of a run as if at `at`, without queueing anything."""
    job = jobs[name]
    local = services.local(at)
    return period_of(job, local), await job.run(services, local)


async def run_job(
    services: Services,
    name: str,
    at: datetime,
    *,
    force: bool = False,
    jobs: Mapping[str, Job] = JOBS,
) -> RunResult:
    """Queue the job's notices for its period once; a later run of the same period sends
    nothing unless `force`d. `jobs` is the table `name` is looked up in.

    The ledger row is the claim, taken first in the transaction that queues the notices: of
    two processes running the clock on one database, one queues the period's notices and
    the other finds the period taken and skips (waiting, if the first is still at it)."""
    repos = services.repos
    async with repos.db.transaction():
        period = period_of(jobs[name], services.local(at))
        if not force and not await repos.job_runs.claim(name, period, "done", at, services.now()):
            return RunResult(name, period, True, [], 0)
        _, notices = await collect(services, name, at, jobs)
        suffix = f":forced:{services.now().isoformat()}" if force else ""
        queued = 0
        for notice in notices:
            queued += await notify(
                services,
                notice.recipients,
                notice.text,
                key=f"job:{name}:{period}{suffix}",
                image_path=notice.image_path,
                buttons=notice.buttons,
                document_path=notice.document_path,
            )
        await repos.job_runs.record(name, period, "done", at, services.now(), queued)
    log.info("job %s for %s queued %d notices", name, period, queued)
    return RunResult(name, period, False, notices, queued)


async def catch_up(
    services: Services, schedule: Mapping[str, Mapping[str, Any]], grace: timedelta
) -> list[str]:
    """Run once what was due while the bot was down (within `grace`); report older misses.
    Each period is claimed as a run does, so of processes starting together one catches it
    up (or reports it)."""
    repos = services.repos
    now = services.now()
    async with repos.db.transaction():
        first_start = await repos.job_runs.first_start(now)
    done = []
    for name, fields in schedule.items():
        fire = previous_fire(trigger(fields, services.settings.timezone), now)
        if fire is None or fire < first_start:
            continue
        period = period_of(JOBS[name], services.local(fire))
        if await repos.job_runs.status(name, period) is not None:
            continue  # the claim decides; this only spares a transaction
        if now - fire <= grace:
            if not (await run_job(services, name, fire)).skipped:
                done.append(f"{name}:{period}:caught-up")
            continue
        async with repos.db.transaction():
            if not await repos.job_runs.claim(name, period, "missed", fire, now):
                continue
            when = services.local(fire).strftime("%Y-%m-%d %H:%M")
            await notify(
                services,
                await repos.people.admin_identities(),
                f"⚠️ 定时任务「{JOBS[name].title}」原定 {when} 运行,当时系统没有运行,"
                f"已超过补发时限({grace})。如需补发:jindianzi jobs run {name} --force",
                key=f"missed:{name}:{period}",
            )
        done.append(f"{name}:{period}:missed")
    return done


def build_scheduler(
    services: Services, schedule: Mapping[str, Mapping[str, Any]], grace: timedelta
) -> AsyncIOScheduler:
    """Jobs rebuilt from config at every start; the ledger keeps them to once per period."""
    # Imported here: `jobs list` and `jobs run` read triggers and need no scheduler.
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    tz = services.settings.timezone
    scheduler = AsyncIOScheduler(timezone=tz)
    for name, fields in schedule.items():
        scheduler.add_job(
            _scheduled,
            trigger(fields, tz),
            args=(services, name),
            id=name,
            name=name,
            misfire_grace_time=int(grace.total_seconds()),
            coalesce=True,
            max_instances=1,
        )
    return scheduler


async def _scheduled(services: Services, name: str) -> None:
    try:
        await run_job(services, name, services.now())
    except Exception:
        log.exception("scheduled job %s failed", name)
