"""The organisation: departments and branches, mirrored from the configuration."""

from __future__ import annotations

from collections.abc import Iterable

from storage.models import Branch, Department, DepartmentName
from storage.port import SqlDatabase


class OrgRepo:
    """Departments and branches, mirrored from the configuration."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def sync(self, departments: Iterable[Department], branches: Iterable[Branch]) -> None:
        """Upsert the configured organisation; rows no longer configured are kept for history."""
        async with self._db.transaction():
            await self._db.executemany(
                "INSERT INTO departments (id, name) VALUES (?, ?)"
                " ON CONFLICT(mine, id) DO UPDATE SET name = excluded.name",
                [(d.id, d.name) for d in departments],
            )
            await self._db.executemany(
                "INSERT INTO branches (id, name, department_id) VALUES (?, ?, ?)"
                " ON CONFLICT(mine, id) DO UPDATE SET name = excluded.name,"
                " department_id = excluded.department_id",
                [(b.id, b.name, b.department_id) for b in branches],
            )

    async def branch(self, branch_id: str) -> Branch | None:
        row = await self._db.fetchone(
            "SELECT id, name, department_id FROM branches WHERE id = ?", (branch_id,)
        )
        return Branch(row["id"], row["name"], row["department_id"]) if row else None

    async def branches(self) -> list[Branch]:
        rows = await self._db.fetchall("SELECT id, name, department_id FROM branches ORDER BY id")
        return [Branch(r["id"], r["name"], r["department_id"]) for r in rows]

    async def department_names(self) -> list[DepartmentName]:
        rows = await self._db.fetchall("SELECT id, name FROM departments ORDER BY position")
        return [DepartmentName(r["id"], r["name"]) for r in rows]

    async def department_ids(self) -> set[str]:
        rows = await self._db.fetchall("SELECT id FROM departments")
        return {r["id"] for r in rows}
