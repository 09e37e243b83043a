"""Group binding, media without text, edits and other message kinds, through the router."""

from __future__ import annotations

from collections.abc import Callable

from bot.app import App
from handlers.messages import IncomingAttachment
from tests.support import Chat, idea_rows


async def test_secretary_binds_the_group_and_a_worker_cannot(
    app: App, chat: Callable[..., Chat]
) -> None:
    await chat("u1").register("E001", "张三")
    await chat("u6").register("S001", "刘书记")  # secretary of jj1
    await chat("u5").register("A001", "管理员")
    worker = chat("u1", chat_type="group", chat_id="-100")
    assert "只有机掘一队党支部的支部书记或管理员" in (await worker.say("/bind jj1"))[0]
    assert await app.repos.groups.get("test", "-100") is None

    secretary = chat("u6", chat_type="group", chat_id="-100")
    assert "只有综采一队党支部" in (await secretary.say("/bind zc1"))[0]  # not their branch
    assert "没有编号为“nope”" in (await secretary.say("/bind nope"))[0]
    assert "请写上支部编号" in (await secretary.say("/bind"))[0]
    assert "绑定为「机掘一队党支部」" in (await secretary.say("/bind jj1"))[0]
    binding = await app.repos.groups.get("test", "-100")
    assert binding is not None and binding.branch_id == "jj1" and binding.active

    admin = chat("u5", chat_type="group", chat_id="-200")
    assert "绑定为「洗煤厂党支部」" in (await admin.say("/bind xmc"))[0]
    assert "请在支部的群里" in (await chat("u6").say("/bind jj1"))[0]


async def test_removal_and_migration_follow_the_binding(
    app: App, chat: Callable[..., Chat]
) -> None:
    await chat("u6").register("S001", "刘书记")
    group = chat("u6", chat_type="group", chat_id="-100")
    await group.say("/bind jj1")
    await group.deliver(group.incoming(kind="migrated", migrate_to="-100999"))
    assert await app.repos.groups.get("test", "-100") is None
    moved = await app.repos.groups.get("test", "-100999")
    assert moved is not None and moved.active and moved.branch_id == "jj1"

    supergroup = chat("u6", chat_type="group", chat_id="-100999")
    assert await supergroup.deliver(supergroup.incoming(kind="bot_removed")) == []
    removed = await app.repos.groups.get("test", "-100999")
    assert removed is not None and not removed.active
    assert [b.chat_id for b in await app.repos.groups.for_branch("jj1")] == []
    back = await supergroup.deliver(supergroup.incoming(kind="bot_added"))
    assert "仍是支部群" in back[0]
    assert [b.chat_id for b in await app.repos.groups.for_branch("jj1")] == ["-100999"]
    fresh = chat("u6", chat_type="group", chat_id="-300")
    assert "/bind 支部编号" in (await fresh.deliver(fresh.incoming(kind="bot_added")))[0]


async def test_photo_alone_waits_for_the_words(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    photo = IncomingAttachment("photo", "file-photo-1")
    replies = await zhang.deliver(zhang.incoming(attachments=(photo,)))
    assert "照片收到了" in replies[0]
    assert await idea_rows(app.repos) == []
    assert "内容太短" in (await zhang.say("嗯"))[0]  # still waiting for real words
    replies = await zhang.say("主井皮带机托辊坏了别扔,拆下来修好再用")
    assert "#1" in replies[0]
    attachments = await app.repos.attachments.for_idea(1)
    assert [(a.kind, a.file_ref) for a in attachments] == [("photo", "file-photo-1")]
    replies = await zhang.say("巷道照明换成LED灯,耗电少一半")  # next idea: no photo
    assert await app.repos.attachments.for_idea(2) == []


async def test_photo_with_caption_and_voice_note(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    photo = IncomingAttachment("photo", "p-2")
    replies = await zhang.deliver(
        zhang.incoming("旧托辊修一修还能用,照片是拆下来的", attachments=(photo,))
    )
    assert "#1" in replies[0]
    assert [a.file_ref for a in await app.repos.attachments.for_idea(1)] == ["p-2"]
    voice = IncomingAttachment("voice", "v-1")
    assert "语音已经保存" in (await zhang.deliver(zhang.incoming(attachments=(voice,))))[0]
    assert "已取消" in (await zhang.say("/cancel"))[0]
    assert len(await idea_rows(app.repos)) == 1


async def test_edits_stickers_and_group_chatter(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    assert "已提交的金点子不会跟着改" in (await zhang.deliver(zhang.incoming(kind="edited")))[0]
    assert "这类消息我看不懂" in (await zhang.deliver(zhang.incoming(kind="unsupported")))[0]
    group = chat("u1", chat_type="group", chat_id="-5")
    assert await group.deliver(group.incoming(kind="unsupported")) == []
    assert await group.deliver(group.incoming(kind="edited")) == []
    photo = IncomingAttachment("photo", "p-9")
    assert await group.deliver(group.incoming(attachments=(photo,))) == []
    assert await idea_rows(app.repos) == []
