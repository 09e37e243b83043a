"""Typed repositories over the database; each method is one small query."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.db import Database
from storage.models import (
    Attachment,
    Branch,
    Conversation,
    Department,
    Finding,
    FindingEvent,
    Idea,
    OutboxMessage,
    Person,
    Role,
)


def to_db_time(moment: datetime) -> str:
    """Times are stored as UTC ISO-8601 text, which sorts chronologically."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class OrgRepo:
    """Departments and branches, mirrored from the configuration."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync(self, departments: Iterable[Department], branches: Iterable[Branch]) -> None:
        """Upsert the configured organisation; rows no longer configured are kept for history."""
        async with self._db.transaction():
            await self._db.executemany(
                "INSERT INTO departments (id, name) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                [(d.id, d.name) for d in departments],
            )
            await self._db.executemany(
                "INSERT INTO branches (id, name, department_id) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                " department_id = excluded.department_id",
                [(b.id, b.name, b.department_id) for b in branches],
            )

    async def branch(self, branch_id: str) -> Branch | None:
        row = await self._db.fetchone(
            "SELECT id, name, department_id FROM branches WHERE id = ?", (branch_id,)
        )
        return Branch(row["id"], row["name"], row["department_id"]) if row else None

    async def branches(self) -> list[Branch]:
        rows = await self._db.fetchall("SELECT id, name, department_id FROM branches ORDER BY id")
        return [Branch(r["id"], r["name"], r["department_id"]) for r in rows]

    async def department_names(self) -> list[tuple[str, str]]:
        rows = await self._db.fetchall("SELECT id, name FROM departments ORDER BY rowid")
        return [(r["id"], r["name"]) for r in rows]

    async def department_ids(self) -> set[str]:
        rows = await self._db.fetchall("SELECT id FROM departments")
        return {r["id"] for r in rows}


@dataclass(frozen=True, slots=True)
class RosterEntry:
    employee_no: str
    name: str
    branch_id: str
    role: Role
    wecom_userid: str | None


class PeopleRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT count(*) FROM people")
        return int(row[0]) if row else 0

    async def upsert_roster(self, entries: Sequence[RosterEntry], now: datetime) -> int:
        """Insert or update people and replace their roles; the caller holds the transaction."""
        stamp = to_db_time(now)
        for e in entries:
            await self._db.execute(
                "INSERT INTO people (employee_no, name, branch_id, wecom_userid, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(employee_no) DO UPDATE SET name = excluded.name,"
                " branch_id = excluded.branch_id, wecom_userid = excluded.wecom_userid,"
                " updated_at = excluded.updated_at",
                (e.employee_no, e.name, e.branch_id, e.wecom_userid, stamp, stamp),
            )
            row = await self._db.fetchone(
                "SELECT id FROM people WHERE employee_no = ?", (e.employee_no,)
            )
            assert row is not None
            await self._db.execute("DELETE FROM roles WHERE person_id = ?", (row["id"],))
            await self._db.execute(
                "INSERT INTO roles (person_id, role, department_id) VALUES (?, ?, ?)",
                (row["id"], e.role.role, e.role.department_id),
            )
        return len(entries)

    async def by_employee_no(self, employee_no: str) -> Person | None:
        return await self._one("WHERE p.employee_no = ?", (employee_no,))

    async def by_id(self, person_id: int) -> Person | None:
        return await self._one("WHERE p.id = ?", (person_id,))

    async def bind_by_wecom_userid(self, userid: str, now: datetime) -> bool:
        """Bind a WeCom user to the roster person carrying that userid; False if none."""
        count = await self._db.execute(
            "INSERT INTO identities (channel, external_id, person_id, bound_at)"
            " SELECT 'wecom', ?, id, ? FROM people WHERE wecom_userid = ?"
            " ON CONFLICT DO NOTHING",
            (userid, to_db_time(now), userid),
        )
        return count > 0

    async def by_identity(self, channel: str, external_id: str) -> Person | None:
        return await self._one(
            "JOIN identities i ON i.person_id = p.id WHERE i.channel = ? AND i.external_id = ?",
            (channel, external_id),
        )

    async def identity_of(self, person_id: int, channel: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT external_id FROM identities WHERE person_id = ? AND channel = ?",
            (person_id, channel),
        )
        return str(row["external_id"]) if row else None

    async def bind_identity(
        self, person_id: int, channel: str, external_id: str, now: datetime
    ) -> None:
        """Bind a chat identity; raises sqlite3.IntegrityError when either side is taken."""
        await self._db.execute(
            "INSERT INTO identities (channel, external_id, person_id, bound_at)"
            " VALUES (?, ?, ?, ?)",
            (channel, external_id, person_id, to_db_time(now)),
        )

    async def unbind_identity(self, channel: str, person_id: int) -> None:
        await self._db.execute(
            "DELETE FROM identities WHERE channel = ? AND person_id = ?", (channel, person_id)
        )

    async def identities_with_role(
        self, role: str, *, branch_id: str | None = None, department_id: str | None = None
    ) -> list[tuple[str, str]]:
        """(channel, external id) of everyone with `role`, optionally in one branch or one
        supervising department."""
        rows = await self._db.fetchall(
            "SELECT i.channel, i.external_id FROM identities i"
            " JOIN roles r ON r.person_id = i.person_id JOIN people p ON p.id = i.person_id"
            " WHERE r.role = ? AND (? IS NULL OR p.branch_id = ?)"
            " AND (? IS NULL OR r.department_id = ?) ORDER BY i.channel, i.external_id",
            (role, branch_id, branch_id, department_id, department_id),
        )
        return [(r[0], r[1]) for r in rows]

    async def identities_of(self, person_id: int) -> list[tuple[str, str]]:
        rows = await self._db.fetchall(
            "SELECT channel, external_id FROM identities WHERE person_id = ? ORDER BY channel",
            (person_id,),
        )
        return [(r[0], r[1]) for r in rows]

    async def admin_identities(self) -> list[tuple[str, str]]:
        """(channel, external id) of every admin's chat identity."""
        rows = await self._db.fetchall(
            "SELECT i.channel, i.external_id FROM identities i"
            " JOIN roles r ON r.person_id = i.person_id WHERE r.role = 'admin'"
            " ORDER BY i.channel, i.external_id"
        )
        return [(r["channel"], r["external_id"]) for r in rows]

    async def _one(self, where: str, params: Sequence[Any]) -> Person | None:
        """One person with their roles, in one query (this runs for every update)."""
        row = await self._db.fetchone(
            "SELECT p.id, p.employee_no, p.name, p.branch_id, p.wecom_userid,"
            " (SELECT group_concat(r.role || ':' || coalesce(r.department_id, ''), ' ')"
            "  FROM roles r WHERE r.person_id = p.id) AS roles"
            f" FROM people p {where}",
            params,
        )
        if row is None:
            return None
        roles = []
        for item in sorted((row["roles"] or "").split()):
            name, _, department = item.partition(":")
            roles.append(Role(name, department or None))
        return Person(
            id=row["id"],
            employee_no=row["employee_no"],
            name=row["name"],
            branch_id=row["branch_id"],
            wecom_userid=row["wecom_userid"],
            roles=tuple(roles),
        )


