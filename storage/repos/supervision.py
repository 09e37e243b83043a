"""Supervision: findings with their history, and visits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from storage.models import Branch, Finding, FindingEvent
from storage.port import Row, SqlDatabase
from storage.repos.paging import by_id
from storage.repos.times import from_db_time, to_db_time


def _finding(row: Row) -> Finding:
    return Finding(
        id=row["id"],
        branch_id=row["branch_id"],
        department_id=row["department_id"],
        text=row["text"],
        status=row["status"],
        escalated=bool(row["escalated"]),
        project_ref=row["project_ref"],
        raised_by=row["raised_by"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
        decision=row["decision"],
        assigned_department=row["assigned_department"],
        decision_due=row["decision_due"],
    )


class FindingRepo:
    """Supervision findings and their history."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(
        self,
        *,
        branch: Branch,
        text: str,
        person_id: int,
        project_ref: str | None,
        now: datetime,
    ) -> Finding:
        stamp = to_db_time(now)
        row = await self._db.fetchone(
            "INSERT INTO findings (branch_id, department_id, text, project_ref, raised_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (branch.id, branch.department_id, text, project_ref, person_id, stamp, stamp),
        )
        assert row is not None
        await self.log(row["id"], person_id, "add", text, now)
        return _finding(row)

    async def get(self, finding_id: int) -> Finding | None:
        row = await self._db.fetchone("SELECT * FROM findings WHERE id = ?", (finding_id,))
        return _finding(row) if row else None

    async def change(
        self,
        finding_id: int,
        person_id: int,
        action: str,
        text: str,
        now: datetime,
        *,
        status: str | None = None,
        escalated: bool | None = None,
    ) -> int:
        """Record an action; status and the escalation flag change with it."""
        await self._db.execute(
            "UPDATE findings SET status = coalesce(?, status),"
            " escalated = coalesce(?, escalated), updated_at = ? WHERE id = ?",
            (status, None if escalated is None else int(escalated), to_db_time(now), finding_id),
        )
        return await self.log(finding_id, person_id, action, text, now)

    async def log(
        self, finding_id: int, person_id: int, action: str, text: str, now: datetime
    ) -> int:
        return await self._db.insert(
            "INSERT INTO finding_history (finding_id, person_id, action, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (finding_id, person_id, action, text, to_db_time(now)),
        )

    async def history(self, finding_id: int) -> list[FindingEvent]:
        rows = await self._db.fetchall(
            "SELECT h.action, h.text, p.name, h.created_at FROM finding_history h"
            " JOIN people p ON p.id = h.person_id WHERE h.finding_id = ? ORDER BY h.id",
            (finding_id,),
        )
        return [FindingEvent(r[0], r[1], r[2], from_db_time(r[3])) for r in rows]

    async def search(
        self,
        *,
        branches: Sequence[str] | None,
        include_resolved: bool = False,
        escalated_only: bool = False,
        limit: int = 50,
    ) -> list[Finding]:
        """Findings of the given branches (None: all), oldest first."""
        where = ["1 = 1"]
        params: list[Any] = []
        if branches is not None:
            if not branches:
                return []
            where.append(f"branch_id IN ({','.join('?' * len(branches))})")
            params.extend(branches)
        if not include_resolved:
            where.append("status = 'open'")
        if escalated_only:
            where.append("escalated = 1")
        rows = await self._db.fetchall(
            f"SELECT * FROM findings WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT ?",
            (*params, limit),
        )
        return [_finding(r) for r in rows]

    async def open_counts(self) -> dict[str, int]:
        """Branch id → its open findings."""
        rows = await self._db.fetchall(
            "SELECT branch_id, count(*) FROM findings WHERE status = 'open' GROUP BY branch_id"
        )
        return {r[0]: int(r[1]) for r in rows}

    async def opened_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[Finding, datetime | None]]:
        """Findings opened in [start, end), oldest first, each with when it was last resolved
        (None while it is open)."""
        rows = await self._db.fetchall(
            "SELECT f.*, (SELECT max(h.created_at) FROM finding_history h"
            "  WHERE h.finding_id = f.id AND h.action = 'resolve') AS resolved_at"
            " FROM findings f WHERE f.created_at >= ? AND f.created_at < ?"
            " ORDER BY f.branch_id, f.created_at, f.id",
            (to_db_time(start), to_db_time(end)),
        )
        return [
            (
                _finding(r),
                from_db_time(r["resolved_at"])
                if r["status"] == "resolved" and r["resolved_at"]
                else None,
            )
            for r in rows
        ]

    async def decide(
        self,
        finding_id: int,
        person_id: int,
        *,
        text: str,
        department_id: str,
        due: str,
        now: datetime,
    ) -> int:
        """Record the Monday meeting's decision (a later one replaces it) and log it."""
        await self._db.execute(
            "UPDATE findings SET decision = ?, assigned_department = ?, decision_due = ?,"
            " decided_by = ?, decided_at = ?, updated_at = ? WHERE id = ?",
            (text, department_id, due, person_id, to_db_time(now), to_db_time(now), finding_id),
        )
        return await self.log(finding_id, person_id, "decide", text, now)

    async def for_agenda(self, opened_before: datetime, today: str) -> list[Finding]:
        """Open findings not yet decided that are escalated or older than `opened_before`,
        and decided ones whose due day (YYYY-MM-DD) is before `today`."""
        rows = await self._db.fetchall(
            "SELECT * FROM findings WHERE status = 'open' AND ("
            " (decision IS NULL AND (escalated = 1 OR created_at < ?))"
            " OR (decision IS NOT NULL AND decision_due < ?))"
            " ORDER BY department_id, branch_id, created_at, id",
            (to_db_time(opened_before), today),
        )
        return [_finding(r) for r in rows]

    async def decided_open(self, today: str) -> list[Finding]:
        """Open findings the Monday meeting decided whose due day (YYYY-MM-DD) is not past."""
        rows = await self._db.fetchall(
            "SELECT * FROM findings WHERE status = 'open' AND decision IS NOT NULL"
            " AND decision_due >= ? ORDER BY decision_due, id",
            (today,),
        )
        return [_finding(r) for r in rows]

    async def ledger(self, *, chunk: int = 5000) -> AsyncIterator[dict[str, Any]]:
        """Every finding with its branch, departments and the time it was last resolved,
        oldest first (the 台账), read in chunks by id."""
        sql = (
            "SELECT f.id, b.name AS branch, d.name AS department, f.text, f.status,"
            " f.escalated, f.decision, a.name AS assigned, f.decision_due, f.created_at,"
            # The last resolve step; a finding resolved without one (imported) shows the
            # time it last changed.
            " CASE WHEN f.status = 'resolved' THEN coalesce((SELECT max(h.created_at)"
            " FROM finding_history h WHERE h.finding_id = f.id AND h.action = 'resolve'),"
            " f.updated_at) END AS resolved_at"
            " FROM findings f JOIN branches b ON b.id = f.branch_id"
            " JOIN departments d ON d.id = f.department_id"
            " LEFT JOIN departments a ON a.id = f.assigned_department"
            " WHERE f.id > ? ORDER BY f.id LIMIT ?"
        )
        async for row in by_id(self._db, sql, chunk):
            yield row


class VisitRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(
        self, *, branch: Branch, person_id: int, note: str, now: datetime, local_month: str
    ) -> int:
        return await self._db.insert(
            "INSERT INTO visits (branch_id, department_id, person_id, note, visited_at,"
            " local_month) VALUES (?, ?, ?, ?, ?, ?)",
            (branch.id, branch.department_id, person_id, note, to_db_time(now), local_month),
        )

    async def since(self, moment: datetime) -> dict[str, int]:
        """Branch id → visits from `moment` on."""
        rows = await self._db.fetchall(
            "SELECT branch_id, count(*) FROM visits WHERE visited_at >= ? GROUP BY branch_id",
            (to_db_time(moment),),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def counts(self, local_month: str) -> dict[str, int]:
        """Branch id → visits in that month (the configured timezone's month)."""
        rows = await self._db.fetchall(
            "SELECT branch_id, count(*) FROM visits WHERE local_month = ? GROUP BY branch_id",
            (local_month,),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def by_department(self, local_months: Sequence[str]) -> dict[tuple[str, str], int]:
        """(branch id, department id) → visits in those months (the configured timezone's)."""
        if not local_months:
            return {}
        rows = await self._db.fetchall(
            "SELECT branch_id, department_id, count(*) FROM visits"
            f" WHERE local_month IN ({','.join('?' * len(local_months))})"
            " GROUP BY branch_id, department_id",
            tuple(local_months),
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    async def ledger(self, *, chunk: int = 5000) -> AsyncIterator[dict[str, Any]]:
        """Every visit with its branch, department and supervisor, oldest first, in chunks."""
        sql = (
            "SELECT v.id, v.visited_at, b.name AS branch, d.name AS department,"
            " p.name AS supervisor, v.note FROM visits v"
            " JOIN branches b ON b.id = v.branch_id"
            " JOIN departments d ON d.id = v.department_id"
            " JOIN people p ON p.id = v.person_id WHERE v.id > ? ORDER BY v.id LIMIT ?"
        )
        async for row in by_id(self._db, sql, chunk):
            yield row
