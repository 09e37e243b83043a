"""The SQL fragments that differ between SQLite and PostgreSQL, each pair side by side.

A repository asks its database's `dialect` ("sqlite" or "postgresql") and keeps the
rest of a statement common to both."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def mine_key(dialect: str, columns: str) -> str:
    """The ON CONFLICT target for a key whose column is SQLite's INTEGER PRIMARY KEY (the
    rowid): `mine, columns` on PostgreSQL, where every key leads with the mine; `columns` on
    SQLite, which cannot target a composite index holding the rowid and serves one mine.
    Every other target is written `(mine, …)` on both dialects."""
    return columns if dialect == "sqlite" else f"mine, {columns}"


def indexed_by(dialect: str, index: str) -> str:
    """SQLite's `INDEXED BY` planner hint; PostgreSQL has none (its planner picks)."""
    return f" INDEXED BY {index}" if dialect == "sqlite" else ""


def day_number(dialect: str, moment: str) -> str:
    """`moment` (an ISO-8601 text time) as a real number of days, so that the difference of
    two is the days between them, fractions included."""
    if dialect == "sqlite":
        return f"julianday({moment})"
    return f"EXTRACT(EPOCH FROM CAST({moment} AS timestamptz))::float8 / 86400"


def joined(dialect: str, value: str, source: str, order: str | None = None) -> str:
    """A scalar subquery joining `value` of the rows of `source` (FROM … WHERE …) with
    spaces, in `order` (None: any order). SQLite's group_concat follows the order of a
    subquery; PostgreSQL's string_agg takes the order itself."""
    if dialect == "sqlite":
        if order is None:
            return f"(SELECT group_concat({value}, ' ') {source})"
        return f"(SELECT group_concat(v, ' ') FROM (SELECT {value} AS v {source} ORDER BY {order}))"
    ordered = f" ORDER BY {order}" if order is not None else ""
    return f"(SELECT string_agg(CAST({value} AS TEXT), ' '{ordered}) {source})"


def match_query(dialect: str, terms: Iterable[str], *, every: bool) -> str:
    """The full-text query holding every one (`every`) or any of `terms`, each term as
    a phrase of its own words. SQLite: FTS5 query syntax, each term double-quoted.
    PostgreSQL: tsquery syntax for to_tsquery('simple', …), each term single-quoted (a
    quote doubled, a backslash escaped), so no character of a term acts as an operator;
    a term without a word in it is dropped by PostgreSQL as FTS5 drops an empty phrase."""
    ordered = sorted(set(terms))
    if dialect == "sqlite":
        return (" " if every else " OR ").join('"' + t.replace('"', '""') + '"' for t in ordered)
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in ordered)
    return (" & " if every else " | ").join(quoted)


def json_list(values: Iterable[Any]) -> str:
    """A list as one JSON parameter, read by SQLite's `json_each(?)` and PostgreSQL's
    `json_array_elements_text(CAST(? AS json))`: one statement text however long the list
    (so it is cached and prepared, and no placeholder limit applies), and on psycopg one
    string to send where an array parameter is dumped element by element in Python (0.28 ms
    for 300 terms against 0.03 ms for `json.dumps`; BENCHMARKS.md, issue 20)."""
    return json.dumps(list(values), ensure_ascii=False)


def json_object_agg(dialect: str, key: str, value: str) -> str:
    """The rows' (`key`, `value`) pairs as one JSON object (`from_json_object`): hundreds of
    rows come back as one value. SQLite's json_group_object, PostgreSQL's json_object_agg."""
    if dialect == "sqlite":
        return f"json_group_object({key}, {value})"
    return f"json_object_agg({key}, {value})"


def from_json_object(value: Any) -> dict[str, Any]:
    """The object `json_object_agg` made: text on SQLite, already decoded by psycopg, NULL
    (None) on PostgreSQL over no rows."""
    if value is None:
        return {}
    decoded: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return decoded
