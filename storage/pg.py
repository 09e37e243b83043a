"""The PostgreSQL adapter of the storage port: a psycopg 3 connection pool.

It behaves as `storage.db.Database` does, so repositories keep one SQL text where the
dialects agree: `?` placeholders, rows indexed by position and by name, `insert()`
returning the new id, nested transactions as savepoints, the port's own errors.
Unlike SQLite, units of work run side by side (one pooled connection each) and several
processes may share the database: migrations take an advisory lock.
"""

from __future__ import annotations

import contextvars
import json
import re
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import psycopg
import psycopg.errors
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from storage.db import MigrationError, SchemaTooNew, read_migrations
from storage.errors import ConstraintViolation, Duplicate, StorageError
from storage.port import Params, Row
from storage.tallies import Tallies, adding, check_names

_RETURNING = re.compile(r"\breturning\b", re.IGNORECASE)
# Any constant shared by every jindianzi process: the key of the migration lock.
MIGRATION_LOCK = 0x6A696E64  # "jind"
_SCHEMA_VERSION = """CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)"""
SCHEMES = ("postgresql", "postgres")
DEFAULT_MINE = "main"
ALL_MINES = "*"
"""The group-level scope: it reads the rows of every mine and may write none."""
_SET_MINE = "SELECT set_config('jindianzi.mine', %s, true)"
_SET_SESSION_MINE = "SELECT set_config('jindianzi.mine', %s, false)"


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    """Return `url` if it names a PostgreSQL database, else raise StorageError saying why."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise StorageError(f"bad PostgreSQL URL {redact(url)!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise StorageError(f"bad PostgreSQL URL {redact(url)!r}: it must start with postgresql://")
    return url


class PgRow:
    """A row as `sqlite3.Row` behaves: by position, by column name (case-insensitive), keys()."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: list[str], index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._names = names
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str, /) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key.lower()]]
            except KeyError:
                raise IndexError("No item with that key") from None
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PgRow):
            return self._names == other._names and self._values == other._values
        return NotImplemented

    def __hash__(self) -> int:
        return hash((tuple(self._names), self._values))

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[PgRow]:
    names = [column.name for column in cursor.description or ()]
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name.lower(), position)  # the first of equal names, as sqlite3.Row

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(names, index, tuple(values))

    return make