def _idea(row: sqlite3.Row) -> Idea:
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


class IdeaRepo:
    def __init__(self, db: Database) -> None:
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

    async def history(self, idea_id: int) -> list[tuple[str, str, str, datetime]]:
        """(to status, reason, who, when) of every change, oldest first."""
        rows = await self._db.fetchall(
            "SELECT h.to_status, h.reason, p.name, h.created_at FROM idea_history h"
            " JOIN people p ON p.id = h.person_id WHERE h.idea_id = ? ORDER BY h.id",
            (idea_id,),
        )
        return [(r[0], r[1], r[2], from_db_time(r[3])) for r in rows]

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

    async def corrections(self) -> list[tuple[str, str, str]]:
        """(text, old category, new category) for the latest correction of each idea."""
        rows = await self._db.fetchall(
            "SELECT i.text, c.old_category, c.new_category FROM category_corrections c"
            " JOIN ideas i ON i.id = c.idea_id"
            " WHERE c.id = (SELECT max(id) FROM category_corrections WHERE idea_id = c.idea_id)"
            " ORDER BY c.id"
        )
        return [(r["text"], r["old_category"], r["new_category"]) for r in rows]

    async def index_terms(self, idea_id: int, terms: Sequence[str]) -> None:
        """Store an idea's words for the similarity search (rowid = idea id), once."""
        added = await self._db.execute(
            "INSERT INTO idea_terms (rowid, terms) SELECT ?, ?"
            " WHERE NOT EXISTS (SELECT 1 FROM idea_terms WHERE rowid = ?)",
            (idea_id, " ".join(terms), idea_id),
        )
        if added:
            await self._db.executemany(
                "INSERT INTO idea_term_docs (term, docs) VALUES (?, 1)"
                " ON CONFLICT(term) DO UPDATE SET docs = docs + 1",
                [(t,) for t in {"", *(t.lower() for t in terms)}],
            )

    async def unindexed(self, limit: int = 1000) -> list[tuple[int, str]]:
        rows = await self._db.fetchall(
            "SELECT id, text FROM ideas WHERE id NOT IN (SELECT rowid FROM idea_terms)"
            " ORDER BY id LIMIT ?",
            (limit,),
        )
        return [(r["id"], r["text"]) for r in rows]

    async def term_candidates(
        self, terms: Sequence[str], *, exclude: int, limit: int
    ) -> list[tuple[int, str]]:
        """(idea id, its terms) of the live ideas sharing the most weight with `terms` (BM25)."""
        if not terms:
            return []
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in sorted(set(terms)))
        rows = await self._db.fetchall(
            "SELECT t.rowid AS id, t.terms FROM idea_terms t JOIN ideas i ON i.id = t.rowid"
            " WHERE idea_terms MATCH ? AND t.rowid != ? AND i.status NOT IN ('withdrawn')"
            " ORDER BY rank LIMIT ?",
            (query, exclude, limit),
        )
        return [(r["id"], r["terms"]) for r in rows]

    async def document_frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(number of indexed ideas, term → number of ideas containing it)."""
        wanted = sorted({t.lower() for t in terms} | {""})
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetchall(
                f"SELECT term, docs FROM idea_term_docs WHERE term IN ({marks})", chunk
            )
            found.update({r["term"]: int(r["docs"]) for r in rows})
        return found.pop("", 0), found

    async def for_branch(
        self, branch_id: str, *, since: datetime | None = None, status: str | None = None
    ) -> list[Idea]:
        rows = await self._db.fetchall(
            "SELECT * FROM ideas WHERE branch_id = ? AND (? IS NULL OR created_at >= ?)"
            " AND (? IS NULL OR status = ?) ORDER BY id",
            (branch_id, *([to_db_time(since)] * 2 if since else [None, None]), status, status),
        )
        return [_idea(r) for r in rows]

    async def facts(self, since: datetime) -> list[tuple[datetime, str, str, str]]:
        """(created at, category, branch id, status) of every idea since `since`."""
        rows = await self._db.fetchall(
            "SELECT created_at, category, branch_id, status FROM ideas WHERE created_at >= ?",
            (to_db_time(since),),
        )
        return [(from_db_time(r[0]), r[1], r[2], r[3]) for r in rows]

    async def ledger(self) -> list[dict[str, Any]]:
        """Every idea with its author and branch names, oldest first (the 台账)."""
        rows = await self._db.fetchall(
            "SELECT i.id, i.created_at, p.employee_no, p.name AS author, b.id AS branch_id,"
            " b.name AS branch, i.category, i.confidence, i.confirmed, i.status, i.channel,"
            " i.text FROM ideas i JOIN people p ON p.id = i.author_id"
            " JOIN branches b ON b.id = i.branch_id ORDER BY i.id"
        )
        return [dict(r) for r in rows]


class AttachmentRepo:
    def __init__(self, db: Database) -> None:
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


class InboxRepo:
    """Incoming updates by platform id: the record that makes redelivery a no-op."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def store(self, channel: str, update_id: str, raw: str, now: datetime) -> bool:
        """Record a raw update before it is confirmed to the platform; False if already known."""
        count = await self._db.execute(
            "INSERT INTO inbox (channel, update_id, raw, status, received_at)"
            " VALUES (?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
            (channel, update_id, raw, to_db_time(now)),
        )
        return count > 0

    async def status(self, channel: str, update_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT status FROM inbox WHERE channel = ? AND update_id = ?", (channel, update_id)
        )
        return str(row["status"]) if row else None

    async def finish(self, channel: str, update_id: str, status: str, now: datetime) -> None:
        """Mark an update processed; call inside the transaction that holds its effect."""
        stamp = to_db_time(now)
        await self._db.execute(
            "INSERT INTO inbox (channel, update_id, raw, status, received_at, processed_at)"
            " VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT(channel, update_id) DO UPDATE SET"
            " status = excluded.status, processed_at = excluded.processed_at",
            (channel, update_id, status, stamp, stamp),
        )

    async def pending(self, channel: str) -> list[tuple[str, str]]:
        """(update_id, raw) of stored updates not yet processed, in arrival order."""
        rows = await self._db.fetchall(
            "SELECT update_id, raw FROM inbox WHERE channel = ? AND status = 'pending'"
            " ORDER BY received_at, rowid",
            (channel,),
        )
        return [(r["update_id"], r["raw"]) for r in rows]


class ConversationRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, channel: str, external_id: str) -> Conversation | None:
        row = await self._db.fetchone(
            "SELECT state, data FROM conversations WHERE channel = ? AND external_id = ?",
            (channel, external_id),
        )
        return Conversation(row["state"], json.loads(row["data"])) if row else None

    async def set(
        self, channel: str, external_id: str, state: str, data: dict[str, Any], now: datetime
    ) -> None:
        await self._db.execute(
            "INSERT INTO conversations (channel, external_id, state, data, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(channel, external_id) DO UPDATE SET"
            " state = excluded.state, data = excluded.data, updated_at = excluded.updated_at",
            (channel, external_id, state, json.dumps(data, ensure_ascii=False), to_db_time(now)),
        )

    async def clear(self, channel: str, external_id: str) -> None:
        await self._db.execute(
            "DELETE FROM conversations WHERE channel = ? AND external_id = ?",
            (channel, external_id),
        )


class OutboxRepo:
    """Outbound messages, delivered by the sender and retried with back-off."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self,
        *,
        channel: str,
        chat_id: str,
        payload: dict[str, Any],
        dedupe_key: str,
        now: datetime,
    ) -> bool:
        """Queue a message once per dedupe key; False if that key was queued before."""
        stamp = to_db_time(now)
        count = await self._db.execute(
            "INSERT INTO outbox (channel, chat_id, payload, dedupe_key, next_attempt_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (channel, chat_id, json.dumps(payload, ensure_ascii=False), dedupe_key, stamp, stamp),
        )
        return count > 0

    async def due(
        self, now: datetime, channels: Iterable[str], limit: int = 200
    ) -> list[OutboxMessage]:
        """Pending messages due now, oldest first. A chat whose earlier message waits for a
        retry gets nothing newer, so every chat sees its messages in order."""
        names = sorted(set(channels))
        if not names:
            return []
        marks = ",".join("?" * len(names))
        stamp = to_db_time(now)
        rows = await self._db.fetchall(
            "SELECT id, channel, chat_id, payload, attempts FROM outbox o"
            f" WHERE status = 'pending' AND next_attempt_at <= ? AND channel IN ({marks})"
            " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.status = 'pending'"
            "  AND e.channel = o.channel AND e.chat_id = o.chat_id AND e.id < o.id"
            "  AND e.next_attempt_at > ?)"
            " ORDER BY id LIMIT ?",
            (stamp, *names, stamp, limit),
        )
        return [
            OutboxMessage(
                r["id"], r["channel"], r["chat_id"], json.loads(r["payload"]), r["attempts"]
            )
            for r in rows
        ]

    async def mark_sent(self, message_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
            " last_error = NULL WHERE id = ?",
            (to_db_time(now), message_id),
        )

    async def mark_retry(self, message_id: int, error: str, retry_at: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE id = ?",
            (error, to_db_time(retry_at), message_id),
        )

    async def mark_failed(self, message_id: int, error: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?"
            " WHERE id = ?",
            (error, message_id),
        )

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall("SELECT status, count(*) AS n FROM outbox GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    async def next_due_at(self, channels: Iterable[str]) -> datetime | None:
        names = sorted(set(channels))
        if not names:
            return None
        marks = ",".join("?" * len(names))
        row = await self._db.fetchone(
            "SELECT min(next_attempt_at) FROM outbox"
            f" WHERE status = 'pending' AND channel IN ({marks})",
            names,
        )
        return from_db_time(row[0]) if row and row[0] else None


@dataclass(frozen=True, slots=True)
class GroupBinding:
    channel: str
    chat_id: str
    branch_id: str
    active: bool


class GroupRepo:
    """Group chats bound to branches for notices."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def bind(
        self, channel: str, chat_id: str, branch_id: str, person_id: int | None, now: datetime
    ) -> None:
        stamp = to_db_time(now)
        await self._db.execute(
            "INSERT INTO group_bindings (channel, chat_id, branch_id, active, bound_by, bound_at,"
            " updated_at) VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT(channel, chat_id) DO UPDATE"
            " SET branch_id = excluded.branch_id, active = 1, bound_by = excluded.bound_by,"
            " bound_at = excluded.bound_at, updated_at = excluded.updated_at",
            (channel, chat_id, branch_id, person_id, stamp, stamp),
        )

    async def get(self, channel: str, chat_id: str) -> GroupBinding | None:
        row = await self._db.fetchone(
            "SELECT channel, chat_id, branch_id, active FROM group_bindings"
            " WHERE channel = ? AND chat_id = ?",
            (channel, chat_id),
        )
        return GroupBinding(row[0], row[1], row[2], bool(row[3])) if row else None

    async def deactivate(self, channel: str, chat_id: str, now: datetime) -> bool:
        count = await self._db.execute(
            "UPDATE group_bindings SET active = 0, updated_at = ?"
            " WHERE channel = ? AND chat_id = ? AND active = 1",
            (to_db_time(now), channel, chat_id),
        )
        return count > 0

    async def reactivate(self, channel: str, chat_id: str, now: datetime) -> bool:
        """The bot is back in a group that was bound before; False if it never was."""
        count = await self._db.execute(
            "UPDATE group_bindings SET active = 1, updated_at = ?"
            " WHERE channel = ? AND chat_id = ?",
            (to_db_time(now), channel, chat_id),
        )
        return count > 0

    async def migrate(
        self, channel: str, old_chat_id: str, new_chat_id: str, now: datetime
    ) -> bool:
        """Keep a binding when a group becomes a supergroup with a new id."""
        count = await self._db.execute(
            "UPDATE OR REPLACE group_bindings SET chat_id = ?, updated_at = ?"
            " WHERE channel = ? AND chat_id = ?",
            (new_chat_id, to_db_time(now), channel, old_chat_id),
        )
        return count > 0

    async def for_branch(self, branch_id: str) -> list[GroupBinding]:
        rows = await self._db.fetchall(
            "SELECT channel, chat_id, branch_id, active FROM group_bindings"
            " WHERE branch_id = ? AND active = 1 ORDER BY channel, chat_id",
            (branch_id,),
        )
        return [GroupBinding(r[0], r[1], r[2], True) for r in rows]


