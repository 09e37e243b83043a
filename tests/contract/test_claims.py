"""Contract: claims that let several processes share one database and do each thing once
(`repos.inbox.claim`, `repos.job_runs.claim`).

On PostgreSQL the racers are two `PgDatabase` pools on the same database, as two bot
processes would be, their transactions running side by side; on SQLite they share the one
database, whose single writer makes the plain read the claim."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from storage import Repositories
from storage.pg import PgDatabase
from tests.contract.seed import T0, at

CHANNEL = "telegram"


@asynccontextmanager
async def second_process(repos: Repositories) -> AsyncIterator[Repositories]:
    """Another process's view of the same database: its own pool on PostgreSQL."""
    db = repos.db
    if isinstance(db, PgDatabase):
        async with PgDatabase.open(db.url, max_size=4) as other:
            yield Repositories(other)
    else:
        yield repos


async def store_spread(repos: Repositories, updates: int, chats: int) -> dict[str, list[str]]:
    """`updates` pending updates dealt round-robin to `chats` chats; each chat's ids in order."""
    order: dict[str, list[str]] = {f"c{n}": [] for n in range(chats)}
    async with repos.db.transaction():
        for n in range(updates):
            chat = f"c{n % chats}"
            update_id = f"u{n:04d}"
            await repos.inbox.store(CHANNEL, update_id, f"{chat}:{update_id}", at(0, n), chat=chat)
            order[chat].append(update_id)
    return order


async def test_two_claimers_take_each_update_once_and_each_chat_in_order(
    repos: Repositories,
) -> None:
    expected = await store_spread(repos, updates=200, chats=20)
    handled: dict[str, list[str]] = {chat: [] for chat in expected}
    by: dict[str, list[str]] = {"a": [], "b": []}
    rng = random.Random(20)

    async def claimer(name: str, own: Repositories) -> None:
        while True:
            async with own.db.transaction():
                claimed = await own.inbox.claim(CHANNEL, rng.randint(1, 12))
                for update_id, raw in claimed:
                    chat = raw.split(":")[0]
                    handled[chat].append(update_id)
                    by[name].append(update_id)
                    await asyncio.sleep(rng.random() / 1000)  # let the other one run
                    await own.inbox.finish(CHANNEL, update_id, "done", at(1))
            if not claimed:
                if not await own.inbox.pending(CHANNEL, 1):
                    return
                await asyncio.sleep(0.002)  # every chat held by the other: look again

    async with second_process(repos) as other:
        await asyncio.gather(claimer("a", repos), claimer("b", other))
    assert handled == expected  # each update once, each chat in its order
    assert by["a"] and by["b"]  # both took part
    assert sorted(by["a"] + by["b"]) == sorted(u for ids in expected.values() for u in ids)
    assert await repos.inbox.pending(CHANNEL) == []


async def test_a_claimer_passes_over_a_held_chat_and_takes_the_others(
    repos: Repositories,
) -> None:
    if repos.db.dialect == "sqlite":
        pytest.skip("SQLite holds one writer at a time: no second claim while one is open")
    await repos.inbox.store(CHANNEL, "1", "c1 first", at(0, 1), chat="c1")
    await repos.inbox.store(CHANNEL, "2", "c2 first", at(0, 2), chat="c2")
    await repos.inbox.store(CHANNEL, "3", "c1 second", at(0, 3), chat="c1")
    await repos.inbox.store(CHANNEL, "4", "c2 second", at(0, 4), chat="c2")
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_c1() -> list[str]:
        async with repos.db.transaction():
            claimed = await repos.inbox.claim(CHANNEL, 1)  # the oldest head: chat c1
            held.set()
            await release.wait()
        return [u.update_id for u in claimed]

    async with second_process(repos) as other:
        holder = asyncio.create_task(hold_c1())
        await held.wait()
        async with other.db.transaction():
            # c1's head is held, so neither it nor c1's later update is taken; c2 flows
            taken = [u.update_id for u in await other.inbox.claim(CHANNEL, 10)]
            for update_id in taken:
                await other.inbox.finish(CHANNEL, update_id, "done", at(1))
        release.set()
        assert await holder == ["1"]  # the limit counts every update claimed
    assert taken == ["2", "4"]
    assert [u.update_id for u in await repos.inbox.pending(CHANNEL)] == ["1", "3"]


async def test_a_claim_ends_with_its_transaction(repos: Repositories) -> None:
    await repos.inbox.store(CHANNEL, "1", "raw", T0, chat="c1")
    with pytest.raises(RuntimeError):
        async with repos.db.transaction():
            assert [u.update_id for u in await repos.inbox.claim(CHANNEL, 5)] == ["1"]
            raise RuntimeError("the process dies with it")
    async with second_process(repos) as other, other.db.transaction():
        assert [u.update_id for u in await other.inbox.claim(CHANNEL, 5)] == ["1"]
        assert await other.inbox.claim(CHANNEL, 0) == []


async def test_two_concurrent_claims_of_a_job_period_make_one_run(repos: Repositories) -> None:
    runs: list[str] = []

    async def run(name: str, own: Repositories) -> None:
        async with own.db.transaction():
            if not await own.job_runs.claim("weekly_meeting", "2026-W10", "done", T0, at(0, 1)):
                return
            await asyncio.sleep(0.05)  # the run's work, while the other claim is made
            runs.append(name)
            await own.job_runs.record("weekly_meeting", "2026-W10", "done", T0, at(0, 2), 3)

    async with second_process(repos) as other:
        await asyncio.gather(*(run(f"r{n}", repos if n % 2 else other) for n in range(6)))
    assert len(runs) == 1
    assert await repos.job_runs.status("weekly_meeting", "2026-W10") == "done"
    [latest] = await repos.job_runs.latest()
    assert (latest.period, latest.notices) == ("2026-W10", 3)
    # a later run of the period, or a "missed" record of it, finds it taken
    async with repos.db.transaction():
        assert not await repos.job_runs.claim("weekly_meeting", "2026-W10", "missed", T0, at(1))
        assert await repos.job_runs.claim("weekly_meeting", "2026-W11", "missed", T0, at(1))


async def test_a_job_claim_rolled_back_leaves_the_period_free(repos: Repositories) -> None:
    with pytest.raises(RuntimeError):
        async with repos.db.transaction():
            assert await repos.job_runs.claim("monthly_scores", "2026-03", "done", T0, at(0, 1))
            raise RuntimeError("the job failed")
    assert await repos.job_runs.status("monthly_scores", "2026-03") is None
    async with second_process(repos) as other, other.db.transaction():
        assert await other.job_runs.claim("monthly_scores", "2026-03", "done", T0, at(0, 2))
