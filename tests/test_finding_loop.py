"""Issue 17, items 1 and 5: the Monday meeting's audience, and ages counted at the job's own
clock (`jobs run … --now`), never the wall clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from handlers.rules import audience
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people


@pytest.fixture
async def people(app: App, chat: Callable[..., Chat]) -> dict[str, Chat]:
    found = await register_people(chat, "supervisor", "secretary", "leader", "worker", "admin")
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    return found


def texts(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def test_agenda_age_is_counted_at_the_jobs_now(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    transport.sent.clear()
    # the wall clock (the app's clock) stays on the day of the finding; the job runs 20 days on
    result = await run_job(app.services, "weekly_meeting", clock() + timedelta(days=20))
    assert result.queued == 2  # the leaders and the supervising department
    await people["worker"].sender.run_once()
    for person in ("u-L001", "u-D001"):
        (agenda,) = texts(transport, person)
        assert "#1 班前会记录不全(已 20 天未解决)" in agenda
    # branch groups do not attend the political-work meeting: they get no Monday notice
    assert texts(transport, "-900") == []


async def test_progress_nudge_says_the_true_number_of_days(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    await people["leader"].say("/project new 锚杆复用 | repair_reuse | L001 | jj1 | 5万")
    transport.sent.clear()
    result = await run_job(app.services, "progress_nudge", clock() + timedelta(days=9))
    assert result.queued >= 1
    await people["worker"].sender.run_once()
    nudge = texts(transport, "u-S001")
    assert any("已经 9 天没有报告进展" in t for t in nudge), nudge


async def test_finding_detail_prints_its_text_once(people: dict[str, Chat]) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    (detail, *_) = await people["supervisor"].say("/findings 1")
    assert detail.count("班前会记录不全") == 1, detail
    assert "问题:班前会记录不全" in detail


async def test_a_finding_reaches_its_department_and_leaders_and_its_resolution_the_branch(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    people = await register_people(chat, "supervisor", "secretary", "leader", "worker", "admin")
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    transport.sent.clear()
    # the leader raises it: the supervising department (宣传部) and the secretary are told
    done = (await people["leader"].say("/findings add jj1 班前会记录不全"))[0]
    assert "已通知支部书记,并发到了支部群,并通知了督导部门。" in done
    await people["worker"].sender.run_once()
    assert any("督导发现问题 #1" in t for t in texts(transport, "u-D001"))
    # the supervisor raises the next: the leaders responsible are told too
    done = (await people["supervisor"].say("/findings add jj1 宣传栏内容过期"))[0]
    assert "并通知了党委领导" in done
    await people["worker"].sender.run_once()
    assert any("督导发现问题 #2" in t for t in texts(transport, "u-L001"))
    transport.sent.clear()
    # a resolution by the leader goes to the raiser, the secretary and the branch group
    resolved = (await people["leader"].say("/findings resolve 2 已更新宣传栏"))[0]
    assert "已通知提出问题的督导人员、支部书记、支部群" in resolved
    await people["worker"].sender.run_once()
    for to in ("u-D001", "u-S001", "-900"):
        assert any("问题 #2 已解决" in t for t in texts(transport, to)), to


async def test_finding_leaders_from_config_narrow_who_is_told(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    services = dataclasses.replace(
        app.services,
        settings=dataclasses.replace(app.services.settings, finding_leaders=("A001",)),
    )
    await register_people(chat, "leader", "admin")
    assert await audience.finding_leaders(services) == []  # A001 is no leader
    assert await audience.finding_leaders(app.services) != []  # default: every leader


async def test_a_monday_decision_followed_to_done(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    leader, supervisor = people["leader"], people["supervisor"]
    await supervisor.say("/findings add jj1 班前会记录不全")
    await supervisor.say("/findings escalate 1")
    monday = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    await run_job(app.services, "weekly_meeting", monday)
    await people["worker"].sender.run_once()
    assert any("#1 班前会记录不全(待协调)" in t for t in texts(transport, "u-L001"))
    transport.sent.clear()
    # the leader records the meeting's decision; the branch and the department are told
    refused = (await supervisor.say("/findings decide 1 补齐记录 | 宣传部 | 2026-12-05"))[0]
    assert "只有党委领导" in refused
    # on the agenda, 决定 → the decision → the department (a button) → the due day
    await leader.say("/agenda")
    assert "请写上政工例会的决定" in (await leader.press("决定 #1"))[0]
    assert "请选择责任部门" in (await leader.say("补齐班前会记录"))[0]
    assert "完成日期" in (await leader.press("宣传部"))[-1]
    assert "不是日期" in (await leader.say("下周五"))[0]
    done = (await leader.say("2026-12-05"))[-1]
    assert "已记录问题 #1 的例会决定:宣传部负责,2026-12-05 前完成" in done
    assert "已通知支部书记、支部群、宣传部" in done
    await people["worker"].sender.run_once()
    for to in ("u-S001", "-900", "u-D001"):
        assert any(
            "政工例会决定 · 问题 #1" in t and "补齐班前会记录" in t for t in texts(transport, to)
        )
    detail = (await leader.say("/findings 1"))[0]
    assert "例会决定:补齐班前会记录(宣传部负责,2026-12-05 前完成)" in detail
    # decided and not yet due: off the agenda's questions, listed as being done, no button
    (listed,) = await leader.say("/agenda")
    assert "#1 班前会记录不全(" not in listed
    assert "已决定、正在办理(1 项):" in listed
    assert "#1 机掘一队党支部:班前会记录不全 → 宣传部,2026-12-05 前完成" in listed
    assert not leader.received[-1].get("buttons")
    # the department's part of the agenda follows it up too
    assert "已决定、正在办理(1 项)" in (await supervisor.say("/agenda"))[0]
    # past its due day: back on the agenda, marked 逾期, and no longer "being done"
    transport.sent.clear()
    await run_job(app.services, "weekly_meeting", monday + timedelta(days=7))
    await people["worker"].sender.run_once()
    (agenda,) = texts(transport, "u-L001")
    assert "#1 班前会记录不全(逾期:例会决定「补齐班前会记录」应于 2026-12-05 前完成)" in agenda
    assert "正在办理" not in agenda
    # the assigned department marks it done with the resolve step: off the next agenda
    resolved = (await supervisor.say("/findings resolve 1 已补齐"))[0]
    assert "已标记为解决" in resolved
    transport.sent.clear()
    await run_job(app.services, "weekly_meeting", monday + timedelta(days=14))
    await people["worker"].sender.run_once()
    (agenda,) = texts(transport, "u-L001")
    assert "#1" not in agenda


async def test_a_decision_needs_a_department_and_a_day(people: dict[str, Chat]) -> None:
    leader = people["leader"]
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    assert "请写全" in (await leader.say("/findings decide 1 补齐"))[0]
    assert (
        "只有党委领导" in (await people["supervisor"].say("/findings decide 1 x | 宣传部 | x"))[0]
    )
    assert "不是一个部门" in (await leader.say("/findings decide 1 补齐 | 财务部 | 2026-12-05"))[0]
    assert "不是日期" in (await leader.say("/findings decide 1 补齐 | 宣传部 | 下周"))[0]
    assert "已经过去" in (await leader.say("/findings decide 1 补齐 | 宣传部 | 2026-11-01"))[0]
