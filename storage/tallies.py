"""Counts a unit of work adds, kept until it commits (`SqlDatabase.tally`).

A counter row that every unit of work increments (the number of indexed ideas, the ideas
holding a common word) is locked by the first increment until the unit commits; with
units side by side (PostgreSQL) every other unit touching that row waits for the whole of
the first one. Kept here instead, the unit's increments are summed and written as its
last statements, so the rows are held only while it commits. Each savepoint has a level
of its own: rolled back, its counts go with it; released, they join the level below.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

Key = tuple[str, ...]
"""Where a count goes: (its mine on PostgreSQL,) the table, its key column, its count column."""
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_names(*names: str) -> None:
    """Table and column names are written into the SQL: plain lower-case identifiers only."""
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a plain table or column name: {name!r}")


def adding(key: Key, rows: str) -> str:
    """The upsert adding `rows` (a VALUES or SELECT of value and amount) to the counter
    `key` names (its last three parts: table, key column, count column)."""
    table, column, count = key[-3:]
    return (
        f"INSERT INTO {table} ({column}, {count}) {rows} ON CONFLICT (mine, {column})"
        f" DO UPDATE SET {count} = {table}.{count} + excluded.{count}"
    )


class Tallies:
    """The counts of one unit of work, by where they go (`key`), per savepoint level."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[dict[Key, Counter[str]]] = [{}]

    def add(self, key: Key, counted: Iterable[str]) -> None:
        """One more for each of `counted` (each as often as it is listed)."""
        self._levels[-1].setdefault(key, Counter()).update(counted)

    def begin(self) -> None:
        """A savepoint begins: what it adds is kept apart until it ends."""
        self._levels.append({})

    def release(self) -> None:
        """The savepoint succeeded: its counts belong to the level it was begun in."""
        top = self._levels.pop()
        below = self._levels[-1]
        for key, counts in top.items():
            if key in below:
                below[key].update(counts)
            else:
                below[key] = counts

    def rollback(self) -> None:
        """The savepoint rolled back: its counts go with it."""
        self._levels.pop()

    def clear(self) -> None:
        """The transaction ended by itself (SQLite may, on a full disk): every count goes,
        the savepoints still open keep their levels."""
        self._levels = [{} for _ in self._levels]

    def totals(self) -> list[tuple[Key, list[tuple[str, int]]]]:
        """Every key's (counted, amount) rows, keys and rows in order, so two units writing
        the same rows lock them in the same order (no deadlock between them)."""
        if len(self._levels) != 1:
            raise RuntimeError("a savepoint of the unit of work is still open")
        return [(key, sorted(counts.items())) for key, counts in sorted(self._levels[0].items())]
