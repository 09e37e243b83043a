"""A leader at the Monday meeting, in headless Chromium: follows a one-time /web link, presses
进入看板 (POST /login in the browser), opens /agenda, records the meeting's decision on one
item with its form, and reads the result; the branch's secretary is told in chat."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from bot.app import App
from bot.config import Config, WebConfig
from bot.web.server import web_app
from tests.browser.support import Browser, serve
from tests.support import Chat, RecordingTransport, register_people

PUBLIC_URL = "http://kanban.example.cn"
"""Plain http, as the loopback server is: a Secure cookie would never come back over it."""


@pytest.fixture
def config(config: Config) -> Config:
    return dataclasses.replace(
        config, web=WebConfig(listen="127.0.0.1:8090", public_url=PUBLIC_URL)
    )


async def open_session(browser: Browser, base_url: str, person: Chat) -> None:
    """Ask for /web in chat, open the link on this server and press 进入看板."""
    (reply,) = await person.say("/web")
    found = re.search(r"/login\?t=([A-Za-z0-9_-]+)", reply)
    assert found is not None, reply
    await browser.get(f"{base_url}/login?t={found.group(1)}")
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "button.primary").click())
    await browser.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "nav.nav")))


async def test_a_leader_decides_an_agenda_item_in_the_browser(
    app: App,
    chat: Callable[..., Chat],
    transport: RecordingTransport,
    browser: Browser,
    tmp_path: Path,
) -> None:
    people = await register_people(chat, "supervisor", "secretary", "leader")
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    await people["supervisor"].say("/findings escalate 1")
    await people["leader"].say("/findings add xmc 学习台账缺页")
    await people["leader"].say("/findings escalate 2")
    async with serve(web_app(app)) as base_url:
        await open_session(browser, base_url, people["leader"])
        await browser.get(f"{base_url}/agenda")
        nav = await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "nav.nav").text)
        assert "政工例会" in nav and "督导问题" in nav and "重点项目" in nav
        await browser.screenshot(tmp_path / "agenda-before.png")

        def decide(driver: WebDriver) -> None:
            form = driver.find_element(By.CSS_SELECTOR, "#item-1 form.decide-form")
            form.find_element(By.NAME, "decision").send_keys("补齐班前会记录,宣传部督促")
            Select(form.find_element(By.NAME, "department")).select_by_visible_text("宣传部")
            # a date field takes the digits as typed in the browser's locale; set its value
            due = form.find_element(By.NAME, "due")
            driver.execute_script("arguments[0].value = '2026-12-05'", due)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        transport.sent.clear()
        await browser.run(decide)
        await browser.wait(EC.presence_of_element_located((By.ID, "result")))
        result = await browser.run(lambda d: d.find_element(By.ID, "result").text)
        assert "已通知支部书记" in result and "#1" in result, result
        # decided: off the agenda, followed up below it until done
        gone = await browser.run(lambda d: d.find_elements(By.ID, "item-1"))
        assert gone == []
        item = await browser.run(lambda d: d.find_element(By.ID, "pending-1").text)
        assert "补齐班前会记录" in item and "宣传部" in item and "2026-12-05" in item
        still = await browser.run(lambda d: d.find_element(By.ID, "item-2").text)
        assert "待党委协调" in still
        await browser.screenshot(tmp_path / "agenda-after.png")
    found = await app.repos.findings.get(1)
    assert found is not None and (found.decision, found.assigned_department) == (
        "补齐班前会记录,宣传部督促",
        "publicity",
    )
    await people["secretary"].sender.run_once()
    told = [str(p["text"]) for c, p in transport.sent if c == "u-S001"]
    assert any("#1" in t and "补齐班前会记录" in t for t in told), told
