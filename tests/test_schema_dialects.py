"""Both dialects' migrations end with the same schema: tables, columns (names, order,
nullability), primary keys, unique constraints and indexes, foreign keys.

Keys are compared without their leading `mine`: on PostgreSQL every key of a tenant table
leads with it (the same ids exist once per mine), on SQLite (one mine) the keys are as they
were, plus a mine-first twin of each key an `ON CONFLICT (mine, …)` names. So `mine` is
stripped from the front of PostgreSQL's keys and foreign keys and of SQLite's unique
indexes, and a SQLite twin of the primary key is not counted as a unique index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storage.port import SqlDatabase
from tests.conftest import OpenDatabase

# Objects only one dialect has, on purpose:
SQLITE_ONLY = {
    # FTS5's virtual table and its shadow tables; PostgreSQL has a plain idea_terms table
    # (id, terms, tsv) with a GIN index instead, so the two are not comparable column by column.
    "idea_terms",
    "idea_terms_config",
    "idea_terms_content",
    "idea_terms_data",
    "idea_terms_docsize",
    "idea_terms_idx",
}
POSTGRES_ONLY = {
    "idea_terms",  # the tsvector table standing for FTS5 (above), a tenant table with `mine`
    # the term → idea postings the PostgreSQL similar-idea search reads under row-level
    # security (a key range, where idea_terms' `@@` is a filter); FTS5 needs none
    "idea_term_postings",
    "schema_version",  # PostgreSQL's record of applied migrations; SQLite has PRAGMA user_version
}
_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

Schema = dict[str, dict[str, Any]]

GLOBAL_TABLES = {
    "schema_version",
    "inbox",
    "outbox",
    "conversations",
    "button_menus",
    "heartbeats",
    "leases",
    "mines",
    "chat_mines",
    "web_links",
    "web_sessions",
    "web_audit",
}
"""Tables shared by every mine (no `mine` column, or `mine` as data: chat_mines and the web
看板's, whose rows are found by a cookie before the mine is known); all the others are tenant
tables."""
MINE_AS_DATA = {"chat_mines", "web_links", "web_sessions", "web_audit"}


def _unmined(columns: tuple[str, ...]) -> tuple[str, ...]:
    """A key without its leading `mine` (a key of `mine` alone, as chat_mines' reference to
    mines, stays)."""
    return columns[1:] if len(columns) > 1 and columns[0] == "mine" else columns


async def sqlite_schema(db: SqlDatabase) -> Schema:
    tables = [
        row[0]
        for row in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    schema: Schema = {}
    for table in sorted(set(tables) - SQLITE_ONLY):
        columns = await db.fetchall(
            'SELECT name, "notnull", pk FROM pragma_table_info(?) ORDER BY cid', [table]
        )
        unique = set()
        for index in await db.fetchall(
            "SELECT name, partial FROM pragma_index_list(?)"
            " WHERE \"unique\" = 1 AND origin <> 'pk'",
            [table],
        ):
            cols = await db.fetchall(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno", [index["name"]]
            )
            unique.add((_unmined(tuple(c[0] for c in cols)), bool(index["partial"])))
        keys: dict[int, list[Any]] = {}
        for fk in await db.fetchall(
            'SELECT id, "from", "table", "to", on_delete FROM pragma_foreign_key_list(?)'
            " ORDER BY id, seq",
            [table],
        ):
            entry = keys.setdefault(fk["id"], [[], fk["table"], [], fk["on_delete"]])
            entry[0].append(fk["from"])
            entry[2].append(fk["to"])
        primary_key = tuple(c["name"] for c in sorted(columns, key=lambda c: c["pk"]) if c["pk"])
        schema[table] = {
            # a primary key column is never NULL in PostgreSQL; SQLite's pragma says notnull=0
            "columns": [(c["name"], not (c["notnull"] or c["pk"])) for c in columns],
            "primary_key": primary_key,
            "unique": unique - {(primary_key, False)},
            "foreign_keys": {(tuple(f), t, tuple(to), d) for f, t, to, d in keys.values()},
        }
    return schema


async def postgres_schema(db: SqlDatabase) -> Schema:
    tables = [
        row[0]
        for row in await db.fetchall(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    schema: Schema = {}
    for table in sorted(set(tables) - POSTGRES_ONLY):
        columns = await db.fetchall(
            "SELECT column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        pk = await db.fetchall(
            "SELECT a.attname FROM pg_constraint c"
            " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
            " WHERE c.conrelid = ?::regclass AND c.contype = 'p' ORDER BY k.n",
            [table],
        )
        unique = set()
        for index in await db.fetchall(
            "SELECT i.indexrelid, i.indpred IS NOT NULL AS partial FROM pg_index i"
            " WHERE i.indrelid = ?::regclass AND i.indisunique AND NOT i.indisprimary",
            [table],
        ):
            cols = await db.fetchall(
                "SELECT a.attname FROM pg_index i"
                " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                " WHERE i.indexrelid = ? ORDER BY k.n",
                [index["indexrelid"]],
            )
            unique.add((_unmined(tuple(c[0] for c in cols)), bool(index["partial"])))
        foreign_keys = set()
        for fk in await db.fetchall(
            "SELECT c.oid, c.confrelid::regclass::text AS target, c.confdeltype"
            " FROM pg_constraint c"
            " WHERE c.conrelid = ?::regclass AND c.contype = 'f'",
            [table],
        ):
            pairs = await db.fetchall(
                "SELECT a.attname AS src, b.attname AS dst FROM pg_constraint c"
                " CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(s, d, n)"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.s"
                " JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.d"
                " WHERE c.oid = ? ORDER BY k.n",
                [fk["oid"]],
            )
            foreign_keys.add(
                (
                    _unmined(tuple(p["src"] for p in pairs)),
                    fk["target"],
                    _unmined(tuple(p["dst"] for p in pairs)),
                    _ON_DELETE[fk["confdeltype"]],
                )
            )
        schema[table] = {
            "columns": [(c["column_name"], c["is_nullable"] == "YES") for c in columns],
            "primary_key": _unmined(tuple(row[0] for row in pk)),
            "unique": unique,
            "foreign_keys": foreign_keys,
        }
    return schema


async def test_both_dialects_end_with_the_same_schema(
    open_database: OpenDatabase, tmp_path: Path
) -> None:
    async with open_database("sqlite", tmp_path) as lite:
        expected = await sqlite_schema(lite)
    async with open_database("postgresql", tmp_path) as pg:
        found = await postgres_schema(pg)
        tsv = await pg.fetchall(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'idea_terms' ORDER BY ordinal_position"
        )
    assert sorted(found) == sorted(expected)
    for table in expected:
        assert found[table] == expected[table], table
    assert len(expected) > 30  # the comparison saw the whole schema, not an empty one
    assert [row[0] for row in tsv] == ["id", "terms", "tsv", "mine"]


def test_each_dialect_has_the_same_numbered_migrations() -> None:
    """The SQLite loader reads only the top-level files; PostgreSQL's have the same names."""
    from storage.db import _migrations as sqlite_migrations
    from storage.pg import migrations as postgres_migrations

    lite = [(version, name) for version, name, _ in sqlite_migrations()]
    pg = [(version, name) for version, name, _ in postgres_migrations()]
    assert lite == pg
    assert [version for version, _ in lite] == list(range(1, len(lite) + 1))


async def test_every_key_of_a_tenant_table_leads_with_the_mine_on_postgresql(
    open_database: OpenDatabase, tmp_path: Path
) -> None:
    """The stripping above hides nothing: on PostgreSQL each tenant table has `mine` and row
    security, and each of its keys (primary, unique, foreign, both sides) starts with it."""
    async with open_database("postgresql", tmp_path) as pg:
        tables = {
            row[0]: (row[1], row[2])
            for row in await pg.fetchall(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
            )
        }
        mined = {
            row[0]
            for row in await pg.fetchall(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'mine'"
            )
        }
        keys = await pg.fetchall(
            "SELECT c.conrelid::regclass::text, c.conname, c.contype,"
            " (SELECT attname FROM pg_attribute"
            "   WHERE attrelid = c.conrelid AND attnum = c.conkey[1]) AS first,"
            " (SELECT attname FROM pg_attribute"
            "   WHERE attrelid = c.confrelid AND attnum = c.confkey[1]) AS ref_first"
            " FROM pg_constraint c WHERE c.contype IN ('p', 'u', 'f')"
            " AND c.connamespace = 'public'::regnamespace"
        )
        indexes = await pg.fetchall(
            "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, a.attname"
            " FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
            " WHERE i.indisunique AND i.indrelid::regclass::text <> 'schema_version'"
        )
    tenant = set(tables) - GLOBAL_TABLES
    assert len(tenant) > 30
    assert mined == tenant | MINE_AS_DATA
    assert {t for t, (rls, forced) in tables.items() if rls and forced} == tenant
    for table, name, kind, first, ref_first in keys:
        if table in tenant:
            assert first == "mine", name
            if kind == "f":
                assert ref_first == "mine", name
    for table, name, first in indexes:
        if table in tenant:
            assert first == "mine", name
