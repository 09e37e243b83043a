"""Messages in and out: the inbox, conversations, the outbox and numbered menus."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from storage.models import Conversation, FailedUpdate, MenuChoice, OutboxMessage, PendingUpdate
from storage.port import SqlDatabase
from storage.repos.dialect import json_list
from storage.repos.times import from_db_time, to_db_time


class InboxRepo:
    """Incoming updates by platform id: the record that makes redelivery a no-op."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def store(
        self, channel: str, update_id: str, raw: str, now: datetime, *, chat: str = ""
    ) -> bool:
        """Record a raw update before it is confirmed to the platform; False if already known.
        `chat` is the chat (or sender) it belongs to: one chat's updates are claimed in order."""
        count = await self._db.execute(
            "INSERT INTO inbox (channel, update_id, raw, status, received_at, chat)"
            " VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
            (channel, update_id, raw, to_db_time(now), chat),
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

    async def pending(self, channel: str, limit: int = -1) -> list[PendingUpdate]:
        """(update_id, raw) of stored updates not yet processed, in arrival order (at most
        `limit`; -1: all). Read on the read connection: the last commit, no write lock."""
        # No LIMIT for all: PostgreSQL refuses SQLite's LIMIT -1.
        bound = " LIMIT ?" if limit >= 0 else ""
        rows = await self._db.reader.fetchall(
            "SELECT update_id, raw FROM inbox WHERE channel = ? AND status = 'pending'"
            f" ORDER BY received_at, position{bound}",
            (channel, limit) if limit >= 0 else (channel,),
        )
        return [PendingUpdate(r["update_id"], r["raw"]) for r in rows]

    async def claim(self, channel: str, limit: int) -> list[PendingUpdate]:
        """Take up to `limit` pending updates of `channel`, oldest first, for the caller's
        transaction (call inside it): they are this unit of work's until it ends.

        PostgreSQL, where several processes claim side by side: first the head (the oldest
        pending update) of each chat, `FOR UPDATE SKIP LOCKED`, so a chat another process
        holds is passed over and the others still flow; then the later pending updates of
        those chats. Nobody else takes a later update while its chat's head is pending and
        held, so one chat's updates are handled in order, each by one process. SQLite: one
        writer at a time, so the plain read inside the transaction is the claim."""
        if limit <= 0:
            return []
        if self._db.dialect == "sqlite":
            rows = await self._db.fetchall(
                "SELECT update_id, raw FROM inbox WHERE channel = ? AND status = 'pending'"
                " ORDER BY received_at, position LIMIT ?",
                (channel, limit),
            )
            return [PendingUpdate(r["update_id"], r["raw"]) for r in rows]
        # Each step reads the pending rows once, whatever the plan: the heads by the partial
        # index (channel, chat, received_at, position), then joins over the ids and the chats
        # given. A head found by `NOT EXISTS` (an earlier pending update of the same chat) was
        # a nested loop of rows × rows on an inbox the planner had not analysed since a burst
        # filled it: 61 ms a claim at 600 pending updates, 1.6 s at 3,000 (BENCHMARKS.md).
        heads = await self._db.fetchall(
            "SELECT DISTINCT ON (chat) update_id FROM inbox WHERE channel = ?"
            " AND status = 'pending' ORDER BY chat, received_at, position",
            (channel,),
        )
        if not heads:
            return []
        # The oldest heads not held by another process, locked; a head done by another
        # since it was read is no longer pending when locked, and is passed over.
        locked = await self._db.fetchall(
            "SELECT i.chat FROM json_array_elements_text(CAST(? AS json)) AS h(update_id)"
            " JOIN inbox i ON i.channel = ? AND i.update_id = h.update_id"
            " WHERE i.status = 'pending' ORDER BY i.received_at, i.position LIMIT ?"
            " FOR UPDATE OF i SKIP LOCKED",
            (json_list(str(r["update_id"]) for r in heads), channel, limit),
        )
        if not locked:
            return []
        chats = sorted({str(r["chat"]) for r in locked})
        # Waits rather than skips: a later update is held by someone else only in a race of
        # two stores committed out of order, and skipping it would break the chat's order.
        rows = await self._db.fetchall(
            "SELECT i.update_id, i.raw FROM json_array_elements_text(CAST(? AS json)) AS c(chat)"
            " JOIN inbox i ON i.channel = ? AND i.chat = c.chat WHERE i.status = 'pending'"
            " ORDER BY i.received_at, i.position LIMIT ? FOR UPDATE OF i",
            (json_list(chats), channel, limit),
        )
        return [PendingUpdate(r["update_id"], r["raw"]) for r in rows]

    async def record_failure(
        self, channel: str, update_id: str, error: str, now: datetime, give_up_after: int
    ) -> int:
        """Count a failed try; at `give_up_after` tries the update is set aside as failed.
        Returns the tries so far."""
        row = await self._db.fetchone(
            "UPDATE inbox SET attempts = attempts + 1, last_error = ?,"
            " status = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE status END,"
            " processed_at = CASE WHEN attempts + 1 >= ? THEN ? ELSE processed_at END"
            " WHERE channel = ? AND update_id = ? RETURNING attempts",
            (error[:2000], give_up_after, give_up_after, to_db_time(now), channel, update_id),
        )
        return int(row[0]) if row else give_up_after

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many updates per (channel, status)."""
        rows = await self._db.fetchall(
            "SELECT channel, status, count(*) AS n FROM inbox GROUP BY channel, status"
        )
        return {(r["channel"], r["status"]): int(r["n"]) for r in rows}

    async def failures(self, limit: int = 5) -> list[FailedUpdate]:
        """The latest updates that were set aside, newest first."""
        rows = await self._db.fetchall(
            "SELECT channel, update_id, attempts, last_error, processed_at FROM inbox"
            " WHERE status = 'failed' ORDER BY processed_at DESC, position DESC LIMIT ?",
            (limit,),
        )
        return [
            FailedUpdate(
                r["channel"],
                r["update_id"],
                int(r["attempts"]),
                r["last_error"] or "",
                from_db_time(r["processed_at"]) if r["processed_at"] else None,
            )
            for r in rows
        ]

    async def last_received(self) -> dict[str, datetime]:
        """When the latest update of each channel was stored."""
        rows = await self._db.fetchall(
            "SELECT channel, max(received_at) AS at FROM inbox GROUP BY channel"
        )
        return {r["channel"]: from_db_time(r["at"]) for r in rows if r["at"]}


class HeartbeatRepo:
    """When each long-running part last did its work (`jindianzi status` shows them)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def beat(self, name: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO heartbeats (name, at) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET at = excluded.at",
            (name, to_db_time(now)),
        )

    async def all(self) -> dict[str, datetime]:
        rows = await self._db.fetchall("SELECT name, at FROM heartbeats ORDER BY name")
        return {r["name"]: from_db_time(r["at"]) for r in rows}


class ConversationRepo:
    def __init__(self, db: SqlDatabase) -> None:
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

    def __init__(self, db: SqlDatabase) -> None:
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

    async def claim(
        self,
        now: datetime,
        channels: Iterable[str],
        lease: timedelta,
        limit: int = 200,
        only: Mapping[str, Collection[str]] | None = None,
    ) -> list[OutboxMessage]:
        """Claim pending messages due now, oldest first, until `now + lease`: a sender that
        dies with them leaves them to be taken again when the claim runs out. A chat whose
        earlier message waits for a retry or is claimed gets nothing newer, so every chat
        sees its messages in order. `only` limits a channel to some chats (a terminal
        shows its own person's messages and leaves the rest waiting)."""
        names = sorted(set(channels))
        if not names:
            return []
        marks = ",".join("?" * len(names))
        stamp = to_db_time(now)
        limits, limit_params = "", []
        for channel, chats in sorted((only or {}).items()):
            listed = sorted(chats)
            limits += (
                " AND NOT (channel = ? AND chat_id NOT IN (" + ",".join("?" * len(listed)) + "))"
            )
            limit_params += [channel, *listed]
        # Read without the write lock; the claim then takes only the rows still unclaimed.
        rows = await self._db.reader.fetchall(
            "SELECT id, channel, chat_id, payload, attempts FROM outbox o"
            f" WHERE status = 'pending' AND next_attempt_at <= ? AND channel IN ({marks})"
            f" AND (claimed_until IS NULL OR claimed_until <= ?){limits}"
            " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.status = 'pending'"
            "  AND e.channel = o.channel AND e.chat_id = o.chat_id AND e.id < o.id"
            "  AND (e.next_attempt_at > ? OR e.claimed_until > ?))"
            " ORDER BY id LIMIT ?",
            (stamp, *names, stamp, *limit_params, stamp, stamp, limit),
        )
        if not rows:
            return []
        ids = [int(r["id"]) for r in rows]
        id_marks = ",".join("?" * len(ids))
        async with self._db.transaction():
            claimed = await self._db.fetchall(
                "UPDATE outbox SET claimed_until = ? WHERE status = 'pending'"
                f" AND (claimed_until IS NULL OR claimed_until <= ?) AND id IN ({id_marks})"
                " RETURNING id",
                (to_db_time(now + lease), stamp, *ids),
            )
        taken = {int(r["id"]) for r in claimed}
        rows = [r for r in rows if int(r["id"]) in taken]
        return [
            OutboxMessage(
                r["id"], r["channel"], r["chat_id"], json.loads(r["payload"]), r["attempts"]
            )
            for r in rows
        ]

    async def release(self, message_ids: Iterable[int]) -> None:
        """Give claimed messages back unsent."""
        await self._db.executemany(
            "UPDATE outbox SET claimed_until = NULL WHERE id = ?", [(i,) for i in message_ids]
        )

    async def release_claims(self) -> int:
        """Free every claim: for a sender that knows it is the only one (it holds the
        instance lock), claims left over are a dead process's."""
        return await self._db.execute(
            "UPDATE outbox SET claimed_until = NULL WHERE claimed_until IS NOT NULL"
        )

    async def mark_sent(self, message_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
            " last_error = NULL, claimed_until = NULL WHERE id = ?",
            (to_db_time(now), message_id),
        )

    async def mark_retry(self, message_id: int, error: str, retry_at: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
            " claimed_until = NULL WHERE id = ?",
            (error, to_db_time(retry_at), message_id),
        )

    async def mark_failed(self, message_id: int, error: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
            " claimed_until = NULL WHERE id = ?",
            (error, message_id),
        )

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall("SELECT status, count(*) AS n FROM outbox GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    async def summary(self, now: datetime) -> dict[str, int]:
        """Counts for `jindianzi status`: due, waiting (a retry later), claimed (being
        sent), sent and failed."""
        stamp = to_db_time(now)
        row = await self._db.fetchone(
            "SELECT"
            " count(*) FILTER (WHERE status = 'pending' AND claimed_until > ?) AS claimed,"
            " count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= ?"
            "  AND (claimed_until IS NULL OR claimed_until <= ?)) AS due,"
            " count(*) FILTER (WHERE status = 'pending' AND next_attempt_at > ?) AS waiting,"
            " count(*) FILTER (WHERE status = 'sent') AS sent,"
            " count(*) FILTER (WHERE status = 'failed') AS failed FROM outbox",
            (stamp, stamp, stamp, stamp),
        )
        assert row is not None
        return {key: int(row[key] or 0) for key in row.keys()}  # noqa: SIM118

    async def next_due_at(self, channels: Iterable[str]) -> datetime | None:
        names = sorted(set(channels))
        if not names:
            return None
        marks = ",".join("?" * len(names))
        row = await self._db.reader.fetchone(
            "SELECT min(next_attempt_at) FROM outbox"
            f" WHERE status = 'pending' AND channel IN ({marks})",
            names,
        )
        return from_db_time(row[0]) if row and row[0] else None


class MenuRepo:
    """The last menu each chat was shown.

    For platforms where a number stands for a button (WeCom's text fallback): the live
    buttons by number, and the number each button label has in that chat, kept across menus
    so that the same action keeps its number. For Telegram: the command menu last set for
    a chat (rows of the channel `<channel>:commands`), so that an unchanged one is not sent
    again."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def remember(
        self,
        channel: str,
        chat_id: str,
        buttons: Sequence[tuple[int, str]],
        ref: str,
        now: datetime,
        numbers: Sequence[tuple[str, int]] = (),
    ) -> None:
        """The chat's live menu: (number, callback data) of each button; `numbers` the
        chat's label → number assignments, oldest first."""
        state = {"live": [list(b) for b in buttons], "numbers": [list(n) for n in numbers]}
        await self._put(channel, chat_id, state, ref, now)

    async def numbers(self, channel: str, chat_id: str) -> dict[str, int]:
        """The numbers the chat's button labels have had, oldest first."""
        state = await self._state(channel, chat_id)
        return {} if state is None else dict(state[1])

    async def choice(self, channel: str, chat_id: str, number: int) -> MenuChoice | None:
        """(callback data, menu ref) of the live menu's button with that number."""
        state = await self._state(channel, chat_id)
        if state is None:
            return None
        live, _, ref = state
        data = next((d for n, d in live if n == number), None)
        return None if data is None else MenuChoice(data, ref)

    async def forget(self, channel: str, chat_id: str) -> None:
        """The live menu is used up; the numbers stay for the chat's next menus."""
        if self._db.dialect == "sqlite":
            live = "json_set(buttons, '$.live', json('[]'))"
            kind = "json_type(buttons)"
        else:  # the column is text on both; jsonb prints ", " and ": " where json.dumps does
            live = "CAST(jsonb_set(CAST(buttons AS jsonb), '{live}', '[]') AS TEXT)"
            kind = "jsonb_typeof(CAST(buttons AS jsonb))"
        await self._db.execute(
            f"UPDATE button_menus SET buttons = {live}"
            f" WHERE channel = ? AND chat_id = ? AND {kind} = 'object'",
            (channel, chat_id),
        )
        await self._db.execute(
            f"DELETE FROM button_menus WHERE channel = ? AND chat_id = ? AND {kind} = 'array'",
            (channel, chat_id),
        )

    async def _state(
        self, channel: str, chat_id: str
    ) -> tuple[list[tuple[int, str]], list[tuple[str, int]], str] | None:
        row = await self._db.fetchone(
            "SELECT buttons, ref FROM button_menus WHERE channel = ? AND chat_id = ?",
            (channel, chat_id),
        )
        if row is None:
            return None
        stored = json.loads(row["buttons"])
        ref = str(row["ref"] or "")
        if isinstance(stored, list):  # a row written before numbers were kept: by position
            return [(n, str(b[1])) for n, b in enumerate(stored, 1)], [], ref
        live = [(int(n), str(d)) for n, d in stored.get("live", [])]
        numbers = [(str(label), int(n)) for label, n in stored.get("numbers", [])]
        return live, numbers, ref

    async def _put(
        self, channel: str, chat_id: str, state: object, ref: str | None, now: datetime
    ) -> None:
        await self._db.execute(
            "INSERT INTO button_menus (channel, chat_id, buttons, ref, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(channel, chat_id) DO UPDATE SET"
            " buttons = excluded.buttons, ref = excluded.ref, updated_at = excluded.updated_at",
            (channel, chat_id, json.dumps(state, ensure_ascii=False), ref, to_db_time(now)),
        )

    # -- command menus ------------------------------------------------------------------

    async def command_menus(self, channel: str) -> dict[str, list[tuple[str, str]]]:
        """Chat id → (command, description) of the command menu last set for that chat."""
        rows = await self._db.reader.fetchall(
            "SELECT chat_id, buttons FROM button_menus WHERE channel = ?",
            (f"{channel}:commands",),
        )
        return {
            str(r["chat_id"]): [(str(c), str(d)) for c, d in json.loads(r["buttons"])] for r in rows
        }

    async def remember_commands(
        self, channel: str, chat_id: str, commands: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        await self._put(f"{channel}:commands", chat_id, [list(c) for c in commands], None, now)

    async def forget_commands(self, channel: str, chat_id: str) -> None:
        await self._db.execute(
            "DELETE FROM button_menus WHERE channel = ? AND chat_id = ?",
            (f"{channel}:commands", chat_id),
        )
