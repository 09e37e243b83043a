"""The mines of a group deployment and the directory of which mine a chat belongs to.

`mines` and `chat_mines` are shared by every mine. The directory reads the mines' own
tables through the group scope ('*', read-only), so it needs no copy of them kept in step:
a bound group, a person's identity or WeCom account says the mine; `chat_mines` only holds
what a newcomer chose before registering.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from storage.port import GROUP_SCOPE, SqlDatabase
from storage.repos.times import to_db_time

__all__ = ["GROUP_SCOPE", "MineRepo"]


class MineRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def sync(self, mines: Iterable[tuple[str, str]]) -> None:
        """Mirror the configured (id, name) of each mine; mines no longer configured stay
        (their rows still name them)."""
        async with self._db.transaction():
            for mine_id, name in mines:
                await self._db.execute(
                    "INSERT INTO mines (id, name) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    (mine_id, name),
                )

    async def names(self) -> dict[str, str]:
        rows = await self._db.fetchall("SELECT id, name FROM mines ORDER BY position, id")
        return {str(r["id"]): str(r["name"]) for r in rows}

    async def chosen(self, channel: str, chat_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT mine FROM chat_mines WHERE channel = ? AND chat_id = ?", (channel, chat_id)
        )
        return str(row[0]) if row else None

    async def choose(self, channel: str, chat_id: str, mine: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO chat_mines (channel, chat_id, mine, since) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (channel, chat_id) DO UPDATE SET mine = excluded.mine,"
            " since = excluded.since",
            (channel, chat_id, mine, to_db_time(now)),
        )

    async def forget(self, channel: str, chat_id: str) -> None:
        await self._db.execute(
            "DELETE FROM chat_mines WHERE channel = ? AND chat_id = ?", (channel, chat_id)
        )

    async def known(self, channel: str, chat_id: str, sender_id: str) -> str | None:
        """The mine a chat belongs to by the mines' own rows: the group's binding, else the
        sender's identity or WeCom account; None when no mine knows it (a newcomer).
        Run on the group scope (`db.scoped(GROUP_SCOPE)`)."""
        row = await self._db.fetchone(
            "SELECT 1 AS rank, mine FROM group_bindings"
            " WHERE channel = ? AND chat_id = ? AND active = 1"
            " UNION ALL SELECT 2, mine FROM identities WHERE channel = ? AND external_id = ?"
            " UNION ALL SELECT 3, mine FROM people WHERE ? = 'wecom' AND wecom_userid = ?"
            " ORDER BY rank LIMIT 1",
            (channel, chat_id, channel, sender_id, channel, sender_id),
        )
        return str(row[1]) if row is not None else None
