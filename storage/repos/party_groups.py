"""Party groups (党小组): named groups of people within one branch.

A group is referred to by its integer id (`PartyGroup.id`) wherever another record points at
it (a key point, a reward share); people name it within their branch ("一组"), so a name is
unique per branch only. Each person is in at most one group, always one of their own branch.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from storage.models import MemberActivity, PartyGroup, Person, RewardReceived
from storage.port import SqlDatabase
from storage.repos.dialect import mine_key
from storage.repos.people import person_columns, person_of
from storage.repos.times import from_db_time, to_db_time


class PartyGroupRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(self, branch_id: str, name: str, now: datetime) -> PartyGroup:
        """A new group of the branch; raises Duplicate when the branch has one by that name.
        The caller holds the transaction."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
            group_id = await self._db.insert(
                "INSERT INTO party_groups (branch_id, name, created_at) VALUES (?, ?, ?)",
                (branch_id, name, to_db_time(now)),
            )
        return PartyGroup(group_id, branch_id, name)

    async def group(self, group_id: int) -> PartyGroup | None:
        row = await self._db.fetchone(
            "SELECT id, branch_id, name FROM party_groups WHERE id = ?", (group_id,)
        )
        return _group(row) if row else None

    async def groups_of_branch(self, branch_id: str) -> list[PartyGroup]:
        """The branch's groups in the order they were made."""
        rows = await self._db.fetchall(
            "SELECT id, branch_id, name FROM party_groups WHERE branch_id = ? ORDER BY id",
            (branch_id,),
        )
        return [_group(r) for r in rows]

    async def every(self) -> list[PartyGroup]:
        """Every branch's groups, by branch id and then in the order they were made."""
        rows = await self._db.fetchall(
            "SELECT id, branch_id, name FROM party_groups ORDER BY branch_id, id"
        )
        return [_group(r) for r in rows]

    async def group_named(self, branch_id: str, text: str) -> PartyGroup | None:
        """The branch's group whose name is exactly `text` (for a looser match of what
        people type use `handlers.rules.names.party_groups` over `groups_of_branch`)."""
        row = await self._db.fetchone(
            "SELECT id, branch_id, name FROM party_groups WHERE branch_id = ? AND name = ?",
            (branch_id, text.strip()),
        )
        return _group(row) if row else None

    async def group_of(self, person_id: int) -> PartyGroup | None:
        """The group a person is in, if any."""
        row = await self._db.fetchone(
            "SELECT g.id, g.branch_id, g.name FROM party_group_members m"
            " JOIN party_groups g ON g.id = m.group_id WHERE m.person_id = ?",
            (person_id,),
        )
        return _group(row) if row else None

    async def members(self, group: PartyGroup | int) -> list[Person]:
        """The group's members (with their roles), by 工号."""
        group_id = group.id if isinstance(group, PartyGroup) else group
        rows = await self._db.fetchall(
            f"SELECT {person_columns(self._db.dialect)} FROM party_group_members m JOIN people p"
            " ON p.id = m.person_id WHERE m.group_id = ? ORDER BY p.employee_no",
            (group_id,),
        )
        return [person_of(r) for r in rows]

    async def assign(self, person_id: int, group_id: int) -> None:
        """Put a person in a group (out of any other); the caller checks that the group is of
        the person's branch and holds the transaction."""
        await self._db.execute(
            "INSERT INTO party_group_members (person_id, group_id) VALUES (?, ?)"
            f" ON CONFLICT({mine_key(self._db.dialect, 'person_id')})"
            " DO UPDATE SET group_id = excluded.group_id",
            (person_id, group_id),
        )

    async def unassign(self, person_id: int) -> None:
        await self._db.execute("DELETE FROM party_group_members WHERE person_id = ?", (person_id,))

    async def member_activity(
        self,
        branch_id: str,
        since: datetime,
        *,
        adopted: Collection[str],
        excluded: Collection[str],
    ) -> list[MemberActivity]:
        """Everyone of the branch, by 工号, with their group and how many ideas they sent
        from `since` on (statuses in `excluded` left out) and how many of those have an
        `adopted` status: one aggregate over the branch's people's ideas (the author index)."""
        adopted_marks = ",".join("?" * len(adopted)) or "NULL"
        # No statuses left out: no condition (NOT IN (NULL) would leave out every idea).
        left_out = f" AND i.status NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        rows = await self._db.fetchall(
            # CASE, not a sum of the comparison: PostgreSQL does not add up booleans; every
            # column grouped, as PostgreSQL wants (one membership row per person).
            "SELECT p.id, p.employee_no, p.name, m.group_id, count(i.id),"
            f" coalesce(sum(CASE WHEN i.status IN ({adopted_marks}) THEN 1 ELSE 0 END), 0)"
            " FROM people p LEFT JOIN party_group_members m ON m.person_id = p.id"
            " LEFT JOIN ideas i ON i.author_id = p.id AND i.created_at >= ?"
            f"{left_out} WHERE p.branch_id = ? GROUP BY p.id, p.employee_no, p.name, m.group_id"
            " ORDER BY p.employee_no",
            (*sorted(adopted), to_db_time(since), *sorted(excluded), branch_id),
        )
        return [MemberActivity(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]

    async def rewards_received(
        self, branch_id: str | None = None
    ) -> dict[int, list[RewardReceived]]:
        """The rewards naming each group of the branch (None: every branch), oldest first."""
        rows = await self._db.fetchall(
            "SELECT rr.group_id, p.id, p.title, rr.amount_fen, r.created_at"
            " FROM reward_recipients rr JOIN rewards r ON r.id = rr.reward_id"
            " JOIN projects p ON p.id = r.project_id"
            " JOIN party_groups g ON g.id = rr.group_id"
            " WHERE CAST(? AS TEXT) IS NULL OR g.branch_id = ? ORDER BY r.id, rr.position",
            (branch_id, branch_id),
        )
        found: dict[int, list[RewardReceived]] = {}
        for r in rows:
            found.setdefault(int(r[0]), []).append(
                RewardReceived(f"P{r[1]:02d}", r[2], int(r[3]), from_db_time(r[4]))
            )
        return found


def _group(row: Any) -> PartyGroup:
    return PartyGroup(row["id"], row["branch_id"], row["name"])
