"""The composition root: owns every lifetime and builds the one `Services` object."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.classifying import MODEL_FILE as MODEL_FILE  # where callers found them first
from bot.classifying import build_classifier as build_classifier
from bot.classifying import build_extractor as build_extractor
from bot.classifying import model_path as model_path
from bot.config import Config
from bot.console import CHANNEL as CONSOLE
from bot.console import ConsoleChannel
from bot.instance import (
    HEARTBEAT_S,
    HEARTBEAT_TIMEOUT_S,
    Leases,
    Runner,
    leases_for,
    secret_tag,
)
from bot.intake import supervise, wait_either
from bot.outbox import OutboxSender, Transport
from bot.roster import RosterProblems, import_roster
from handlers.features import build_router
from handlers.router import Router
from handlers.services import Services, Settings
from nlp import Classifier
from storage import Branch, Database, Department, Repositories
from storage.port import SqlDatabase

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class App:
    config: Config
    services: Services
    router: Router
    leases: Leases

    @property
    def repos(self) -> Repositories:
        return self.services.repos

    def sender(
        self,
        transports: list[Transport],
        only: Mapping[str, Collection[str]] | None = None,
        signal: asyncio.Event | None = None,
    ) -> OutboxSender:
        return OutboxSender(
            self.repos,
            {t.channel: t for t in transports},
            self.services.clock,
            signal or self.services.outbox_signal,
            only,
        )


@dataclass(frozen=True, slots=True)
class OutboxDomain:
    """Outbound messages under one platform rate limit, sent by one process at a time (the
    holder of `lease`) when several share a PostgreSQL database."""

    lease: str
    transports: list[Transport]
    only: dict[str, set[str]] | None = None

    async def free_claims(self, repos: Repositories) -> int:
        """Free this domain's claims: its new holder knows their sender is gone."""
        from storage.leases import release_outbox_claims

        return await release_outbox_claims(
            repos.db, [t.channel for t in self.transports], self.only
        )


def outbox_domains(config: Config, transports: list[Transport]) -> list[OutboxDomain]:
    """The rate-limit domains of the configured transports: the Telegram bot (by its token,
    hashed), the WeCom app (corp and agent) and each WeCom group robot key (hashed); group
    robot chats of branches without a key go with the first key, to be failed once."""
    domains: list[OutboxDomain] = []
    for transport in transports:
        if transport.channel == "telegram" and config.telegram.token is not None:
            tag = secret_tag(config.telegram.token.get())
            domains.append(OutboxDomain(f"outbox:telegram:{tag}", [transport]))
        elif transport.channel == "wecom":
            wecom = config.wecom
            lease = f"outbox:wecom:{wecom.corp_id}:{wecom.agent_id}"
            domains.append(OutboxDomain(lease, [transport]))
        elif transport.channel == "wecom_robot":
            robots = transport
            keys: dict[str, set[str]] = {}
            keyless: set[str] = set()
            for branch in config.org.branches:
                if branch.wecom_webhook_key is None:
                    keyless.add(branch.id)
                else:
                    tag = secret_tag(branch.wecom_webhook_key.get())
                    keys.setdefault(tag, set()).add(branch.id)
            if not keys:
                domains.append(OutboxDomain("outbox:wecom-robot", [robots]))
            for index, (tag, chats) in enumerate(sorted(keys.items())):
                chats = chats | keyless if index == 0 else chats
                domains.append(
                    OutboxDomain(f"outbox:wecom-robot:{tag}", [robots], {robots.channel: chats})
                )
        else:
            domains.append(OutboxDomain(f"outbox:{transport.channel}", [transport]))
    return domains


