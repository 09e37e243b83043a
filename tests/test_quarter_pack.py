"""The quarterly meeting pack (issue 17 item 3): per branch the reports, the three months'
scores, findings, visits and benefits in one workbook and a chart, sent to the leaders before
the review meeting, with the bottom branches and stalled projects flagged 作出检查."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import App
from handlers.quarter_pack import pack_chart, pack_reply, write_pack
from handlers.rules.periods import Quarter
from handlers.rules.quarter_pack import pack
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people

Q4 = Quarter(2026, 4)
PACK_TIME = datetime(2027, 1, 7, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
SHEETS = ["汇总", "项目汇报", "月度考核", "督导问题", "督导走访", "效益", "作出检查"]


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "secretary", "supervisor", "leader", "worker")


async def _person_id(app: App, employee_no: str) -> int:
    person = await app.repos.people.by_employee_no(employee_no)
    assert person is not None
    return person.id


async def _quarter(app: App, clock: Clock, people: dict[str, Chat]) -> None:
    """Oct-Dec 2026: three closed months scored for jj1 / jj2 / kj1; jj1's key project reported
    on and progressing, jj2's and kj1's silent since October; findings, visits, a benefit."""
    repos = app.repos
    leader = await _person_id(app, "L001")
    secretary = await _person_id(app, "S001")
    clock.now = datetime(2026, 9, 20, 2, 0, tzinfo=UTC)
    anchors = await repos.projects.create(
        title="锚杆回收复用",
        category="repair_reuse",
        lead_id=leader,
        branches=["jj1"],
        expected_fen=50_000_000,
        person_id=leader,
        now=clock(),
    )
    belts = await repos.projects.create(
        title="旧皮带修复",
        category="repair_reuse",
        lead_id=leader,
        branches=["jj2", "kj1"],
        expected_fen=10_000_000,
        person_id=leader,
        now=clock(),
    )
    clock.now = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    await repos.projects.add_progress(belts, secretary, 10, "旧皮带拆回", clock())
    for month, day, bases in (
        ("2026-10", 20, (92, 85, 70)),
        ("2026-11", 20, (90, 84, 72)),
        ("2026-12", 20, (94, 80, 75)),
    ):
        clock.now = datetime(2026, int(month[-2:]), day, 2, 0, tzinfo=UTC)
        for branch, base in zip(("jj1", "jj2", "kj1"), bases, strict=True):
            for part, value in (("base", base), ("self", 80), ("dept", 70), ("leader", 100)):
                await repos.scores.enter(branch, month, part, value, "", None, clock())
        await repos.scores.close(month, leader, clock())
    clock.now = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    await people["supervisor"].say("/visit jj1 班前会")
    await people["supervisor"].say("/visit jj1 复查")
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    await people["supervisor"].say("/findings add jj1 安全学习签到缺人")
    clock.now = datetime(2026, 11, 12, 2, 0, tzinfo=UTC)
    await people["secretary"].say("/findings resolve 2 已补签")
    clock.now = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)
    await repos.projects.add_progress(anchors, secretary, 60, "回收锚杆 1740 根", clock())
    claim = await repos.projects.claim(
        anchors, 4_000_000, "12 月回收锚杆 1740 根", secretary, clock()
    )
    assert await repos.projects.decide(claim, "verified", leader, "已核实", clock())
    clock.now = datetime(2027, 1, 3, 2, 0, tzinfo=UTC)
    report = await repos.quarters.save_report(
        quarter=str(Q4),
        project_id=anchors,
        branch_id="jj1",
        progress="回收锚杆 1740 根",
        problems="回收工具不足",
        next_steps="加工专用拆卸器",
        person_id=secretary,
        now=clock(),
    )
    await repos.quarters.add_comment(report, leader, "要推广到机掘二队", clock())
    clock.now = PACK_TIME


async def test_the_leaders_get_the_pack_after_the_reports_are_due(
    app: App, people: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    await _quarter(app, clock, people)
    transport.sent.clear()
    result = await run_job(app.services, "quarter_pack", PACK_TIME)
    assert result.period == "2027-Q1" and result.queued == 1
    await people["leader"].sender.run_once()
    to_leader = [p for c, p in transport.sent if c == "u-L001"]
    assert len(to_leader) == 1
    text = str(to_leader[0]["text"])
    assert "2026 年第四季度党群讲评会材料" in text
    assert "项目汇报:已交 1 份 / 应交 3 份。" in text
    assert "机掘二队党支部(P02)" in text and "开掘一队党支部(P02)" in text
    assert "机掘一队党支部(" not in text
    assert "作出检查:" in text and "开掘一队党支部:季度月度考核平均" in text
    assert "重点项目 P02 旧皮带修复 自 10月08日 起没有报告进展" in text
    assert "附件 2026-Q4-季度讲评会材料.xlsx:汇总、项目汇报" in text
    assert not [c for c, _ in transport.sent if c in ("u-S001", "u-D001", "u-E001")]

    chart = Path(str(to_leader[0]["image_path"]))
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    workbook = Path(str(to_leader[0]["document_path"]))
    assert workbook == app.services.settings.chart_dir / "2026-Q4-季度讲评会材料.xlsx"
    book = load_workbook(workbook)
    assert book.sheetnames == SHEETS

    summary = book["汇总"]
    assert summary["A1"].value == "2026 年第四季度党群讲评会材料"
    assert isinstance(summary["B2"].value, datetime)
    assert summary["B2"].value == datetime(2027, 1, 7, 8, 0)
    header = [c.value for c in summary[4]]
    assert header == [
        "排名",
        "支部",
        "10月得分",
        "11月得分",
        "12月得分",
        "季度平均",
        "汇报 已交/应交",
        "督导问题 新增",
        "督导问题 未解决",
        "核实效益(万元)",
        "作出检查",
    ]
    assert summary.freeze_panes == "A5" and summary.auto_filter.ref.startswith("A4:K")
    rows = {r[1]: r for r in summary.iter_rows(min_row=5, values_only=True)}
    jj1 = rows["机掘一队党支部"]
    # jj1: base 92 / 90 / 94, project part 0.3×80 + 0.4×70 + 0.3×100 = 82 → 0.8 base + 0.2 × 82
    assert jj1[0] == 1 and jj1[2:5] == (90.0, 88.4, 91.6) and jj1[5] == 90.0
    assert jj1[6] == "1/1" and jj1[7] == 2 and jj1[8] == 1 and jj1[9] == 4.0
    assert jj1[10] is None  # not flagged
    jj2 = rows["机掘二队党支部"]
    assert "第 2 名(共 3 个支部)" in str(jj2[10]) and "P02 旧皮带修复" in str(jj2[10])
    kj1 = rows["开掘一队党支部"]
    assert (
        kj1[0] == 3
        and "季度月度考核平均" in str(kj1[10])
        and "第 3 名(共 3 个支部)" in str(kj1[10])
    )
    assert rows["综采一队党支部"][0] is None and rows["综采一队党支部"][10] is None
    assert list(rows)[:3] == ["综采一队党支部", "综采二队党支部", "机掘一队党支部"]  # org order
    money = next(r[9] for r in summary.iter_rows(min_row=5) if r[1].value == "机掘一队党支部")
    assert money.number_format == '#,##0.00" 万元"'

    for name in SHEETS[1:]:
        sheet = book[name]
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref is not None, name
        assert sheet["A1"].value == "支部", name

    reports = list(book["项目汇报"].iter_rows(values_only=True))
    assert reports[0] == (
        "支部",
        "项目编号",
        "项目名称",
        "推进情况",
        "存在问题",
        "下一步安排",
        "汇报人",
        "汇报时间",
        "领导点评",
    )
    done = next(r for r in reports if r[1] == "P01")
    assert done[3:7] == ("回收锚杆 1740 根", "回收工具不足", "加工专用拆卸器", "刘书记")
    assert done[7] == datetime(2027, 1, 3, 10, 0) and done[8] == "孙矿长:要推广到机掘二队"
    assert [r[0] for r in reports if r[3] == "未汇报"] == ["机掘二队党支部", "开掘一队党支部"]

    months = list(book["月度考核"].iter_rows(values_only=True))
    assert months[0] == ("支部", "10月得分", "11月得分", "12月得分", "季度平均", "排名")
    assert next(r for r in months if r[0] == "机掘二队党支部")[1:4] == (84.4, 83.6, 80.4)

    findings = list(book["督导问题"].iter_rows(values_only=True))
    assert findings[0] == ("支部", "问题编号", "督导部门", "问题", "状态", "提出时间", "解决时间")
    first, second = findings[1:]
    assert first[1:5] == (1, "宣传部", "班前会记录不全", "未解决") and first[6] is None
    assert second[4] == "已解决" and second[6] == datetime(2026, 11, 12, 10, 0)
    assert isinstance(first[5], datetime)
    assert list(book["督导走访"].iter_rows(values_only=True))[1:] == [
        ("机掘一队党支部", "宣传部", 2)
    ]

    benefits = book["效益"]
    benefit = next(benefits.iter_rows(min_row=2, values_only=True))
    assert benefit[:5] == ("机掘一队党支部", "P01", "锚杆回收复用", 4.0, "12 月回收锚杆 1740 根")
    assert benefit[5] == datetime(2026, 12, 15, 10, 0)
    assert benefits["D2"].number_format == '#,##0.00" 万元"'

    checks = list(book["作出检查"].iter_rows(values_only=True))
    assert checks[0] == ("支部", "原因", "项目编号", "项目名称")
    assert {r[0] for r in checks[1:]} == {"机掘二队党支部", "开掘一队党支部"}
    assert ("机掘二队党支部", "P02") in {(r[0], r[2]) for r in checks[1:]}


async def test_the_pack_is_sent_once_a_quarter(
    app: App, people: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    await _quarter(app, clock, people)
    first = await run_job(app.services, "quarter_pack", PACK_TIME)
    again = await run_job(app.services, "quarter_pack", datetime(2027, 1, 8, 0, 0, tzinfo=UTC))
    assert first.queued == 1 and again.skipped and again.queued == 0
    transport.sent.clear()
    await people["leader"].sender.run_once()
    assert len([c for c, _ in transport.sent if c == "u-L001"]) == 1


async def test_a_pack_with_no_data_still_opens_with_headers(
    app: App, people: dict[str, Chat], tmp_path: Path
) -> None:
    found = await pack(app.services, Quarter(2026, 3))
    assert found.empty and found.reports_due == 0 and not found.flagged and not found.scored
    # the job has nothing to send for such a quarter
    quiet = await run_job(app.services, "quarter_pack", datetime(2026, 10, 7, 0, 0, tzinfo=UTC))
    assert quiet.period == "2026-Q4" and quiet.queued == 0 and quiet.notices == []
    path = write_pack(tmp_path / "empty.xlsx", found)
    book = load_workbook(path)
    assert book.sheetnames == SHEETS
    assert book["汇总"]["A1"].value == "2026 年第三季度党群讲评会材料"
    assert book["汇总"]["A4"].value == "排名"
    assert [c.value for c in book["督导问题"][1]][:2] == ["支部", "问题编号"]
    assert book["效益"].max_row == 1 and book["作出检查"].max_row == 1
    assert pack_chart(tmp_path / "empty.png", found) is None
    assert not (tmp_path / "empty.png").exists()


async def test_only_leaders_may_ask_for_the_pack(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    await _quarter(app, clock, people)
    secretary = await app.repos.people.by_employee_no("S001")
    leader = await app.repos.people.by_employee_no("L001")
    assert secretary is not None and leader is not None
    refused = await pack_reply(app.services, secretary, Q4)
    assert len(refused) == 1 and "只发给党委领导" in refused[0].text
    assert refused[0].image_path is None
    replies = await pack_reply(app.services, leader, Q4)
    assert "项目汇报:已交 1 份 / 应交 3 份。" in replies[0].text
    assert replies[0].image_path is not None and Path(replies[0].image_path).exists()
    assert replies[0].document_path is not None
    assert load_workbook(replies[0].document_path).sheetnames == SHEETS
    # the same through the chat: /quarter pack, refused to a secretary with a reason
    said = await people["secretary"].say("/quarter pack 2026-Q4")
    assert said == ["季度讲评会材料只发给党委领导。"]
    assert "格式" in (await people["leader"].say("/quarter pack 2026Q4"))[0]
    shown = await people["leader"].say("/quarter pack 2026-Q4")
    assert "项目汇报:已交 1 份 / 应交 3 份。" in shown[0]
    sent = people["leader"].received[-1]
    assert str(sent["document_path"]).endswith("2026-Q4-季度讲评会材料.xlsx")


async def test_the_storage_reads_are_bounded_by_the_period(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    await _quarter(app, clock, people)
    repos = app.repos
    start = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 2026-10-01 00:00 in Shanghai
    end = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    found = await repos.findings.opened_between(start, end)
    assert [(f.id, resolved is not None) for f, resolved in found] == [(1, False), (2, True)]
    assert (
        await repos.findings.opened_between(start, datetime(2026, 11, 10, 2, 0, tzinfo=UTC)) == []
    )
    assert await repos.visits.by_department(["2026-11"]) == {("jj1", "publicity"): 2}
    assert await repos.visits.by_department(["2026-10", "2026-12"]) == {}
    assert await repos.visits.by_department([]) == {}
    verified = await repos.projects.verified_between(start, end)
    assert [(b.amount_fen, b.status) for b in verified] == [(4_000_000, "verified")]
    assert await repos.projects.verified_between(end, PACK_TIME) == []
    leader = await _person_id(app, "L001")
    claimed = await repos.projects.claim(1, 100, "未核实", leader, clock())
    assert claimed and len(await repos.projects.verified_between(start, PACK_TIME)) == 1
