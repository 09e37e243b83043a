"""The composition root: owns every lifetime and builds the one `Services` object."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import signal
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
from bot.tenants import (
    MineRouter,
    Tenants,
    own_bot_channel,
    robot_prefix,
    telegram_bots,
    telegram_channel_of,
)
from handlers.features import build_router, features
from handlers.router import Router
from handlers.services import MineView, Services, Settings
from nlp import Classifier
from storage import Branch, Database, Department, Repositories, StorageError
from storage.port import SqlDatabase

if TYPE_CHECKING:
    from bot.wecom import WecomApi

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class App:
    config: Config
    tenants: Tenants
    router: Router
    leases: Leases

    @property
    def services(self) -> Services:
        """The first mine's services: the only ones on a single-mine deployment."""
        return self.tenants.main

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
    """The rate-limit domains of the configured transports: each Telegram bot, the group's
    and a mine's own (by its token, hashed), the WeCom app (corp and agent) and each WeCom
    group robot key (hashed); group robot chats of branches without a key go with the first
    key, to be failed once."""
    domains: list[OutboxDomain] = []
    tokens = {b.channel: b.config.token for b in telegram_bots(config)}
    for transport in transports:
        token = tokens.get(transport.channel)
        if token is not None:
            tag = secret_tag(token.get())
            domains.append(OutboxDomain(f"outbox:telegram:{tag}", [transport]))
        elif transport.channel == "wecom":
            wecom = config.wecom
            lease = f"outbox:wecom:{wecom.corp_id}:{wecom.agent_id}"
            domains.append(OutboxDomain(lease, [transport]))
        elif transport.channel == "wecom_robot":
            robots = transport
            keys: dict[str, set[str]] = {}
            keyless: set[str] = set()
            for mine in config.each_mine():
                prefix = robot_prefix(config, mine.id)
                for branch in mine.config.org.branches:
                    chat = prefix + branch.id
                    if branch.wecom_webhook_key is None:
                        keyless.add(chat)
                    else:
                        tag = secret_tag(branch.wecom_webhook_key.get())
                        keys.setdefault(tag, set()).add(chat)
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
        web_public_url=config.web.public_url if config.web.enabled else "",
        web_link_minutes=config.web.link_minutes,
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
async def open_mines(config: Config) -> AsyncIterator[dict[str, Repositories]]:
    """Open the database and mirror each mine's configured organisation into it; the
    repositories of each mine, scoped to it, in configured order."""
    async with open_database(config) as db:
        if config.mines:
            await _refuse_unbound_role(db)
            await Repositories(db).mines.sync((m.id, m.name) for m in config.mines)
        mines = {}
        for mine in config.each_mine():
            repos = Repositories(db.scoped(mine.id))
            await _mirror_org(repos, mine.config, telegram_channel_of(config, mine.id))
            mines[mine.id] = repos
        yield mines


async def _refuse_unbound_role(db: SqlDatabase) -> None:
    """Several mines are kept apart by PostgreSQL's row-level security, which does not bind
    a superuser or a role with BYPASSRLS: connected as one, refuse rather than mix mines."""
    from storage.pg import PgDatabase

    if isinstance(db, PgDatabase) and not await db.enforces_tenancy():
        raise StorageError(
            "连接数据库的用户是超级用户或带 BYPASSRLS,行级安全约束不了它,各矿的数据会互相可见;"
            "请为 jindianzi 建一个普通用户(见 storage/README.md)"
        )


@asynccontextmanager
async def open_storage(config: Config, mine: str | None = None) -> AsyncIterator[Repositories]:
    """Open the database, mirror the organisation; the repositories of `mine` (by default
    the first)."""
    async with open_mines(config) as mines:
        yield mines[mine] if mine is not None else next(iter(mines.values()))


async def _mirror_org(repos: Repositories, config: Config, telegram: str) -> None:
    """The configured departments and branches; each branch's `telegram_chat_id` bound on
    `telegram`, the channel of the mine's Telegram bot (its own, if it has one)."""
    await repos.org.sync(
        [Department(d.id, d.name) for d in config.org.departments],
        [Branch(b.id, b.name, b.department) for b in config.org.branches],
    )
    async with repos.db.transaction():  # groups named in config need no /bind
        for b in config.org.branches:
            if b.telegram_chat_id and await repos.groups.get(telegram, b.telegram_chat_id) is None:
                await repos.groups.bind(telegram, b.telegram_chat_id, b.id, None, utc_now())


