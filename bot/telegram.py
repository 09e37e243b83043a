"""The Telegram channel: python-telegram-bot's Application with our own durable intake.

PTB's own polling confirms updates as soon as they are queued and its webhook answers
200 before handlers run, so a crash would lose them. Here every raw update is committed
to the inbox first and confirmed only after that commit (the next getUpdates offset, or
the webhook's 200); a processor task reads each stored update (PTB's parsing included)
and translates it into a neutral message for the router, under `process_stored`, so an
update that cannot be read or handled is tried three times and then set aside. The router
marks each update done in the same transaction as its effect, so after a crash the
unfinished ones are processed on start-up, exactly once.

Each bot is a channel of its own: the group's is `CHANNEL`, a mine's own bot
`telegram:<mine>` (`bot.tenants.own_bot_channel`); a `TelegramChannel` keys its inbox,
identities, groups, menus and heartbeat by its `channel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, Application
from telegram.warnings import PTBUserWarning

from bot.config import TelegramConfig
from bot.instance import Leases, Runner, Unleased, polling_lease
from bot.intake import process_forever, process_stored, supervise, wait_either
from bot.outbox import RetryLater, Undeliverable
from bot.status import HEARTBEAT
from bot.text import split_text
from handlers.messages import (
    ChatType,
    Incoming,
    IncomingAttachment,
    Kind,
    Outgoing,
    Rows,
    SharedContact,
)
from handlers.router import Command, PublicCommand, Router
from handlers.services import Services
from storage import Repositories
from storage.repos.mines import GROUP_SCOPE

log = logging.getLogger(__name__)

CHANNEL = "telegram"
POLL_TIMEOUT_S = 25
POLL_READ_MARGIN_S = 10
"""A long poll's read waits for Telegram's timeout plus this."""
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram"
HEARTBEAT_EVERY_S = 30.0
MENU_CALLS_PER_SECOND = 4.0
"""setMyCommands for people's chats at start-up and after changes: a few a second at most."""
MENU_SWEEP_EVERY_S = 60.0
"""Roles changed outside Telegram (a roster import, /role on WeCom) reach menus this late."""
MENU_SWEEP_GAP_S = 2.0
"""Menus are compared again at most this often, however many updates arrive."""

Menu = list[tuple[str, str]]
"""A command menu as (command, description) pairs."""


def menu_entries(commands: list[Command | PublicCommand]) -> Menu:
    return [(c.name, c.summary[:256]) for c in commands]


