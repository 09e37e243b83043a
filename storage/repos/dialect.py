"""The SQL fragments that differ between SQLite and PostgreSQL, each pair side by side.

A repository asks its database's `dialect` ("sqlite" or "postgresql") and keeps the
rest of a statement common to both."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
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


def one_of(dialect: str, column: str) -> str:
    """`column` is one of a list given as one parameter (`as_list_param`): one statement text
    however long the list, so it is cached and prepared. PostgreSQL: `= ANY(array)`; SQLite:
    the list as JSON, read by json_each (no placeholder limit either)."""
    if dialect == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(?))"
    return f"{column} = ANY(?)"


def as_list_param(dialect: str, values: Iterable[Any]) -> Any:
    """The parameter of `one_of`: a JSON array for SQLite, a list (an array) for psycopg."""
    if dialect == "sqlite":
        return json.dumps(list(values), ensure_ascii=False)
    return list(values)


def aggregated(dialect: str, column: str) -> str:
    """The values of `column` over the rows of a query as one value (`from_aggregated`), so
    that hundreds of rows come back as one: PostgreSQL's array_agg, SQLite's json_group_array."""
    if dialect == "sqlite":
        return f"json_group_array({column})"
    return f"array_agg({column})"


def from_aggregated(dialect: str, value: Any) -> Sequence[Any]:
    """The list `aggregated` made (array_agg gives NULL over no rows)."""
    if value is None:
        return []
    if dialect == "sqlite":
        decoded: list[Any] = json.loads(value)
        return decoded
    return list(value)
