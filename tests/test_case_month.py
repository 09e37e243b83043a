"""A month of the case replayed through the chat (issue 16, "Done when"), with the case's own
figures: 1,740 bolts reused in a month × 23 元; 中煤带煤损失率 from 16.07 % to 11.6 %; the month's
89 万 from the washing plant; the 矿长特别奖励 on the first Thursday; an operating method
summarised. Every figure the chat shows is the one the /stats reply, the project card and the
xlsx ledger show. The README's key-project section tells this month as a journey."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from bot.export import build_sheets, export_ledger
from bot.roster import import_roster
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people

MORE_SECRETARIES = (
    "employee_no,name,branch_id,role,wecom_userid,phone\n"
    "S003,王书记,zc1,secretary,,13800000013\n"
    "S004,赵书记,jd,secretary,,13800000014\n"
)
IDEA_JJ1 = "井下废旧锚杆回收后校直修复再复用,每月能省不少材料费"
IDEA_ZC1 = "综采面拆下的锚杆集中分拣校直,修好的送回井下复用"
FIRST_THURSDAY_DEC = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # 3 Dec 07:30 in Shanghai
FIRST_THURSDAY_JAN = datetime(2027, 1, 6, 23, 30, tzinfo=UTC)  # 7 Jan 07:30
SHARES = (
    "机掘一队党支部 10.30 万元、综采一队党支部 5.15 万元、机电队党支部 5.15 万元、"
    "张三 5.15 万元、李四 5.15 万元"
)
"""30.90 万 in six parts: two for the lead branch (the first named), one for each other branch
and each author of an adopted idea."""


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


def at(day: int, hour: int = 9) -> datetime:
    """`day` November 2026, `hour` o'clock in Shanghai."""
    return datetime(2026, 11, day, hour - 8, 0, tzinfo=UTC)


