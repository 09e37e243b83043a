"""The outbox sender: delivers queued messages per channel, retrying with back-off.

Each channel registers a `Transport`. A transport raises `RetryLater` for a passing
failure (network, 429) and `Undeliverable` when the message can never arrive; after
`MAX_ATTEMPTS` passing failures the message fails for good and the admins are told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from bot.intake import supervise, wait_either
from handlers.messages import Outgoing
from storage import OutboxMessage, Repositories

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 600.0
IDLE_POLL_S = 5.0
CONCURRENT_CHATS = 16
MISSING_FILE_NOTE = "(附件已失效,请重新获取)"
CLAIM_LEASE = timedelta(minutes=5)
"""How long a claimed message is left to its sender before another may take it."""


class RetryLater(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Undeliverable(Exception):
    """The message can never be delivered (blocked, chat gone, bad key)."""


class Transport(Protocol):
    channel: str

    async def send(self, chat_id: str, message: Outgoing) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["sent", "retry", "failed"]
    error: str = ""
    delay: float = 0.0


async def without_missing_files(message: Outgoing) -> Outgoing:
    """The message without the image or document it names when the file is gone from disk
    (a deleted chart directory), and a note saying so: the text goes out once instead of
    the row failing at every sweep."""
    gone = [
        path
        for path in (message.image_path, message.document_path)
        if path and not await asyncio.to_thread(Path(path).is_file)
    ]
    if not gone:
        return message
    log.warning("outbox: %s gone from disk; sending the text without it", ", ".join(gone))
    return replace(
        message,
        text=f"{message.text}\n{MISSING_FILE_NOTE}" if message.text else MISSING_FILE_NOTE,
        image_path=None if message.image_path in gone else message.image_path,
        document_path=None if message.document_path in gone else message.document_path,
    )


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 2, 4, 8, … capped."""
    return float(min(2 ** max(attempts, 1), MAX_BACKOFF_S))


