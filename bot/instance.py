"""Who may do what: the instance lock on SQLite, leases on PostgreSQL.

With SQLite one `jindianzi run` serves a database: the lock is `flock` on a file beside
the database, released by the kernel when the holder dies (even by SIGKILL), and the
file names the holder. With PostgreSQL several processes share the database and each
thing that must happen in one place at a time (polling one bot, sending for one
rate-limit domain) is a lease (`storage.leases`): one process holds it and does the
work, the others stand by and take it over within seconds when the holder is gone.
Callers see `Leases`: on SQLite every lease is simply held (the file lock covers all).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from storage.port import SqlDatabase

if TYPE_CHECKING:
    from storage.leases import LeaseRecord, PgLease
    from storage.pg import PgDatabase

log = logging.getLogger(__name__)

Runner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""Work that runs until its event is set (a channel's intake, an outbox sender)."""

RETRY_S = 1.0
"""How often a standby tries to take a lease."""
HEARTBEAT_S = 2.0
"""How often a holder proves its lease (and so how soon it notices losing it)."""
HEARTBEAT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    since: datetime | None
    command: str

    def describe(self, tz: ZoneInfo) -> str:
        since = self.since.astimezone(tz).strftime("%Y-%m-%d %H:%M") if self.since else "不详"
        return f"进程 {self.pid}(主机 {self.host},{since} 起,jindianzi {self.command})"


class LockHeld(Exception):
    def __init__(self, holder: Holder) -> None:
        super().__init__(f"held by pid {holder.pid} on {holder.host}")
        self.holder = holder


class InstanceLock(Protocol):
    def acquire(self, command: str, now: datetime) -> None:
        """Take the lock or raise `LockHeld`."""

    def release(self) -> None: ...

    def holder(self) -> Holder | None:
        """Who holds the lock now (this process included), or None."""


class FileLock:
    """`flock` on `path`; the file holds the holder's pid, host, start time and command."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, command: str, now: datetime) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self.holder() or Holder(0, "?", None, "?")) from None
        about = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": now.isoformat(),
            "command": command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(about).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> Holder | None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            if self._fd is None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass  # held by someone: read who
                else:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    return None
            text = os.pread(fd, 4096, 0)
        finally:
            os.close(fd)
        return _parse(text)


def _parse(text: bytes) -> Holder:
    try:
        about = json.loads(text)
        since = datetime.fromisoformat(about["since"]) if about.get("since") else None
        return Holder(int(about["pid"]), str(about["host"]), since, str(about["command"]))
    except (ValueError, KeyError, TypeError):  # being written just now
        return Holder(0, "?", None, "?")


def instance_lock(database: Path) -> InstanceLock:
    """The lock for the bot on `database`."""
    return FileLock(database.with_name(database.name + ".lock"))


@contextlib.contextmanager
def holding(lock: InstanceLock, command: str, now: datetime) -> Iterator[None]:
    lock.acquire(command, now)
    try:
        yield
    finally:
        lock.release()


class Leases(Protocol):
    @property
    def distributed(self) -> bool:
        """True when several processes may share the database (and the leases matter)."""

    def leased(self, name: str, runner: Runner, on_acquire: Runner | None = None) -> Runner:
        """`runner` run only while this process holds lease `name`: started when it is
        taken, stopped at once when it is lost, tried again while standing by.
        `on_acquire` runs beside it each time the lease is taken."""

    def once(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Try once to hold lease `name` for the block; yields whether it is held."""


class Unleased:
    """SQLite: one process serves the database (the instance lock), so it holds every lease."""

    distributed = False

    def leased(self, name: str, runner: Runner, on_acquire: Runner | None = None) -> Runner:
        return runner

    @contextlib.asynccontextmanager
    async def once(self, name: str) -> AsyncIterator[bool]:
        yield True


class PgLeases:
    """Leases as PostgreSQL advisory locks, each on a connection of its own."""

    distributed = True

    def __init__(
        self,
        db: PgDatabase,
        command: str,
        clock: Callable[[], datetime],
        *,
        retry_s: float = RETRY_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._db = db
        self._command = command
        self._clock = clock
        self.retry_s = retry_s
        self.heartbeat_s = heartbeat_s
        self.holding: dict[str, PgLease] = {}
        """The leases this process holds now, by name (tests end their connections)."""

    def _lease(self, name: str) -> PgLease:
        from storage.leases import PgLease  # psycopg only for those who use it

        return PgLease(self._db, name, self._command)

    def leased(self, name: str, runner: Runner, on_acquire: Runner | None = None) -> Runner:
        async def run(stop: asyncio.Event) -> None:
            await self._hold(name, runner, on_acquire, stop)

        return run

    async def _hold(
        self, name: str, runner: Runner, on_acquire: Runner | None, stop: asyncio.Event
    ) -> None:
        lease = self._lease(name)
        try:
            while not stop.is_set():
                if not await lease.try_acquire(self._clock()):
                    await _sleep(stop, self.retry_s)
                    continue
                log.info("lease %s taken: this process does its work now", name)
                self.holding[name] = lease
                try:
                    lost = await self._while_held(lease, runner, on_acquire, stop)
                finally:
                    self.holding.pop(name, None)
                if not lost:
                    return
                await lease.release()  # the broken connection: a new one for the next tries
                log.warning("lease %s lost: its work stopped; standing by to take it again", name)
        finally:
            await lease.release()

    async def _while_held(
        self, lease: PgLease, runner: Runner, on_acquire: Runner | None, stop: asyncio.Event
    ) -> bool:
        """Run the work while the lease holds; True when it was lost, False on `stop` or
        when the work ended by itself (its exception is raised)."""
        local = asyncio.Event()
        work = asyncio.create_task(runner(local))
        side = asyncio.create_task(on_acquire(local)) if on_acquire else None
        stopping = asyncio.ensure_future(stop.wait())
        lost = False
        try:
            while not (stop.is_set() or work.done()):
                await asyncio.wait(
                    {work, stopping}, timeout=self.heartbeat_s, return_when=asyncio.FIRST_COMPLETED
                )
                if stop.is_set() or work.done():
                    break
                if not await lease.beat(self._clock(), HEARTBEAT_TIMEOUT_S):
                    lost = True
                    break
        finally:
            stopping.cancel()
            local.set()
            tasks = [t for t in (work, side) if t is not None]
            if lost or not stop.is_set():
                for task in tasks:  # lost (or torn down): stop at once, mid-step
                    task.cancel()
            elif side is not None:
                side.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if not lost and not work.cancelled() and work.exception() is not None:
            raise work.exception()  # type: ignore[misc]
        return lost

    @contextlib.asynccontextmanager
    async def once(self, name: str) -> AsyncIterator[bool]:
        lease = self._lease(name)
        try:
            yield await lease.try_acquire(self._clock())
        finally:
            await lease.release()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def leases_for(db: SqlDatabase, command: str, clock: Callable[[], datetime]) -> Leases:
    """Leases on PostgreSQL, where processes share the database; none needed on SQLite."""
    if db.dialect == "postgresql":
        from storage.pg import PgDatabase

        assert isinstance(db, PgDatabase)
        return PgLeases(db, command, clock)
    return Unleased()


def lease_holder(record: LeaseRecord) -> Holder:
    return Holder(record.pid, record.host, record.since, record.command)


def secret_tag(secret: str) -> str:
    """A short stable name for a secret (a bot token, a robot key) that does not reveal it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def polling_lease(token: str) -> str:
    """The lease of getUpdates for one bot: Telegram answers one poller at a time."""
    return f"telegram-polling:{token.partition(':')[0]}"  # the bot id, public in every link
