"""Registration: bind a chat identity to a roster person by 工号 and 姓名."""

from __future__ import annotations

import re

from handlers.messages import Incoming, Reply
from handlers.router import Feature, PublicCommand
from handlers.services import Services
from storage import Duplicate

STATE_EMPLOYEE_NO = "reg.employee_no"
STATE_NAME = "reg.name"
MAX_TRIES = 3
_EMPLOYEE_NO = re.compile(r"^[A-Za-z0-9-]{1,32}$")


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", text)


async def start(msg: Incoming, services: Services) -> list[Reply]:
    """登记身份(输入工号和姓名)"""
    if msg.chat_type != "private":
        return [Reply("请私聊我发送 /start 完成登记,群里不方便输入工号。")]
    person = msg.person
    if person is not None:
        branch = await services.repos.org.branch(person.branch_id)
        where = branch.name if branch else person.branch_id
        return [
            Reply(
                f"您已经登记过了:{person.name}(工号 {person.employee_no},{where})。\n"
                "直接发送文字就能提交金点子,发送 /help 查看全部命令。"
            )
        ]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_EMPLOYEE_NO, {"tries": 0}, services.now()
    )
    return [Reply("欢迎参加“金点子”活动!请输入您的工号(发送 /cancel 可取消):")]


async def cancel(msg: Incoming, services: Services) -> list[Reply]:
    """取消正在进行的操作"""
    conversations = services.repos.conversations
    if await conversations.get(msg.channel, msg.sender_id) is None:
        return [Reply("现在没有进行中的操作。")]
    await conversations.clear(msg.channel, msg.sender_id)
    return [Reply("已取消。")]


async def on_state(msg: Incoming, services: Services) -> list[Reply]:
    conversations = services.repos.conversations
    conversation = await conversations.get(msg.channel, msg.sender_id)
    assert conversation is not None
    text = _clean(msg.text)
    if not text:
        return [Reply("请输入文字内容。")]
    if conversation.state == STATE_EMPLOYEE_NO:
        return await _employee_no(msg, services, text, int(conversation.data.get("tries", 0)))
    return await _name(msg, services, text, str(conversation.data.get("employee_no", "")))


async def _employee_no(msg: Incoming, services: Services, text: str, tries: int) -> list[Reply]:
    conversations = services.repos.conversations
    person = None
    if _EMPLOYEE_NO.match(text):
        person = await services.repos.people.by_employee_no(text)
        if person is None and text.upper() != text:
            person = await services.repos.people.by_employee_no(text.upper())
    if person is None:
        tries += 1
        shown = text if len(text) <= 32 else text[:32] + "…"
        if tries >= MAX_TRIES:
            await conversations.clear(msg.channel, msg.sender_id)
            return [
                Reply(
                    f"花名册里没有找到工号“{shown}”。已经试了 {tries} 次,"
                    "请找支部书记核对花名册后,再发送 /start 登记。"
                )
            ]
        await conversations.set(
            msg.channel, msg.sender_id, STATE_EMPLOYEE_NO, {"tries": tries}, services.now()
        )
        return [
            Reply(
                f"花名册里没有找到工号“{shown}”。请核对后重新输入;"
                "如果确认没错,请找支部书记把您加入花名册。"
            )
        ]
    await conversations.set(
        msg.channel,
        msg.sender_id,
        STATE_NAME,
        {"employee_no": person.employee_no},
        services.now(),
    )
    return [Reply("好的。请输入您的姓名:")]


async def _name(msg: Incoming, services: Services, text: str, employee_no: str) -> list[Reply]:
    repos = services.repos
    await repos.conversations.clear(msg.channel, msg.sender_id)
    person = await repos.people.by_employee_no(employee_no)
    if person is None or _clean(person.name) != text:
        return [
            Reply(
                "姓名和工号对不上,登记没有完成。请重新发送 /start 再试一次;"
                "如果花名册有误,请找支部书记核对。"
            )
        ]
    bound = await repos.people.identity_of(person.id, msg.channel)
    if bound is not None and bound != msg.sender_id:
        return [Reply("这个工号已经绑定了另一个账号。如需换账号,请联系管理员解除原来的绑定。")]
    if bound is None:
        try:
            await repos.people.bind_identity(person.id, msg.channel, msg.sender_id, services.now())
        except Duplicate:
            return [Reply("您的账号已经绑定了其他工号。如需更改,请联系管理员。")]
    branch = await repos.org.branch(person.branch_id)
    where = branch.name if branch else person.branch_id
    return [
        Reply(
            f"登记成功!{person.name},欢迎您({where})。\n"
            "以后直接发送文字就是提交金点子,比如:井下回收复用锚杆,每月能省好几万。\n"
            "发送 /my 查看您提交过的金点子,/help 查看全部命令。"
        )
    ]


FEATURE = Feature(
    commands=[
        PublicCommand("start", start),
        PublicCommand("cancel", cancel),
    ],
    states={"reg": on_state},
)
