"""The browser test machinery itself, on a tiny page made here: Chinese text renders, an
external script and stylesheet work under a strict Content-Security-Policy while an inline
script does not, a screenshot holds the whole page (taller than the window), and
a form POST sets an HttpOnly, SameSite=Strict cookie that comes back on the next page.
The web 看板's own page journeys build on the same fixtures."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

from aiohttp import web
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.support import VIEWPORT, Browser, serve

CSP = "default-src 'self'; script-src 'self'"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPT = """\
document.getElementById("js").textContent = "脚本已运行：外部脚本改写了页面";
document.body.dataset.js = "ran";
"""
STYLE = """\
body { min-height: 1500px; font-family: "Noto Sans CJK SC", sans-serif; }
"""
PAGE = """\
<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>金点子看板</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<h1>金点子看板 · 浏览器测试</h1>
<script>document.body.dataset.inline = "ran";</script>
<p id="js">脚本未运行</p>
<p id="lang">{lang}</p>
<form method="post" action="/login">
<label>姓名 <input name="name"></label>
<button type="submit">进入</button>
</form>
</body>
</html>
"""


async def _strict_csp(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP


def smoke_app() -> web.Application:
    async def index(request: web.Request) -> web.Response:
        lang = html.escape(request.headers.get("Accept-Language", ""))
        return web.Response(text=PAGE.format(lang=lang), content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        return web.Response(text=SCRIPT, content_type="text/javascript")

    async def style(request: web.Request) -> web.Response:
        return web.Response(text=STYLE, content_type="text/css")

    async def login(request: web.Request) -> web.Response:
        name = str((await request.post()).get("name", ""))
        response = web.HTTPSeeOther("/me")
        response.set_cookie("session", name, httponly=True, samesite="Strict", path="/")
        raise response

    async def me(request: web.Request) -> web.Response:
        who = request.cookies.get("session")
        text = f"欢迎，{html.escape(who)}" if who else "未登录"
        body = f'<!doctype html><meta charset="utf-8"><p id="who">{text}</p>'
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.on_response_prepare.append(_strict_csp)
    app.router.add_get("/", index)
    app.router.add_get("/static/app.js", script)
    app.router.add_get("/static/app.css", style)
    app.router.add_post("/login", login)
    app.router.add_get("/me", me)
    return app


async def test_a_page_renders_runs_its_script_under_csp_and_keeps_a_strict_cookie(
    browser: Browser, tmp_path: Path
) -> None:
    async with serve(smoke_app()) as base_url:
        await browser.get(f"{base_url}/")
        await browser.wait(EC.text_to_be_present_in_element((By.ID, "js"), "脚本已运行"))

        def seen(driver: WebDriver) -> dict[str, str]:
            body = driver.find_element(By.TAG_NAME, "body")
            return {
                "title": driver.title,
                "h1": driver.find_element(By.TAG_NAME, "h1").text,
                "lang": driver.find_element(By.ID, "lang").text,
                "js": str(body.get_dom_attribute("data-js")),
                "inline": str(body.get_dom_attribute("data-inline")),
            }

        page = await browser.run(seen)
        assert page["title"] == "金点子看板"
        assert page["h1"] == "金点子看板 · 浏览器测试"
        assert page["lang"].startswith("zh-CN")
        assert page["js"] == "ran"
        assert page["inline"] == "None", "the CSP must block the inline script"

        shot = await browser.screenshot(tmp_path / "smoke.png")
        data = shot.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width == VIEWPORT[0]
        assert height > VIEWPORT[1], "the whole page, not only the window"

        def log_in(driver: WebDriver) -> None:
            driver.find_element(By.NAME, "name").send_keys("张三")
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        await browser.run(log_in)
        await browser.wait(EC.text_to_be_present_in_element((By.ID, "who"), "欢迎，张三"))
        cookie = await browser.run(lambda driver: driver.get_cookie("session"))
        assert cookie is not None
        assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
        script_sees = await browser.run(lambda d: d.execute_script("return document.cookie"))
        assert script_sees == "", "an HttpOnly cookie is not for scripts"


async def test_reset_leaves_no_cookie_or_storage_for_the_next_test(browser: Browser) -> None:
    def who(driver: WebDriver) -> str:
        return str(driver.find_element(By.ID, "who").text)

    def stored(driver: WebDriver) -> object:
        return driver.execute_script("return localStorage.getItem('筛选')")

    async with serve(smoke_app()) as base_url:
        await browser.get(f"{base_url}/")
        await browser.run(lambda driver: driver.add_cookie({"name": "session", "value": "李四"}))
        await browser.get(f"{base_url}/me")
        await browser.run(lambda d: d.execute_script("localStorage.setItem('筛选', '一矿')"))
        assert (await browser.run(who), await browser.run(stored)) == ("欢迎，李四", "一矿")

        await asyncio.to_thread(browser.reset)
        await browser.get(f"{base_url}/me")
        assert (await browser.run(who), await browser.run(stored)) == ("未登录", None)
