"""The quarterly review's reports per key project and branch, and the leaders' comments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.models import QuarterComment, QuarterReport
from storage.port import SqlDatabase
from storage.repos.times import from_db_time, to_db_time


class QuarterRepo:
    """One report per (quarter, project, branch): a resubmission replaces the text and keeps
    the comments already made."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def save_report(
        self,
        *,
        quarter: str,
        project_id: int,
        branch_id: str,
        progress: str,
        problems: str,
        next_steps: str,
        person_id: int,
        now: datetime,
    ) -> int:
        """The report's id, whether new or replacing the branch's earlier one."""
        async with self._db.transaction():
            await self._db.execute(
                "INSERT INTO quarter_reports (quarter, project_id, branch_id, progress, problems,"
                " next_steps, person_id, reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (mine, quarter, project_id, branch_id) DO UPDATE SET"
                " progress = excluded.progress, problems = excluded.problems,"
                " next_steps = excluded.next_steps, person_id = excluded.person_id,"
                " reported_at = excluded.reported_at",
                (
                    quarter,
                    project_id,
                    branch_id,
                    progress,
                    problems,
                    next_steps,
                    person_id,
                    to_db_time(now),
                ),
            )
            row = await self._db.fetchone(
                "SELECT id FROM quarter_reports WHERE quarter = ? AND project_id = ?"
                " AND branch_id = ?",
                (quarter, project_id, branch_id),
            )
        assert row is not None
        return int(row[0])

    async def report(self, report_id: int) -> QuarterReport | None:
        found = await self._select("r.id = ?", (report_id,))
        return found[0] if found else None

    async def reports(self, quarter: str, branch_id: str | None = None) -> list[QuarterReport]:
        """The quarter's reports (of one branch, or all), by branch and project."""
        if branch_id is None:
            return await self._select("r.quarter = ?", (quarter,))
        return await self._select("r.quarter = ? AND r.branch_id = ?", (quarter, branch_id))

    async def add_comment(self, report_id: int, person_id: int, text: str, now: datetime) -> int:
        return await self._db.insert(
            "INSERT INTO quarter_comments (report_id, person_id, text, created_at)"
            " VALUES (?, ?, ?, ?)",
            (report_id, person_id, text, to_db_time(now)),
        )

    async def progress_as_of(self, moment: datetime) -> dict[int, tuple[datetime, int | None]]:
        """Project id → (time, percent) of its latest progress report before `moment`."""
        rows = await self._db.fetchall(
            "SELECT project_id, created_at, percent FROM project_progress WHERE id IN"
            " (SELECT max(id) FROM project_progress WHERE created_at < ? GROUP BY project_id)",
            (to_db_time(moment),),
        )
        return {
            int(r[0]): (from_db_time(r[1]), int(r[2]) if r[2] is not None else None) for r in rows
        }

    async def _select(self, where: str, params: Sequence[Any]) -> list[QuarterReport]:
        rows = await self._db.fetchall(
            "SELECT r.*, p.name AS person_name FROM quarter_reports r"
            f" JOIN people p ON p.id = r.person_id WHERE {where}"
            " ORDER BY r.branch_id, r.project_id",
            tuple(params),
        )
        if not rows:
            return []
        ids = [int(r["id"]) for r in rows]
        comment_rows = await self._db.fetchall(
            "SELECT c.*, p.name AS person_name FROM quarter_comments c"
            " JOIN people p ON p.id = c.person_id"
            f" WHERE c.report_id IN ({','.join('?' * len(ids))}) ORDER BY c.id",
            ids,
        )
        comments: dict[int, list[QuarterComment]] = {}
        for c in comment_rows:
            comments.setdefault(int(c["report_id"]), []).append(
                QuarterComment(
                    id=c["id"],
                    report_id=c["report_id"],
                    person_id=c["person_id"],
                    person_name=c["person_name"],
                    text=c["text"],
                    created_at=from_db_time(c["created_at"]),
                )
            )
        return [
            QuarterReport(
                id=r["id"],
                quarter=r["quarter"],
                project_id=r["project_id"],
                branch_id=r["branch_id"],
                progress=r["progress"],
                problems=r["problems"],
                next_steps=r["next_steps"],
                person_id=r["person_id"],
                person_name=r["person_name"],
                reported_at=from_db_time(r["reported_at"]),
                comments=tuple(comments.get(int(r["id"]), ())),
            )
            for r in rows
        ]
