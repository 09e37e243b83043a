"""Contract: mines as tenants (issue 20). On PostgreSQL several mines share one database and
each sees only its own rows, through the real repositories over `db.scoped(mine)`; scope
'*' reads every mine and writes none; the chat-keyed process tables are shared. SQLite
serves one mine, 'main', and says so when asked for another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from storage import (
    Branch,
    ConstraintViolation,
    Department,
    Duplicate,
    Repositories,
    Role,
    RosterEntry,
    SqlDatabase,
    StorageError,
)
from storage.pg import PgDatabase
from tests.conftest import OpenDatabase
from tests.contract.seed import T0, at
from tests.storage_backends import PostgresServer

MINES = ("a", "b")


@pytest.fixture
async def pg(open_database: OpenDatabase, tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    """A fresh PostgreSQL database as the tests' ordinary role, seen as mine 'main', with
    the mines a and b in the directory (as the app puts its configured mines there): the
    group scope reads the directory's mines."""
    async with open_database("postgresql", tmp_path) as db:
        await Repositories(db).mines.sync((m, f"{m}矿") for m in MINES)
        yield db


async def seed_mine(db: SqlDatabase) -> Repositories:
    """The same department, branch and employee number in every mine, names telling the
    mine apart; an idea of the employee's."""
    repos = Repositories(db)
    mine = db.mine
    await repos.org.sync([Department("d1", f"{mine}组织部")], [Branch("b01", f"{mine}支部", "d1")])
    async with db.transaction():
        entry = RosterEntry("E001", f"{mine}张三", "b01", (Role("worker"),), None)
        await repos.people.upsert_roster([entry], T0)
    author = await repos.people.by_employee_no("E001")
    assert author is not None
    await repos.ideas.add(
        author=author, text=f"{mine}矿的金点子", category="other", confidence=0.5,
        channel="console", now=at(1),
    )  # fmt: skip
    await repos.job_runs.record("monday", "2026-W10", "done", T0, T0, 1)
    return repos


async def test_the_same_ids_live_once_in_each_mine_and_each_scope_sees_its_own(
    pg: SqlDatabase,
) -> None:
    repos = {mine: await seed_mine(pg.scoped(mine)) for mine in MINES}
    for mine, r in repos.items():
        person = await r.people.by_employee_no("E001")
        assert person is not None and person.name == f"{mine}张三"
        assert await r.org.branches() == [Branch("b01", f"{mine}支部", "d1")]
        assert [d.name for d in await r.org.department_names()] == [f"{mine}组织部"]
        assert await r.people.count() == 1
        ideas = await r.ideas.by_author(person.id, limit=10, offset=0)
        assert [i.text for i in ideas] == [f"{mine}矿的金点子"]
        assert await r.job_runs.status("monday", "2026-W10") == "done"
        rows = await r.db.reader.fetchall("SELECT DISTINCT mine FROM people")
        assert [row[0] for row in rows] == [mine]  # the reader keeps the scope too
    a_idea = (await pg.scoped("a").fetchall("SELECT id FROM ideas"))[0][0]
    assert await repos["b"].ideas.get(a_idea) is None  # an id of another mine finds nothing
    assert await Repositories(pg).people.count() == 0  # 'main' has none of theirs


async def test_the_group_scope_reads_every_mine_and_writes_none(pg: SqlDatabase) -> None:
    for mine in MINES:
        await seed_mine(pg.scoped(mine))
    group = pg.scoped("*")
    rows = await group.fetchall("SELECT mine, id FROM branches ORDER BY mine")
    assert [tuple(r) for r in rows] == [("a", "b01"), ("b", "b01")]
    assert await Repositories(group).people.count() == 2
    with pytest.raises(StorageError, match="row-level security"):
        await group.execute("INSERT INTO departments (id, name) VALUES ('x', 'x')")
    with pytest.raises(StorageError, match="row-level security"):
        await group.execute("INSERT INTO departments (mine, id, name) VALUES ('a', 'x', 'x')")
    with pytest.raises(StorageError, match="row-level security"):
        await group.execute("UPDATE people SET name = 'x'")
    assert await group.execute("DELETE FROM job_runs") == 0
    assert len(await group.fetchall("SELECT 1 FROM job_runs")) == 2


