"""Both storage backends for tests: a throwaway PostgreSQL cluster and a fresh database each.

`start_cluster()` runs Debian's (or any) `initdb` + `pg_ctl` in a temporary folder: the unix
socket lives there, the port is a free one, fsync is off. PostgreSQL refuses to run as
root, so under root (CI) the folder is given to the `postgres` user and every command runs
through `runuser -u postgres --`. `PostgresServer.fresh_database()` copies a migrated
template, which is much faster than migrating each test's database.

Row-level security, which keeps the mines apart, does not bind a superuser, so the tests
connect as `APP_ROLE`, an ordinary role (NOSUPERUSER NOBYPASSRLS, CREATEDB) that owns the
template and every fresh database, as the app's role owns its database in production. The
superuser's URL stays at hand (`PostgresServer.admin_url`) for what only it may do.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Literal

import psycopg

from storage.db import Database
from storage.pg import PgDatabase
from storage.port import SqlDatabase

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
URL_ENV = "JINDIANZI_TEST_POSTGRES_URL"
TEMPLATE = "jindianzi_template"
APP_ROLE = "jindianzi"
"""The tests' ordinary role; its password matters only on a server that asks for one."""
APP_PASSWORD = "jindianzi"


class NoServer(Exception):
    """No PostgreSQL server could be started here; the message says why in one line."""


def pg_bin_dir() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent  # a symlink on PATH: its siblings live there
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead of its own."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def with_user(url: str, user: str, password: str) -> str:
    """`url` connecting as `user` (with `password`) instead of its own user."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{urllib.parse.quote(user)}:{urllib.parse.quote(password)}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def ensure_app_role(admin_url: str) -> str:
    """Create (or reset) `APP_ROLE` on the server; return the admin URL as that role."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            f"{verb} ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB"
            f" PASSWORD '{APP_PASSWORD}'".encode()
        )
    return with_user(admin_url, APP_ROLE, APP_PASSWORD)


@dataclass
class Cluster:
    """A running throwaway cluster; `stop()` ends it and deletes its folder."""

    folder: Path
    bin_dir: Path
    prefix: list[str]
    url: str

    def stop(self) -> None:
        data = str(self.folder / "data")
        subprocess.run(
            [*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb + pg_ctl in a new temporary folder; raises NoServer when that cannot be done."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise NoServer("no initdb/pg_ctl found (apt-get install postgresql)")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="jindianzi-pg-"))
    try:
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            runuser = shutil.which("runuser")
            try:
                shutil.chown(folder, user="postgres", group="postgres")
            except (LookupError, OSError) as exc:
                raise NoServer(f"running as root; cannot give postgres a folder: {exc}") from None
            if runuser is None:
                raise NoServer("running as root and no runuser to become postgres")
            prefix = [runuser, "-u", "postgres", "--"]
        data = folder / "data"
        port = _free_port()
        options = (
            f"-k {folder} -p {port} -c listen_addresses='' -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "--auth=trust"]
        initdb += ["--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync"]
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log")]
        pg_ctl += ["-w", "-o", options, "start"]
        steps = [initdb, pg_ctl]
        for step in steps:
            done = subprocess.run([*prefix, *step], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                log = folder / "server.log"
                tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
                detail = (done.stderr or done.stdout or tail).strip().splitlines()
                raise NoServer(f"{Path(step[0]).name} failed: {detail[-1] if detail else '?'}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    query = urllib.parse.urlencode({"host": str(folder), "port": str(port)})
    return Cluster(folder, bin_dir, prefix, f"postgresql://postgres@/postgres?{query}")


@dataclass
class PostgresServer:
    """A server the tests may create databases on (throwaway or given by URL).

    `admin_url` is the superuser's; `url` is `APP_ROLE`'s (its `postgres` database), the
    role every database handed out is owned by and connected as."""

    admin_url: str
    url: str = ""
    _names: count[int] = field(default_factory=lambda: count(1))
    _made: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.url:
            self.url = ensure_app_role(self.admin_url)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def create(self, *, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`) owned by `APP_ROLE`; returns its
        URL as that role (`as_admin(url)` is the superuser's)."""
        name = f"jindianzi_test_{os.getpid()}_{next(self._names)}"
        copy = f' TEMPLATE "{template}"' if template is not None else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}{copy}'.encode())
        self._made.append(name)
        return with_database(self.url, name)

    def as_admin(self, url: str) -> str:
        """The superuser's URL of the database `url` names."""
        return with_database(self.admin_url, urllib.parse.urlsplit(url).path.lstrip("/"))

    async def prepare_template(self) -> None:
        """Migrate the template once, as `APP_ROLE`; fresh databases are copies of it."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'.encode())
            conn.execute(f'CREATE DATABASE "{TEMPLATE}" OWNER {APP_ROLE}'.encode())
        async with PgDatabase.open(with_database(self.url, TEMPLATE), max_size=1):
            pass

    def fresh_database(self) -> str:
        """A migrated database no other test uses."""
        return self.create(template=TEMPLATE)

    def drop_all(self) -> None:
        with self.admin() as conn:
            for name in self._made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'.encode())
        self._made.clear()


@asynccontextmanager
async def open_backend(
    backend: Backend, tmp_path: Path, server: PostgresServer | None
) -> AsyncIterator[SqlDatabase]:
    """An open, migrated database of `backend` that nothing else uses."""
    if backend == "sqlite":
        async with Database.open(tmp_path / f"{next(_sqlite_names)}.db") as sqlite_db:
            yield sqlite_db
        return
    assert server is not None, "a PostgreSQL database needs the postgres_url fixture"
    async with PgDatabase.open(server.fresh_database(), max_size=4) as pg_db:
        yield pg_db


_sqlite_names = count(1)


CONTRACT_BACKENDS: tuple[Backend, ...] = BACKENDS
"""The backends the storage contract suite (tests/contract) runs on: the same tests on both."""
