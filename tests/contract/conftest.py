"""Fixtures of the contract suite: `backend` (one per `BACKENDS`), `repos`, `db`, `staff`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Database, Repositories
from tests.contract.seed import Staff, seed_staff
from tests.storage_backends import BACKENDS, NEEDS_URL, open_repositories


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's name; every test using `repos` or `db` runs once per backend."""
    return str(request.param)


@pytest.fixture
async def repos(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Repositories]:
    """An empty, migrated database of `backend` and its repositories."""
    # A server backend gets its URL from the `postgres_url` fixture (looked up only then, so
    # that SQLite runs need no server).
    url = str(request.getfixturevalue("postgres_url")) if backend in NEEDS_URL else None
    async with open_repositories(backend, tmp_path, url=url) as opened:
        yield opened


@pytest.fixture
def db(repos: Repositories) -> Database:
    return repos.db


@pytest.fixture
async def staff(repos: Repositories) -> Staff:
    """The organisation and a small roster, stored the way the app stores them."""
    return await seed_staff(repos)
