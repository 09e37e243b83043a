"""Key projects as the case runs them (issue 16, items 3 and 4): a project shared out into key
points owned by branches, each with its own progress; savings proved as quantity × unit price
for a month (1,740 bolts × 23 元 = 40,020.00 元 in 2026-11); a KPI from its baseline to its
target (中煤带煤损失率 16.07 % → 11.6 %); bad input refused with nothing changed; the ledger's
sheets carrying the figures the chat shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.export import build_sheets, export_ledger
from bot.roster import import_roster
from tests.support import Chat, RecordingTransport, register_people, table_rows

MORE_SECRETARIES = (
    "employee_no,name,branch_id,role,wecom_userid,phone\n"
    "S003,王书记,zc1,secretary,,13800000013\n"
    "S004,赵书记,jd,secretary,,13800000014\n"
)


@pytest.fixture
async def people(chat: Callable[..., Chat], app: App, tmp_path: Path) -> dict[str, Chat]:
    """刘书记 (jj1), 王书记 (zc1), 赵书记 (jd), 陈书记 (xmc), 孙矿长 (leader), the admin."""
    roster = tmp_path / "more.csv"
    roster.write_text(MORE_SECRETARIES, encoding="utf-8")
    await import_roster(roster, app.repos, app.services.now())
    found = await register_people(chat, "worker", "secretary", "other_secretary", "leader", "admin")
    for key, number, name in (("zc1", "S003", "王书记"), ("jd", "S004", "赵书记")):
        found[key] = chat(f"u-{number}")
        await found[key].register(number, name)
    return found


def labels(who: Chat) -> list[str]:
    return [b["label"] for b in who.last_buttons]


async def rows(app: App, table: str) -> list[dict[str, Any]]:
    return await table_rows(app.repos.db, table)


async def bolt_project(leader: Chat) -> None:
    created = await leader.say("/project new 井下锚杆回收复用 | 修旧利废 | 孙矿长 | jj1,zc1 | 50万")
    assert "已建立重点项目 P01" in created[-1]


async def three_key_points(people: dict[str, Chat]) -> None:
    """P01 shared out to 机掘一队, 综采一队 and (by the form) 机电队."""
    leader = people["leader"]
    await bolt_project(leader)
    added = (await leader.say("/project P01 point add 锚杆回收分拣 | 机掘一队 | 2026-12"))[-1]
    assert "关键点1「锚杆回收分拣」" in added and "2026-12" in added
    added = (await leader.say("/project P01 point add 锚杆修复校直｜zc1｜2027-01"))[-1]
    assert "关键点2「锚杆修复校直」" in added
    assert "关键点" in (await leader.say("/project P01 point add"))[-1]
    asked = (await leader.say("修复锚杆入井运输"))[-1]
    assert "支部" in asked and "机电队" in labels(leader)
    asked = (await leader.press("机电队"))[-1]
    assert "到期月份" in asked and labels(leader) == ["2026-12", "2027-01", "2027-02"]
    summary = (await leader.say("2027-03"))[-1]
    assert "修复锚杆入井运输" in summary and "机电队" in summary and "2027-03" in summary
    added = (await leader.press("确认"))[-1]
    assert "关键点3「修复锚杆入井运输」" in added and "已加入项目" in added  # jd joins P01


async def test_a_cross_branch_project_keeps_each_key_points_progress(
    app: App, people: dict[str, Chat]
) -> None:
    await three_key_points(people)
    project = await app.repos.projects.get(1)
    assert project is not None and sorted(project.branches) == ["jd", "jj1", "zc1"]
    # each secretary reports on the key point of their own branch, with no question
    done = (await people["secretary"].say("/progress P01 30 分拣完成三成"))[-1]
    assert "关键点1「锚杆回收分拣」" in done and "30%" in done
    done = (await people["zc1"].say("/progress P01 20 校直机安装"))[-1]
    assert "关键点2「锚杆修复校直」" in done and "项目进度 17%" in done  # (30 + 20 + 0) / 3
    await people["jd"].say("/progress P01 90 运输通道已通")
    card = (await people["leader"].say("/project P01"))[-1]
    assert "进度:47%(3 个关键点的平均)" in card  # (30 + 20 + 90) / 3, not "latest wins"
    assert "锚杆回收分拣 · 机掘一队 · 2026-12 到期 · 30% · 分拣完成三成" in card
    assert "锚杆修复校直 · 综采一队 · 2027-01 到期 · 20% · 校直机安装" in card
    assert "修复锚杆入井运输 · 机电队 · 2027-03 到期 · 90%" in card
    # the lead may report on any: asked which, by buttons
    asked = (await people["leader"].say("/progress P01 60 分拣加快"))[-1]
    assert "60%是哪个关键点" in asked
    assert labels(people["leader"]) == [
        "关键点1 锚杆回收分拣(机掘一队)",
        "关键点2 锚杆修复校直(综采一队)",
        "关键点3 修复锚杆入井运输(机电队)",
    ]
    done = (await people["leader"].press("关键点1 锚杆回收分拣(机掘一队)"))[-1]
    assert "关键点1" in done and "项目进度 57%" in done  # (60 + 20 + 90) / 3
    points = await app.repos.projects.key_points(1)
    assert [k.percent for k in points] == [60, 20, 90]
    listed = (await people["leader"].say("/projects"))[-1]
    assert "P01" in listed and "57%" in listed
    # a secretary of a branch with no key point here, and a worker, report nothing
    assert "没有本支部" not in (await people["other_secretary"].say("/progress P01 50 好"))[-1]
    assert len(await rows(app, "project_progress")) == 4


async def test_key_points_refuse_what_is_wrong_and_change_nothing(
    app: App, people: dict[str, Chat]
) -> None:
    leader = people["leader"]
    await bolt_project(leader)
    bad = (await leader.say("/project P01 point add 锚杆回收分拣 | 不存在的队 | 2027-03"))[-1]
    assert "不存在的队" in bad
    bad = (await leader.say("/project P01 point add 锚杆回收分拣 | jj1 | 2026-13"))[-1]
    assert "2026-13" in bad and "不对" in bad
    bad = (await leader.say("/project P01 point add 锚杆回收分拣 | jj1"))[-1]
    assert "缺少" in bad and "到期月份" in bad
    refused = (await people["secretary"].say("/project P01 point add 分拣 | jj1 | 2027-03"))[-1]
    assert "负责人或党委领导" in refused
    assert await rows(app, "key_points") == []
    # without key points a project keeps today's behaviour
    assert "已记录 P01 的进展" in (await people["secretary"].say("/progress P01 30 第一批"))[-1]
    assert "最新进展:30% · 第一批" in (await leader.say("/project P01"))[-1]
    # the case: zc1's 20 % no longer hides jj1's 30 %
    await people["zc1"].say("/progress P01 20 校直机安装")
    card = (await leader.say("/project P01"))[-1]
    assert "最新进展:20% · 校直机安装" in card and "各支部最新:机掘一队 30%、综采一队 20%" in card


async def test_a_benefit_as_quantity_times_unit_price_for_a_month(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await bolt_project(people["leader"])
    secretary = people["secretary"]
    claimed = (await secretary.say("/benefit P01 1740套×23元 11月回收锚杆"))[-1]
    assert "1,740 套 × 23.00 元 = 40,020.00 元(2026-11)" in claimed and "B1" in claimed
    notice = [str(p["text"]) for c, p in transport.sent if c == "u-L001"][-1]
    assert "1,740 套 × 23.00 元 = 40,020.00 元" in notice and "/verify B1" in notice
    verified = (await people["admin"].say("/verify B1"))[-1]
    assert "B1 已核实:1,740 套 × 23.00 元 = 40,020.00 元(2026-11)" in verified
    told = [str(p["text"]) for c, p in transport.sent if c == "u-S001"][-1]
    assert "40,020.00 元" in told and "已核实" in told
    (claim,) = await rows(app, "benefits")
    assert (claim["quantity"], claim["unit"], claim["unit_price_fen"]) == ("1740", "套", 2300)
    assert (claim["amount_fen"], claim["period"], claim["status"]) == (
        4_002_000,
        "2026-11",
        "verified",
    )
    project = await app.repos.projects.get(1)
    assert project is not None and project.verified_fen == 4_002_000
    # other ways to write it; the month defaults to this one (the clock is in 2026-11)
    for typed in ("1740*23 回收锚杆", "1740 × 23 元 回收锚杆", "1740＊23 回收锚杆"):
        claimed = (await secretary.say(f"/benefit P01 {typed}"))[-1]
        assert "40,020.00 元(2026-11)" in claimed, typed
    claimed = (await secretary.say("/benefit P01 1740套×23元 2026-10回收锚杆"))[-1]
    assert "(2026-10)" in claimed
    assert "4.00 万元(2026-11)" in (await secretary.say("/benefit P01 4万 更换LED灯"))[-1]
    assert len(await rows(app, "benefits")) == 6


@pytest.mark.parametrize(
    ("typed", "reply"),
    [
        ("1740× 回收锚杆", "× 后写上单价"),
        ("×23 回收锚杆", "× 前写上数量"),
        ("①×23 回收锚杆", "数量“①”要用数字"),
        ("1740套×二十三元 回收锚杆", "单价"),
        ("1740套×23元 2026-13回收锚杆", "月份“2026-13”不对"),
        ("1740套×23元 2027-01回收锚杆", "还没到"),
    ],
)
async def test_a_bad_quantity_price_or_month_is_refused(
    app: App, people: dict[str, Chat], typed: str, reply: str
) -> None:
    await bolt_project(people["leader"])
    answer = (await people["secretary"].say(f"/benefit P01 {typed}"))[0]
    assert reply in answer, answer
    assert await rows(app, "benefits") == []


async def test_the_benefit_form_offers_quantity_times_price_or_an_amount(
    app: App, people: dict[str, Chat]
) -> None:
    await bolt_project(people["leader"])
    secretary = people["secretary"]
    await secretary.say("/benefit")
    asked = (await secretary.press("P01 井下锚杆回收复用"))[-1]
    assert "怎么算" in asked and labels(secretary) == ["数量×单价", "金额"]
    assert "1740套×23元" in (await secretary.press("数量×单价"))[-1]
    replies = await secretary.say("1740×")
    assert "单价" in replies[0] and "数量×单价" in replies[-1]
    assert "说明" in (await secretary.say("1740套×23元"))[-1]
    asked = (await secretary.say("回收锚杆复用"))[-1]  # no month in it: asked
    assert labels(secretary) == ["本月 2026-11", "上月 2026-10"]
    summary = (await secretary.press("本月 2026-11"))[-1]
    assert "1,740 套 × 23.00 元 = 40,020.00 元" in summary and "月份:2026-11" in summary
    assert await rows(app, "benefits") == []
    done = (await secretary.press("确认"))[-1]
    assert "40,020.00 元(2026-11)" in done and "B1" in done
    (claim,) = await rows(app, "benefits")
    assert (claim["amount_fen"], claim["period"]) == (4_002_000, "2026-11")


async def test_a_kpi_from_baseline_to_target_with_history(
    app: App, people: dict[str, Chat]
) -> None:
    leader, secretary = people["leader"], people["secretary"]
    await bolt_project(leader)
    added = (await leader.say("/project P01 kpi add 中煤带煤损失率 | % | 16.07 | 11.6"))[-1]
    assert "基线 16.07% → 目标 11.6%" in added
    recorded = (await secretary.say("/project P01 kpi 中煤带煤损失率 12.8"))[-1]
    line = "中煤带煤损失率:基线 16.07% → 12.8% → 目标 11.6%(已完成 73%)"  # 3.27 / 4.47
    assert line in recorded
    assert line in (await leader.say("/project P01"))[-1]
    await secretary.say("/project P01 kpi 中煤带煤损失率 12.1%")
    card = (await leader.say("/project P01"))[-1]
    assert "→ 12.1% → 目标 11.6%(已完成 89%)" in card
    (kpi,) = await app.repos.projects.kpis(1)
    assert [v for v, _ in kpi.values] == ["12.8", "12.1"]
    # bad input changes nothing
    assert "相同" in (await leader.say("/project P01 kpi add 损失率 | % | 16.07 | 16.07"))[-1]
    assert "基线要写数字" in (await leader.say("/project P01 kpi add 损失率 | % | ① | 11.6"))[-1]
    assert "已经有" in (await leader.say("/project P01 kpi add 中煤带煤损失率 | % | 1 | 2"))[-1]
    assert "负责人或党委领导" in (await secretary.say("/project P01 kpi add 灰分 | % | 1 | 2"))[-1]
    assert "当前值" in (await secretary.say("/project P01 kpi 中煤带煤损失率 ①"))[-1]
    assert "没有指标" in (await secretary.say("/project P01 kpi 灰分 12"))[-1]
    assert len(await rows(app, "kpis")) == 1 and len(await rows(app, "kpi_values")) == 2


async def test_the_project_card_draws_its_kpis_once_measured(
    app: App, people: dict[str, Chat]
) -> None:
    leader, secretary = people["leader"], people["secretary"]
    await bolt_project(leader)
    await leader.say("/project P01 kpi add 中煤带煤损失率 | % | 16.07 | 11.6")
    await leader.say("/project P01")
    assert "image_path" not in leader.received[-1]  # nothing to draw before a value
    await secretary.say("/project P01 kpi 中煤带煤损失率 12.8")
    await secretary.say("/project P01 kpi 中煤带煤损失率 12.1")
    await leader.say("/project P01")
    card = leader.received[-1]
    assert "中煤带煤损失率:基线 16.07%" in str(card["text"])
    image = Path(str(card["image_path"]))
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 10_000


async def test_the_ledger_carries_the_figures_of_the_chat(
    app: App, people: dict[str, Chat], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    await three_key_points(people)
    await people["secretary"].say("/progress P01 30 分拣完成三成")
    await people["zc1"].say("/progress P01 20 校直机安装")
    await people["leader"].say("/project P01 kpi add 中煤带煤损失率 | % | 16.07 | 11.6")
    await people["secretary"].say("/project P01 kpi 中煤带煤损失率 12.8")
    await people["secretary"].say("/benefit P01 1740套×23元 11月回收锚杆")
    await people["admin"].say("/verify B1")
    card = (await people["leader"].say("/project P01"))[-1]
    path = tmp_path / "ledger.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    book = load_workbook(path)
    assert {"关键点", "KPI"} <= set(book.sheetnames)
    points = [[c.value for c in row] for row in book["关键点"].iter_rows(min_row=2)]
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in points] == [
        ("P01", 1, "锚杆回收分拣", "机掘一队党支部", "2026-12", 30),
        ("P01", 2, "锚杆修复校直", "综采一队党支部", "2027-01", 20),
        ("P01", 3, "修复锚杆入井运输", "机电队党支部", "2027-03", None),
    ]
    assert "进度:17%" in card
    projects = book["重点项目"]
    header = [c.value for c in projects[1]]
    assert projects.cell(row=2, column=header.index("最新进展") + 1).value.startswith("17%")
    (kpi,) = [[c.value for c in row] for row in book["KPI"].iter_rows(min_row=2)]
    header = [c.value for c in book["KPI"][1]]
    shown = dict(zip(header, kpi, strict=True))
    assert (shown["指标"], shown["单位"], shown["基线"], shown["当前"], shown["目标"]) == (
        "中煤带煤损失率",
        "%",
        16.07,
        12.8,
        11.6,
    )
    assert shown["完成比例%"] == 73 and "已完成 73%" in card
    benefits = book["效益"]
    header = [c.value for c in benefits[1]]
    (claim,) = [
        dict(zip(header, [c.value for c in r], strict=True)) for r in benefits.iter_rows(min_row=2)
    ]
    assert (claim["数量"], claim["单位"], claim["单价(元)"], claim["金额(元)"]) == (
        1740,
        "套",
        23,
        40020,
    )
    assert claim["月份"] == "2026-11" and claim["状态"] == "已核实"
