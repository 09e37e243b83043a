"""Registration and golden-idea flows through the real router, outbox and SQLite file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import App, open_app
from bot.config import Config
from nlp import ModelClassifier
from tests.support import Chat, Clock, RecordingTransport, idea_rows


async def test_register_submit_confirm_and_list(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    replies = await zhang.register("E001", "张三")
    assert "登记成功" in replies[0] and "机掘一队党支部" in replies[0]

    replies = await zhang.say("井下回收复用锚杆,每月能省好几万")
    assert "#1" in replies[0] and "修旧利废" in replies[0]
    assert [b["label"] for b in zhang.last_buttons] == ["确认", "改类别", "撤回"]
    rows = await idea_rows(app.repos)
    assert len(rows) == 1
    assert rows[0]["category"] == "repair_reuse"
    assert rows[0]["confirmed"] == 0
    assert rows[0]["branch_id"] == "jj1"

    replies = await zhang.press("确认")
    assert "已确认" in replies[0]
    assert (await idea_rows(app.repos))[0]["confirmed"] == 1

    replies = await zhang.say("/my")
    assert "#1 修旧利废 · 已提交" in replies[0]


async def test_change_category_records_a_correction(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    await zhang.say("井下回收复用锚杆,每月能省好几万")
    replies = await zhang.press("改类别")
    assert len(zhang.last_buttons) == 7
    replies = await zhang.press("管理提升")
    assert "管理提升" in replies[0]
    rows = await idea_rows(app.repos)
    assert rows[0]["category"] == "management" and rows[0]["confirmed"] == 1
    assert await app.repos.ideas.corrections() == [
        ("井下回收复用锚杆,每月能省好几万", "repair_reuse", "management")
    ]


async def test_idea_command_works_in_groups_and_chatter_is_ignored(
    app: App, chat: Callable[..., Chat]
) -> None:
    await chat("u1").register("E001", "张三")
    group = chat("u1", chat_type="group", chat_id="g-100")
    assert await group.say("大家辛苦了") == []
    assert await group.say("/unknown_other_bot_command") == []
    replies = await group.say("/idea@jindianzi_bot 皮带机托辊坏了别扔,修一修还能用")
    assert "#1" in replies[0]
    assert len(await idea_rows(app.repos)) == 1


async def test_my_is_paged_newest_first(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    for n in range(1, 11):
        await zhang.say(f"第{n}条建议:把第{n}号皮带机的托辊修一修再用")
    first = (await zhang.say("/my"))[0]
    assert "共 10 条,第 1/2 页" in first
    assert first.index("#10") < first.index("#9")
    assert "#2 " not in first
    second = (await zhang.press("下一页"))[0]
    assert "第 2/2 页" in second and "#2 " in second and "#1 " in second
    assert "页码要写数字" in (await zhang.say("/my abc"))[0]


async def test_redelivered_update_creates_one_idea(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    msg = zhang.incoming("井下回收复用锚杆,每月能省好几万", update_id="tg-777")
    first = await zhang.deliver(msg)
    again = await zhang.deliver(msg)
    assert len(first) == 1 and again == []
    assert len(await idea_rows(app.repos)) == 1


async def test_conversation_survives_a_restart(
    config: Config, clock: Clock, classifier: ModelClassifier
) -> None:
    transport = RecordingTransport()
    async with open_app(config, clock=clock, classifier=classifier) as app:
        await app.repos.db.execute(
            "INSERT INTO people (employee_no, name, branch_id, phone, created_at, updated_at)"
            " VALUES ('E001', '张三', 'jj1', '13800000001', 'x', 'x')"
        )
        talk = Chat(app, transport, app.sender([transport]), "u1")
        await talk.say("/start")
        assert "姓名" in (await talk.say("E001"))[0]
    async with open_app(config, clock=clock, classifier=classifier) as app:
        talk = Chat(app, transport, app.sender([transport]), "u1")
        assert "手机号" in (await talk.say("张三"))[0]
        assert "登记成功" in (await talk.share_contact("13800000001"))[0]
        person = await app.repos.people.by_identity("test", "u1")
        assert person is not None and person.employee_no == "E001"


@pytest.mark.sqlite_only(reason="the failure is injected with an SQLite trigger")
async def test_handler_failure_rolls_back_and_apologises(
    app: App, chat: Callable[..., Chat]
) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    await app.repos.db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON ideas"
        " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    )
    msg = zhang.incoming("井下回收复用锚杆,每月能省好几万", update_id="tg-500")
    replies = await zhang.deliver(msg)
    assert "出了点问题" in replies[0]
    assert await idea_rows(app.repos) == []
    assert await app.repos.inbox.status("test", "tg-500") == "failed"
    assert await zhang.deliver(msg) == []  # a redelivery does not apologise twice
