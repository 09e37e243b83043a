"""/web: a one-time link that opens the web 看板 in a PC browser, for those who run the
campaign; the link is sent to the person's private chat only (it opens their session)."""

from __future__ import annotations

from handlers import access
from handlers.messages import Member, Reply
from handlers.router import Command, Feature
from handlers.rules import web
from handlers.services import Services

NOT_CONFIGURED = "看板尚未开通,请联系管理员。"
PRIVATE_ONLY = "看板的登录链接只发在私聊里,请私聊我发送 /web。"


async def web_link(msg: Member, services: Services) -> list[Reply]:
    """打开网页看板:发送一个一次性登录链接"""
    if msg.chat_type != "private":
        return [Reply(PRIVATE_ONLY)]
    link = await web.issue_link(services, msg.person)
    if link is None:
        return [Reply(NOT_CONFIGURED)]
    minutes = services.settings.web_link_minutes
    return [
        Reply(
            f"请在电脑浏览器打开下面的链接进入看板,{minutes}分钟内有效,只能用一次:\n{link}\n"
            "链接只属于您本人,请不要转发。过期了再发送 /web 即可。"
        )
    ]


FEATURE = Feature(commands=[Command("web", web_link, access.WEB_USERS)])
