"""Fixtures of the 看板's tests: the shipped configuration with the 看板 switched on, and a
client of aiohttp's test server in front of `web_app(app)` (each file registers its people)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.config import Config, WebConfig
from bot.web.server import web_app
from tests.web.support import PUBLIC_URL, Client


@pytest.fixture
def config(config: Config) -> Config:
    """The shipped configuration with the 看板 switched on."""
    return dataclasses.replace(
        config, web=WebConfig(listen="127.0.0.1:8090", public_url=PUBLIC_URL)
    )


@pytest.fixture
async def client(app: App) -> AsyncIterator[Client]:
    """A browser without a cookie jar: each test sends the cookie it means to."""
    async with TestClient(TestServer(web_app(app)), cookie_jar=DummyCookieJar()) as found:
        yield found
