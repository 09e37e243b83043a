"""What a hostile user or a cracked phone sends: odd digits, full-width forms, control
characters, amounts with spaces, and requests outside one's scope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.export import build_sheets, export_ledger
from handlers.router import APOLOGY
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, idea_rows, register_people

ROLES = ("worker", "worker2", "secretary", "other_secretary", "supervisor", "leader", "admin")
HUGE = "99999999999999999999"


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, *ROLES)


@pytest.fixture
async def mine(people: dict[str, Chat]) -> dict[str, Chat]:
    """A project of 洗煤厂 (xmc), an idea from jj1 (#1) and one from zc1 (#2)."""
    await people["leader"].say(
        "/project new 洗煤厂重介改造 | process_improvement | L001 | xmc | 100万"
    )
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    await people["worker2"].say("主井皮带机托辊坏了别扔,拆下来修好再用")
    return people


ODD = [
    ("leader", f"/review {HUGE}", "用法"),
    ("leader", "/review ②", "用法"),
    ("leader", "/review #²", "用法"),
    ("leader", "/review 1 merge ²", "请写上要合并到的另一条"),
    ("leader", f"/review 1 merge {HUGE}", "请写上要合并到的另一条"),
    ("leader", "/review 1 adopt P²", "请写上重点项目编号"),
    ("leader", f"/review 1 adopt P{HUGE}", "请写上重点项目编号"),
    ("leader", "/verify B²", "用法"),
    ("leader", f"/verify B{HUGE}", "用法"),
    ("leader", "/project P②", "没有这个重点项目"),
    ("leader", f"/project link P01 {HUGE}", f"没有编号为 {HUGE} 的金点子"),
    ("leader", "/project link P01 ①", "没有编号为 ① 的金点子"),
    ("leader", f"/reward P{HUGE}", "用法"),
    ("leader", "/review_quarter 0000-Q1", "用法"),
    ("leader", "/score 0000-01", "用法"),
    ("leader", "/score close 0000-01", "用法:/score close YYYY-MM"),
    ("leader", "/score base jj1 ²", "分数要写 0 到 100 的数字"),
    ("leader", "/category ①", "请写上金点子的编号"),
    ("leader", f"/category {HUGE}", "请写上金点子的编号"),
    ("worker", "/my ²", "页码要写数字"),
    ("worker", f"/my {HUGE}", "页码要写数字"),
    ("supervisor", "/findings ²", "没有“²”这个筛选或支部编号"),
    ("supervisor", f"/findings {HUGE}", "这个筛选或支部编号"),
    ("supervisor", "/findings note ² 已经整改", "请写上问题编号"),
    ("supervisor", f"/findings escalate {HUGE}", "请写上问题编号"),
    ("supervisor", f"/findings add jj1 P{HUGE} 班前会记录不全", "没有参与重点项目"),
    ("supervisor", "/visit ²", "没有编号为“²”的支部"),
    ("other_secretary", "/progress P01 -5 倒退了", "要在 0 到 100 之间"),
    ("other_secretary", "/progress P01 ²% 推进中", "要在 0 到 100 之间"),
    ("other_secretary", "/benefit P01 ² 说明", "不是金额"),
    ("other_secretary", f"/benefit P01 {HUGE} 说明", "超过 10 亿元"),
    ("secretary", "/score self ²", "分数要写 0 到 100 的数字"),
]


@pytest.mark.parametrize(("who", "text", "expected"), ODD)
async def test_odd_numbers_get_a_reply_that_names_the_problem(
    app: App, mine: dict[str, Chat], who: str, text: str, expected: str
) -> None:
    before = await idea_rows(app.repos)
    replies = await mine[who].say(text)
    assert replies and APOLOGY not in replies, (text, replies)
    assert expected in replies[0], (text, replies)
    assert await idea_rows(app.repos) == before
    progress = await app.repos.db.fetchall("SELECT * FROM project_progress")
    benefits = await app.repos.db.fetchall("SELECT * FROM benefits")
    assert (progress, benefits) == ([], [])


@pytest.mark.parametrize("data", ["i:²:ok", f"i:{HUGE}:ok", "r:²:under_review", "my:²", "i:1"])
async def test_odd_button_data_is_an_expired_button(mine: dict[str, Chat], data: str) -> None:
    replies = await mine["leader"].deliver(mine["leader"].incoming(callback=data))
    assert replies and APOLOGY not in replies
    assert "按钮已经失效" in replies[0] or "不是您提交的" in replies[0] or "金点子" in replies[0]


async def test_full_width_forms_are_read_as_their_ascii_selves(
    app: App, mine: dict[str, Chat]
) -> None:
    listed = (await mine["supervisor"].say("／findings"))[0]
    assert "未解决的问题" in listed
    assert len(await idea_rows(app.repos)) == 2  # not stored as an idea
    created = (await mine["leader"].say("/project new 节能灯改造｜节能环保｜L001｜jj1｜5万"))[0]
    assert "已建立重点项目 P02" in created
    await mine["secretary"].say("/benefit P02 ５万 更换LED灯")
    await mine["admin"].say("/verify B1")
    await mine["leader"].say("/reward P02 confirm E001：5000，jj1：2200 首批")
    done = (await mine["leader"].press("确认"))[0]
    assert "已记录 P02 的奖励 7,200.00 元" in done


async def test_amounts_lists_and_repeated_recipients(
    app: App, mine: dict[str, Chat], transport: RecordingTransport
) -> None:
    claimed = (await mine["other_secretary"].say("/benefit P01 5 万 10月精煤回收率提高"))[0]
    assert "效益 5.00 万元" in claimed
    await mine["admin"].say("/verify B1")
    await mine["leader"].say("/reward P01 confirm E001:50,E001:50 ,E003:200")
    await mine["leader"].press("确认")
    rows = await app.repos.db.fetchall(
        "SELECT label, amount_fen FROM reward_recipients ORDER BY position"
    )
    assert [tuple(r) for r in rows] == [("张三", 10_000), ("王五", 20_000)]
    told = [str(p["text"]) for chat, p in transport.sent if chat == mine["worker"].chat_id]
    assert any("获得奖励 100.00 元" in t for t in told[-1:])


@pytest.mark.sqlite_only(
    reason="it seeds a NUL byte as old SQLite rows may hold; PostgreSQL text cannot"
)
async def test_control_characters_never_reach_storage_or_the_ledger(
    app: App, mine: dict[str, Chat], tmp_path: Path, clock: Clock
) -> None:
    await mine["worker"].say("井下\x00回收\x07锚杆\x1b[31m每月省钱")
    assert (await idea_rows(app.repos))[-1]["text"] == "井下回收锚杆[31m每月省钱"
    author = await app.repos.people.by_employee_no("E001")
    assert author is not None
    async with app.repos.db.transaction():  # as stored before the router cleaned text
        await app.repos.ideas.add(
            author=author,
            text="旧数据\x00带\x1b控制符",
            category="other",
            confidence=0.5,
            channel="test",
            now=clock(),
        )
    sheets = await build_sheets(app.services)
    out = tmp_path / "ledger.xlsx"
    assert await export_ledger(out, sheets) == 4
    assert out.stat().st_size > 0


async def test_scope_of_secretaries_over_ideas_projects_and_groups(
    app: App, mine: dict[str, Chat], chat: Callable[..., Chat]
) -> None:
    secretary = mine["secretary"]  # of jj1, which is not in P01
    assert "P01 没有本支部参与" in (await secretary.say("/review 1 adopt P01"))[0]
    assert "只有党委领导可以把金点子合并到其他支部" in (await secretary.say("/review 1 merge 2"))[0]
    assert [r["status"] for r in await idea_rows(app.repos)] == ["submitted", "submitted"]
    assert "P01 没有本支部参与" in (await secretary.say("/project P01"))[0]
    assert "目前没有本支部参与的" in (await secretary.say("/projects"))[0]
    assert "洗煤厂重介改造" in (await mine["other_secretary"].say("/project P01"))[0]
    group_of = {"secretary": "u-S001", "other_secretary": "u-S002"}
    await chat(group_of["other_secretary"], chat_type="group", chat_id="-900").say("/bind xmc")
    taken = await chat(group_of["secretary"], chat_type="group", chat_id="-900").say("/bind jj1")
    assert "已经是「洗煤厂党支部」的支部群" in taken[0] or "已经是「" in taken[0]
    binding = await app.repos.groups.get("test", "-900")
    assert binding is not None and binding.branch_id == "xmc"
    moved = await chat("u-A001", chat_type="group", chat_id="-900").say("/bind jj1")
    assert "已绑定" in moved[0]


async def test_nobody_confirms_a_reward_to_themselves(app: App, mine: dict[str, Chat]) -> None:
    await mine["other_secretary"].say("/benefit P01 10万 10月")
    await mine["admin"].say("/verify B1")
    refused = (await mine["leader"].say("/reward P01 confirm L001:1000,E001:1000"))[0]
    assert "不能给自己确认奖励" in refused
    assert await app.repos.db.fetchall("SELECT * FROM rewards") == []


async def test_a_supervisor_sees_only_their_department_on_the_agenda(
    app: App, mine: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    await mine["supervisor"].say("/findings add jj1 班前会记录不全")  # 宣传部
    await mine["supervisor"].say("/findings escalate 1")
    await mine["leader"].say("/findings add zc1 学习笔记缺页")  # 组织部
    await mine["leader"].say("/findings escalate 2")
    own = (await mine["supervisor"].say("/agenda"))[0]
    assert "#1 班前会记录不全" in own and "学习笔记缺页" not in own and "【组织部】" not in own
    every = (await mine["leader"].say("/agenda"))[0]
    assert "【宣传部】" in every and "【组织部】" in every
    before = len(transport.sent)
    await run_job(app.services, "weekly_meeting", clock())
    await mine["worker"].sender.run_once()
    sent = {chat: str(p["text"]) for chat, p in transport.sent[before:]}
    assert "学习笔记缺页" not in sent["u-D001"] and "班前会记录不全" in sent["u-D001"]
    assert "学习笔记缺页" in sent["u-L001"] and "班前会记录不全" in sent["u-L001"]
