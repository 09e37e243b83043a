"""Into the 看板 with WeCom's own login (`web.wecom_login`), besides the /web link.

`GET /login/wecom` sends the browser to WeCom: inside the WeCom client to its OAuth2 page
(silent), in a PC browser to WeCom's web login (a QR code, or the desktop client's
confirmation). WeCom sends it back to `GET /login/wecom/callback?code=…&state=…`; the code
is exchanged for the member's userid through `auth/getuserinfo` (the same API client and
access-token cache as the WeCom channel), the userid names the roster person (in their
mine, as the chat finds it) and the session is opened exactly as /login opens it.

The state is not stored: it is a random nonce, the time it was issued and an HMAC of both
under a key derived from the WeCom app secret, so any process behind a load balancer can
check it. It is bound to the browser by a short-lived cookie holding the same value
(SameSite=Lax: the callback is a cross-site top-level navigation from WeCom, which Strict
would not carry), so nobody can make another browser log in as them with their own code.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bot.app import App
from bot.web import pages
from bot.web.keys import login_limit, the_app
from bot.web.security import client_address
from handlers import access
from handlers.services import Services
from storage import Person

if TYPE_CHECKING:
    from bot.wecom import WecomApi

log = logging.getLogger(__name__)

START = "/login/wecom"
CALLBACK = "/login/wecom/callback"
PUBLIC_PATHS = frozenset({START, CALLBACK})
"""Served without a session (the session middleware lets them through)."""
STATE_COOKIE = "jdz_wecom_state"
STATE_MINUTES = 10
"""How long a started login may take: WeCom's codes live 5 minutes, a QR scan a little more."""
NONCE_CHARS = 32
MAC_CHARS = 32
STATE_SHAPE = re.compile(
    rf"[0-9a-f]{{{NONCE_CHARS + 1 + MAC_CHARS},{NONCE_CHARS + 16 + MAC_CHARS}}}"
)
"""WeCom carries a state of a-zA-Z0-9, at most 128 bytes: ours is hex, about 72."""
MAX_CODE_BYTES = 512
IN_CLIENT = "wxwork"
"""What the WeCom client's built-in browser has in its User-Agent."""

WECOM_API: web.AppKey[WecomApi] = web.AppKey("wecom_api")

AGAIN = "请回到看板登录页,重新点“用企业微信登录”。"
STALE = "这次企业微信登录已经过期,或不是从这个浏览器发起的,没有登录。" + AGAIN
NO_CODE = "企业微信没有给出登录授权(可能取消了授权),没有登录。" + AGAIN
BAD_CODE = "企业微信没有确认您的身份(登录码无效或已过期),没有登录。" + AGAIN
UNREACHABLE = "暂时连不上企业微信,没有登录。请过一会儿再试。"
NOT_MEMBER = "您不是本企业的企业微信成员,不能登录看板。"
NOT_REGISTERED = "您的企业微信账号还没有登记在金点子花名册里,不能登录看板。请联系管理员登记。"


def add_routes(site: web.Application, app: App, api: WecomApi | None = None) -> None:
    """The two routes, only when `web.wecom_login` is on (otherwise they are not there:
    404). `api`: the WeCom channel's client, so both share one access token; without one
    (WeCom's callbacks not configured, or a test) the site opens its own."""
    if not app.config.web.wecom_login:
        return
    if api is None:
        import httpx

        from bot.wecom import HTTP_TIMEOUT, WecomApi

        http = httpx.AsyncClient(timeout=HTTP_TIMEOUT)
        api = WecomApi(http, app.config.wecom)

        async def close(_: web.Application) -> None:
            await http.aclose()

        site.on_cleanup.append(close)
    site[WECOM_API] = api
    site.router.add_get(START, start)
    site.router.add_get(CALLBACK, callback)


# -- the state ----------------------------------------------------------------------------------


def state_key(app: App) -> bytes:
    """The state's HMAC key: derived from the app secret under a label of its own."""
    secret = app.config.wecom.secret
    assert secret is not None  # the configuration refuses wecom_login without it
    return hashlib.sha256(b"jindianzi web wecom_login state\0" + secret.get().encode()).digest()


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:MAC_CHARS]


