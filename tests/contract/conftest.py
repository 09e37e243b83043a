"""Fixtures of the contract suite: `backend` (one per `CONTRACT_BACKENDS`), `repos`, `db`,
`staff`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Repositories
from storage.port import SqlDatabase
from tests.contract.seed import Staff, seed_staff
from tests.storage_backends import CONTRACT_BACKENDS, Backend, PostgresServer, open_backend


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The backend's name; every test using `repos` or `db` runs once per backend."""
    found: Backend = request.param
    return found


@pytest.fixture
async def repos(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Repositories]:
    """An empty, migrated database of `backend` and its repositories."""
    # The server is looked up only for PostgreSQL, so SQLite runs need none.
    server: PostgresServer | None = (
        request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    )
    async with open_backend(backend, tmp_path, server) as opened:
        yield Repositories(opened)


@pytest.fixture
def db(repos: Repositories) -> SqlDatabase:
    return repos.db


@pytest.fixture
async def staff(repos: Repositories) -> Staff:
    """The organisation and a small roster, stored the way the app stores them."""
    return await seed_staff(repos)
