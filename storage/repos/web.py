"""The web 看板's one-time links, sessions and audit record.

Global tables: a cookie is looked up before its mine is known, so every row carries its mine
as data and the callers say which mine they mean. Only SHA-256 hashes of the link tokens and
session ids are stored, so a copy of the database opens no session.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.models import WebAudit, WebSession
from storage.port import Row, SqlDatabase
from storage.repos.times import from_db_time, to_db_time

_SESSION = (
    "SELECT id, mine, person_id, created_at, expires_at, last_seen_at, user_agent FROM web_sessions"
)


def _session(row: Row) -> WebSession:
    return WebSession(
        row["id"], row["mine"], row["person_id"], from_db_time(row["created_at"]),
        from_db_time(row["expires_at"]), from_db_time(row["last_seen_at"]), row["user_agent"],
    )  # fmt: skip


def _audit(row: Row) -> WebAudit:
    return WebAudit(
        from_db_time(row["at"]), row["mine"], row["person_id"], row["action"], row["target"],
        row["detail"],
    )  # fmt: skip


class WebRepo:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    # -- one-time links --------------------------------------------------------------------

    async def add_link(
        self, token_hash: str, mine: str, person_id: int, now: datetime, expires_at: datetime
    ) -> None:
        await self._db.execute(
            "INSERT INTO web_links (token_hash, mine, person_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash, mine, person_id, to_db_time(now), to_db_time(expires_at)),
        )

    async def link_state(self, token_hash: str, now: datetime) -> str:
        """'open', 'used', 'expired' or 'unknown': what the login page says, without using
        the link (chat apps fetch a link's page for its preview)."""
        row = await self._db.fetchone(
            "SELECT expires_at, used_at FROM web_links WHERE token_hash = ?", (token_hash,)
        )
        if row is None:
            return "unknown"
        if row["used_at"] is not None:
            return "used"
        return "open" if row["expires_at"] > to_db_time(now) else "expired"

    async def use_link(self, token_hash: str, now: datetime) -> tuple[str, int] | None:
        """Use an open link once: its (mine, person id); None when it is unknown, used or
        expired. The conditional update is the claim, so two presses open one session."""
        stamp = to_db_time(now)
        row = await self._db.fetchone(
            "SELECT id, mine, person_id FROM web_links"
            " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            (token_hash, stamp),
        )
        if row is None:
            return None
        claimed = await self._db.execute(
            "UPDATE web_links SET used_at = ? WHERE id = ? AND used_at IS NULL", (stamp, row["id"])
        )
        return (row["mine"], int(row["person_id"])) if claimed else None

    # -- sessions --------------------------------------------------------------------------

    async def open_session(
        self,
        session_hash: str,
        mine: str,
        person_id: int,
        now: datetime,
        expires_at: datetime,
        user_agent: str,
    ) -> int:
        stamp = to_db_time(now)
        return await self._db.insert(
            "INSERT INTO web_sessions (session_hash, mine, person_id, created_at, expires_at,"
            " last_seen_at, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_hash, mine, person_id, stamp, to_db_time(expires_at), stamp, user_agent),
        )

    async def session(self, session_hash: str, now: datetime) -> WebSession | None:
        """The live session with this hash: neither expired nor revoked."""
        row = await self._db.fetchone(
            f"{_SESSION} WHERE session_hash = ? AND revoked_at IS NULL AND expires_at > ?",
            (session_hash, to_db_time(now)),
        )
        return _session(row) if row is not None else None

    async def seen(self, session_id: int, now: datetime, *, every_s: int = 60) -> None:
        """Note the session was used now; at most one write per `every_s` seconds of use."""
        stamp = to_db_time(now)
        earlier = to_db_time(now - timedelta(seconds=every_s))
        await self._db.execute(
            "UPDATE web_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
            (stamp, session_id, earlier),
        )

    async def live_sessions(self, mine: str, now: datetime) -> list[WebSession]:
        """The mine's live sessions, the latest seen first."""
        rows = await self._db.fetchall(
            f"{_SESSION} WHERE mine = ? AND revoked_at IS NULL AND expires_at > ?"
            " ORDER BY last_seen_at DESC, id DESC",
            (mine, to_db_time(now)),
        )
        return [_session(r) for r in rows]

    async def revoke(self, session_id: int, mine: str, by: int | None, now: datetime) -> bool:
        """End a live session of `mine`; False when there is none with that id there."""
        count = await self._db.execute(
            "UPDATE web_sessions SET revoked_at = ?, revoked_by = ?"
            " WHERE id = ? AND mine = ? AND revoked_at IS NULL",
            (to_db_time(now), by, session_id, mine),
        )
        return count > 0

    # -- the audit record ------------------------------------------------------------------

    async def audit(
        self,
        mine: str,
        person_id: int | None,
        action: str,
        target: str,
        detail: str,
        now: datetime,
    ) -> None:
        await self._db.execute(
            "INSERT INTO web_audit (at, mine, person_id, action, target, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (to_db_time(now), mine, person_id, action, target, detail),
        )

    async def audits(self, mine: str, *, limit: int = 100) -> list[WebAudit]:
        """The mine's latest writes through the 看板, newest first."""
        rows = await self._db.fetchall(
            "SELECT at, mine, person_id, action, target, detail FROM web_audit"
            " WHERE mine = ? ORDER BY at DESC, id DESC LIMIT ?",
            (mine, limit),
        )
        return [_audit(r) for r in rows]
