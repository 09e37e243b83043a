"""The storage backends the contract suite runs against, opened the same way for every test.

`BACKENDS` names them; `open_repositories` opens a fresh, migrated, empty database of one
backend and yields its `Repositories`. The suite (`tests/test_storage_contract.py`) takes
its `repos` and `db` fixtures from here, parametrized over `BACKENDS`, so every contract
test runs once per backend.

Adding a backend (PostgreSQL is next, issue 20):
1. append its name to `BACKENDS` (or add it only when its server is available, so that a
   machine without one reports the skip in one line);
2. give `open_repositories` a branch for it below, at "ADD A BACKEND HERE": open the
   adapter's database on `url` (the `repos` fixture passes the `postgres_url` fixture's
   value for "postgresql"), migrate it, leave it empty, and close it on exit;
3. nothing else: the tests use only `Repositories` and `Database`'s port (`transaction()`),
   never the backend's SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage import Database, Repositories

BACKENDS: list[str] = ["sqlite"]
"""Backend names, the `backend` fixture's params. "postgresql" joins when it is wired."""

NEEDS_URL: frozenset[str] = frozenset({"postgresql"})
"""Backends opened on a server URL (the `repos` fixture asks for `postgres_url` for them)."""


@asynccontextmanager
async def open_repositories(
    backend: str, tmp_path: Path, *, url: str | None = None
) -> AsyncIterator[Repositories]:
    """A fresh, empty, migrated database of `backend`; closed when the block ends.

    `tmp_path` is the test's own folder (SQLite keeps its file there); `url` is a server's
    address for the backends in `NEEDS_URL` (each test must get an empty database: a fresh
    database or schema per test, or one dropped and re-created)."""
    if backend == "sqlite":
        async with Database.open(tmp_path / "x.db") as db:
            yield Repositories(db)
        return
    # ADD A BACKEND HERE, e.g.:
    # if backend == "postgresql":
    #     assert url is not None, "the postgres_url fixture gives the server's URL"
    #     async with PgDatabase.open(url) as db:  # migrated, empty
    #         yield Repositories(db)
    #     return
    raise ValueError(f"unknown storage backend {backend!r} (url given: {url is not None})")
