"""What the browser tests share: finding Debian's Chromium, one WebDriver, an async face on it.

Selenium is synchronous and the tests run under pytest-asyncio, on the loop where the app
(and its database) lives. The web server therefore runs on that same loop (`serve`), and
every WebDriver call goes to a worker thread (`Browser.run`, `asyncio.to_thread`) so the loop
stays free to answer the page the browser is loading. A WebDriver call made straight from a
test would block the loop, the page could never load, and the call would end only at the
page-load timeout: `Browser` is the one door to the driver for that reason.

Nothing is ever downloaded: the driver is always given by path (`Service(executable_path=…)`),
so Selenium Manager is not asked, and `SE_OFFLINE=true` forbids it to go online if it were.
"""

from __future__ import annotations

import asyncio
import base64
import os
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait

from tests.loopback import serve as serve_loopback

CHROMIUM_ENV = "JINDIANZI_TEST_CHROMIUM"
CHROMEDRIVER_ENV = "JINDIANZI_TEST_CHROMEDRIVER"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
DEBIAN_CHROMEDRIVER = "/usr/bin/chromedriver"
VIEWPORT = (1366, 900)
"""The page's own width and height in CSS pixels (the window around it is a little taller)."""
PAGE_LOAD_SECONDS = 15
INSTALL_HINT = "apt-get install chromium chromium-driver fonts-noto-cjk"

T = TypeVar("T")


class NoBrowser(Exception):
    """No browser can be driven here; the message says why in one line."""


@dataclass(frozen=True)
class Chromium:
    """Where the browser and its driver are."""

    browser: Path
    driver: Path


def find_chromium() -> Chromium:
    """Debian's chromium and chromedriver, or those the environment names."""
    found = []
    for env, default in ((CHROMIUM_ENV, DEBIAN_CHROMIUM), (CHROMEDRIVER_ENV, DEBIAN_CHROMEDRIVER)):
        path = Path(os.environ.get(env) or default)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise NoBrowser(f"no executable {path} (set {env}, or {INSTALL_HINT})")
        found.append(path)
    return Chromium(browser=found[0], driver=found[1])


def start_driver(chromium: Chromium) -> webdriver.Chrome:
    """Headless Chromium in Chinese at a fixed size; raises NoBrowser when it will not start."""
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium.browser)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
        "--lang=zh-CN",
        "--no-proxy-server",  # the pages are on loopback; no proxy setting may reroute them
        "--no-first-run",
        "--hide-scrollbars",  # a screenshot shows the page only, at the viewport's width
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    try:
        driver = webdriver.Chrome(
            service=Service(executable_path=str(chromium.driver)), options=options
        )
    except WebDriverException as exc:
        first = (exc.msg or str(exc)).strip().splitlines()
        raise NoBrowser(f"{chromium.browser} did not start: {first[0] if first else exc}") from exc
    driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
    driver.set_script_timeout(PAGE_LOAD_SECONDS)
    fit_viewport(driver)
    return driver


def fit_viewport(driver: webdriver.Chrome) -> None:
    """Size the window so that the page inside it is exactly `VIEWPORT`."""
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if tuple(inner) == VIEWPORT:
        return
    outer = driver.get_window_size()
    driver.set_window_size(
        outer["width"] + VIEWPORT[0] - inner[0], outer["height"] + VIEWPORT[1] - inner[1]
    )


def screenshot(driver: webdriver.Chrome, path: Path) -> Path:
    """Save the whole page (not only the window) as a PNG at `path`; returns `path`."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1, a free port, on the running loop; yields its base URL."""
    runner, base_url = await serve_loopback(app)
    try:
        yield base_url
    finally:
        await runner.cleanup()


def _origin(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None


@dataclass
class Browser:
    """The session's one WebDriver, seen from async tests: each call runs on a worker thread.

    `await browser.get(url)`, `await browser.run(lambda d: d.find_element(...).text)`,
    `await browser.wait(expected_conditions...)`, `await browser.screenshot(path)`.
    `driver` is there for what these do not cover, but call it only through `run`."""

    driver: webdriver.Chrome
    _origins: set[str] = field(default_factory=set)
    """Origins whose storage `reset` clears (cookies it clears everywhere)."""

    async def run(self, step: Callable[[webdriver.Chrome], T]) -> T:
        """`step(driver)` on a worker thread, so the server on this loop can answer it."""
        return await asyncio.to_thread(step, self.driver)

    async def get(self, url: str) -> None:
        """Open `url` and wait until it has loaded."""
        origin = _origin(url)
        if origin is not None:
            self._origins.add(origin)
        await self.run(lambda driver: driver.get(url))

    async def wait(self, condition: Callable[[webdriver.Chrome], T], timeout: float = 5) -> T:
        """Wait until `condition(driver)` is truthy (a `selenium...expected_conditions`
        check, or any function of the driver); its value, or TimeoutException."""
        return await self.run(lambda driver: WebDriverWait(driver, timeout).until(condition))

    async def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG at `path`."""
        return await self.run(lambda driver: screenshot(driver, path))

    def reset(self) -> None:
        """Forget everything a test left: other windows, cookies, cache, and the storage of
        every origin it opened (and the one it ended on). Synchronous: the fixture calls it
        between tests."""
        try:
            here = _origin(self.driver.current_url)
        except WebDriverException:  # an open dialog, say: it is dismissed, the page stays
            here = _origin(self.driver.current_url)
        if here is not None:
            self._origins.add(here)
        for handle in self.driver.window_handles[1:]:
            self.driver.switch_to.window(handle)
            self.driver.close()
        self.driver.switch_to.window(self.driver.window_handles[0])
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        for origin in sorted(self._origins):
            self.driver.execute_cdp_cmd(
                "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
            )
        self._origins.clear()
        fit_viewport(self.driver)