class MenuRepo:
    """The last buttons a chat was shown, for platforms where a number stands for a button."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def remember(
        self,
        channel: str,
        chat_id: str,
        buttons: Sequence[tuple[str, str]],
        ref: str,
        now: datetime,
    ) -> None:
        await self._db.execute(
            "INSERT INTO button_menus (channel, chat_id, buttons, ref, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(channel, chat_id) DO UPDATE SET"
            " buttons = excluded.buttons, ref = excluded.ref, updated_at = excluded.updated_at",
            (channel, chat_id, json.dumps(list(buttons), ensure_ascii=False), ref, to_db_time(now)),
        )

    async def choice(self, channel: str, chat_id: str, number: int) -> tuple[str, str] | None:
        """(callback data, menu ref) of button `number` (from 1) of the chat's last menu."""
        row = await self._db.fetchone(
            "SELECT buttons, ref FROM button_menus WHERE channel = ? AND chat_id = ?",
            (channel, chat_id),
        )
        if row is None:
            return None
        buttons = json.loads(row["buttons"])
        if not 1 <= number <= len(buttons):
            return None
        return str(buttons[number - 1][1]), str(row["ref"] or "")

    async def forget(self, channel: str, chat_id: str) -> None:
        await self._db.execute(
            "DELETE FROM button_menus WHERE channel = ? AND chat_id = ?", (channel, chat_id)
        )


