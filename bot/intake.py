"""What keeps the long-running loops going: supervision with back-off, and stored updates
processed in groups (one transaction, a savepoint each) so that a poison update is set aside
instead of stopping the rest."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.messages import Outgoing
from handlers.router import APOLOGY
from handlers.services import Services

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
MAX_UPDATE_ATTEMPTS = 3
"""An update whose handling fails this many times is set aside as failed."""


async def wait_either(
    event: asyncio.Event, stop: asyncio.Event, within: float | None = None
) -> None:
    """Return when `event` or `stop` is set, or after `within` seconds."""
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def supervise(
    name: str, step: Callable[[], Awaitable[object]], stop: asyncio.Event, *, once: bool = False
) -> None:
    """Run `step` again and again until `stop` (with `once`, until it first succeeds).

    A failure never ends the loop: it is logged with its traceback once per streak (a
    different error later in the streak gets one line), and the step is retried after a
    back-off of 1 s doubling to 60 s, reset by a success."""
    delay = FIRST_BACKOFF_S
    failures = 0
    last_error = ""
    while not stop.is_set():
        try:
            await step()
        except Exception as exc:
            failures += 1
            error = repr(exc)
            if failures == 1:
                log.exception("%s failed; retrying with back-off", name)
            elif error != last_error:
                log.warning("%s still failing (%d tries): %s", name, failures, error)
            last_error = error
            await wait_either(stop, stop, delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
            continue
        if failures:
            log.warning("%s works again after %d failed tries", name, failures)
        failures, delay, last_error = 0, FIRST_BACKOFF_S, ""
        if once:
            return


SWEEP_SECONDS = 1.0
"""How often a processor looks for pending updates without being told: a process hears only
its own stores, and one that died leaves its stored updates to the others."""


async def process_forever(
    name: str,
    process: Callable[[], Awaitable[int]],
    stored: asyncio.Event,
    stop: asyncio.Event,
    sweep_s: float = SWEEP_SECONDS,
) -> None:
    """Run `process` now, each time `stored` is set and every `sweep_s` seconds, until
    `stop`, under supervision."""

    async def round_() -> None:
        stored.clear()
        await process()
        await wait_either(stored, stop, sweep_s)

    await supervise(f"processing stored {name} updates", round_, stop)


GROUP_SIZE = 50
"""At most this many stored updates are processed in one transaction (one fsync)."""
GROUP_SECONDS = 0.05
"""On a single-writer database (SQLite), a group takes no further update once it has held
the write lock this long: the intake (a webhook's 200, a poll's next offset) waits for that
lock, and must not wait for 50. Where writers run side by side (PostgreSQL), the intake's
store does not wait for the group, so the group is bounded by `GROUP_SIZE` alone."""


INTAKE_WORKERS = 3
"""Where units of work run side by side (PostgreSQL), a backlog is worked by up to this many
groups of one process at once: while one group waits for the server, another uses the
process's CPU (three did a little better than two in the burst, BENCHMARKS.md). A SQLite
database holds one writer at a time, so one group."""


async def process_stored(
    services: Services,
    channel: str,
    handle: Callable[[str, str], Awaitable[None]],
    sender_of: Callable[[str], str | None],
) -> int:
    """Feed every pending update of `channel` to `handle(update_id, raw)`, oldest first;
    returns how many were handled. Several processes may do so on one PostgreSQL database:
    each group claims its updates (`InboxRepo.claim`) inside its transaction, so every update
    is handled by one of them and one chat's updates in order; a process finding every chat
    taken returns and looks again at its next sweep. On such a database a group that finds
    a full group's worth of updates (a backlog) starts another worker beside it, up to
    `INTAKE_WORKERS` in all, each claiming its own groups the same way.

    Group commit: up to `GROUP_SIZE` pending updates share one transaction, each in a
    savepoint of its own, so an update's effect and its done mark commit together, a
    failing update rolls back alone, and the group pays one fsync instead of one each.
    On a single-writer database a group also closes after `GROUP_SECONDS`, so the intake
    waits at most that long for the lock; the updates it did not reach stay pending for the
    next group.
    Parsing belongs inside `handle`, so whatever an update holds, its failure is counted
    here: after `MAX_UPDATE_ATTEMPTS` it is set aside as failed, its sender (when the raw
    update names one, by `sender_of`) gets the apology once, and the ones behind it flow
    on. Should the group's transaction itself fail (its commit, say), as many updates are
    claimed and done again one per transaction, as if no group had been tried.
    """
    workers = 1 if services.repos.db.single_writer else INTAKE_WORKERS
    helpers: list[asyncio.Task[int]] = []

    def backlog() -> None:
        if sum(not helper.done() for helper in helpers) + 1 < workers:
            helpers.append(asyncio.create_task(_drain(services, channel, handle, sender_of)))

    try:
        done = await _drain(services, channel, handle, sender_of, backlog)
        results = await asyncio.gather(*helpers, return_exceptions=True)
    except BaseException:
        for helper in helpers:  # this one failed or was cancelled: so are they, and their
            helper.cancel()  # rollbacks end before anyone may close the pool
        await asyncio.gather(*helpers, return_exceptions=True)
        raise
    for result in results:
        if isinstance(result, BaseException):  # what it had claimed stays pending
            log.error("%s: an intake worker failed", channel, exc_info=result)
        else:
            done += result  # what the others committed still counts
    return done


async def _drain(
    services: Services,
    channel: str,
    handle: Callable[[str, str], Awaitable[None]],
    sender_of: Callable[[str], str | None],
    backlog: Callable[[], None] | None = None,
) -> int:
    """Process groups until nothing pending is left to claim; `backlog()` is called after
    each group that claimed as many updates as a group holds (more may be waiting)."""
    done = 0
    # A look on the reader first: an idle round (the sweep's, mostly) takes no write lock.
    while await services.repos.inbox.pending(channel, limit=1):
        group = _Group()
        try:
            await _group(services, channel, GROUP_SIZE, group, handle, sender_of)
        except Exception:
            if group.claimed <= 1:
                raise
            log.warning("%s: a group of %d updates failed; one by one", channel, group.claimed)
            for _ in range(group.claimed):
                single = _Group()
                await _group(services, channel, 1, single, handle, sender_of)
                done += single.done
            continue
        if not group.claimed:
            break  # what is pending is another process's now
        done += group.done
        if backlog is not None and group.claimed == GROUP_SIZE:
            backlog()  # outside the group's transaction: a worker's task starts with none
    return done


@dataclass(slots=True)
class _Group:
    """What one group claimed and handled, known even when its transaction fails."""

    claimed: int = 0
    done: int = 0


async def _group(
    services: Services,
    channel: str,
    size: int,
    group: _Group,
    handle: Callable[[str, str], Awaitable[None]],
    sender_of: Callable[[str], str | None],
) -> None:
    """Claim up to `size` pending updates and process them in one transaction, counting in
    `group`. The claim is part of the transaction: the updates are this process's until it
    commits, and another process (or worker) passes over their chats meanwhile."""
    repos = services.repos
    failures: list[tuple[str, Exception, int, str | None]] = []
    async with repos.db.transaction():
        pending = await repos.inbox.claim(channel, size)
        group.claimed = len(pending)
        started = time.monotonic()
        budget = GROUP_SECONDS if repos.db.single_writer else float("inf")
        for update_id, raw in pending:
            if time.monotonic() - started > budget:
                break  # the rest stay pending: the intake is waiting for this lock
            try:
                async with repos.db.transaction():  # a savepoint: this update alone
                    await handle(update_id, raw)
                    if await repos.inbox.status(channel, update_id) == "pending":
                        raise RuntimeError("handled, but not marked processed")
            except Exception as exc:
                attempts, sender = await _failed(services, channel, update_id, raw, exc, sender_of)
                failures.append((update_id, exc, attempts, sender))
                continue
            group.done += 1
    if group.claimed:
        services.outbox_signal.set()  # the replies are committed now
    for failure in failures:
        _log_failure(channel, *failure)


async def _failed(
    services: Services,
    channel: str,
    update_id: str,
    raw: str,
    exc: Exception,
    sender_of: Callable[[str], str | None],
) -> tuple[int, str | None]:
    """Count the failed try (in the caller's transaction); (tries so far, sender told)."""
    repos = services.repos
    error = f"{type(exc).__name__}: {exc}"
    async with repos.db.transaction():
        attempts = await repos.inbox.record_failure(
            channel, update_id, error, services.now(), MAX_UPDATE_ATTEMPTS
        )
        sender = None
        if attempts >= MAX_UPDATE_ATTEMPTS:
            try:
                sender = sender_of(raw)
            except Exception:  # the update may be too broken to name anyone
                sender = None
            if sender:
                await repos.outbox.enqueue(
                    channel=channel,
                    chat_id=sender,
                    payload=Outgoing(APOLOGY).to_payload(),
                    dedupe_key=f"set-aside:{channel}:{update_id}",
                    now=services.now(),
                )
    return attempts, sender


def _log_failure(
    channel: str, update_id: str, exc: Exception, attempts: int, sender: str | None
) -> None:
    error = f"{type(exc).__name__}: {exc}"
    if attempts == 1:
        log.error("%s update %s failed (try 1)", channel, update_id, exc_info=exc)
    elif attempts < MAX_UPDATE_ATTEMPTS:
        log.warning("%s update %s failed again (try %d): %s", channel, update_id, attempts, error)
    else:
        log.error(
            "%s update %s set aside after %d failed tries (sender %s told): %s",
            channel,
            update_id,
            attempts,
            sender or "unknown, not",
            error,
        )
