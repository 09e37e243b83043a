"""The README's journeys, one test per role: what each person taps, step by step, as written
in the README's "In chat" section (keep the two alike)."""

from __future__ import annotations

from collections.abc import Callable

from bot.app import App
from tests.support import Chat, RecordingTransport, register_people

IDEA = "井下回收复用锚杆,每月能省好几万"
SECOND = "皮带机头加装防护栏,防止卷人"


def last_buttons_to(transport: RecordingTransport, chat_id: str) -> list[dict[str, str]]:
    """The buttons of the latest message to `chat_id` that had any (a notice included)."""
    for to, payload in reversed(transport.sent):
        if to == chat_id and payload.get("buttons"):
            return [b for row in payload["buttons"] for b in row]
    return []


async def tap(who: Chat, transport: RecordingTransport, label: str) -> list[str]:
    """Press a button on the latest message `who` was sent, whoever's action sent it."""
    data = next(b["data"] for b in last_buttons_to(transport, who.chat_id) if b["label"] == label)
    return await who.deliver(who.incoming(callback=data))


def told(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for to, p in transport.sent if to == chat_id]


async def status_of(app: App, idea_id: int) -> str:
    row = await app.repos.db.fetchone("SELECT status FROM ideas WHERE id = ?", (idea_id,))
    return str(row[0]) if row else ""


async def test_a_miner(app: App, chat: Callable[..., Chat]) -> None:
    miner = chat("u-E001")
    assert "请输入您的工号" in (await miner.say("/start"))[0]
    assert "请输入您的姓名" in (await miner.say("E001"))[0]
    assert "分享我的手机号" in (await miner.say("张三"))[0]
    assert "登记成功" in (await miner.share_contact("13800000001"))[0]

    received = (await miner.say(IDEA))[0]
    assert "收到您的金点子 #1" in received and "修旧利废" in received
    assert [b["label"] for b in miner.last_buttons] == ["确认", "改类别", "撤回"]
    assert "已确认" in (await miner.press("确认"))[0]

    await miner.say(SECOND)
    assert "确认撤回 #2" in (await miner.press("撤回"))[0]
    assert "已撤回" in (await miner.press("确认撤回"))[0]
    assert await status_of(app, 2) == "withdrawn"

    mine = (await miner.say("/my"))[0]
    assert "#1 修旧利废 · 已提交" in mine and "#2 安全生产 · 已撤回" in mine


