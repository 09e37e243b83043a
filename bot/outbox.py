"""The outbox sender: delivers queued messages per channel, retrying with back-off.

Each channel registers a `Transport`. A transport raises `RetryLater` for a passing
failure (network, 429) and `Undeliverable` when the message can never arrive; after
`MAX_ATTEMPTS` passing failures the message fails for good and the admins are told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage import OutboxMessage, Repositories

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 600.0
IDLE_POLL_S = 5.0


class RetryLater(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Undeliverable(Exception):
    """The message can never be delivered (blocked, chat gone, bad key)."""


class Transport(Protocol):
    channel: str

    async def send(self, chat_id: str, payload: dict[str, Any]) -> None: ...


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 2, 4, 8, … capped."""
    return float(min(2 ** max(attempts, 1), MAX_BACKOFF_S))


class OutboxSender:
    def __init__(
        self,
        repos: Repositories,
        transports: Mapping[str, Transport],
        clock: Callable[[], datetime],
        signal: asyncio.Event,
    ) -> None:
        self._repos = repos
        self._transports = dict(transports)
        self._clock = clock
        self._signal = signal
        self._lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Deliver everything due now; returns how many were delivered."""
        async with self._lock:
            delivered = 0
            while True:
                batch = await self._repos.outbox.due(self._clock(), self._transports)
                if not batch:
                    return delivered
                for message in batch:
                    delivered += await self._deliver(message)

    async def _deliver(self, message: OutboxMessage) -> int:
        outbox = self._repos.outbox
        transport = self._transports[message.channel]
        try:
            await transport.send(message.chat_id, message.payload)
        except RetryLater as exc:
            attempts = message.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                await self._fail(message, f"gave up after {attempts} tries: {exc}")
                return 0
            delay = exc.retry_after if exc.retry_after is not None else backoff(attempts)
            log.warning(
                "outbox %s to %s:%s: retry in %.0fs (%s)",
                message.id,
                message.channel,
                message.chat_id,
                delay,
                exc,
            )
            await outbox.mark_retry(message.id, str(exc), self._clock() + timedelta(seconds=delay))
            return 0
        except Undeliverable as exc:
            await self._fail(message, str(exc))
            return 0
        except Exception as exc:  # a bug in a transport must not stop delivery of the rest
            log.exception("outbox %s: transport error", message.id)
            attempts = message.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                await self._fail(message, repr(exc))
            else:
                retry_at = self._clock() + timedelta(seconds=backoff(attempts))
                await outbox.mark_retry(message.id, repr(exc), retry_at)
            return 0
        await outbox.mark_sent(message.id, self._clock())
        return 1

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
            if message.payload.get("kind") == "delivery_failure":
                return  # never report a failed report: that could loop
            text = str(message.payload.get("text", ""))[:60]
            notice = (
                f"⚠️ 一条消息没能送达({message.channel} {message.chat_id}):{reason[:120]}\n"
                f"内容开头:{text}"
            )
            for channel, external_id in await repos.people.admin_identities():
                await repos.outbox.enqueue(
                    channel=channel,
                    chat_id=external_id,
                    payload={"text": notice, "kind": "delivery_failure"},
                    dedupe_key=f"failure:{message.id}:{channel}:{external_id}",
                    now=self._clock(),
                )
        self._signal.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; wakes at once when something is queued."""
        while not stop.is_set():
            self._signal.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("outbox sender round failed")
            wait = IDLE_POLL_S
            next_due = await self._repos.outbox.next_due_at(self._transports)
            if next_due is not None:
                wait = min(max((next_due - self._clock()).total_seconds(), 0.05), IDLE_POLL_S)
            waiters = [
                asyncio.ensure_future(self._signal.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
