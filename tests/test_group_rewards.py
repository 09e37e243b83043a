"""Party groups (党小组) in the reward loop and in key points (issue 16, items 2, 3 and 5): a
reward to a group is recorded, its members and the branch's secretary are told, the group and
the ledger show it; nobody confirms a reward to their own group; a key point may be owned by a
group, which then joins the proposal; bad names change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.export import build_sheets, export_ledger
from bot.roster import import_roster
from handlers import access
from handlers.rules import rewards
from tests.support import Chat, RecordingTransport, register_people

ROSTER = (
    "工号,姓名,支部,角色,党小组,手机号\n"
    "E001,张三,jj1,worker,一组,13800000001\n"
    "E005,钱七,jj1,worker,一组,13800000005\n"
    "E006,孙八,jj1,worker,二组,13800000006\n"
    "E002,李四,zc1,worker,一组,13800000002\n"
    "L001,孙矿长,jgk,leader,领导组,13800000031\n"
)
FIRST_THURSDAY_DEC = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)


async def load(app: App, tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    path.write_text(ROSTER, encoding="utf-8")
    await import_roster(path, app.repos, app.services.now())


@pytest.fixture
async def people(app: App, chat: Callable[..., Chat], tmp_path: Path) -> dict[str, Chat]:
    await load(app, tmp_path)
    found = await register_people(chat, "worker", "secretary", "leader", "admin")
    found["member"] = chat("u-E005")
    await found["member"].register("E005", "钱七")
    return found


async def bolts(people: dict[str, Chat]) -> None:
    """P01 led by jj1 with zc1 taking part; 4 万 verified (proposed 2.40 万 at 60 %)."""
    await people["leader"].say("/project new 井下锚杆回收复用 | 修旧利废 | L001 | jj1,zc1 | 50万")
    await people["secretary"].say("/benefit P01 4万 回收锚杆")
    await people["admin"].say("/verify B1")


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def reward_count(app: App) -> int:
    rows = await app.repos.db.fetchall("SELECT count(*) FROM rewards")
    return int(rows[0][0])


async def test_a_reward_to_a_party_group_is_told_shown_and_in_the_ledger(
    app: App, people: dict[str, Chat], transport: RecordingTransport, tmp_path: Path
) -> None:
    await bolts(people)
    await people["worker"].say("回收旧锚杆再利用")
    await app.repos.db.execute("UPDATE ideas SET status = 'adopted' WHERE id = 1")
    admin = people["admin"]
    asked = (await admin.say("/reward P01 confirm jj1/一组:1000,E006:500 12月安全办公会"))[-1]
    assert "机掘一队一组 1,000.00 元" in asked, asked
    done = (await admin.press("确认"))[-1]
    assert "已记录 P01 的奖励 1,500.00 元" in done, done
    for member in ("u-E001", "u-E005"):
        assert any(
            "一组" in t and "获得奖励 1,000.00 元" in t for t in sent_to(transport, member)
        ), member
    assert any("机掘一队一组" in t for t in sent_to(transport, "u-S001"))
    rows = await app.repos.db.fetchall(
        "SELECT group_id, branch_id, label, amount_fen FROM reward_recipients ORDER BY position"
    )
    group = await app.repos.party_groups.group_named("jj1", "一组")
    assert group is not None
    assert tuple(rows[0]) == (group.id, "jj1", "机掘一队一组", 100_000)
    shown = (await people["member"].say("/group"))[0]
    assert "本组获得奖励 1,000.00 元:P01 井下锚杆回收复用 1,000.00 元" in shown, shown
    # the group's name alone, unique among the project's branches
    await admin.say("/reward P01 confirm 二组:300")
    assert "已记录 P01 的奖励 300.00 元" in (await admin.press("确认"))[-1]
    # the ledger: the 党小组 sheet equals /group, the reward sheet names the group
    path = tmp_path / "ledger.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    book = load_workbook(path)
    sheet = book["党小组"]
    assert [c.value for c in sheet[1]] == [
        "支部",
        "党小组",
        "成员数",
        "今年金点子",
        "已采纳",
        "获得奖励(元)",
    ]
    found = {(r[0], r[1]): r[2:] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert found[("机掘一队党支部", "一组")] == (2, 1, 1, 1000)
    assert found[("机掘一队党支部", "二组")] == (1, 0, 0, 300)
    assert found[("综采一队党支部", "一组")] == (1, 0, 0, 0)
    assert "一组(2 人):金点子 1 条,已采纳 1 条" in shown
    recipients = [(r[2], r[-1]) for r in book["奖励"].iter_rows(min_row=2, values_only=True)]
    assert recipients == [("机掘一队一组", "党小组"), ("孙八", "个人"), ("机掘一队二组", "党小组")]


async def test_a_leader_in_the_group_may_not_confirm_its_reward(
    app: App, people: dict[str, Chat]
) -> None:
    await bolts(people)
    leader = people["leader"]
    refused = (await leader.say("/reward P01 confirm jgk/领导组:1000"))[-1]
    assert "不能给本组确认奖励" in refused, refused
    assert await reward_count(app) == 0
    await people["admin"].say("/reward P01 confirm jgk/领导组:1000")
    assert "已记录" in (await people["admin"].press("确认"))[-1]
    person = await app.repos.people.by_employee_no("L001")
    assert person is not None
    assert not access.may_confirm_reward(person, [None], [7], own_group_id=7)
    assert access.may_confirm_reward(person, [None], [7], own_group_id=8)


async def test_a_key_point_owned_by_a_group_joins_the_proposal(
    app: App, people: dict[str, Chat]
) -> None:
    await bolts(people)
    leader = people["leader"]
    added = (await leader.say("/project P01 point add 锚杆回收分拣 | jj1 | 2027-03 | 一组"))[-1]
    assert "一组" in added, added
    card = (await leader.say("/project P01"))[0]
    assert "锚杆回收分拣 · 机掘一队一组 · 2027-03 到期" in card, card
    items = await rewards.reward_meeting_items(app.services, FIRST_THURSDAY_DEC)
    assert [(s.label, s.amount_fen) for s in items[0].shares] == [
        ("机掘一队党支部", 1_200_000),  # the lead branch: two parts
        ("综采一队党支部", 600_000),
        ("机掘一队一组", 600_000),  # the group owning a key point: one part
    ]
    asked = (await leader.say("/reward P01"))[-1]
    assert "机掘一队一组 6,000.00 元" in asked
    await leader.press("按建议分配")
    await leader.press("不写备注")
    assert "已记录 P01 的奖励 2.40 万元" in (await leader.press("确认"))[-1]
    shown = (await people["worker"].say("/group"))[0]
    assert "本组负责的关键点:P01 锚杆回收分拣(2027-03 到期)" in shown, shown
    assert "本组获得奖励 6,000.00 元" in shown


async def test_bad_group_names_get_clear_replies_and_change_nothing(
    app: App, people: dict[str, Chat]
) -> None:
    await bolts(people)
    leader = people["leader"]
    cases = [
        ("/reward P01 confirm 一组:1000", "可能是:机掘一队一组、综采一队一组"),
        ("/reward P01 confirm jj1/五组:1000", "机掘一队党支部没有叫“五组”的党小组"),
        ("/reward P01 confirm 无名/一组:1000", "没有找到支部“无名”"),
        ("/reward P01 confirm 五组:1000", "没有找到“五组”"),
        ("/project P01 point add 锚杆回收分拣 | jj1 | 2027-03 | 五组", "没有叫“五组”的党小组"),
    ]
    for text, expected in cases:
        replies = await leader.say(text)
        assert expected in replies[-1], (text, replies)
    assert await reward_count(app) == 0
    assert await app.repos.projects.key_points(1) == []
