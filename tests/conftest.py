from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from bot.app import App, build_classifier, load_sample_roster, open_app
from bot.config import Config, Secret
from bot.outbox import OutboxSender
from nlp import ModelClassifier
from storage.port import SqlDatabase
from tests.storage_backends import (
    URL_ENV,
    Backend,
    NoServer,
    PostgresServer,
    open_backend,
    start_cluster,
)
from tests.support import Chat, Clock, RecordingTransport, project_config

# Why the PostgreSQL tests were skipped, printed once at the end of the run.
_POSTGRES_SKIPPED: list[str] = []


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _in_a_thread(step: Callable[[], None]) -> None:
    """Run `step` on its own thread: its event loop never meets pytest-asyncio's."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole run: `JINDIANZI_TEST_POSTGRES_URL`, or a throwaway
    cluster. Without one the tests that need it are skipped, except under CI=true."""
    url = os.environ.get(URL_ENV)
    cluster = None
    if not url:
        try:
            cluster = start_cluster()
        except NoServer as exc:
            if _under_ci():
                pytest.fail(f"CI needs a PostgreSQL server and none could be started: {exc}")
            _POSTGRES_SKIPPED[:] = [f"PostgreSQL tests skipped: {exc}"]
            pytest.skip(_POSTGRES_SKIPPED[0])
        url = cluster.url
    server = PostgresServer(url)
    try:
        _in_a_thread(lambda: asyncio.run(server.prepare_template()))
        yield server
    finally:
        if cluster is None:
            server.drop_all()
        else:
            cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The server's URL (its `postgres` database) as the tests' ordinary role, which may
    create databases: create them there, do not write."""
    return postgres_server.url


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_server: PostgresServer) -> str:
    """The server's superuser URL (its `postgres` database), for what an ordinary role may
    not do; row-level security does not bind it."""
    return postgres_server.admin_url


OpenDatabase = Callable[[Backend, Path], AbstractAsyncContextManager[SqlDatabase]]


@pytest.fixture
def open_database(request: pytest.FixtureRequest) -> OpenDatabase:
    """`open_database(backend, tmp_path)`: an open, migrated database of that backend
    ("sqlite" or "postgresql") that no other test uses; PostgreSQL starts only when asked."""

    def make(backend: Backend, tmp_path: Path) -> AbstractAsyncContextManager[SqlDatabase]:
        server = request.getfixturevalue("postgres_server") if backend == "postgresql" else None
        return open_backend(backend, tmp_path, server)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _POSTGRES_SKIPPED:
        terminalreporter.write_line(_POSTGRES_SKIPPED[0])


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> ModelClassifier:
    """Built once: jieba's dictionary load is the slow part of start-up."""
    cache = tmp_path_factory.mktemp("nlp")
    return build_classifier(project_config(cache / "unused.db"))


APP_BACKEND_ENV = "JINDIANZI_TEST_APP_BACKEND"
"""Set to "postgresql" to run the whole suite's app on PostgreSQL (each test its own database);
`make test` runs it on SQLite, the storage contract suite on both."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): tests SQLite's own machinery (query plans, the online backup"
        " API, triggers, legacy rows); skipped when the app runs on PostgreSQL",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get(APP_BACKEND_ENV) != "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            why = marker.kwargs.get("reason", "SQLite only")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {why}"))


@pytest.fixture
def config(tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    found = project_config(tmp_path / "data" / "jindianzi.db")
    if os.environ.get(APP_BACKEND_ENV) != "postgresql":
        return found
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = Secret(server.fresh_database())
    return dataclasses.replace(found, storage=dataclasses.replace(found.storage, url=url))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(config: Config, clock: Clock, classifier: ModelClassifier) -> AsyncIterator[App]:
    async with open_app(config, clock=clock, classifier=classifier) as app:
        await load_sample_roster(app)
        yield app


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def sender(app: App, transport: RecordingTransport) -> OutboxSender:
    return app.sender([transport])


@pytest.fixture
def chat(app: App, transport: RecordingTransport, sender: OutboxSender) -> Callable[..., Chat]:
    def make(user: str, **kwargs: object) -> Chat:
        return Chat(app, transport, sender, user, **kwargs)  # type: ignore[arg-type]

    return make
