"""Stored updates processed in groups: one transaction, a savepoint per update."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from bot.app import App
from bot.intake import (
    GROUP_SECONDS,
    INTAKE_WORKERS,
    MAX_UPDATE_ATTEMPTS,
    process_forever,
    process_stored,
)
from handlers.router import APOLOGY
from tests.support import CHANNEL, Chat, RecordingTransport, another_process, idea_rows


async def test_a_poison_update_rolls_back_alone_and_is_set_aside(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    texts = [f"井下第{n}号皮带机的托辊坏了别扔,拆下来修好再用" for n in range(6)]
    async with app.repos.db.transaction():
        for n, text in enumerate(texts):
            raw = json.dumps({"text": text, "poison": n == 2}, ensure_ascii=False)
            await app.repos.inbox.store(CHANNEL, f"g{n}", raw, app.services.now())
    tries: dict[str, int] = {}

    async def handle(update_id: str, raw: str) -> None:
        data = json.loads(raw)
        await app.router.dispatch(zhang.incoming(data["text"], update_id=update_id), app.services)
        tries[update_id] = tries.get(update_id, 0) + 1
        if data["poison"]:  # its idea and its done mark are written, then it fails
            raise RuntimeError("poison")

    before = len(await idea_rows(app.repos))
    assert await process_stored(app.services, CHANNEL, handle, lambda raw: "u1") == 5
    stored = [r["text"] for r in await idea_rows(app.repos)][before:]
    assert stored == [t for n, t in enumerate(texts) if n != 2]  # the others committed
    # rolled back each time, so retried until set aside; the others were handled once
    assert tries["g2"] == MAX_UPDATE_ATTEMPTS and all(tries[f"g{n}"] == 1 for n in (0, 1, 3, 4, 5))
    assert await app.repos.inbox.pending(CHANNEL) == []
    assert await process_stored(app.services, CHANNEL, handle, lambda raw: "u1") == 0
    failed = await app.repos.inbox.failures()
    assert [(f.update_id, f.attempts) for f in failed] == [("g2", MAX_UPDATE_ATTEMPTS)]
    assert [r["text"] for r in await idea_rows(app.repos)][before:] == stored
    await zhang.say("/my")  # delivers what is queued
    to_zhang = [str(payload["text"]) for chat_id, payload in transport.sent if chat_id == "u1"]
    assert sum(APOLOGY in text for text in to_zhang) == 1  # the apology, once


async def test_the_intake_waits_for_a_short_group_not_for_fifty_updates(
    app: App, chat: Callable[..., Chat]
) -> None:
    """A webhook's 200 waits for the write lock: a group gives it up after GROUP_SECONDS."""
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    async with app.repos.db.transaction():
        for n in range(6):
            await app.repos.inbox.store(CHANNEL, f"s{n}", "{}", app.services.now())
    events: list[str] = []

    async def handle(update_id: str, raw: str) -> None:
        await asyncio.sleep(GROUP_SECONDS)  # a slow update: the group closes after it
        await app.repos.inbox.finish(CHANNEL, update_id, "done", app.services.now())
        events.append(update_id)

    async def intake() -> None:
        await asyncio.sleep(GROUP_SECONDS / 2)  # arrives while the first group runs
        async with app.repos.db.transaction():
            await app.repos.inbox.store(CHANNEL, "late", "{}", app.services.now())
        events.append("stored")

    processed, _ = await asyncio.gather(
        process_stored(app.services, CHANNEL, handle, lambda raw: None), intake()
    )
    assert processed == 7  # every update handled, the late one too
    assert events.index("stored") < events.index("s5")  # not behind the whole group
    assert events[-1] == "late"


async def test_a_group_is_bounded_by_time_only_on_a_single_writer_database(
    app: App, chat: Callable[..., Chat]
) -> None:
    """SQLite's intake waits for the group's lock, so a group closes after GROUP_SECONDS;
    PostgreSQL's does not, so slow updates still share one group and one commit."""
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    async with app.repos.db.transaction():
        for n in range(4):
            await app.repos.inbox.store(CHANNEL, f"t{n}", "{}", app.services.now())
    committed_pending: list[int] = []

    async def handle(update_id: str, raw: str) -> None:
        await asyncio.sleep(GROUP_SECONDS)
        committed_pending.append(len(await app.repos.inbox.pending(CHANNEL)))  # the last commit
        await app.repos.inbox.finish(CHANNEL, update_id, "done", app.services.now())

    assert await process_stored(app.services, CHANNEL, handle, lambda raw: None) == 4
    if app.repos.db.single_writer:
        assert committed_pending == [4, 3, 2, 1]  # a group each, committed before the next
    else:
        assert committed_pending == [4, 4, 4, 4]  # one group, committed at its end
    assert await app.repos.inbox.pending(CHANNEL) == []