async def test_a_branch_secretary(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    people = await register_people(chat, "worker", "secretary", "supervisor")
    worker, secretary, supervisor = people["worker"], people["secretary"], people["supervisor"]
    await worker.say(IDEA)
    await worker.say(SECOND)

    queue = await secretary.say("/review")  # the branch's ideas waiting, oldest first
    assert "共 2 条" in queue[0] and queue[1].startswith("#1 ") and queue[2].startswith("#2 ")
    assert "已改为“审核中”" in (await secretary.press_on("#2 ", "审核中"))[0]
    assert "原因" in (await secretary.press_on("#1 ", "不采纳"))[0]
    assert "已改为“未采纳”" in (await secretary.say("已有同类项目在做"))[0]
    assert any("已有同类项目在做" in t for t in told(transport, worker.chat_id))  # told why

    listed = (await secretary.say("/ideas 未采纳"))[0]
    assert "#1" in listed and "#2" not in listed
    assert "#2" in (await secretary.say("/search 防护栏"))[0]

    await supervisor.say("/findings add 机掘一队 班前会记录不全,安全确认没签字")
    assert "已解决" in [b["label"] for b in last_buttons_to(transport, secretary.chat_id)]
    assert "请" in (await tap(secretary, transport, "已解决"))[-1]
    assert "已标记为解决" in (await secretary.say("全部补签完毕"))[-1]

    assert "2026-11 月度考核" in (await secretary.say("/score"))[0]
    await tap(secretary, transport, "录入项目自评")
    assert "项目自评:88 分" in (await secretary.say("88"))[-1]
    assert await app.repos.scores.month("2026-11") == {"jj1": {"self": 88.0}}


async def test_a_supervisor(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    supervisor = (await register_people(chat, "supervisor", "secretary"))["supervisor"]
    assert "请选择走访的支部" in (await supervisor.say("/visit"))[-1]
    await supervisor.press("机掘一队")
    assert "本月第 1 次" in (await supervisor.press("不写备注"))[-1]

    assert "请选择" in (await supervisor.say("/findings add"))[-1]
    assert "请描述发现的问题" in (await tap(supervisor, transport, "机掘二队"))[-1]
    done = (await supervisor.say("宣传栏内容还是上个月的"))[-1]
    assert "已记录问题 #1" in done

    visits = (await supervisor.say("/visits"))[0]
    assert "机掘一队党支部 1/4" in visits

    await supervisor.say("/score")
    await tap(supervisor, transport, "录入部门评价")
    await tap(supervisor, transport, "机掘一队")
    assert "部门评价:80 分" in (await supervisor.say("80"))[-1]


async def test_a_committee_leader(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    people = await register_people(chat, "worker", "secretary", "leader")
    worker, secretary, leader = people["worker"], people["secretary"], people["leader"]
    await worker.say(IDEA)

    await leader.say("/project new")
    await leader.say("井下锚杆回收复用")  # the title
    await leader.press("修旧利废")
    await leader.press("孙矿长")
    await leader.press("机掘一队")
    await leader.press("完成")
    await leader.say("5万")
    await leader.press("跳过")
    assert "已建立重点项目 P01" in (await leader.press("确认"))[-1]

    await leader.say("/review")
    assert "纳入哪个重点项目" in (await leader.press_on("#1 ", "采纳"))[0]
    assert "已纳入重点项目 P01" in (await leader.press("P01 井下锚杆回收复用"))[0]
    assert await status_of(app, 1) == "adopted"

    await secretary.say("/benefit P01 4万 11月回收锚杆1740根")
    verified = (await leader.say("/verify B1"))[0]
    assert "已核实" in verified
    assert any("B1" in t and "核实" in t for t in told(transport, secretary.chat_id))

    await leader.say("/reward P01")
    await tap(leader, transport, "按建议分配")
    summary = (await tap(leader, transport, "不写备注"))[-1]
    assert "确认" in [b["label"] for b in last_buttons_to(transport, leader.chat_id)], summary
    assert "已记录 P01 的奖励" in (await tap(leader, transport, "确认"))[-1]

    warned = (await leader.say("/score close 2026-11"))[-1]
    assert "确认关闭" in [b["label"] for b in last_buttons_to(transport, leader.chat_id)], warned
    assert "2026-11 已结账" in (await tap(leader, transport, "确认关闭"))[-1]

    stats = await leader.say("/stats")
    assert stats and "金点子" in stats[0]

    # the quarterly review: the secretary reports by buttons, the leader comments from the notice
    assert "P01 井下锚杆回收复用:未汇报" in (await secretary.say("/quarter"))[-1]
    assert "本季度进展" in (await secretary.press("汇报 P01"))[-1]
    await secretary.say("回收锚杆 1740 根")
    await secretary.press("无")
    await secretary.say("推广到机掘二队")
    assert "已提交 P01" in (await secretary.press("确认提交"))[-1]
    assert any("已交齐 2026 年第四季度 1 个重点项目" in t for t in told(transport, leader.chat_id))
    assert "请输入您的点评" in (await tap(leader, transport, "点评 P01"))[-1]
    await leader.say("回收效果好")
    commented = "💬 党委领导 孙矿长 点评了 P01 的季度汇报:回收效果好"
    assert commented in told(transport, secretary.chat_id)


async def test_the_admin(app: App, chat: Callable[..., Chat]) -> None:
    admin = (await register_people(chat, "admin"))["admin"]
    asked = (await admin.say("/role 李四 书记"))[0]
    assert "改为“支部书记”" in asked
    assert "角色设为:支部书记" in (await admin.press("确认修改"))[0]

    invited = (await admin.say("/invite E003"))[0]
    code = invited.split("邀请码:", 1)[1].split()[0]
    newcomer = chat("u-E003")
    await newcomer.say("/start")
    await newcomer.say("E003")
    await newcomer.say("王五")
    assert "登记成功" in (await newcomer.say(code))[0]