def new_state(key: bytes, now: datetime) -> str:
    body = secrets.token_hex(NONCE_CHARS // 2) + format(int(now.timestamp()), "x")
    return body + _mac(key, body)


def state_ok(key: bytes, sent: str, held: str, now: datetime) -> bool:
    """The state WeCom brought back is the one this browser's cookie holds, ours (the HMAC)
    and issued less than STATE_MINUTES ago."""
    if not STATE_SHAPE.fullmatch(sent) or not hmac.compare_digest(sent, held):
        return False
    body, mac = sent[:-MAC_CHARS], sent[-MAC_CHARS:]
    if not hmac.compare_digest(_mac(key, body), mac):
        return False
    age = now.timestamp() - int(body[NONCE_CHARS:], 16)
    return 0 <= age <= STATE_MINUTES * 60


# -- the routes ---------------------------------------------------------------------------------


def _secure(app: App) -> bool:
    return app.config.web.public_url.startswith("https://")


def redirect_uri(request: web.Request) -> str:
    """Where WeCom sends the browser back: under the public URL (whose domain must be the
    app's trusted domain in the WeCom admin console)."""
    base = the_app(request).config.web.public_url or f"{request.scheme}://{request.host}"
    return base.rstrip("/") + CALLBACK


async def start(request: web.Request) -> web.StreamResponse:
    """Off to WeCom with a fresh state, remembered by this browser for STATE_MINUTES."""
    from bot.wecom import login_url

    app = the_app(request)
    state = new_state(state_key(app), app.services.now())
    in_client = IN_CLIENT in request.headers.get("User-Agent", "").lower()
    url = login_url(app.config.wecom, redirect_uri(request), state, in_client=in_client)
    response = web.Response(status=302, headers={"Location": url})
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=STATE_MINUTES * 60,
        path=START,
        secure=_secure(app),
        httponly=True,
        samesite="Lax",
    )
    return response


def _refused(request: web.Request, text: str, status: int) -> web.Response:
    response = pages.message(request, text, status=status, title="无法登录", login_link=True)
    response.del_cookie(STATE_COOKIE, path=START)
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    """Check the state, ask WeCom whose code it is, open that person's session."""
    if not login_limit(request).allow(client_address(request)):
        return pages.message(request, "尝试太频繁了,请过一分钟再试。", status=429, title="请稍候")
    app = the_app(request)
    sent = request.query.get("state", "")
    held = request.cookies.get(STATE_COOKIE, "")
    if not state_ok(state_key(app), sent, held, app.services.now()):
        return _refused(request, STALE, 400)
    code = request.query.get("code", "")
    if not code:
        return _refused(request, NO_CODE, 403)
    if len(code.encode()) > MAX_CODE_BYTES:
        return _refused(request, BAD_CODE, 403)
    from bot.outbox import RetryLater

    try:
        answer = await request.app[WECOM_API].code_user(code)
    except RetryLater as exc:
        log.warning("WeCom login: getuserinfo unreachable (%s)", exc)
        return _refused(request, UNREACHABLE, 503)
    if answer.get("errcode", 0) != 0:
        log.warning(
            "WeCom login refused: getuserinfo errcode %s: %s from %s",
            answer.get("errcode"), answer.get("errmsg", ""), client_address(request),
        )  # fmt: skip
        return _refused(request, BAD_CODE, 403)
    userid = answer.get("userid") or answer.get("UserId")
    if not isinstance(userid, str) or not userid:
        log.info("WeCom login: not a member of the corp (openid only)")
        return _refused(request, NOT_MEMBER, 403)
    found = await person_of(app, userid)
    if found is None:
        log.info("WeCom login: userid %s is on no roster", userid)
        return _refused(request, NOT_REGISTERED, 403)
    services, person = found
    if not access.may_use_web(person):
        return _refused(request, refusal(), 403)
    session_id = await pages.open_session(request, services, person, "login.wecom")
    response = entered(request)
    pages.set_session_cookie(request, response, session_id)
    response.del_cookie(STATE_COOKIE, path=START)
    return response


def refusal() -> str:
    """What the chat answers when someone who may not use the 看板 sends /web."""
    need = access.role_names(access.WEB_USERS)
    return f"看板只有{need}可以使用,您的账号没有这个权限。"


def entered(request: web.Request) -> web.Response:
    """The page that takes the browser on to the overview. Not a redirect: this request
    came from WeCom's site, and a browser does not send a SameSite=Strict cookie on a
    redirect that continues a cross-site navigation, so `/` would not see the new session;
    a refresh from our own page is a same-site navigation and carries it."""
    return pages.page(request, "wecom_entered.html", {"target": "/"})


async def person_of(app: App, userid: str) -> tuple[Services, Person] | None:
    """The roster person of a WeCom userid, in their mine, as the chat finds them: the
    bound WeCom identity first, else the roster's `wecom_userid`."""
    tenants = app.tenants
    if tenants.single:
        services: Services | None = tenants.main
    else:
        mine = await tenants.directory().known("wecom", userid, userid)
        services = tenants.services.get(mine) if mine is not None else None
    if services is None:
        return None
    people = services.repos.people
    person = await people.by_identity("wecom", userid) or await people.by_wecom_userid(userid)
    return (services, person) if person is not None else None
