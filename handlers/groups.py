"""Branch group chats: bound with /bind, followed when the bot is removed or the group moves."""

from __future__ import annotations

from handlers import access
from handlers.messages import Incoming, Member, Reply
from handlers.router import Command, Feature
from handlers.services import Services


async def bind(msg: Member, services: Services) -> list[Reply]:
    """把本群绑定为支部群(支部书记在群里发):/bind 支部编号"""
    person = msg.person
    if msg.chat_type != "group":
        return [Reply("请在支部的群里发送 /bind 支部编号,把那个群绑定为支部群。")]
    branch_id = msg.args.strip()
    if not branch_id:
        return [Reply("请写上支部编号,例如:/bind jj1")]
    branch = await services.repos.org.branch(branch_id)
    if branch is None:
        return [Reply(f"没有编号为“{branch_id[:20]}”的支部,请核对后再发。")]
    if not access.may_bind_group(person, branch):
        return [Reply(f"只有{branch.name}的支部书记或管理员才能绑定支部群。")]
    current = await services.repos.groups.get(msg.channel, msg.chat_id)
    if current is not None and current.active and current.branch_id != branch.id:
        bound_to = await services.repos.org.branch(current.branch_id)
        if not access.may_rebind_group(person):
            name = bound_to.name if bound_to else current.branch_id
            return [Reply(f"本群已经是「{name}」的支部群。要改绑到别的支部,请找管理员。")]
    await services.repos.groups.bind(msg.channel, msg.chat_id, branch.id, person.id, services.now())
    return [Reply(f"本群已绑定为「{branch.name}」的支部群,以后的会议提醒和通知会发到这里。")]


async def on_bot_added(msg: Incoming, services: Services) -> list[Reply]:
    groups = services.repos.groups
    if await groups.reactivate(msg.channel, msg.chat_id, services.now()):
        return [Reply("我回来了,本群仍是支部群,通知会照常发到这里。")]
    return [
        Reply(
            "大家好,我是金点子助手。请支部书记在群里发送 /bind 支部编号,"
            "把本群绑定为支部群;大家可以用 /idea 内容 提交金点子。"
        )
    ]


async def on_bot_removed(msg: Incoming, services: Services) -> list[Reply]:
    await services.repos.groups.deactivate(msg.channel, msg.chat_id, services.now())
    return []  # nobody left to tell in that chat


async def on_migrated(msg: Incoming, services: Services) -> list[Reply]:
    if msg.migrate_to:
        await services.repos.groups.migrate(
            msg.channel, msg.chat_id, msg.migrate_to, services.now()
        )
    return []


FEATURE = Feature(
    commands=[Command("bind", bind)],
    events={"bot_added": on_bot_added, "bot_removed": on_bot_removed, "migrated": on_migrated},
)
