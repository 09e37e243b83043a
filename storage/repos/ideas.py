"""Ideas, their history and category corrections, attachments and the similarity index."""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from storage.models import (
    Attachment,
    BranchIdeaCounts,
    CategoryCorrection,
    Idea,
    IdeaEvent,
    IdeaFact,
    IdeaFilter,
    IdeaGroup,
    IdeaLine,
    IdeaScope,
    IdeaText,
    Person,
    SavedList,
    SpeedFigure,
    TermFrequencies,
    TermMatch,
    WaitingIdea,
)
from storage.port import Row, SqlDatabase
from storage.repos.dialect import (
    day_number,
    from_json_object,
    indexed_by,
    json_list,
    json_object_agg,
    match_query,
)
from storage.repos.paging import by_id
from storage.repos.times import bucket_case, from_db_time, to_db_time


def _idea(row: Row) -> Idea:
    return Idea(
        id=row["id"],
        author_id=row["author_id"],
        branch_id=row["branch_id"],
        text=row["text"],
        category=row["category"],
        confidence=float(row["confidence"]),
        confirmed=bool(row["confirmed"]),
        status=row["status"],
        channel=row["channel"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


def _scope(branch_id: str | None, excluded: Collection[str]) -> tuple[str, list[str]]:
    """The WHERE tail (and its parameters) of a branch's ideas without excluded statuses."""
    where, params = "", sorted(excluded)
    if excluded:
        where += f" AND status NOT IN ({','.join('?' * len(excluded))})"
    if branch_id is not None:
        where += " AND branch_id = ?"
        params.append(branch_id)
    return where, params


def speed_query(
    since: datetime, branch_id: str | None, excluded: Collection[str], dialect: str = "sqlite"
) -> tuple[str, list[str]]:
    """The SQL of `IdeaRepo.speed` and its parameters (tests read its plan)."""
    where, params = _scope(branch_id, excluded)  # `status`, `branch_id`: only ideas have them
    first = day_number(dialect, "min(h.created_at)")
    created = day_number(dialect, "i.created_at")
    # The year's ideas are a range of an index; each idea's first review and adoption are
    # one search of idea_history_speed (covering): nothing is grouped or read from a table.
    sql = (
        "WITH reached AS (SELECT i.branch_id AS branch_id,"
        f" (SELECT {first} FROM idea_history h"
        " WHERE h.idea_id = i.id AND h.from_status = 'submitted'"
        f" AND h.to_status <> 'submitted') - {created} AS review,"
        f" (SELECT {first} FROM idea_history h"
        " WHERE h.idea_id = i.id AND h.to_status = 'adopted')"
        f" - {created} AS adopted"
        f" FROM ideas i WHERE i.created_at >= ?{where}),"
        " steps AS (SELECT branch_id, 'review' AS step, review AS days FROM reached"
        " WHERE review IS NOT NULL UNION ALL SELECT branch_id, 'adopted', adopted FROM reached"
        " WHERE adopted IS NOT NULL),"
        " scoped AS (SELECT branch_id, step, days FROM steps UNION ALL"
        " SELECT NULL, step, days FROM steps),"
        " ranked AS (SELECT branch_id, step, days, row_number() OVER"
        " (PARTITION BY branch_id, step ORDER BY days) AS n, count(*) OVER"
        " (PARTITION BY branch_id, step) AS total FROM scoped)"
        " SELECT branch_id, step, count(*), avg(days),"
        " avg(CASE WHEN n IN ((total + 1) / 2, (total + 2) / 2) THEN days END)"
        " FROM ranked GROUP BY branch_id, step ORDER BY branch_id, step"
    )
    return sql, [to_db_time(since), *params]


def _among(column: str, values: Sequence[str], params: list[Any], dialect: str) -> str:
    """`column` is one of `values`. One value may use an index on the column; for several
    the column is written `+column` on SQLite, so that the planner keeps reading in id
    order (an IN over an index's first column would gather every match and sort them);
    PostgreSQL has no unary plus on text and plans on its own."""
    params.extend(values)
    if len(values) == 1:
        return f"{column} = ?"
    plus = "+" if dialect == "sqlite" else ""
    return f"{plus}{column} IN ({','.join('?' * len(values))})"


def _scope_where(scope: IdeaScope, params: list[Any], dialect: str = "sqlite") -> list[str]:
    if scope.branches is None:
        return []
    parts = [_among("i.branch_id", scope.branches, params, dialect)] if scope.branches else []
    if scope.author_id is not None:
        parts.append("i.author_id = ?")
        params.append(scope.author_id)
    # `1 = 0`, not SQLite's bare `0`: a PostgreSQL condition must be a boolean.
    return ["(" + " OR ".join(parts) + ")" if parts else "1 = 0"]


def _filter_where(filters: IdeaFilter, params: list[Any], dialect: str) -> list[str]:
    where = []
    for column, values in (
        ("i.status", filters.statuses),
        ("i.category", filters.categories),
        ("i.branch_id", filters.branches),
    ):
        if values:
            where.append(_among(column, values, params, dialect))
    if filters.since is not None:
        where.append("i.created_at >= ?")
        params.append(to_db_time(filters.since))
    if filters.until is not None:
        where.append("i.created_at < ?")
        params.append(to_db_time(filters.until))
    return where


_LINE = (
    "SELECT i.*, (SELECT name FROM people WHERE id = i.author_id) AS author_name,"
    " (SELECT name FROM branches WHERE id = i.branch_id) AS branch_name"
)
"""An idea with its author's and branch's names, looked up for the rows of the page only."""


PROBED = 1000
"""Up to this many ideas of one person are each looked up in the index of words; a person
with more has their search walked along the index (their share of a term's ideas is large
enough to fill a page soon)."""


def listing_query(
    scope: IdeaScope,
    filters: IdeaFilter,
    *,
    limit: int,
    offset: int,
    probe: bool = False,
    dialect: str = "sqlite",
) -> tuple[str, list[Any]]:
    """The SQL of one page of a list, newest first, and its parameters.

    Each shape reads in order from an index and stops once the page is full, so a page
    costs about the same however many ideas match:
    - search terms: the index of words newest first (FTS5 walks a term's ideas in rowid
      order; PostgreSQL walks the first term's postings, idea_term_postings, by their key);
      with `probe` (one person with few ideas) that person's ideas, each looked up in it;
    - a time range, for more than one person: the time index `ideas_created` backwards,
      newest first by time (only ideas of the very same moment are sorted, by id), since a
      month of a million ideas is too many to sort;
    - otherwise id order: a person's ideas from `ideas_author`, a branch's from
      `ideas_branch`, one status from `ideas_status`, the rest from the table."""
    params: list[Any] = []
    where = _scope_where(scope, params, dialect) + _filter_where(filters, params, dialect)
    sqlite = dialect == "sqlite"
    if filters.terms and probe:
        where.append(
            "EXISTS (SELECT 1 FROM idea_terms WHERE idea_terms MATCH ? AND rowid = i.id)"
            if sqlite
            else "EXISTS (SELECT 1 FROM idea_terms WHERE tsv @@ to_tsquery('simple', ?)"
            " AND id = i.id)"
        )
        params.append(match_query(dialect, filters.terms, every=True))
    elif filters.terms and sqlite:
        and_where = "".join(" AND " + w for w in where)
        sql = (
            f"{_LINE} FROM idea_terms t CROSS JOIN ideas i ON i.id = t.rowid"
            f" WHERE idea_terms MATCH ?{and_where} ORDER BY t.rowid DESC LIMIT ? OFFSET ?"
        )
        return sql, [match_query(dialect, filters.terms, every=True), *params, limit, offset]
    elif filters.terms:
        # The first term's postings backwards (see IdeaSearch.holding: `@@` would test every
        # idea_terms row of the mine), each other term one look-up of the postings' key per
        # idea. A scalar subquery, not EXISTS: the planner turns an EXISTS into a join it
        # may run as a scan of all the mine's ideas (60 ms at 100,000), where this is a probe
        # per idea walked. The caller puts the rarest term first.
        lead, *others = [t.lower() for t in filters.terms]
        holds = "".join(
            " AND (SELECT 1 FROM idea_term_postings q WHERE q.term = ?"
            " AND q.idea_id = p.idea_id LIMIT 1) IS NOT NULL"
            for _ in others
        )
        and_where = "".join(" AND " + w for w in where)
        sql = (
            f"{_LINE} FROM idea_term_postings p JOIN ideas i ON i.id = p.idea_id"
            f" WHERE p.term = ?{holds}{and_where}"
            " ORDER BY p.mine DESC, p.idea_id DESC LIMIT ? OFFSET ?"
        )
        return sql, [lead, *others, *params, limit, offset]
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    if filters.since is not None and scope.branches != ():
        sql = (
            f"{_LINE} FROM ideas i{indexed_by(dialect, 'ideas_created')}{condition}"
            " ORDER BY i.created_at DESC, i.id DESC LIMIT ? OFFSET ?"
        )
    else:
        sql = f"{_LINE} FROM ideas i{condition} ORDER BY i.id DESC LIMIT ? OFFSET ?"
    return sql, [*params, limit, offset]


def waiting_query(
    scope: IdeaScope, *, after: int, limit: int, dialect: str = "sqlite"
) -> tuple[str, list[Any]]:
    """The SQL of the ideas waiting for a first review after id `after`, oldest first: a
    branch's from the partial index `ideas_waiting`, the whole mine's from `ideas_status`."""
    params: list[Any] = [after]
    where = ["i.status = 'submitted'", "i.id > ?", *_scope_where(scope, params, dialect)]
    sql = f"{_LINE} FROM ideas i WHERE {' AND '.join(where)} ORDER BY i.id LIMIT ?"
    return sql, [*params, limit]


def _line(row: Row) -> IdeaLine:
    return IdeaLine(_idea(row), row["author_name"] or "", row["branch_name"] or row["branch_id"])


async def _frequencies(
    fetchone: Callable[[str, list[Any]], Awaitable[Row | None]],
    dialect: str,
    terms: Iterable[str],
) -> TermFrequencies:
    # One fixed statement with the terms as one JSON parameter, the pairs as one JSON
    # object: a few hundred terms per search, so neither a new statement text each time
    # nor a row object (or a Python-dumped array element) per term.
    wanted = json_list(sorted({t.lower() for t in terms} | {""}))
    pairs = json_object_agg(dialect, "d.term", "d.docs")
    if dialect == "sqlite":
        sql = (
            f"SELECT {pairs} FROM idea_term_docs d WHERE d.term IN (SELECT value FROM json_each(?))"
        )
    else:
        # A join over the listed terms, not `term = ANY(?)`: psycopg prepares the
        # statement, and the server's generic plan of `= ANY($1)` on a table it has not
        # analysed since it grew (a burst fills it from nothing) is a sequential scan testing
        # each row against every term in turn, rows × terms comparisons (18 ms for 300 terms
        # of 3,000 rows; BENCHMARKS.md, issue 20). The join is a hash join over the table or
        # an index probe per term, whichever the statistics say: never rows × terms.
        sql = (
            f"SELECT {pairs} FROM json_array_elements_text(CAST(? AS json)) AS u(term)"
            " JOIN idea_term_docs d ON d.term = u.term"
        )
    row = await fetchone(sql, [wanted])
    found = {str(t): int(d) for t, d in from_json_object(row[0] if row else None).items()}
    return TermFrequencies(found.pop("", 0), found)


class IdeaRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(
        self,
        *,
        author: Person,
        text: str,
        category: str,
        confidence: float,
        channel: str,
        now: datetime,
    ) -> Idea:
        stamp = to_db_time(now)
        row = await self._db.fetchone(
            "INSERT INTO ideas (author_id, branch_id, text, category, confidence, channel,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (author.id, author.branch_id, text, category, confidence, channel, stamp, stamp),
        )
        assert row is not None
        return _idea(row)

    async def get(self, idea_id: int) -> Idea | None:
        row = await self._db.fetchone("SELECT * FROM ideas WHERE id = ?", (idea_id,))
        return _idea(row) if row else None

    async def by_author(self, author_id: int, *, limit: int, offset: int) -> list[Idea]:
        rows = await self._db.fetchall(
            "SELECT * FROM ideas WHERE author_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (author_id, limit, offset),
        )
        return [_idea(r) for r in rows]

    async def count_by_author(self, author_id: int) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) FROM ideas WHERE author_id = ?", (author_id,)
        )
        return int(row[0]) if row else 0

    async def confirm(self, idea_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE ideas SET confirmed = 1, updated_at = ? WHERE id = ?",
            (to_db_time(now), idea_id),
        )

    async def set_status(self, idea_id: int, status: str, now: datetime) -> None:
        """Set the status without history (seeding and tests; chat steps use `move`)."""
        await self._db.execute(
            "UPDATE ideas SET status = ?, updated_at = ? WHERE id = ?",
            (status, to_db_time(now), idea_id),
        )

    async def move(
        self,
        idea: Idea,
        status: str,
        person_id: int,
        reason: str,
        now: datetime,
        merged_into: int | None = None,
    ) -> int:
        """Change an idea's status and keep the change as history; returns the history id."""
        await self._db.execute(
            "UPDATE ideas SET status = ?, merged_into = coalesce(?, merged_into), updated_at = ?"
            " WHERE id = ?",
            (status, merged_into, to_db_time(now), idea.id),
        )
        return await self._db.insert(
            "INSERT INTO idea_history (idea_id, person_id, from_status, to_status, reason,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (idea.id, person_id, idea.status, status, reason, to_db_time(now)),
        )

    async def listing(
        self, scope: IdeaScope, filters: IdeaFilter, *, limit: int, offset: int
    ) -> list[IdeaLine]:
        """One page of the ideas in `scope` that `filters` asks for, newest first; read on
        the read connection (the last commit)."""
        probe = False
        if filters.terms and scope.branches == () and scope.author_id is not None:
            row = await self._db.reader.fetchone(
                "SELECT count(*) FROM (SELECT 1 FROM ideas WHERE author_id = ? LIMIT ?) AS mine",
                (scope.author_id, PROBED + 1),
            )
            probe = row is not None and int(row[0]) <= PROBED
        if len(filters.terms) > 1 and not probe and self._db.dialect != "sqlite":
            # The rarest term leads the walk along the postings (listing_query).
            counts = await _frequencies(self._db.reader.fetchone, self._db.dialect, filters.terms)
            rarest = sorted(filters.terms, key=lambda t: (counts.by_term.get(t.lower(), 0), t))
            filters = replace(filters, terms=tuple(rarest))
        sql, params = listing_query(
            scope, filters, limit=limit, offset=offset, probe=probe, dialect=self._db.dialect
        )
        return [_line(r) for r in await self._db.reader.fetchall(sql, params)]

    async def waiting(self, scope: IdeaScope, *, after: int, limit: int) -> list[IdeaLine]:
        """Ideas in `scope` waiting for a first review, oldest first, from id `after` on."""
        sql, params = waiting_query(scope, after=after, limit=limit, dialect=self._db.dialect)
        return [_line(r) for r in await self._db.reader.fetchall(sql, params)]

    async def count_waiting(self, scope: IdeaScope, *, after: int = 0) -> int:
        """How many ideas in `scope` wait for a first review (of those after id `after`)."""
        params: list[Any] = [after]
        where = [
            "i.status = 'submitted'",
            "i.id > ?",
            *_scope_where(scope, params, self._db.dialect),
        ]
        row = await self._db.reader.fetchone(
            f"SELECT count(*) FROM ideas i WHERE {' AND '.join(where)}", params
        )
        return int(row[0]) if row else 0

    async def line(self, idea_id: int) -> IdeaLine | None:
        row = await self._db.fetchone(f"{_LINE} FROM ideas i WHERE i.id = ?", (idea_id,))
        return _line(row) if row else None

    async def save_list(self, token: str, person_id: int, filter_text: str, now: datetime) -> None:
        """Keep a list's filter under `token` (the same filter of the same person, the same
        token: kept once)."""
        await self._db.execute(
            "INSERT INTO idea_lists (token, person_id, filter, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(mine, token) DO NOTHING",
            (token, person_id, filter_text, to_db_time(now)),
        )

    async def saved_list(self, token: str) -> SavedList | None:
        row = await self._db.fetchone(
            "SELECT person_id, filter FROM idea_lists WHERE token = ?", (token,)
        )
        return SavedList(int(row[0]), str(row[1])) if row else None

    async def history(self, idea_id: int) -> list[IdeaEvent]:
        """(to status, reason, who, when) of every change, oldest first."""
        rows = await self._db.fetchall(
            "SELECT h.to_status, h.reason, p.name, h.created_at FROM idea_history h"
            " JOIN people p ON p.id = h.person_id WHERE h.idea_id = ? ORDER BY h.id",
            (idea_id,),
        )
        return [IdeaEvent(r[0], r[1], r[2], from_db_time(r[3])) for r in rows]

    async def merged_authors(self, idea_id: int) -> list[int]:
        """Authors of the ideas merged into this one: they share its credit."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT author_id FROM ideas WHERE merged_into = ? ORDER BY author_id",
            (idea_id,),
        )
        return [int(r[0]) for r in rows]

    async def change_category(
        self, idea: Idea, new_category: str, by_person_id: int, now: datetime
    ) -> None:
        """Set the category, mark it confirmed and keep the change as a labelled example."""
        stamp = to_db_time(now)
        await self._db.execute(
            "UPDATE ideas SET category = ?, confirmed = 1, updated_at = ? WHERE id = ?",
            (new_category, stamp, idea.id),
        )
        if new_category != idea.category:
            await self._db.execute(
                "INSERT INTO category_corrections (idea_id, old_category, new_category,"
                " person_id, created_at) VALUES (?, ?, ?, ?, ?)",
                (idea.id, idea.category, new_category, by_person_id, stamp),
            )

    async def corrections(self) -> list[CategoryCorrection]:
        """(text, old category, new category) for the latest correction of each idea."""
        rows = await self._db.fetchall(
            "SELECT i.text, c.old_category, c.new_category FROM category_corrections c"
            " JOIN ideas i ON i.id = c.idea_id"
            " WHERE c.id = (SELECT max(id) FROM category_corrections WHERE idea_id = c.idea_id)"
            " ORDER BY c.id"
        )
        return [CategoryCorrection(r["text"], r["old_category"], r["new_category"]) for r in rows]

    async def index_terms(self, idea_id: int, terms: Sequence[str]) -> None:
        """Store an idea's words for the similarity search (rowid = idea id), once."""
        if self._db.dialect == "sqlite":  # an FTS5 table has no unique key to conflict on
            added = await self._db.execute(
                "INSERT INTO idea_terms (rowid, terms) SELECT ?, ?"
                " WHERE NOT EXISTS (SELECT 1 FROM idea_terms WHERE rowid = ?)",
                (idea_id, " ".join(terms), idea_id),
            )
        else:
            # The terms row and, when it was added, the postings `IdeaSearch.holding` reads
            # (each of the idea's terms once, lower-cased as the counts' terms are; '' is the
            # counts' total, never a term, and FTS5 drops it too): one statement.
            row = await self._db.fetchone(
                "WITH added AS (INSERT INTO idea_terms (id, terms) VALUES (?, ?)"
                " ON CONFLICT (mine, id) DO NOTHING RETURNING id),"
                " posted AS (INSERT INTO idea_term_postings (term, idea_id) SELECT u.t, a.id"
                " FROM added a, json_array_elements_text(CAST(? AS json)) AS u(t))"
                " SELECT count(*) FROM added",
                (idea_id, " ".join(terms), json_list(sorted({t.lower() for t in terms} - {""}))),
            )
            added = int(row[0]) if row else 0
        if not added:
            return
        # The counts of every idea a unit indexes are written together as it commits
        # (`tally`): the row of the total and those of common words, which every idea
        # increments, are then held by a unit only while it commits (BENCHMARKS.md, issue 20).
        await self._db.tally("idea_term_docs", "term", "docs", {"", *(t.lower() for t in terms)})

    async def unindexed(self, limit: int = 1000) -> list[IdeaText]:
        key = "rowid" if self._db.dialect == "sqlite" else "id"
        rows = await self._db.fetchall(
            f"SELECT id, text FROM ideas WHERE id NOT IN (SELECT {key} FROM idea_terms)"
            " ORDER BY id LIMIT ?",
            (limit,),
        )
        return [IdeaText(r["id"], r["text"]) for r in rows]

    async def term_candidates(
        self, terms: Sequence[str], *, exclude: int, limit: int
    ) -> list[TermMatch]:
        """(idea id, its terms) of the live ideas sharing the most weight with `terms` (BM25).

        The original similar-idea search over every term, on the writing connection; its cost
        grows with the ideas holding any of them. Kept as the yardstick of the bounded search
        (`IdeaSearch.holding`) in its benchmark and recall test."""
        if not terms:
            return []
        query = match_query(self._db.dialect, terms, every=False)
        if self._db.dialect == "sqlite":
            sql = (
                "SELECT t.rowid AS id, t.terms FROM idea_terms t JOIN ideas i ON i.id = t.rowid"
                " WHERE idea_terms MATCH ? AND t.rowid != ? AND i.status NOT IN ('withdrawn')"
                " ORDER BY rank LIMIT ?"
            )
            params: list[Any] = [query, exclude, limit]
        else:
            # ts_rank, not BM25: the same ideas qualify, their order may differ from FTS5's.
            sql = (
                "SELECT t.id, t.terms FROM idea_terms t JOIN ideas i ON i.id = t.id,"
                " to_tsquery('simple', ?) q WHERE t.tsv @@ q AND t.id != ?"
                " AND i.status NOT IN ('withdrawn') ORDER BY ts_rank(t.tsv, q) DESC, t.id DESC"
                " LIMIT ?"
            )
            params = [query, exclude, limit]
        rows = await self._db.fetchall(sql, params)
        return [TermMatch(r["id"], r["terms"]) for r in rows]

    async def document_frequencies(self, terms: Iterable[str]) -> TermFrequencies:
        """(number of indexed ideas, term → number of ideas containing it)."""
        return await _frequencies(self._db.fetchone, self._db.dialect, terms)

    async def for_branch(
        self, branch_id: str, *, since: datetime | None = None, status: str | None = None
    ) -> list[Idea]:
        rows = await self._db.fetchall(
            # CAST: PostgreSQL must know a parameter's type, which `? IS NULL` alone does not say.
            "SELECT * FROM ideas WHERE branch_id = ? AND (CAST(? AS TEXT) IS NULL"
            " OR created_at >= ?) AND (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY id",
            (branch_id, *([to_db_time(since)] * 2 if since else [None, None]), status, status),
        )
        return [_idea(r) for r in rows]

    async def facts(self, since: datetime) -> list[IdeaFact]:
        """(created at, category, branch id, status) of every idea since `since`."""
        rows = await self._db.fetchall(
            "SELECT created_at, category, branch_id, status FROM ideas WHERE created_at >= ?",
            (to_db_time(since),),
        )
        return [IdeaFact(from_db_time(r[0]), r[1], r[2], r[3]) for r in rows]

    async def groups(
        self,
        since: datetime,
        *,
        branch_id: str | None,
        adopted: Collection[str],
        excluded: Collection[str],
    ) -> list[IdeaGroup]:
        """Ideas from `since` on (statuses in `excluded` left out) by category and branch, with
        how many have an `adopted` status; in the order of each group's first idea."""
        where, params = _scope(branch_id, excluded)
        marks = ",".join("?" * len(adopted)) or "NULL"
        # The index's order is the grouping's: no sort of a year of ideas.
        index = indexed_by(self._db.dialect, "ideas_branch_category")
        rows = await self._db.fetchall(
            # CASE, not a sum of the comparison: PostgreSQL does not add up booleans.
            "SELECT category, branch_id, count(*), coalesce(sum(CASE WHEN status IN"
            f" ({marks}) THEN 1 ELSE 0 END), 0) FROM ideas{index}"
            f" WHERE created_at >= ?{where} GROUP BY branch_id, category ORDER BY min(id)",
            (*sorted(adopted), to_db_time(since), *params),
        )
        return [IdeaGroup(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    async def category_buckets(
        self, boundaries: Sequence[datetime], *, branch_id: str | None, excluded: Collection[str]
    ) -> list[tuple[int, str, int]]:
        """(bucket, category, ideas) of the ideas from boundaries[0] on, the bucket i holding
        boundaries[i] <= created_at < boundaries[i + 1] (the last open-ended); at most
        buckets × categories rows, whatever the number of ideas."""
        where, params = _scope(branch_id, excluded)
        case, stamps = bucket_case("created_at", boundaries)
        # The covering index of `groups`: no table row is read.
        rows = await self._db.fetchall(
            f"SELECT {case} AS bucket, category, count(*) FROM ideas"
            f"{indexed_by(self._db.dialect, 'ideas_branch_category')}"
            f" WHERE created_at >= ?{where}"
            " GROUP BY bucket, category",
            (*stamps, to_db_time(boundaries[0]), *params),
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def speed(
        self, since: datetime, *, branch_id: str | None, excluded: Collection[str]
    ) -> list[SpeedFigure]:
        """Days from submission to the first review and to adoption of the ideas from `since` on,
        per branch and (branch None) together; only ideas that reached the step count."""
        rows = await self._db.fetchall(*speed_query(since, branch_id, excluded, self._db.dialect))
        return [SpeedFigure(r[0], r[1], int(r[2]), float(r[3]), float(r[4])) for r in rows]

    async def waiting_since(self, before: datetime, limit: int) -> tuple[int, list[WaitingIdea]]:
        """Ideas still submitted since before `before`: how many, and the oldest `limit`."""
        index = indexed_by(self._db.dialect, "ideas_waiting_since")
        row = await self._db.fetchone(
            f"SELECT count(*) FROM ideas{index} WHERE status = 'submitted' AND created_at < ?",
            (to_db_time(before),),
        )
        rows = await self._db.fetchall(
            f"SELECT id, branch_id, created_at FROM ideas{index}"
            " WHERE status = 'submitted' AND created_at < ? ORDER BY created_at, id LIMIT ?",
            (to_db_time(before), limit),
        )
        count = int(row[0]) if row is not None else 0
        return count, [WaitingIdea(r[0], r[1], from_db_time(r[2])) for r in rows]

    async def buckets(
        self, boundaries: Sequence[datetime], *, branch_id: str | None, excluded: Collection[str]
    ) -> list[int]:
        """Ideas from boundaries[i] to boundaries[i + 1] for each i, the last open-ended."""
        where, params = _scope(branch_id, excluded)
        stamps = [to_db_time(b) for b in boundaries]
        ranges: list[tuple[str, str | None]] = [*pairwise(stamps), (stamps[-1], None)]
        # One range count per bucket: each reads its stretch of an index, nothing is sorted.
        selects: list[str] = []
        values: list[str] = []
        for index, (start, end) in enumerate(ranges):
            until = " AND created_at < ?" if end is not None else ""
            selects.append(
                f"SELECT {index}, count(*) FROM ideas WHERE created_at >= ?{until}{where}"
            )
            values += [start, *([end] if end is not None else []), *params]
        rows = await self._db.fetchall(" UNION ALL ".join(selects), values)
        found = dict((int(r[0]), int(r[1])) for r in rows)
        return [found.get(i, 0) for i in range(len(ranges))]

    async def week_counts(self, since: datetime) -> dict[str, BranchIdeaCounts]:
        """Branch id → (ideas since `since`, ideas still 'submitted')."""
        index = indexed_by(self._db.dialect, "ideas_created")
        new = await self._db.fetchall(
            f"SELECT branch_id, count(*) FROM ideas{index} WHERE created_at >= ?"
            " GROUP BY branch_id",  # a week of the time index, not a scan of every branch
            (to_db_time(since),),
        )
        waiting = await self._db.fetchall(
            "SELECT branch_id, count(*) FROM ideas WHERE status = 'submitted' GROUP BY branch_id"
        )
        counts = {r[0]: [int(r[1]), 0] for r in new}
        for r in waiting:
            counts.setdefault(r[0], [0, 0])[1] = int(r[1])
        return {b: BranchIdeaCounts(n, w) for b, (n, w) in counts.items()}

    async def newest(self, since: datetime, *, per_branch: int) -> dict[str, list[Idea]]:
        """Branch id → its newest `per_branch` ideas since `since`, oldest first."""
        rows = await self._db.fetchall(
            "WITH ranked AS (SELECT id, row_number() OVER (PARTITION BY branch_id ORDER BY id DESC)"
            f" AS place FROM ideas{indexed_by(self._db.dialect, 'ideas_created')}"
            " WHERE created_at >= ?)"
            " SELECT i.* FROM ranked JOIN ideas i ON i.id = ranked.id WHERE place <= ?"
            " ORDER BY i.branch_id, i.id",
            (to_db_time(since), per_branch),
        )
        found: dict[str, list[Idea]] = {}
        for r in rows:
            found.setdefault(r["branch_id"], []).append(_idea(r))
        return found

    async def ledger(self, *, chunk: int = 5000) -> AsyncIterator[dict[str, Any]]:
        """Every idea with its author, branch and project, oldest first (the 台账), read in
        chunks by id so that memory does not grow with the table."""
        first = day_number(self._db.dialect, "min(h.created_at)")
        created = day_number(self._db.dialect, "i.created_at")
        sql = (
            "SELECT i.id, i.created_at, p.employee_no, p.name AS author, b.id AS branch_id,"
            " b.name AS branch, i.category, i.confidence, i.confirmed, i.status,"
            " pi.project_id, i.channel, i.text, i.merged_into,"
            # Why it was not adopted: the reason given with the latest step there.
            " CASE WHEN i.status = 'not_adopted' THEN (SELECT h.reason FROM idea_history h"
            " WHERE h.idea_id = i.id AND h.to_status = 'not_adopted'"
            " ORDER BY h.id DESC LIMIT 1) END AS reason,"
            # The first change away from submitted and the first to adopted: one stretch
            # of idea_history_speed each.
            f" (SELECT {first} - {created}"
            " FROM idea_history h WHERE h.idea_id = i.id AND h.from_status = 'submitted'"
            " AND h.to_status <> 'submitted') AS review_days,"
            f" (SELECT {first} - {created}"
            " FROM idea_history h WHERE h.idea_id = i.id AND h.to_status = 'adopted')"
            " AS adopted_days FROM ideas i"
            " JOIN people p ON p.id = i.author_id JOIN branches b ON b.id = i.branch_id"
            " LEFT JOIN project_ideas pi ON pi.idea_id = i.id"
            " WHERE i.id > ? ORDER BY i.id LIMIT ?"
        )
        async for row in by_id(self._db, sql, chunk):
            yield row


class IdeaSearch:
    """The similarity index, read on the database's read connection: no write lock is
    taken or waited for, and what it sees is the last commit."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def frequencies(self, terms: Iterable[str]) -> TermFrequencies:
        """(number of indexed ideas, lower-cased term → number of ideas containing it)."""
        return await _frequencies(self._db.reader.fetchone, self._db.dialect, terms)

    async def holding(
        self, weights: Mapping[str, float], *, per_term: int, limit: int
    ) -> list[TermMatch]:
        """(idea id, its terms) of the live ideas with the most weight of the given terms:
        only the latest `per_term` ideas holding each term are looked at, so the cost is
        bounded by len(weights) × per_term however many ideas are stored.

        SQLite: FTS5 walks a term's rowids newest first and stops there. PostgreSQL: the
        term's postings (idea_term_postings, the lower-cased terms each idea was indexed
        with), a backward range of their key (mine, term, idea_id); not idea_terms' `@@`,
        which under the row-level policy is a filter on every row of the mine, not an index
        scan. The two agree for the terms `classifier.terms()` makes (lower-cased,
        alphanumeric: Chinese words, ASCII words and numbers with letters, single letters of
        other scripts): both match a term as a whole stored term, case-insensitively (a
        weight's term is lower-cased here as the postings' are). They differ only where
        FTS5's unicode61 tokenizer would split or fold a term: it folds diacritics (`é`
        matches `e`) and splits at characters it does not count as letters or digits; a
        posting matches the term exactly as stored."""
        if not weights:
            return []
        dialect = self._db.dialect
        if dialect == "sqlite":
            one = (
                "SELECT * FROM (SELECT rowid AS id, ? AS w FROM idea_terms WHERE idea_terms MATCH ?"
                " ORDER BY rowid DESC LIMIT ?)"
            )
            head = "SELECT t.rowid AS id, t.terms FROM (SELECT id, sum(w) AS score FROM ("
            tail = ") GROUP BY id) s"
            key = "t.rowid"
        else:
            # `mine DESC` first: the policy's `mine = ANY (scope)` is an array on the key's
            # first column, and the planner keeps the key's order (a backward scan that
            # stops at the limit) only when the ORDER BY names that column; without it, it
            # reads all of the term's postings and sorts them. One mine: the same order.
            one = (
                "(SELECT idea_id AS id, CAST(? AS DOUBLE PRECISION) AS w FROM idea_term_postings"
                " WHERE term = ? ORDER BY mine DESC, idea_id DESC LIMIT ?)"
            )
            head = "SELECT t.id, t.terms FROM (SELECT id, sum(w) AS score FROM ("
            tail = ") u GROUP BY id) s"
            key = "t.id"
        # Terms that differ only in case are one term to both indexes: summed, each once.
        lowered: dict[str, float] = {}
        for term, weight in weights.items():
            lowered[term.lower()] = lowered.get(term.lower(), 0.0) + weight
        params: list[Any] = []
        for term, weight in sorted(lowered.items()):
            params += [
                weight,
                match_query(dialect, [term], every=True) if dialect == "sqlite" else term,
                per_term,
            ]
        rows = await self._db.reader.fetchall(
            head
            + " UNION ALL ".join([one] * len(lowered))
            + tail
            + " JOIN ideas i ON i.id = s.id AND i.status NOT IN ('withdrawn')"
            f" JOIN idea_terms t ON {key} = s.id ORDER BY s.score DESC, s.id DESC LIMIT ?",
            [*params, limit],
        )
        return [TermMatch(r["id"], r["terms"]) for r in rows]

    async def ideas(self, idea_ids: Sequence[int]) -> list[Idea]:
        """The ideas with these ids, in the order given (missing ones left out)."""
        if not idea_ids:
            return []
        marks = ",".join("?" * len(idea_ids))
        rows = await self._db.reader.fetchall(
            f"SELECT * FROM ideas WHERE id IN ({marks})", list(idea_ids)
        )
        by_id = {int(r["id"]): _idea(r) for r in rows}
        return [by_id[i] for i in idea_ids if i in by_id]


class AttachmentRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(
        self,
        *,
        idea_id: int | None,
        person_id: int,
        channel: str,
        kind: str,
        file_ref: str,
        now: datetime,
    ) -> int:
        return await self._db.insert(
            "INSERT INTO attachments (idea_id, person_id, channel, kind, file_ref, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (idea_id, person_id, channel, kind, file_ref, to_db_time(now)),
        )

    async def attach(self, attachment_ids: Sequence[int], idea_id: int, person_id: int) -> None:
        """Link a person's loose attachments (sent before the idea's text) to the idea."""
        for attachment_id in attachment_ids:
            await self._db.execute(
                "UPDATE attachments SET idea_id = ? WHERE id = ? AND person_id = ?"
                " AND idea_id IS NULL",
                (idea_id, attachment_id, person_id),
            )

    async def link_finding(self, attachment_id: int, finding_id: int) -> None:
        await self._db.execute(
            "UPDATE attachments SET finding_id = ? WHERE id = ?", (finding_id, attachment_id)
        )

    async def for_idea(self, idea_id: int) -> list[Attachment]:
        rows = await self._db.fetchall(
            "SELECT id, idea_id, kind, file_ref FROM attachments WHERE idea_id = ? ORDER BY id",
            (idea_id,),
        )
        return [Attachment(r["id"], r["idea_id"], r["kind"], r["file_ref"]) for r in rows]
