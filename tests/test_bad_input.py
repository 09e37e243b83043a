"""Every bad input gets a polite Chinese reply and changes nothing it should not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import App
from tests.support import Chat, idea_rows


@pytest.fixture
async def zhang(chat: Callable[..., Chat]) -> Chat:
    person = chat("u1")
    await person.register("E001", "张三")
    return person


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "内容太短"),
        ("   \t ", "内容太短"),
        ("😀😀👍🔧", "内容太短"),
        ("好!", "内容太短"),
        ("/idea", "请把金点子写在 /idea 后面"),
        ("/idea    ", "请把金点子写在 /idea 后面"),
        ("/frobnicate now", "没有 /frobnicate 这个命令"),
        ("锚" * 5000, "消息太长了(5000 字)"),
        ("/idea " + "锚" * 1200, "消息太长了"),
    ],
)
async def test_refused_and_nothing_stored(app: App, zhang: Chat, text: str, expected: str) -> None:
    replies = await zhang.say(text)
    assert len(replies) == 1 and expected in replies[0]
    assert await idea_rows(app.repos) == []


@pytest.mark.parametrize(
    "text",
    [
        "'); DROP TABLE ideas; -- 建议把旧锚杆回收",
        "<b>建议</b><script>alert(1)</script> 回收旧托辊",
        "*粗体* _斜体_ [链接](http://x) 修复旧电缆",
    ],
)
async def test_sql_and_markup_are_stored_as_plain_text(app: App, zhang: Chat, text: str) -> None:
    replies = await zhang.say(text)
    assert "#1" in replies[0]
    rows = await idea_rows(app.repos)
    assert [r["text"] for r in rows] == [text]


async def test_unregistered_sender_is_sent_to_registration(
    app: App, chat: Callable[..., Chat]
) -> None:
    stranger = chat("u9")
    for text in ("井下回收复用锚杆,每月能省好几万", "/idea 回收锚杆", "/my"):
        replies = await stranger.say(text)
        assert "您还没有登记" in replies[0]
    assert "/start" in (await stranger.say("/help"))[0]
    assert await idea_rows(app.repos) == []


async def test_unknown_employee_number_and_wrong_name_bind_nothing(
    app: App, chat: Callable[..., Chat]
) -> None:
    stranger = chat("u9")
    await stranger.say("/start")
    replies = await stranger.say("X999")
    assert "姓名" in replies[0]  # the same as for a known number: the roster is not told
    replies = await stranger.say("李四")
    assert "手机号" in replies[0] and "邀请码" in replies[0]
    replies = await stranger.share_contact("13912345678")
    assert "没有完成" in replies[0] and "支部书记" in replies[0]
    assert await app.repos.people.by_identity("test", "u9") is None
    # After the refusal the conversation is over: the next text is not taken as a proof.
    assert "您还没有登记" in (await stranger.say("张三"))[0]


async def test_a_malformed_number_is_asked_again(chat: Callable[..., Chat]) -> None:
    stranger = chat("u9")
    await stranger.say("/start")
    replies = await stranger.say("工号是 123")
    assert "字母、数字或短横线" in replies[0]
    assert "姓名" in (await stranger.say("E001"))[0]


async def test_one_identity_per_channel(app: App, chat: Callable[..., Chat]) -> None:
    await chat("u1").register("E001", "张三")
    replies = await chat("u2").register("E001", "张三")
    assert "已经绑定了另一个账号" in replies[0]
    assert await app.repos.people.by_identity("test", "u2") is None


async def test_buttons_of_someone_else_or_withdrawn_ideas(
    app: App, zhang: Chat, chat: Callable[..., Chat]
) -> None:
    await zhang.say("井下回收复用锚杆,每月能省好几万")
    li = chat("u2")
    await li.register("E002", "李四")
    replies = await li.deliver(li.incoming(callback="i:1:wd"))
    assert "不是您提交的" in replies[0]
    assert (await idea_rows(app.repos))[0]["status"] == "submitted"

    assert "确认撤回 #1" in (await zhang.press("撤回"))[0]  # withdrawing asks first
    assert "已撤回" in (await zhang.press("确认撤回"))[0]
    replies = await zhang.deliver(zhang.incoming(callback="i:1:set:safety"))
    assert "已经撤回" in replies[0]
    row = (await idea_rows(app.repos))[0]
    assert row["status"] == "withdrawn" and row["category"] == "repair_reuse"
    for data in ("i:x:ok", "i:1:set:nonsense_cat", "zz:1", "i:999:ok"):
        replies = await zhang.deliver(zhang.incoming(callback=data))
        assert replies and ("失效" in replies[0] or "不是您" in replies[0] or "撤回" in replies[0])


async def test_roles_cannot_be_self_granted(app: App, chat: Callable[..., Chat]) -> None:
    worker = chat("u1")
    await worker.register("E001", "张三")
    replies = await worker.say("/role E001 admin")
    assert "只有管理员可以使用" in replies[0]
    admin = chat("u5")
    await admin.register("A001", "管理员")
    assert "不能给自己" in (await admin.say("/role A001 leader"))[0]
    assert "用法" in (await admin.say("/role E001"))[0]
    assert "没有“boss”这个角色" in (await admin.say("/role E001 boss"))[0]
    assert "部门编号" in (await admin.say("/role E001 supervisor:nowhere"))[0]
    person = await app.repos.people.by_employee_no("E001")
    assert person is not None and [str(r) for r in person.roles] == ["worker"]
    asked = await admin.say("/role E001 supervisor:union")
    assert "改为“督导人员(union)”" in asked[0]  # asked first; nothing changed yet
    person = await app.repos.people.by_employee_no("E001")
    assert person is not None and [str(r) for r in person.roles] == ["worker"]
    replies = await admin.press("确认修改")
    assert "督导人员(union)" in replies[0]
    person = await app.repos.people.by_employee_no("E001")
    assert person is not None and [str(r) for r in person.roles] == ["supervisor:union"]
    admin_self = await app.repos.people.by_employee_no("A001")
    assert admin_self is not None and [str(r) for r in admin_self.roles] == ["admin"]


async def test_help_lists_only_what_the_person_may_use(chat: Callable[..., Chat]) -> None:
    worker = chat("u1")
    await worker.register("E001", "张三")
    text = (await worker.say("/help"))[0]
    assert "/idea" in text and "/my" in text and "/role" not in text
    admin = chat("u5")
    await admin.register("A001", "管理员")
    assert "/role" in (await admin.say("/help"))[0]
