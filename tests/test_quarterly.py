"""The quarterly review that collects (issue 17 item 3): on a quarter's first day each secretary
is asked about the quarter just ended, per key project of the branch; weak branches and stalled
projects are told to explain themselves (作出检查); reports come in through a form, the missing
ones are reminded, the leaders hear when a branch is complete and comment; /review_quarter
shows it all. Replayed over the real router, outbox and SQLite file at the 2026/2027 boundary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import App
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people

NEW_YEAR = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
SCORES = {"jj1": 95, "zc1": 90, "jd": 85, "xmc": 60}
"""Base scores of Q4's three months: 洗煤厂 and 机电队 are the bottom two."""


def payloads(transport: RecordingTransport, chat_id: str) -> list[dict[str, Any]]:
    return [p for c, p in transport.sent if c == chat_id]


def texts(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for p in payloads(transport, chat_id)]


def buttons_of(payload: dict[str, Any]) -> dict[str, str]:
    return {b["label"]: b["data"] for row in payload.get("buttons", ()) for b in row}


async def press_notice(
    chat: Chat, transport: RecordingTransport, start: str, label: str
) -> list[str]:
    """Press a button of the latest notice to the chat whose text begins with `start`."""
    notice = next(
        p for p in reversed(payloads(transport, chat.chat_id)) if p["text"].startswith(start)
    )
    return await chat.deliver(chat.incoming(callback=buttons_of(notice)[label]))


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "secretary", "other_secretary", "leader", "worker", "supervisor"
    )


@pytest.fixture
async def quarter(
    app: App, people: dict[str, Chat], clock: Clock, chat: Callable[..., Chat]
) -> dict[str, Chat]:
    """Q4 2026: three key projects (P01 and P03 of 机掘一队, P02 of 洗煤厂), P01 stalled since
    October; three closed months of scores for four branches; 机掘一队's group bound."""
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    leader = people["leader"]
    clock.now = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    for line in (
        "/project new 锚杆回收复用 | repair_reuse | L001 | jj1 | 50万",
        "/project new 皮带机变频节能 | energy_environment | L001 | xmc | 30万",
        "/project new 旧支架修复 | repair_reuse | L001 | jj1 | 20万",
    ):
        assert "P0" in (await leader.say(line))[-1]
    clock.now = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
    await people["secretary"].say("/progress P01 20 开始回收")
    clock.now = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)
    await people["secretary"].say("/progress P03 50 修复 40 架")
    clock.now = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
    await people["other_secretary"].say("/progress P02 60 改造 3 台")
    leader_id = (await app.repos.people.by_employee_no("L001")).id  # type: ignore[union-attr]
    for month in ("2026-10", "2026-11", "2026-12"):
        for branch, base in SCORES.items():
            for part, value in (("base", base), ("self", 80), ("dept", 70), ("leader", 100)):
                await app.repos.scores.enter(branch, month, part, value, "", None, clock())
        await app.repos.scores.close(month, leader_id, clock())
    clock.now = NEW_YEAR
    return people


