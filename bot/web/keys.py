"""What the 看板's aiohttp application holds, and how a handler reaches it."""

from __future__ import annotations

from aiohttp import web

from bot.app import App
from bot.web.render import Renderer
from bot.web.security import RateLimit

APP = web.AppKey("jindianzi_app", App)
RENDERER = web.AppKey("renderer", Renderer)
LOGIN_LIMIT = web.AppKey("login_limit", RateLimit)


def the_app(request: web.Request) -> App:
    return request.app[APP]


def renderer(request: web.Request) -> Renderer:
    return request.app[RENDERER]


def login_limit(request: web.Request) -> RateLimit:
    return request.app[LOGIN_LIMIT]
