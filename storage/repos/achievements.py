"""Achievements: methods, awards and patents recorded against projects and ideas."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.models import Achievement
from storage.port import SqlDatabase
from storage.repos.times import from_db_time, to_db_time


class AchievementRepo:
    """What the campaign yielded beyond money, oldest first."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(
        self,
        *,
        kind: str,
        title: str,
        note: str,
        project_id: int | None,
        idea_id: int | None,
        person_id: int,
        now: datetime,
    ) -> int:
        return await self._db.insert(
            "INSERT INTO achievements (kind, title, note, project_id, idea_id, person_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, title, note, project_id, idea_id, person_id, to_db_time(now)),
        )

    async def listed(
        self,
        *,
        kind: str | None = None,
        project_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Achievement]:
        """Achievements of one kind, of one project, recorded in [since, until) — each None:
        any."""
        where = []
        params: list[Any] = []
        if kind is not None:
            where.append("a.kind = ?")
            params.append(kind)
        if project_id is not None:
            where.append("a.project_id = ?")
            params.append(project_id)
        if since is not None:
            where.append("a.created_at >= ?")
            params.append(to_db_time(since))
        if until is not None:
            where.append("a.created_at < ?")
            params.append(to_db_time(until))
        # `1 = 1`, not SQLite's bare `1`: a PostgreSQL condition must be a boolean.
        return await self._select(" AND ".join(where) or "1 = 1", params)

    async def _select(self, where: str, params: Sequence[Any]) -> list[Achievement]:
        rows = await self._db.fetchall(
            "SELECT a.*, p.name AS person_name FROM achievements a"
            f" JOIN people p ON p.id = a.person_id WHERE {where} ORDER BY a.id",
            tuple(params),
        )
        return [
            Achievement(
                id=r["id"],
                kind=r["kind"],
                title=r["title"],
                note=r["note"],
                project_id=r["project_id"],
                idea_id=r["idea_id"],
                person_id=r["person_id"],
                person_name=r["person_name"],
                created_at=from_db_time(r["created_at"]),
            )
            for r in rows
        ]

    async def counts(self) -> dict[str, int]:
        """Kind → how many, over the whole campaign."""
        rows = await self._db.fetchall("SELECT kind, count(*) FROM achievements GROUP BY kind", ())
        return {str(r[0]): int(r[1]) for r in rows}