class _Marks:
    """Group commit of delivery outcomes: each delivered (or to-be-retried) message waits
    until its mark is committed, and the marks that arrive while one commit runs share the
    next one. A chat sends its next message only once the previous one is recorded, so a
    crash repeats at most one message per chat being served (`CONCURRENT_CHATS`), as when
    every mark had a commit of its own."""

    def __init__(
        self, record: Callable[[list[tuple[OutboxMessage, Outcome]]], Awaitable[None]]
    ) -> None:
        self._record = record
        self._waiting: list[tuple[OutboxMessage, Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def mark(self, message: OutboxMessage, outcome: Outcome) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((message, outcome, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._record([(m, o) for m, o, _ in group])
            except Exception as exc:
                for _, _, done in group:
                    if not done.done():  # its sender may have been cancelled meanwhile
                        done.set_exception(exc)
            else:
                for _, _, done in group:
                    if not done.done():
                        done.set_result(None)


class OutboxSender:
    def __init__(
        self,
        repos: Repositories,
        transports: Mapping[str, Transport],
        clock: Callable[[], datetime],
        signal: asyncio.Event,
        only: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """`only` limits a channel to some chats; the others' messages stay for another
        sender (the console shows its own person's and leaves the rest)."""
        self._repos = repos
        self._transports = dict(transports)
        self._only = dict(only or {})
        self._clock = clock
        self._signal = signal
        self._lock = asyncio.Lock()
        self._marks = _Marks(self._record_many)

    async def run_once(self) -> int:
        """Deliver everything due now; returns how many were delivered.

        Messages are claimed before they are sent (a lease of `CLAIM_LEASE`) and each is
        recorded as sent right after its own delivery (the chats' marks share commits, and a
        chat's next message waits for its previous mark: see `_Marks`), so a crash repeats
        at most the messages in flight, one per chat served. Chats are served concurrently
        (a slow or rate-limited group does not hold up the rest), each chat's messages in
        order.
        """
        async with self._lock:
            delivered = 0
            while batch := await self._repos.outbox.claim(
                self._clock(), self._transports, CLAIM_LEASE, only=self._only
            ):
                by_chat: dict[tuple[str, str], list[OutboxMessage]] = {}
                for message in batch:
                    by_chat.setdefault((message.channel, message.chat_id), []).append(message)
                gate = asyncio.Semaphore(CONCURRENT_CHATS)

                async def serve(
                    messages: list[OutboxMessage], gate: asyncio.Semaphore = gate
                ) -> int:
                    sent = 0
                    async with gate:
                        for index, message in enumerate(messages):
                            outcome = await self._attempt(message)
                            await self._record(message, outcome)
                            if outcome.status != "sent":
                                # the chat's later messages wait for this one
                                await self._repos.outbox.release(
                                    m.id for m in messages[index + 1 :]
                                )
                                break
                            sent += 1
                    return sent

                delivered += sum(await asyncio.gather(*(serve(m) for m in by_chat.values())))
            return delivered

    async def _attempt(self, message: OutboxMessage) -> Outcome:
        transport = self._transports[message.channel]
        attempts = message.attempts + 1
        try:
            # Parsed here, so a row no transport can read is retried and then reported.
            outgoing = await without_missing_files(Outgoing.from_payload(message.payload))
            await transport.send(message.chat_id, outgoing)
        except RetryLater as exc:
            if attempts >= MAX_ATTEMPTS:
                return Outcome("failed", f"gave up after {attempts} tries: {exc}")
            delay = exc.retry_after if exc.retry_after is not None else backoff(attempts)
            log.warning(
                "outbox %s to %s:%s: retry in %.0fs (%s)",
                message.id,
                message.channel,
                message.chat_id,
                delay,
                exc,
            )
            return Outcome("retry", str(exc), delay)
        except Undeliverable as exc:
            return Outcome("failed", str(exc))
        except Exception as exc:  # a bug in a transport must not stop delivery of the rest
            log.exception("outbox %s: transport error", message.id)
            if attempts >= MAX_ATTEMPTS:
                return Outcome("failed", repr(exc))
            return Outcome("retry", repr(exc), backoff(attempts))
        return Outcome("sent")

    async def _record(self, message: OutboxMessage, outcome: Outcome) -> None:
        if outcome.status == "failed":
            await self._fail(message, outcome.error)
            return
        await self._marks.mark(message, outcome)

    async def _record_many(self, outcomes: list[tuple[OutboxMessage, Outcome]]) -> None:
        outbox = self._repos.outbox
        now = self._clock()
        async with self._repos.db.transaction():
            for message, outcome in outcomes:
                if outcome.status == "sent":
                    await outbox.mark_sent(message.id, now)
                else:
                    await outbox.mark_retry(
                        message.id, outcome.error, now + timedelta(seconds=outcome.delay)
                    )

    async def _fail(self, message: OutboxMessage, reason: str) -> None:
        log.error(
            "outbox %s to %s:%s failed for good: %s",
            message.id,
            message.channel,
            message.chat_id,
            reason,
        )
        repos = self._repos
        async with repos.db.transaction():
            await repos.outbox.mark_failed(message.id, reason)
            # A group that cannot be reached (bot removed, robot key revoked) gets no more notices.
            await repos.groups.deactivate(message.channel, message.chat_id, self._clock())
            try:
                failed = Outgoing.from_payload(message.payload)
            except ValueError:
                failed = Outgoing("")  # unreadable: report it all the same
            if failed.purpose == "delivery_failure":
                return  # never report a failed report: that could loop
            report = Outgoing(
                f"⚠️ 一条消息没能送达({message.channel} {message.chat_id}):{reason[:120]}\n"
                f"内容开头:{failed.text[:60]}",
                purpose="delivery_failure",
            ).to_payload()
            for channel, external_id in await repos.people.admin_identities():
                await repos.outbox.enqueue(
                    channel=channel,
                    chat_id=external_id,
                    payload=report,
                    dedupe_key=f"failure:{message.id}:{channel}:{external_id}",
                    now=self._clock(),
                )
        self._signal.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; wakes at once when something is queued."""
        await supervise("outbox sender", lambda: self._round(stop), stop)

    async def _round(self, stop: asyncio.Event) -> None:
        self._signal.clear()
        await self.run_once()
        wait = IDLE_POLL_S
        next_due = await self._repos.outbox.next_due_at(self._transports)
        if next_due is not None:
            wait = min(max((next_due - self._clock()).total_seconds(), 0.05), IDLE_POLL_S)
        await wait_either(self._signal, stop, wait)
