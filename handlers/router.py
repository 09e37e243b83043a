"""The router: one entry point for every channel.

`dispatch` runs a whole update as one unit of work: it skips an update whose
platform id was processed before, resolves the sender, calls the feature handler,
queues the replies in the outbox and marks the update done, all in one
transaction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from handlers.messages import Incoming, Outcome, Reply
from handlers.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, Services], Awaitable[list[Reply]]]

PUBLIC = "public"
"""Pseudo-role: usable before registration."""

APOLOGY = (
    "抱歉,系统刚才出了点问题,您的消息没有处理成功。请稍后再发一次;如果一直不行,请告诉支部书记。"
)
NOT_REGISTERED = "您还没有登记。请私聊我发送 /start,按提示输入工号和姓名完成登记。"


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command; its handler's first docstring line is the /help text."""

    name: str
    handler: Handler
    roles: frozenset[str] | None = None
    """Roles allowed to use it; None means any registered person, PUBLIC anyone."""

    @property
    def summary(self) -> str:
        doc = (self.handler.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def allows(self, msg: Incoming) -> bool:
        if self.roles is not None and PUBLIC in self.roles:
            return True
        if msg.person is None:
            return False
        return self.roles is None or msg.person.has_role(*self.roles)


@dataclass(frozen=True, slots=True)
class Feature:
    """What one handlers module contributes to the router."""

    commands: Sequence[Command] = ()
    callbacks: dict[str, Handler] = dataclasses.field(default_factory=dict)
    """Callback-data prefix (before the first ':') → handler."""
    states: dict[str, Handler] = dataclasses.field(default_factory=dict)
    """Conversation-state prefix (before the first '.') → handler."""
    text: Handler | None = None
    """Plain text in a private chat from a registered person."""
    media: Handler | None = None
    """A photo, voice note or file without text, in a private chat, from a registered person."""
    events: dict[str, Handler] = dataclasses.field(default_factory=dict)
    """Update kind (bot_added, bot_removed, migrated) → handler."""


ROLE_NAMES = {
    "worker": "职工",
    "secretary": "支部书记",
    "supervisor": "督导人员",
    "leader": "党委领导",
    "admin": "管理员",
}


class Router:
    def __init__(self, features: Iterable[Feature]) -> None:
        self.commands: dict[str, Command] = {}
        self._callbacks: dict[str, Handler] = {}
        self._states: dict[str, Handler] = {}
        self._text: Handler | None = None
        self._media: Handler | None = None
        self._events: dict[str, Handler] = {}
        for feature in features:
            for command in feature.commands:
                if command.name in self.commands:
                    raise ValueError(f"command /{command.name} defined twice")
                self.commands[command.name] = command
            self._callbacks.update(feature.callbacks)
            self._states.update(feature.states)
            self._events.update(feature.events)
            if feature.text is not None:
                self._text = feature.text
            if feature.media is not None:
                self._media = feature.media
        self.commands["help"] = Command("help", self._help, frozenset({PUBLIC}))

    async def dispatch(self, msg: Incoming, services: Services) -> Outcome:
        """Process one update exactly once; its replies are queued in the outbox."""
        repos = services.repos
        try:
            async with repos.db.transaction():
                if await repos.inbox.status(msg.channel, msg.update_id) in ("done", "failed"):
                    return Outcome(duplicate=True)
                person = await repos.people.by_identity(msg.channel, msg.sender_id)
                msg = dataclasses.replace(msg, person=person)
                replies = await self._route(msg, services)
                await self._queue(msg, replies, services)
                await repos.inbox.finish(msg.channel, msg.update_id, "done", services.now())
        except Exception:
            log.exception("update %s/%s from %s failed", msg.channel, msg.update_id, msg.sender_id)
            replies = [Reply(APOLOGY)]
            async with repos.db.transaction():
                await self._queue(msg, replies, services)
                await repos.inbox.finish(msg.channel, msg.update_id, "failed", services.now())
        if replies:
            services.outbox_signal.set()
        return Outcome(replies)

    async def _queue(self, msg: Incoming, replies: list[Reply], services: Services) -> None:
        for index, reply in enumerate(replies):
            await services.repos.outbox.enqueue(
                channel=reply.channel or msg.channel,
                chat_id=reply.chat_id or msg.chat_id,
                payload=reply.outgoing(msg.message_ref).to_payload(),
                dedupe_key=f"reply:{msg.channel}:{msg.update_id}:{index}",
                now=services.now(),
            )

    async def _route(self, msg: Incoming, services: Services) -> list[Reply]:
        if msg.kind != "message":
            return await self._route_other(msg, services)
        if msg.callback is not None:
            return await self._route_callback(msg, services)
        text = msg.text.strip()
        limit = services.settings.max_text_chars
        if len(text) > limit:
            return [
                Reply(
                    f"消息太长了({len(text)} 字),请控制在 {limit} 字以内,分几条发送也可以。"
                    "这条没有保存。"
                )
            ]
        if text.startswith("/"):
            return await self._route_command(msg, text, services)
        conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
        if conversation is not None and msg.chat_type == "private":
            handler = self._states.get(conversation.state.split(".", 1)[0])
            if handler is not None:
                return await handler(msg, services)
        if msg.chat_type != "private":
            return []  # plain group chatter is not for the bot
        if msg.person is None:
            return [Reply(NOT_REGISTERED)]
        if not text and msg.attachments:
            return await self._media(msg, services) if self._media else []
        if self._text is None:
            return []
        return await self._text(msg, services)

    async def _route_other(self, msg: Incoming, services: Services) -> list[Reply]:
        handler = self._events.get(msg.kind)
        if handler is not None:
            return await handler(msg, services)
        if msg.chat_type != "private":
            return []  # nobody in a group needs to hear about stickers
        if msg.kind == "edited":
            return [
                Reply(
                    "修改后的消息我收不到新内容,已提交的金点子不会跟着改。"
                    "如需更正,请重新发送一条,再把原来那条撤回。"
                )
            ]
        if msg.kind == "unsupported":
            return [Reply("这类消息我看不懂。请直接发文字说说您的金点子,也可以附一张照片。")]
        return []

    async def _route_command(self, msg: Incoming, text: str, services: Services) -> list[Reply]:
        word, _, args = text.partition(" ")
        if "\n" in word:
            word, _, rest = word.partition("\n")
            args = f"{rest} {args}".strip()
        name = word[1:].split("@", 1)[0].lower()
        command = self.commands.get(name)
        if command is None:
            if msg.chat_type != "private":
                return []  # commands meant for other bots in the group
            shown = name if len(name) <= 20 else name[:20] + "…"
            return [Reply(f"没有 /{shown} 这个命令。发送 /help 查看您能用的命令。")]
        if not command.allows(msg):
            if msg.person is None:
                return [Reply(NOT_REGISTERED)]
            need = "、".join(ROLE_NAMES.get(r, r) for r in sorted(command.roles or ()))
            return [Reply(f"/{name} 只有{need}可以使用,您的账号没有这个权限。")]
        return await command.handler(dataclasses.replace(msg, args=args.strip()), services)

    async def _route_callback(self, msg: Incoming, services: Services) -> list[Reply]:
        if msg.person is None:
            return [Reply(NOT_REGISTERED)]
        prefix = (msg.callback or "").split(":", 1)[0]
        handler = self._callbacks.get(prefix)
        if handler is None:
            return [Reply("这个按钮已经失效了,请重新发送命令。")]
        return await handler(msg, services)

    async def _help(self, msg: Incoming, services: Services) -> list[Reply]:
        """查看您能用的命令"""
        lines = ["您可以使用这些命令:"]
        for command in sorted(self.commands.values(), key=lambda c: c.name):
            if command.allows(msg) and command.summary:
                lines.append(f"/{command.name} — {command.summary}")
        if msg.person is not None:
            lines.append("直接发送一段文字,就是提交一条金点子。")
        else:
            lines.append("先发送 /start 登记,才能提交金点子。")
        return [Reply("\n".join(lines))]
