"""WeCom's login in a real Chromium: the way back from WeCom is a navigation started on
another site, and the session cookie is SameSite=Strict. The callback's page refreshes to the
overview from our own site, so the new session is carried there (a redirect continuing the
cross-site navigation would not carry it). WeCom's page is played by a page on `localhost`,
the 看板 is on `127.0.0.1`: two different sites to the browser."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from selenium.webdriver.common.by import By

from bot.app import App
from bot.config import Config, Secret, WebConfig, WecomConfig
from bot.roster import import_roster
from bot.web import oauth
from bot.web.server import web_app
from tests.browser.support import Browser, serve
from tests.wecom_fake import FakeWecomApi

ROSTER = "employee_no,name,branch_id,role,wecom_userid\nL001,孙矿长,jgk,leader,sunkz\n"


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    async with FakeWecomApi() as api:
        yield api


@pytest.fixture
def config(config: Config, wecom_api: FakeWecomApi) -> Config:
    wecom = WecomConfig(
        corp_id="wwjindianzi",
        agent_id=1000002,
        secret=Secret("app-secret"),
        api_base_url=wecom_api.url,
    )
    web_config = WebConfig(listen="127.0.0.1:8090", public_url="http://127.0.0.1", wecom_login=True)
    return dataclasses.replace(config, wecom=wecom, web=web_config)


def wecom_page(callback: str) -> web.Application:
    """WeCom's side: a page on another site whose link goes back with the code."""

    async def page(request: web.Request) -> web.Response:
        body = (
            '<!doctype html><meta charset="utf-8"><title>企业微信</title>'
            f'<a id="back" href="{html.escape(callback)}">确认登录</a>'
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    return app


async def test_the_way_back_from_wecom_lands_on_the_overview_with_a_session(
    app: App, browser: Browser, wecom_api: FakeWecomApi, tmp_path: Path
) -> None:
    csv = tmp_path / "wecom.csv"
    csv.write_text(ROSTER, encoding="utf-8")
    await import_roster(csv, app.repos, app.services.now())
    async with serve(web_app(app)) as base_url:
        await browser.get(f"{base_url}/")
        assert "用企业微信登录" in await browser.run(lambda d: d.page_source)
        await browser.screenshot(tmp_path / "no-session.png")
        # 用企业微信登录 sends the browser to WeCom (not reachable here): its state and the
        # cookie that holds it, as that response set them, put into the browser by hand.
        async with (
            ClientSession() as http,
            http.get(f"{base_url}/login/wecom", allow_redirects=False) as started,
        ):
            state = started.cookies[oauth.STATE_COOKIE].value
        await browser.run(
            lambda d: d.execute_cdp_cmd(
                "Network.setCookie",
                {
                    "name": oauth.STATE_COOKIE,
                    "value": state,
                    "url": f"{base_url}/login/wecom",
                    "path": "/login/wecom",
                    "httpOnly": True,
                    "sameSite": "Lax",
                },
            )
        )
        wecom_api.login_code("code-sun", userid="sunkz")
        callback = f"{base_url}/login/wecom/callback?code=code-sun&state={state}"
        port = base_url.rsplit(":", 1)[1]
        async with serve(wecom_page(callback)) as wecom_url:
            elsewhere = wecom_url.replace("127.0.0.1", "localhost")
            assert port not in elsewhere
            await browser.get(f"{elsewhere}/")
            await browser.run(lambda d: d.find_element(By.ID, "back").click())
            await browser.wait(
                lambda d: d.current_url == f"{base_url}/" and "孙矿长" in d.page_source
            )
        text = await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, ".who").text)
        assert "孙矿长" in text
        audits = await app.repos.web.audits("main")
        assert [a.action for a in audits] == ["login.wecom"]
        await browser.screenshot(tmp_path / "overview.png")
