"""The 看板's routes: HTTP in, `handlers.web_pages` for the data and the review steps,
templates out. No rule lives here; each write runs in one unit of work with its audit row.

A page is a handler `async (request) -> Response` registered in `add_routes`; it reads the
`Viewer` the session middleware left (`viewer(request)`), asks `handlers.web_pages` for its
data and renders a template extending `base.html` with `page(request, name, context)`.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web

from bot.web.keys import login_limit, renderer, the_app
from bot.web.render import VIEWER_KEY
from bot.web.security import COOKIE, Viewer, client_address, session_hash
from handlers import access, web_pages
from handlers.rules.web import digest
from handlers.services import Services
from storage import Person

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NO_SESSION = "请从聊天中发送 /web 获取登录链接。"
LINK_REFUSALS = {
    "used": (
        410,
        "这个登录链接已经用过了,每个链接只能用一次。请在聊天中重新发送 /web 获取新链接。",
    ),
    "expired": (410, "这个登录链接已经过期了。请在聊天中重新发送 /web 获取新链接。"),
    "unknown": (404, "这个登录链接不对。请在聊天中发送 /web 获取登录链接,并完整复制。"),
}
USER_AGENT_CHARS = 300


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/login", login_page)
    router.add_post("/login", login)
    router.add_post("/logout", logout)
    router.add_get("/", overview)
    router.add_get("/ideas", ideas)
    router.add_post("/ideas/{idea_id}/review", review)
    router.add_get("/sessions", sessions)
    router.add_post("/sessions/{session_id}/revoke", revoke)


def viewer(request: web.Request) -> Viewer:
    found: Viewer = request[VIEWER_KEY]
    return found


def page(
    request: web.Request,
    template: str,
    context: dict[str, object] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    return renderer(request).page(request, template, context, status=status)


def message(
    request: web.Request,
    text: str,
    *,
    status: int,
    title: str = "提示",
    login_link: bool = False,
) -> web.Response:
    """A page of one message; `login_link`: it offers 用企业微信登录 when that is on."""
    wecom_login = login_link and the_app(request).config.web.wecom_login
    return page(
        request,
        "message.html",
        {"title": title, "text": text, "wecom_login": wecom_login},
        status=status,
    )


def not_found(request: web.Request) -> web.Response:
    """One answer for an unknown id and for another scope's: nothing to enumerate."""
    return message(request, "没有找到这个页面或记录。", status=404, title="没有找到")


def no_session(request: web.Request) -> web.Response:
    return message(request, NO_SESSION, status=401, title="请先登录", login_link=True)


# -- login and logout -------------------------------------------------------------------------


def _too_many(request: web.Request) -> web.Response | None:
    if login_limit(request).allow(client_address(request)):
        return None
    return message(request, "尝试太频繁了,请过一分钟再试。", status=429, title="请稍候")


async def login_page(request: web.Request) -> web.Response:
    """The page a /web link opens. It uses nothing: chat apps fetch a link for its preview,
    so only the button's POST spends the token."""
    if (refused := _too_many(request)) is not None:
        return refused
    token = request.query.get("t", "")
    app = the_app(request)
    state = await app.repos.web.link_state(digest(token), app.services.now()) if token else ""
    if state != "open":
        status, text = LINK_REFUSALS.get(state, LINK_REFUSALS["unknown"])
        return _refused(request, text, status=status)
    return page(request, "login.html", {"token": token})


async def login(request: web.Request) -> web.StreamResponse:
    """Spend the link's token once, open a session and set its cookie."""
    if (refused := _too_many(request)) is not None:
        return refused
    form = await request.post()
    token = form.get("t")
    if not isinstance(token, str) or not token:
        return _refused(request, LINK_REFUSALS["unknown"][1], status=404)
    app = the_app(request)
    repo = app.repos.web
    now = app.services.now()
    state = await repo.link_state(digest(token), now)
    used = await repo.use_link(digest(token), now)  # the claim: one conditional update
    services = app.tenants.services.get(used[0]) if used else None
    person = await services.repos.people.by_id(used[1]) if used and services else None
    if services is None or person is None or not access.may_use_web(person):
        status, text = LINK_REFUSALS.get(
            state if state != "open" else "used", LINK_REFUSALS["unknown"]
        )
        if used is not None:
            status, text = 403, "您的账号现在不能使用看板,请联系管理员。"
        return _refused(request, text, status=status)
    session_id = await open_session(request, services, person, "login")
    response = web.Response(status=303, headers={"Location": "/"})
    set_session_cookie(request, response, session_id)
    return response


def _refused(request: web.Request, text: str, *, status: int) -> web.Response:
    return message(request, text, status=status, title="无法登录", login_link=True)


async def open_session(
    request: web.Request, services: Services, person: Person, action: str
) -> str:
    """A new session for `person` in their mine, with its audit row (`action`: how they
    came in), in one unit of work; the session id for the cookie. Every way into the 看板
    (the /web link, WeCom's login) opens the same kind of session."""
    web_config = the_app(request).config.web
    now = services.now()
    session_id = secrets.token_urlsafe(32)
    mine = services.repos.db.mine
    async with services.repos.db.transaction():
        await services.repos.web.open_session(
            session_hash(session_id),
            mine,
            person.id,
            now,
            now + timedelta(hours=web_config.session_hours),
            request.headers.get("User-Agent", "")[:USER_AGENT_CHARS],
        )
        await services.repos.web.audit(mine, person.id, action, f"person:{person.id}", "", now)
    return session_id


