"""Achievements (issue 16, item 6): the methods, awards and patents the campaign yields,
recorded against a project or an idea by leaders and the project's lead, listed with counts
per kind as the case counts them ("18 套经验管理法,19 套先进操作法"), shown on the project card,
in the ledger (sheet 成果) and in the quarterly material; the authors of a linked idea are told;
bad input gets a clear reply and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.export import build_sheets, export_ledger
from tests.support import Chat, Clock, RecordingTransport, register_people, table_rows


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "secretary", "leader", "admin", "other_secretary")


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def rows(app: App, table: str) -> list[dict[str, Any]]:
    return await table_rows(app.repos.db, table)


async def bolt_project_with_idea(app: App, people: dict[str, Chat]) -> None:
    """张三 (jj1) sends an idea; P01 井下锚杆回收复用 adopts it (lead 孙矿长)."""
    await people["worker"].say("井下废旧锚杆回收后校直修复再复用,一个月能省不少材料费")
    assert await app.repos.ideas.get(1) is not None
    created = await people["leader"].say(
        "/project new 井下锚杆回收复用 | 修旧利废 | L001 | jj1,zc1 | 50万 | 1"
    )
    assert "已建立重点项目 P01" in created[-1]


async def test_an_achievement_is_recorded_listed_with_counts_and_shown_on_the_card(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await bolt_project_with_idea(app, people)
    leader = people["leader"]
    done = (
        await leader.say("/achievements add P01 操作法 | 锚杆回收复用操作法 | 分拣、校直、入井")
    )[-1]
    assert "已记录成果 C1:操作法「锚杆回收复用操作法」(P01)" in done
    assert "全矿成果:管理法 0 项、操作法 1 项、奖项 0 项、专利 0 项" in done
    # the author of the linked idea is told
    told = sent_to(transport, "u-E001")[-1]
    assert "#1" in told and "操作法「锚杆回收复用操作法」" in told and "C1" in told
    await leader.say("/achievements add P01 管理法 | 锚杆回收台账管理法")
    await leader.say("/achievements add P01 奖项 | 中国煤炭协会科技进步二等奖")
    done = (await leader.say("/achievements add #1 专利 | 可移动式锚杆校直架 | 国家专利"))[-1]
    assert "C4" in done and "P01 金点子 #1" in done
    assert "管理法 1 项、操作法 1 项、奖项 1 项、专利 1 项" in done
    listed = (await leader.say("/achievements"))[-1]
    assert "全矿成果共 4 项:管理法 1 项、操作法 1 项、奖项 1 项、专利 1 项" in listed
    assert "C1 操作法「锚杆回收复用操作法」(P01) · 分拣、校直、入井" in listed
    assert "C4 专利「可移动式锚杆校直架」(P01 #1) · 国家专利" in listed
    only = (await leader.say("/achievements 操作法"))[-1]
    assert "全矿操作法共 1 项" in only and "C1" in only and "C2" not in only
    assert "P01成果共 4 项" in (await leader.say("/achievements P01"))[-1]
    # a secretary sees those of the projects their branch takes part in; others see none
    assert "本支部参与的成果共 4 项" in (await people["secretary"].say("/achievements"))[-1]
    other = people["other_secretary"]
    assert "本支部参与的成果还没有记录" in (await other.say("/achievements"))[-1]
    assert "没有本支部参与" in (await other.say("/achievements P01"))[-1]
    # the same achievement twice is refused
    again = (await leader.say("/achievements add P01 管理法 | 锚杆回收台账管理法"))[-1]
    assert "已经记录过了:C2 管理法「锚杆回收台账管理法」" in again
    card = (await leader.say("/project P01"))[-1]
    assert "成果(4 项):" in card and "C2 管理法「锚杆回收台账管理法」(P01)" in card
    stored = await rows(app, "achievements")
    assert [(r["kind"], r["project_id"], r["idea_id"]) for r in stored] == [
        ("operating_method", 1, None),
        ("management_method", 1, None),
        ("award", 1, None),
        ("patent", 1, 1),
    ]


async def test_an_idea_outside_any_project_yields_an_achievement_for_leaders_only(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await people["worker"].say("掘进工作面排水改用矿泉水瓶式排水装置,省电又省人")
    refused = (await people["secretary"].say("/achievements add #1 操作法 | 排水装置操作法"))[-1]
    assert "党委领导可以记录成果" in refused
    done = (await people["leader"].say("/achievements add #1 操作法 | 矿泉水瓶式排水装置"))[-1]
    assert "C1" in done and "金点子 #1" in done
    assert "矿泉水瓶式排水装置" in sent_to(transport, "u-E001")[-1]


@pytest.mark.parametrize(
    ("who", "typed", "reply"),
    [
        ("leader", "/achievements add", "用法"),
        ("leader", "/achievements add P09 操作法 | 名称", "没有重点项目 P09"),
        ("leader", "/achievements add #99 专利 | 名称", "没有编号为 #99 的金点子"),
        ("leader", "/achievements add P01 方法 | 名称", "成果类别“方法”不对"),
        ("leader", "/achievements add P01 操作法", "缺少成果名称"),
        ("leader", "/achievements add P01 操作法 |  ", "缺少成果名称"),
        ("leader", "/achievements add P01 操作法 | 名 | 说 | 多", "最多三项"),
        ("leader", "/achievements add P01 操作法 | " + "长" * 61, "60 字以内"),
        ("other_secretary", "/achievements add P01 操作法 | 名称", "负责人或党委领导"),
        ("worker", "/achievements add P01 操作法 | 名称", ""),
        ("leader", "/achievements 方法", "不是成果类别或项目编号"),
    ],
)
async def test_bad_input_gets_a_clear_reply_and_changes_nothing(
    app: App, people: dict[str, Chat], who: str, typed: str, reply: str
) -> None:
    await bolt_project_with_idea(app, people)
    answer = (await people[who].say(typed))[-1]
    assert reply in answer, answer
    assert await rows(app, "achievements") == []


async def test_the_ledger_and_the_quarterly_material_carry_the_achievements(
    app: App, people: dict[str, Chat], clock: Clock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    await bolt_project_with_idea(app, people)
    leader = people["leader"]
    clock.now = datetime(2026, 9, 20, 2, 0, tzinfo=UTC)  # Q3
    await leader.say("/achievements add P01 管理法 | 锚杆回收台账管理法")
    clock.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Q4
    await leader.say("/achievements add P01 操作法 | 锚杆回收复用操作法 | 分拣、校直")
    await leader.say("/achievements add #1 专利 | 可移动式锚杆校直架")
    material = (await leader.say("/review_quarter"))[-1]
    assert "本季度新增成果 2 项:管理法 0 项、操作法 1 项、奖项 0 项、专利 1 项" in material
    assert "C2 操作法「锚杆回收复用操作法」" in material and "C1 " not in material
    earlier = (await leader.say("/review_quarter 2026-Q3"))[-1]
    assert "本季度新增成果 1 项" in earlier and "C1 管理法" in earlier
    # a secretary of a branch in P01 sees them; one of a branch outside it does not
    assert "本季度新增成果 2 项" in (await people["secretary"].say("/review_quarter"))[-1]
    assert "本季度新增成果:无" in (await people["other_secretary"].say("/review_quarter"))[-1]
    path = tmp_path / "ledger.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    book = load_workbook(path)
    sheet = book["成果"]
    assert [c.value for c in sheet[1]] == [
        "成果编号",
        "类别",
        "名称",
        "项目",
        "金点子",
        "说明",
        "记录人",
        "记录时间",
    ]
    found = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [r[:7] for r in found] == [
        ["C1", "管理法", "锚杆回收台账管理法", "P01", None, None, "孙矿长"],
        ["C2", "操作法", "锚杆回收复用操作法", "P01", None, "分拣、校直", "孙矿长"],
        ["C3", "专利", "可移动式锚杆校直架", "P01", "#1", None, "孙矿长"],
    ]
    assert found[0][7] == datetime(2026, 9, 20, 10, 0)  # local time, a date-time cell