async def store_spread(app: App, prefix: str, updates: int, chats: int) -> dict[str, list[str]]:
    """`updates` stored updates dealt round-robin to `chats` chats; each chat's ids in order."""
    expected: dict[str, list[str]] = {f"c{n}": [] for n in range(chats)}
    async with app.repos.db.transaction():
        for n in range(updates):
            chat, update_id = f"c{n % chats}", f"{prefix}{n:03d}"
            raw = json.dumps({"chat": chat})
            await app.repos.inbox.store(CHANNEL, update_id, raw, app.services.now(), chat=chat)
            expected[chat].append(update_id)
    return expected


async def test_two_processors_handle_each_update_once_and_each_chat_in_order(app: App) -> None:
    """Two processors race over one database (on PostgreSQL, side by side on two
    connections): each update is handled once, each chat's updates in the order stored."""
    expected = await store_spread(app, "r", 200, 20)
    handled: dict[str, list[str]] = {chat: [] for chat in expected}

    def processor(own: App) -> Callable[[], Awaitable[int]]:
        async def handle(update_id: str, raw: str) -> None:
            handled[json.loads(raw)["chat"]].append(update_id)
            await asyncio.sleep(0)  # the other processor runs meanwhile
            await own.repos.inbox.finish(CHANNEL, update_id, "done", own.services.now())

        async def run() -> int:
            done = 0
            while await own.repos.inbox.pending(CHANNEL, 1):  # the other may hold every chat
                done += await process_stored(own.services, CHANNEL, handle, lambda raw: None)
                await asyncio.sleep(0.001)
            return done

        return run

    async with another_process(app) as other:
        counts = await asyncio.gather(processor(app)(), processor(other)())
    assert sum(counts) == 200
    assert handled == expected


async def test_updates_another_process_stored_are_swept_up(app: App) -> None:
    """A process hears only its own stores: what another stored (one that died, say) is
    found by the periodic sweep."""
    handled: list[str] = []

    async def handle(update_id: str, raw: str) -> None:
        handled.append(update_id)
        await app.repos.inbox.finish(CHANNEL, update_id, "done", app.services.now())

    async def process() -> int:
        return await process_stored(app.services, CHANNEL, handle, lambda raw: None)

    stored, stop = asyncio.Event(), asyncio.Event()  # `stored` is never set here
    loop = asyncio.create_task(process_forever("test", process, stored, stop, sweep_s=0.02))
    try:
        await asyncio.sleep(0.05)  # the first round found nothing and waits
        async with app.repos.db.transaction():
            await app.repos.inbox.store(CHANNEL, "elsewhere", "{}", app.services.now(), chat="c")
        for _ in range(100):
            if handled:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await loop
    assert handled == ["elsewhere"]


async def test_a_backlog_is_worked_by_several_groups_at_once_where_writers_run_side_by_side(
    app: App,
) -> None:
    """One process, 300 updates of 150 chats: on PostgreSQL more groups run while the first
    waits for the server (a group holds the chats it claimed, so the others take others);
    each update still handled once, each chat in order."""
    expected = await store_spread(app, "b", 300, 150)
    handled: dict[str, list[str]] = {chat: [] for chat in expected}
    running, most = 0, 0

    async def handle(update_id: str, raw: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        handled[json.loads(raw)["chat"]].append(update_id)
        await asyncio.sleep(0.001)  # a round trip to the server
        await app.repos.inbox.finish(CHANNEL, update_id, "done", app.services.now())
        running -= 1

    assert await process_stored(app.services, CHANNEL, handle, lambda raw: None) == 300
    assert handled == expected
    assert await app.repos.inbox.pending(CHANNEL) == []
    assert most == (1 if app.repos.db.single_writer else INTAKE_WORKERS)