def build_settings(config: Config) -> Settings:
    """The handlers' view of the configuration, taken field by field from its sections."""
    return Settings(
        timezone=config.tz,
        max_text_chars=config.ideas.max_chars,
        min_idea_chars=config.ideas.min_chars,
        page_size=config.ideas.page_size,
        review_overdue_days=config.ideas.review_overdue_days,
        confidence_threshold=config.nlp.confidence_threshold,
        similarity_threshold=config.nlp.similarity_threshold,
        visits_per_month=config.supervision.visits_per_month,
        long_open_days=config.supervision.long_open_days,
        notify_group=config.supervision.notify_group,
        finding_leaders=config.supervision.finding_leaders,
        reward_tiers=config.reward_tiers,
        project_weight=config.scoring.project_weight,
        part_weights=config.scoring.part_weights,
        yearly_target_fen=config.scoring.yearly_benefit_target_yuan * 100,
        quarter_report_days=config.quarterly.report_days,
        bottom_branches=config.quarterly.bottom_branches,
        stalled_days=config.quarterly.stalled_days,
        chart_dir=config.storage.data_dir / "charts",
    )


@asynccontextmanager
async def open_database(config: Config) -> AsyncIterator[SqlDatabase]:
    """PostgreSQL when `storage.url` is set, else the SQLite file at `storage.path`."""
    if config.storage.url is not None:
        from storage.pg import PgDatabase  # psycopg only for those who use it

        async with PgDatabase.open(config.storage.url.get()) as pg:
            yield pg
        return
    busy_ms = int(config.storage.busy_timeout_s * 1000)
    async with Database.open(config.storage.path, busy_timeout_ms=busy_ms) as db:
        yield db


@asynccontextmanager
async def open_storage(config: Config) -> AsyncIterator[Repositories]:
    """Open the database and mirror the configured organisation into it."""
    async with open_database(config) as db:
        repos = Repositories(db)
        await repos.org.sync(
            [Department(d.id, d.name) for d in config.org.departments],
            [Branch(b.id, b.name, b.department) for b in config.org.branches],
        )
        async with repos.db.transaction():  # groups named in config need no /bind
            for b in config.org.branches:
                if (
                    b.telegram_chat_id
                    and await repos.groups.get("telegram", b.telegram_chat_id) is None
                ):
                    await repos.groups.bind("telegram", b.telegram_chat_id, b.id, None, utc_now())
        yield repos


@asynccontextmanager
async def open_app(
    config: Config,
    *,
    clock: Callable[[], datetime] = utc_now,
    classifier: Classifier | None = None,
    command: str = "run",
) -> AsyncIterator[App]:
    """Storage plus the classifier: everything a chat channel needs. `command` names the
    process in the leases it takes (PostgreSQL)."""
    async with open_storage(config) as repos:
        if classifier is None:
            classifier = await asyncio.to_thread(build_classifier, config)
        await index_ideas(repos, classifier)
        services = Services(
            repos=repos,
            classifier=classifier,
            settings=build_settings(config),
            clock=clock,
            outbox_signal=asyncio.Event(),
        )
        yield App(config, services, build_router(), leases_for(repos.db, command, clock))


async def index_ideas(repos: Repositories, classifier: Classifier) -> int:
    """Add ideas stored before the similarity index existed to it."""
    done = 0
    while batch := await repos.ideas.unindexed():
        async with repos.db.transaction():
            for idea_id, text in batch:
                await repos.ideas.index_terms(idea_id, classifier.terms(text))
        done += len(batch)
    return done


async def load_sample_roster(app: App) -> int:
    """On first start, load the configured sample roster so a newcomer can try the bot."""
    path = app.config.storage.sample_roster
    if path is None or await app.repos.people.count() > 0:
        return 0
    if not path.is_file():
        log.warning("sample roster %s not found; skipped", path)
        return 0
    try:
        return await import_roster(path, app.repos, app.services.now())
    except RosterProblems as exc:
        log.warning("sample roster not loaded: %s", "; ".join(exc.problems))
        return 0


CONSOLE_BANNER = (
    "金点子 控制台。发送 /start 登记(示例花名册:工号 E001,姓名 张三),"
    "直接输入文字就是提交金点子;按钮输入数字选择;/help 查看命令,/quit 退出。"
)


