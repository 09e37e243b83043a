"""The web 看板 in a real browser: people get their one-time link by sending /web in chat,
press 进入看板 in headless Chromium and use the pages as they would at a meeting's PC.

The whole stack is real: the chat router registers people and hands out the links, the
pages are `web_app(app)` served on the test's loop over the real SQLite file, the review
forms go through the same rules as /review and queue the author's notice in the outbox,
which the recording transport then receives. Only the clock is the tests' own (links
expire by it).

`JINDIANZI_SHOOT_DOCS=1` makes `test_the_overview_of_a_campaign_reads_well` write the
README's screenshot, docs/web-overview.png, as well as the one under tmp_path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from bot.app import App
from bot.config import Config, WebConfig
from bot.roster import import_roster
from bot.web.server import web_app
from tests.browser.support import VIEWPORT, Browser, serve
from tests.support import ROOT, Chat, Clock, RecordingTransport, register_people

PUBLIC_URL = "http://kanban.test"
"""What the links start with; the tests open the same path on the loopback server."""
SHOOT_ENV = "JINDIANZI_SHOOT_DOCS"
DOCS_SHOT = ROOT / "docs" / "web-overview.png"
NO_SESSION = "请从聊天中发送 /web 获取登录链接"


@pytest.fixture
def config(config: Config) -> Config:
    """The shipped configuration with the 看板 switched on."""
    return dataclasses.replace(
        config, web=WebConfig(listen="127.0.0.1:8090", public_url=PUBLIC_URL)
    )


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "worker2", "secretary", "leader", "admin")


# -- helpers: the link from the chat, the page as the person sees it --------------------------


async def link_path(person: Chat) -> str:
    """Send /web as `person`; the path and query of the link in the reply (/login?t=…)."""
    replies = await person.say("/web")
    found = re.search(rf"{re.escape(PUBLIC_URL)}(/login\?t=[A-Za-z0-9_-]+)", "\n".join(replies))
    assert found is not None, replies
    return found.group(1)


def body_text(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def heading(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


async def enter(browser: Browser, base_url: str, person: Chat) -> None:
    """Follow the person's fresh link and press 进入看板: the overview opens."""
    await browser.get(base_url + await link_path(person))
    button = await browser.run(
        lambda d: d.find_element(By.CSS_SELECTOR, "form[action='/login'] button")
    )
    assert button.text == "进入看板"
    await browser.run(lambda d: button.click())
    await browser.wait(EC.url_to_be(f"{base_url}/"))
    await browser.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))


async def click_link(browser: Browser, text: str) -> None:
    old = await browser.run(lambda d: d.find_element(By.TAG_NAME, "html"))
    await browser.run(lambda d: d.find_element(By.LINK_TEXT, text).click())
    await browser.wait(EC.staleness_of(old))


async def submit(browser: Browser, css: str) -> None:
    """Press the button `css` and wait for the page it loads."""
    old = await browser.run(lambda d: d.find_element(By.TAG_NAME, "html"))
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, css).click())
    await browser.wait(EC.staleness_of(old))


def row_ids(driver: WebDriver) -> list[int]:
    rows = driver.find_elements(By.CSS_SELECTOR, "table.ideas tbody tr")
    return [int(str(r.get_dom_attribute("id")).removeprefix("idea-")) for r in rows]


def drawn_charts(driver: WebDriver) -> dict[str, int]:
    """Each chart's id → how many of its canvas pixels ECharts has painted."""
    found = driver.execute_script(
        """
        const out = {};
        for (const el of document.querySelectorAll("[data-chart]")) {
          let painted = 0;
          for (const canvas of el.querySelectorAll("canvas")) {
            const data = canvas.getContext("2d").getImageData(
              0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < data.length; i += 4 * 7) { if (data[i] > 0) painted++; }
          }
          out[el.dataset.chart] = painted;
        }
        return out;
        """
    )
    return {str(k): int(v) for k, v in found.items()}


