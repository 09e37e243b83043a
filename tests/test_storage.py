"""The database: settings, migrations, transactions, roster import and online backup."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.app import App, open_storage
from bot.config import Config
from bot.roster import RosterProblems, import_roster
from storage import ConstraintViolation, Database

from .support import Clock, Writer


async def test_connection_settings_and_migrations(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "x" / "j.db") as db:
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # type: ignore[index]  # FULL
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
        assert (await db.fetchone("PRAGMA busy_timeout"))[0] >= 1000  # type: ignore[index]
        version = await db.schema_version()
        assert version >= 1
    async with Database.open(tmp_path / "x" / "j.db") as db:  # reopening applies nothing twice
        assert await db.schema_version() == version


async def test_transaction_rolls_back_everything(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "j.db") as db:
        await db.execute("INSERT INTO departments (id, name) VALUES ('d', '部')")
        with pytest.raises(ConstraintViolation):  # the port's error, never the driver's
            async with db.transaction():
                await db.execute("INSERT INTO departments (id, name) VALUES ('e', '部2')")
                await db.execute(
                    "INSERT INTO branches (id, name, department_id) VALUES ('b', '支部', 'missing')"
                )
        rows = await db.fetchall("SELECT id FROM departments ORDER BY id")
        assert [r["id"] for r in rows] == ["d"]


GOOD = """employee_no,name,branch_id,role,wecom_userid
E100,钱七,zc1,worker,qianqi
E101,孙八,xmc,secretary,
E102,吴九,tf,supervisor:discipline,
"""


async def test_roster_import_good_file(config: Config, tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "r.csv"
    path.write_text(GOOD, encoding="utf-8")
    async with open_storage(config) as repos:
        assert await import_roster(path, repos, clock()) == 3
        person = await repos.people.by_employee_no("E102")
        assert person is not None and [str(r) for r in person.roles] == ["supervisor:discipline"]
        qian = await repos.people.by_employee_no("E100")
        assert qian is not None and qian.wecom_userid == "qianqi"


async def test_roster_in_gbk_from_excel(config: Config, tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(GOOD.encode("gb18030"))
    async with open_storage(config) as repos:
        assert await import_roster(path, repos, clock()) == 3
        person = await repos.people.by_employee_no("E100")
        assert person is not None and person.name == "钱七"


async def test_bad_roster_imports_nothing(config: Config, tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "employee_no,name,branch_id,role\n"
        "E200,好人,zc1,worker\n"
        "E201,坏支部,nowhere,worker\n"
        "E202,坏角色,zc1,king\n"
        "E200,重复,zc1,worker\n"
        "E203,少列,zc1\n"
        "E 204,空格工号,zc1,supervisor:union\n",
        encoding="utf-8",
    )
    async with open_storage(config) as repos:
        with pytest.raises(RosterProblems) as err:
            await import_roster(path, repos, clock())
        assert await repos.people.count() == 0
    lines = err.value.problems
    assert [p.split(":")[0] for p in lines] == [
        "第 3 行",
        "第 4 行",
        "第 5 行",
        "第 6 行",
        "第 7 行",
    ]
    assert "nowhere" in lines[0] and "king" in lines[1] and "第 2 行" in lines[2]


@pytest.mark.sqlite_only(reason="SQLite's online backup API; PostgreSQL is backed up with pg_dump")
async def test_backup_while_writes_go_on(app: App, tmp_path: Path) -> None:
    repos = app.repos
    writer = Writer(app)
    writer.start()
    await asyncio.sleep(0.05)
    target = tmp_path / "backup" / "copy.db"
    at_backup = writer.committed
    await repos.db.backup(target)
    await asyncio.sleep(0.02)
    await writer.stop()
    assert at_backup > 0
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = copy.execute("SELECT count(*) FROM ideas").fetchone()[0]
        ids = [r[0] for r in copy.execute("SELECT id FROM ideas ORDER BY id")]
    finally:
        copy.close()
    assert count >= at_backup
    assert ids == list(range(1, count + 1))  # a consistent prefix, no holes