def set_session_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    web_config = the_app(request).config.web
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=web_config.session_hours * 3600,
        path="/",
        secure=web_config.public_url.startswith("https://"),
        httponly=True,
        samesite="Strict",
    )


async def logout(request: web.Request) -> web.Response:
    who = viewer(request)
    repo = who.services.repos.web
    now = who.services.now()
    async with who.services.repos.db.transaction():
        await repo.revoke(who.session.id, who.session.mine, who.person.id, now)
        await repo.audit(
            who.session.mine, who.person.id, "logout", f"session:{who.session.id}", "", now
        )
    request.pop(VIEWER_KEY)
    response = message(
        request, "您已退出看板。需要时请在聊天中重新发送 /web。", status=200, title="已退出"
    )
    response.del_cookie(COOKIE, path="/")
    return response


# -- pages ------------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    """The campaign at a glance."""
    who = viewer(request)
    found = await web_pages.overview(who.services, who.person)
    return page(request, "overview.html", {"overview": found})


def _query(request: web.Request) -> web_pages.IdeaQuery:
    q = request.query
    page_text = q.get("page", "1")
    number = int(page_text) if page_text.isascii() and page_text.isdigit() else 1
    return web_pages.IdeaQuery(
        branch=q.get("branch", "")[:40],
        category=q.get("category", "")[:40],
        status=q.get("status", "")[:40],
        month=q.get("month", "")[:7],
        text=q.get("text", "")[:100],
        page=min(max(number, 1), 10_000),
        queue=q.get("view") == "queue",
    )


def query_string(query: web_pages.IdeaQuery, page_number: int) -> str:
    """/ideas?… for the same filter at another page."""
    fields = {
        "view": "queue" if query.queue else "",
        "branch": query.branch,
        "category": query.category,
        "status": query.status,
        "month": query.month,
        "text": query.text,
        "page": str(page_number) if page_number > 1 else "",
    }
    shown = urlencode({k: v for k, v in fields.items() if v})
    return "/ideas" + (f"?{shown}" if shown else "")


async def ideas(request: web.Request) -> web.Response:
    """Ideas in the viewer's scope, filtered; or their review queue, oldest first."""
    who = viewer(request)
    query = _query(request)
    found = await web_pages.idea_page(who.services, who.person, query)
    return page(
        request,
        "ideas.html",
        {
            "ideas": found,
            "here": query_string(found.query, found.query.page),
            "previous": query_string(found.query, found.query.page - 1),
            "next": query_string(found.query, found.query.page + 1),
            "queue_link": query_string(web_pages.IdeaQuery(queue=True), 1),
        },
    )


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


async def review(request: web.Request) -> web.Response:
    """One review step on one idea (adopt, merge, reject), with its audit row."""
    who = viewer(request)
    idea_id = _number(request.match_info["idea_id"])
    if idea_id is None:
        return not_found(request)
    form = await request.post()

    def field(name: str) -> str:
        value = form.get(name, "")
        return value if isinstance(value, str) else ""

    step = field("step")
    target = _number(field("target").strip().lstrip("#"))
    services = who.services
    async with services.repos.db.transaction():
        outcome = await web_pages.review_idea(
            services,
            who.person,
            idea_id,
            step,
            reason=field("reason"),
            target=target,
            project=field("project"),
            cross_category=field("cross") == "1",
        )
        if outcome.done:
            detail = field("project") or (f"#{target}" if target else field("reason"))[:200]
            await services.repos.web.audit(
                who.session.mine, who.person.id, f"review.{step}", f"idea:{idea_id}", detail,
                services.now(),
            )  # fmt: skip
    if not outcome.found:
        return not_found(request)
    if outcome.done:
        services.outbox_signal.set()  # the authors' notices are queued: send them now
    back = field("back")
    if not back.startswith("/ideas") or "//" in back:
        back = "/ideas"
    return page(
        request,
        "result.html",
        {"title": "审核结果", "text": outcome.text, "done": outcome.done, "back": back},
        status=200 if outcome.done else 409,
    )


async def sessions(request: web.Request) -> web.Response:
    """Admins: the mine's live sessions, each with a button that ends it."""
    who = viewer(request)
    if not access.may_manage_web_sessions(who.person):
        return not_found(request)
    live = await who.services.repos.web.live_sessions(who.session.mine, who.services.now())
    rows = await web_pages.session_rows(who.services, live, who.session.id)
    return page(request, "sessions.html", {"sessions": rows})


async def revoke(request: web.Request) -> web.Response:
    who = viewer(request)
    session_id = _number(request.match_info["session_id"])
    if not access.may_manage_web_sessions(who.person) or session_id is None:
        return not_found(request)
    services = who.services
    now = services.now()
    async with services.repos.db.transaction():
        ended = await services.repos.web.revoke(session_id, who.session.mine, who.person.id, now)
        if ended:
            await services.repos.web.audit(
                who.session.mine, who.person.id, "session.revoke", f"session:{session_id}", "", now
            )
    if not ended:
        return not_found(request)
    return page(
        request,
        "result.html",
        {"title": "已结束会话", "text": "这个会话已结束,对方需要重新发送 /web 登录。", "done": True,
         "back": "/sessions"},
    )  # fmt: skip
