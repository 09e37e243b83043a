"""One sending bot per database: an exclusive lock held by `jindianzi run`.

With SQLite the lock is `flock` on a file beside the database, released by the kernel
when the holder dies (even by SIGKILL), and the file names the holder. For PostgreSQL
it becomes a lease row in the database; callers see only `InstanceLock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo


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
