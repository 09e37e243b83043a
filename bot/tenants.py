"""Mines as tenants of one deployment: one `Services` per mine, and the router that hands
each update to the services of the mine it belongs to.

Each mine's services see only that mine's rows: their repositories run on the database
scoped to the mine (row-level security on PostgreSQL), so no handler can forget the mine.
One Telegram bot and one WeCom app serve every mine: the mine of an update is found from
the chat's group binding, the sender's identity or WeCom account, or, for a newcomer, the
mine they pick before registering (the lobby). A mine may also have a Telegram bot of its
own, its own channel (`telegram:<mine>`): whatever reaches that bot is the mine's. With one
mine nothing is looked up.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.config import Config, TelegramConfig
from handlers.messages import Button, Incoming, Outcome, Reply
from handlers.router import Feature, Router
from handlers.services import Services
from storage.repos.mines import GROUP_SCOPE, MineRepo

log = logging.getLogger(__name__)

CHOOSE_PREFIX = "mine"
"""Callback data `mine:<id>`: a newcomer's pick in the lobby."""
SWITCH_WORDS = frozenset({"/mine", "换矿", "选矿"})
MAX_MINE_BUTTONS = 8


TELEGRAM = "telegram"
"""The channel of the group's Telegram bot (of the one mine's, without `mines:`)."""


def own_bot_channel(mine: str) -> str:
    """The channel of a mine's own Telegram bot: its identities, groups, inbox and outbox."""
    return f"{TELEGRAM}:{mine}"


@dataclass(frozen=True, slots=True)
class TelegramBot:
    """One configured Telegram bot: the group's (`mine` None) or a mine's own."""

    channel: str
    config: TelegramConfig
    mine: str | None = None


def telegram_bots(config: Config) -> list[TelegramBot]:
    """Every Telegram bot to serve: the group's when its token is set, then each mine's own."""
    bots = [TelegramBot(TELEGRAM, config.telegram)] if config.telegram.enabled else []
    for mine in config.each_mine():
        if mine.telegram is not None:
            bots.append(TelegramBot(own_bot_channel(mine.id), mine.telegram, mine.id))
    return bots


def telegram_channel_of(config: Config, mine: str) -> str:
    """Where a mine's configured Telegram groups are bound: its own bot, else the group's."""
    own = next((m.telegram for m in config.each_mine() if m.id == mine), None)
    return own_bot_channel(mine) if own is not None else TELEGRAM


def robot_prefix(config: Config, mine: str) -> str:
    """What a branch's robot group chat id starts with: nothing with one mine (the branch
    id alone, as before mines), "<mine>/" with several, so two mines' b01 are two groups."""
    return "" if not config.mines else f"{mine}/"


@dataclass(frozen=True, slots=True)
class Tenants:
    """Every mine's services, in configured order, and the names people read."""

    services: Mapping[str, Services]
    names: Mapping[str, str]
    bots: Mapping[str, str] = field(default_factory=dict)
    """The channel of each mine's own bot → that mine: its updates are the mine's."""

    @property
    def main(self) -> Services:
        """The first mine's services (their shared tables are every mine's)."""
        return next(iter(self.services.values()))

    @property
    def single(self) -> bool:
        return len(self.services) == 1

    def directory(self) -> MineRepo:
        """The mine directory, reading every mine's rows (the group scope)."""
        return MineRepo(self.main.repos.db.scoped(GROUP_SCOPE))

    def all(self) -> Iterable[tuple[str, Services]]:
        return self.services.items()


class MineRouter(Router):
    """The router of a deployment with several mines: each update runs on the services of
    its chat's mine; a stranger first picks a mine."""

    def __init__(self, features: Iterable[Feature], tenants: Tenants) -> None:
        super().__init__(features)
        self._tenants = tenants

    async def dispatch(self, msg: Incoming, services: Services) -> Outcome:
        tenants = self._tenants
        if tenants.single:
            return await super().dispatch(msg, services)
        own = tenants.bots.get(msg.channel)
        if own is not None:  # a mine's own bot: never the lobby
            return await super().dispatch(msg, tenants.services[own])
        directory = tenants.directory()
        known = await directory.known(msg.channel, msg.chat_id, msg.sender_id)
        if known is not None and known in tenants.services:  # registered, or a bound group
            return await super().dispatch(msg, tenants.services[known])
        chosen = await directory.chosen(msg.channel, msg.chat_id)
        if chosen is not None and chosen in tenants.services and not _switching(msg):
            return await super().dispatch(msg, tenants.services[chosen])
        return await self._lobby(msg)

    async def _lobby(self, msg: Incoming) -> Outcome:
        """A chat of no known mine: a private chat is asked to pick one (and, once it has,
        starts registering there); a group of strangers is left alone."""
        tenants = self._tenants
        repos = tenants.main.repos
        now = tenants.main.now()
        picked = _picked(msg, tenants.names)
        async with repos.db.transaction():
            if await repos.inbox.status(msg.channel, msg.update_id) in ("done", "failed"):
                return Outcome(duplicate=True)
            if msg.chat_type != "private":
                await repos.inbox.finish(msg.channel, msg.update_id, "done", now)
                return Outcome()
            if picked is not None:
                await repos.mines.choose(msg.channel, msg.chat_id, picked, now)
        if picked is not None:
            log.info("chat %s/%s picked mine %s", msg.channel, msg.chat_id, picked)
            start = dataclasses.replace(msg, text="/start", callback=None, args="")
            return await super().dispatch(start, tenants.services[picked])
        replies = [lobby_prompt(tenants.names)]
        async with repos.db.transaction():
            if msg.channel and msg.chat_id:
                await repos.mines.forget(msg.channel, msg.chat_id)
            await self._queue(msg, replies, tenants.main)
            await repos.inbox.finish(msg.channel, msg.update_id, "done", now)
        tenants.main.outbox_signal.set()
        return Outcome(replies)


def lobby_prompt(names: Mapping[str, str]) -> Reply:
    listed = list(names.items())
    lines = [f"{n}. {name}" for n, (_, name) in enumerate(listed, 1)]
    buttons: tuple[tuple[Button, ...], ...] = ()
    if len(listed) <= MAX_MINE_BUTTONS:
        buttons = tuple((Button(name, f"{CHOOSE_PREFIX}:{mine}"),) for mine, name in listed)
    return Reply(
        "您好,这里是集团金点子。请先选择您所在的矿(点按钮,或回复序号、矿名):\n"
        + "\n".join(lines)
        + "\n登记之前选错了,随时发送 /mine 重新选择。",
        buttons=buttons,
    )


def _switching(msg: Incoming) -> bool:
    return msg.callback is None and msg.text.strip() in SWITCH_WORDS


def _picked(msg: Incoming, names: Mapping[str, str]) -> str | None:
    """The mine a lobby answer names: its button, its number in the list or its name."""
    listed = list(names)
    if msg.callback is not None:
        prefix, _, mine = msg.callback.partition(":")
        return mine if prefix == CHOOSE_PREFIX and mine in names else None
    text = msg.text.strip()
    if text.isascii() and text.isdecimal() and 1 <= int(text) <= len(listed):
        return listed[int(text) - 1]
    for mine, name in names.items():
        if text and text in (name, mine):
            return mine
    return None
