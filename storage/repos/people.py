"""People of the roster, their roles and their bound chat identities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.models import Person, Recipient, Role, RosterEntry
from storage.port import SqlDatabase
from storage.repos.dialect import joined, mine_key
from storage.repos.times import to_db_time


class PeopleRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT count(*) FROM people")
        return int(row[0]) if row else 0

    async def upsert_roster(self, entries: Sequence[RosterEntry], now: datetime) -> int:
        """Insert or update people, replace their roles and, where an entry names one, put
        them in that party group of their branch (made if new); a person whose branch changed
        leaves their old branch's group. The caller holds the transaction.

        Raises Duplicate when a WeCom userid already belongs to another person."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
            return await self._upsert_roster(entries, to_db_time(now))

    async def _upsert_roster(self, entries: Sequence[RosterEntry], stamp: str) -> int:
        for e in entries:
            await self._db.execute(
                "INSERT INTO people (employee_no, name, branch_id, wecom_userid, phone, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(mine, employee_no) DO UPDATE SET name = excluded.name,"
                " branch_id = excluded.branch_id, wecom_userid = excluded.wecom_userid,"
                " phone = excluded.phone, updated_at = excluded.updated_at",
                (e.employee_no, e.name, e.branch_id, e.wecom_userid, e.phone, stamp, stamp),
            )
            row = await self._db.fetchone(
                "SELECT id FROM people WHERE employee_no = ?", (e.employee_no,)
            )
            assert row is not None
            await self._replace_roles(row["id"], e.roles)
            await self._db.execute(
                "DELETE FROM party_group_members WHERE person_id = ? AND group_id NOT IN"
                " (SELECT id FROM party_groups WHERE branch_id = ?)",
                (row["id"], e.branch_id),
            )
            if e.party_group:
                await self._db.execute(
                    "INSERT INTO party_groups (branch_id, name, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(mine, branch_id, name) DO NOTHING",
                    (e.branch_id, e.party_group, stamp),
                )
                await self._db.execute(
                    "INSERT INTO party_group_members (person_id, group_id)"
                    " SELECT ?, id FROM party_groups WHERE branch_id = ? AND name = ?"
                    f" ON CONFLICT({mine_key(self._db.dialect, 'person_id')})"
                    " DO UPDATE SET group_id = excluded.group_id",
                    (row["id"], e.branch_id, e.party_group),
                )
        return len(entries)

    async def set_roles(self, person_id: int, roles: Sequence[Role]) -> None:
        """Replace a person's roles (one per role name); the caller holds the transaction."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
            await self._replace_roles(person_id, roles)

    async def _replace_roles(self, person_id: int, roles: Sequence[Role]) -> None:
        await self._db.execute("DELETE FROM roles WHERE person_id = ?", (person_id,))
        await self._db.executemany(
            "INSERT INTO roles (person_id, role, department_id) VALUES (?, ?, ?)",
            [(person_id, r.role, r.department_id) for r in roles],
        )

    async def count_with_role(self, role: str) -> int:
        row = await self._db.fetchone(
            "SELECT count(DISTINCT person_id) FROM roles WHERE role = ?", (role,)
        )
        return int(row[0]) if row else 0

    async def by_employee_no(self, employee_no: str) -> Person | None:
        return await self._one("WHERE p.employee_no = ?", (employee_no,))

    async def by_id(self, person_id: int) -> Person | None:
        return await self._one("WHERE p.id = ?", (person_id,))

    async def by_wecom_userid(self, userid: str) -> Person | None:
        """The roster person carrying this WeCom userid (the roster's `wecom_userid`)."""
        return await self._one("WHERE p.wecom_userid = ?", (userid,))

    async def with_role(self, role: str) -> list[Person]:
        """Everyone holding `role`, by 工号."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT p.id, p.employee_no FROM people p JOIN roles r ON r.person_id = p.id"
            " WHERE r.role = ? ORDER BY p.employee_no",
            (role,),
        )
        found = [await self.by_id(r["id"]) for r in rows]
        return [p for p in found if p is not None]

    async def by_number_or_name(self, text: str) -> list[Person]:
        """The people whose 工号 (any case) or full name is `text`, by 工号."""
        rows = await self._db.fetchall(
            "SELECT id FROM people WHERE lower(employee_no) = lower(?) OR name = ?"
            " ORDER BY employee_no",
            (text, text),
        )
        found = [await self.by_id(r["id"]) for r in rows]
        return [p for p in found if p is not None]

    async def phone_of(self, person_id: int) -> str | None:
        """The roster's phone (digits, no country code), matched to a phone shared in chat."""
        row = await self._db.fetchone("SELECT phone FROM people WHERE id = ?", (person_id,))
        return str(row["phone"]) if row and row["phone"] else None

    async def unbound(self, channel: str, branch_id: str | None = None) -> list[Person]:
        """Everyone (of one branch) without an identity on `channel`, by 工号."""
        rows = await self._db.fetchall(
            # CAST: PostgreSQL must know a parameter's type, which `? IS NULL` alone does not say.
            "SELECT id FROM people p WHERE (CAST(? AS TEXT) IS NULL OR branch_id = ?)"
            " AND NOT EXISTS (SELECT 1 FROM identities i"
            " WHERE i.person_id = p.id AND i.channel = ?)"
            " ORDER BY employee_no",
            (branch_id, branch_id, channel),
        )
        found = [await self.by_id(r["id"]) for r in rows]
        return [p for p in found if p is not None]

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
        """Bind a chat identity; raises Duplicate when either side is taken."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
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
    ) -> list[Recipient]:
        """(channel, external id) of everyone with `role`, optionally in one branch or one
        supervising department."""
        rows = await self._db.fetchall(
            "SELECT i.channel, i.external_id FROM identities i"
            " JOIN roles r ON r.person_id = i.person_id JOIN people p ON p.id = i.person_id"
            " WHERE r.role = ? AND (CAST(? AS TEXT) IS NULL OR p.branch_id = ?)"
            " AND (CAST(? AS TEXT) IS NULL OR r.department_id = ?)"
            " ORDER BY i.channel, i.external_id",
            (role, branch_id, branch_id, department_id, department_id),
        )
        return [Recipient(r[0], r[1]) for r in rows]

    async def identities_of(self, person_id: int) -> list[Recipient]:
        """Every (channel, external id) of one person."""
        rows = await self._db.fetchall(
            "SELECT channel, external_id FROM identities WHERE person_id = ? ORDER BY channel",
            (person_id,),
        )
        return [Recipient(r[0], r[1]) for r in rows]

    async def admin_identities(self) -> list[Recipient]:
        """(channel, external id) of every admin's chat identity."""
        rows = await self._db.fetchall(
            "SELECT i.channel, i.external_id FROM identities i"
            " JOIN roles r ON r.person_id = i.person_id WHERE r.role = 'admin'"
            " ORDER BY i.channel, i.external_id"
        )
        return [Recipient(r["channel"], r["external_id"]) for r in rows]

    async def bound(self, channel: str) -> list[tuple[str, Person]]:
        """(external id, person with roles) of everyone bound on `channel`, in one read on the
        read connection (it runs beside the writer, for every bound person at once)."""
        rows = await self._db.reader.fetchall(
            f"SELECT i.external_id, {person_columns(self._db.dialect)} FROM identities i"
            " JOIN people p ON p.id = i.person_id WHERE i.channel = ? ORDER BY i.external_id",
            (channel,),
        )
        return [(str(row["external_id"]), person_of(row)) for row in rows]

    async def _one(self, where: str, params: Sequence[Any]) -> Person | None:
        """One person with their roles, in one query (this runs for every update)."""
        row = await self._db.fetchone(
            f"SELECT {person_columns(self._db.dialect)} FROM people p {where}", params
        )
        return None if row is None else person_of(row)


def person_columns(dialect: str) -> str:
    """A person's columns (of `people p`) with their roles as `role:department` words."""
    roles = joined(
        dialect,
        "r.role || ':' || coalesce(r.department_id, '')",
        "FROM roles r WHERE r.person_id = p.id",  # any order: `person_of` sorts them
    )
    return f"p.id, p.employee_no, p.name, p.branch_id, p.wecom_userid, {roles} AS roles"


def person_of(row: Any) -> Person:
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
