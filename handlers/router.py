"""The router: one entry point for every channel.

`dispatch` runs a whole update as one unit of work: it skips an update whose
platform id was processed before, resolves the sender, calls the feature handler,
queues the replies in the outbox and marks the update done, all in one
transaction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from handlers import access, parsing
from handlers.access import Roles
from handlers.messages import Incoming, Member, Outcome, Reply
from handlers.services import Services
from storage import Person

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, Services], Awaitable[list[Reply]]]
"""For what anyone may send, registered or not."""
MemberHandler = Callable[[Member, Services], Awaitable[list[Reply]]]
"""For what only registered people may send: the person is there."""
Preparer = Callable[[Incoming, Services], Awaitable[Incoming]]
"""Reads on the read connection before the write transaction; returns the message with
what it read (`Incoming.ahead`). It must not write."""

APOLOGY = (
    "抱歉,系统刚才出了点问题,您的消息没有处理成功。请稍后再发一次;如果一直不行,请告诉支部书记。"
)
NOT_REGISTERED = "您还没有登记。请私聊我发送 /start,按提示输入工号和姓名完成登记。"


def _first_line(doc: str | None) -> str:
    text = (doc or "").strip()
    return text.splitlines()[0] if text else ""


@dataclass(frozen=True, slots=True)
class Subcommand:
    """A second word of a command (`/findings note …`): its usage line and who may use it."""

    name: str
    handler: MemberHandler
    """Receives the message with `args` set to the text after the second word."""
    usage: str
    """One line, e.g. "/findings note 编号 进展"; shown in usage replies and /help."""
    roles: Roles | None = None
    """Who may use it besides the command's own roles; None: whoever may use the command."""
    refusal: str = ""
    """The polite reply for someone who may not; by default it names the roles."""


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command; its handler's first docstring line is the /help text."""

    name: str
    handler: MemberHandler
    """The command without a known second word (a number, a filter, nothing)."""
    roles: Roles | None = None
    """Roles allowed to use it; None means any registered person."""
    subcommands: tuple[Subcommand, ...] = ()

    @property
    def summary(self) -> str:
        return _first_line(self.handler.__doc__)

    def allows(self, person: Person | None) -> bool:
        return access.holds(person, self.roles)

    async def run(self, msg: Member, services: Services) -> list[Reply]:
        """Route to the second word's handler, checking its roles first."""
        word, _, rest = msg.args.strip().partition(" ")
        for sub in self.subcommands:
            if word.lower() == sub.name:
                if not access.holds(msg.person, sub.roles):
                    need = access.role_names(sub.roles or ())
                    refusal = sub.refusal or f"/{self.name} {sub.name} 只有{need}可以使用。"
                    return [Reply(refusal)]
                return await sub.handler(dataclasses.replace(msg, args=rest.strip()), services)
        return await self.handler(msg, services)


@dataclass(frozen=True, slots=True)
class PublicCommand:
    """A command anyone may send, also before registration (/start, /cancel, /help)."""

    name: str
    handler: Handler

    @property
    def summary(self) -> str:
        return _first_line(self.handler.__doc__)

    def allows(self, person: Person | None) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Feature:
    """What one handlers module contributes to the router."""

    commands: Sequence[Command | PublicCommand] = ()
    callbacks: dict[str, MemberHandler] = dataclasses.field(default_factory=dict)
    """Callback-data prefix (before the first ':') → handler."""
    states: dict[str, Handler] = dataclasses.field(default_factory=dict)
    """Conversation-state prefix (before the first '.') → handler."""
    text: MemberHandler | None = None
    """Plain text in a private chat from a registered person."""
    media: MemberHandler | None = None
    """A photo, voice note or file without text, in a private chat, from a registered person."""
    events: dict[str, Handler] = dataclasses.field(default_factory=dict)
    """Update kind (bot_added, bot_removed, migrated) → handler."""
    prepare: Preparer | None = None
    """The read part of this feature's work, done before the update's write transaction."""


def normalised(msg: Incoming) -> Incoming:
    """The update as the handlers read it: no control characters in its text or button."""
    callback = parsing.clean(msg.callback) if msg.callback is not None else None
    return dataclasses.replace(msg, text=parsing.clean(msg.text), callback=callback)


def member(msg: Incoming) -> Member | None:
    """The same message typed as from a registered person, if it is."""
    if msg.person is None:
        return None
    fields = {f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)}
    return Member(**fields)


