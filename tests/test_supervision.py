"""Supervision through the router: findings, visits and the Monday agenda, for every role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from handlers.rules.supervision import build_agenda
from tests.support import Chat, Clock, RecordingTransport, register_people


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "supervisor", "secretary", "other_secretary", "leader"
    )


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def test_workers_are_refused_everything(app: App, people: dict[str, Chat]) -> None:
    worker = people["worker"]
    for command in (
        "/findings",
        "/findings add jj1 班前会记录不全",
        "/visit jj1",
        "/visits",
        "/agenda",
    ):
        reply = (await worker.say(command))[0]
        assert "只有" in reply and "可以使用" in reply, reply
    assert await app.repos.findings.search(branches=None) == []


async def test_the_whole_loop_with_history_and_notices(
    app: App,
    people: dict[str, Chat],
    transport: RecordingTransport,
    clock: Clock,
    chat: Callable[..., Chat],
) -> None:
    supervisor, secretary = people["supervisor"], people["secretary"]
    group = chat("u-S001", chat_type="group", chat_id="-900")
    await group.say("/bind jj1")
    reply = (await supervisor.say("/findings add jj1 班前会记录不全,安全确认没签字"))[0]
    assert "已记录问题 #1" in reply
    assert any("督导发现问题 #1" in t for t in sent_to(transport, "u-S001"))
    assert any("督导发现问题 #1" in t for t in sent_to(transport, "-900"))
    assert "#1 机掘一队党支部" in (await secretary.say("/findings"))[0]

    clock.advance(3600)
    assert "已记录" in (await secretary.say("/findings note 1 已组织补签"))[0]
    assert any("有新进展" in t for t in sent_to(transport, "u-D001"))
    assert "已标记为解决" in (await secretary.say("/findings resolve 1 全部补齐"))[0]
    assert any("已解决" in t for t in sent_to(transport, "u-D001"))
    assert "没有" in (await secretary.say("/findings"))[0]
    assert "问题 #1 已经解决了" in (await secretary.say("/findings resolve 1 再来"))[0]

    assert "已重新打开" in (await supervisor.say("/findings reopen 1 复查仍缺两人签字"))[0]
    assert any("重新打开" in t for t in sent_to(transport, "u-S001"))
    assert "已提交党委协调" in (await supervisor.say("/findings escalate 1"))[0]
    assert "已经在周一政工例会的议程上" in (await supervisor.say("/findings escalate #1"))[0]

    detail = (await supervisor.say("/findings 1"))[0]
    order = [
        "提出",
        "进展:已组织补签",
        "已解决:全部补齐",
        "重新打开:复查仍缺两人签字",
        "提交党委协调",
    ]
    positions = [detail.index(word) for word in order]
    assert positions == sorted(positions)
    assert "刘书记" in detail and "周督导" in detail

    agenda = await build_agenda(app.services, clock())
    assert [(d.name, [b.branch.id for b in d.branches]) for d in agenda] == [("宣传部", ["jj1"])]
    assert [f.id for f in agenda[0].branches[0].findings] == [1]
    text = (await people["leader"].say("/agenda"))[0]
    assert "【宣传部】" in text and "#1 班前会记录不全" in text and "待协调" in text


async def test_refusals_change_nothing(app: App, people: dict[str, Chat]) -> None:
    supervisor, other = people["supervisor"], people["other_secretary"]
    await supervisor.say("/findings add jj1 班前会记录不全")
    cases = [
        (supervisor, "/findings add xmc 洗煤厂宣传栏没更新", "不在您所在部门的督导范围内"),
        (supervisor, "/findings add nowhere 随便写写", "没有编号为“nowhere”的支部"),
        (supervisor, "/findings add jj1", "请写清楚发现的问题"),
        (supervisor, "/findings 99", "没有找到您负责范围内编号为 #99"),
        (supervisor, "/findings xmc", "不在您负责的范围内"),
        (supervisor, "/findings bogus", "没有“bogus”这个筛选"),
        (supervisor, "/findings note", "请写上问题编号"),
        (supervisor, "/findings note 1", "请写上说明"),
        (supervisor, "/findings resolve 1 我来关掉", "只有该问题所在支部的书记"),
        (supervisor, "/findings reopen 1 还没解决", "还没有解决,不需要重新打开"),
        (other, "/findings resolve 1 不是我的", "没有找到您负责范围内编号为 #1"),
        (other, "/findings 1", "没有找到您负责范围内编号为 #1"),
        (people["secretary"], "/findings reopen 1 想重开", "只有督导部门或党委领导"),
        (supervisor, "/findings add jj1 " + "长" * 600, "问题描述太长了"),
        (supervisor, "/visit xmc", "不在您所在部门的督导范围内"),
        (supervisor, "/visit", "请选择走访的支部"),  # buttons now (issue 15), nothing stored
    ]
    for who, command, expected in cases:
        reply = (await who.say(command))[0]
        assert expected in reply, (command, reply)
    finding = await app.repos.findings.get(1)
    assert finding is not None and finding.status == "open" and not finding.escalated
    assert len(await app.repos.findings.history(1)) == 1
    assert len(await app.repos.findings.search(branches=None, include_resolved=True)) == 1
    assert await app.repos.visits.counts("2026-11") == {}


async def test_add_by_conversation_with_branch_buttons(app: App, people: dict[str, Chat]) -> None:
    supervisor = people["supervisor"]
    reply = (await supervisor.say("/findings add"))[0]
    assert "请选择" in reply
    assert [b["label"] for b in supervisor.last_buttons] == ["机掘一队", "机掘二队", "开掘一队"]
    pressed = await supervisor.press("机掘二队")  # the question shows the answer, then the next
    assert "→ 机掘二队" in pressed[0] and "请描述发现的问题" in pressed[-1]
    assert "请写清楚" in (await supervisor.say("嗯"))[0]
    assert "已记录问题 #1(机掘二队党支部)" in (await supervisor.say("安全活动记录缺两次"))[0]
    # the conversation is over: the next text is an idea again
    assert "金点子" in (await supervisor.say("建议给皮带机头加装防护栏"))[0]
    finding = await app.repos.findings.get(1)
    assert finding is not None and finding.branch_id == "jj2"


async def test_redelivery_queues_the_secretary_notice_once(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    supervisor = people["supervisor"]
    msg = supervisor.incoming("/findings add jj1 班前会记录不全", update_id="wc-1")
    await supervisor.deliver(msg)
    await supervisor.deliver(msg)
    rows = await app.repos.db.fetchall(
        "SELECT count(*) FROM outbox WHERE chat_id = 'u-S001' AND dedupe_key LIKE 'finding:%'"
    )
    assert rows[0][0] == 1
    assert len(await app.repos.findings.search(branches=None)) == 1
    assert len([t for t in sent_to(transport, "u-S001") if "督导发现问题" in t]) == 1


async def test_visits_count_by_local_month(app: App, people: dict[str, Chat], clock: Clock) -> None:
    supervisor = people["supervisor"]
    clock.now = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 on 30 November in Shanghai
    assert "本月第 1 次(目标 4 次)" in (await supervisor.say("/visit jj1 查班前会"))[0]
    clock.now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Shanghai
    assert "本月第 1 次" in (await supervisor.say("/visit jj1"))[0]
    await supervisor.say("/visit jj2")
    assert await app.repos.visits.counts("2026-11") == {"jj1": 1}
    assert await app.repos.visits.counts("2026-12") == {"jj1": 1, "jj2": 1}
    mine = (await supervisor.say("/visits"))[0]
    assert "2026-12" in mine and "【宣传部】完成 2/12" in mine and "机掘一队党支部 1/4" in mine
    assert "【组织部】" not in mine
    everyone = (await people["leader"].say("/visits"))[0]
    assert all(
        f"【{d}】" in everyone for d in ("组织部", "宣传部", "党委办公室", "纪委", "工会", "团委")
    )


async def test_leader_filters_and_long_open_findings(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    supervisor, leader = people["supervisor"], people["leader"]
    await supervisor.say("/findings add jj1 班前会记录不全")
    await supervisor.say("/findings add kj1 党员示范岗牌子掉了")
    await supervisor.say("/findings escalate 2")
    await people["secretary"].say("/findings resolve 1 已补")
    assert "#1" not in (await leader.say("/findings"))[0]
    assert "#1" in (await leader.say("/findings all"))[0]
    escalated = (await leader.say("/findings escalated"))[0]
    assert "#2" in escalated and "#1" not in escalated
    assert "#2" in (await leader.say("/findings kj1"))[0]
    await supervisor.say("/findings add jj2 宣传栏内容过期")
    agenda = await build_agenda(app.services, clock())
    assert [f.id for d in agenda for b in d.branches for f in b.findings] == [2]
    clock.advance(15 * 86400)
    agenda = await build_agenda(app.services, clock())
    assert sorted(f.id for d in agenda for b in d.branches for f in b.findings) == [2, 3]


async def test_a_finding_can_name_its_key_project(app: App, people: dict[str, Chat]) -> None:
    await people["leader"].say("/project new 锚杆回收 | repair_reuse | L001 | jj1 | 10万")
    supervisor = people["supervisor"]
    assert "没有参与重点项目 P01" in (await supervisor.say("/findings add jj2 P01 台账不全"))[0]
    assert "没有参与重点项目 P09" in (await supervisor.say("/findings add jj1 P09 台账不全"))[0]
    assert "已记录问题 #1" in (await supervisor.say("/findings add jj1 p01 回收台账不全"))[0]
    finding = await app.repos.findings.get(1)
    assert finding is not None and finding.project_ref == "P01" and finding.text == "回收台账不全"
    assert "项目 P01" in (await supervisor.say("/findings"))[0]
