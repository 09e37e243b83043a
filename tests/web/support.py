"""Helpers of the 看板's tests: a /web link from the chat, a logged-in session, its cookie and
CSRF token, what a person was sent in chat."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.support import Chat, RecordingTransport

PUBLIC_URL = "https://kanban.example.cn"

Client = TestClient[web.Request, web.Application]


def token_of(reply: str) -> str:
    found = re.search(rf"{re.escape(PUBLIC_URL)}/login\?t=([A-Za-z0-9_-]+)", reply)
    assert found is not None, reply
    return found.group(1)


async def link(person: Chat) -> str:
    replies = await person.say("/web")
    assert len(replies) == 1
    return token_of(replies[0])


async def log_in(client: Client, person: Chat) -> str:
    """Follow a fresh /web link and press 进入看板; the session cookie's value."""
    token = await link(person)
    response = await client.post("/login", data={"t": token}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"
    return response.cookies["jdz_session"].value


def cookie(session: str) -> dict[str, str]:
    return {"Cookie": f"jdz_session={session}"}


async def csrf_of(client: Client, session: str, path: str = "/ideas") -> str:
    page = await (await client.get(path, headers=cookie(session))).text()
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]