async def test_a_mine_s_rows_are_read_through_its_index(pg: SqlDatabase) -> None:
    """The policy is an index condition: with sequential scans priced out, a mine's query
    (and the group's) still plans on a mine-first index, whereas a policy no index could
    enter (0027's OR) left only a scan of every mine's rows."""
    for mine in MINES:
        await seed_mine(pg.scoped(mine))
    for scope in ("a", "*"):
        db = pg.scoped(scope)
        async with db.transaction():
            await db.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                str(r[0]) for r in await db.fetchall("EXPLAIN SELECT name FROM people WHERE id = 1")
            )
            assert "Index" in plan and "mine = ANY" in plan, plan
            assert "Seq Scan" not in plan, plan


async def test_no_row_reaches_into_another_mine(pg: SqlDatabase) -> None:
    await seed_mine(pg.scoped("a"))
    b = pg.scoped("b")
    # Mine a's department d1 is no department of mine b's: the key includes the mine.
    with pytest.raises(ConstraintViolation):
        await b.execute("INSERT INTO branches (id, name, department_id) VALUES ('b01', 'x', 'd1')")
    # Nor can a scope write a row of another mine by naming it.
    with pytest.raises(StorageError, match="row-level security"):
        await b.execute("INSERT INTO departments (mine, id, name) VALUES ('a', 'd2', 'x')")
    a_person = (await pg.scoped("a").fetchall("SELECT id FROM people"))[0][0]
    await Repositories(b).org.sync([Department("d1", "b部")], [Branch("b01", "b支部", "d1")])
    with pytest.raises(ConstraintViolation):  # a person id of mine a is no person of b's
        await b.execute(
            "INSERT INTO ideas (author_id, branch_id, text, category, confidence, channel,"
            " created_at, updated_at) VALUES (?, 'b01', 't', 'other', 0.5, 'console', '', '')",
            (a_person,),
        )


async def test_a_statement_without_a_scope_sees_and_writes_nothing(
    pg: SqlDatabase, postgres_server: PostgresServer
) -> None:
    """Only the adapter sets the scope; SQL run beside it (as the same role) cannot forget
    the mine and get every mine's rows: it gets none, and cannot write."""
    await seed_mine(pg.scoped("a"))
    assert isinstance(pg, PgDatabase)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone() == (0,)
        with pytest.raises(psycopg.errors.UndefinedObject):  # the column default needs a scope
            conn.execute("INSERT INTO departments (id, name) VALUES ('x', 'x')")


async def test_inbox_and_outbox_are_shared_by_every_mine(pg: SqlDatabase) -> None:
    a, b = Repositories(pg.scoped("a")), Repositories(pg.scoped("b"))
    assert await a.inbox.store("telegram", "101", "{}", T0) is True
    assert await b.inbox.store("telegram", "101", "{}", T0) is False
    assert await b.inbox.status("telegram", "101") == "pending"
    sent = {"text": "你好"}
    assert await a.outbox.enqueue(channel="telegram", chat_id="1", payload=sent,
                                  dedupe_key="k1", now=T0) is True  # fmt: skip
    assert await b.outbox.enqueue(channel="telegram", chat_id="1", payload=sent,
                                  dedupe_key="k1", now=T0) is False  # fmt: skip
    await a.heartbeats.beat("poll", T0)
    assert list(await b.heartbeats.all()) == ["poll"]


