"""The PostgreSQL adapter keeps the storage port's promises, beside SQLite where both apply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database, SchemaTooNew, constraint_errors
from storage.errors import ConstraintViolation, Duplicate, StorageError
from storage.pg import PgDatabase, check_url, migrations, to_pyformat
from storage.port import SqlDatabase
from tests.conftest import OpenDatabase
from tests.storage_backends import BACKENDS, Backend, PostgresServer, _free_port

NOW = "2026-12-01T08:00:00+00:00"


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, open_database: OpenDatabase, tmp_path: Path
) -> AsyncIterator[SqlDatabase]:
    backend: Backend = request.param
    async with open_database(backend, tmp_path) as database:
        await database.execute("INSERT INTO departments (id, name) VALUES ('d1', '宣传部')")
        await database.execute(
            "INSERT INTO branches (id, name, department_id) VALUES ('b1', '机掘二队', 'd1')"
        )
        yield database


async def add_person(db: SqlDatabase, employee_no: str, branch: str = "b1") -> int:
    with constraint_errors():  # how repositories write: SQLite's errors become the port's
        return await db.insert(
            "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (employee_no, "张三", branch, NOW, NOW),
        )


async def people(db: SqlDatabase, like: str = "%") -> list[str]:
    rows = await db.reader.fetchall(
        "SELECT employee_no FROM people WHERE employee_no LIKE ? ORDER BY id", (like,)
    )
    return [row["employee_no"] for row in rows]


async def test_insert_returns_the_new_ids(db: SqlDatabase) -> None:
    assert [await add_person(db, "E001"), await add_person(db, "E002")] == [1, 2]
    returned = await db.insert(
        "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
        " VALUES (?, '李四', 'b1', ?, ?) RETURNING id",
        ("E003", NOW, NOW),
    )
    assert returned == 3


async def test_rows_answer_by_position_and_by_name(db: SqlDatabase) -> None:
    await add_person(db, "E001")
    row = await db.fetchone(
        "SELECT id, employee_no AS no, name FROM people WHERE employee_no = ?", ["E001"]
    )
    assert row is not None
    assert (row[0], row[1], row[2]) == (1, "E001", "张三")
    assert (row["id"], row["no"], row["NAME"]) == (1, "E001", "张三")
    assert row.keys() == ["id", "no", "name"]
    assert (len(row), tuple(row)) == (3, (1, "E001", "张三"))
    assert dict(zip(row.keys(), row, strict=True)) == {"id": 1, "no": "E001", "name": "张三"}


async def test_question_marks_and_percent_signs_in_literals_stay_text(db: SqlDatabase) -> None:
    row = await db.fetchone("SELECT '问?' AS q, '100%' AS p, ? AS v -- why? 5%", ("x",))
    assert row is not None
    assert (row["q"], row["p"], row["v"]) == ("问?", "100%", "x")


async def test_a_transaction_commits_together(db: SqlDatabase) -> None:
    async with db.transaction():
        await add_person(db, "E001")
        await add_person(db, "E002")
        assert await people(db) == []  # the reader sees only commits
        assert (await db.fetchone("SELECT count(*) FROM people"))[0] == 2  # type: ignore[index]
    assert await people(db) == ["E001", "E002"]


async def test_an_exception_rolls_everything_back(db: SqlDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await add_person(db, "E001")
            async with db.transaction():
                await add_person(db, "E002")
            raise RuntimeError("boom")
    assert await people(db) == []


async def test_a_nested_failure_rolls_back_only_its_savepoint(db: SqlDatabase) -> None:
    async with db.transaction():
        await add_person(db, "E001")
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await add_person(db, "E002")
                raise RuntimeError("boom")
        async with db.transaction():
            await add_person(db, "E003")
    assert await people(db) == ["E001", "E003"]


async def test_concurrent_transactions_keep_to_themselves(db: SqlDatabase) -> None:
    seen_by_a: list[str] = []

    async def unit(prefix: str, fail: bool) -> None:
        async with db.transaction():
            for n in range(3):
                await add_person(db, f"{prefix}{n}")
                await asyncio.sleep(0.01)
            rows = await db.fetchall("SELECT employee_no FROM people ORDER BY employee_no")
            if prefix == "A":
                seen_by_a.extend(row[0] for row in rows)
            if fail:
                raise RuntimeError("B fails")

    results = await asyncio.gather(unit("A", False), unit("B", True), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], RuntimeError)
    assert seen_by_a == ["A0", "A1", "A2"]  # nothing of B's, uncommitted or rolled back
    assert await people(db) == ["A0", "A1", "A2"]


async def test_a_unique_violation_is_a_duplicate(db: SqlDatabase) -> None:
    await add_person(db, "E001")
    with pytest.raises(Duplicate):
        await add_person(db, "E001")


async def test_a_duplicate_caught_in_a_savepoint_leaves_the_transaction_usable(
    db: SqlDatabase,
) -> None:
    """PostgreSQL aborts a transaction at its first failed statement; a nested transaction
    (a savepoint) around a write whose failure is expected keeps it going on both engines."""
    await add_person(db, "E001")
    async with db.transaction():
        with pytest.raises(Duplicate):
            async with db.transaction():
                await add_person(db, "E001")
        await add_person(db, "E002")
    assert await people(db) == ["E001", "E002"]


async def test_a_foreign_key_violation_is_a_constraint_violation(db: SqlDatabase) -> None:
    with pytest.raises(ConstraintViolation) as caught:
        await add_person(db, "E001", branch="nowhere")
    assert not isinstance(caught.value, Duplicate)


async def test_schema_version_is_the_number_of_migrations(db: SqlDatabase) -> None:
    assert await db.schema_version() == len(migrations()) > 0


async def test_dialect_names_the_engine(db: SqlDatabase) -> None:
    assert db.dialect == ("sqlite" if isinstance(db, Database) else "postgresql")


# PostgreSQL only


async def test_postgres_maps_errors_without_the_sqlite_wrapper(
    open_database: OpenDatabase, tmp_path: Path
) -> None:
    async with open_database("postgresql", tmp_path) as pg:
        with pytest.raises(ConstraintViolation):
            await pg.execute(
                "INSERT INTO branches (id, name, department_id) VALUES ('x', 'x', ?)", ["no"]
            )
        await pg.execute("INSERT INTO departments (id, name) VALUES ('d1', 'x')")
        with pytest.raises(Duplicate):
            await pg.execute("INSERT INTO departments (id, name) VALUES ('d1', 'y')")
        with pytest.raises(StorageError, match="refused a statement"):
            await pg.fetchall("SELECT nonsense FROM nowhere")


async def test_postgres_backup_says_to_use_pg_dump(
    open_database: OpenDatabase, tmp_path: Path
) -> None:
    async with open_database("postgresql", tmp_path) as pg:
        with pytest.raises(StorageError, match="pg_dump"):
            await pg.backup(tmp_path / "copy")


@pytest.mark.parametrize(
    "url",
    ["mysql://localhost/jindianzi", "data/jindianzi.db", "postgresql://host:notaport/db"],
)
async def test_a_bad_url_is_a_clear_storage_error(url: str) -> None:
    with pytest.raises(StorageError, match="bad PostgreSQL URL"):
        check_url(url)
    with pytest.raises(StorageError, match="bad PostgreSQL URL"):
        async with PgDatabase.open(url):
            pass


async def test_an_unreachable_server_is_a_clear_storage_error() -> None:
    url = f"postgresql://jindianzi:secret@127.0.0.1:{_free_port()}/jindianzi"
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL at") as caught:
        async with PgDatabase.open(url, connect_timeout_s=2):
            pass
    assert "secret" not in str(caught.value)  # the password never shows


async def test_two_processes_opening_together_migrate_once(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create()  # empty: nothing migrated yet

    async def start() -> int:
        async with PgDatabase.open(url, max_size=1) as pg:
            return await pg.schema_version()

    known = len(migrations())
    assert list(await asyncio.gather(start(), start(), start())) == [known] * 3
    async with PgDatabase.open(url, max_size=1) as pg:
        rows = await pg.fetchall("SELECT version FROM schema_version ORDER BY version")
    assert [row[0] for row in rows] == list(range(1, known + 1))  # each applied once


def test_placeholders_are_translated_outside_quotes_only() -> None:
    assert to_pyformat("SELECT ? , 'a?%' , \"b?\" , ? % 2") == (
        "SELECT %s , 'a?%%' , \"b?\" , %s %% 2"
    )
    assert to_pyformat("SELECT 'it''s ?', ? -- ?\n, ? /* ? */") == (
        "SELECT 'it''s ?', %s -- ?\n, %s /* ? */"
    )


async def test_a_newer_schema_refuses_to_open(postgres_server: PostgresServer) -> None:
    url = postgres_server.fresh_database()
    async with PgDatabase.open(url, max_size=1) as pg:
        await pg.execute(
            "INSERT INTO schema_version (version, name) VALUES (99, '0099_future.sql')"
        )
    with pytest.raises(SchemaTooNew):
        async with PgDatabase.open(url, max_size=1):
            pass


async def test_jieba_tokens_are_searchable_as_a_tsvector(
    open_database: OpenDatabase, tmp_path: Path
) -> None:
    """The FTS5 stand-in: space-separated tokens, 'simple' configuration, GIN-indexed."""
    async with open_database("postgresql", tmp_path) as pg:
        await pg.execute("INSERT INTO departments (id, name) VALUES ('d1', '宣传部')")
        await pg.execute("INSERT INTO branches (id, name, department_id) VALUES ('b1', 'x', 'd1')")
        person = await add_person(pg, "E001")
        for text in ("锚杆 回收 复用", "皮带 托辊 更换"):
            idea = await pg.insert(
                "INSERT INTO ideas (author_id, branch_id, text, category, confidence, channel,"
                " created_at, updated_at) VALUES (?, 'b1', ?, 'other', 0.5, 'console', ?, ?)",
                (person, text, NOW, NOW),
            )
            await pg.execute("INSERT INTO idea_terms (id, terms) VALUES (?, ?)", (idea, text))
        rows = await pg.fetchall(
            "SELECT id FROM idea_terms WHERE tsv @@ to_tsquery('simple', ?) ORDER BY id",
            ["锚杆 | 托辊"],
        )
        assert [row["id"] for row in rows] == [1, 2]
        rows = await pg.fetchall(
            "SELECT id FROM idea_terms WHERE tsv @@ to_tsquery('simple', ?)", ["回收 & 复用"]
        )
        assert [row["id"] for row in rows] == [1]
