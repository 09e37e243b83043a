"""Issue 15 for supervision and scores: findings moved on from buttons on the finding, replies
that say what is wrong, notices only to those concerned and only said when sent, score entry
and month closing as guided forms, full-width punctuation in the one-line forms."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import App
from tests.support import CHANNEL, Chat, Clock, RecordingTransport, register_people


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "supervisor", "secretary", "leader")


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


def buttons_to(transport: RecordingTransport, chat_id: str) -> list[dict[str, str]]:
    """The buttons of the last message sent to `chat_id` (a reply or a notice)."""
    for chat_id_sent, payload in reversed(transport.sent):
        if chat_id_sent == chat_id:
            return [b for row in payload.get("buttons", []) for b in row]
    return []


def labels(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [b["label"] for b in buttons_to(transport, chat_id)]


async def press(who: Chat, transport: RecordingTransport, label: str) -> list[str]:
    """Press a button of the last message `who` received, whoever's update sent it."""
    data = next(b["data"] for b in buttons_to(transport, who.chat_id) if b["label"] == label)
    return await who.deliver(who.incoming(callback=data))


async def status(app: App, number: int) -> tuple[str, bool]:
    finding = await app.repos.findings.get(number)
    assert finding is not None
    return finding.status, finding.escalated


async def test_a_supervisor_records_a_finding_and_follows_it_by_buttons_only(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    supervisor, secretary = people["supervisor"], people["secretary"]
    assert "请选择" in (await supervisor.say("/findings add"))[-1]
    assert labels(transport, supervisor.chat_id) == ["机掘一队", "机掘二队", "开掘一队"]
    assert "请描述发现的问题" in (await press(supervisor, transport, "机掘一队"))[-1]
    done = await supervisor.say("班前会记录不全,安全确认没签字")
    assert "已记录问题 #1(机掘一队党支部),已通知支部书记" in done[-1]

    # the detail carries the steps a supervisor may take on an open finding
    await supervisor.say("/findings 1")
    assert labels(transport, supervisor.chat_id) == ["记录进展", "提交党委"]
    asked = await press(supervisor, transport, "记录进展")
    assert "问题 #1" in asked[-1] and "进展" in asked[-1]
    assert "请写" in (await supervisor.say("嗯"))[0]  # too short: asked again, nothing stored
    assert len(await app.repos.findings.history(1)) == 1
    assert "已记录问题 #1 的进展" in (await supervisor.say("已约谈支部书记,本周补齐"))[-1]
    assert await app.repos.conversations.get(CHANNEL, supervisor.user) is None

    # the secretary resolves it; the supervisor reopens it from the resolve notice's detail
    await secretary.say("/findings 1")
    assert labels(transport, secretary.chat_id) == ["记录进展", "已解决", "提交党委"]
    await press(secretary, transport, "已解决")
    resolved = await secretary.say("全部补签完毕")
    assert "问题 #1 已标记为解决,已通知提出问题的督导人员" in resolved[-1]
    assert await status(app, 1) == ("resolved", False)
    await supervisor.say("/findings 1")
    assert labels(transport, supervisor.chat_id) == ["记录进展", "重新打开"]
    await press(supervisor, transport, "重新打开")
    assert "已重新打开" in (await supervisor.say("复查仍缺两人签字"))[-1]
    await supervisor.say("/findings 1")
    await press(supervisor, transport, "提交党委")  # no text needed: done at once
    assert await status(app, 1) == ("open", True)
    await supervisor.say("/findings 1")
    assert labels(transport, supervisor.chat_id) == ["记录进展"]
    history = [e.action for e in await app.repos.findings.history(1)]
    assert history == ["add", "note", "resolve", "reopen", "escalate"]


async def test_the_secretary_resolves_from_the_button_on_the_notice(
    app: App, people: dict[str, Chat], transport: RecordingTransport, chat: Callable[..., Chat]
) -> None:
    supervisor, secretary = people["supervisor"], people["secretary"]
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    await supervisor.say("/findings add jj1 班前会记录不全")
    # the group's copy carries no buttons: a form cannot be answered in a group
    assert "督导发现问题 #1" in sent_to(transport, "-900")[-1]
    assert buttons_to(transport, "-900") == []
    notice = sent_to(transport, secretary.chat_id)[-1]
    assert "督导发现问题 #1" in notice
    assert labels(transport, secretary.chat_id) == ["记录进展", "已解决", "提交党委"]
    old_notice = buttons_to(transport, secretary.chat_id)
    asked = await press(secretary, transport, "已解决")
    assert "问题 #1" in asked[-1] and "解决" in asked[-1]
    assert "已取消" in (await secretary.say("/cancel"))[-1]
    assert await status(app, 1) == ("open", False)  # leaving the form changed nothing
    data = next(b["data"] for b in old_notice if b["label"] == "已解决")
    await secretary.deliver(secretary.incoming(callback=data))
    assert "已标记为解决" in (await secretary.say("全部补签完毕"))[-1]
    assert await status(app, 1) == ("resolved", False)
    # the old notice's button again: says what is wrong, opens nothing
    again = await secretary.deliver(secretary.incoming(callback=data))
    assert again == ["问题 #1 已经解决了。"]
    assert await app.repos.conversations.get(CHANNEL, secretary.user) is None


async def test_replies_say_what_is_wrong(app: App, people: dict[str, Chat]) -> None:
    supervisor, secretary = people["supervisor"], people["secretary"]
    await supervisor.say("/findings add jj1 班前会记录不全")
    await secretary.say("/findings resolve 1 全部补齐")
    cases = [
        (secretary, "/findings resolve 1", "问题 #1 已经解决了"),
        (secretary, "/findings resolve 1 再来一次", "问题 #1 已经解决了"),
        (secretary, "/findings escalate 1", "问题 #1 已经解决了,不需要提交协调"),
        (supervisor, "/findings resolve", "请写上问题编号。用法:/findings resolve 编号 说明"),
        (supervisor, "/findings reopen", "请写上问题编号。用法:/findings reopen 编号 原因"),
        (supervisor, "/findings escalate 二", "请写上问题编号。用法:/findings escalate 编号"),
        (supervisor, "/findings note 1", "请写上说明。用法:/findings note 编号 进展"),
    ]
    for who, command, expected in cases:
        reply = (await who.say(command))[0]
        assert expected in reply, (command, reply)
    await supervisor.say("/findings reopen 1 复查仍缺签字")
    assert "问题 #1 还没有解决,不需要重新打开" in (await supervisor.say("/findings reopen 1"))[0]
    await supervisor.say("/findings escalate 1")
    again = (await supervisor.say("/findings escalate 1"))[0]
    assert "问题 #1 已经在周一政工例会的议程上了" in again
    assert [e.action for e in await app.repos.findings.history(1)] == [
        "add",
        "resolve",
        "reopen",
        "escalate",
    ]


async def test_nobody_is_told_of_their_own_action(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    supervisor = people["supervisor"]
    person = await app.repos.people.by_employee_no("D001")
    assert person is not None
    # the same supervisor is also reachable on WeCom
    await app.repos.db.execute(
        "INSERT INTO identities (channel, external_id, person_id, bound_at)"
        " VALUES ('wecom', 'zhoudd', ?, 'x')",
        (person.id,),
    )
    await supervisor.say("/findings add jj1 班前会记录不全")
    reply = (await supervisor.say("/findings note 1 已约谈支部书记"))[0]
    assert reply == "已记录问题 #1 的进展。"  # nobody else to tell, so no "已通知"
    rows = await app.repos.db.fetchall(
        "SELECT chat_id, payload FROM outbox WHERE dedupe_key LIKE 'finding:1:event:%'"
    )
    assert [r["chat_id"] for r in rows] == []
    # the secretary's note does reach the supervisor, on both chats
    await people["secretary"].say("/findings note 1 已组织补签")
    rows = await app.repos.db.fetchall(
        "SELECT chat_id FROM outbox WHERE dedupe_key LIKE 'finding:1:event:%' ORDER BY chat_id"
    )
    assert [r["chat_id"] for r in rows] == ["u-D001", "zhoudd"]


async def test_notified_is_said_only_when_somebody_was(
    app: App, people: dict[str, Chat], transport: RecordingTransport, chat: Callable[..., Chat]
) -> None:
    supervisor = people["supervisor"]
    # jj2 has no secretary in the roster; kj1 neither, but its group is bound
    done = (await supervisor.say("/findings add jj2 宣传栏内容过期"))[0]
    assert "已记录问题 #1(机掘二队党支部)" in done
    # nobody at the branch; the leader responsible is told of every new finding (issue 17)
    assert "已通知" not in done and "该支部还没有登记的书记,并通知了党委领导。" in done
    await supervisor.say("/findings resolve 1 x")  # refused: a supervisor does not resolve
    await people["leader"].say("/findings resolve 1 已更新宣传栏")
    reopened = (await supervisor.say("/findings reopen 1 内容还是旧的"))[0]
    assert "已重新打开" in reopened and "已通知" not in reopened
    assert "该支部还没有登记的书记" in reopened
    # a leader who raised a finding and resolves it is not told, and not told of telling
    await people["leader"].say("/findings add jj1 学习笔记缺页")
    resolved = (await people["leader"].say("/findings resolve 2 已补齐"))[0]
    assert "已标记为解决" in resolved and "已通知提出问题" not in resolved
    # a secretary in the roster who never registered has no chat: not told either
    await app.repos.db.execute(
        "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
        " VALUES ('S009', '钱书记', 'kj1', 'x', 'x')"
    )
    await app.repos.db.execute(
        "INSERT INTO roles (person_id, role) SELECT id, 'secretary' FROM people"
        " WHERE employee_no = 'S009'"
    )
    done = (await supervisor.say("/findings add kj1 党员示范岗牌子掉了"))[0]
    assert "已通知" not in done and "该支部还没有登记的书记,并通知了党委领导。" in done


async def test_score_entry_by_buttons(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    leader, secretary, supervisor = people["leader"], people["secretary"], people["supervisor"]
    shown = await leader.say("/score")
    assert "2026-11 月度考核" in shown[0]
    # a leader may also fill in a department score the department has not entered
    assert labels(transport, leader.chat_id) == ["录入基础分", "录入部门评价", "录入领导评价"]
    asked = (await press(leader, transport, "录入领导评价"))[-1]
    assert "请选择" in asked and len(buttons_to(transport, leader.chat_id)) == 14
    figure = (await press(leader, transport, "机掘一队"))[-1]
    assert "机掘一队党支部 2026-11 的领导评价" in figure
    for bad, why in (("①", "分数要写 0 到 100 的数字"), ("120", "分数要在 0 到 100 之间")):
        replies = await leader.say(bad)
        assert why in replies[0] and "领导评价" in replies[-1], (bad, replies)
    assert await app.repos.scores.month("2026-11") == {}
    done = await leader.say("90")
    assert "已记录 机掘一队党支部 2026-11 的领导评价:90 分" in done[-1]
    assert await app.repos.scores.month("2026-11") == {"jj1": {"leader": 90.0}}

    # the part without the rest: straight to the branches; a name typed; a replacement confirmed
    assert "请选择" in (await leader.say("/score leader"))[-1]
    await leader.say("机掘一队")
    asked = (await leader.say("85"))[-1]
    assert "已有 90 分" in asked and "85" in asked
    assert labels(transport, leader.chat_id) == ["确认", "取消"]
    assert "已取消" in (await press(leader, transport, "取消"))[-1]
    assert await app.repos.scores.month("2026-11") == {"jj1": {"leader": 90.0}}
    await leader.say("/score leader 机掘一队")
    await leader.say("85")
    assert "领导评价:85 分" in (await press(leader, transport, "确认"))[-1]
    assert await app.repos.scores.month("2026-11") == {"jj1": {"leader": 85.0}}

    # a secretary scores only their own branch: no branch question
    assert "机掘一队党支部 2026-11 的项目自评" in (await secretary.say("/score self"))[-1]
    assert "项目自评:88 分" in (await secretary.say("88"))[-1]
    # a supervisor sees the branches of their department only
    await supervisor.say("/score")
    assert labels(transport, supervisor.chat_id) == ["录入部门评价"]
    await press(supervisor, transport, "录入部门评价")
    assert labels(transport, supervisor.chat_id) == ["机掘一队", "机掘二队", "开掘一队"]
    await press(supervisor, transport, "开掘一队")
    assert "部门评价:70 分" in (await supervisor.say("70"))[-1]
    assert await app.repos.scores.month("2026-11") == {
        "jj1": {"leader": 85.0, "self": 88.0},
        "kj1": {"dept": 70.0},
    }


async def test_closing_a_month_warns_and_can_be_declined(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    leader = people["leader"]
    for part, value in (("base", 90), ("self", 80), ("dept", 70), ("leader", 100)):
        await app.repos.scores.enter("jj1", "2026-11", part, value, "", None, app.services.now())
    await app.repos.scores.enter("jj2", "2026-11", "base", 90, "", None, app.services.now())
    warned = (await leader.say("/score close 2026-11"))[-1]
    assert "13 个支部的总分还没有算出" in warned
    assert "机掘二队党支部(缺 项目自评、部门评价、领导评价)" in warned
    assert "机掘一队党支部" not in warned
    assert labels(transport, leader.chat_id) == ["确认关闭", "取消"]
    assert "已取消" in (await press(leader, transport, "取消"))[-1]
    assert not await app.repos.scores.is_closed("2026-11")
    await leader.say("/score close 2026-11")
    assert "2026-11 已结账" in (await press(leader, transport, "确认关闭"))[-1]
    assert await app.repos.scores.is_closed("2026-11")
    assert "已经结账了" in (await leader.say("/score close 2026-11"))[0]


FULL_WIDTH = [
    ("supervisor", "／findings add 机掘一队：班前会记录不全", "已记录问题 #2"),
    ("supervisor", "／findings note １，已约谈", "已记录问题 #1 的进展"),
    ("secretary", "／findings resolve #1：全部补齐", "已标记为解决"),
    ("supervisor", "／findings reopen 1｜复查仍缺", "已重新打开"),
    ("supervisor", "／findings　escalate　１", "已提交党委协调"),
    ("supervisor", "／findings note：1，复查中", "已记录问题 #1 的进展"),
    ("supervisor", "／visit 机掘二队，检查了班前会", "已记录对机掘二队党支部的走访"),
    ("leader", "／score base jj1：９５", "机掘一队党支部 2026-11 的基础分:95 分"),
    ("leader", "／score leader 机掘一队｜90，复核后", "领导评价:90 分"),
    ("supervisor", "／score dept jj1，80", "部门评价:80 分"),
    ("secretary", "／score self ８５，按时报告", "项目自评:85 分"),
    ("secretary", "／score self：８６", "项目自评:86 分"),
]


async def test_full_width_punctuation_in_the_one_line_forms(
    app: App, people: dict[str, Chat]
) -> None:
    await people["supervisor"].say("/findings add jj1 安全活动记录缺两次")
    for who, text, expected in FULL_WIDTH:
        reply = (await people[who].say(text))[-1]
        assert expected in reply, (text, reply)
    assert await status(app, 1) == ("open", True)
    finding = await app.repos.findings.get(2)
    assert finding is not None and finding.text == "班前会记录不全"
    assert await app.repos.scores.month("2026-11") == {
        "jj1": {"base": 95.0, "leader": 90.0, "dept": 80.0, "self": 86.0}
    }
    notes = await app.repos.db.fetchall("SELECT note FROM visits")
    assert [r["note"] for r in notes] == ["检查了班前会"]


async def test_step_notices_carry_the_next_steps_of_whom_they_reach(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    supervisor, secretary = people["supervisor"], people["secretary"]
    await supervisor.say("/findings add jj1 班前会记录不全")
    await secretary.say("/findings resolve 1 全部补齐")
    assert "问题 #1 已解决" in sent_to(transport, supervisor.chat_id)[-1]
    assert labels(transport, supervisor.chat_id) == ["记录进展", "重新打开"]
    await press(supervisor, transport, "重新打开")
    await supervisor.say("复查仍缺两人签字")
    assert "被重新打开" in sent_to(transport, secretary.chat_id)[-1]
    assert labels(transport, secretary.chat_id) == ["记录进展", "已解决", "提交党委"]
    assert await status(app, 1) == ("open", False)


async def test_a_conversation_from_before_the_forms_is_ended_not_taken_as_an_idea(
    app: App, people: dict[str, Chat]
) -> None:
    supervisor = people["supervisor"]
    await app.repos.conversations.set(
        CHANNEL, supervisor.user, "find.text", {"branch": "jj1"}, app.services.now()
    )
    replies = await supervisor.say("安全活动记录缺两次")
    assert replies == ["这个操作已经结束了,请重新发送 /findings add。"]
    assert await app.repos.findings.search(branches=None) == []
    assert await app.repos.db.fetchall("SELECT id FROM ideas") == []
    assert await app.repos.conversations.get(CHANNEL, supervisor.user) is None


async def test_in_a_group_no_form_is_opened(
    app: App, people: dict[str, Chat], transport: RecordingTransport, chat: Callable[..., Chat]
) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    group = chat("u-S001", chat_type="group", chat_id="-900")
    await group.say("/bind jj1")
    assert "班前会记录不全" in (await group.say("/findings 1"))[0]
    assert buttons_to(transport, "-900") == []
    pressed = await group.deliver(group.incoming(callback="f:resolve:1"))
    assert "请私聊我操作" in pressed[0] and "/findings resolve 编号 说明" in pressed[0]
    assert "请私聊我录入分数" in (await group.say("/score self"))[0]
    assert "月度考核" in (await group.say("/score"))[0]
    assert buttons_to(transport, "-900") == []
    assert await app.repos.conversations.get(CHANNEL, "u-S001") is None
    assert await status(app, 1) == ("open", False)


async def test_an_old_confirmation_never_confirms_a_later_form(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    leader = people["leader"]
    await leader.say("/score leader jj1 90")
    clock.advance(30)
    await leader.say("/score leader jj1")
    await leader.say("85")
    replace = next(b["data"] for b in buttons_to(transport, leader.chat_id) if b["label"] == "确认")
    clock.advance(30)
    await leader.say("/score close 2026-11")  # the replacement is left unanswered
    decline = next(b["data"] for b in buttons_to(transport, leader.chat_id) if b["label"] == "取消")
    stale = await leader.deliver(leader.incoming(callback=replace))
    assert "过期" in stale[-1]
    assert not await app.repos.scores.is_closed("2026-11")
    assert await app.repos.scores.month("2026-11") == {"jj1": {"leader": 90.0}}
    assert "已取消" in (await leader.deliver(leader.incoming(callback=decline)))[-1]
    # and a confirmation pressed long ago, of a form that finished, neither
    clock.advance(30)
    await leader.say("/score close 2026-11")
    assert "过期" in (await leader.deliver(leader.incoming(callback=replace)))[-1]
    assert not await app.repos.scores.is_closed("2026-11")


@pytest.mark.parametrize(
    "data",
    ["f", "f:resolve", "f:²:1", "f:resolve:²", "f:resolve:99", "f:b:jj1", "sc", "sc:²:2026-11",
     "sc:leader:²", "sc:leader:2026-13", "sc:self:2026-11", "sc:leader:2027-01"],
)  # fmt: skip
async def test_odd_step_and_entry_buttons_change_nothing(
    app: App, people: dict[str, Chat], data: str
) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    for who in ("worker", "leader"):
        replies = await people[who].deliver(people[who].incoming(callback=data))
        assert len(replies) == 1 and "抱歉" not in replies[0], (who, data, replies)
        assert await app.repos.conversations.get(CHANNEL, people[who].user) is None
    assert await status(app, 1) == ("open", False)
    assert await app.repos.scores.month("2026-11") == {}
