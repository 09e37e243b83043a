"""A mine with a Telegram bot of its own, besides the group's (issue 20): two fake Bot API
servers on loopback, one the group's bot and one mine west's own, spoken to by the real
python-telegram-bot stack on a two-mine PostgreSQL database.

Whatever reaches west's bot is west's (no lobby); its identities, groups and outbox are its
own channel, `telegram:west`; the group's bot still serves every mine through the lobby.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_app, open_channels, outbox_domains, senders
from bot.config import Config, ConfigError, load_config, mine_variable
from bot.instance import polling_lease
from bot.roster import import_roster, issue_code_sheet
from bot.status import status_report
from bot.tenants import own_bot_channel, telegram_bots
from nlp import ModelClassifier
from scheduler.runner import run_job
from tests.botapi_fake import FakeTelegram
from tests.storage_backends import PostgresServer
from tests.support import ROOT, Clock

GROUP_TOKEN = "111111:GROUP-token"
WEST_TOKEN = "222222:WEST-token"
WEST_GROUP_CHAT = -1002222  # west's branch group, bound in west.yaml
LI = 2001  # Telegram user ids
ZHAO = 2002
ROSTER = "employee_no,name,branch_id,role,wecom_userid,phone\n"
EAST_ROSTER = ROSTER + "E001,张三,b01,worker,,13900000001\n"
WEST_ROSTER = ROSTER + "E001,李四,b01,worker,,13700000001\nS001,陈书记,b01,secretary,,13700000011\n"
MINES = (
    "  - {id: east, name: 东矿, config: east.yaml}\n  - {id: west, name: 西矿, config: west.yaml}\n"
)


def org(branch: str, chat: int | None = None) -> str:
    bound = f", telegram_chat_id: '{chat}'" if chat is not None else ""
    return (
        "org:\n"
        "  departments:\n"
        "    - {id: zzb, name: 组织部}\n"
        "  branches:\n"
        f"    - {{id: b01, name: {branch}, department: zzb{bound}}}\n"
    )


def write_config(tmp_path: Path, west_extra: str, mines: str = MINES) -> Path:
    """The shipped config.yaml with two mines; west's file gets `west_extra` (its bot)."""
    (tmp_path / "east.yaml").write_text(org("东矿综采一队支部"), encoding="utf-8")
    (tmp_path / "west.yaml").write_text(
        org("西矿掘进二队支部", WEST_GROUP_CHAT) + west_extra, encoding="utf-8"
    )
    path = tmp_path / "group.yaml"
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    shipped = shipped.replace("sample_roster: bot/sample_roster.csv", "sample_roster: null")
    path.write_text(shipped + "\nmines:\n" + mines, encoding="utf-8")
    return path


def load(tmp_path: Path, west_extra: str, url: str, **environ: str) -> Config:
    env = {
        "JINDIANZI_STORAGE_PATH": str(tmp_path / "unused.db"),
        "JINDIANZI_STORAGE_URL": url,
        **environ,
    }
    return load_config(write_config(tmp_path, west_extra), env)


def own_bot_section(fake: FakeTelegram) -> str:
    return f"telegram:\n  base_url: {fake.url}/bot\n  base_file_url: {fake.url}/file/bot\n"


@dataclass
class Group:
    app: App
    group_bot: FakeTelegram
    west_bot: FakeTelegram


@pytest.fixture
async def group(
    tmp_path: Path,
    postgres_server: PostgresServer,
    classifier: ModelClassifier,
    clock: Clock,
) -> AsyncIterator[Group]:
    """Both bots polled and both outboxes sent, as `jindianzi run` does on PostgreSQL."""
    async with (
        FakeTelegram(token=GROUP_TOKEN) as group_bot,
        FakeTelegram(token=WEST_TOKEN) as west_bot,
    ):
        config = load(
            tmp_path,
            own_bot_section(west_bot),
            postgres_server.fresh_database(),
            JINDIANZI_TELEGRAM_TOKEN=GROUP_TOKEN,
            JINDIANZI_TELEGRAM_BASE_URL=f"{group_bot.url}/bot",
            JINDIANZI_TELEGRAM_BASE_FILE_URL=f"{group_bot.url}/file/bot",
            JINDIANZI_MINE_WEST_TELEGRAM_TOKEN=WEST_TOKEN,
        )
        async with open_app(config, clock=clock, classifier=classifier) as app:
            for mine, roster in (("east", EAST_ROSTER), ("west", WEST_ROSTER)):
                csv = tmp_path / f"{mine}.csv"
                csv.write_text(roster, encoding="utf-8")
                await import_roster(csv, app.tenants.services[mine].repos, clock())
            stop = asyncio.Event()
            async with open_channels(app) as (runners, transports):
                every = [*runners, *senders(app, transports)]
                tasks = [asyncio.create_task(runner(stop)) for runner in every]
                try:
                    yield Group(app, group_bot, west_bot)
                finally:
                    stop.set()
                    await asyncio.gather(*tasks)


