"""The one-time links that open the web 看板 from the chat: a random token handed out once,
stored as its SHA-256 hash, valid for `web_link_minutes` and for one use."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from handlers.services import Services
from storage import Person

TOKEN_BYTES = 32


def digest(secret: str) -> str:
    """What the database keeps of a token or a session id: a copy of it opens nothing."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def issue_link(services: Services, person: Person) -> str | None:
    """A fresh one-time login link for `person`; None when the 看板 is not configured."""
    base = services.settings.web_public_url.rstrip("/")
    if not base:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = services.now()
    expires = now + timedelta(minutes=services.settings.web_link_minutes)
    mine = services.repos.db.mine
    await services.repos.web.add_link(digest(token), mine, person.id, now, expires)
    return f"{base}/login?t={token}"