async def test_savepoints_switch_mines_inside_one_transaction(pg: SqlDatabase) -> None:
    """A group-level unit of work handles one mine's update after another's, each in a
    savepoint of its mine: every write lands in its own mine, a rolled-back one in none."""
    group, a, b = pg.scoped("*"), pg.scoped("a"), pg.scoped("b")
    dept = "INSERT INTO departments (id, name) VALUES (?, ?)"
    async with group.transaction():
        assert await group.fetchall("SELECT id FROM departments") == []
        async with a.transaction():
            await a.execute(dept, ("d1", "a-1"))
        async with b.transaction():
            await b.execute(dept, ("d1", "b-1"))
        await a.execute(dept, ("d2", "a-2"))  # straight in the outer transaction, as mine a
        with pytest.raises(RuntimeError):
            async with b.transaction():
                await b.execute(dept, ("d3", "b-lost"))
                raise RuntimeError("this update fails")
        # The rollback put mine a's setting back; the adapter knows it and writes as a.
        await a.execute(dept, ("d4", "a-4"))
        async with b.transaction():
            await Repositories(b).org.sync([Department("d5", "b-5")], [])
        await b.execute(dept, ("d6", "b-6"))
        with pytest.raises(RuntimeError):
            async with a.transaction():
                await a.execute(dept, ("d7", "a-lost"))
                raise RuntimeError("this update fails")
        # Mine b's setting is back (the savepoint began with it): b writes as b, a as a.
        await a.execute(dept, ("d8", "a-8"))
        rows = await group.fetchall("SELECT mine, id FROM departments ORDER BY mine, id")
        assert [tuple(r) for r in rows] == [
            ("a", "d1"),
            ("a", "d2"),
            ("a", "d4"),
            ("a", "d8"),
            ("b", "d1"),
            ("b", "d5"),
            ("b", "d6"),
        ]
    assert await Repositories(a).org.department_ids() == {"d1", "d2", "d4", "d8"}
    assert await Repositories(b).org.department_ids() == {"d1", "d5", "d6"}


async def test_a_scope_outlives_nothing_of_its_transaction(pg: SqlDatabase) -> None:
    """After a unit of work of mine b, the pooled connection serves mine a as a."""
    b, a = pg.scoped("b"), pg.scoped("a")
    async with b.transaction():
        await b.execute("INSERT INTO departments (id, name) VALUES ('d1', 'b')")
    for _ in range(3):  # whichever pooled connection each statement gets
        assert await a.fetchall("SELECT id FROM departments") == []
        assert await a.reader.fetchall("SELECT id FROM departments") == []


async def test_pooled_connections_carry_a_mine_between_statements_and_serve_each_as_its_own(
    pg: SqlDatabase,
) -> None:
    """A statement alone keeps its mine on the pooled connection's session (one round trip
    the next time the same mine reads there); whichever mine takes that connection next,
    alone, in a transaction or after a failed one, reads and writes its own rows only."""
    views = [pg.scoped(m) for m in ("a", "b")]
    dept = "INSERT INTO departments (id, name) VALUES (?, ?)"
    for view in views:
        await view.execute(dept, ("d1", view.mine))

    async def check(view: SqlDatabase, turn: int) -> None:
        rows = await view.fetchall("SELECT mine, name FROM departments WHERE id = 'd1'")
        assert [tuple(r) for r in rows] == [(view.mine, view.mine)]
        if turn % 3 == 0:
            with pytest.raises(Duplicate):  # a failed statement alone
                await view.execute(dept, ("d1", "again"))
        if turn % 3 == 1:
            with pytest.raises(RuntimeError):  # a unit of work rolled back
                async with view.transaction():
                    await view.execute(dept, (f"lost{turn}", view.mine))
                    raise RuntimeError("rolled back")
        async with view.transaction():
            await view.execute(dept, (f"t{turn}", view.mine))
        others = await view.reader.fetchone("SELECT count(*) FROM departments WHERE mine <> ?",
                                            (view.mine,))  # fmt: skip
        assert others is not None and others[0] == 0

    await asyncio.gather(*(check(views[i % 2], i) for i in range(40)))
    for view in views:
        names = {r[0] for r in await view.fetchall("SELECT DISTINCT name FROM departments")}
        assert names == {view.mine}
        count = await view.fetchone("SELECT count(*) FROM departments")
        assert count is not None and count[0] == 1 + 20

    async def setting(view: SqlDatabase) -> str:
        rows = await view.fetchall("SELECT current_setting('jindianzi.mine')")
        return str(rows[0][0])

    async with views[0].transaction():  # the session's mine is where a transaction begins
        assert [await setting(v) for v in views] == ["a", "b"]
    assert [await setting(v) for v in (*views, views[0])] == ["a", "b", "a"]


async def test_only_an_ordinary_role_enforces_tenancy(
    pg: SqlDatabase, postgres_server: PostgresServer
) -> None:
    assert isinstance(pg, PgDatabase)
    assert await pg.enforces_tenancy() is True
    assert await pg.scoped("a").enforces_tenancy() is True
    async with PgDatabase.open(postgres_server.as_admin(pg.url), max_size=1) as admin:
        assert await admin.enforces_tenancy() is False