async def test_the_quarter_replayed_at_its_boundary(
    app: App, quarter: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    jj1, xmc, leader = quarter["secretary"], quarter["other_secretary"], quarter["leader"]
    sender = leader.sender
    transport.sent.clear()

    # -- 1 January, 09:00: the review of Q4 is announced and the reports asked for
    result = await run_job(app.services, "quarterly_review", NEW_YEAR)
    assert result.period == "2027-Q1"
    await sender.run_once()
    group = texts(transport, "-900")
    assert group and group[0].startswith("📊 2026 年第四季度党群讲评会将于 1 月上旬召开")
    assert "2027" not in group[0]
    asked = next(p for p in payloads(transport, "u-S001") if p["text"].startswith("📝"))
    assert "1 月 6 日前" in asked["text"]
    assert "P01 锚杆回收复用:20% 开始回收" in asked["text"]
    assert "P03 旧支架修复:50% 修复 40 架" in asked["text"]
    assert set(buttons_of(asked)) == {"汇报 P01", "汇报 P03"}
    assert "P02" not in asked["text"]
    # the stalled project's branch and the bottom branch must explain themselves
    jj1_explain = asked["text"]  # one message: the request, then what to explain
    assert "P01 锚杆回收复用 自 10月10日 起没有报告进展" in jj1_explain
    assert "⚠️ 2026 年第四季度讲评会上,本支部需要说明以下情况" in jj1_explain
    assert "请在讲评会上作出检查" in jj1_explain and "考核平均" not in jj1_explain
    xmc_explain = texts(transport, "u-S002")[-1]
    assert "季度月度考核平均 64.4 分,排第 4 名(共 4 个支部)" in xmc_explain
    assert "作出检查" in xmc_explain
    overview = texts(transport, "u-L001")[-1]
    assert "2 个支部共需汇报 3 项重点项目" in overview
    assert "机掘一队党支部:0/2 已汇报" in overview and "洗煤厂党支部:0/1 已汇报" in overview
    assert "机电队党支部:季度月度考核平均" in overview
    assert "机掘一队党支部:重点项目 P01" in overview
    assert texts(transport, "u-E001") == []  # workers are not asked

    # -- 洗煤厂 reports P02 with the buttons
    asks = await press_notice(xmc, transport, "📝", "汇报 P02")
    assert "P02 皮带机变频节能(2026 年第四季度)" in asks[-1] and "本季度进展" in asks[-1]
    assert "存在的问题" in (await xmc.say("完成 3 台皮带机变频改造,月节电 2 万度"))[-1]
    assert "下一步安排" in (await xmc.press("无"))[-1]
    summary = (await xmc.say("一季度推广到主井皮带"))[-1]
    assert "存在问题:无" in summary and "确认提交吗" in summary
    transport.sent.clear()
    done = (await xmc.press("确认提交"))[-1]
    assert "已提交 P02 的 2026 年第四季度汇报" in done and "已全部汇报" in done
    complete = next(p for p in payloads(transport, "u-L001") if p["text"].startswith("✅"))
    assert "洗煤厂党支部已交齐 2026 年第四季度 1 个重点项目的汇报" in complete["text"]
    assert list(buttons_of(complete)) == ["点评 P02"]

    # -- 机掘一队 reports P01 by typing, P03 stays missing
    await jj1.say("/quarter report P01")
    await jj1.say("回收锚杆 1740 根")
    await jj1.say("校直设备不足")
    await jj1.say("二月添置校直机")
    reply = (await jj1.say("确认"))[-1]
    assert "已提交 P01" in reply and "还有 1 项未汇报:P03" in reply
    saved = await app.repos.quarters.reports("2026-Q4")
    assert {(r.branch_id, r.project_id) for r in saved} == {("jj1", 1), ("xmc", 2)}
    assert next(r for r in saved if r.project_id == 2).problems == "无"

    # -- 3 January: only 机掘一队 is reminded; the leaders not yet
    transport.sent.clear()
    clock.now = datetime(2027, 1, 3, 1, 0, tzinfo=UTC)
    await run_job(app.services, "quarter_reminder", clock.now)
    await sender.run_once()
    reminded = texts(transport, "u-S001")
    assert len(reminded) == 1 and "还有 1 项没有汇报:P03 旧支架修复" in reminded[0]
    assert "1 月 6 日前" in reminded[0]
    assert texts(transport, "u-S002") == [] and texts(transport, "u-L001") == []

    # -- 5 January, the last reminder: the leaders hear who has not reported
    transport.sent.clear()
    clock.now = datetime(2027, 1, 5, 1, 0, tzinfo=UTC)
    await run_job(app.services, "quarter_reminder", clock.now)
    await sender.run_once()
    assert len(texts(transport, "u-S001")) == 1
    missing = texts(transport, "u-L001")
    assert len(missing) == 1 and "机掘一队党支部:缺 P03" in missing[0]
    assert "洗煤厂" not in missing[0]

    # -- a leader comments through the 交齐 notice's button; the secretary is told
    transport.sent.clear()
    await leader.deliver(leader.incoming(callback=buttons_of(complete)["点评 P02"]))
    ask = texts(transport, "u-L001")[-1]
    assert "完成 3 台皮带机变频改造" in ask and "请输入您的点评" in ask
    assert "已告知支部书记" in (await leader.say("节电效果明显,尽快推广"))[-1]
    told = texts(transport, "u-S002")
    assert told == ["💬 党委领导 孙矿长 点评了 P02 的季度汇报:节电效果明显,尽快推广"]
    assert texts(transport, "u-S001") == []

    # -- a resubmission replaces the report and says so; the comment stays
    await xmc.say("/quarter report P02")
    await xmc.say("完成 4 台改造")
    await xmc.say("无")
    await xmc.say("推广到主井")
    assert "已更新 P02" in (await xmc.say("确认"))[-1]
    p02 = [r for r in await app.repos.quarters.reports("2026-Q4", "xmc")]
    assert len(p02) == 1 and p02[0].progress == "完成 4 台改造" and len(p02[0].comments) == 1

    # -- /review_quarter in January is about Q4, with the reports and comments
    material = (await leader.say("/review_quarter"))[-1]
    assert material.startswith("2026 年第 4 季度评审材料")
    assert "还在进行中" not in material
    assert "P02 进展:完成 4 台改造;问题:无;下一步:推广到主井" in material
    assert "💬 孙矿长:节电效果明显,尽快推广" in material
    assert "P03:未汇报" in material
    own = (await jj1.say("/review_quarter"))[-1]
    assert "P01 进展:回收锚杆 1740 根" in own
    assert "P02" not in own and "完成 4 台改造" not in own and "洗煤厂" not in own
    running = (await leader.say("/review_quarter 2027-Q1"))[-1]
    assert "本季度还在进行中" in running


async def test_quarter_views_for_secretary_and_leader(
    app: App, quarter: dict[str, Chat], transport: RecordingTransport
) -> None:
    jj1, xmc, leader = quarter["secretary"], quarter["other_secretary"], quarter["leader"]
    await xmc.say("/quarter report P02")
    for answer in ("改造 3 台", "无", "推广", "确认"):
        await xmc.say(answer)
    mine = await jj1.say("/quarter")
    assert "机掘一队党支部 2026 年第四季度讲评会汇报(0/2" in mine[-1]
    assert "P01 锚杆回收复用:未汇报" in mine[-1] and "P02" not in mine[-1]
    assert {b["label"] for b in jj1.last_buttons} == {"汇报 P01", "汇报 P03"}
    overview = (await leader.say("/quarter"))[-1]
    assert "洗煤厂党支部:1/1 已汇报" in overview and "机掘一队党支部:0/2 已汇报" in overview
    assert "需在会上作出检查" in overview
    branch = (await leader.say("/quarter 洗煤厂"))[-1]
    assert "P02 皮带机变频节能:已汇报" in branch and "本季度进展:改造 3 台" in branch
    report_id = (await app.repos.quarters.reports("2026-Q4", "xmc"))[0].id
    assert "已告知支部书记" in (await leader.say(f"/quarter comment {report_id} 继续推进"))[-1]
    assert "💬 孙矿长点评:继续推进" in (await leader.say("/quarter 洗煤厂"))[-1]
    assert "💬 孙矿长点评:继续推进" in (await xmc.say("/quarter"))[-1]
    earlier = (await jj1.say("/quarter 2026-Q3"))[-1]
    assert "2026 年第三季度" in earlier


@pytest.mark.parametrize(
    ("who", "line", "reply"),
    [
        ("worker", "/quarter", "只有"),
        ("supervisor", "/quarter", "只有"),
        ("worker", "/quarter report P01", "只有"),
        ("secretary", "/quarter report P02", "P02 不是本支部参与的重点项目"),
        ("secretary", "/quarter report P99", "没有编号为“P99”的重点项目"),
        ("secretary", "/quarter report", "用法"),
        ("secretary", "/quarter 2026-5", "YYYY-Qn"),
        ("secretary", "/quarter 2026-Q9", "YYYY-Qn"),
        ("secretary", "/quarter 2030-Q1", "还没有到"),
        ("secretary", "/quarter 洗煤厂", "只能查看本支部"),
        ("secretary", "/quarter 火星队", "没有找到"),
        ("secretary", "/quarter comment 1 很好", "只有党委领导"),
        ("leader", "/quarter comment 99 很好", "没有编号为 99"),
        ("leader", "/quarter comment abc", "用法"),
        ("leader", "/quarter report P01", "支部书记"),
    ],
)
async def test_refusals_and_bad_input_change_nothing(
    app: App, quarter: dict[str, Chat], who: str, line: str, reply: str
) -> None:
    answer = (await quarter[who].say(line))[-1]
    assert reply in answer, answer
    assert await app.repos.quarters.reports("2026-Q4") == []


async def test_forms_refuse_empty_and_long_text_and_foreign_buttons(
    app: App, quarter: dict[str, Chat]
) -> None:
    jj1, xmc, leader = quarter["secretary"], quarter["other_secretary"], quarter["leader"]
    # a button for another branch's project (forged, or forwarded) is refused
    refused = (await jj1.deliver(jj1.incoming(callback="qr:r:2:2026-Q4")))[-1]
    assert "P02 不是本支部参与的重点项目" in refused
    await jj1.say("/quarter report P01")
    assert "不能为空" in (await jj1.say("   "))[0]
    assert "太长了(最多 500 字)" in (await jj1.say("长" * 501))[0]
    await jj1.say("回收锚杆")
    await jj1.say("无")
    await jj1.say("继续")
    assert "没有做任何改动" in (await jj1.say("取消"))[-1]
    assert await app.repos.quarters.reports("2026-Q4") == []
    # a report in a group is asked for in private
    group = jj1.__class__(jj1.app, jj1.transport, jj1.sender, jj1.user, "group", "-900")
    assert "请私聊我" in (await group.say("/quarter report P01"))[-1]
    # a comment: empty refused; a secretary's press on a comment button refused
    await xmc.say("/quarter report P02")
    for answer in ("改造 3 台", "无", "推广", "确认"):
        await xmc.say(answer)
    report_id = (await app.repos.quarters.reports("2026-Q4"))[0].id
    assert "只有党委领导" in (await xmc.deliver(xmc.incoming(callback=f"qr:c:{report_id}")))[-1]
    await leader.say(f"/quarter comment {report_id}")
    assert "不能为空" in (await leader.say(" "))[0]
    assert "太长了" in (await leader.say("好" * 600))[0]
    assert (await app.repos.quarters.report(report_id)).comments == ()  # type: ignore[union-attr]


async def test_no_reminder_when_all_reported_or_after_the_deadline(
    app: App, quarter: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    after = datetime(2027, 1, 7, 1, 0, tzinfo=UTC)  # past 6 January
    assert (await run_job(app.services, "quarter_reminder", after)).queued == 0
    outside = datetime(2027, 2, 3, 1, 0, tzinfo=UTC)
    assert (await run_job(app.services, "quarter_reminder", outside)).queued == 0
    for secretary, numbers in (
        (quarter["secretary"], ("P01", "P03")),
        (quarter["other_secretary"], ("P02",)),
    ):
        for number in numbers:
            await secretary.say(f"/quarter report {number}")
            for answer in ("进展", "无", "下一步", "确认"):
                await secretary.say(answer)
    clock.now = datetime(2027, 1, 5, 1, 0, tzinfo=UTC)
    result = await run_job(app.services, "quarter_reminder", clock.now)
    assert result.period == "2027-01-05" and result.queued == 0


async def test_more_projects_than_buttons_point_to_the_command(
    app: App, quarter: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    clock.now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    for k in range(5):  # 机掘一队 now has seven key projects
        await quarter["leader"].say(f"/project new 小改小革{k} | repair_reuse | L001 | jj1 | 1万")
    clock.now = NEW_YEAR
    transport.sent.clear()
    await run_job(app.services, "quarterly_review", NEW_YEAR)
    await quarter["leader"].sender.run_once()
    asked = payloads(transport, "u-S001")[-1]
    assert len(buttons_of(asked)) == 6 and "汇报 P08" not in buttons_of(asked)
    assert "P08 小改小革4" in asked["text"] and "其余的请发送 /quarter 汇报" in asked["text"]
    secretary = quarter["secretary"]
    await secretary.say("/quarter")
    assert "汇报 P08" in {b["label"] for b in secretary.last_buttons}