class Router:
    def __init__(self, features: Iterable[Feature]) -> None:
        self.commands: dict[str, Command | PublicCommand] = {}
        self._callbacks: dict[str, MemberHandler] = {}
        self._states: dict[str, Handler] = {}
        self._text: MemberHandler | None = None
        self._media: MemberHandler | None = None
        self._events: dict[str, Handler] = {}
        self._preparers: list[Preparer] = []
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
            if feature.prepare is not None:
                self._preparers.append(feature.prepare)
        self.commands["help"] = PublicCommand("help", self._help)
        self._menus: dict[Hashable, tuple[Command | PublicCommand, ...]] = {}

    async def prepare(self, msg: Incoming, services: Services) -> Incoming:
        """Run the features' read parts for an update, before its write transaction.

        Work that only reads and may grow with the data (the similar-idea search) is done
        here, on the read connection (WAL readers neither wait for the writer nor hold it
        up), so the write transaction holds the lock only for the writes. A handler finds
        the result in `msg.ahead` and does the read itself when it is missing (a failing
        prepare step is logged and skipped, never the update's failure)."""
        msg = normalised(msg)
        for preparer in self._preparers:
            try:
                msg = await preparer(msg, services)
            except Exception:
                log.warning(
                    "prepare step for %s/%s failed", msg.channel, msg.update_id, exc_info=True
                )
        return msg

    async def dispatch(self, msg: Incoming, services: Services) -> Outcome:
        """Process one update exactly once; its replies are queued in the outbox.

        Inside a caller's transaction (the intake's group commit) this is one savepoint of
        it: a failure rolls back this update's work alone. The prepare step still reads on
        the read connection then, but while the group holds the write lock."""
        repos = services.repos
        msg = await self.prepare(msg, services)
        try:
            async with repos.db.transaction():
                if await repos.inbox.status(msg.channel, msg.update_id) in ("done", "failed"):
                    return Outcome(duplicate=True)
                person = await repos.people.by_identity(msg.channel, msg.sender_id)
                msg = normalised(dataclasses.replace(msg, person=person))
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
        if parsing.is_command(text):
            return await self._route_command(msg, parsing.fold(text), services)
        conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
        if conversation is not None and msg.chat_type == "private":
            handler = self._states.get(conversation.state.split(".", 1)[0])
            if handler is not None:
                return await handler(msg, services)
        if msg.chat_type != "private":
            return []  # plain group chatter is not for the bot
        sender = member(msg)
        if sender is None:
            return [Reply(NOT_REGISTERED)]
        if not text and msg.attachments:
            return await self._media(sender, services) if self._media else []
        if self._text is None:
            return []
        return await self._text(sender, services)

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
        msg = dataclasses.replace(msg, args=args.strip())
        if isinstance(command, PublicCommand):
            return await command.handler(msg, services)
        sender = member(msg)
        if sender is None:
            return [Reply(NOT_REGISTERED)]
        if not command.allows(sender.person):
            need = access.role_names(command.roles or ())
            return [Reply(f"/{name} 只有{need}可以使用,您的账号没有这个权限。")]
        return await command.run(sender, services)

    async def _route_callback(self, msg: Incoming, services: Services) -> list[Reply]:
        sender = member(msg)
        if sender is None:
            return [Reply(NOT_REGISTERED)]
        prefix = (msg.callback or "").split(":", 1)[0]
        handler = self._callbacks.get(prefix)
        if handler is None:
            return [Reply("这个按钮已经失效了,请重新发送命令。")]
        return await handler(sender, services)

    def menu(self) -> list[Command | PublicCommand]:
        """The commands every registered person may use, by name: a messenger's command menu."""
        return [
            c
            for c in sorted(self.commands.values(), key=lambda c: c.name)
            if c.summary and (isinstance(c, PublicCommand) or c.roles is None)
        ]

    def menu_for(self, person: Person | None) -> list[Command | PublicCommand]:
        """The commands this person may use, by name: their /help and their command menu
        (worked out once per standing: a menu for every bound person is cheap)."""
        key = access.standing(person)
        menu = self._menus.get(key)
        if menu is None:
            menu = self._menus[key] = tuple(
                c
                for c in sorted(self.commands.values(), key=lambda c: c.name)
                if c.summary and c.allows(person)
            )
        return list(menu)

    async def _help(self, msg: Incoming, services: Services) -> list[Reply]:
        """查看您能用的命令"""
        lines = ["您可以使用这些命令:"]
        for command in self.menu_for(msg.person):
            lines.append(f"/{command.name} — {command.summary}")
            if isinstance(command, Command):
                lines += [
                    f"    {s.usage}"
                    for s in command.subcommands
                    if access.holds(msg.person, s.roles)
                ]
        if msg.person is not None:
            lines.append("直接发送一段文字,就是提交一条金点子。")
        else:
            lines.append("先发送 /start 登记,才能提交金点子。")
        return [Reply("\n".join(lines))]
