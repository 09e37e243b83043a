"""The database handle: connection settings, migrations and transactions."""

from __future__ import annotations

import asyncio
import contextvars
import os
import re
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from storage.errors import ConstraintViolation, Duplicate, StorageError
from storage.port import GROUP_SCOPE, Params, Row
from storage.tallies import Tallies, adding, check_names

BUSY_TIMEOUT_MS = 10_000
SQLITE_MINE = "main"
"""The one mine a SQLite database serves (its rows' `mine`)."""
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

T = TypeVar("T")


def _rowcount(conn: sqlite3.Connection, sql: str, params: Params) -> int:
    cursor = conn.execute(sql, params)
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _lastrowid(conn: sqlite3.Connection, sql: str, params: Params) -> int:
    cursor = conn.execute(sql, params)
    try:
        if cursor.lastrowid is None:
            raise sqlite3.IntegrityError("insert added no row")
        return int(cursor.lastrowid)
    finally:
        cursor.close()


def _first(conn: sqlite3.Connection, sql: str, params: Params) -> Row | None:
    cursor = conn.execute(sql, params)
    try:
        row: Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()


def _all(conn: sqlite3.Connection, sql: str, params: Params) -> list[Row]:
    cursor = conn.execute(sql, params)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


_DUPLICATE_KEY = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def port_error(exc: sqlite3.Error) -> StorageError:
    """The storage port's error for a driver's: a duplicate key, another broken constraint,
    or any other failure (a full disk, a locked file)."""
    if isinstance(exc, sqlite3.IntegrityError):
        # sqlite_errorname is set on errors the driver raises (Python 3.11+), not on ours.
        if getattr(exc, "sqlite_errorname", None) in _DUPLICATE_KEY:
            return Duplicate(str(exc))
        return ConstraintViolation(str(exc))
    return StorageError(str(exc))


@contextmanager
def constraint_errors() -> Iterator[None]:
    """Raise the port's errors for SQLite's failures, so no caller sees sqlite3.

    Every statement through `Database` and its `Reader` is translated already; this is for
    code that calls the driver itself."""
    try:
        yield
    except sqlite3.Error as exc:
        raise port_error(exc) from exc


class MigrationError(RuntimeError):
    """A migration file is missing, misnamed or failed to apply."""


