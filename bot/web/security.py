"""Safe by default: the session behind a cookie, CSRF tokens, the /login rate limit and the
headers every response carries.

Sessions live in the database (`repos.web`), so any process behind a load balancer answers
any browser. The cookie holds a random session id; the database only its SHA-256 hash. The
CSRF token is derived from the session id (a hash of it under another label): the page that
holds it can only have been served to the cookie's owner, and nothing more is stored.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

from handlers.rules.web import digest
from handlers.services import Services
from storage import Person, WebSession

COOKIE = "jdz_session"
CSRF_FIELD = "csrf"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
"""On every response, static files included. Referrer-Policy same-origin, not no-referrer:
under no-referrer a browser sends `Origin: null` with the site's own form POSTs (Fetch's
origin serialisation), which `origin_ok` must refuse; same-origin still sends nothing to
any other site (no link's one-time token, no page address leaves the 看板)."""
STATIC_PREFIX = "/static/"

LOGIN_LIMIT = 10
LOGIN_WINDOW_S = 60.0
"""At most LOGIN_LIMIT requests to /login per client address in LOGIN_WINDOW_S seconds."""
TRACKED_ADDRESSES = 10_000
"""Beyond this many addresses the limiter forgets the quiet ones (memory stays bounded)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at a page: their live session, the person as stored now (roles read
    on every request) and their mine's services."""

    session: WebSession
    person: Person
    services: Services
    csrf: str


def session_hash(session_id: str) -> str:
    return digest(session_id)


def csrf_token(session_id: str) -> str:
    return digest(f"csrf:{session_id}")


def csrf_ok(session_id: str, sent: str) -> bool:
    return hmac.compare_digest(csrf_token(session_id), sent)


def origin_ok(request: web.Request, public_url: str) -> bool:
    """A POST's Origin (or else Referer), when the browser sends one, names this site: the
    host the request came to, or the configured public URL's (a TLS proxy in front)."""
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if not sent:
        return True  # SameSite=Strict and the CSRF token still stand
    if sent == "null":
        return False
    host = urlsplit(sent).netloc
    allowed = {request.host}
    if public_url:
        allowed.add(urlsplit(public_url).netloc)
    return host in allowed


def client_address(request: web.Request) -> str:
    """The client's address: X-Real-IP when the request comes from a proxy on this machine
    (as in the README's nginx example), the peer's address otherwise."""
    peer = request.remote or ""
    if peer in ("127.0.0.1", "::1"):
        return request.headers.get("X-Real-IP", peer).strip() or peer
    return peer


class RateLimit:
    """A sliding window per client address, in memory: each process limits on its own,
    enough to stop a token being guessed (32 random bytes) and to keep a flood cheap."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        limit: int = LOGIN_LIMIT,
        window_s: float = LOGIN_WINDOW_S,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    def allow(self, address: str) -> bool:
        now = self._clock().timestamp()
        if len(self._hits) > TRACKED_ADDRESSES:
            self._forget(now)
        hits = self._hits.setdefault(address, deque())
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        if len(hits) >= self._limit:
            return False
        hits.append(now)
        return True

    def _forget(self, now: float) -> None:
        for address in [a for a, h in self._hits.items() if not h or h[-1] <= now - self._window_s]:
            del self._hits[address]


def add_headers(response: web.StreamResponse, path: str) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if path.startswith(STATIC_PREFIX):
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        response.headers["Cache-Control"] = "no-store"