async def wait_for_charts(browser: Browser, ids: set[str]) -> dict[str, int]:
    def all_drawn(driver: WebDriver) -> dict[str, int]:
        found = drawn_charts(driver)
        return found if ids <= {k for k, v in found.items() if v > 500} else {}

    found: dict[str, int] = await browser.wait(all_drawn, timeout=10)
    return found


async def idea_of(app: App, author: Chat, text: str) -> int:
    await author.say(text)
    rows = await app.repos.db.fetchall("SELECT id FROM ideas ORDER BY id DESC LIMIT 1")
    return int(rows[0][0])


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


# -- 1. a leader: overview, filters, a review from the queue -----------------------------------


async def test_a_leader_enters_sees_the_charts_filters_and_adopts_from_the_queue(
    app: App, browser: Browser, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    anchor = await idea_of(
        app, people["worker"], "井下废旧锚杆回收后校直修复再复用,每月能省不少材料费"
    )
    seal = await idea_of(app, people["worker2"], "综采工作面液压支架密封圈修复再用")
    belt = await idea_of(app, people["worker2"], "皮带机空载时自动降速,节约电费")
    for idea, category in (
        (anchor, "repair_reuse"),
        (seal, "repair_reuse"),
        (belt, "energy_environment"),
    ):
        await app.repos.db.execute("UPDATE ideas SET category = ? WHERE id = ?", (category, idea))
    created = await people["leader"].say(
        "/project new 锚杆复用 | repair_reuse | L001 | jj1,zc1 | 50万"
    )
    assert "P01" in created[0]

    async with serve(web_app(app)) as base_url:
        await enter(browser, base_url, people["leader"])
        assert "全矿" in await browser.run(heading)
        drawn = await wait_for_charts(browser, {"year", "months", "branches"})
        assert drawn, drawn

        def overview(driver: WebDriver) -> tuple[str, int, str]:
            tables = driver.find_elements(By.CSS_SELECTOR, ".chart-card details table.data")
            summary = driver.find_element(By.CSS_SELECTOR, "#section-branches summary")
            summary.click()  # 查看数字 opens the chart's table
            table = driver.find_element(By.CSS_SELECTOR, "#section-branches table.data")
            return body_text(driver), len(tables), str(table.text)

        text, tables, branches = await browser.run(overview)
        assert "年金点子概览" in text and "采纳率" in text and "本年" in text
        assert tables >= 3
        assert "机掘一队" in branches and "综采一队" in branches  # the figure's own numbers

        await click_link(browser, "金点子")
        assert set(await browser.run(row_ids)) == {anchor, seal, belt}

        def choose(driver: WebDriver) -> None:
            Select(driver.find_element(By.NAME, "category")).select_by_visible_text("修旧利废")
            Select(driver.find_element(By.NAME, "branch")).select_by_visible_text("综采一队党支部")

        await browser.run(choose)
        await submit(browser, "form.filters button[type=submit]")
        assert await browser.run(row_ids) == [seal]
        assert "category=repair_reuse" in await browser.run(lambda d: d.current_url)

        await browser.get(f"{base_url}/ideas?text=电费&status=submitted&month=2026-11")
        assert await browser.run(row_ids) == [belt]
        await browser.get(f"{base_url}/ideas?month=2026-10")
        page = await browser.run(body_text)
        assert await browser.run(row_ids) == [] and "没有符合条件的金点子" in page

        await browser.get(f"{base_url}/ideas")
        await click_link(browser, "待我审核(3)")
        assert await browser.run(row_ids) == [anchor, seal, belt]  # oldest first
        assert "等待我审核" in await browser.run(heading)
        transport.sent.clear()

        def adopt(driver: WebDriver) -> None:
            row = driver.find_element(By.ID, f"idea-{anchor}")
            form = row.find_element(By.CSS_SELECTOR, "form.step input[value=adopt]")
            form = form.find_element(By.XPATH, "..")
            Select(form.find_element(By.NAME, "project")).select_by_value("P01")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        old = await browser.run(lambda d: d.find_element(By.TAG_NAME, "html"))
        await browser.run(adopt)
        await browser.wait(EC.staleness_of(old))
        result = await browser.run(body_text)
        assert "审核结果" in result and "已纳入重点项目 P01" in result, result

        def reject(driver: WebDriver) -> None:
            row = driver.find_element(By.ID, f"idea-{belt}")
            reason = row.find_element(By.NAME, "reason")
            reason.send_keys("已有同类项目在做")
            reason.find_element(By.XPATH, "../button").click()

        await click_link(browser, "返回")
        assert await browser.run(row_ids) == [seal, belt]  # the adopted one has left the queue
        old = await browser.run(lambda d: d.find_element(By.TAG_NAME, "html"))
        await browser.run(reject)
        await browser.wait(EC.staleness_of(old))
        assert "已改为“未采纳”,已通知作者" in await browser.run(body_text)

    found = await app.repos.ideas.get(anchor)
    assert found is not None and found.status == "adopted"
    assert await app.repos.projects.project_of(anchor) is not None
    await people["worker"].sender.run_once()
    assert any("已采纳" in t and "P01" in t for t in sent_to(transport, "u-E001"))
    assert any("未采纳" in t and "已有同类项目在做" in t for t in sent_to(transport, "u-E002"))
    actions = [a.action for a in await app.repos.web.audits("main")]
    assert actions == ["review.reject", "review.adopt", "login"]


# -- 2. a secretary: their branch only ---------------------------------------------------------


async def test_a_secretary_sees_only_their_branch(
    app: App, browser: Browser, people: dict[str, Chat]
) -> None:
    ours = await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    theirs = await idea_of(app, people["worker2"], "综采工作面液压支架密封圈修复再用")
    async with serve(web_app(app)) as base_url:
        await enter(browser, base_url, people["secretary"])
        text = await browser.run(body_text)
        assert "机掘一队" in await browser.run(heading)
        assert "综采一队" not in text  # never another branch's name
        await wait_for_charts(browser, {"months", "compare"})

        await click_link(browser, "金点子")
        assert await browser.run(row_ids) == [ours]
        options = await browser.run(
            lambda d: [o.text for o in Select(d.find_element(By.NAME, "branch")).options]
        )
        assert options == ["全部", "机掘一队党支部"]
        await browser.get(f"{base_url}/ideas?branch=zc1")
        assert await browser.run(row_ids) == []
        await browser.get(f"{base_url}/ideas?text=密封圈")
        assert await browser.run(row_ids) == []

        async def typed(idea_id: int) -> tuple[str, str]:
            """The secretary's own reject form, pointed at another id (as a hand-made
            request would be, with their valid CSRF token)."""
            await browser.get(f"{base_url}/ideas?view=queue")

            def send(driver: WebDriver) -> None:
                form = driver.find_element(By.CSS_SELECTOR, f"#idea-{ours} form.step:last-child")
                driver.execute_script(
                    "arguments[0].action = arguments[1]", form, f"/ideas/{idea_id}/review"
                )
                form.find_element(By.NAME, "reason").send_keys("不是本支部的")
                form.find_element(By.TAG_NAME, "button").click()

            old = await browser.run(lambda d: d.find_element(By.TAG_NAME, "html"))
            await browser.run(send)
            await browser.wait(EC.staleness_of(old))
            # The answer's document fully there before it is read (read too early, under load,
            # its body may be replaced under the driver's feet).
            await browser.wait(
                lambda d: d.execute_script("return document.readyState") == "complete"
            )
            return await browser.run(lambda d: (d.title, body_text(d)))

        other, missing = await typed(theirs), await typed(99999)
        assert other == missing and "没有找到这个页面或记录" in other[1]
        await browser.get(f"{base_url}/ideas/{theirs}")
        shown = await browser.run(lambda d: (d.title, body_text(d)))
        await browser.get(f"{base_url}/ideas/99999")
        assert shown == await browser.run(lambda d: (d.title, body_text(d)))
    found = await app.repos.ideas.get(theirs)
    assert found is not None and found.status == "submitted"


# -- 3. refusals: an expired link, a used one, no session, after logout -------------------------


async def test_expired_and_used_links_no_session_and_logout_are_refused(
    app: App, browser: Browser, people: dict[str, Chat], clock: Clock
) -> None:
    leader = people["leader"]
    async with serve(web_app(app)) as base_url:
        await browser.get(f"{base_url}/")
        assert await browser.run(heading) == "请先登录"
        assert NO_SESSION in await browser.run(body_text)
        await browser.get(f"{base_url}/ideas?view=queue")
        assert NO_SESSION in await browser.run(body_text)

        stale = await link_path(leader)
        clock.advance(app.config.web.link_minutes * 60 + 1)
        await browser.get(base_url + stale)
        text = await browser.run(body_text)
        assert "无法登录" in text and "已经过期" in text and "/web" in text
        assert not await browser.run(lambda d: d.find_elements(By.TAG_NAME, "button"))

        opened = await link_path(leader)  # opened in time, pressed too late
        await browser.get(base_url + opened)
        clock.advance(app.config.web.link_minutes * 60 + 1)
        await submit(browser, "form[action='/login'] button")
        assert "已经过期" in await browser.run(body_text)
        assert await browser.run(lambda d: d.get_cookie("jdz_session")) is None

        used = await link_path(leader)
        await browser.get(base_url + used)
        await submit(browser, "form[action='/login'] button")
        assert await browser.run(lambda d: d.current_url) == f"{base_url}/"
        await asyncio.to_thread(browser.reset)  # another browser, or someone else's
        await browser.get(base_url + used)
        assert "已经用过了" in await browser.run(body_text)
        await browser.get(f"{base_url}/")
        assert NO_SESSION in await browser.run(body_text)

        await enter(browser, base_url, leader)
        await submit(browser, "header form[action='/logout'] button")
        assert "已退出" in await browser.run(heading)
        await browser.get(f"{base_url}/ideas")
        assert await browser.run(heading) == "请先登录"
        assert NO_SESSION in await browser.run(body_text)
    actions = [a.action for a in await app.repos.web.audits("main")]
    assert actions == ["logout", "login", "login"]


# -- 4. a campaign's overview, for the README ---------------------------------------------------

CAMPAIGN_ROSTER = """\
employee_no,name,branch_id,role,wecom_userid,phone
E005,王强,zc2,worker,,13800000005
E006,刘洋,tf,worker,,13800000006
E007,陈明,ys,worker,,13800000007
E008,杨磊,jxc,worker,,13800000008
E009,黄涛,kj1,worker,,13800000009
"""

CAMPAIGN = (
    # (month, day, 工号, category, text)
    (1, 8, "E001", "repair_reuse", "井下废旧锚杆回收后校直修复再复用"),
    (1, 15, "E002", "safety", "回风巷瓦斯传感器加密布置,超限提前报警"),
    (1, 22, "E003", "process_improvement", "重介分选密度在线调整,提高精煤回收率"),
    (2, 5, "E004", "energy_environment", "主扇风机加装变频器,按需调风节电"),
    (2, 19, "E005", "tech_innovation", "综采面液压支架电液控制远程一键操作"),
    (3, 3, "E006", "safety", "通风设施挂牌管理,每班巡检签字"),
    (3, 12, "E001", "repair_reuse", "旧皮带修补后用作溜槽衬板"),
    (3, 26, "E007", "management", "井下材料领用扫码登记,按班组核算成本"),
    (4, 9, "E008", "repair_reuse", "报废电机拆解,轴承端盖回收再用"),
    (4, 21, "E002", "tech_innovation", "采煤机截割滚筒加装磨损在线监测"),
    (5, 6, "E009", "process_improvement", "掘进工作面一次成巷,缩短循环时间"),
    (5, 14, "E003", "energy_environment", "洗煤厂循环水闭路回用,减少补水"),
    (5, 28, "E004", "repair_reuse", "旧电缆剥皮分类回收铜芯"),
    (6, 4, "E005", "safety", "顶板离层仪数据接入调度监控系统"),
    (6, 18, "E006", "other", "井口候车室加装饮水机和座椅"),
    (6, 25, "E001", "management", "班组交接班记录改为电子台账"),
    (7, 2, "E007", "energy_environment", "运输大巷照明换成LED感应灯"),
    (7, 16, "E008", "repair_reuse", "刮板输送机旧链条修复后用于顺槽"),
    (7, 30, "E009", "tech_innovation", "掘进机加装截割轨迹自动控制"),
    (8, 6, "E002", "process_improvement", "工作面端头支护方式优化,减少单体柱"),
    (8, 20, "E003", "repair_reuse", "筛板磨损后翻面再用,延长寿命"),
    (8, 27, "E004", "safety", "主井提升机加装防坠保护监测"),
    (9, 3, "E005", "repair_reuse", "液压支架密封圈集中修复再用"),
    (9, 17, "E006", "energy_environment", "局部通风机空转时自动停机"),
    (9, 24, "E001", "process_improvement", "锚杆支护参数优化,减少锚杆用量"),
    (10, 8, "E007", "repair_reuse", "矿车轮对修复再用"),
    (10, 15, "E008", "management", "备品备件库存按月盘点,压减积压"),
    (10, 22, "E009", "safety", "皮带机沿线加装急停拉线和护栏"),
    (10, 29, "E002", "tech_innovation", "胶带机托辊故障声音识别报警"),
    (11, 3, "E003", "energy_environment", "压风机余热回收给浴室供热水"),
    (11, 6, "E004", "repair_reuse", "旧钢轨改制成巷道支护棚腿"),
    (11, 11, "E005", "process_improvement", "综采面端部斜切进刀工艺改进"),
    (11, 14, "E001", "repair_reuse", "废旧托辊修复后重新上线"),
    (11, 18, "E006", "safety", "瓦斯抽放管路负压在线监测"),
    (11, 20, "E007", "other", "井下作业人员定位卡集中充电柜"),
    (11, 23, "E008", "energy_environment", "机修厂空压机夜间停机错峰用电"),
)
"""Three dozen ideas over the year, from nine branches, in all seven categories."""

REVIEWS = (
    # (idea number in CAMPAIGN, days after it, the /review step)
    (1, 3, "adopt P01"),
    (2, 6, "under_review"),
    (3, 2, "adopt P02"),
    (4, 9, "reject 已列入今年技改计划"),
    (7, 4, "adopt P01"),
    (9, 12, "adopt P01"),
    (11, 5, "adopt P02"),
    (13, 7, "adopt P01"),
    (15, 3, "reject 属于后勤服务,转工会办理"),
    (18, 8, "adopt P01"),
    (20, 4, "adopt P02"),
    (21, 2, "adopt P01"),
    (22, 3, "under_review"),
    (23, 6, "adopt P01"),
    (26, 10, "adopt P01"),
    (27, 5, "under_review"),
    (31, 3, "adopt P01"),
)

BENEFITS = (
    # (month verified, 10k yuan, note): claimed by the secretary, verified by the leader
    (3, "P01", 40, "回收锚杆复用"),
    (5, "P02", 120, "精煤回收率提高"),
    (6, "P01", 85, "旧皮带、旧电机件再用"),
    (7, "P02", 260, "重介分选优化"),
    (8, "P01", 150, "旧电缆铜芯回收"),
    (9, "P02", 410, "循环水回用、精煤回收"),
    (10, "P01", 230, "刮板链、密封圈修复"),
    (11, "P02", 380, "筛板翻面、分选优化"),
)


def at(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


async def seed_campaign(
    app: App, clock: Clock, chats: dict[str, Chat], tmp_path: Path
) -> list[int]:
    """A year of the campaign up to 24 Nov, walked through with the clock: ideas from nine
    branches (written through the ideas repository with fixed categories, so the picture
    does not hang on the classifier), two key projects created in chat,
    reviews through /review, benefits claimed with /benefit and verified with /verify.
    Returns the ideas' ids in CAMPAIGN's order."""
    end = clock.now
    roster = tmp_path / "campaign.csv"
    roster.write_text(CAMPAIGN_ROSTER, encoding="utf-8")
    await import_roster(roster, app.repos, clock())
    leader, secretary = chats["leader"], chats["secretary"]
    clock.now = at(1, 2)
    await leader.say("/project new 锚杆复用与修旧利废 | repair_reuse | L001 | jj1,zc1,jd | 500万")
    await leader.say("/project new 洗选提质增效 | process_improvement | L001 | xmc,jj1 | 800万")
    ids = []
    for month, day, number, category, text in CAMPAIGN:
        clock.now = at(month, day)
        author = await app.repos.people.by_employee_no(number)
        assert author is not None
        async with app.repos.db.transaction():
            idea = await app.repos.ideas.add(
                author=author, text=text, category=category, confidence=0.9,
                channel="test", now=clock(),
            )  # fmt: skip
            await app.repos.ideas.index_terms(idea.id, app.services.classifier.terms(text))
        ids.append(idea.id)
    events = [
        (at(CAMPAIGN[n - 1][0], min(CAMPAIGN[n - 1][1] + days, 28)), f"/review {ids[n - 1]} {step}")
        for n, days, step in REVIEWS
    ] + [
        (at(month, 26), f"/benefit {project} {wan}万 2026-{month:02d} {note}")
        for month, project, wan, note in BENEFITS
    ]
    claims = 0
    for when, line in sorted(events):
        clock.now = when
        if line.startswith("/benefit"):
            claims += 1
            replies = await secretary.say(line)
            assert any(f"B{claims}" in r for r in replies), replies
            replies = await leader.say(f"/verify B{claims}")
            assert any("已核实" in r for r in replies), replies
        else:
            replies = await leader.say(line)
            assert replies and "已" in replies[0], (line, replies)
    clock.now = end
    return ids


async def test_the_overview_of_a_campaign_reads_well(
    app: App,
    browser: Browser,
    chat: Callable[..., Chat],
    clock: Clock,
    tmp_path: Path,
) -> None:
    chats = await register_people(chat, "secretary", "leader")
    ids = await seed_campaign(app, clock, chats, tmp_path)
    adopted = await app.repos.db.fetchall("SELECT count(*) FROM ideas WHERE status = 'adopted'")
    assert adopted[0][0] == sum(1 for *_, s in REVIEWS if s.startswith("adopt"))
    async with serve(web_app(app)) as base_url:
        await enter(browser, base_url, chats["leader"])
        drawn = await wait_for_charts(browser, {"year", "months", "speed", "branches"})
        assert len(drawn) == 4
        text = await browser.run(body_text)
        assert f"本年\n{len(ids)} 条" in text
        for figure in ("本年\n36 条", "核实效益\n1,675.00 万元", "采纳率\n33%"):
            assert figure in text, text  # 12 of 36 adopted; the eight verified benefits
        size = await browser.run(lambda d: d.execute_script(
            "return [window.innerWidth, window.innerHeight]"
        ))  # fmt: skip
        assert tuple(size) == VIEWPORT
        await asyncio.sleep(1.2)  # ECharts' one-second entry animation
        shot = await browser.screenshot(tmp_path / "web-overview.png")
        if os.environ.get(SHOOT_ENV) == "1":
            DOCS_SHOT.write_bytes(shot.read_bytes())
