"""Rendering pages: one Jinja2 environment (autoescaped, undefined names are errors) over
`bot/web/templates/`, and the context every page gets.

Every page extends `base.html` and fills its blocks `title` and `content`; `render` adds
`viewer` (the person, or None before login), `csrf` (for every POST form), `nav` (the bar,
with the current page marked) and `mine_name`. A page's own data comes from
`handlers.web_pages`, already limited to what the viewer may see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web

from bot.web.security import CSRF_FIELD, Viewer
from handlers import access
from storage import Person

VIEWER_KEY = web.RequestKey("viewer", Viewer)
"""Where the session middleware puts the `Viewer` of a request."""


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    shown: Callable[[Person], bool] | None = None
    """Who sees the entry (None: everyone with a session); the page checks again itself."""


NAV = (
    NavItem("/", "概览"),
    NavItem("/ideas", "金点子"),
    NavItem("/projects", "重点项目", access.may_see_projects),
    NavItem("/findings", "督导问题", access.may_see_findings),
    NavItem("/agenda", "政工例会", access.may_see_agenda),
    NavItem("/scores", "月度考核", access.may_read_scores),
    NavItem("/quarter", "季度讲评", access.may_read_quarter_pack),
    NavItem("/downloads", "下载", access.may_download),
    NavItem("/sessions", "登录会话", access.may_manage_web_sessions),
)
"""The navigation bar, in order. A new page adds its entry here."""


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["csrf_field"] = CSRF_FIELD
    return env


class Renderer:
    def __init__(self, mine_names: Mapping[str, str]) -> None:
        self._env = environment()
        self._mine_names = mine_names

    def page(
        self,
        request: web.Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
    ) -> web.Response:
        viewer: Viewer | None = request.get(VIEWER_KEY)
        nav = []
        if viewer is not None:
            nav = [
                (item.href, item.label, _current(request.path, item.href))
                for item in NAV
                if item.shown is None or item.shown(viewer.person)
            ]
        mine = viewer.session.mine if viewer is not None else ""
        body = self._env.get_template(template).render(
            viewer=viewer.person if viewer else None,
            roles=access.role_names(r.role for r in viewer.person.roles) if viewer else "",
            csrf=viewer.csrf if viewer else "",
            nav=nav,
            mine_name=self._mine_names.get(mine, "") if len(self._mine_names) > 1 else "",
            **(context or {}),
        )
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _current(path: str, href: str) -> bool:
    return path == href if href == "/" else path == href or path.startswith(href + "/")
