"""The loop both messenger channels run: process stored updates whenever new ones arrive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

RETRY_DELAY_S = 3.0


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


async def process_forever(
    name: str, process: Callable[[], Awaitable[int]], stored: asyncio.Event, stop: asyncio.Event
) -> None:
    """Run `process` now and each time `stored` is set, until `stop`; a failed round is
    logged and retried after a pause, never left to kill the loop."""
    while not stop.is_set():
        stored.clear()
        try:
            await process()
        except Exception:
            log.exception("processing stored %s updates failed", name)
            await wait_either(stop, stop, RETRY_DELAY_S)
            continue
        await wait_either(stored, stop)
