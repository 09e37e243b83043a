"""The storage port: what repositories may ask of a database, whichever engine is behind it.

Two adapters implement it: `storage.db.Database` (SQLite, the embedded default) and
`storage.pg.PgDatabase` (PostgreSQL, for a group of mines). Repositories are typed against
`SqlDatabase`, never against an adapter, and read rows through `Row`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal, Protocol

Params = Sequence[Any] | dict[str, Any]
Dialect = Literal["sqlite", "postgresql"]


class Row(Protocol):
    """A result row as `sqlite3.Row` behaves: indexed by position and by column name."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlReader(Protocol):
    """Reads that neither wait for nor hold up a writer; each sees the latest commit."""

    async def fetchone(self, sql: str, params: Params = ...) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ...) -> list[Row]: ...


GROUP_SCOPE = "*"
"""The scope that reads every mine's rows and may write none (the group office's reads,
the directory of which mine a chat belongs to)."""


class SqlDatabase(Protocol):
    """One database: statements, units of work (nested ones are savepoints), the schema.

    SQL uses `?` placeholders on both dialects; where dialects differ, a repository asks
    `dialect` which text to run.

    A database is seen as one mine (`mine`): its statements read and write that mine's
    rows only, and a new tenant row is that mine's without naming it. `scoped(other)` is
    the same database seen as another mine, sharing the task's transaction (`GROUP_SCOPE`:
    every mine, read only); SQLite serves one mine (its group scope is that mine) and
    refuses any other."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def mine(self) -> str: ...

    def scoped(self, mine: str) -> SqlDatabase: ...

    @property
    def reader(self) -> SqlReader: ...

    @property
    def single_writer(self) -> bool:
        """True when one write transaction at a time holds the whole database (SQLite), so
        that a long unit of work makes every other writer wait."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]: ...

    async def execute(self, sql: str, params: Params = ...) -> int: ...

    async def insert(self, sql: str, params: Params = ...) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    async def tally(self, table: str, key: str, count: str, counted: Iterable[str]) -> None:
        """Add one to `table`'s `count` in the row of each of `counted` (as often as listed),
        the rows keyed by (mine, `key`) and made at the first count.

        Inside a unit of work the counts are summed and written as its last statements,
        just before it commits, in the order of the values: a row every unit increments is
        then held only while a unit commits, not for the whole of it. A savepoint rolled
        back takes its counts with it; the unit's own reads do not see them. Outside a unit
        of work they are written at once."""
        ...

    async def fetchone(self, sql: str, params: Params = ...) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ...) -> list[Row]: ...

    async def schema_version(self) -> int: ...

    async def backup(self, target: Path | str) -> None: ...
