"""A leader enters a month's scores in the grid in a real browser: one-time link from the
chat, the 进入看板 button, the grid typed into with the keyboard (Tab from cell to cell,
Enter submits), the banner and the bad cell's message on the page that comes back.

Screenshots go to `tmp_path`, or to JINDIANZI_TEST_SHOTS when set (to look at them)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from bot.app import App
from bot.config import Config, WebConfig
from bot.web.server import web_app
from tests.browser.support import Browser, serve
from tests.support import Chat, register_people, table_rows
from tests.web.support import PUBLIC_URL, token_of


@pytest.fixture
def config(config: Config) -> Config:
    return dataclasses.replace(
        config, web=WebConfig(listen="127.0.0.1:8090", public_url=PUBLIC_URL)
    )


def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("JINDIANZI_TEST_SHOTS") or tmp_path)


async def test_a_leader_enters_scores_in_the_grid(
    app: App, chat: Callable[..., Chat], browser: Browser, tmp_path: Path
) -> None:
    people = await register_people(chat, "leader", "secretary")
    await people["leader"].say("/project new 锚杆回收复用 | repair_reuse | L001 | jj1 | 50万")
    await people["secretary"].say("/quarter report P01")
    for answer in ("回收锚杆 1740 根", "校直设备不足", "二月添置校直机", "确认"):
        await people["secretary"].say(answer)
    token = token_of((await people["leader"].say("/web"))[0])
    async with serve(web_app(app)) as base_url:
        await browser.get(f"{base_url}/login?t={token}")
        await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "button.primary").click())
        await browser.wait(EC.url_to_be(f"{base_url}/"))
        await browser.get(f"{base_url}/scores/grid?month=2026-11")

        def type_in(driver: WebDriver) -> None:
            first = driver.find_element(By.NAME, "cell:jj1:base")
            first.click()
            # 基础分, 部门评价, 领导评价 of 机掘一队, then 机掘二队's 基础分: Tab between them
            first.send_keys("90", Keys.TAB, "88", Keys.TAB, "92 推进有力", Keys.TAB, "120")
            assert driver.switch_to.active_element.get_attribute("name") == "cell:jj2:base"
            driver.find_element(By.NAME, "cell:jj2:dept").send_keys("86", Keys.ENTER)

        await browser.run(type_in)
        await browser.wait(EC.presence_of_element_located((By.ID, "banner")))
        seen = await browser.run(
            lambda d: (
                d.find_element(By.ID, "banner").text,
                d.find_element(By.CSS_SELECTOR, "td.problem .problem").text,
                d.find_element(By.NAME, "cell:jj2:base").get_attribute("value"),
                d.find_element(By.NAME, "cell:jj1:leader").get_attribute("value"),
            )
        )
        await browser.screenshot(shots(tmp_path) / "grid-result.png")
        for name, path in (
            ("scores", "/scores"),
            ("quarter", "/quarter"),
            ("downloads", "/downloads"),
        ):
            await browser.get(f"{base_url}{path}")
            heading = await browser.run(lambda d: d.find_element(By.TAG_NAME, "h1").text)
            assert heading and "没有找到" not in heading, path
            await browser.screenshot(shots(tmp_path) / f"{name}.png")
            if name == "scores":
                scores = await browser.run(lambda d: d.find_element(By.ID, "score-jj1").text)
    banner, problem, kept, entered = seen
    assert banner.startswith("已记录 4 项分数,1 项有问题未记录")
    assert problem == "第7行 机掘二队党支部 基础分:分数要在 0 到 100 之间,“120”不行。"
    assert kept == "120"  # what was typed stays, to be put right
    assert entered == "92"
    assert "90" in scores and "孙矿长" in scores  # the month's page shows what was entered
    month = await app.repos.scores.month("2026-11")
    assert month["jj1"] == {"base": 90.0, "dept": 88.0, "leader": 92.0}
    assert month["jj2"] == {"dept": 86.0}
    audit = [r for r in await table_rows(app.repos.db, "web_audit") if r["action"] != "login"]
    assert [a["action"] for a in audit] == ["scores.grid"]
