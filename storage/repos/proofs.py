"""What proves a chat identity: one-time invite codes, failed attempts, secretaries' approvals."""

from __future__ import annotations

from datetime import datetime

from storage.models import BindRequest, InviteCode
from storage.port import SqlDatabase
from storage.repos.times import from_db_time, to_db_time


class ProofRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def issue_code(
        self,
        person_id: int,
        salt: str,
        code_hash: str,
        issued_by: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a new code for the person; their earlier unused codes stop working."""
        await self._db.execute(
            "DELETE FROM invite_codes WHERE person_id = ? AND used_at IS NULL", (person_id,)
        )
        await self._db.execute(
            "INSERT INTO invite_codes (person_id, salt, code_hash, issued_by, issued_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (person_id, salt, code_hash, issued_by, to_db_time(now), to_db_time(expires_at)),
        )

    async def open_code(self, person_id: int, now: datetime) -> InviteCode | None:
        """The person's unused, unexpired code, if any."""
        row = await self._db.fetchone(
            "SELECT id, person_id, salt, code_hash, expires_at FROM invite_codes"
            " WHERE person_id = ? AND used_at IS NULL AND expires_at > ?"
            " ORDER BY id DESC LIMIT 1",
            (person_id, to_db_time(now)),
        )
        if row is None:
            return None
        return InviteCode(
            row["id"], row["person_id"], row["salt"], row["code_hash"],
            from_db_time(row["expires_at"]),
        )  # fmt: skip

    async def use_code(self, code_id: int, now: datetime) -> bool:
        """Mark a code used; False if it was used meanwhile."""
        count = await self._db.execute(
            "UPDATE invite_codes SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (to_db_time(now), code_id),
        )
        return count > 0

    async def record_failure(self, channel: str, external_id: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO bind_failures (channel, external_id, failed_at) VALUES (?, ?, ?)",
            (channel, external_id, to_db_time(now)),
        )

    async def failures_since(self, channel: str, external_id: str, since: datetime) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) FROM bind_failures"
            " WHERE channel = ? AND external_id = ? AND failed_at > ?",
            (channel, external_id, to_db_time(since)),
        )
        return int(row[0]) if row else 0

    async def request(self, person_id: int, channel: str, external_id: str, now: datetime) -> int:
        """A new pending request; raises Duplicate while the sender has one open."""
        async with (
            self._db.transaction()
        ):  # a savepoint: a Duplicate leaves the caller's unit usable
            return await self._db.insert(
                "INSERT INTO bind_requests (person_id, channel, external_id, requested_at)"
                " VALUES (?, ?, ?, ?)",
                (person_id, channel, external_id, to_db_time(now)),
            )

    async def request_by_id(self, request_id: int) -> BindRequest | None:
        row = await self._db.fetchone(
            "SELECT id, person_id, channel, external_id, status FROM bind_requests WHERE id = ?",
            (request_id,),
        )
        if row is None:
            return None
        return BindRequest(
            row["id"], row["person_id"], row["channel"], row["external_id"], row["status"]
        )

    async def decide(self, request_id: int, approved: bool, by: int, now: datetime) -> bool:
        """Close a pending request; False if it was decided already."""
        count = await self._db.execute(
            "UPDATE bind_requests SET status = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND status = 'pending'",
            ("approved" if approved else "rejected", by, to_db_time(now), request_id),
        )
        return count > 0