def _finding(row: sqlite3.Row) -> Finding:
    return Finding(
        id=row["id"],
        branch_id=row["branch_id"],
        department_id=row["department_id"],
        text=row["text"],
        status=row["status"],
        escalated=bool(row["escalated"]),
        project_ref=row["project_ref"],
        raised_by=row["raised_by"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


class FindingRepo:
    """Supervision findings and their history."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        branch: Branch,
        text: str,
        person_id: int,
        project_ref: str | None,
        now: datetime,
    ) -> Finding:
        stamp = to_db_time(now)
        row = await self._db.fetchone(
            "INSERT INTO findings (branch_id, department_id, text, project_ref, raised_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (branch.id, branch.department_id, text, project_ref, person_id, stamp, stamp),
        )
        assert row is not None
        await self.log(row["id"], person_id, "add", text, now)
        return _finding(row)

    async def get(self, finding_id: int) -> Finding | None:
        row = await self._db.fetchone("SELECT * FROM findings WHERE id = ?", (finding_id,))
        return _finding(row) if row else None

    async def change(
        self,
        finding_id: int,
        person_id: int,
        action: str,
        text: str,
        now: datetime,
        *,
        status: str | None = None,
        escalated: bool | None = None,
    ) -> int:
        """Record an action; status and the escalation flag change with it."""
        await self._db.execute(
            "UPDATE findings SET status = coalesce(?, status),"
            " escalated = coalesce(?, escalated), updated_at = ? WHERE id = ?",
            (status, None if escalated is None else int(escalated), to_db_time(now), finding_id),
        )
        return await self.log(finding_id, person_id, action, text, now)

    async def log(
        self, finding_id: int, person_id: int, action: str, text: str, now: datetime
    ) -> int:
        return await self._db.insert(
            "INSERT INTO finding_history (finding_id, person_id, action, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (finding_id, person_id, action, text, to_db_time(now)),
        )

    async def history(self, finding_id: int) -> list[FindingEvent]:
        rows = await self._db.fetchall(
            "SELECT h.action, h.text, p.name, h.created_at FROM finding_history h"
            " JOIN people p ON p.id = h.person_id WHERE h.finding_id = ? ORDER BY h.id",
            (finding_id,),
        )
        return [FindingEvent(r[0], r[1], r[2], from_db_time(r[3])) for r in rows]

    async def search(
        self,
        *,
        branches: Sequence[str] | None,
        include_resolved: bool = False,
        escalated_only: bool = False,
        limit: int = 50,
    ) -> list[Finding]:
        """Findings of the given branches (None: all), oldest first."""
        where = ["1 = 1"]
        params: list[Any] = []
        if branches is not None:
            if not branches:
                return []
            where.append(f"branch_id IN ({','.join('?' * len(branches))})")
            params.extend(branches)
        if not include_resolved:
            where.append("status = 'open'")
        if escalated_only:
            where.append("escalated = 1")
        rows = await self._db.fetchall(
            f"SELECT * FROM findings WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT ?",
            (*params, limit),
        )
        return [_finding(r) for r in rows]

    async def for_agenda(self, opened_before: datetime) -> list[Finding]:
        """Open findings that are escalated or older than `opened_before`."""
        rows = await self._db.fetchall(
            "SELECT * FROM findings WHERE status = 'open' AND (escalated = 1 OR created_at < ?)"
            " ORDER BY department_id, branch_id, created_at, id",
            (to_db_time(opened_before),),
        )
        return [_finding(r) for r in rows]


class VisitRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, branch: Branch, person_id: int, note: str, now: datetime, local_month: str
    ) -> int:
        return await self._db.insert(
            "INSERT INTO visits (branch_id, department_id, person_id, note, visited_at,"
            " local_month) VALUES (?, ?, ?, ?, ?, ?)",
            (branch.id, branch.department_id, person_id, note, to_db_time(now), local_month),
        )

    async def since(self, moment: datetime) -> dict[str, int]:
        """Branch id → visits from `moment` on."""
        rows = await self._db.fetchall(
            "SELECT branch_id, count(*) FROM visits WHERE visited_at >= ? GROUP BY branch_id",
            (to_db_time(moment),),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def counts(self, local_month: str) -> dict[str, int]:
        """Branch id → visits in that month (the configured timezone's month)."""
        rows = await self._db.fetchall(
            "SELECT branch_id, count(*) FROM visits WHERE local_month = ? GROUP BY branch_id",
            (local_month,),
        )
        return {r[0]: int(r[1]) for r in rows}


class JobRunRepo:
    """The ledger of scheduled runs by (job, period)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def status(self, job: str, period: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT status FROM job_runs WHERE job = ? AND period = ?", (job, period)
        )
        return str(row[0]) if row else None

    async def record(
        self,
        job: str,
        period: str,
        status: str,
        fire_time: datetime,
        now: datetime,
        notices: int,
    ) -> None:
        await self._db.execute(
            "INSERT INTO job_runs (job, period, status, fire_time, ran_at, notices)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(job, period) DO UPDATE SET"
            " status = excluded.status, ran_at = excluded.ran_at,"
            " notices = job_runs.notices + excluded.notices",
            (job, period, status, to_db_time(fire_time), to_db_time(now), notices),
        )

    async def last_fire(self, job: str, *, before: datetime) -> datetime | None:
        """The scheduled time of the job's latest run before `before`."""
        row = await self._db.fetchone(
            "SELECT max(fire_time) FROM job_runs WHERE job = ? AND status = 'done'"
            " AND fire_time < ?",
            (job, to_db_time(before)),
        )
        return from_db_time(row[0]) if row and row[0] else None

    async def first_start(self, now: datetime) -> datetime:
        """When the scheduler first ran on this database (recorded on the first call)."""
        await self._db.execute(
            "INSERT INTO job_runs (job, period, status, fire_time, ran_at) VALUES"
            " ('_scheduler', 'first_start', 'done', ?, ?) ON CONFLICT DO NOTHING",
            (to_db_time(now), to_db_time(now)),
        )
        row = await self._db.fetchone(
            "SELECT fire_time FROM job_runs WHERE job = '_scheduler' AND period = 'first_start'"
        )
        assert row is not None
        return from_db_time(row[0])


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    title: str
    category: str
    lead_id: int
    lead_name: str
    expected_benefit_fen: int
    branches: tuple[str, ...]
    idea_ids: tuple[int, ...]
    verified_fen: int
    rewarded_fen: int
    last_progress: str | None
    last_percent: int | None
    last_progress_at: datetime | None
    created_at: datetime

    @property
    def number(self) -> str:
        return f"P{self.id:02d}"


@dataclass(frozen=True, slots=True)
class Benefit:
    id: int
    project_id: int
    amount_fen: int
    text: str
    claimed_by: int
    status: str
    decided_at: datetime | None
    created_at: datetime


class ProjectRepo:
    """Key projects, their ideas, branches, progress, benefits and rewards. Money is integer fen."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        title: str,
        category: str,
        lead_id: int,
        branches: Sequence[str],
        expected_fen: int,
        person_id: int,
        now: datetime,
    ) -> int:
        stamp = to_db_time(now)
        project_id = await self._db.insert(
            "INSERT INTO projects (title, category, lead_id, expected_benefit_fen, created_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (title, category, lead_id, expected_fen, person_id, stamp, stamp),
        )
        await self._db.executemany(
            "INSERT INTO project_branches (project_id, branch_id) VALUES (?, ?)",
            [(project_id, b) for b in dict.fromkeys(branches)],
        )
        return project_id

    async def link(self, project_id: int, idea_id: int) -> None:
        """Raises sqlite3.IntegrityError when the idea already belongs to a project."""
        await self._db.execute(
            "INSERT INTO project_ideas (idea_id, project_id) VALUES (?, ?)", (idea_id, project_id)
        )

    async def project_of(self, idea_id: int) -> int | None:
        row = await self._db.fetchone(
            "SELECT project_id FROM project_ideas WHERE idea_id = ?", (idea_id,)
        )
        return int(row[0]) if row else None

    async def get(self, project_id: int) -> Project | None:
        found = await self._select("WHERE p.id = ?", (project_id,))
        return found[0] if found else None

    async def all(self) -> list[Project]:
        return await self._select("", ())

    async def _select(self, where: str, params: Sequence[Any]) -> list[Project]:
        rows = await self._db.fetchall(
            "SELECT p.*, l.name AS lead_name,"
            " (SELECT group_concat(branch_id, ' ') FROM project_branches WHERE project_id = p.id)"
            "   AS branch_ids,"
            " (SELECT group_concat(idea_id, ' ') FROM project_ideas WHERE project_id = p.id)"
            "   AS idea_ids,"
            " (SELECT coalesce(sum(amount_fen), 0) FROM benefits WHERE project_id = p.id"
            "   AND status = 'verified') AS verified_fen,"
            " (SELECT coalesce(sum(amount_fen), 0) FROM rewards WHERE project_id = p.id)"
            "   AS rewarded_fen,"
            " (SELECT text FROM project_progress WHERE project_id = p.id ORDER BY id DESC LIMIT 1)"
            "   AS last_text,"
            " (SELECT percent FROM project_progress WHERE project_id = p.id AND percent IS NOT NULL"
            "   ORDER BY id DESC LIMIT 1) AS last_percent,"
            " (SELECT created_at FROM project_progress WHERE project_id = p.id"
            "   ORDER BY id DESC LIMIT 1) AS last_at"
            f" FROM projects p JOIN people l ON l.id = p.lead_id {where} ORDER BY p.id",
            params,
        )
        return [
            Project(
                id=r["id"],
                title=r["title"],
                category=r["category"],
                lead_id=r["lead_id"],
                lead_name=r["lead_name"],
                expected_benefit_fen=r["expected_benefit_fen"],
                branches=tuple((r["branch_ids"] or "").split()),
                idea_ids=tuple(sorted(int(i) for i in (r["idea_ids"] or "").split())),
                verified_fen=int(r["verified_fen"]),
                rewarded_fen=int(r["rewarded_fen"]),
                last_progress=r["last_text"],
                last_percent=r["last_percent"],
                last_progress_at=from_db_time(r["last_at"]) if r["last_at"] else None,
                created_at=from_db_time(r["created_at"]),
            )
            for r in rows
        ]

    async def add_progress(
        self, project_id: int, person_id: int, percent: int | None, text: str, now: datetime
    ) -> int:
        return await self._db.insert(
            "INSERT INTO project_progress (project_id, person_id, percent, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (project_id, person_id, percent, text, to_db_time(now)),
        )

    async def claim(
        self, project_id: int, amount_fen: int, text: str, person_id: int, now: datetime
    ) -> int:
        return await self._db.insert(
            "INSERT INTO benefits (project_id, amount_fen, text, claimed_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (project_id, amount_fen, text, person_id, to_db_time(now)),
        )

    async def benefit(self, benefit_id: int) -> Benefit | None:
        row = await self._db.fetchone("SELECT * FROM benefits WHERE id = ?", (benefit_id,))
        if row is None:
            return None
        return Benefit(
            row["id"],
            row["project_id"],
            row["amount_fen"],
            row["text"],
            row["claimed_by"],
            row["status"],
            from_db_time(row["decided_at"]) if row["decided_at"] else None,
            from_db_time(row["created_at"]),
        )

    async def decide(
        self, benefit_id: int, status: str, person_id: int, reason: str, now: datetime
    ) -> bool:
        count = await self._db.execute(
            "UPDATE benefits SET status = ?, decided_by = ?, decided_at = ?, reason = ?"
            " WHERE id = ? AND status = 'claimed'",
            (status, person_id, to_db_time(now), reason, benefit_id),
        )
        return count > 0

    async def verified_since(self, moment: datetime) -> list[Benefit]:
        rows = await self._db.fetchall(
            "SELECT id FROM benefits WHERE status = 'verified' AND decided_at >= ? ORDER BY id",
            (to_db_time(moment),),
        )
        found = [await self.benefit(r[0]) for r in rows]
        return [b for b in found if b is not None]

    async def record_reward(
        self,
        project_id: int,
        basis_fen: int,
        recipients: Sequence[tuple[int | None, str | None, str, int]],
        note: str,
        person_id: int,
        now: datetime,
    ) -> int:
        total = sum(amount for *_, amount in recipients)
        reward_id = await self._db.insert(
            "INSERT INTO rewards (project_id, amount_fen, basis_fen, note, confirmed_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (project_id, total, basis_fen, note, person_id, to_db_time(now)),
        )
        await self._db.executemany(
            "INSERT INTO reward_recipients (reward_id, person_id, branch_id, label, amount_fen)"
            " VALUES (?, ?, ?, ?, ?)",
            [(reward_id, pid, bid, label, amount) for pid, bid, label, amount in recipients],
        )
        return reward_id

    async def verified_facts(self, since: datetime) -> list[tuple[datetime, int, int]]:
        """(verified at, amount fen, project id) of benefits verified since `since`."""
        rows = await self._db.fetchall(
            "SELECT decided_at, amount_fen, project_id FROM benefits WHERE status = 'verified'"
            " AND decided_at >= ?",
            (to_db_time(since),),
        )
        return [(from_db_time(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def rewarded_basis(self, project_id: int) -> int:
        row = await self._db.fetchone(
            "SELECT coalesce(sum(basis_fen), 0) FROM rewards WHERE project_id = ?", (project_id,)
        )
        return int(row[0]) if row else 0

    async def rewards_of(self, person_id: int) -> list[tuple[str, str, int, datetime]]:
        """(project number, title, amount fen, when) of the rewards naming this person."""
        rows = await self._db.fetchall(
            "SELECT p.id, p.title, rr.amount_fen, r.created_at FROM reward_recipients rr"
            " JOIN rewards r ON r.id = rr.reward_id JOIN projects p ON p.id = r.project_id"
            " WHERE rr.person_id = ? ORDER BY r.id",
            (person_id,),
        )
        return [(f"P{r[0]:02d}", r[1], int(r[2]), from_db_time(r[3])) for r in rows]

    async def sheet(self, name: str) -> list[dict[str, Any]]:
        """Rows for the ledger export: progress, benefits or rewards."""
        queries = {
            "progress": "SELECT 'P' || printf('%02d', g.project_id) AS project, p.name AS person,"
            " g.percent, g.text, g.created_at FROM project_progress g"
            " JOIN people p ON p.id = g.person_id ORDER BY g.id",
            "benefits": "SELECT b.id, 'P' || printf('%02d', b.project_id) AS project,"
            " b.amount_fen, b.status, b.text, c.name AS claimed_by, d.name AS decided_by,"
            " b.created_at, b.decided_at FROM benefits b JOIN people c ON c.id = b.claimed_by"
            " LEFT JOIN people d ON d.id = b.decided_by ORDER BY b.id",
            "rewards": "SELECT r.id, 'P' || printf('%02d', r.project_id) AS project, rr.label,"
            " rr.amount_fen, r.basis_fen, r.note, c.name AS confirmed_by, r.created_at"
            " FROM rewards r JOIN reward_recipients rr ON rr.reward_id = r.id"
            " JOIN people c ON c.id = r.confirmed_by ORDER BY r.id, rr.rowid",
        }
        return [dict(r) for r in await self._db.fetchall(queries[name])]


class ScoreRepo:
    """Score entries by branch, month and part; the latest entry of each part counts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enter(
        self,
        branch_id: str,
        month: str,
        part: str,
        value: float,
        text: str,
        person_id: int | None,
        now: datetime,
    ) -> int:
        return await self._db.insert(
            "INSERT INTO score_entries (branch_id, month, part, value, text, person_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (branch_id, month, part, value, text, person_id, to_db_time(now)),
        )

    async def month(self, month: str) -> dict[str, dict[str, float]]:
        """Branch id → part → latest value for the month."""
        rows = await self._db.fetchall(
            "SELECT branch_id, part, value FROM score_entries e WHERE month = ? AND id ="
            " (SELECT max(id) FROM score_entries WHERE branch_id = e.branch_id"
            "  AND month = e.month AND part = e.part)",
            (month,),
        )
        found: dict[str, dict[str, float]] = {}
        for r in rows:
            found.setdefault(r[0], {})[r[1]] = float(r[2])
        return found

    async def months(self) -> list[str]:
        rows = await self._db.fetchall("SELECT DISTINCT month FROM score_entries ORDER BY month")
        return [r[0] for r in rows]

    async def is_closed(self, month: str) -> bool:
        return (
            await self._db.fetchone("SELECT 1 FROM closed_months WHERE month = ?", (month,))
            is not None
        )

    async def close(self, month: str, person_id: int, now: datetime) -> bool:
        count = await self._db.execute(
            "INSERT INTO closed_months (month, closed_by, closed_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (month, person_id, to_db_time(now)),
        )
        return count > 0


class Repositories:
    """Every repository over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.org = OrgRepo(db)
        self.people = PeopleRepo(db)
        self.ideas = IdeaRepo(db)
        self.attachments = AttachmentRepo(db)
        self.inbox = InboxRepo(db)
        self.conversations = ConversationRepo(db)
        self.outbox = OutboxRepo(db)
        self.groups = GroupRepo(db)
        self.menus = MenuRepo(db)
        self.findings = FindingRepo(db)
        self.visits = VisitRepo(db)
        self.job_runs = JobRunRepo(db)
        self.projects = ProjectRepo(db)
        self.scores = ScoreRepo(db)
