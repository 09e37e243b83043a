"""Leases on PostgreSQL: one process at a time does a leased thing (polls one bot, sends
for one rate-limit domain), whichever of several `jindianzi run` processes that is.

A lease is a session-level advisory lock held on a connection of its own (outside the
pool): the server drops it when that connection goes, however its process ended
(SIGKILL included), and a standby takes it at its next try. The `leases` table says who
holds what, for `jindianzi status`; the lock, not the row, is the truth: a row a killed
holder left behind is shown as vacant until the next holder overwrites it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from storage.errors import StorageError
from storage.port import SqlDatabase
from storage.repos.times import from_db_time, to_db_time

if TYPE_CHECKING:
    from storage.pg import PgDatabase

log = logging.getLogger(__name__)

_UNSIGNED = (1 << 64) - 1


def lease_key(name: str) -> int:
    """The advisory lock key of a lease: 64 bits of a hash of its name, the same in every
    process (Python's `hash` is salted per process)."""
    digest = hashlib.sha256(b"jindianzi-lease:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """A row of `leases`, and whether its lock is held right now."""

    name: str
    pid: int
    host: str
    command: str
    since: datetime
    heartbeat_at: datetime
    held: bool


class PgLease:
    """One lease on one dedicated connection: try to take it, prove it at each heartbeat,
    give it back. Not safe to share between tasks."""

    def __init__(self, db: PgDatabase, name: str, command: str) -> None:
        self._db = db
        self.name = name
        self.key = lease_key(name)
        self._command = command
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.held = False

    async def try_acquire(self, now: datetime) -> bool:
        """Take the lease if nobody holds it; False when somebody does or the server
        cannot be reached (the caller tries again)."""
        if self.held:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await self._db.dedicated()
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cur.fetchone()
            if not (row and row[0]):
                return False
            self.held = True
            stamp = to_db_time(now)
            await self._conn.execute(
                "INSERT INTO leases (name, pid, host, command, since, heartbeat_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                " pid = excluded.pid, host = excluded.host, command = excluded.command,"
                " since = excluded.since, heartbeat_at = excluded.heartbeat_at",
                (self.name, os.getpid(), socket.gethostname(), self._command, stamp, stamp),
            )
        except (psycopg.Error, StorageError) as exc:
            log.warning("lease %s: cannot try it now (%s)", self.name, str(exc).strip())
            await self._drop()
            return False
        return True

    async def beat(self, now: datetime, timeout_s: float) -> bool:
        """Prove the lease is still held: a statement on its connection within `timeout_s`.
        False (and the lease given up) when the connection is gone or does not answer."""
        if not self.held or self._conn is None:
            return False
        try:
            await asyncio.wait_for(
                self._conn.execute(
                    "UPDATE leases SET heartbeat_at = %s WHERE name = %s",
                    (to_db_time(now), self.name),
                ),
                timeout_s,
            )
        except (psycopg.Error, TimeoutError) as exc:
            # Not held any more as far as this process knows: the caller stops the work
            # first, and `release` closes the connection (which may take its time) after.
            log.error("lease %s lost: %s", self.name, str(exc).strip() or type(exc).__name__)
            self.held = False
            return False
        return True

    async def release(self, timeout_s: float = 2.0) -> None:
        """Give the lease back (and its row), and close its connection."""
        if self.held and self._conn is not None and not self._conn.closed:
            conn = self._conn

            async def give_back() -> None:
                await conn.execute("DELETE FROM leases WHERE name = %s", (self.name,))
                await conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

            # On failure the connection is closed anyway, and the lock goes with it.
            with contextlib.suppress(psycopg.Error, TimeoutError):
                await asyncio.wait_for(give_back(), timeout_s)
        await self._drop()

    async def _drop(self) -> None:
        self.held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, TimeoutError):
                await asyncio.wait_for(conn.close(), 2.0)

    async def backend_pid(self) -> int | None:
        """The server process of the lease's connection (tests end it to play a crash)."""
        if self._conn is None:
            return None
        return int(self._conn.info.backend_pid)


async def lease_records(db: PgDatabase) -> list[LeaseRecord]:
    """Every recorded lease, by name, each with whether its lock is held now."""
    rows = await db.fetchall(
        "SELECT name, pid, host, command, since, heartbeat_at FROM leases ORDER BY name"
    )
    locks = await db.fetchall(
        "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory'"
        " AND objsubid = 1 AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    held = {(int(r[0]) << 32) | int(r[1]) for r in locks}
    return [
        LeaseRecord(
            r["name"],
            int(r["pid"]),
            r["host"],
            r["command"],
            from_db_time(r["since"]),
            from_db_time(r["heartbeat_at"]),
            (lease_key(r["name"]) & _UNSIGNED) in held,
        )
        for r in rows
    ]


async def release_outbox_claims(
    db: SqlDatabase, channels: Iterable[str], only: Mapping[str, Collection[str]] | None = None
) -> int:
    """Free the outbox claims of one rate-limit domain (its channels, limited as `only`
    limits a sender): for the new holder of that domain's lease, whose predecessor is gone.
    Other domains' claims belong to their own holders."""
    names = sorted(set(channels))
    if not names:
        return 0
    sql = (
        "UPDATE outbox SET claimed_until = NULL WHERE claimed_until IS NOT NULL"
        f" AND status = 'pending' AND channel IN ({','.join('?' * len(names))})"
    )
    params: list[Any] = [*names]
    for channel, chats in sorted((only or {}).items()):
        listed = sorted(chats)
        marks = ",".join("?" * len(listed)) or "NULL"
        sql += f" AND NOT (channel = ? AND chat_id NOT IN ({marks}))"
        params += [channel, *listed]
    return await db.execute(sql, params)
