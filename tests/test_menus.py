"""Commands as people type them: a full-width slash, role names in Chinese."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import App
from handlers.access import ROLE_NAMES
from tests.support import Chat, register_people

# -- commands as people type them (the router, any channel) ------------------------------


async def test_a_full_width_slash_is_a_command_not_an_idea(
    app: App, chat: Callable[..., Chat]
) -> None:
    people = await register_people(chat, "supervisor")
    replies = await people["supervisor"].say("／findings")
    assert replies and "金点子" not in replies[0]
    assert await app.repos.db.fetchall("SELECT id FROM ideas") == []
    assert replies == await people["supervisor"].say("/findings")


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
    reply = (await people["admin"].say(f"/role E002 {typed}"))[0]
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
