"""Mines as tenants of one deployment: two mines on one PostgreSQL database, each with its
own organisation (the same branch id b01 and the same 工号 E001 in both), served by one
router that finds each chat's mine; strangers pick their mine first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from bot.app import App, open_app
from bot.config import Config, ConfigError, load_config
from bot.roster import import_roster
from nlp import ModelClassifier
from scheduler.runner import run_job
from storage import Repositories, StorageError
from tests.storage_backends import PostgresServer
from tests.support import ROOT, Chat, Clock, RecordingTransport, cli

ROSTER_HEAD = "employee_no,name,branch_id,role,wecom_userid,phone\n"
EAST_ROSTER = (
    ROSTER_HEAD + "E001,张三,b01,worker,,13900000001\nS001,刘书记,b01,secretary,,13900000011\n"
)
WEST_ROSTER = (
    ROSTER_HEAD + "E001,李四,b01,worker,,13700000001\nS001,陈书记,b01,secretary,,13700000011\n"
)


def mine_file(folder: Path, mine: str, branch_name: str) -> Path:
    path = folder / f"{mine}.yaml"
    path.write_text(
        "org:\n"
        "  departments:\n"
        "    - {id: zzb, name: 组织部}\n"
        "  branches:\n"
        f"    - {{id: b01, name: {branch_name}, department: zzb}}\n",
        encoding="utf-8",
    )
    return path


def group_config(tmp_path: Path, url: str, mines: str) -> Config:
    """The shipped config.yaml with a `mines:` section appended, on the database `url`."""
    path = tmp_path / "group.yaml"
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    shipped = shipped.replace("sample_roster: bot/sample_roster.csv", "sample_roster: null")
    path.write_text(shipped + "\nmines:\n" + mines, encoding="utf-8")
    env = {
        "JINDIANZI_STORAGE_PATH": str(tmp_path / "unused.db"),
        "JINDIANZI_STORAGE_URL": url,
    }
    return load_config(path, env)


TWO_MINES = (
    "  - {id: east, name: 东矿, config: east.yaml}\n  - {id: west, name: 西矿, config: west.yaml}\n"
)


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    """A fresh migrated PostgreSQL database of the tests' ordinary role (so row-level
    security binds it, as it binds a deployment's)."""
    return postgres_server.fresh_database()


@pytest.fixture
async def group(
    tmp_path: Path, database: str, classifier: ModelClassifier, clock: Clock
) -> AsyncIterator[App]:
    mine_file(tmp_path, "east", "东矿综采一队支部")
    mine_file(tmp_path, "west", "西矿掘进二队支部")
    config = group_config(tmp_path, database, TWO_MINES)
    async with open_app(config, clock=clock, classifier=classifier) as app:
        for mine, roster in (("east", EAST_ROSTER), ("west", WEST_ROSTER)):
            csv = tmp_path / f"{mine}.csv"
            csv.write_text(roster, encoding="utf-8")
            await import_roster(csv, app.tenants.services[mine].repos, clock())
        yield app


def chat_of(app: App, transport: RecordingTransport, user: str, **kwargs: str) -> Chat:
    return Chat(app, transport, app.sender([transport]), user, **kwargs)


async def register(chat: Chat, mine_label: str, number: str, name: str, phone: str) -> list[str]:
    await chat.say("/start")
    await chat.press(mine_label)
    await chat.say(number)
    await chat.say(name)
    return await chat.share_contact(phone)


async def texts(repos: Repositories) -> list[str]:
    """The texts of the ideas of E001 (each mine has one) as that mine's repositories see."""
    person = await repos.people.by_employee_no("E001")
    assert person is not None
    return [i.text for i in await repos.ideas.by_author(person.id, limit=10, offset=0)]


async def test_a_stranger_picks_the_mine_and_registers_there(group: App) -> None:
    transport = RecordingTransport()
    li = chat_of(group, transport, "u-li")
    [prompt] = await li.say("/start")
    assert "请先选择您所在的矿" in prompt and "东矿" in prompt and "西矿" in prompt
    [ask] = await li.press("西矿")
    assert "工号" in ask  # registration begins at once, in the mine picked
    await li.say("E001")
    await li.say("李四")
    replies = await li.share_contact("13700000001")
    assert any("登记成功" in r or "欢迎" in r for r in replies), replies
    west, east = group.tenants.services["west"].repos, group.tenants.services["east"].repos
    assert (await west.people.by_identity("test", "u-li")) is not None
    assert (await east.people.by_identity("test", "u-li")) is None

    await li.say("建议把旧锚杆回收再利用,每月能省两万元材料费")
    assert await texts(west) == ["建议把旧锚杆回收再利用,每月能省两万元材料费"]
    assert await texts(east) == []