async def run_console(app: App, as_employee_no: str | None) -> None:
    """A terminal chat on the configured database."""
    await load_sample_roster(app)
    sender_id = "local"
    banner = CONSOLE_BANNER
    if as_employee_no:
        person = await app.repos.people.by_employee_no(as_employee_no)
        if person is None:
            raise LookupError(f"花名册里没有工号 {as_employee_no}")
        sender_id = f"local-{person.employee_no}"
        async with app.repos.db.transaction():
            if await app.repos.people.identity_of(person.id, "console") != sender_id:
                await app.repos.people.unbind_identity("console", person.id)
                await app.repos.people.bind_identity(
                    person.id, "console", sender_id, app.services.now()
                )
        banner = (
            f"金点子 控制台,当前身份:{person.name}(工号 {person.employee_no})。"
            "直接输入文字就是提交金点子;/help 查看命令,/quit 退出。"
        )
    console = ConsoleChannel(sender_id)
    sender = app.sender([console], only={CONSOLE: {sender_id}})  # others' notices stay queued
    await console.run(app.router, app.services, sender, banner)


@asynccontextmanager
async def open_channels(app: App) -> AsyncIterator[tuple[list[Any], list[Transport]]]:
    """The configured messenger channels: (their intake runners, every outbound transport)."""
    config = app.config
    async with AsyncExitStack() as stack:
        runners: list[Any] = []
        transports: list[Transport] = []
        if config.telegram.enabled:
            # Imported here: python-telegram-bot and aiohttp cost ~0.5 s and are needed only
            # when a Telegram token is configured.
            from bot.telegram import open_telegram

            telegram = await stack.enter_async_context(
                open_telegram(config.telegram, app.router, app.services, app.leases)
            )
            runners.append(telegram.run)
            transports.append(telegram)
            log.info("serving Telegram (%s)", config.telegram.mode)
        if config.wecom.enabled:
            from bot.wecom import open_wecom  # wechatpy and aiohttp: only when WeCom is set up

            wecom, robots = await stack.enter_async_context(
                open_wecom(config.wecom, config.org, app.router, app.services)
            )
            runners.append(wecom.run)
            transports += [wecom, robots]
        yield runners, transports


async def run(app: App) -> None:
    """Every configured channel plus the outbox sender, in one event loop; the console when
    no messenger is configured."""
    config = app.config
    if not (config.telegram.enabled or config.wecom.enabled):
        await run_console(app, None)
        return
    # APScheduler only for the scheduler that runs beside the channels (the console has none).
    from scheduler.runner import build_scheduler, catch_up

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_channels(app) as (runners, transports):
        runners = [*runners, *senders(app, transports)]
        scheduler = build_scheduler(app.services, config.schedule, config.misfire_grace)
        scheduler.start()
        caught_up = asyncio.create_task(  # the ledger keeps it apart from scheduled runs
            supervise(
                "schedule catch-up",
                lambda: catch_up(app.services, config.schedule, config.misfire_grace),
                stop,
                once=True,
            )
        )
        tasks = [asyncio.create_task(runner(stop)) for runner in runners]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        scheduler.shutdown(wait=False)
        await caught_up
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                raise result


def senders(app: App, transports: list[Transport]) -> list[Runner]:
    """The outbox senders of this process: one for everything on SQLite (the instance lock
    says it is the only process); on PostgreSQL one per rate-limit domain, each running
    only while this process holds the domain's lease."""
    if not app.leases.distributed:
        return [app.sender(transports).run]
    domains = outbox_domains(app.config, transports)
    wakes = [asyncio.Event() for _ in domains]
    shared = app.services.outbox_signal

    async def fan_out(stop: asyncio.Event) -> None:  # one queued notice wakes every domain
        while not stop.is_set():
            await wait_either(shared, stop)
            shared.clear()
            for wake in wakes:
                wake.set()

    runners: list[Runner] = [fan_out]
    for domain, wake in zip(domains, wakes, strict=True):

        async def free_claims(
            stop: asyncio.Event, domain: OutboxDomain = domain, wake: asyncio.Event = wake
        ) -> None:
            # A predecessor that lost its connection stops within a heartbeat (and its
            # timeout); claims still held after that are a dead sender's.
            await wait_either(stop, stop, HEARTBEAT_S + HEARTBEAT_TIMEOUT_S)
            if not stop.is_set() and await domain.free_claims(app.repos):
                wake.set()

        sender = app.sender(domain.transports, domain.only, wake)
        runners.append(app.leases.leased(domain.lease, sender.run, free_claims))
    return runners
