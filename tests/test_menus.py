"""Per-role command menus on Telegram (against the fake Bot API), and commands as people type
them: a full-width slash, role names in Chinese."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_storage, utc_now
from bot.telegram import MENU_CALLS_PER_SECOND, TelegramChannel
from handlers.access import ROLE_NAMES
from nlp import ModelClassifier
from storage import Role, RosterEntry
from tests.botapi_fake import FakeTelegram
from tests.support import Chat, register_people
from tests.test_telegram import TOKEN, press, say, serving, share_contact, telegram_config

WORKER, SECRETARY, LEADER, ADMIN = 2001, 2002, 2003, 2004
"""Telegram user ids (a private chat's id is its user's)."""
PEOPLE = {
    WORKER: ("E001", "张三", "13800000001"),
    SECRETARY: ("S001", "刘书记", "13800000011"),
    LEADER: ("L001", "孙矿长", "13800000031"),
    ADMIN: ("A001", "管理员", "13800000041"),
}
EVERYONE = {
    "bind", "cancel", "category", "group", "help", "idea", "ideas", "my", "search", "start",
    "withdraw",
}  # fmt: skip
"""What every registered person may use: the default scope's menu."""
SECRETARY_MENU = EVERYONE | {
    "achievements", "benefit", "findings", "invite", "progress", "project", "projects", "quarter",
    "review", "review_quarter", "score", "stats", "web",
}  # fmt: skip
LEADER_MENU = EVERYONE | {
    "achievements", "agenda", "benefit", "findings", "progress", "project", "projects", "quarter",
    "review", "review_quarter", "reward", "score", "stats", "verify", "visits", "web",
}  # fmt: skip


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


async def bind(tg: FakeTelegram, user: int) -> None:
    """/start, 工号, 姓名 and the person's own phone through Telegram's contact button."""
    employee_no, name, phone = PEOPLE[user]
    await say(tg, user, "/start")
    await say(tg, user, employee_no)
    await say(tg, user, name)
    assert "登记成功" in (await share_contact(tg, user, phone, user))[0]["text"]


async def menu_set(tg: FakeTelegram, user: int, count: int = 1) -> list[str]:
    """The chat's menu once its scope was set or deleted `count` times."""
    for _ in range(1000):
        if len(tg.menu_calls(user)) >= count:
            return tg.menu_of(user)
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{len(tg.menu_calls(user))} menu calls for {user}")


async def help_commands(tg: FakeTelegram, user: int) -> set[str]:
    text = (await say(tg, user, "/help"))[0]["text"]
    return set(re.findall(r"^/(\w+) — ", text, re.MULTILINE))


def chat_scope(params: dict[str, Any]) -> bool:
    scope = params.get("scope")
    return isinstance(scope, dict) and scope.get("type") == "chat"


async def synced(channel: TelegramChannel) -> None:
    await asyncio.wait_for(channel.menus_synced.wait(), 10)


async def test_each_role_gets_its_own_menu_as_its_help_lists(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier
) -> None:
    async with serving(telegram_config(tmp_path, tg), classifier) as (_, channel):
        await synced(channel)
        assert set(tg.command_scopes["default"]) == EVERYONE
        for user in (WORKER, SECRETARY, LEADER):
            await bind(tg, user)
        assert set(await menu_set(tg, SECRETARY)) == SECRETARY_MENU
        assert set(await menu_set(tg, LEADER)) == LEADER_MENU
        assert set(tg.menu_of(WORKER)) == EVERYONE  # a worker's is the default: nothing to set
        assert tg.menu_calls(WORKER) == []
        for user, menu in ((WORKER, EVERYONE), (SECRETARY, SECRETARY_MENU), (LEADER, LEADER_MENU)):
            assert await help_commands(tg, user) == menu, user
    sent = next(p for m, p in tg.menu_calls(SECRETARY) if m == "setMyCommands")
    descriptions = {c["command"]: c["description"] for c in sent["commands"]}
    assert descriptions["review"].startswith("审核金点子")  # the handler's /help line
    assert all(re.search(r"[\u4e00-\u9fff]", d) for d in descriptions.values())