@lru_cache(maxsize=4096)
def to_pyformat(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s`, and every literal `%` doubled.

    `?` inside quoted literals, quoted identifiers and comments stays as written; psycopg
    reads `%` everywhere in the text, so it is escaped everywhere."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == c:
                    if end + 1 < n and sql[end + 1] == c:  # a doubled quote stays inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _with_returning(sql: str) -> str:
    if _RETURNING.search(sql):
        return sql
    return sql.rstrip().rstrip(";") + " RETURNING id"


def migrations() -> list[tuple[int, str, str]]:
    """Every PostgreSQL migration as (version, file name, SQL), numbered 1, 2, 3 … strictly."""
    return read_migrations("postgresql")


@contextmanager
def _errors(url: str) -> Iterator[None]:
    """The port's errors for psycopg's, so that no caller sees the driver."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        raise Duplicate(str(exc).strip()) from exc
    except psycopg.IntegrityError as exc:
        raise ConstraintViolation(str(exc).strip()) from exc
    except PoolTimeout as exc:
        raise StorageError(f"no PostgreSQL connection to {redact(url)} in time: {exc}") from exc
    except psycopg.OperationalError as exc:
        raise StorageError(f"PostgreSQL at {redact(url)} failed: {str(exc).strip()}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"PostgreSQL refused a statement: {str(exc).strip()}") from exc


def check_mine(mine: str) -> str:
    """Return `mine` if it can name a scope (a mine's id, or '*'), else raise StorageError."""
    if not isinstance(mine, str) or not mine.strip() or mine != mine.strip():
        raise StorageError(f"bad mine id {mine!r}: a non-empty id without surrounding spaces")
    return mine


@dataclass(slots=True)
class _Tx:
    conn: psycopg.AsyncConnection[Any]
    mine: str | None = None
    """What `jindianzi.mine` is in this transaction now (None: not set on the connection)."""
    pipe: psycopg.AsyncPipeline | None = None
    """The transaction's pipeline: BEGIN, SAVEPOINT, RELEASE and scope changes wait in it
    and go with the next statement; each statement is synced, so its result or its error
    comes back at once (None: a statement alone, outside any transaction)."""
    tallies: Tallies | None = None
    """The transaction's counts by (mine, table, key, count), written just before it commits."""

    async def run(self, cur: psycopg.AsyncCursor[Any], sql: str, params: Params) -> None:
        """Run one statement on `cur` and have its outcome here: one round trip."""
        await cur.execute(to_pyformat(sql), params)
        if self.pipe is not None:
            await self.pipe.sync()


class PgReader:
    """Reads on the pool outside any transaction: each sees the latest commit."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._db._alone() as on:
            return await self._db._fetchone(on, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._db._alone() as on:
            return await self._db._fetchall(on, sql, params)


class PgDatabase:
    """A pool of PostgreSQL connections behind the storage port, seen as one mine.

    A task's `transaction()` holds one pooled connection, and every statement inside it
    runs there, in psycopg's pipeline mode; a nested `transaction()` is a savepoint. A
    statement outside any transaction runs alone, in autocommit (its own transaction).

    Every statement runs with `jindianzi.mine` set to this view's `mine`, so row-level
    security shows it that mine's rows only and stamps new rows with it. `scoped(mine)` is
    another view on the same pool and the same transactions: a unit of work begun through
    one view may go on through another (its statements then run as the other mine)."""

    dialect: Literal["postgresql"] = "postgresql"
    single_writer: bool = False
    """Transactions write side by side (row locks): a store need not wait for another's unit."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        url: str,
        *,
        mine: str = DEFAULT_MINE,
        tx: contextvars.ContextVar[_Tx | None] | None = None,
        sessions: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], str] | None = None,
    ) -> None:
        self._pool = pool
        self.url = url
        self.mine = check_mine(mine)
        self.reader = PgReader(self)
        self._tx: contextvars.ContextVar[_Tx | None] = tx or contextvars.ContextVar(
            f"pg_tx_{id(self)}", default=None
        )
        # What each pooled connection's session has `jindianzi.mine` set to (shared by the
        # views of one pool): a statement alone runs on it in autocommit, one round trip,
        # and sets the session's mine only when the last one used another.
        self._sessions: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], str] = (
            weakref.WeakKeyDictionary() if sessions is None else sessions
        )

    def scoped(self, mine: str) -> PgDatabase:
        """This database seen as `mine` ('*': every mine, read only), sharing the pool and
        the task's transaction."""
        if mine == self.mine:
            return self
        return PgDatabase(
            self._pool, self.url, mine=check_mine(mine), tx=self._tx, sessions=self._sessions
        )

    async def enforces_tenancy(self) -> bool:
        """Whether row-level security binds the connected role: not for a superuser or a
        role with BYPASSRLS, which see and write every mine's rows whatever the scope."""
        row = await self.fetchone(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        return row is not None and not row[0]

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout_s: float = 10.0,
        mine: str = DEFAULT_MINE,
    ) -> AsyncIterator[PgDatabase]:
        """Connect, migrate (once, whoever else starts at the same time) and pool; the
        database is seen as `mine` (`scoped` gives views of the others)."""
        check_url(url)
        with _errors(url):
            try:
                conn = await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=max(1, round(connect_timeout_s))
                )
            except psycopg.Error as exc:
                raise StorageError(
                    f"cannot connect to PostgreSQL at {redact(url)}: {str(exc).strip()}"
                ) from exc
            try:
                await _migrate(conn)
            finally:
                await conn.close()
            pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True},
                timeout=connect_timeout_s,
                open=False,
            )
            await pool.open(wait=True, timeout=connect_timeout_s)
        try:
            yield cls(pool, url, mine=mine)
        finally:
            await pool.close()

    async def dedicated(self, timeout_s: float = 5.0) -> psycopg.AsyncConnection[Any]:
        """A connection of its own, outside the pool, in autocommit; the caller closes it.

        For session state that must live exactly as long as one connection (an advisory
        lock held as a lease): the server drops it when the connection goes, whoever dies."""
        try:
            return await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(timeout_s))
            )
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to PostgreSQL at {redact(self.url)}: {str(exc).strip()}"
            ) from exc

    @asynccontextmanager
    async def _pooled(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        with _errors(self.url):
            async with self._pool.connection() as conn:
                yield conn

    async def _enter_scope(self, tx: _Tx) -> None:
        """Make the transaction's `jindianzi.mine` this view's mine (only when the last
        statement of the transaction ran as another mine; it waits in the pipeline and goes
        with the next statement)."""
        if tx.mine != self.mine:
            with _errors(self.url):
                await tx.conn.execute(_SET_MINE, (self.mine,))
            tx.mine = self.mine

    async def _session_scope(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Set the (autocommit, idle) connection's session to this view's mine, unless it is.

        The setting outlives the statement on purpose: the connection keeps it in the pool,
        and whoever takes it next compares before running anything."""
        if self._sessions.get(conn) != self.mine:
            with _errors(self.url):
                await conn.execute(_SET_SESSION_MINE, (self.mine,))
            self._sessions[conn] = self.mine

    @asynccontextmanager
    async def _alone(self) -> AsyncIterator[_Tx]:
        """A pooled connection whose session is set to this view's mine, in autocommit: one
        statement is its own transaction and costs one round trip."""
        async with self._pooled() as conn:
            await self._session_scope(conn)
            yield _Tx(conn, self.mine)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Tx]:
        """The task's transaction (set to this view's mine), or a statement's own
        connection."""
        tx = self._tx.get()
        if tx is not None:
            await self._enter_scope(tx)
            yield tx
            return
        async with self._alone() as on:
            yield on

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A unit of work: everything inside commits together or not at all.

        Nested in another one (same task), it is a savepoint: an exception rolls back
        what it did and nothing else, and its work commits when the outer one does."""
        tx = self._tx.get()
        if tx is not None:
            before = tx.mine
            tallies = tx.tallies
            assert tallies is not None
            tallies.begin()
            try:
                async with tx.conn.transaction():
                    yield
            except BaseException:
                # ROLLBACK TO SAVEPOINT put back the setting the savepoint began with.
                tx.mine = before
                tallies.rollback()
                raise
            tallies.release()
            return
        async with self._pooled() as conn, conn.pipeline() as pipe:
            # A transaction begins with the session's mine; `_enter_scope` sets a local one
            # when a statement runs as another, which COMMIT or ROLLBACK then drop. Leaving
            # the pipeline syncs it: the COMMIT's outcome is known when this returns.
            tx = _Tx(conn, self._sessions.get(conn), pipe, Tallies())
            token = self._tx.set(tx)
            try:
                async with conn.transaction():
                    yield
                    await self._write_tallies(tx)
            finally:
                self._tx.reset(token)

    async def _write_tallies(self, tx: _Tx) -> None:
        """The unit's counts, as its last statements: one per counter and mine, each as that
        mine (an upsert of every row from one JSON object, not one statement per row)."""
        assert tx.tallies is not None
        for counter, rows in tx.tallies.totals():
            await self.scoped(counter[0]).execute(
                adding(counter, "SELECT key, CAST(value AS BIGINT) FROM json_each_text(?)"),
                (json.dumps(dict(rows), ensure_ascii=False),),
            )

    async def _fetchone(self, on: _Tx, sql: str, params: Params) -> Row | None:
        with _errors(self.url):
            async with on.conn.cursor(row_factory=_row_factory) as cur:
                await on.run(cur, sql, params)
                return await cur.fetchone()

    async def _fetchall(self, on: _Tx, sql: str, params: Params) -> list[Row]:
        with _errors(self.url):
            async with on.conn.cursor(row_factory=_row_factory) as cur:
                await on.run(cur, sql, params)
                return list(await cur.fetchall())

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        async with self._connection() as on:
            with _errors(self.url):
                async with on.conn.cursor() as cur:
                    await on.run(cur, sql, params)
                    return max(cur.rowcount, 0)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; return the new row's id (`RETURNING id` unless it returns already)."""
        async with self._connection() as on:
            row = await self._fetchone(on, _with_returning(sql), params)
        if row is None:
            raise ConstraintViolation("insert added no row")
        return int(row[0])

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each of `rows`, all or none of them (a transaction)."""
        if self._tx.get() is None:
            async with self.transaction():
                await self.executemany(sql, rows)
            return
        async with self._connection() as on:
            with _errors(self.url):
                async with on.conn.cursor() as cur:
                    await cur.executemany(to_pyformat(sql), list(rows))
                if on.pipe is not None:
                    await on.pipe.sync()  # a failed row fails here, not at a later statement

    async def tally(self, table: str, key: str, count: str, counted: Iterable[str]) -> None:
        check_names(table, key, count)
        if self.mine == ALL_MINES:  # refused here, not at the commit of someone's whole unit
            raise StorageError("the group scope ('*') reads every mine and writes none")
        tx = self._tx.get()
        if tx is None:
            async with self.transaction():
                await self.tally(table, key, count, counted)
            return
        assert tx.tallies is not None
        tx.tallies.add((self.mine, table, key, count), counted)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._connection() as on:
            return await self._fetchone(on, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._connection() as on:
            return await self._fetchall(on, sql, params)

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    async def backup(self, target: Path | str) -> None:
        raise StorageError(
            "a PostgreSQL database is backed up with pg_dump, not by jindianzi: "
            f"pg_dump --format=custom --file {target} '<storage.url>'"
        )


async def _current_version(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _migrate(conn: psycopg.AsyncConnection[Any]) -> None:
    """Apply the missing migrations, each in its own transaction under an advisory lock.

    Two processes starting together both wait for the lock; the second finds the
    migration recorded and skips it."""
    shipped = migrations()
    known = shipped[-1][0] if shipped else 0
    steps: list[tuple[int, str, str]] = [(0, "", ""), *shipped]
    for version, name, sql in steps:
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                await conn.execute(_SCHEMA_VERSION)
                current = await _current_version(conn)
                if current > known:
                    raise SchemaTooNew(current, known)
                if version == 0 or version <= current:
                    continue
                await conn.execute(sql.encode())
                await conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {name or 'schema_version'} failed: {exc}") from exc
