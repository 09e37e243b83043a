"""The web 看板's aiohttp application and its server for `jindianzi run`.

`web_app(app)` is the whole site over one `App` (tests and browser tests drive it through
aiohttp's TestServer); `serve(app, stop)` listens on `web.listen` until `stop` is set. Every
process of a deployment serves it: sessions are in the database, so a load balancer may send
a browser to any of them.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.app import App
from bot.web import boards, oauth, pages, scores
from bot.web.keys import APP, LOGIN_LIMIT, RENDERER, the_app
from bot.web.render import VIEWER_KEY, Renderer
from bot.web.security import (
    COOKIE,
    CSRF_FIELD,
    STATIC_PREFIX,
    RateLimit,
    Viewer,
    add_headers,
    csrf_ok,
    csrf_token,
    origin_ok,
    session_hash,
)
from handlers import access

if TYPE_CHECKING:
    from bot.wecom import WecomApi

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/login"}) | oauth.PUBLIC_PATHS
"""Pages served without a session (besides the static files)."""


def static_dir() -> Path:
    return Path(str(resources.files("bot.web").joinpath("static")))


def web_app(app: App, wecom_api: WecomApi | None = None) -> web.Application:
    """The 看板 over `app`: every route, the middlewares (headers, session, CSRF) and the
    static files. `wecom_api`: the WeCom channel's client, for WeCom's login."""
    site = web.Application(middlewares=[_headers, _session], client_max_size=256 * 1024)
    site[APP] = app
    site[RENDERER] = Renderer(app.tenants.names)
    site[LOGIN_LIMIT] = RateLimit(app.services.clock)
    pages.add_routes(site.router)
    boards.add_routes(site.router)
    scores.add_routes(site.router)
    oauth.add_routes(site, app, wecom_api)
    site.router.add_static(STATIC_PREFIX.rstrip("/"), static_dir(), append_version=False)
    return site


@web.middleware
async def _headers(request: web.Request, handler: pages.Handler) -> web.StreamResponse:
    """The security headers on every response, and our own page for a path that is not
    there (aiohttp's would say it in English)."""
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = pages.not_found(request)
    except web.HTTPMethodNotAllowed:
        response = pages.message(request, "不支持这样打开这个页面。", status=405)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("web 看板: %s %s failed", request.method, request.path)
        response = pages.message(
            request, "抱歉,系统刚才出了点问题,请稍后再试。", status=500, title="出错了"
        )
    add_headers(response, request.path)
    return response


@web.middleware
async def _session(request: web.Request, handler: pages.Handler) -> web.StreamResponse:
    """Every page but /login and the static files wants a live session of someone who may
    use the 看板 (their roles read now); every POST with a session, its CSRF token and an
    Origin of this site."""
    if request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    app = the_app(request)
    if request.method == "POST" and not origin_ok(request, app.config.web.public_url):
        return pages.message(request, "请求来源不对,没有处理。请从看板页面上操作。", status=403)
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    viewer = await find_viewer(request, app)
    if viewer is None:
        return pages.no_session(request)
    request[VIEWER_KEY] = viewer
    if request.method == "POST":
        form = await request.post()
        sent = form.get(CSRF_FIELD)
        if not isinstance(sent, str) or not csrf_ok(request.cookies[COOKIE], sent):
            return pages.message(
                request, "页面已过期或来源不对,没有处理。请刷新页面后再试。", status=403
            )
    return await handler(request)


async def find_viewer(request: web.Request, app: App) -> Viewer | None:
    """The live session behind the request's cookie, and the person as stored now."""
    session_id = request.cookies.get(COOKIE, "")
    if not session_id or len(session_id) > 200:
        return None
    now = app.services.now()
    session = await app.repos.web.session(session_hash(session_id), now)
    if session is None:
        return None
    services = app.tenants.services.get(session.mine)
    if services is None:
        return None
    person = await services.repos.people.by_id(session.person_id)
    if person is None or not access.may_use_web(person):
        return None
    await app.repos.web.seen(session.id, now)
    return Viewer(session, person, services, csrf_token(session_id))


async def serve(app: App, stop: asyncio.Event, wecom_api: WecomApi | None = None) -> None:
    """Listen on `web.listen` until `stop` is set (a runner of `jindianzi run`)."""
    host, _, port = app.config.web.listen.rpartition(":")
    runner = web.AppRunner(web_app(app, wecom_api), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or "127.0.0.1", int(port))
    await site.start()
    log.info("web 看板 on %s (%s)", app.config.web.listen, app.config.web.public_url)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
