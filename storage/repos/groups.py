"""Group chats bound to branches."""

from __future__ import annotations

from datetime import datetime

from storage.models import GroupBinding
from storage.port import SqlDatabase
from storage.repos.times import to_db_time


class GroupRepo:
    """Group chats bound to branches for notices."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def bind(
        self, channel: str, chat_id: str, branch_id: str, person_id: int | None, now: datetime
    ) -> None:
        stamp = to_db_time(now)
        await self._db.execute(
            "INSERT INTO group_bindings (channel, chat_id, branch_id, active, bound_by, bound_at,"
            " updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)"
            " ON CONFLICT(mine, channel, chat_id) DO UPDATE"
            " SET branch_id = excluded.branch_id, active = 1, bound_by = excluded.bound_by,"
            " bound_at = excluded.bound_at, updated_at = excluded.updated_at",
            (channel, chat_id, branch_id, person_id, stamp, stamp),
        )

    async def get(self, channel: str, chat_id: str) -> GroupBinding | None:
        row = await self._db.fetchone(
            "SELECT channel, chat_id, branch_id, active FROM group_bindings"
            " WHERE channel = ? AND chat_id = ?",
            (channel, chat_id),
        )
        return GroupBinding(row[0], row[1], row[2], bool(row[3])) if row else None

    async def deactivate(self, channel: str, chat_id: str, now: datetime) -> bool:
        count = await self._db.execute(
            "UPDATE group_bindings SET active = 0, updated_at = ?"
            " WHERE channel = ? AND chat_id = ? AND active = 1",
            (to_db_time(now), channel, chat_id),
        )
        return count > 0

    async def reactivate(self, channel: str, chat_id: str, now: datetime) -> bool:
        """The bot is back in a group that was bound before; False if it never was."""
        count = await self._db.execute(
            "UPDATE group_bindings SET active = 1, updated_at = ?"
            " WHERE channel = ? AND chat_id = ?",
            (to_db_time(now), channel, chat_id),
        )
        return count > 0

    async def migrate(
        self, channel: str, old_chat_id: str, new_chat_id: str, now: datetime
    ) -> bool:
        """Keep a binding when a group becomes a supergroup with a new id (a binding the new
        id already had gives way to it)."""
        # What SQLite's UPDATE OR REPLACE did, in two statements PostgreSQL runs too.
        async with self._db.transaction():
            await self._db.execute(
                "DELETE FROM group_bindings WHERE channel = ? AND chat_id = ? AND chat_id <> ?"
                " AND EXISTS (SELECT 1 FROM group_bindings WHERE channel = ? AND chat_id = ?)",
                (channel, new_chat_id, old_chat_id, channel, old_chat_id),
            )
            count = await self._db.execute(
                "UPDATE group_bindings SET chat_id = ?, updated_at = ?"
                " WHERE channel = ? AND chat_id = ?",
                (new_chat_id, to_db_time(now), channel, old_chat_id),
            )
        return count > 0

    async def for_branch(self, branch_id: str) -> list[GroupBinding]:
        rows = await self._db.fetchall(
            "SELECT channel, chat_id, branch_id, active FROM group_bindings"
            " WHERE branch_id = ? AND active = 1 ORDER BY channel, chat_id",
            (branch_id,),
        )
        return [GroupBinding(r[0], r[1], r[2], True) for r in rows]
