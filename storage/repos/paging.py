"""Reading a whole table in id order, a chunk at a time, so memory does not grow with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from storage.port import SqlDatabase


async def by_id(db: SqlDatabase, sql: str, chunk: int) -> AsyncIterator[dict[str, Any]]:
    """Every row of `sql`, which ends in `WHERE <t>.id > ? ORDER BY <t>.id LIMIT ?` and selects
    `id`: the rows after the last id seen, `chunk` at a time, as dicts."""
    after = 0
    while True:
        rows = await db.fetchall(sql, (after, chunk))
        for r in rows:
            yield dict(r)
        if len(rows) < chunk:
            return
        after = int(rows[-1]["id"])