@asynccontextmanager
async def open_app(
    config: Config,
    *,
    clock: Callable[[], datetime] = utc_now,
    classifier: Classifier | None = None,
    command: str = "run",
) -> AsyncIterator[App]:
    """Storage plus the classifier: everything a chat channel needs, for every mine.

    A mine whose categories differ from the group's gets a classifier of its own; the
    mines share one outbox signal (one outbox). `command` names the process in the leases
    it takes (PostgreSQL)."""
    async with open_mines(config) as mines:
        signal_ = asyncio.Event()
        classifiers: dict[object, Classifier] = {}
        services: dict[str, Services] = {}
        for mine in config.each_mine():
            key = mine.config.categories
            if classifier is not None:
                classifiers.setdefault(key, classifier)
            elif key not in classifiers:
                classifiers[key] = await asyncio.to_thread(build_classifier, mine.config)
            await index_ideas(mines[mine.id], classifiers[key])
            services[mine.id] = Services(
                repos=mines[mine.id],
                classifier=classifiers[key],
                settings=build_settings(mine.config),
                clock=clock,
                outbox_signal=signal_,
            )
        views = tuple(
            MineView(m.id, m.name, services[m.id]) for m in config.each_mine() if not m.group
        )
        for mine in config.each_mine():
            if mine.group:  # the group office reads every mine through the mine's services
                services[mine.id] = dataclasses.replace(services[mine.id], group=views)
        bots = {own_bot_channel(m.id): m.id for m in config.each_mine() if m.telegram}
        tenants = Tenants(services, {m.id: m.name for m in config.each_mine()}, bots)
        router = build_router() if tenants.single else MineRouter(features(), tenants)
        leases = leases_for(tenants.main.repos.db, command, clock)
        yield App(config, tenants, router, leases)


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
        for bot in telegram_bots(config):  # the group's bot and each mine's own
            # Imported here: python-telegram-bot and aiohttp cost ~0.5 s and are needed only
            # when a Telegram token is configured.
            from bot.telegram import open_telegram

            services = app.services if bot.mine is None else app.tenants.services[bot.mine]
            telegram = await stack.enter_async_context(
                open_telegram(bot.config, app.router, services, app.leases, channel=bot.channel)
            )
            runners.append(telegram.run)
            transports.append(telegram)
            log.info("serving Telegram %s (%s)", bot.channel, bot.config.mode)
        if config.wecom.enabled:
            from bot.wecom import (
                MineOrg,
                open_wecom,  # wechatpy and aiohttp: only when WeCom is set up
            )

            orgs = [
                MineOrg(robot_prefix(config, m.id), m.config.org, app.tenants.services[m.id])
                for m in config.each_mine()
            ]
            wecom, robots = await stack.enter_async_context(
                open_wecom(config.wecom, orgs, app.router)
            )
            runners.append(wecom.run)
            transports += [wecom, robots]
        yield runners, transports


def wecom_api(transports: Collection[Transport]) -> WecomApi | None:
    """The WeCom channel's API client, if it runs: the 看板's WeCom login shares its token."""
    return next((getattr(t, "api", None) for t in transports if t.channel == "wecom"), None)


async def run(app: App) -> None:
    """Every configured channel plus the outbox sender, in one event loop; the console when
    no messenger is configured."""
    config = app.config
    if not (telegram_bots(config) or config.wecom.enabled):
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
        if config.web.enabled:  # every process serves it: the sessions are in the database
            from bot.web.server import serve  # jinja2 and the 看板 only when it is configured

            runners.append(functools.partial(serve, app, wecom_api=wecom_api(transports)))
        schedulers, catch_ups = [], []
        for mine in config.each_mine():  # each mine on its own calendar and ledger
            services, mc = app.tenants.services[mine.id], mine.config
            scheduler = build_scheduler(services, mc.schedule, mc.misfire_grace)
            scheduler.start()
            schedulers.append(scheduler)
            catch_ups.append(
                asyncio.create_task(  # the ledger keeps it apart from scheduled runs
                    supervise(
                        f"schedule catch-up ({mine.id})",
                        functools.partial(catch_up, services, mc.schedule, mc.misfire_grace),
                        stop,
                        once=True,
                    )
                )
            )
        tasks = [asyncio.create_task(runner(stop)) for runner in runners]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for scheduler in schedulers:
            scheduler.shutdown(wait=False)
        await asyncio.gather(*catch_ups)
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
