"""The Telegram channel: python-telegram-bot's Application with our own durable intake.

PTB's own polling confirms updates as soon as they are queued and its webhook answers
200 before handlers run, so a crash would lose them. Here every raw update is committed
to the inbox first and confirmed only after that commit (the next getUpdates offset, or
the webhook's 200); a processor task feeds stored updates to the Application, whose one
handler translates them into neutral messages for the router. The router marks each
update done in the same transaction as its effect, so after a crash the unfinished ones
are processed on start-up, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
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
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.config import TelegramConfig
from bot.intake import RETRY_DELAY_S, process_forever
from bot.outbox import RetryLater, Undeliverable
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
from handlers.router import Router
from handlers.services import Services
from storage import Repositories

log = logging.getLogger(__name__)

CHANNEL = "telegram"
POLL_TIMEOUT_S = 25
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram"


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


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def translate(update: Update) -> Incoming | None:
    """A Telegram update as the router's neutral message; None for what the bot ignores."""
    update_id = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or query.data is None:
            return None
        return Incoming(
            channel=CHANNEL,
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
            CHANNEL,
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
            CHANNEL,
            update_id,
            str(edited.chat.id),
            str(sender.id if sender else 0),
            chat_type=_chat_type(edited.chat.type),
            kind="edited",
        )
    message = update.message
    if message is None or message.from_user is None:
        return None  # channel posts, polls, inline queries: not for this bot
    return _from_message(update_id, message)


def _chat_type(kind: str) -> ChatType:
    return "private" if kind == "private" else "group"


def _from_message(update_id: str, message: Message) -> Incoming:
    assert message.from_user is not None
    base = Incoming(
        channel=CHANNEL,
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
    """Adapter (Telegram → router) and transport (outbox → Telegram) in one."""

    channel = CHANNEL

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        config: TelegramConfig,
        router: Router,
        services: Services,
    ) -> None:
        self.application = application
        self._config = config
        self._router = router
        self._services = services
        self._stored = asyncio.Event()
        application.add_handler(TypeHandler(Update, self._on_update))

    @property
    def _repos(self) -> Repositories:
        return self._services.repos

    # -- intake -----------------------------------------------------------------------------

    async def store(self, raw_updates: list[tuple[str, str]]) -> int:
        """Commit raw updates (id, JSON) to the inbox; returns how many were new."""
        new = 0
        async with self._repos.db.transaction():
            for update_id, raw in raw_updates:
                new += await self._repos.inbox.store(CHANNEL, update_id, raw, self._services.now())
        self._stored.set()
        return new

    async def process_pending(self) -> int:
        """Feed every stored, unprocessed update to the Application, oldest first."""
        done = 0
        while pending := await self._repos.inbox.pending(CHANNEL):
            for update_id, raw in pending:
                try:
                    update = Update.de_json(json.loads(raw), self.application.bot)
                except Exception:  # one unreadable update must not block the ones behind it
                    log.exception("Telegram update %s cannot be read", update_id)
                    async with self._repos.db.transaction():
                        await self._repos.inbox.finish(
                            CHANNEL, update_id, "failed", self._services.now()
                        )
                    continue
                await self.application.process_update(update)
                done += 1
        return done

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = translate(update)
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # too old to answer: the press still counts
                await update.callback_query.answer()
        if msg is None:
            async with self._repos.db.transaction():
                await self._repos.inbox.finish(
                    CHANNEL, str(update.update_id), "done", self._services.now()
                )
            return
        await self._router.dispatch(msg, self._services)

    async def _poll_forever(self, stop: asyncio.Event) -> None:
        bot = self.application.bot
        await bot.delete_webhook()
        offset: int | None = None
        while not stop.is_set():
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=Update.ALL_TYPES
                )
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except TelegramError as exc:
                log.warning("getUpdates failed: %s", exc)
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            if not updates:
                continue
            # Committed before the next getUpdates confirms them to Telegram.
            await self.store([(str(u.update_id), u.to_json()) for u in updates])
            offset = max(u.update_id for u in updates) + 1

    # -- webhook ----------------------------------------------------------------------------

    def webhook_app(self) -> web.Application:
        secret = self._config.webhook_secret.get() if self._config.webhook_secret else ""

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("webhook request with a wrong secret token from %s", request.remote)
                return web.Response(status=403)
            try:
                body = await request.json()
                update_id = int(body["update_id"])
            except (ValueError, KeyError, TypeError):
                return web.Response(status=400)
            await self.store([(str(update_id), json.dumps(body, ensure_ascii=False))])
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
        intake = self._serve_webhook if self._config.mode == "webhook" else self._poll_forever
        tasks = [
            asyncio.create_task(intake(stop)),
            asyncio.create_task(
                process_forever("Telegram", self.process_pending, self._stored, stop)
            ),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _set_commands(self) -> None:
        commands = [BotCommand(c.name, c.summary[:256]) for c in self._router.menu()]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", exc)

    # -- transport --------------------------------------------------------------------------

    async def send(self, chat_id: str, message: Outgoing) -> None:
        try:
            await self._send(chat_id, message)
        except ChatMigrated as exc:
            new_id = str(exc.new_chat_id)
            async with self._repos.db.transaction():
                await self._repos.groups.migrate(CHANNEL, chat_id, new_id, self._services.now())
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
        image = message.image_path
        if image:
            caption = text[: MessageLimit.CAPTION_LENGTH]
            photo = await asyncio.to_thread(Path(image).read_bytes)
            await bot.send_photo(chat_id, photo, caption=caption, reply_markup=markup)
            text = text[len(caption) :]
            if not text.strip():
                return
            markup = None
        pieces = split_text(text, MessageLimit.MAX_TEXT_LENGTH)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await bot.send_message(chat_id, piece, reply_markup=markup if last else None)


@asynccontextmanager
async def open_telegram(
    config: TelegramConfig, router: Router, services: Services
) -> AsyncIterator[TelegramChannel]:
    """The initialised Application (getMe done), shut down on exit."""
    application = build_application(config)
    channel = TelegramChannel(application, config, router, services)
    async with application:
        yield channel