async def test_a_month_of_the_case_through_the_chat(
    app: App,
    chat: Callable[..., Chat],
    clock: Clock,
    transport: RecordingTransport,
    tmp_path: Path,
) -> None:
    from openpyxl import load_workbook

    roster = tmp_path / "more.csv"
    roster.write_text(MORE_SECRETARIES, encoding="utf-8")
    await import_roster(roster, app.repos, app.services.now())
    clock.now = at(2, 8)
    people = await register_people(chat, "worker", "worker2", "secretary", "leader", "admin")
    for key, number, name in (("zc1", "S003", "王书记"), ("jd", "S004", "赵书记")):
        people[key] = chat(f"u-{number}")
        await people[key].register(number, name)
    zhang, li, liu, sun = people["worker"], people["worker2"], people["secretary"], people["leader"]
    wang, zhao, admin = people["zc1"], people["jd"], people["admin"]

    # 2 Nov: two workers of two branches send their ideas from their phones
    clock.now = at(2)
    assert "收到您的金点子 #1" in (await zhang.say(IDEA_JJ1))[0]  # 张三, 机掘一队
    assert "收到您的金点子 #2" in (await li.say(IDEA_ZC1))[0]  # 李四, 综采一队

    # 3 Nov: the committee member creates a cross-branch key project and shares it out
    clock.now = at(3)
    created = await sun.say("/project new 锚杆复用与中煤减损 | 修旧利废 | 孙矿长 | jj1,zc1 | 500万")
    assert "已建立重点项目 P01「锚杆复用与中煤减损」" in created[-1]
    for typed, told in (
        ("锚杆回收分拣 | 机掘一队 | 2026-12", "关键点1「锚杆回收分拣」:机掘一队党支部负责"),
        ("锚杆修复校直 | 综采一队 | 2027-01", "关键点2「锚杆修复校直」:综采一队党支部负责"),
        ("修复锚杆入井运输 | 机电队 | 2027-03", "机电队党支部已加入项目"),
    ):
        assert told in (await sun.say(f"/project P01 point add {typed}"))[-1]
    kpi = (await sun.say("/project P01 kpi add 中煤带煤损失率 | % | 16.07 | 11.6"))[-1]
    assert "中煤带煤损失率:基线 16.07% → 目标 11.6%" in kpi

    # the review queue: both ideas adopted into P01, their authors told
    queue = await sun.say("/review")
    assert "等待首次审核的金点子共 2 条" in queue[0]
    assert "#1 修旧利废" in queue[1] and "#2 修旧利废" in queue[2]
    assert "已纳入重点项目 P01,已通知作者" in (await sun.say("/review 1 adopt P01"))[-1]
    assert "已纳入重点项目 P01,已通知作者" in (await sun.say("/review 2 adopt P01"))[-1]
    assert "已采纳" in sent_to(transport, "u-E001")[-1]
    assert "已采纳" in sent_to(transport, "u-E002")[-1]

    # mid-month: each branch's secretary reports on its own key point, with no question
    clock.now = at(16)
    assert "项目进度 10%" in (await liu.say("/progress P01 30 分拣完成三成"))[-1]
    assert "项目进度 17%" in (await wang.say("/progress P01 20 校直机安装"))[-1]
    assert "项目进度 47%" in (await zhao.say("/progress P01 90 运输通道已通"))[-1]

    # 30 Nov: the month's figures, claimed and verified
    clock.now = at(30)
    claimed = (await liu.say("/benefit P01 1740套×23元 11月回收锚杆"))[-1]
    assert "1,740 套 × 23.00 元 = 40,020.00 元(2026-11)(编号 B1)" in claimed
    assert "/verify B1" in sent_to(transport, "u-L001")[-1]
    assert "B1 已核实:1,740 套 × 23.00 元 = 40,020.00 元" in (await sun.say("/verify B1"))[-1]
    kpi = (await sun.say("/project P01 kpi 中煤带煤损失率 11.6"))[-1]
    assert "中煤带煤损失率:基线 16.07% → 11.6% → 目标 11.6%(已完成 100%)" in kpi
    claimed = (await sun.say("/benefit P01 89万 11月中煤带煤损失率降到11.6%"))[-1]
    assert "89.00 万元(2026-11)(编号 B2)" in claimed
    refused = (await sun.say("/verify B2"))[-1]
    assert "不能核实自己申报的效益" in refused  # another's eyes
    assert "B2 已核实:89.00 万元(2026-11)" in (await admin.say("/verify B2"))[-1]

    # 3 Dec, the first Thursday: the safety meeting's list, with recipients, across a tier
    clock.now = FIRST_THURSDAY_DEC
    result = await run_job(app.services, "reward_meeting", FIRST_THURSDAY_DEC)
    (notice,) = result.notices
    assert [chat_id for _, chat_id in notice.recipients] == ["u-L001"]
    # 93.002 万: 10 万 at 60 % (6 万), the other 83.002 万 at 30 % (24.9006 万)
    assert (
        "P01 锚杆复用与中煤减损:新核实 93.00 万元,待奖励 93.00 万元,建议奖励 30.90 万元"
        "(按档累进,合 33%)"
    ) in notice.text
    assert f"建议分给:{SHARES}" in notice.text
    asked = (await sun.say("/reward P01"))[-1]
    assert "按档累进职工得 33%,建议奖励 30.90 万元,其余归企业" in asked
    await sun.press("按建议分配")
    summary = (await sun.press("不写备注"))[-1]
    assert "合计 30.90 万元(建议 30.90 万元,待奖励的核实效益 93.00 万元)" in summary
    done = (await sun.press("确认"))[-1]
    assert "已记录 P01 的奖励 30.90 万元" in done and "已通知 5 人" in done
    assert "机掘一队党支部参与的重点项目 P01" in sent_to(transport, "u-S001")[-1]
    assert "获得奖励 10.30 万元" in sent_to(transport, "u-S001")[-1]
    assert "获得奖励 5.15 万元" in sent_to(transport, "u-E001")[-1]
    assert "获得奖励 5.15 万元" in sent_to(transport, "u-E002")[-1]
    # rewarded: the January list no longer carries it
    nothing = await run_job(app.services, "reward_meeting", FIRST_THURSDAY_JAN)
    assert not nothing.notices

    # the month's method summarised as an achievement; the ideas' authors told
    recorded = (
        await sun.say("/achievements add P01 操作法 | 锚杆回收复用操作法 | 分拣、校直、入井运输")
    )[-1]
    assert "已记录成果 C1:操作法「锚杆回收复用操作法」(P01)" in recorded
    for author in ("u-E001", "u-E002"):
        assert "有了成果:操作法「锚杆回收复用操作法」" in sent_to(transport, author)[-1]

    # the same figures in /stats, on the card and in the ledger
    stats = (await sun.say("/stats"))[0]
    assert "本季度 2 条,本年 2 条;采纳率 100%" in stats
    assert "核实效益:93.00 万元" in stats
    card = (await sun.say("/project P01"))[-1]
    assert "支部:机掘一队党支部、综采一队党支部、机电队党支部" in card
    assert "进度:47%(3 个关键点的平均)" in card
    assert "核实效益:93.00 万元 / 预期年效益 500.00 万元" in card
    assert "1. 锚杆回收分拣 · 机掘一队 · 2026-12 到期 · 30% · 分拣完成三成" in card
    assert "2. 锚杆修复校直 · 综采一队 · 2027-01 到期 · 20% · 校直机安装" in card
    assert "3. 修复锚杆入井运输 · 机电队 · 2027-03 到期 · 90% · 运输通道已通" in card
    assert "中煤带煤损失率:基线 16.07% → 11.6% → 目标 11.6%(已完成 100%)" in card
    assert "C1 操作法「锚杆回收复用操作法」(P01) · 分拣、校直、入井运输" in card
    assert "金点子:#1、#2" in card and "已奖励:30.90 万元" in card

    path = tmp_path / "ledger.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    book = load_workbook(path)

    def table(name: str) -> list[dict[str, object]]:
        sheet = book[name]
        header = [c.value for c in sheet[1]]
        return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(values_only=True)][
            1:
        ]

    ideas = table("金点子")
    assert [(r["编号"], r["支部"], r["状态"], r["重点项目"]) for r in ideas] == [
        (1, "机掘一队党支部", "已采纳", "P01"),
        (2, "综采一队党支部", "已采纳", "P01"),
    ]
    (project,) = table("重点项目")
    assert project["核实效益(元)"] == 930_020  # 93.00 万元 in chat
    assert project["已奖励(元)"] == 309_006  # 30.90 万元 in chat
    assert str(project["最新进展"]).startswith("47%")
    assert [(r["序号"], r["进度%"]) for r in table("关键点")] == [(1, 30), (2, 20), (3, 90)]
    benefits = table("效益")
    assert [(r["数量"], r["单价(元)"], r["金额(元)"], r["月份"]) for r in benefits] == [
        (1740, 23, 40_020, "2026-11"),
        (None, None, 890_000, "2026-11"),
    ]
    (measure,) = table("KPI")
    assert (measure["基线"], measure["当前"], measure["目标"], measure["完成比例%"]) == (
        16.07,
        11.6,
        11.6,
        100,
    )
    rewards = table("奖励")
    assert sum(float(str(r["金额(元)"])) for r in rewards) == 309_006  # 30.90 万元 in chat
    assert [(r["获奖人/支部/党小组"], r["金额(元)"]) for r in rewards][:2] == [
        ("机掘一队党支部", 103_002),
        ("综采一队党支部", 51_501),
    ]
    (achievement,) = table("成果")
    assert (achievement["成果编号"], achievement["类别"], achievement["项目"]) == (
        "C1",
        "操作法",
        "P01",
    )
