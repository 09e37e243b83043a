"""Key projects and rewards through the router: lifecycle, refusals, notices, the reward list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from handlers.money import format_yuan, parse_yuan
from handlers.render import reward_meeting
from handlers.rules.rewards import reward_meeting_items, tier_share
from handlers.services import Services
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, idea_rows, register_people


async def reward_meeting_list(services: Services, since: datetime) -> str | None:
    """The first-Thursday list as the reward_meeting job renders it."""
    return reward_meeting(await reward_meeting_items(services, since))


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "worker2", "secretary", "leader", "admin", "other_secretary"
    )


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("40000", 4_000_000),
        ("4万", 4_000_000),
        ("4.5万元", 4_500_000),
        ("40,000", 4_000_000),
        ("1740.5", 174_050),
    ],
)
def test_amounts_are_parsed_to_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["-5", "0", "abc", "2000000000", "1.234", "", "四万"])
def test_bad_amounts_are_refused(text: str) -> None:
    assert isinstance(parse_yuan(text), str)


def test_amounts_are_shown_in_yuan_or_wan() -> None:
    assert format_yuan(174_050) == "1,740.50 元"
    assert format_yuan(4_000_000) == "4.00 万元"
    assert format_yuan(89_000_000) == "89.00 万元"
    assert format_yuan(12_345_600_000) == "12,345.60 万元"


def test_tiers_give_workers_less_as_projects_grow(app: App) -> None:
    tiers = app.services.settings.reward_tiers
    assert tier_share(tiers, 5_000_000) == 0.6  # 5 万 yuan
    assert tier_share(tiers, 10_000_000) == 0.6  # 10 万: still the small tier
    assert tier_share(tiers, 50_000_000) == 0.3
    assert tier_share(tiers, 89_000_000) == 0.3  # the 89 万 washing-plant month
    assert tier_share(tiers, 200_000_000) == 0.1


async def test_idea_from_submission_to_reward(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    worker, leader, secretary = people["worker"], people["leader"], people["secretary"]
    await worker.say("井下回收复用锚杆,每月能省好几万")
    await people["worker2"].say("建议把旧锚杆回收起来再用")
    transport.sent.clear()

    shown = (await secretary.say("/review 1"))[0]
    assert "#1" in shown and "已提交" in shown
    assert "已改为“审核中”" in (await secretary.press("审核中"))[0]
    assert any("审核中" in t for t in sent_to(transport, "u-E001"))
    merged = (await leader.say("/review 2 merge 1"))[0]
    assert "已更新" in merged

    created = (
        await leader.say("/project new 井下锚杆回收复用 | repair_reuse | L001 | jj1,zc1 | 50万 | 1")
    )[0]
    assert "已建立重点项目 P01" in created and "#1 已纳入重点项目 P01" in created
    assert any("已采纳,原因:纳入重点项目 P01" in t for t in sent_to(transport, "u-E001"))
    assert any("已采纳" in t for t in sent_to(transport, "u-E002"))  # merged author credited
    assert "已经属于一个重点项目" in (await leader.say("/project link P01 1"))[0]

    assert "已记录 P01 的进展" in (await secretary.say("/progress P01 60 已完成第一批改造"))[0]
    claimed = (await secretary.say("/benefit P01 4万 11月回收锚杆1740根"))[0]
    assert "B1" in claimed and "4.00 万元" in claimed
    assert any("/verify B1" in t for t in sent_to(transport, "u-L001"))
    assert "B1 已核实" in (await leader.say("/verify B1"))[0]
    proposal = (await leader.say("/reward P01"))[0]
    assert "待奖励的核实效益 4.00 万元" in proposal and "60%" in proposal
    assert "建议奖励 2.40 万元" in proposal
    assert "不能超过" in (await leader.say("/reward P01 confirm E001:50000"))[0]
    summary = (await leader.say("/reward P01 confirm E001:15000,jj1:9000 11月安全办公会"))[0]
    assert "张三 1.50 万元" in summary and "11月安全办公会" in summary  # confirmed first
    done = (await leader.press("确认"))[0]
    assert "已记录 P01 的奖励 2.40 万元" in done
    assert any("获得奖励 1.50 万元" in t for t in sent_to(transport, "u-E001"))
    assert "没有待奖励的核实效益" in (await leader.say("/reward P01"))[0]

    await leader.say("/review 1 implemented")
    await leader.say("/review 1 rewarded")
    my = (await worker.say("/my"))[0]
    assert "已奖励" in my and "P01 井下锚杆回收复用:1.50 万元" in my
    history = (await leader.say("/review 1"))[0].split("\n", 1)[1]  # past the header line
    order = ["审核中", "已采纳", "已实施", "已奖励"]
    assert [history.index(w) for w in order] == sorted(history.index(w) for w in order)
    detail = (await leader.say("/project P01"))[0]
    assert "60% · 已完成第一批改造" in detail and "核实效益:4.00 万元" in detail
    assert "#1" in detail and "已奖励:2.40 万元" in detail
    assert "P01" in (await secretary.say("/projects"))[0]


async def test_author_notice_once_on_redelivery(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    transport.sent.clear()
    msg = people["leader"].incoming("/review 1 under_review", update_id="rv-1")
    await people["leader"].deliver(msg)
    await people["leader"].deliver(msg)
    assert len([t for t in sent_to(transport, "u-E001") if "审核中" in t]) == 1
    assert len(await app.repos.ideas.history(1)) == 1


async def test_refusals_change_nothing(app: App, people: dict[str, Chat]) -> None:
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    leader, secretary = people["leader"], people["secretary"]
    await leader.say("/project new 锚杆回收 | 修旧利废 | L001 | jj1 | 10万")
    cases = [
        (
            people["worker"],
            "/project new x | y | z | w | 1",
            "只有管理员、党委领导、支部书记可以使用",
        ),
        (people["worker"], "/verify B1", "只有管理员、党委领导可以使用"),
        (
            secretary,
            "/project new 新项目 | repair_reuse | L001 | jj1 | 1万",
            "只有党委领导可以建立",
        ),
        (leader, "/project new 缺项", "用法"),
        (leader, "/project new 项目 | 不存在 | L001 | jj1 | 1万", "类别要写类别编号"),
        (leader, "/project new 项目 | repair_reuse | E001 | jj1 | 1万", "不是"),
        (leader, "/project new 项目 | repair_reuse | L001 | nowhere | 1万", "支部编号不对"),
        (leader, "/project new 项目 | repair_reuse | L001 | jj1 | -3", "金额要大于 0"),
        (people["other_secretary"], "/progress P01 50 推进中", "只有 P01 的负责人"),
        (secretary, "/progress P01 150 推进中", "要在 0 到 100 之间"),
        (secretary, "/progress P09 50 推进中", "没有重点项目 P09"),
        (secretary, "/progress 推进中", "用法"),
        (secretary, "/benefit P01 0 没有效益", "金额要大于 0"),
        (secretary, "/benefit P01 20亿 太多", "不是金额"),
        (secretary, "/benefit P01 2000000000 太多", "超过 10 亿元"),
        (secretary, "/benefit P01 abc 说明", "不是金额"),
        (people["other_secretary"], "/review 1 under_review", "只有党委领导或作者所在支部的书记"),
        (leader, "/review 1 reject", "不采纳要写明原因"),
        (leader, "/review 1 merge 1", "请写上要合并到的另一条"),
        (leader, "/review 1 implemented", "不能直接改为“已实施”"),
        (leader, "/review 99", "没有编号为 #99"),
        (leader, "/verify B7", "用法"),
    ]
    for who, command, expected in cases:
        reply = (await who.say(command))[0]
        assert expected in reply, (command, reply)
    assert (await idea_rows(app.repos))[0]["status"] == "submitted"
    assert [p.number for p in await app.repos.projects.all()] == ["P01"]
    project = await app.repos.projects.get(1)
    assert project is not None and project.last_progress is None
    await secretary.say("/benefit P01 2万 自己申报")
    await leader.say("/benefit P01 3万 领导申报")
    assert "不能核实自己申报" in (await leader.say("/verify B2"))[0]
    assert "不认可要写明原因" in (await people["admin"].say("/verify B1 reject"))[0]
    assert "未核实" in (await people["admin"].say("/verify B1 reject 没有出库单"))[0]
    assert "已经处理过了" in (await leader.say("/verify B1"))[0]
    project = await app.repos.projects.get(1)
    assert project is not None and project.verified_fen == 0


async def test_reward_meeting_list_and_nudges(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    leader = people["leader"]
    start = clock()
    await leader.say("/project new 洗煤厂重介改造 | process_improvement | L001 | xmc | 100万")
    await people["other_secretary"].say("/benefit P01 89万 10月精煤回收率提高")
    await people["admin"].say("/verify B1")
    text = await reward_meeting_list(app.services, start - timedelta(days=1))
    assert text is not None and "P01 洗煤厂重介改造:新核实 89.00 万元" in text
    # progressive: 10 万 × 60 % + 79 万 × 30 % (the old cliff proposed 89 万 × 30 % = 26.70 万)
    assert "建议奖励 29.70 万元(按档累进,合 33%)" in text and "洗煤厂党支部 29.70 万元" in text
    # nothing new since then, yet it stays listed until rewarded (it used to drop off)
    later = await reward_meeting_list(app.services, clock() + timedelta(seconds=1))
    assert later is not None and "P01 洗煤厂重介改造:此前已列,待奖励 89.00 万元" in later
    result = await run_job(app.services, "reward_meeting", clock())
    assert result.queued == 1
    clock.advance(8 * 86400)
    nudged = await run_job(app.services, "progress_nudge", clock())
    assert nudged.queued == 2  # the lead and 洗煤厂's secretary
    await people["worker"].sender.run_once()
    assert any("8 天没有报告进展" in t for t in sent_to(transport, "u-S002"))  # 8 days on


async def test_xlsx_ledger_matches_the_database(
    app: App, people: dict[str, Chat], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from bot.export import MONEY_FORMAT, build_sheets, export_ledger

    leader = people["leader"]
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    await leader.say("/project new 锚杆回收 | repair_reuse | L001 | jj1 | 50万 | 1")
    await people["secretary"].say("/progress P01 30 第一批")
    await people["secretary"].say("/benefit P01 4万 11月")
    await people["secretary"].say("/benefit P01 1740.5 12月")
    await leader.say("/verify B1")
    await leader.say("/verify B2")
    await leader.say("/reward P01 confirm E001:10000,jj1:5000.5")
    await leader.press("确认")
    path = tmp_path / "ledger.xlsx"
    count = await export_ledger(path, await build_sheets(app.services))
    assert count == 1
    book = load_workbook(path)
    assert book.sheetnames == [
        "汇总",
        "金点子",
        "重点项目",
        "关键点",
        "进展",
        "效益",
        "奖励",
        "月度考核",
        "督导问题",
        "督导走访",
        "党小组",
        "成果",
        "KPI",
    ]
    ideas = book["金点子"]
    assert ideas.freeze_panes == "A2"
    assert [c.value for c in ideas[1]][:4] == ["编号", "提交时间", "工号", "姓名"]
    assert ideas["O2"].value == "P01" and ideas["L2"].value == "已采纳"
    projects = book["重点项目"]
    header = [c.value for c in projects[1]]
    verified = projects.cell(row=2, column=header.index("核实效益(元)") + 1)
    project = await app.repos.projects.get(1)
    assert project is not None
    assert verified.value == project.verified_fen / 100 == 41740.5
    assert verified.number_format == MONEY_FORMAT
    rewards = book["奖励"]
    amounts = [row[3].value for row in rewards.iter_rows(min_row=2)]
    assert sum(amounts) == project.rewarded_fen / 100 == 15000.5
    assert [row[2].value for row in rewards.iter_rows(min_row=2)] == ["张三", "机掘一队党支部"]
    benefits = book["效益"]
    assert [row[3].value for row in benefits.iter_rows(min_row=2)] == ["verified", "verified"]
    assert [row[4].value for row in benefits.iter_rows(min_row=2)] == ["已核实", "已核实"]
    assert book["进展"]["C2"].value == 30
