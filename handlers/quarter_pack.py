"""The quarterly meeting pack as files: one xlsx workbook and one chart, with a short text.

The pack goes to the leaders before the review meeting (the `quarter_pack` job) and on
request (`pack_reply`). Files are written under `chart_dir`, named by the quarter they review,
so a second pack of the same quarter replaces the first. openpyxl and matplotlib are imported
only when a pack is drawn; both run off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from handlers import access
from handlers.messages import Reply
from handlers.rules.periods import Quarter
from handlers.rules.quarter_pack import BranchPack, Pack, pack
from handlers.services import Services
from storage import Person

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from openpyxl.worksheet.worksheet import Worksheet

QUARTER_NAMES = ("一", "二", "三", "四")


class PackFiles(NamedTuple):
    pack: Pack
    text: str
    chart: Path | None
    """None when fewer than two branches are scored."""
    workbook: Path


MONEY_FORMAT = '#,##0.00" 万元"'
DATE_FORMAT = "yyyy-mm-dd hh:mm"
MAX_MISSING_LINES = 15
"""Branches named with their missing reports in the text; the rest are counted (4096 chars)."""


def pack_title(quarter: Quarter) -> str:
    """'2026 年第四季度党群讲评会材料'."""
    return f"{quarter.year} 年第{QUARTER_NAMES[quarter.number - 1]}季度党群讲评会材料"


def pack_file_name(quarter: Quarter) -> str:
    return f"{quarter}-季度讲评会材料.xlsx"


def _naive(moment: datetime | None) -> datetime | None:
    """A local time as Excel holds it: without a timezone (openpyxl refuses aware ones)."""
    return moment.replace(tzinfo=None, microsecond=0) if moment is not None else None


def _wan(fen: int) -> float:
    return round(fen / 1_000_000, 2)


def _flag_text(branch: BranchPack) -> str:
    return ";".join(dict.fromkeys(f.reason for f in branch.flags))


def write_pack(path: Path, found: Pack) -> Path:
    """The workbook: 汇总, 项目汇报, 月度考核, 督导问题, 督导走访, 效益, 作出检查."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    labels = found.month_labels
    flagged_fill = PatternFill("solid", fgColor="FCE4D6")
    bold = Font(bold=True)

    def sheet(
        title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int]
    ) -> Worksheet:
        ws = book.create_sheet(title)
        ws.append(list(headers))
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(list(row))
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[ws.cell(1, index).column_letter].width = width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{ws.cell(1, len(headers)).column_letter}{max(ws.max_row, 1)}"
        for cells in ws.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, datetime):
                    cell.number_format = DATE_FORMAT
                elif isinstance(cell.value, str) and "\n" in cell.value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        return ws

    # 汇总: a title block above the table, so its header is row 4
    summary = book.active
    assert summary is not None
    summary.title = "汇总"
    summary.append([pack_title(found.quarter)])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append(["生成时间", _naive(found.generated_at)])
    summary["B2"].number_format = DATE_FORMAT
    summary.append([])
    headers = [
        "排名",
        "支部",
        *(f"{label}得分" for label in labels),
        "季度平均",
        "汇报 已交/应交",
        "督导问题 新增",
        "督导问题 未解决",
        "核实效益(万元)",
        "作出检查",
    ]
    summary.append(headers)
    for cell in summary[4]:
        cell.font = bold
    for branch in found.branches:
        summary.append(
            [
                branch.rank,
                branch.branch.name,
                *branch.totals,
                branch.average,
                f"{branch.reported}/{len(branch.reports)}",
                len(branch.findings),
                branch.open_findings,
                _wan(branch.benefit_fen),
                _flag_text(branch),
            ]
        )
        row = summary.max_row
        summary.cell(row, 10).number_format = MONEY_FORMAT
        if branch.flags:
            for cell in summary[row]:
                cell.fill = flagged_fill
    for index, width in enumerate((6, 22, 10, 10, 10, 10, 14, 13, 15, 16, 60), start=1):
        summary.column_dimensions[summary.cell(4, index).column_letter].width = width
    summary.freeze_panes = "A5"
    summary.auto_filter.ref = f"A4:K{max(summary.max_row, 4)}"

    sheet(
        "项目汇报",
        [
            "支部",
            "项目编号",
            "项目名称",
            "推进情况",
            "存在问题",
            "下一步安排",
            "汇报人",
            "汇报时间",
            "领导点评",
        ],
        [
            [
                branch.branch.name,
                r.project_number,
                r.project_title,
                "未汇报" if r.missing else r.progress,
                r.problems,
                r.next_steps,
                r.person_name,
                _naive(r.reported_at),
                r.comments,
            ]
            for branch in found.branches
            for r in branch.reports
        ],
        (22, 10, 24, 40, 30, 30, 10, 17, 40),
    )
    sheet(
        "月度考核",
        ["支部", *(f"{label}得分" for label in labels), "季度平均", "排名"],
        [[b.branch.name, *b.totals, b.average, b.rank] for b in found.branches],
        (22, 10, 10, 10, 10, 6),
    )
    sheet(
        "督导问题",
        ["支部", "问题编号", "督导部门", "问题", "状态", "提出时间", "解决时间"],
        [
            [
                b.branch.name,
                f.id,
                f.department,
                f.text,
                f.status,
                _naive(f.opened_at),
                _naive(f.resolved_at),
            ]
            for b in found.branches
            for f in b.findings
        ],
        (22, 9, 12, 50, 8, 17, 17),
    )
    sheet(
        "督导走访",
        ["支部", "督导部门", "季度走访次数"],
        [
            [b.branch.name, department, count]
            for b in found.branches
            for department, count in b.visits
        ],
        (22, 12, 13),
    )
    benefits = sheet(
        "效益",
        ["支部", "项目编号", "项目名称", "核实效益(万元)", "说明", "核实时间"],
        [
            [
                b.branch.name,
                e.project_number,
                e.project_title,
                _wan(e.amount_fen),
                e.text,
                _naive(e.verified_at),
            ]
            for b in found.branches
            for e in b.benefits
        ],
        (22, 10, 24, 15, 50, 17),
    )
    for (cell,) in benefits.iter_rows(min_row=2, min_col=4, max_col=4):
        cell.number_format = MONEY_FORMAT
    sheet(
        "作出检查",
        ["支部", "原因", "项目编号", "项目名称"],
        [
            [
                b.branch.name,
                f.reason,
                f.project.number if f.project else "",
                f.project.title if f.project else "",
            ]
            for b in found.branches
            for f in b.flags
        ],
        (22, 60, 10, 24),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def pack_chart(path: Path, found: Pack) -> Path | None:
    """The branches' quarter averages as horizontal bars, the flagged ones in their own colour;
    None when fewer than two branches are scored (nothing to compare)."""
    scored = found.scored
    if len(scored) < 2:
        return None
    from matplotlib.patches import Patch

    from handlers.charts import OURS, TARGET, draw, from_zero

    def paint(figure: Figure) -> None:
        axes = figure.add_subplot()
        shown = scored[::-1]  # best at the top
        colours = [TARGET if b.flags else OURS for b in shown]
        values = [b.average or 0.0 for b in shown]
        bars = axes.barh([b.branch.name for b in shown], values, color=colours)
        axes.bar_label(bars, labels=[f"{v:g}" for v in values], padding=3)
        from_zero(axes, [100.0 / 1.1, *values], axis="x", room=1.1)
        axes.set_xlabel("季度月度考核平均分")
        axes.set_title(f"{pack_title(found.quarter)}:支部季度平均分", fontsize=14)
        if any(b.flags for b in shown):
            axes.legend(handles=[Patch(color=TARGET, label="作出检查")], loc="lower right")

    return draw(path, paint)


def pack_text(found: Pack, chart: Path | None, workbook: Path) -> str:
    """What the leaders read first: reports in/due, who is missing, who explains and why."""
    lines = [f"📋 {pack_title(found.quarter)}"]
    lines.append(f"项目汇报:已交 {found.reports_in} 份 / 应交 {found.reports_due} 份。")
    missing = [b for b in found.branches if b.missing]
    if missing:
        lines.append("未汇报:")
        for branch in missing[:MAX_MISSING_LINES]:
            numbers = "、".join(r.project_number for r in branch.missing)
            lines.append(f"  {branch.branch.name}({numbers})")
        if len(missing) > MAX_MISSING_LINES:
            lines.append(f"  ……另有 {len(missing) - MAX_MISSING_LINES} 个支部,见表格“项目汇报”。")
    elif found.reports_due:
        lines.append("各支部都已汇报。")
    if found.flagged:
        lines.append("作出检查:")
        lines += [f"  {b.branch.name}:{_flag_text(b)}" for b in found.flagged]
    else:
        lines.append("本季度没有需要作出检查的支部。")
    lines.append(
        f"附件 {workbook.name}:汇总、项目汇报、月度考核、督导问题、督导走访、效益、作出检查。"
    )
    if chart is None:
        lines.append("打分的支部不足两个,未附季度平均分图。")
    return "\n".join(lines)


async def build(services: Services, quarter: Quarter) -> PackFiles:
    """The pack of `quarter` written to files, with the text that goes with them."""
    found = await pack(services, quarter)
    directory = services.settings.chart_dir
    workbook = directory / pack_file_name(quarter)
    await asyncio.to_thread(write_pack, workbook, found)
    chart = await asyncio.to_thread(pack_chart, directory / f"{quarter}-季度讲评会.png", found)
    return PackFiles(found, pack_text(found, chart, workbook), chart, workbook)


async def pack_reply(services: Services, person: Person, quarter: Quarter) -> list[Reply]:
    """A leader's request for the pack of `quarter`: the text with the chart and workbook."""
    if not access.is_leader(person):
        return [Reply("季度讲评会材料只发给党委领导。")]
    files = await build(services, quarter)
    chart = str(files.chart) if files.chart else None
    return [Reply(files.text, image_path=chart, document_path=str(files.workbook))]