async def test_a_scope_is_a_mine_id(pg: SqlDatabase) -> None:
    assert pg.mine == "main"
    assert pg.scoped("main") is pg
    assert pg.scoped("a").scoped("main").mine == "main"
    for bad in ("", " a", "a "):
        with pytest.raises(StorageError, match="mine"):
            pg.scoped(bad)


async def test_sqlite_serves_the_main_mine_and_refuses_any_other(
    open_database: OpenDatabase, tmp_path: Path
) -> None:
    async with open_database("sqlite", tmp_path) as db:
        assert db.mine == "main"
        assert db.scoped("main") is db
        with pytest.raises(StorageError, match="PostgreSQL") as refused:
            db.scoped("b")
        assert "SQLite 只服务一个矿" in str(refused.value)
        repos = await seed_mine(db)
        rows = await db.fetchall("SELECT DISTINCT mine FROM people")
        assert [r[0] for r in rows] == ["main"]
        assert [tuple(r) for r in await db.fetchall("SELECT id FROM mines")] == [("main",)]
        assert await repos.people.count() == 1


async def test_rows_stored_before_the_migration_belong_to_main(
    postgres_server: PostgresServer,
) -> None:
    """A database of one mine, migrated up to the mines migration, is mine 'main': its rows
    keep their keys and show through the default scope, and through no other."""
    from storage.pg import _SCHEMA_VERSION, migrations

    url = postgres_server.create()
    mines = next(m[0] for m in migrations() if m[1].endswith("_mines.sql"))
    before = [m for m in migrations() if m[0] < mines]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_SCHEMA_VERSION)
        for version, name, text in before:
            with conn.transaction():
                conn.execute(text.encode())
                conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
                )
        conn.execute("INSERT INTO departments (id, name) VALUES ('d1', '组织部')")
        conn.execute("INSERT INTO branches (id, name, department_id) VALUES ('b01', '支部', 'd1')")
    async with PgDatabase.open(url, max_size=2) as db:
        assert await Repositories(db).org.branches() == [Branch("b01", "支部", "d1")]
        assert await Repositories(db.scoped("b")).org.branches() == []
        rows = await db.fetchall("SELECT mine, id FROM departments")
        assert [tuple(r) for r in rows] == [("main", "d1")]


async def test_the_postings_migration_backfills_every_mine_as_index_terms_writes_them(
    postgres_server: PostgresServer,
) -> None:
    """Migration 0031 runs with no scope, as the owner whom FORCE binds too, and still fills
    idea_term_postings from every mine's idea_terms: each idea's terms once, lower-cased as
    Python lower-cases them (here: terms as the classifier makes them, and ASCII capitals)."""
    from storage.pg import migrations

    postings = next(m for m in migrations() if m[1].endswith("_term_postings.sql"))
    url = postgres_server.fresh_database()
    terms = {"a": ["锚杆", "回收", "锚杆", "dn50"], "b": ["PLC", "é", "ς", "ß", "5mm"]}
    async with PgDatabase.open(url, max_size=2) as db:
        await Repositories(db).mines.sync((m, f"{m}矿") for m in MINES)
        for mine in MINES:
            repos = await seed_mine(db.scoped(mine))
            (idea,) = await repos.ideas.for_branch("b01")
            await repos.ideas.index_terms(idea.id, terms[mine])
        query = "SELECT mine, term, idea_id FROM idea_term_postings ORDER BY 1, 2, 3"
        written = [tuple(r) for r in await db.scoped("*").fetchall(query)]
    assert {(m, t) for m, t, _ in written} == {(m, t.lower()) for m in MINES for t in terms[m]}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE idea_term_postings")
        conn.execute("DELETE FROM schema_version WHERE version = %s", (postings[0],))
    async with PgDatabase.open(url, max_size=2) as db:
        assert [tuple(r) for r in await db.scoped("*").fetchall(query)] == written
        # Forced again: the unforced idea_terms lasted only as long as the migration.
        rows = await db.fetchall(
            "SELECT relname FROM pg_class WHERE relname LIKE 'idea_term%'"
            " AND relrowsecurity AND relforcerowsecurity ORDER BY 1"
        )
        assert [r[0] for r in rows] == ["idea_term_docs", "idea_term_postings", "idea_terms"]
