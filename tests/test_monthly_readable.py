"""Monthly scores people can read (issue 17 item 2): announced only once the month is closed,
per branch with its rank of N, parts, the leader's comment and the change from last month; a
leader fills a department score nobody else can."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people

DECEMBER_FIRST = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "secretary", "supervisor", "leader")


async def _fill(app: App, clock: Clock, month: str, branch: str, base: float) -> None:
    for part, value in (("base", base), ("self", 80), ("dept", 70), ("leader", 100)):
        await app.repos.scores.enter(branch, month, part, value, "", None, clock())


def _group_texts(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def test_the_month_is_announced_only_after_closing_and_reads_well(
    app: App,
    people: dict[str, Chat],
    clock: Clock,
    transport: RecordingTransport,
    chat: Callable[..., Chat],
) -> None:
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    clock.now = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
    await _fill(app, clock, "2026-10", "jj1", 87)
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    await _fill(app, clock, "2026-11", "jj1", 90)
    await _fill(app, clock, "2026-11", "jj2", 95)
    await people["leader"].say("/score leader jj1 100 锚杆回收推进扎实")
    transport.sent.clear()

    # the 1st comes before anyone closed November: nothing is announced
    early = await run_job(app.services, "monthly_scores", DECEMBER_FIRST)
    assert early.queued == 0
    await people["leader"].sender.run_once()
    assert _group_texts(transport, "-900") == []

    await people["leader"].say("/score close 2026-11")
    await people["leader"].press("确认关闭")
    result = await run_job(
        app.services, "monthly_scores", datetime(2026, 12, 2, 1, 0, tzinfo=UTC), force=True
    )
    assert result.queued >= 2
    await people["leader"].sender.run_once()
    notice = _group_texts(transport, "-900")[-1]
    assert "2026-11 月度考核结果" in notice
    assert "第 2 名 / 共 2 个支部" in notice
    assert "总分 88.4 分" in notice and "比上月 +2.4" in notice
    assert "重点项目 82 分,占总分 20%" in notice
    assert "项目自评 80" in notice and "部门评价 70" in notice and "领导评价 100" in notice
    assert "领导点评:锚杆回收推进扎实" in notice
    assert "基础分 90 分,占总分 80%" in notice and "部门评价 70(占项目部分 40%)" in notice


async def test_a_leader_fills_a_missing_department_score(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    # kj1's department has no supervisor registered here: a leader fills the part in
    reply = (await people["leader"].say("/score dept kj1 85 部门无人评价,党委代评"))[0]
    assert "已记录 开掘一队党支部 2026-11 的部门评价:85 分" in reply
    assert (await app.repos.scores.month("2026-11"))["kj1"]["dept"] == 85.0


async def test_the_department_sees_its_visits_and_findings_when_it_scores(
    people: dict[str, Chat], clock: Clock
) -> None:
    supervisor = people["supervisor"]
    clock.now = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    await supervisor.say("/visit jj1 班前会")
    await supervisor.say("/visit jj1 复查")
    await supervisor.say("/findings add jj1 班前会记录不全")
    await supervisor.say("/findings add jj1 安全学习签到缺人")
    await people["secretary"].say("/findings resolve 2 已补签")
    clock.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    asked = (await supervisor.say("/score dept jj1"))[-1]
    assert "本月走访 2 次(目标 4 次),发现问题 2 个,1 个未解决" in asked
    assert "请输入 机掘一队党支部 2026-11 的部门评价" in asked


async def test_a_correction_after_closing_is_a_reopening_and_is_re_announced(
    app: App,
    people: dict[str, Chat],
    clock: Clock,
    transport: RecordingTransport,
    chat: Callable[..., Chat],
) -> None:
    leader, supervisor = people["leader"], people["supervisor"]
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    await _fill(app, clock, "2026-11", "jj1", 90)
    await _fill(app, clock, "2026-11", "xmc", 80)  # two branches: a ranking chart to compare
    clock.now = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    await leader.say("/score close 2026-11")
    assert "已通知 1 个支部群" in (await leader.press("确认关闭"))[-1]  # past the 1st: at once
    await leader.sender.run_once()
    # the leaders get the ranking the 1st's job could not send (it ran before the close)
    (ranking,) = [t for t in _group_texts(transport, "u-L001") if "支部月度考核排名" in t]
    assert ranking.startswith("📈 2026-11 支部月度考核排名") and "机掘一队党支部" in ranking
    refused = (await supervisor.say("/score dept 2026-11 jj1 80"))[-1]
    assert "已经结账,不能再修改" in refused and "/score reopen 2026-11" in refused
    assert "用法" in (await leader.say("/score reopen 2026-11"))[0]  # a reason is required
    assert "部门评价录错" in (await leader.say("/score reopen 2026-11 部门评价录错"))[-1]
    assert "已重新打开" in (await leader.press("确认重新打开"))[-1]
    assert not await app.repos.scores.is_closed("2026-11")
    asked = (await supervisor.say("/score dept 2026-11 jj1 80"))[-1]
    assert "部门评价:80 分。(原为 70 分)" in asked
    transport.sent.clear()
    await leader.say("/score close 2026-11")
    assert "已通知 1 个支部群" in (await leader.press("确认关闭"))[-1]
    await leader.sender.run_once()
    notice = _group_texts(transport, "-900")[-1]
    assert "更正:2026-11 重新结账(原因:部门评价录错)" in notice
    assert "部门评价 70 → 80" in notice and "总分 89.2 分" in notice
    (corrected,) = [t for t in _group_texts(transport, "u-L001") if "支部月度考核排名" in t]
    assert corrected.startswith("🔁 更正:2026-11 重新结账(原因:部门评价录错)")
    assert "机掘一队党支部:89.2 分" in corrected
    images = [p for c, p in transport.sent if c == "u-L001" and p.get("image_path")]
    assert images, "the corrected ranking comes with its chart"


async def test_the_draft_asks_each_secretary_to_check_before_closing(
    app: App, people: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    await people["secretary"].say("/score self 85")
    await people["leader"].say("/score base jj1 90")
    transport.sent.clear()
    result = await run_job(app.services, "score_draft", datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    assert result.queued >= 1
    await people["leader"].sender.run_once()
    draft = [str(p["text"]) for c, p in transport.sent if c == people["secretary"].chat_id][-1]
    assert "2026-11 月度考核草稿(还未结账)" in draft and "机掘一队党支部" in draft
    assert "· 项目自评 85" in draft and "· 部门评价 未录入" in draft
    assert "还缺:部门评价、领导评价" in draft
    # a leader may send it again on demand; once closed, no draft
    assert "已通知" in (await people["leader"].say("/score draft 2026-11"))[0]
    await app.repos.scores.close("2026-11", 1, clock())
    assert "已经结账" in (await people["leader"].say("/score draft 2026-11"))[0]
    forced = await run_job(
        app.services, "score_draft", datetime(2026, 11, 26, 1, 0, tzinfo=UTC), force=True
    )
    assert forced.queued == 0