async def test_a_role_change_refreshes_the_menu_and_back(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier
) -> None:
    async with serving(telegram_config(tmp_path, tg), classifier) as (_, channel):
        await synced(channel)
        for user in (WORKER, ADMIN):
            await bind(tg, user)
        await menu_set(tg, ADMIN)
        asked = (await say(tg, ADMIN, "/role E001 书记"))[0]  # a role change is confirmed
        assert "已把 张三" in (await press(tg, ADMIN, asked, "确认修改"))[0]["text"]
        assert set(await menu_set(tg, WORKER)) == SECRETARY_MENU
        asked = (await say(tg, ADMIN, "/role E001 职工"))[0]
        await press(tg, ADMIN, asked, "确认修改")
        await menu_set(tg, WORKER, 2)
        assert [m for m, _ in tg.menu_calls(WORKER)] == ["setMyCommands", "deleteMyCommands"]
        assert set(tg.menu_of(WORKER)) == EVERYONE


async def test_start_up_sets_changed_menus_only_and_paced(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier
) -> None:
    config = telegram_config(tmp_path, tg)
    async with serving(config, classifier) as (app, channel):
        await synced(channel)
        for user in (SECRETARY, LEADER, ADMIN):
            await bind(tg, user)
        for _ in range(1000):  # each set and remembered
            if len(await app.repos.menus.command_menus("telegram")) == 3:
                break
            await asyncio.sleep(0.01)
    before = len(tg.calls)
    async with serving(config, classifier) as (_, channel):  # a restart: nothing changed
        await synced(channel)
        assert [p for _, p in tg.calls[before:] if chat_scope(p)] == []
    async with open_storage(config) as repos, repos.db.transaction():  # roster edited offline
        for number, name, branch, role in (
            ("S001", "刘书记", "jj1", Role("leader")),
            ("L001", "孙矿长", "jgk", Role("secretary")),
            ("A001", "管理员", "jgk", Role("supervisor", "publicity")),
        ):
            await repos.people.upsert_roster(
                [RosterEntry(number, name, branch, (role,), None)], utc_now()
            )
    before = len(tg.calls)
    async with serving(config, classifier) as (_, channel):
        await synced(channel)
        calls = [p for m, p in tg.calls[before:] if m == "setMyCommands" and chat_scope(p)]
    assert len(calls) == 3
    assert set(tg.menu_of(SECRETARY)) == LEADER_MENU and set(tg.menu_of(LEADER)) == SECRETARY_MENU
    assert "visit" in tg.menu_of(ADMIN) and "role" not in tg.menu_of(ADMIN)
    gaps = [b["received_at"] - a["received_at"] for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.8 / MENU_CALLS_PER_SECOND for gap in gaps), gaps


# -- commands as people type them (the router, any channel) ------------------------------


async def test_a_full_width_slash_is_a_command_not_an_idea(
    app: App, chat: Callable[..., Chat]
) -> None:
    people = await register_people(chat, "supervisor")
    replies = await people["supervisor"].say("／findings")
    assert replies and "金点子" not in replies[0]
    assert await app.repos.db.fetchall("SELECT id FROM ideas") == []
    assert replies == await people["supervisor"].say("/findings")
    typed = await people["supervisor"].say("／ｆｉｎｄｉｎｇｓ　ａｌｌ")  # a full-width keyboard
    assert typed == await people["supervisor"].say("/findings all")
    assert await app.repos.db.fetchall("SELECT id FROM ideas") == []


@pytest.mark.parametrize(
    ("typed", "role"),
    [
        ("书记", "secretary"),
        ("支部书记", "secretary"),
        ("领导", "leader"),
        ("党委领导", "leader"),
        ("管理员", "admin"),
        ("职工", "worker"),
        ("督导:宣传部", "supervisor:publicity"),
        ("督导人员：publicity", "supervisor:publicity"),
        ("leader", "leader"),
        ("supervisor:union", "supervisor:union"),
    ],
)
async def test_role_accepts_chinese_names_and_ids(
    app: App, chat: Callable[..., Chat], typed: str, role: str
) -> None:
    people = await register_people(chat, "admin")
    await people["admin"].say(f"/role E002 {typed}")
    reply = (await people["admin"].press("确认修改"))[0]
    name, _, department = role.partition(":")
    assert f"角色设为:{ROLE_NAMES[name]}" in reply, reply
    person = await app.repos.people.by_employee_no("E002")
    assert person is not None
    assert [(r.role, r.department_id or "") for r in person.roles] == [(name, department)]


async def test_an_unknown_role_lists_the_names_accepted(
    app: App, chat: Callable[..., Chat]
) -> None:
    people = await register_people(chat, "admin")
    reply = (await people["admin"].say("/role E002 老板"))[0]
    assert "没有“老板”这个角色" in reply
    for name in ("职工", "支部书记", "督导", "党委领导", "管理员", "worker", "leader"):
        assert name in reply, name
    person = await app.repos.people.by_employee_no("E002")
    assert person is not None and [r.role for r in person.roles] == ["worker"]
