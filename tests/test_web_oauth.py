"""Into the 看板 with WeCom's own login: aiohttp's test server in front of `web_app(app)` on
the real database file, the fake WeCom API on loopback answering gettoken and
auth/getuserinfo with the codes each test registers."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiohttp import ClientResponse, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, open_app
from bot.config import Config, ConfigError, Secret, WebConfig, WecomConfig, load_config
from bot.roster import import_roster
from bot.web import oauth
from bot.web.server import web_app
from bot.wecom import WecomApi
from nlp import Classifier
from tests.storage_backends import PostgresServer
from tests.support import ROOT, Clock, project_config
from tests.test_mines import ROSTER_HEAD, TWO_MINES, mine_file
from tests.wecom_fake import FakeWecomApi

PUBLIC_URL = "https://kanban.example.cn"
CORP = "wwjindianzi"
AGENT = 1000002
CALLBACK = f"{PUBLIC_URL}/login/wecom/callback"
PC = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
IN_WECOM = (
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 Chrome/98.0 Safari/537.36"
    " wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light"
)
ROSTER = (
    "employee_no,name,branch_id,role,wecom_userid,phone\n"
    "L001,孙矿长,jgk,leader,sunkz,13800000031\n"
    "S001,刘书记,jj1,secretary,liusj,13800000011\n"
)
"""The sample roster's leader and secretary with WeCom accounts (张三, a worker, has one)."""

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    async with FakeWecomApi() as api:
        yield api


def with_wecom_login(config: Config, api_url: str, *, on: bool = True) -> Config:
    wecom = WecomConfig(
        corp_id=CORP, agent_id=AGENT, secret=Secret("app-secret"), api_base_url=api_url
    )
    web_config = WebConfig(listen="127.0.0.1:8090", public_url=PUBLIC_URL, wecom_login=on)
    return dataclasses.replace(config, wecom=wecom, web=web_config)


@pytest.fixture
def config(config: Config, wecom_api: FakeWecomApi) -> Config:
    """The shipped configuration, the 看板 on, WeCom's login on, the API the fake."""
    return with_wecom_login(config, wecom_api.url)


@pytest.fixture
async def roster(app: App, tmp_path: Path) -> App:
    csv = tmp_path / "wecom.csv"
    csv.write_text(ROSTER, encoding="utf-8")
    await import_roster(csv, app.repos, app.services.now())
    return app


@pytest.fixture
async def client(roster: App) -> AsyncIterator[Client]:
    """A browser without a cookie jar: each test sends the cookies it means to."""
    async with TestClient(TestServer(web_app(roster)), cookie_jar=DummyCookieJar()) as found:
        yield found


async def start(client: Client, agent: str = PC) -> tuple[str, str]:
    """Press 用企业微信登录: (where the browser is sent, the state it remembers)."""
    response = await client.get(
        "/login/wecom", headers={"User-Agent": agent}, allow_redirects=False
    )
    assert response.status == 302
    return response.headers["Location"], response.cookies[oauth.STATE_COOKIE].value


async def come_back(
    client: Client, code: str, state: str, held: str | None = None
) -> ClientResponse:
    """WeCom sends the browser back with `code` and `state`; it carries its state cookie
    (`held`, by default the same state; "" for none)."""
    held = state if held is None else held
    headers = {"Cookie": f"{oauth.STATE_COOKIE}={held}"} if held else {}
    response = await client.get(
        "/login/wecom/callback",
        params={"code": code, "state": state},
        headers=headers,
        allow_redirects=False,
    )
    return response


async def nothing_opened(app: App) -> None:
    assert await app.repos.web.live_sessions("main", app.services.now()) == []
    assert await app.repos.web.audits("main") == []


# -- the way to WeCom ---------------------------------------------------------------------------


async def test_a_pc_browser_goes_to_wecom_s_web_login_with_a_state(client: Client) -> None:
    location, state = await start(client)
    url = urlsplit(location)
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "login.work.weixin.qq.com",
        "/wwlogin/sso/login",
    )
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "login_type": "CorpApp",
        "appid": CORP,
        "agentid": str(AGENT),
        "redirect_uri": CALLBACK,
        "state": state,
    }
    assert state.isascii() and state.isalnum() and len(state) <= 128  # what WeCom carries


async def test_inside_the_wecom_client_it_goes_to_oauth2(client: Client) -> None:
    location, state = await start(client, IN_WECOM)
    url = urlsplit(location)
    assert (url.netloc, url.path, url.fragment) == (
        "open.weixin.qq.com",
        "/connect/oauth2/authorize",
        "wechat_redirect",
    )
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "appid": CORP,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
        "agentid": str(AGENT),
    }