async def say(tg: FakeTelegram, user: int, text: str) -> list[dict[str, Any]]:
    before = len(tg.sent(chat_id=user))
    tg.push_text(user, text)
    return (await tg.wait_sent(before + 1, chat_id=user))[before:]


async def share_contact(tg: FakeTelegram, user: int, phone: str) -> list[dict[str, Any]]:
    before = len(tg.sent(chat_id=user))
    tg.push_contact(user, phone, user)
    return (await tg.wait_sent(before + 1, chat_id=user))[before:]


async def test_a_person_on_a_mine_s_own_bot_registers_there_unasked(group: Group) -> None:
    west_bot, app = group.west_bot, group.app
    [ask] = await say(west_bot, LI, "/start")
    assert "工号" in ask["text"] and "请先选择您所在的矿" not in ask["text"]
    await say(west_bot, LI, "E001")
    await say(west_bot, LI, "李四")
    replies = await share_contact(west_bot, LI, "13700000001")
    assert "登记成功" in replies[0]["text"]
    west, east = app.tenants.services["west"].repos, app.tenants.services["east"].repos
    person = await west.people.by_identity("telegram:west", str(LI))
    assert person is not None and person.name == "李四"
    assert await east.people.by_identity("telegram:west", str(LI)) is None
    assert await west.people.by_identity("telegram", str(LI)) is None  # not the group's bot
    assert group.group_bot.sent(chat_id=LI) == []  # nothing went out through the group's bot
    sheet = await issue_code_sheet(west, None, app.services.now(), app.config.tz)
    assert [row[0] for row in sheet] == ["S001"]  # 李四 is on Telegram: on west's own bot
    report = await status_report(west, None, app.services.now(), app.config.tz)
    assert "Telegram(west 矿的机器人) 待处理 0" in report
    assert "west 矿的机器人:上次取消息" in report


async def test_the_group_s_bot_still_asks_a_newcomer_for_the_mine(group: Group) -> None:
    [prompt] = await say(group.group_bot, ZHAO, "/start")
    assert "请先选择您所在的矿" in prompt["text"] and "西矿" in prompt["text"]
    assert group.west_bot.sent(chat_id=ZHAO) == []


async def test_a_notice_to_a_group_bound_via_the_own_bot_goes_out_through_it(
    group: Group,
) -> None:
    west = group.app.tenants.services["west"]
    chat = str(WEST_GROUP_CHAT)
    assert await west.repos.groups.get("telegram:west", chat) is not None  # from west.yaml
    assert await west.repos.groups.get("telegram", chat) is None
    now = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # the quarterly review's day, 09:00 in Shanghai
    result = await run_job(west, "quarterly_review", now)
    assert result.queued >= 1
    west.outbox_signal.set()
    [notice, *_] = await group.west_bot.wait_sent(1, chat_id=WEST_GROUP_CHAT)
    assert notice["text"]
    assert group.group_bot.sent(chat_id=WEST_GROUP_CHAT) == []


async def test_a_secretary_binds_a_branch_group_through_the_mine_s_own_bot(
    group: Group,
) -> None:
    """/bind in a group the mine's own bot is in: the binding is that mine's, on the own
    bot's channel, and the mine's notices to the branch reach that group through that bot."""
    west_bot, app = group.west_bot, group.app
    await say(west_bot, ZHAO, "/start")
    await say(west_bot, ZHAO, "S001")
    await say(west_bot, ZHAO, "陈书记")
    assert "登记成功" in (await share_contact(west_bot, ZHAO, "13700000011"))[0]["text"]
    new_group = -1003333
    before = len(west_bot.sent(chat_id=new_group))
    west_bot.push_text(ZHAO, "/bind b01", chat_id=new_group, chat_type="group")
    [bound] = (await west_bot.wait_sent(before + 1, chat_id=new_group))[before:]
    assert "绑定为「西矿掘进二队支部」" in bound["text"]
    west, east = app.tenants.services["west"], app.tenants.services["east"]
    binding = await west.repos.groups.get("telegram:west", str(new_group))
    assert binding is not None and binding.branch_id == "b01" and binding.active
    assert await west.repos.groups.get("telegram", str(new_group)) is None
    assert await east.repos.groups.get("telegram:west", str(new_group)) is None
    assert group.group_bot.sent(chat_id=new_group) == []
    now = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # the quarterly review's day, 09:00 in Shanghai
    assert (await run_job(west, "quarterly_review", now)).queued >= 1
    west.outbox_signal.set()
    [notice, *_] = (await west_bot.wait_sent(before + 2, chat_id=new_group))[before + 1 :]
    assert notice["text"]
    assert group.group_bot.sent(chat_id=new_group) == []


