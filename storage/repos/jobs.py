"""The ledger of scheduled runs."""

from __future__ import annotations

from datetime import datetime

from storage.models import JobRun
from storage.port import SqlDatabase
from storage.repos.times import from_db_time, to_db_time


class JobRunRepo:
    """The ledger of scheduled runs by (job, period)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def status(self, job: str, period: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT status FROM job_runs WHERE job = ? AND period = ?", (job, period)
        )
        return str(row[0]) if row else None

    async def claim(
        self, job: str, period: str, status: str, fire_time: datetime, now: datetime
    ) -> bool:
        """Take the (job, period) run for the caller's transaction; False if it is taken
        already: another run recorded it, or runs it now (a concurrent claim waits for that
        one's transaction and gets False when it commits). The notices are counted later
        by `record`. Call it first in the transaction that queues the run's notices."""
        row = await self._db.fetchone(
            "INSERT INTO job_runs (job, period, status, fire_time, ran_at, notices)"
            " VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (mine, job, period) DO NOTHING RETURNING job",
            (job, period, status, to_db_time(fire_time), to_db_time(now)),
        )
        return row is not None

    async def record(
        self,
        job: str,
        period: str,
        status: str,
        fire_time: datetime,
        now: datetime,
        notices: int,
    ) -> None:
        """Record a run, or add `notices` to the one recorded (a claimed or a forced run)."""
        await self._db.execute(
            "INSERT INTO job_runs (job, period, status, fire_time, ran_at, notices)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(mine, job, period) DO UPDATE SET"
            " status = excluded.status, ran_at = excluded.ran_at,"
            " notices = job_runs.notices + excluded.notices",
            (job, period, status, to_db_time(fire_time), to_db_time(now), notices),
        )

    async def last_fire(self, job: str, *, before: datetime) -> datetime | None:
        """The scheduled time of the job's latest run before `before`."""
        row = await self._db.fetchone(
            "SELECT max(fire_time) FROM job_runs WHERE job = ? AND status = 'done'"
            " AND fire_time < ?",
            (job, to_db_time(before)),
        )
        return from_db_time(row[0]) if row and row[0] else None

    async def first_start(self, now: datetime) -> datetime:
        """When the scheduler first ran on this database (recorded on the first call)."""
        await self._db.execute(
            "INSERT INTO job_runs (job, period, status, fire_time, ran_at) VALUES"
            " ('_scheduler', 'first_start', 'done', ?, ?) ON CONFLICT DO NOTHING",
            (to_db_time(now), to_db_time(now)),
        )
        row = await self._db.fetchone(
            "SELECT fire_time FROM job_runs WHERE job = '_scheduler' AND period = 'first_start'"
        )
        assert row is not None
        return from_db_time(row[0])

    async def latest(self) -> list[JobRun]:
        """Each job's latest recorded run: one row per job, the latest period among runs
        recorded at the same moment (a catch-up records a missed period and the current one
        together)."""
        rows = await self._db.fetchall(
            "SELECT job, period, status, ran_at, notices FROM job_runs r"
            " WHERE job != '_scheduler' AND period = (SELECT l.period FROM job_runs l"
            "  WHERE l.job = r.job ORDER BY l.ran_at DESC, l.period DESC LIMIT 1) ORDER BY job"
        )
        return [
            JobRun(r["job"], r["period"], r["status"], from_db_time(r["ran_at"]), int(r["notices"]))
            for r in rows
        ]