async def test_the_state_cookie_is_short_lived_and_lax(client: Client) -> None:
    response = await client.get("/login/wecom", allow_redirects=False)
    morsel = response.cookies[oauth.STATE_COOKIE]
    assert morsel["httponly"] and morsel["secure"]  # public_url is https
    assert morsel["samesite"] == "Lax"  # the way back is a cross-site navigation from WeCom
    assert morsel["path"] == "/login/wecom"
    assert morsel["max-age"] == str(oauth.STATE_MINUTES * 60)
    first = morsel.value
    assert (await start(client))[1] != first  # a fresh state every time


# -- the way back -------------------------------------------------------------------------------


async def test_a_member_s_code_opens_their_session_like_a_link_does(
    client: Client, roster: App, wecom_api: FakeWecomApi
) -> None:
    _, state = await start(client)
    wecom_api.login_code("code-sun", userid="sunkz")
    response = await come_back(client, "code-sun", state)
    assert response.status == 200
    page = await response.text()
    assert '<meta http-equiv="refresh" content="0; url=/">' in page and 'href="/"' in page
    session = response.cookies["jdz_session"]
    assert session["httponly"] and session["secure"]
    assert session["samesite"] == "Strict" and session["path"] == "/"
    assert session["max-age"] == str(12 * 3600)
    assert response.cookies[oauth.STATE_COOKIE].value == ""  # the state is spent
    leader = await roster.repos.people.by_employee_no("L001")
    assert leader is not None
    audits = await roster.repos.web.audits("main")
    assert [(a.action, a.person_id, a.target) for a in audits] == [
        ("login.wecom", leader.id, f"person:{leader.id}")
    ]
    live = await roster.repos.web.live_sessions("main", roster.services.now())
    assert [s.person_id for s in live] == [leader.id]
    overview = await client.get("/", headers={"Cookie": f"jdz_session={session.value}"})
    assert overview.status == 200
    text = await overview.text()
    assert "孙矿长" in text and "退出" in text


async def test_the_code_is_exchanged_with_the_channel_s_token(
    roster: App, wecom_api: FakeWecomApi
) -> None:
    """Given the WeCom channel's client, the 看板 asks with its cached token (no second
    gettoken), and an expired token is renewed once."""
    async with httpx.AsyncClient() as http:
        shared = WecomApi(http, roster.config.wecom)
        await shared.token()
        site = web_app(roster, shared)
        async with TestClient(TestServer(site), cookie_jar=DummyCookieJar()) as client:
            _, state = await start(client)
            wecom_api.login_code("code-sun", userid="sunkz")
            assert (await come_back(client, "code-sun", state)).status == 200
            assert wecom_api.token_requests == 1
            wecom_api.expire_tokens()
            _, state = await start(client)
            wecom_api.login_code("code-again", userid="sunkz")
            assert (await come_back(client, "code-again", state)).status == 200
            assert wecom_api.token_requests == 2