def test_each_bot_has_its_own_polling_lease_and_outbox_domain(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "telegram: {}\n",
        "postgresql://u@localhost/db",
        JINDIANZI_TELEGRAM_TOKEN=GROUP_TOKEN,
        JINDIANZI_MINE_WEST_TELEGRAM_TOKEN=WEST_TOKEN,
    )
    west = next(m for m in config.mines if m.id == "west")
    assert west.telegram is not None and west.telegram.token is not None
    assert west.telegram.token.get() == WEST_TOKEN
    assert west.config.telegram == config.telegram  # the group's bot stays the group's
    assert polling_lease(GROUP_TOKEN) != polling_lease(WEST_TOKEN)

    @dataclass
    class Named:
        channel: str

        async def send(self, chat_id: str, message: Any) -> None:
            raise AssertionError("not sent here")

    leases = [d.lease for d in outbox_domains(config, [Named("telegram"), Named("telegram:west")])]
    assert len(set(leases)) == 2 and all(lease.startswith("outbox:telegram:") for lease in leases)
    assert own_bot_channel("west") == "telegram:west"


@pytest.mark.parametrize(
    ("west_extra", "environ", "problem"),
    [
        ("telegram: {}\n", {}, "JINDIANZI_MINE_WEST_TELEGRAM_TOKEN"),
        (
            "",
            {"JINDIANZI_MINE_NORTH_TELEGRAM_TOKEN": "1:x"},
            "JINDIANZI_MINE_NORTH_TELEGRAM_TOKEN: 不认识这个环境变量",
        ),
        (
            "telegram: {}\n",
            {"JINDIANZI_MINE_WEST_TELEGRAM_TOKN": "1:x"},
            "JINDIANZI_MINE_WEST_TELEGRAM_TOKN: 不认识",
        ),
        ("", {"JINDIANZI_MINE_WEST_TELEGRAM_TOKEN": "1:x"}, "没有自己的机器人"),
        ("telegram: {token: '1:x'}\n", {}, "密钥不写在文件里"),
        (
            "telegram: {mode: webhook, webhook_url: 'https://west.example.com'}\n",
            {"JINDIANZI_MINE_WEST_TELEGRAM_TOKEN": "1:x"},
            "JINDIANZI_MINE_WEST_TELEGRAM_WEBHOOK_SECRET",
        ),
    ],
)
def test_a_bad_own_bot_stops_start_up_in_one_line(
    tmp_path: Path, west_extra: str, environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        load(tmp_path, west_extra, "postgresql://u@localhost/db", **environ)
    assert "\n" not in str(caught.value)


def test_a_mine_variable_without_mines_is_unknown(tmp_path: Path) -> None:
    env = {"JINDIANZI_STORAGE_PATH": str(tmp_path / "j.db"), mine_variable("west", "token"): "1:x"}
    with pytest.raises(ConfigError, match="不认识这个环境变量"):
        load_config(ROOT / "config.yaml", env)


def test_the_mine_variable_is_the_upper_cased_id() -> None:
    assert mine_variable("xinji-1", "token") == "JINDIANZI_MINE_XINJI_1_TELEGRAM_TOKEN"
    assert mine_variable("w2", "webhook_secret") == "JINDIANZI_MINE_W2_TELEGRAM_WEBHOOK_SECRET"


def test_a_mine_s_own_bot_may_be_the_only_one(tmp_path: Path) -> None:
    """Without the group's token only the mine's own bot is served (`open_channels`)."""
    config = load(
        tmp_path,
        "telegram: {}\n",
        "postgresql://u@localhost/db",
        JINDIANZI_MINE_WEST_TELEGRAM_TOKEN=WEST_TOKEN,
    )
    assert [(b.channel, b.mine) for b in telegram_bots(config)] == [("telegram:west", "west")]
    with_group = load(
        tmp_path,
        "telegram: {}\n",
        "postgresql://u@localhost/db",
        JINDIANZI_TELEGRAM_TOKEN=GROUP_TOKEN,
        JINDIANZI_MINE_WEST_TELEGRAM_TOKEN=WEST_TOKEN,
    )
    assert [b.channel for b in telegram_bots(with_group)] == ["telegram", "telegram:west"]
