"""The browser tests' fixtures: one headless Chromium for the whole run, clean for each test.

A test is async (pytest-asyncio), serves its aiohttp app on the running loop and drives the
browser through `Browser`, whose calls run on a worker thread (see tests/browser/support.py
for why this and not a server on its own thread: the app's database lives on the test's loop):

    from tests.browser.support import Browser, serve

    async def test_overview(app: App, browser: Browser, tmp_path: Path) -> None:
        async with serve(web_app(app)) as base_url:
            await browser.get(f"{base_url}/")
            title = await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "h1").text)
            await browser.screenshot(tmp_path / "overview.png")

Starting Chromium takes about a second, so the driver is started once per run and the
`browser` fixture only clears what the previous test left (cookies, cache, storage, windows).
Without a browser the tests are skipped with one line at the end of the run; under CI=true
they fail instead, as the PostgreSQL tests do (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from selenium import webdriver

from tests.browser.support import Browser, Chromium, NoBrowser, find_chromium, start_driver

# Why the browser tests were skipped, printed once at the end of the run.
_BROWSER_SKIPPED: list[str] = []


def _under_ci() -> bool:  # as tests/conftest.py decides it
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _no_browser(exc: NoBrowser) -> None:
    if _under_ci():
        pytest.fail(f"CI needs a browser and none could be started: {exc}")
    _BROWSER_SKIPPED[:] = [f"browser tests skipped: {exc}"]
    pytest.skip(_BROWSER_SKIPPED[0])


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """Debian's /usr/bin/chromium and /usr/bin/chromedriver, or JINDIANZI_TEST_CHROMIUM and
    JINDIANZI_TEST_CHROMEDRIVER."""
    try:
        return find_chromium()
    except NoBrowser as exc:
        _no_browser(exc)
        raise  # not reached: _no_browser skips or fails


@pytest.fixture(scope="session")
def chromium_driver(chromium: Chromium) -> Iterator[webdriver.Chrome]:
    """The run's one WebDriver (tests use `browser`, which cleans it between them)."""
    try:
        driver = start_driver(chromium)
    except NoBrowser as exc:
        _no_browser(exc)
        raise
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium_driver: webdriver.Chrome) -> Iterator[Browser]:
    """The browser for one test, with no cookies, storage or windows from another."""
    found = Browser(chromium_driver)
    try:
        yield found
    finally:
        found.reset()  # it knows the origins this test visited, whose storage it clears


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _BROWSER_SKIPPED:
        terminalreporter.write_line(_BROWSER_SKIPPED[0])