def build_application(config: TelegramConfig) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application, for any Bot API server (`telegram.base_url`), with a rate limiter."""
    # PTB 22 warns on every int-valued retry_after unless timedeltas are switched on.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    assert config.token is not None
    return (
        Application.builder()
        .token(config.token.get())
        .base_url(config.base_url)
        .base_file_url(config.base_file_url)
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=config.max_messages_per_second,
                group_max_rate=config.max_messages_per_minute_per_group,
                max_retries=3,
            )
        )
        .updater(None)
        .build()
    )


def inbox_key(body: object) -> str:
    """An update's inbox id: its update_id, or for something that is no update a hash of it
    (kept all the same, so that it is set aside and shown rather than lost)."""
    update_id = body.get("update_id") if isinstance(body, dict) else None
    if type(update_id) is int:
        return str(update_id)
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    return "invalid:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def translate(update: Update, channel: str = CHANNEL) -> Incoming | None:
    """A Telegram update to the bot of `channel` as the router's neutral message; None for
    what the bot ignores."""
    update_id = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or query.data is None:
            return None
        return Incoming(
            channel=channel,
            update_id=update_id,
            chat_id=str(message.chat.id),
            sender_id=str(query.from_user.id),
            chat_type=_chat_type(message.chat.type),
            callback=query.data,
            message_ref=str(message.message_id),
        )
    if update.my_chat_member is not None:
        member = update.my_chat_member
        status = member.new_chat_member.status
        kind: Kind = "bot_removed" if status in ("left", "kicked") else "bot_added"
        return Incoming(
            channel,
            update_id,
            str(member.chat.id),
            str(member.from_user.id),
            chat_type=_chat_type(member.chat.type),
            kind=kind,
        )
    if update.edited_message is not None:
        edited = update.edited_message
        sender = edited.from_user
        return Incoming(
            channel,
            update_id,
            str(edited.chat.id),
            str(sender.id if sender else 0),
            chat_type=_chat_type(edited.chat.type),
            kind="edited",
        )
    message = update.message
    if message is None or message.from_user is None:
        return None  # channel posts, polls, inline queries: not for this bot
    return _from_message(update_id, message, channel)


def sender_of(raw: str) -> str | None:
    """Whom to tell when a stored update is set aside: the private chat of its sender."""
    data = json.loads(raw)
    for value in data.values() if isinstance(data, dict) else ():
        sender = value.get("from") if isinstance(value, dict) else None
        user_id = sender.get("id") if isinstance(sender, dict) else None
        if type(user_id) is int:
            return str(user_id)
    return None


def chat_of(raw: str) -> str:
    """The inbox's chat of a raw update: its sender (conversations and a person's own records
    are per sender), else the chat it came from, else '' (one queue for the nameless)."""
    try:
        sender = sender_of(raw)
        data = json.loads(raw)
    except ValueError:
        return ""
    if sender is not None:
        return sender
    for value in data.values() if isinstance(data, dict) else ():
        chat = value.get("chat") if isinstance(value, dict) else None
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if type(chat_id) is int:
            return str(chat_id)
    return ""


def _chat_type(kind: str) -> ChatType:
    return "private" if kind == "private" else "group"


def _from_message(update_id: str, message: Message, channel: str) -> Incoming:
    assert message.from_user is not None
    base = Incoming(
        channel=channel,
        update_id=update_id,
        chat_id=str(message.chat.id),
        sender_id=str(message.from_user.id),
        chat_type=_chat_type(message.chat.type),
    )
    if message.migrate_to_chat_id is not None:
        return replace(base, kind="migrated", migrate_to=str(message.migrate_to_chat_id))
    if message.contact is not None:  # user_id: whose account the number belongs to, if any
        owner = message.contact.user_id
        contact = SharedContact(message.contact.phone_number, str(owner) if owner else None)
        return replace(base, contact=contact)
    attachments: list[IncomingAttachment] = []
    if message.photo:
        attachments.append(IncomingAttachment("photo", message.photo[-1].file_id))
    if message.voice is not None:
        attachments.append(IncomingAttachment("voice", message.voice.file_id))
    if message.document is not None:
        attachments.append(IncomingAttachment("file", message.document.file_id))
    text = message.text or message.caption or ""
    if not text and not attachments:
        return replace(base, kind="unsupported")  # stickers, locations, service messages
    return replace(base, text=text, attachments=tuple(attachments))


def _markup(buttons: Rows) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if not buttons:
        return None
    if any(b.request_contact for row in buttons for b in row):  # a keyboard under the input
        return ReplyKeyboardMarkup(
            [[KeyboardButton(b.label, request_contact=b.request_contact) for b in row]
             for row in buttons],
            one_time_keyboard=True,
            resize_keyboard=True,
        )  # fmt: skip
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons]
    )


class TelegramChannel:
    """Adapter (Telegram → router) and transport (outbox → Telegram) in one, for the bot of
    `channel`."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        config: TelegramConfig,
        router: Router,
        services: Services,
        leases: Leases | None = None,
        *,
        channel: str = CHANNEL,
    ) -> None:
        self.channel = channel
        self.heartbeat = HEARTBEAT + channel.removeprefix(CHANNEL)
        """`telegram_poll` for the group's bot, `telegram_poll:<mine>` for a mine's own."""
        self.application = application
        self._config = config
        self._leases = leases or Unleased()
        self._router = router
        self._services = services
        self._stored = asyncio.Event()
        self._answers: set[asyncio.Task[None]] = set()
        self._offset: int | None = None
        self._last_beat = -HEARTBEAT_EVERY_S
        self._menus_due = asyncio.Event()
        self.menus_synced = asyncio.Event()
        """Set once every bound person's menu was compared (and set where it changed)."""
        self._menus_shown: dict[str, Menu] | None = None
        self._next_menu_call = 0.0

    @property
    def _repos(self) -> Repositories:
        return self._services.repos

    # -- intake -----------------------------------------------------------------------------

    async def store(self, raw_updates: list[tuple[str, str]]) -> int:
        """Commit raw updates (id, JSON) to the inbox; returns how many were new."""
        new = 0
        async with self._repos.db.transaction():
            for update_id, raw in raw_updates:
                new += await self._repos.inbox.store(
                    self.channel, update_id, raw, self._services.now(), chat=chat_of(raw)
                )
        self._stored.set()
        return new

    async def process_pending(self) -> int:
        """Handle every stored, unprocessed update, oldest first."""
        done = await process_stored(self._services, self.channel, self._handle, sender_of)
        if done:  # a registration or a /role among them changes somebody's menu
            self._menus_due.set()
        return done

    async def _handle(self, update_id: str, raw: str) -> None:
        data = json.loads(raw)
        if not isinstance(data, dict) or str(data.get("update_id")) != update_id:
            raise ValueError("not a Telegram update (update_id missing or not an integer)")
        update = Update.de_json(data, self.application.bot)
        msg = translate(update, self.channel)
        if update.callback_query is not None:
            # Not awaited: the update runs inside the intake's group transaction, which must
            # not wait for a network round trip; the answer only stops the button's spinner.
            task = asyncio.create_task(self._answer(update.callback_query))
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)
        if msg is None:
            async with self._repos.db.transaction():
                await self._repos.inbox.finish(
                    self.channel, update_id, "done", self._services.now()
                )
            return
        await self._router.dispatch(msg, self._services)

    @staticmethod
    async def _answer(query: CallbackQuery) -> None:
        with contextlib.suppress(TelegramError):  # too old to answer: the press still counts
            await query.answer()

    async def _poll_forever(self, stop: asyncio.Event) -> None:
        await self.application.bot.delete_webhook()
        await supervise("Telegram polling", lambda: self._poll_once(stop), stop)

    async def _poll_once(self, stop: asyncio.Event) -> None:
        # A long poll stays open up to POLL_TIMEOUT_S: one in flight is given up when the bot
        # stops, so a stop (SIGTERM, a lost lease) takes effect at once. Nothing is lost:
        # the updates of a request given up are confirmed by no offset, so they come again.
        fetch = asyncio.ensure_future(self._raw_updates())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetch
        if fetch.cancelled():
            return
        try:
            updates = fetch.result()
        except RetryAfter as exc:
            await wait_either(stop, stop, _seconds(exc.retry_after))
            return
        if updates:
            # Committed before the next getUpdates confirms them to Telegram.
            await self.store([(inbox_key(u), json.dumps(u, ensure_ascii=False)) for u in updates])
            ids = [u["update_id"] for u in updates if type(u.get("update_id")) is int]
            if ids:
                self._offset = max(ids) + 1
        if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_S or updates:
            async with self._repos.db.transaction():
                await self._repos.heartbeats.beat(self.heartbeat, self._services.now())
            self._last_beat = time.monotonic()

    async def _raw_updates(self) -> list[dict[str, Any]]:
        """getUpdates as Telegram sent it. PTB's `get_updates` parses as it fetches, and an
        update it cannot read would then stall polling; parsed later, under containment, such
        an update is tried three times and set aside like any other."""
        with warnings.catch_warnings():
            # PTB warns that Bot.getUpdates exists: its raw result is what we want here.
            warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'", PTBUserWarning)
            result = await self.application.bot.do_api_request(
                "getUpdates",
                api_kwargs={
                    "offset": self._offset,
                    "timeout": POLL_TIMEOUT_S,
                    "allowed_updates": Update.ALL_TYPES,
                },
                read_timeout=POLL_TIMEOUT_S + POLL_READ_MARGIN_S,
            )
        if not isinstance(result, list):
            raise ValueError(f"getUpdates returned {type(result).__name__}, not a list")
        return [u if isinstance(u, dict) else {"unreadable": u} for u in result]

    # -- webhook ----------------------------------------------------------------------------

    def webhook_app(self) -> web.Application:
        secret = self._config.webhook_secret.get() if self._config.webhook_secret else ""

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("webhook request with a wrong secret token from %s", request.remote)
                return web.Response(status=403)
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                return web.Response(status=400)  # not JSON at all: nothing to keep
            # JSON that is not a proper update is kept all the same (and set aside by the
            # processor, so `jindianzi status` shows it); 200 stops Telegram's retries.
            await self.store([(inbox_key(body), json.dumps(body, ensure_ascii=False))])
            return web.Response(status=200)  # only now: the update is committed

        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(WEBHOOK_PATH, receive)
        return app

    async def _serve_webhook(self, stop: asyncio.Event) -> None:
        host, _, port = self._config.webhook_listen.rpartition(":")
        runner = web.AppRunner(self.webhook_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host or "127.0.0.1", int(port))
        await site.start()
        try:
            assert self._config.webhook_secret is not None
            await self.application.bot.set_webhook(
                url=self._config.webhook_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=self._config.webhook_secret.get(),
                allowed_updates=Update.ALL_TYPES,
            )
            await stop.wait()
        finally:
            await runner.cleanup()

    async def run(self, stop: asyncio.Event) -> None:
        """Intake and processing until `stop` is set."""
        await self._set_commands()
        intake: Runner
        if self._config.mode == "webhook":
            intake = self._serve_webhook  # every process serves it: the inbox keeps it once
        else:
            assert self._config.token is not None
            lease = polling_lease(self._config.token.get())
            intake = self._leases.leased(lease, self._poll_forever)  # one poller at a time
        tasks = [
            asyncio.create_task(intake(stop)),
            asyncio.create_task(
                process_forever("Telegram", self.process_pending, self._stored, stop)
            ),
            asyncio.create_task(self._menus_forever(stop)),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _set_commands(self) -> None:
        commands = [BotCommand(n, d) for n, d in menu_entries(self._router.menu())]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", exc)

    # -- per-person command menus -----------------------------------------------------------
    #
    # The default scope holds what every registered person may use; a person whose roles
    # allow more gets their own menu (BotCommandScopeChat of their private chat) listing the
    # router's `menu_for` them, the same list as their /help. Who holds which role is read
    # from storage and compared with the menu last set for each chat (kept in the database),
    # at start-up, after each batch of Telegram updates (a registration or a /role among them)
    # and every MENU_SWEEP_EVERY_S for changes made elsewhere; only a menu that changed is
    # sent, paced to MENU_CALLS_PER_SECOND. So no handler knows about menus.

    async def _menus_forever(self, stop: asyncio.Event) -> None:
        async def round_() -> None:
            self._menus_due.clear()
            await self.sync_menus()
            self.menus_synced.set()
            await wait_either(stop, stop, MENU_SWEEP_GAP_S)
            await wait_either(self._menus_due, stop, MENU_SWEEP_EVERY_S)

        await supervise("Telegram command menus", round_, stop)

    async def sync_menus(self) -> int:
        """Set or remove each bound person's own menu where it changed; how many calls."""
        repos = self._repos
        if self._menus_shown is None:
            self._menus_shown = await repos.menus.command_menus(self.channel)
        shown = self._menus_shown
        default = menu_entries(self._router.menu())
        wanted: dict[str, Menu | None] = {}
        everyone = Repositories(repos.db.scoped(GROUP_SCOPE))  # people of every mine
        for chat_id, person in await everyone.people.bound(self.channel):
            own = menu_entries(self._router.menu_for(person))
            wanted[chat_id] = None if own == default else own
        changes: list[tuple[str, Menu | None]] = [
            (c, m) for c, m in wanted.items() if m is not None and shown.get(c) != m
        ]
        changes += [(c, None) for c in list(shown) if wanted.get(c) is None]
        for chat_id, change in changes:
            await self._set_menu(chat_id, change)
        return len(changes)

    async def _set_menu(self, chat_id: str, menu: Menu | None) -> None:
        """One chat's own menu set (or removed: the default applies), then remembered."""
        assert self._menus_shown is not None
        wait = self._next_menu_call - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_menu_call = time.monotonic() + 1 / MENU_CALLS_PER_SECOND
        bot = self.application.bot
        try:
            scope = BotCommandScopeChat(int(chat_id))
            if menu is None:
                await bot.delete_my_commands(scope=scope)
            else:
                await bot.set_my_commands([BotCommand(n, d) for n, d in menu], scope=scope)
        except RetryAfter as exc:  # tried again at the next sweep
            self._next_menu_call = time.monotonic() + _seconds(exc.retry_after)
            return
        except (BadRequest, Forbidden, ValueError) as exc:
            # The person blocked the bot or the chat is gone: remembered all the same, so that
            # it is not tried at every sweep; a later change of their menu tries again.
            log.info("command menu for chat %s not set: %s", chat_id, exc)
        async with self._repos.db.transaction():
            if menu is None:
                await self._repos.menus.forget_commands(self.channel, chat_id)
            else:
                await self._repos.menus.remember_commands(
                    self.channel, chat_id, menu, self._services.now()
                )
        if menu is None:
            self._menus_shown.pop(chat_id, None)
        else:
            self._menus_shown[chat_id] = menu

    # -- transport --------------------------------------------------------------------------

    async def send(self, chat_id: str, message: Outgoing) -> None:
        try:
            await self._send(chat_id, message)
        except ChatMigrated as exc:
            new_id = str(exc.new_chat_id)
            async with self._repos.db.transaction():
                await self._repos.groups.migrate(
                    self.channel, chat_id, new_id, self._services.now()
                )
            await self.send(new_id, message)
        except RetryAfter as exc:
            raise RetryLater(str(exc), _seconds(exc.retry_after)) from exc
        except Forbidden as exc:
            raise Undeliverable(f"forbidden: {exc}") from exc
        except BadRequest as exc:
            raise Undeliverable(f"bad request: {exc}") from exc
        except NetworkError as exc:  # includes TimedOut
            raise RetryLater(f"network: {exc}") from exc

    async def _send(self, chat_id: str, message: Outgoing) -> None:
        bot = self.application.bot
        text = message.text
        markup = _markup(message.buttons)
        edit_ref = message.edit_ref
        if edit_ref:
            try:
                await bot.edit_message_text(
                    text[: MessageLimit.MAX_TEXT_LENGTH],
                    chat_id=chat_id,
                    message_id=int(edit_ref),
                    reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
                )
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return
                log.info("edit of %s in %s failed (%s); sending anew", edit_ref, chat_id, exc)
        image, document = message.image_path, message.document_path
        if image:
            caption = text[: MessageLimit.CAPTION_LENGTH]
            photo = await asyncio.to_thread(Path(image).read_bytes)
            text = text[len(caption) :]
            last = not document and not text.strip()  # the buttons go on the last message
            await bot.send_photo(
                chat_id, photo, caption=caption, reply_markup=markup if last else None
            )
            if last:
                return
        if document:
            # The text as the document's caption when it fits, else the document and then the
            # text: one message where possible, and never a cut text.
            path = Path(document)
            content = await asyncio.to_thread(path.read_bytes)
            fits = len(text) <= MessageLimit.CAPTION_LENGTH
            await bot.send_document(
                chat_id,
                content,
                filename=path.name,
                caption=text if fits and text.strip() else None,
                reply_markup=markup if fits else None,
            )
            if fits:
                return
        pieces = split_text(text, MessageLimit.MAX_TEXT_LENGTH)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await bot.send_message(chat_id, piece, reply_markup=markup if last else None)


@asynccontextmanager
async def open_telegram(
    config: TelegramConfig,
    router: Router,
    services: Services,
    leases: Leases | None = None,
    *,
    channel: str = CHANNEL,
) -> AsyncIterator[TelegramChannel]:
    """The initialised Application (getMe done) of the bot of `channel`, shut down on exit.
    With `leases`, only the holder of the bot's polling lease polls (several processes on
    PostgreSQL). `services` are those of the bot's mine (any mine's, for the group's bot)."""
    application = build_application(config)
    adapter = TelegramChannel(
        application, config, router, services, leases or Unleased(), channel=channel
    )
    async with application:
        yield adapter