async def test_the_same_numbers_in_two_mines_stay_apart(group: App) -> None:
    transport = RecordingTransport()
    zhang = chat_of(group, transport, "u-zhang")
    li = chat_of(group, transport, "u-li")
    await register(zhang, "东矿", "E001", "张三", "13900000001")
    await register(li, "西矿", "E001", "李四", "13700000001")
    await zhang.say("井下水泵加装变频器,节约电费")
    await li.say("掘进面风筒改用新材料,减少漏风")
    east, west = group.tenants.services["east"].repos, group.tenants.services["west"].repos
    assert await texts(east) == ["井下水泵加装变频器,节约电费"]
    assert await texts(west) == ["掘进面风筒改用新材料,减少漏风"]
    [mine_list] = await li.say("/my")
    assert "风筒" in mine_list and "水泵" not in mine_list


async def test_a_mine_s_scheduled_notice_reaches_only_its_groups(group: App) -> None:
    now = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # the quarterly review's day, 09:00 in Shanghai
    for mine in ("east", "west"):
        repos = group.tenants.services[mine].repos
        async with repos.db.transaction():
            await repos.groups.bind("test", f"g-{mine}", "b01", None, now)
    east = group.tenants.services["east"]
    result = await run_job(east, "quarterly_review", now)
    assert result.queued >= 1
    transport = RecordingTransport()
    await group.sender([transport]).run_once()
    chats = {chat for chat, _ in transport.sent}
    assert "g-east" in chats and "g-west" not in chats
    again = await run_job(group.tenants.services["west"], "quarterly_review", now)
    assert not again.skipped  # each mine keeps its own ledger
    await group.sender([transport]).run_once()
    assert "g-west" in {chat for chat, _ in transport.sent}


async def test_a_group_of_strangers_gets_no_lobby(group: App) -> None:
    transport = RecordingTransport()
    stranger = chat_of(group, transport, "u-x", chat_type="group", chat_id="g-unknown")
    assert await stranger.say("大家好") == []


async def test_a_newcomer_may_pick_again_before_registering(group: App) -> None:
    transport = RecordingTransport()
    wang = chat_of(group, transport, "u-wang")
    await wang.say("/start")
    await wang.press("东矿")
    [prompt] = await wang.say("/mine")
    assert "请先选择您所在的矿" in prompt
    [ask] = await wang.say("2")
    assert "工号" in ask
    assert await group.tenants.directory().chosen("test", "u-wang") == "west"