async def test_wecom_out_of_reach_is_said_so_without_a_traceback(
    roster: App, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient() as http:
        unreachable = dataclasses.replace(roster.config.wecom, api_base_url="http://127.0.0.1:9")
        site = web_app(roster, WecomApi(http, unreachable))
        async with TestClient(TestServer(site), cookie_jar=DummyCookieJar()) as client:
            _, state = await start(client)
            with caplog.at_level(logging.WARNING, logger="bot.web.oauth"):
                response = await come_back(client, "code-sun", state)
            assert response.status == 503
            text = await response.text()
            assert "暂时连不上企业微信" in text and "Traceback" not in text
    assert any("unreachable" in r.getMessage() for r in caplog.records)
    await nothing_opened(roster)


@pytest.mark.parametrize("case", ["no cookie", "another browser", "forged", "no state"])
async def test_a_wrong_or_missing_state_is_refused_and_wecom_not_asked(
    client: Client, roster: App, wecom_api: FakeWecomApi, case: str
) -> None:
    _, state = await start(client)
    _, other = await start(client)
    wecom_api.login_code("code-sun", userid="sunkz")
    sent, held = {
        "no cookie": (state, ""),
        "another browser": (state, other),  # someone else's login, finished in this browser
        "forged": (state[:-1] + ("0" if state[-1] != "0" else "1"),) * 2,
        "no state": ("", state),
    }[case]
    response = await come_back(client, "code-sun", sent, held)
    assert response.status == 400
    text = await response.text()
    assert "已经过期" in text and "用企业微信登录" in text and "jdz_session" not in response.cookies
    assert "Traceback" not in text
    assert wecom_api.code_requests == 0
    await nothing_opened(roster)


async def test_an_expired_state_is_refused(
    client: Client, roster: App, wecom_api: FakeWecomApi, clock: Clock
) -> None:
    _, state = await start(client)
    wecom_api.login_code("code-sun", userid="sunkz")
    clock.advance(oauth.STATE_MINUTES * 60 + 1)
    response = await come_back(client, "code-sun", state)
    assert response.status == 400 and "已经过期" in await response.text()
    assert wecom_api.code_requests == 0
    await nothing_opened(roster)


async def test_an_unknown_code_is_refused_with_a_log_line(
    client: Client, roster: App, wecom_api: FakeWecomApi, caplog: pytest.LogCaptureFixture
) -> None:
    _, state = await start(client)
    with caplog.at_level(logging.WARNING, logger="bot.web.oauth"):
        response = await come_back(client, "made-up", state)
    assert response.status == 403
    text = await response.text()
    assert "没有确认您的身份" in text and "Traceback" not in text
    assert any("40029" in r.getMessage() for r in caplog.records)
    await nothing_opened(roster)


async def test_a_used_code_does_not_open_a_second_session(
    client: Client, roster: App, wecom_api: FakeWecomApi
) -> None:
    _, state = await start(client)
    wecom_api.login_code("code-sun", userid="sunkz")
    assert (await come_back(client, "code-sun", state)).status == 200
    _, state = await start(client)
    assert (await come_back(client, "code-sun", state)).status == 403  # WeCom's codes: once
    assert len(await roster.repos.web.live_sessions("main", roster.services.now())) == 1


async def test_refusing_the_authorisation_is_said_so(client: Client, roster: App) -> None:
    _, state = await start(client)
    response = await come_back(client, "", state)  # WeCom comes back without a code
    assert response.status == 403 and "没有给出登录授权" in await response.text()
    await nothing_opened(roster)


async def test_someone_outside_the_corp_is_refused(
    client: Client, roster: App, wecom_api: FakeWecomApi
) -> None:
    _, state = await start(client)
    wecom_api.login_code("code-guest", openid="oGuest123")
    response = await come_back(client, "code-guest", state)
    assert response.status == 403 and "不是本企业的企业微信成员" in await response.text()
    await nothing_opened(roster)


async def test_a_member_not_on_the_roster_is_refused_politely(
    client: Client, roster: App, wecom_api: FakeWecomApi
) -> None:
    _, state = await start(client)
    wecom_api.login_code("code-new", userid="newcomer")
    response = await come_back(client, "code-new", state)
    assert response.status == 403
    text = await response.text()
    assert "还没有登记在金点子花名册里" in text and "联系管理员" in text
    await nothing_opened(roster)


async def test_a_worker_is_told_what_the_chat_tells_them(
    client: Client, roster: App, wecom_api: FakeWecomApi
) -> None:
    _, state = await start(client)
    wecom_api.login_code("code-zhang", userid="zhangsan")  # 张三, a worker
    response = await come_back(client, "code-zhang", state)
    assert response.status == 403
    text = await response.text()
    assert "看板只有" in text and "您的账号没有这个权限" in text
    assert "jdz_session" not in response.cookies
    await nothing_opened(roster)


async def test_a_secretary_comes_in_by_their_bound_identity(
    client: Client, roster: App, wecom_api: FakeWecomApi
) -> None:
    """The chat binds a WeCom account on the first message; that binding decides."""
    secretary = await roster.repos.people.by_employee_no("S001")
    assert secretary is not None
    async with roster.repos.db.transaction():
        assert await roster.repos.people.bind_by_wecom_userid("liusj", roster.services.now())
    _, state = await start(client)
    wecom_api.login_code("code-liu", userid="liusj")
    assert (await come_back(client, "code-liu", state)).status == 200
    live = await roster.repos.web.live_sessions("main", roster.services.now())
    assert [s.person_id for s in live] == [secretary.id]


async def test_the_way_back_is_rate_limited(client: Client, roster: App) -> None:
    statuses = [(await come_back(client, "x", "bad", "bad")).status for _ in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


# -- where it is offered, and when it is off ------------------------------------------------------


async def test_the_no_session_and_refused_pages_offer_it(client: Client) -> None:
    page = await (await client.get("/", allow_redirects=False)).text()
    assert 'href="/login/wecom">用企业微信登录' in page
    refused = await (await client.get("/login?t=made-up")).text()
    assert 'href="/login/wecom">用企业微信登录' in refused


async def test_off_by_default_and_then_not_there(
    config: Config, clock: Clock, classifier: Classifier, wecom_api: FakeWecomApi
) -> None:
    off = with_wecom_login(config, wecom_api.url, on=False)
    async with (
        open_app(off, clock=clock, classifier=classifier) as app,
        TestClient(TestServer(web_app(app)), cookie_jar=DummyCookieJar()) as client,
    ):
        for path in ("/login/wecom", "/login/wecom/callback?code=c&state=s"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 404, path
        page = await (await client.get("/")).text()
        assert "/web" in page and "用企业微信登录" not in page


def test_the_setting_and_its_environment_override(tmp_path: Path) -> None:
    assert not project_config(tmp_path / "db").web.wecom_login
    found = project_config(
        tmp_path / "db",
        JINDIANZI_WEB_WECOM_LOGIN="true",
        JINDIANZI_WECOM_CORP_ID=CORP,
        JINDIANZI_WECOM_AGENT_ID=str(AGENT),
        JINDIANZI_WECOM_SECRET="app-secret",
    )
    assert found.web.wecom_login


@pytest.mark.parametrize(
    "wecom",
    [
        {},
        {"JINDIANZI_WECOM_CORP_ID": CORP, "JINDIANZI_WECOM_AGENT_ID": str(AGENT)},
        {"JINDIANZI_WECOM_CORP_ID": CORP, "JINDIANZI_WECOM_SECRET": "app-secret"},
    ],
)
def test_wecom_login_without_wecom_names_its_key(tmp_path: Path, wecom: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        project_config(tmp_path / "db", JINDIANZI_WEB_WECOM_LOGIN="true", **wecom)
    assert raised.value.key == "web.wecom_login"
    assert "wecom.corp_id" in str(raised.value)


# -- a group of mines (PostgreSQL) ----------------------------------------------------------------


async def test_a_member_comes_into_their_own_mine(
    tmp_path: Path,
    postgres_server: PostgresServer,
    classifier: Classifier,
    clock: Clock,
    wecom_api: FakeWecomApi,
) -> None:
    """Two mines' secretaries, both 工号 S001: each WeCom account opens a session in the
    mine that has it on its roster, as the chat would route its messages."""
    mine_file(tmp_path, "east", "东矿综采一队支部")
    mine_file(tmp_path, "west", "西矿掘进二队支部")
    path = tmp_path / "group.yaml"
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    shipped = shipped.replace("sample_roster: bot/sample_roster.csv", "sample_roster: null")
    path.write_text(shipped + "\nmines:\n" + TWO_MINES, encoding="utf-8")
    env = {
        "JINDIANZI_STORAGE_PATH": str(tmp_path / "unused.db"),
        "JINDIANZI_STORAGE_URL": postgres_server.fresh_database(),
        "JINDIANZI_WEB_LISTEN": "127.0.0.1:8090",
        "JINDIANZI_WEB_PUBLIC_URL": PUBLIC_URL,
        "JINDIANZI_WEB_WECOM_LOGIN": "true",
        "JINDIANZI_WECOM_CORP_ID": CORP,
        "JINDIANZI_WECOM_AGENT_ID": str(AGENT),
        "JINDIANZI_WECOM_SECRET": "app-secret",
        "JINDIANZI_WECOM_API_BASE_URL": wecom_api.url,
    }
    rosters = {
        "east": ROSTER_HEAD + "S001,刘书记,b01,secretary,east-liu,13900000011\n",
        "west": ROSTER_HEAD + "S001,陈书记,b01,secretary,west-chen,13700000011\n",
    }
    async with open_app(load_config(path, env), clock=clock, classifier=classifier) as app:
        for mine, roster_text in rosters.items():
            csv = tmp_path / f"{mine}.csv"
            csv.write_text(roster_text, encoding="utf-8")
            await import_roster(csv, app.tenants.services[mine].repos, clock())
        async with TestClient(TestServer(web_app(app)), cookie_jar=DummyCookieJar()) as client:
            _, state = await start(client)
            wecom_api.login_code("code-chen", userid="west-chen")
            response = await come_back(client, "code-chen", state)
            assert response.status == 200
            session = response.cookies["jdz_session"].value
            page = await (
                await client.get("/", headers={"Cookie": f"jdz_session={session}"})
            ).text()
            assert "陈书记" in page and "西矿" in page
        west = app.tenants.services["west"].repos
        chen = await west.people.by_employee_no("S001")
        assert chen is not None
        assert [s.person_id for s in await west.web.live_sessions("west", clock())] == [chen.id]
        assert [a.action for a in await west.web.audits("west")] == ["login.wecom"]
        east = app.tenants.services["east"].repos
        assert await east.web.live_sessions("east", clock()) == []
