"""Monthly branch scores and closed months."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database
from storage.repos.times import to_db_time


class ScoreRepo:
    """Score entries by branch, month and part; the latest entry of each part counts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enter(
        self,
        branch_id: str,
        month: str,
        part: str,
        value: float,
        text: str,
        person_id: int | None,
        now: datetime,
    ) -> int:
        return await self._db.insert(
            "INSERT INTO score_entries (branch_id, month, part, value, text, person_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (branch_id, month, part, value, text, person_id, to_db_time(now)),
        )

    async def month(self, month: str) -> dict[str, dict[str, float]]:
        """Branch id → part → latest value for the month."""
        rows = await self._db.fetchall(
            "SELECT branch_id, part, value FROM score_entries e WHERE month = ? AND id ="
            " (SELECT max(id) FROM score_entries WHERE branch_id = e.branch_id"
            "  AND month = e.month AND part = e.part)",
            (month,),
        )
        found: dict[str, dict[str, float]] = {}
        for r in rows:
            found.setdefault(r[0], {})[r[1]] = float(r[2])
        return found

    async def months(self) -> list[str]:
        rows = await self._db.fetchall("SELECT DISTINCT month FROM score_entries ORDER BY month")
        return [r[0] for r in rows]

    async def is_closed(self, month: str) -> bool:
        return (
            await self._db.fetchone("SELECT 1 FROM closed_months WHERE month = ?", (month,))
            is not None
        )

    async def close(self, month: str, person_id: int, now: datetime) -> bool:
        count = await self._db.execute(
            "INSERT INTO closed_months (month, closed_by, closed_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (month, person_id, to_db_time(now)),
        )
        return count > 0