def test_several_mines_need_postgresql(tmp_path: Path) -> None:
    mine_file(tmp_path, "east", "东矿综采一队支部")
    path = tmp_path / "group.yaml"
    path.write_text(
        (ROOT / "config.yaml").read_text(encoding="utf-8")
        + "\nmines:\n  - {id: east, name: 东矿, config: east.yaml}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_config(path, {"JINDIANZI_STORAGE_PATH": str(tmp_path / "j.db")})


@pytest.mark.parametrize(
    ("mines", "own", "problem"),
    [
        ("  - {id: East, name: 东矿}\n", "", "小写字母"),
        ("  - {id: east, name: 东矿}\n  - {id: east, name: 西矿}\n", "", "重复"),
        ("  - {id: east, name: 东矿, config: east.yaml}\n", "wecom: {corp_id: ww1}\n", "集团"),
        ("  - {id: east, name: 东矿, config: missing.yaml}\n", None, "找不到"),
        ("  - {id: east, name: 东矿, colour: red}\n", "", "不认识"),
    ],
)
def test_a_bad_mines_section_is_named_in_one_line(
    tmp_path: Path, mines: str, own: str | None, problem: str
) -> None:
    if own is not None:
        (tmp_path / "east.yaml").write_text(own, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        group_config(tmp_path, "postgresql://u@localhost/db", mines)


def test_a_mine_file_replaces_the_group_s_sections(tmp_path: Path) -> None:
    (tmp_path / "east.yaml").write_text(
        "scoring: {project_weight: 0.3}\n"
        "schedule: {weekly_meeting: {day_of_week: tue, hour: 9, minute: 0}}\n",
        encoding="utf-8",
    )
    config = group_config(
        tmp_path,
        "postgresql://u@localhost/db",
        "  - {id: east, name: 东矿, config: east.yaml}\n  - {id: west, name: 西矿}\n",
    )
    east, west = config.mines
    assert east.config.scoring.project_weight == 0.3
    assert east.config.scoring.dept_weight == config.scoring.dept_weight  # key by key
    assert dict(east.config.schedule) == {
        "weekly_meeting": {"day_of_week": "tue", "hour": 9, "minute": 0}
    }
    assert west.config.scoring == config.scoring
    assert [m.id for m in config.each_mine()] == ["east", "west"]


OFFICE_ROSTER = ROSTER_HEAD + "L001,孙书记,jg,leader,,13600000001\n"
WITH_OFFICE = TWO_MINES + "  - {id: office, name: 集团党委, config: office.yaml, group: true}\n"


@pytest.fixture
async def with_office(
    tmp_path: Path, database: str, classifier: ModelClassifier, clock: Clock
) -> AsyncIterator[tuple[App, Path]]:
    mine_file(tmp_path, "east", "东矿综采一队支部")
    mine_file(tmp_path, "west", "西矿掘进二队支部")
    (tmp_path / "office.yaml").write_text(
        "org:\n  departments: [{id: zzb, name: 组织部}]\n"
        "  branches: [{id: jg, name: 集团机关支部, department: zzb}]\n",
        encoding="utf-8",
    )
    config = group_config(tmp_path, database, WITH_OFFICE)
    async with open_app(config, clock=clock, classifier=classifier) as app:
        for mine, roster in (
            ("east", EAST_ROSTER),
            ("west", WEST_ROSTER),
            ("office", OFFICE_ROSTER),
        ):
            csv = tmp_path / f"{mine}.csv"
            csv.write_text(roster, encoding="utf-8")
            await import_roster(csv, app.tenants.services[mine].repos, clock())
        yield app, tmp_path / "group.yaml"


async def test_the_group_office_ranks_every_mine(with_office: tuple[App, Path]) -> None:
    app, _ = with_office
    transport = RecordingTransport()
    zhang, li = chat_of(app, transport, "u-zhang"), chat_of(app, transport, "u-li")
    await register(zhang, "东矿", "E001", "张三", "13900000001")
    await register(li, "西矿", "E001", "李四", "13700000001")
    await zhang.say("井下水泵加装变频器,节约电费")
    await li.say("掘进面风筒改用新材料,减少漏风")
    await li.say("旧钻杆修复后再用,减少采购")
    leader = chat_of(app, transport, "u-sun")
    await register(leader, "集团党委", "L001", "孙书记", "13600000001")
    [text] = await leader.say("/stats")
    assert "集团" in text and "2 个矿" in text
    assert "本年 3 条" in text
    ranking = text[text.index("各矿排名") :]
    assert ranking.index("西矿") < ranking.index("东矿")  # no benefit yet: more ideas first
    image = leader.received[-1].get("image_path")
    assert image and Path(image).is_file()
    # A mine's leader still sees only the mine.
    east = app.tenants.services["east"]
    assert east.group == ()


async def test_the_group_ledger_names_every_mine(
    with_office: tuple[App, Path], tmp_path: Path, database: str
) -> None:
    _, config_path = with_office
    out = tmp_path / "group.xlsx"
    done = await asyncio.to_thread(
        cli, "--config", str(config_path), "export", str(out), "--group",
        db=tmp_path / "unused.db", extra_env={"JINDIANZI_STORAGE_URL": database},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 个矿" in done.stdout
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["各矿汇总", "金点子"]
    summary = list(book["各矿汇总"].values)
    assert summary[0][:3] == ("排名", "矿编号", "矿")
    assert sorted(row[2] for row in summary[1:]) == ["东矿", "西矿"]
    refused = await asyncio.to_thread(
        cli, "--config", str(config_path), "roster", "import", str(out),
        db=tmp_path / "unused.db", extra_env={"JINDIANZI_STORAGE_URL": database},
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--mine" in refused.stderr and "east(东矿)" in refused.stderr


async def test_several_mines_refuse_a_role_that_row_level_security_does_not_bind(
    tmp_path: Path, database: str, postgres_server: PostgresServer, classifier: ModelClassifier
) -> None:
    mine_file(tmp_path, "east", "东矿综采一队支部")
    mine_file(tmp_path, "west", "西矿掘进二队支部")
    config = group_config(tmp_path, postgres_server.as_admin(database), TWO_MINES)
    with pytest.raises(StorageError, match="超级用户"):
        async with open_app(config, classifier=classifier):
            pass


async def test_a_registered_person_cannot_pick_another_mine(group: App) -> None:
    transport = RecordingTransport()
    zhang = chat_of(group, transport, "u-zhang")
    await register(zhang, "东矿", "E001", "张三", "13900000001")
    replies = await zhang.say("/mine")
    assert not any("请先选择您所在的矿" in r for r in replies)  # their mine is east for good
    await zhang.say("2")
    west = group.tenants.services["west"].repos
    assert await west.people.by_identity("test", "u-zhang") is None
