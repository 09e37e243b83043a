"""WeCom callbacks behind a load balancer: two bot processes (two apps with their own pools,
as two processes have) on one PostgreSQL database each serve the callback URL; WeCom's
messages reach either, and its retries of a slow one may reach the other. Each message is
stored once, handled once and answered once, through the one sender that holds the WeCom
app's lease."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from bot.app import App, load_sample_roster, open_app, senders
from bot.config import Config, Secret
from bot.wecom import MineOrg, open_wecom
from nlp import ModelClassifier
from tests.storage_backends import PostgresServer
from tests.test_wecom import ZHANG, Phone, wait_texts, wecom_config
from tests.wecom_fake import FakeWecomApi

MEMBERS = (ZHANG,)
"""Sample-roster members with a WeCom account (E001)."""


def _on(config: Config, url: str, port: int) -> Config:
    return dataclasses.replace(
        config,
        storage=dataclasses.replace(config.storage, url=Secret(url)),
        wecom=dataclasses.replace(config.wecom, listen=f"127.0.0.1:{port}"),
    )


@pytest.fixture
async def two_processes(
    tmp_path: Path,
    postgres_server: PostgresServer,
    classifier: ModelClassifier,
    unused_tcp_port_factory: object,
) -> AsyncIterator[tuple[list[App], list[Phone], FakeWecomApi]]:
    url = postgres_server.fresh_database()
    ports = [unused_tcp_port_factory(), unused_tcp_port_factory()]  # type: ignore[operator]
    async with FakeWecomApi() as api, AsyncExitStack() as stack:
        base = wecom_config(tmp_path, api.url, ports[0])
        apps: list[App] = []
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        for port in ports:
            config = _on(base, url, port)
            app = await stack.enter_async_context(open_app(config, classifier=classifier))
            await load_sample_roster(app)
            channel, robots = await stack.enter_async_context(
                open_wecom(config.wecom, [MineOrg("", config.org, app.services)], app.router)
            )
            runners = [channel.run, *senders(app, [channel, robots])]
            tasks += [asyncio.create_task(runner(stop)) for runner in runners]
            apps.append(app)
        await asyncio.sleep(0.3)  # both servers listening
        try:
            yield apps, [Phone(f"http://127.0.0.1:{p}/wecom/callback") for p in ports], api
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def test_callbacks_to_either_process_are_each_handled_once(
    two_processes: tuple[list[App], list[Phone], FakeWecomApi],
) -> None:
    apps, phones, api = two_processes
    assert apps[0].leases.distributed
    round_robin = itertools.cycle(phones)
    sent: dict[str, int] = dict.fromkeys(MEMBERS, 0)
    async with httpx.AsyncClient() as client:
        for n in range(20):
            for member in MEMBERS:
                plain = phones[0].xml(
                    member,
                    f"第{n}条:井下回收复用锚杆,每月能省好几万",
                    msg_id=7000 + n,
                )
                response = await next(round_robin).post(client, plain)
                assert response.status_code == 200
                if n % 3 == 0:  # WeCom retrying a message: the retry lands on the other
                    again = await next(round_robin).post(client, plain)
                    assert again.status_code == 200
                sent[member] += 1
    for member, count in sent.items():
        await wait_texts(api, member, count)
    await asyncio.sleep(1.0)  # a duplicate answer would have come by now
    for member, count in sent.items():
        assert len(api.texts(member)) == count, api.texts(member)
    rows = await apps[0].repos.db.fetchall("SELECT text FROM ideas ORDER BY id")
    texts = [str(r[0]) for r in rows]
    assert len(texts) == len(set(texts)) == sum(sent.values())
    handled_by = await apps[0].repos.db.fetchall(
        "SELECT status, count(*) FROM inbox WHERE channel = 'wecom' GROUP BY status"
    )
    assert {str(r[0]): int(r[1]) for r in handled_by} == {"done": sum(sent.values())}
