"""Monthly branch scores and closed months."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.models import ScorePart
from storage.port import SqlDatabase
from storage.repos.times import from_db_time, to_db_time


class ScoreRepo:
    """Score entries by branch, month and part; the latest entry of each part counts."""

    def __init__(self, db: SqlDatabase) -> None:
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
        return (await self.latest([month])).get(month, {})

    async def latest(self, months: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
        """Month → branch id → part → latest value, for the given months (one query)."""
        if not months:
            return {}
        rows = await self._db.fetchall(
            "SELECT month, branch_id, part, value FROM score_entries WHERE id IN"
            " (SELECT max(id) FROM score_entries"
            f" WHERE month IN ({','.join('?' * len(months))}) GROUP BY month, branch_id, part)",
            list(months),
        )
        found: dict[str, dict[str, dict[str, float]]] = {}
        for r in (ScorePart(r[0], r[1], r[2], float(r[3])) for r in rows):
            found.setdefault(r.month, {}).setdefault(r.branch_id, {})[r.part] = r.value
        return found

    async def notes(self, month: str, part: str) -> dict[str, str]:
        """Branch id → the text of the latest entry of `part` for the month, where not empty."""
        rows = await self._db.fetchall(
            "SELECT branch_id, text FROM score_entries WHERE id IN"
            " (SELECT max(id) FROM score_entries WHERE month = ? AND part = ? GROUP BY branch_id)",
            (month, part),
        )
        return {r[0]: r[1] for r in rows if r[1]}

    async def entered_by(self, month: str) -> dict[tuple[str, str], tuple[str, datetime]]:
        """(branch id, part) → (the name of who entered the latest value, when), for the
        month: the ledger's answer to "who entered what"."""
        rows = await self._db.fetchall(
            "SELECT e.branch_id, e.part, coalesce(p.name, ''), e.created_at FROM score_entries e"
            " LEFT JOIN people p ON p.id = e.person_id WHERE e.id IN"
            " (SELECT max(id) FROM score_entries WHERE month = ? GROUP BY branch_id, part)",
            (month,),
        )
        return {(r[0], r[1]): (r[2], from_db_time(r[3])) for r in rows}

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

    async def reopen(self, month: str, reason: str, person_id: int, now: datetime) -> bool:
        """Open a closed month again, recording why; False when it was not closed."""
        if not await self._db.execute("DELETE FROM closed_months WHERE month = ?", (month,)):
            return False
        await self._db.insert(
            "INSERT INTO score_reopenings (month, reason, person_id, reopened_at)"
            " VALUES (?, ?, ?, ?)",
            (month, reason, person_id, to_db_time(now)),
        )
        return True

    async def last_reopening(self, month: str) -> tuple[str, datetime] | None:
        """(reason, when) of the month's latest reopening."""
        row = await self._db.fetchone(
            "SELECT reason, reopened_at FROM score_reopenings WHERE month = ?"
            " ORDER BY id DESC LIMIT 1",
            (month,),
        )
        return None if row is None else (row[0], from_db_time(row[1]))

    async def changed_since(
        self, month: str, moment: datetime
    ) -> list[tuple[str, str, float | None, float]]:
        """(branch id, part, value before `moment` or None, latest value) of every part
        entered again after `moment`, where the value differs."""
        rows = await self._db.fetchall(
            "SELECT branch_id, part, value, created_at >= ? FROM score_entries"
            " WHERE month = ? ORDER BY id",
            (to_db_time(moment), month),
        )
        before: dict[tuple[str, str], float] = {}
        after: dict[tuple[str, str], float] = {}
        for branch_id, part, value, later in rows:
            (after if later else before)[(branch_id, part)] = float(value)
        return [
            (key[0], key[1], before.get(key), value)
            for key, value in after.items()
            if before.get(key) != value
        ]