class SchemaTooNew(MigrationError):
    """The database was migrated by a newer version of the code: opening it could harm it."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(f"database schema version {found} is newer than this code's {known}")
        self.found = found
        self.known = known


def _read_only_uri(path: Path) -> str:
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"


async def _open_reader(path: Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    """The read-only connection, opened after the writer has set WAL mode up."""
    try:
        conn = await aiosqlite.connect(_read_only_uri(path), uri=True)
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {path} for reading: {exc}") from exc
    conn.row_factory = sqlite3.Row
    return conn


def _migrations() -> list[tuple[int, str, str]]:
    """Every shipped SQLite migration as (version, file name, SQL), in order."""
    return read_migrations()


def read_migrations(*folder: str) -> list[tuple[int, str, str]]:
    """The migrations in `storage/migrations/<folder>` as (version, file name, SQL), numbered
    1, 2, 3 … strictly (a gap or a repeat is a MigrationError)."""
    found = []
    for entry in resources.files("storage").joinpath("migrations", *folder).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise MigrationError(f"migration {name} is out of sequence (expected {expected:04d})")
    return found


class Reader:
    """A second, read-only connection: reads that need no write lock (WAL readers do not
    block the writer, nor it them). Each statement sees the latest commit, never an
    uncommitted transaction of the writer's."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._conn
        try:
            result: T = await conn._execute(fn, conn._conn, *args)  # type: ignore[no-untyped-call]
        except sqlite3.Error as exc:
            raise port_error(exc) from exc
        return result

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._call(_first, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._call(_all, sql, params)


class Database:
    """One writing aiosqlite connection shared by the whole process, and one for reads.

    A single connection cannot run two transactions at once, so `transaction()`
    serialises units of work with a lock; a nested `transaction()` in the same task
    is a savepoint of the outer one: it rolls back alone and commits with the outer.
    `reader` runs reads that must not wait for (or hold up) the writer.
    """

    dialect: Literal["sqlite"] = "sqlite"
    mine: str = SQLITE_MINE
    single_writer: bool = True
    """One write transaction at a time (the file's lock): whoever writes waits for it."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, reader: Reader) -> None:
        self._conn = conn
        self.path = path
        self.reader = reader
        self._savepoints = 0
        self._tallies = Tallies()
        """The counts of the unit of work in progress (one at a time: the lock)."""
        self._lock = asyncio.Lock()
        self._in_tx: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"in_tx_{id(self)}", default=False
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> AsyncIterator[Database]:
        """Open (creating if needed) and migrate the database at `path`."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open {path}: {exc}") from exc
        try:
            try:
                await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = FULL")
                await conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:  # e.g. a read-only folder: no WAL files possible
                raise StorageError(f"cannot open {path}: {exc}") from exc
            conn.row_factory = sqlite3.Row
            db = cls(conn, path, Reader(conn))
            await db._migrate()
            read = await _open_reader(path, busy_timeout_ms)
            try:
                db.reader = Reader(read)
                yield db
            finally:
                await read.close()
        finally:
            await conn.close()

    def scoped(self, mine: str) -> Database:
        """Itself for the one mine SQLite serves, and for the group scope ('*', every mine:
        here that one); any other mine is a StorageError."""
        if mine in (self.mine, GROUP_SCOPE):
            return self
        raise StorageError(
            f"SQLite serves one mine ({self.mine!r}), not {mine!r}: several mines need"
            " PostgreSQL (storage.url) / SQLite 只服务一个矿;多个矿请使用 PostgreSQL(storage.url)"
        )

    async def _migrate(self) -> None:
        row = await self._fetchone("PRAGMA user_version")
        current = int(row[0]) if row else 0
        migrations = _migrations()
        known = migrations[-1][0] if migrations else 0
        if current > known:
            raise SchemaTooNew(current, known)
        for version, name, sql in migrations:
            if version <= current:
                continue
            script = f"BEGIN IMMEDIATE;\n{sql}\n;PRAGMA user_version = {version};\nCOMMIT;"
            try:
                await self._conn.executescript(script)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise MigrationError(f"migration {name} failed: {exc}") from exc

    async def schema_version(self) -> int:
        row = await self._fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A unit of work: everything inside commits together or not at all.

        Nested in another one (same task), it is a savepoint: an exception rolls back
        what it did and nothing else, and its work commits when the outer one does."""
        if self._in_tx.get():
            self._savepoints += 1
            name = f"sp{self._savepoints}"
            await self._call(_rowcount, f"SAVEPOINT {name}", ())
            self._tallies.begin()
            try:
                yield
            except BaseException:
                self._tallies.rollback()
                if self._conn.in_transaction:  # SQLite may have ended it already (e.g. disk full)
                    await self._call(_rowcount, f"ROLLBACK TO {name}", ())
                    await self._call(_rowcount, f"RELEASE {name}", ())
                else:  # and with it what the unit had counted
                    self._tallies.clear()
                raise
            self._tallies.release()
            await self._call(_rowcount, f"RELEASE {name}", ())
            return
        async with self._lock:
            token = self._in_tx.set(True)
            self._tallies = Tallies()
            try:
                await self._call(_rowcount, "BEGIN IMMEDIATE", ())
                try:
                    yield
                    await self._write_tallies()
                except BaseException:
                    if self._conn.in_transaction:
                        await self._call(_rowcount, "ROLLBACK", ())
                    raise
                await self._call(_rowcount, "COMMIT", ())
            finally:
                self._in_tx.reset(token)

    @asynccontextmanager
    async def _statement(self) -> AsyncIterator[None]:
        """Run a lone statement outside anyone else's transaction."""
        if self._in_tx.get():
            yield
        else:
            async with self._lock:
                yield

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(sqlite3_connection, *args)` on aiosqlite's thread: one hop per statement.

        aiosqlite's public cursor API costs a thread hop for execute, another for fetch and
        a third for close; per statement that tripled the time of a whole update.
        """
        conn = self._conn
        try:
            result: T = await conn._execute(fn, conn._conn, *args)  # type: ignore[no-untyped-call]
        except sqlite3.Error as exc:  # the port's errors only: callers never see the driver
            raise port_error(exc) from exc
        return result

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        async with self._statement():
            return await self._call(_rowcount, sql, params)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; return the new row's id."""
        async with self._statement():
            return await self._call(_lastrowid, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self._statement():
            with constraint_errors():
                await self._conn.executemany(sql, rows)

    async def tally(self, table: str, key: str, count: str, counted: Iterable[str]) -> None:
        check_names(table, key, count)
        if self._in_tx.get():
            self._tallies.add((table, key, count), counted)
            return
        async with self.transaction():
            await self.tally(table, key, count, counted)

    async def _write_tallies(self) -> None:
        """The unit's counts, as its last statements."""
        for counter, rows in self._tallies.totals():
            await self.executemany(adding(counter, "VALUES (?, ?)"), rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._statement():
            return await self._call(_first, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._statement():
            return await self._call(_all, sql, params)

    async def _fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._call(_first, sql, params)

    async def backup(self, target: Path | str) -> None:
        """Copy the database with SQLite's online backup API (consistent while writes go on)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.unlink(missing_ok=True)
        dest = sqlite3.connect(tmp)
        try:
            async with self._statement():
                await self._conn.backup(dest)
        finally:
            dest.close()
        tmp.replace(target)
