"""`storage.url` selects PostgreSQL, `storage.path` keeps SQLite; a bad URL stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import open_storage
from bot.config import ConfigError, load_config
from storage.db import Database
from storage.pg import PgDatabase, migrations
from tests.storage_backends import PostgresServer
from tests.support import ROOT, cli, project_config


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:p@host/jindianzi",
        "data/jindianzi.db",
        "postgresql://u:p@host:port/jindianzi",
        "postgresql://u:p@host:5432",
    ],
)
def test_a_bad_storage_url_stops_start_up_in_one_line(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "config.yaml", {"JINDIANZI_STORAGE_URL": url})
    message = str(caught.value)
    assert message.startswith("storage.url:") and "\n" not in message
    assert "p@" not in message  # the password is not repeated


def test_the_storage_url_is_a_secret() -> None:
    url = "postgresql://jindianzi:hunter2@db.example:5432/jindianzi"
    config = load_config(ROOT / "config.yaml", {"JINDIANZI_STORAGE_URL": url})
    assert config.storage.url is not None and config.storage.url.get() == url
    assert "hunter2" not in repr(config.storage)


async def test_storage_path_keeps_sqlite(tmp_path: Path) -> None:
    async with open_storage(project_config(tmp_path / "j.db")) as repos:
        assert isinstance(repos.db, Database) and repos.db.dialect == "sqlite"


async def test_storage_url_opens_postgresql(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    config = project_config(
        tmp_path / "j.db", JINDIANZI_STORAGE_URL=postgres_server.fresh_database()
    )
    async with open_storage(config) as repos:
        assert isinstance(repos.db, PgDatabase) and repos.db.dialect == "postgresql"
        assert await repos.db.schema_version() == len(migrations())
    assert not (tmp_path / "j.db").exists()


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    done = cli(
        "status",
        db=tmp_path / "j.db",
        extra_env={"JINDIANZI_STORAGE_URL": "postgresql://u:secret@127.0.0.1:1/jindianzi"},
    )
    assert done.returncode == 2
    assert "PostgreSQL" in done.stderr and "secret" not in done.stderr
