"""The 台账 as the committee office files it (issue 19 item 3): a small real campaign driven
through the chat, exported, and opened with openpyxl the way the office opens it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.export import MONEY_FORMAT, PERCENT_FORMAT, TIME_FORMAT, build_sheets, export_ledger
from handlers.money import format_yuan
from tests.support import Chat, Clock, register_people

FORMULA = "=1+1 井下锚杆回收后校直复用"
SHEETS = [
    "汇总", "金点子", "重点项目", "关键点", "进展", "效益", "奖励", "月度考核", "督导问题",
    "督导走访", "党小组", "成果", "KPI",
]  # fmt: skip


async def campaign(app: App, chat: Callable[..., Chat], clock: Clock) -> dict[str, Chat]:
    """Ideas of several categories and channels, one rejected with a reason, one merged; a
    key project with a verified and a rejected claim; findings decided and overdue, resolved
    and open; a visit."""
    people = await register_people(chat, "worker", "worker2", "secretary", "supervisor", "leader")
    zhang, leader = people["worker"], people["leader"]
    secretary, supervisor = people["secretary"], people["supervisor"]
    assert "#1" in (await zhang.say("井下废旧锚杆回收后校直修复再复用,每月能省不少材料费"))[0]
    assert "#2" in (await zhang.say("锚杆回收以后校直再用,省材料费"))[0]
    author = await app.repos.people.by_employee_no("E001")
    assert author is not None
    async with app.repos.db.transaction():
        for text, category, channel in (
            ("主扇风机加装变频器,节约电费", "energy_environment", "wecom"),
            ("皮带机托辊改用新型密封结构,减少更换", "tech_innovation", "telegram"),
            (FORMULA, "repair_reuse", "console"),
        ):
            await app.repos.ideas.add(
                author=author,
                text=text,
                category=category,
                confidence=0.9982,
                channel=channel,
                now=clock(),
            )
    created = await leader.say("/project new 锚杆复用 | 修旧利废 | 孙矿长 | jj1 | 500万")
    assert "已建立重点项目 P01" in created[-1]
    adopted = await leader.say("/review 1 adopt P01")
    if any(b["label"] == "确认纳入" for b in leader.last_buttons):
        adopted = await leader.press("确认纳入")
    assert "已纳入重点项目 P01" in adopted[-1]
    assert "已更新" in (await leader.say("/review 2 merge 1"))[-1]
    assert "已更新" in (await leader.say("/review 3 reject 风机已有变频改造计划"))[-1]
    await secretary.say("/benefit P01 1740套×23元 11月回收锚杆")
    await leader.say("/verify B1")
    await secretary.say("/benefit P01 2万 11月")
    assert "未核实" in (await leader.say("/verify B2 reject 没有出库单"))[-1]
    await leader.say("/reward P01 confirm E001:1000")
    await leader.press("确认")
    await supervisor.say("/findings add jj1 班前会记录不全")
    await supervisor.say("/findings escalate 1")
    await leader.say("/findings decide 1 补齐记录 | 宣传部 | 2026-11-25")
    await supervisor.say("/findings add jj1 宣传栏内容过期")
    await secretary.say("/findings resolve 2 已更新宣传栏")
    await supervisor.say("/findings add jj1 学习记录缺两次")
    await supervisor.say("/visit jj1 查看班前会")
    clock.now += timedelta(days=3)  # 27 Nov: finding 1 is past its due day
    return people


def rows_of(page: Any) -> list[dict[str, Any]]:
    """A sheet's rows as header → cell."""
    rows = list(page.iter_rows())
    header = [c.value for c in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


async def test_every_sheet_reads_as_the_office_files_it(
    app: App, chat: Callable[..., Chat], clock: Clock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    await campaign(app, chat, clock)
    sheets = await build_sheets(app.services)
    path = tmp_path / "台账.xlsx"
    assert await export_ledger(path, sheets) == 5
    book = load_workbook(path)
    assert book.sheetnames == SHEETS
    for sheet in sheets:
        page = book[sheet.title]
        assert [c.value for c in page[1]] == [title for _, title in sheet.columns]
        assert all(re.search("[\u4e00-\u9fff]|KPI", title) for _, title in sheet.columns)
        assert page.freeze_panes == "A2", sheet.title
        last = f"{get_column_letter(len(sheet.columns))}{max(page.max_row, 1)}"
        assert page.auto_filter.ref == f"A1:{last}", sheet.title

    ideas = {r["编号"].value: r for r in rows_of(book["金点子"])}
    first = ideas[1]
    created = first["提交时间"]
    assert isinstance(created.value, datetime) and created.value.tzinfo is None
    assert created.value == datetime(2026, 11, 24, 10, 0) and created.number_format == TIME_FORMAT
    assert (first["类别编号"].value, first["类别"].value) == ("repair_reuse", "修旧利废")
    assert (first["状态编号"].value, first["状态"].value) == ("adopted", "已采纳")
    assert first["作者已确认"].value in ("是", "否") and first["重点项目"].value == "P01"
    assert ideas[2]["状态"].value == "已合并" and ideas[2]["合并到"].value == "#1"
    assert ideas[3]["状态"].value == "未采纳"
    assert ideas[3]["不采纳理由"].value == "风机已有变频改造计划"
    assert [ideas[n]["渠道"].value for n in (3, 4, 5)] == ["企业微信", "Telegram", "控制台"]
    assert ideas[3]["渠道编号"].value == "wecom" and ideas[4]["类别"].value == "技术创新"
    confidence = ideas[4]["把握"]
    assert confidence.value == 0.9982 and confidence.number_format == PERCENT_FORMAT
    formula = ideas[5]["内容"]
    assert formula.data_type == "s" and formula.value == FORMULA  # text, never run

    benefits = rows_of(book["效益"])
    assert [(b["状态"].value, b["未核实理由"].value) for b in benefits] == [
        ("已核实", None),
        ("未核实", "没有出库单"),
    ]
    assert benefits[0]["金额(元)"].value == 40020 and isinstance(
        benefits[0]["核实时间"].value, datetime
    )

    findings = {f["编号"].value: f for f in rows_of(book["督导问题"])}
    decided = findings[1]
    assert (decided["状态"].value, decided["已提交党委"].value) == ("未解决", "是")
    assert decided["例会决定"].value == "补齐记录" and decided["责任部门"].value == "宣传部"
    assert decided["完成期限"].value == "2026-11-25" and decided["逾期"].value == "是"
    assert decided["支部"].value == "机掘一队党支部" and decided["督导部门"].value == "宣传部"
    resolved = findings[2]
    assert resolved["状态"].value == "已解决" and resolved["逾期"].value == "否"
    assert isinstance(resolved["解决时间"].value, datetime)
    assert resolved["解决时间"].value >= resolved["提出时间"].value
    assert findings[3]["解决时间"].value is None and findings[3]["已提交党委"].value == "否"
    [visit] = rows_of(book["督导走访"])
    assert visit["走访时间"].value == datetime(2026, 11, 24, 10, 0)
    assert (visit["支部"].value, visit["督导人员"].value, visit["备注"].value) == (
        "机掘一队党支部",
        "周督导",
        "查看班前会",
    )


async def test_one_money_format_across_the_ledger(
    app: App, chat: Callable[..., Chat], clock: Clock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    await campaign(app, chat, clock)
    sheets = await build_sheets(app.services)
    path = tmp_path / "台账.xlsx"
    await export_ledger(path, sheets)
    book = load_workbook(path)
    formats: dict[str, set[str]] = {}
    for sheet in sheets:
        page = book[sheet.title]
        keys = [key for key, _ in sheet.columns]
        for key in sheet.money:
            assert "(元)" in dict(sheet.columns)[key]  # the header says the unit
            column = keys.index(key) + 1
            for row in range(2, page.max_row + 1):
                cell = page.cell(row=row, column=column)
                if cell.value is not None:
                    formats.setdefault(sheet.title, set()).add(cell.number_format)
    summary = rows_of(book["汇总"])
    money = [r for r in summary if r["单位"].value == "元"]
    assert len(money) == 3
    formats["汇总"] = {r["数值"].number_format for r in money}
    assert {"汇总", "重点项目", "效益", "奖励"} <= set(formats)
    assert set().union(*formats.values()) == {MONEY_FORMAT}
    assert all("万" not in str(c.value) for r in summary for c in r.values())


async def test_the_summary_says_what_stats_says(
    app: App, chat: Callable[..., Chat], clock: Clock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    people = await campaign(app, chat, clock)
    path = tmp_path / "台账.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    summary = {r["指标"].value: r["数值"].value for r in rows_of(load_workbook(path)["汇总"])}
    # the figures come with the first chart; the second message is the branch scores
    stats = (await people["leader"].say("/stats"))[0]
    found = re.search(r"本月 (\d+) 条,本季度 (\d+) 条,本年 (\d+) 条;采纳率 (\d+)%", stats)
    assert found is not None, stats
    month, quarter, year, rate = (int(g) for g in found.groups())
    assert (summary["本月金点子"], summary["本季度金点子"], summary["本年金点子"]) == (
        month,
        quarter,
        year,
    )
    assert year == 5  # the merged and the rejected idea count too, as in /stats
    assert round(summary["采纳率"] * 100) == rate
    benefit = re.search(r"核实效益:(.+?)\(年度目标 (.+?),完成 (\d+)%\)", stats)
    assert benefit is not None, stats
    assert format_yuan(round(summary["核实效益"] * 100)) == benefit.group(1)
    assert format_yuan(round(summary["年度效益目标"] * 100)) == benefit.group(2)
    assert round(summary["效益完成率"] * 100) == int(benefit.group(3))
    review = re.search(r"首次审核平均 ([0-9.]+) 天", stats)
    assert review is not None, stats
    assert f"{summary['首次审核平均用时']:.1f}".removesuffix(".0") == review.group(1)
    visits = (await people["leader"].say("/visits"))[-1]
    done = [(int(d), int(t)) for d, t in re.findall(r"完成 (\d+)/(\d+)", visits)]
    assert summary["本月督导走访"] == sum(d for d, _ in done)
    assert summary["本月走访目标"] == sum(t for _, t in done) > 0
    assert summary["本月督导走访"] == 1
    assert summary["未解决督导问题"] == 2 and summary["重点项目"] == 1
    assert summary["已发奖励"] == 1000


async def test_csv_and_json_lines_carry_local_times_with_the_offset(
    app: App, chat: Callable[..., Chat], clock: Clock, tmp_path: Path
) -> None:
    import csv
    import json

    await campaign(app, chat, clock)
    jsonl = tmp_path / "台账.jsonl"
    assert await export_ledger(jsonl, await build_sheets(app.services)) == 5
    items = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert items[0]["created_at"] == "2026-11-24T10:00:00+08:00"
    assert datetime.fromisoformat(items[0]["created_at"]) == datetime(2026, 11, 24, 2, tzinfo=UTC)
    assert items[2]["reason"] == "风机已有变频改造计划" and items[1]["merged_into"] == "#1"
    assert items[3]["channel"] == "Telegram" and items[3]["channel_id"] == "telegram"
    path = tmp_path / "台账.csv"
    await export_ledger(path, await build_sheets(app.services))
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["提交时间"] == "2026-11-24T10:00:00+08:00" and rows[0]["类别"] == "修旧利废"
    assert rows[4]["内容"] == "'" + FORMULA  # a spreadsheet would run it: defused
