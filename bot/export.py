"""The ledger (台账) the party office keeps: ideas, key projects, progress, key points,
benefits, KPIs, rewards, party groups.

xlsx gets one sheet each; CSV and JSON lines carry the ideas sheet's columns. Rows stream from
storage to the file: the ideas are read in chunks and xlsx is written by openpyxl's write-only
workbook, so an export's memory does not grow with the number of ideas.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import ScoringConfig
from handlers.parsing import clean
from handlers.rules.achievements import KINDS as ACHIEVEMENT_KINDS
from handlers.rules.ideas import ADOPTED, STATUS_LABELS, UNCOUNTED, year_start
from handlers.rules.projects import kpi_done, percent_of
from handlers.rules.scores import compute
from storage import Repositories

FORMATS = (".csv", ".jsonl", ".xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
STATUS = {**STATUS_LABELS, "claimed": "待核实", "verified": "已核实", "rejected": "未核实"}
EXCEL_ROWS = 1_048_576
"""Rows of one Excel worksheet, the header row included."""
_WIDTH_SAMPLE = 200
"""Column widths are set before any row is written, from this many first rows."""
_MONEY_FORMAT = '#,##0.00 "元"'

Row = dict[str, Any]


@dataclass
class Sheet:
    title: str
    columns: list[tuple[str, str]]
    """(key, Chinese header)"""
    rows: AsyncIterable[Row]
    """Read once, while the sheet is written."""
    money: set[str] = field(default_factory=set)
    """Columns holding fen, written as yuan numbers."""


def _local(text: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M") if text else ""


async def build_sheets(
    repos: Repositories,
    labels: dict[str, str],
    tz: ZoneInfo,
    scoring: ScoringConfig | None = None,
    *,
    now: datetime | None = None,
) -> list[Sheet]:
    """Every sheet; the assessment one weighs its parts as `scoring` says (default: as shipped);
    "this year" in the party-group sheet is `now`'s year in `tz` (default: the clock's)."""
    scoring = scoring or ScoringConfig()
    local = (now or datetime.now(tz)).astimezone(tz)
    ideas = Sheet(
        "金点子",
        [
            ("id", "编号"),
            ("created_at", "提交时间"),
            ("employee_no", "工号"),
            ("author", "姓名"),
            ("branch_id", "支部编号"),
            ("branch", "支部"),
            ("category", "类别编号"),
            ("category_label", "类别"),
            ("confidence", "把握"),
            ("confirmed", "作者已确认"),
            ("status", "状态"),
            ("project", "重点项目"),
            ("channel", "渠道"),
            ("text", "内容"),
            ("review_days", "首次审核用时(天)"),
            ("adopted_days", "采纳用时(天)"),
        ],
        _ideas(repos, labels, tz),
    )
    projects = Sheet(
        "重点项目",
        [
            ("number", "项目编号"),
            ("title", "名称"),
            ("category", "类别"),
            ("lead", "负责人"),
            ("branches", "参与支部"),
            ("ideas", "金点子"),
            ("expected", "预期年效益(元)"),
            ("verified", "核实效益(元)"),
            ("rewarded", "已奖励(元)"),
            ("progress", "最新进展"),
        ],
        _projects(repos, labels),
        money={"expected", "verified", "rewarded"},
    )
    progress = Sheet(
        "进展",
        [
            ("project", "项目"),
            ("person", "报告人"),
            ("percent", "进度%"),
            ("text", "进展"),
            ("created_at", "时间"),
        ],
        _project_sheet(repos, "progress", tz),
    )
    benefits = Sheet(
        "效益",
        [
            ("id", "编号"),
            ("project", "项目"),
            ("amount_fen", "金额(元)"),
            ("status", "状态"),
            ("text", "说明"),
            ("claimed_by", "申报人"),
            ("decided_by", "核实人"),
            ("created_at", "申报时间"),
            ("decided_at", "核实时间"),
            ("quantity", "数量"),
            ("unit", "单位"),
            ("unit_price_fen", "单价(元)"),
            ("period", "月份"),
        ],
        _benefit_rows(repos, tz),
        money={"amount_fen", "unit_price_fen"},
    )
    key_points = Sheet(
        "关键点",
        [
            ("project", "项目"),
            ("index", "序号"),
            ("title", "关键点"),
            ("branch", "负责支部"),
            ("due_month", "到期月份"),
            ("percent", "进度%"),
            ("last_text", "最新进展"),
            ("last_at", "报告时间"),
        ],
        _key_point_rows(repos, tz),
    )
    kpis = Sheet(
        "KPI",
        [
            ("project", "项目"),
            ("name", "指标"),
            ("unit", "单位"),
            ("baseline", "基线"),
            ("current", "当前"),
            ("target", "目标"),
            ("done", "完成比例%"),
            ("history", "记录(时间 数值)"),
        ],
        _kpi_rows(repos, tz),
    )
    rewards = Sheet(
        "奖励",
        [
            ("id", "奖励编号"),
            ("project", "项目"),
            ("label", "获奖人/支部/党小组"),
            ("amount_fen", "金额(元)"),
            ("basis_fen", "对应核实效益(元)"),
            ("note", "备注"),
            ("confirmed_by", "确认人"),
            ("created_at", "时间"),
            ("kind", "获奖类别"),
        ],
        _project_sheet(repos, "rewards", tz),
        money={"amount_fen", "basis_fen"},
    )
    achievements = Sheet(
        "成果",
        [
            ("id", "成果编号"),
            ("kind", "类别"),
            ("title", "名称"),
            ("project", "项目"),
            ("idea", "金点子"),
            ("note", "说明"),
            ("recorded_by", "记录人"),
            ("created_at", "记录时间"),
        ],
        _achievement_rows(repos, tz),
    )
    assessment = Sheet(
        "月度考核",
        [
            ("month", "月份"),
            ("branch", "支部"),
            ("base", "基础分"),
            ("self", "项目自评"),
            ("dept", "部门评价"),
            ("leader", "领导评价"),
            ("project", "项目部分"),
            ("total", "总分"),
            ("rank", "名次"),
        ],
        _assessment_rows(repos, scoring),
    )
    groups = Sheet(
        "党小组",
        [
            ("branch", "支部"),
            ("group", "党小组"),
            ("members", "成员数"),
            ("ideas", "今年金点子"),
            ("adopted", "已采纳"),
            ("rewarded", "获得奖励(元)"),
        ],
        _party_group_rows(repos, year_start(local)),
        money={"rewarded"},
    )
    return [
        ideas,
        projects,
        progress,
        key_points,
        benefits,
        kpis,
        rewards,
        achievements,
        assessment,
        groups,
    ]


async def _ideas(repos: Repositories, labels: dict[str, str], tz: ZoneInfo) -> AsyncIterator[Row]:
    async for row in repos.ideas.ledger():
        project = row.pop("project_id")
        row["created_at"] = _local(row["created_at"], tz)
        row["category_label"] = labels.get(row["category"], row["category"])
        row["confirmed"] = bool(row["confirmed"])
        row["status"] = STATUS.get(row["status"], row["status"])
        row["project"] = f"P{project:02d}" if project else ""
        for days in ("review_days", "adopted_days"):
            if row[days] is not None:
                row[days] = round(row[days], 2)
        yield row


async def _projects(repos: Repositories, labels: dict[str, str]) -> AsyncIterator[Row]:
    for p in await repos.projects.all():
        yield {
            "number": p.number,
            "title": p.title,
            "category": labels.get(p.category, p.category),
            "lead": p.lead_name,
            "branches": "、".join(p.branches),
            "ideas": " ".join(f"#{i}" for i in p.idea_ids),
            "expected": p.expected_benefit_fen,
            "verified": p.verified_fen,
            "rewarded": p.rewarded_fen,
            "progress": (f"{p.last_percent}% " if p.last_percent is not None else "")
            + (p.last_progress or ""),
        }


async def _project_sheet(repos: Repositories, name: str, tz: ZoneInfo) -> AsyncIterator[Row]:
    """Progress, benefits or rewards, times shown in the configured zone."""
    for row in await repos.projects.sheet(name):
        for key in ("created_at", "decided_at"):
            if key in row:
                row[key] = _local(row[key], tz)
        if "status" in row:
            row["status"] = STATUS.get(row["status"], row["status"])
        yield row


async def _benefit_rows(repos: Repositories, tz: ZoneInfo) -> AsyncIterator[Row]:
    async for row in _project_sheet(repos, "benefits", tz):
        quantity = row.get("quantity")
        row["quantity"] = _number(quantity) if quantity is not None else None
        yield row


async def _key_point_rows(repos: Repositories, tz: ZoneInfo) -> AsyncIterator[Row]:
    names = {b.id: b.name for b in await repos.org.branches()}
    index: dict[int, int] = {}
    for point in await repos.projects.key_points():
        index[point.project_id] = index.get(point.project_id, 0) + 1
        yield {
            "project": f"P{point.project_id:02d}",
            "index": index[point.project_id],
            "title": point.title,
            "branch": names.get(point.branch_id, point.branch_id),
            "due_month": point.due_month,
            "percent": point.percent,
            "last_text": point.last_text or "",
            "last_at": point.last_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            if point.last_at
            else "",
        }


async def _party_group_rows(repos: Repositories, since: datetime) -> AsyncIterator[Row]:
    """Each branch's groups with the figures /group shows: members, ideas since `since`, of
    them adopted, and the rewards the group received."""
    received = await repos.party_groups.rewards_received()
    groups = await repos.party_groups.every()
    for branch in await repos.org.branches():
        mine = [g for g in groups if g.branch_id == branch.id]
        if not mine:
            continue
        people = await repos.party_groups.member_activity(
            branch.id, since, adopted=ADOPTED, excluded=UNCOUNTED
        )
        for group in mine:
            members = [p for p in people if p.group_id == group.id]
            yield {
                "branch": branch.name,
                "group": group.name,
                "members": len(members),
                "ideas": sum(p.ideas for p in members),
                "adopted": sum(p.adopted for p in members),
                "rewarded": sum(r.amount_fen for r in received.get(group.id, [])),
            }


async def _kpi_rows(repos: Repositories, tz: ZoneInfo) -> AsyncIterator[Row]:
    for kpi in await repos.projects.kpis():
        done = kpi_done(kpi)
        yield {
            "project": f"P{kpi.project_id:02d}",
            "name": kpi.name,
            "unit": kpi.unit,
            "baseline": _number(kpi.baseline),
            "current": _number(kpi.current) if kpi.current is not None else None,
            "target": _number(kpi.target),
            "done": percent_of(done) if done is not None else None,
            "history": ";".join(
                f"{at.astimezone(tz).strftime('%Y-%m-%d')} {value}" for value, at in kpi.values
            ),
        }


async def _achievement_rows(repos: Repositories, tz: ZoneInfo) -> AsyncIterator[Row]:
    for a in await repos.achievements.listed():
        yield {
            "id": f"C{a.id}",
            "kind": ACHIEVEMENT_KINDS[a.kind],
            "title": a.title,
            "project": f"P{a.project_id:02d}" if a.project_id is not None else "",
            "idea": f"#{a.idea_id}" if a.idea_id is not None else "",
            "note": a.note,
            "recorded_by": a.person_name,
            "created_at": a.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        }


def _number(text: str) -> int | float:
    """A decimal kept as text, as the spreadsheet's number (1740, 16.07)."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


async def _assessment_rows(repos: Repositories, scoring: ScoringConfig) -> AsyncIterator[Row]:
    names = {b.id: b.name for b in await repos.org.branches()}
    months = await repos.scores.months()
    every = await repos.scores.latest(months)
    for month in months:
        entries = every.get(month, {})
        scored: list[dict[str, Any]] = []
        for branch_id, name in names.items():
            parts = entries.get(branch_id, {})
            project, total, _ = compute(parts, scoring.project_weight, scoring.part_weights)
            scored.append(
                {
                    "month": month,
                    "branch": name,
                    **parts,
                    "project": project,
                    "total": total,
                    "rank": None,
                }
            )
        ordered = sorted(
            (r for r in scored if r["total"] is not None), key=lambda r: -float(r["total"])
        )
        for index, row in enumerate(ordered):
            same = index and row["total"] == ordered[index - 1]["total"]
            row["rank"] = ordered[index - 1]["rank"] if same else index + 1
        for row in scored:
            yield row


def _cell(value: Any) -> Any:
    """Spreadsheets run text that starts with '=' and friends as a formula: defuse it; and
    control characters (stored before the router removed them) have no place in a cell."""
    if isinstance(value, str):
        value = clean(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def _value(sheet: Sheet, key: str, row: dict[str, Any]) -> Any:
    value = row.get(key)
    if key in sheet.money and value is not None:
        return round(int(value) / 100, 2)
    return _cell(value)


async def export_ledger(
    path: Path,
    sheets: list[Sheet],
    *,
    row_limit: int = EXCEL_ROWS,
    warn: Callable[[str], None] | None = None,
) -> int:
    """Write the ledger in the format named by the suffix, row by row; returns the number of
    ideas. An xlsx sheet longer than `row_limit` rows goes on in 金点子(2), … after a warning
    (by default one line on stderr)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"不支持 {suffix or '无后缀'} 格式,请用 {'、'.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    ideas = sheets[0]
    count = 0
    if suffix == ".jsonl":
        with tmp.open("w", encoding="utf-8") as out:
            async for row in ideas.rows:
                out.write(
                    json.dumps({k: row.get(k) for k, _ in ideas.columns}, ensure_ascii=False) + "\n"
                )
                count += 1
    elif suffix == ".csv":
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:  # BOM: Excel reads UTF-8
            writer = csv.writer(out)
            writer.writerow([title for _, title in ideas.columns])
            async for row in ideas.rows:
                writer.writerow([_value(ideas, key, row) for key, _ in ideas.columns])
                count += 1
    else:
        count = await _xlsx(tmp, sheets, row_limit, warn or _stderr)
    tmp.replace(path)
    return count


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


async def _xlsx(
    path: Path, sheets: list[Sheet], row_limit: int, warn: Callable[[str], None]
) -> int:
    """Write-only: each row goes to the file as it comes; returns the first sheet's rows."""
    from openpyxl import Workbook

    if row_limit < 2:
        raise ValueError("a sheet needs room for its header and a row")
    book = Workbook(write_only=True)
    counts = []
    for sheet in sheets:
        rows = aiter(sheet.rows)
        sample: list[list[Any]] = []
        async for row in rows:
            sample.append([_value(sheet, key, row) for key, _ in sheet.columns])
            if len(sample) == _WIDTH_SAMPLE:
                break
        out = _Pages(book, sheet, _widths(sheet, sample), row_limit, warn)
        for values in sample:
            out.append(values)
        async for row in rows:
            out.append([_value(sheet, key, row) for key, _ in sheet.columns])
        counts.append(out.written)
    book.save(path)
    return counts[0] if counts else 0


def _widths(sheet: Sheet, sample: list[list[Any]]) -> list[int]:
    """Column widths from the header and the first rows (wide characters count double)."""
    widths = []
    for index, (key, title) in enumerate(sheet.columns):
        factor = 2 if key in ("text", "title") else 1
        longest = max([len(str(title)) * 2] + [len(str(v[index] or "")) * factor for v in sample])
        widths.append(min(max(longest + 2, 8), 60))
    return widths


class _Pages:
    """One sheet of a write-only workbook, going on in 标题(2), 标题(3), … at the row limit."""

    def __init__(
        self,
        book: Any,
        sheet: Sheet,
        widths: list[int],
        row_limit: int,
        warn: Callable[[str], None],
    ) -> None:
        from openpyxl.styles import Font

        self._book, self._sheet, self._widths = book, sheet, widths
        self._limit, self._warn = row_limit, warn
        self._money = [key in sheet.money for key, _ in sheet.columns]
        self._bold = Font(bold=True)
        self.number = 0
        self.written = 0
        self._on_page = 0
        self._page: Any = self._open()

    def _open(self) -> Any:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        self.number += 1
        title = self._sheet.title
        page = self._book.create_sheet(title if self.number == 1 else f"{title}({self.number})")
        page.freeze_panes = "A2"
        for index, width in enumerate(self._widths, start=1):
            page.column_dimensions[get_column_letter(index)].width = width
        header = []
        for _, name in self._sheet.columns:
            cell = WriteOnlyCell(page, value=name)
            cell.font = self._bold
            header.append(cell)
        page.append(header)
        self._on_page = 0
        return page

    def append(self, values: list[Any]) -> None:
        from openpyxl.cell import WriteOnlyCell

        if self._on_page == self._limit - 1:  # the header is one of the page's rows
            if self.number == 1:
                title = self._sheet.title
                self._warn(
                    f"警告:{title}超过 Excel 每个工作表 {self._limit:,} 行的上限,"
                    f"其余的行接着写在 {title}(2) 等工作表里。"
                )
            self._page = self._open()
        if any(self._money):
            cells: list[Any] = []
            for value, money in zip(values, self._money, strict=True):
                if money and value is not None:
                    cell = WriteOnlyCell(self._page, value=value)
                    cell.number_format = _MONEY_FORMAT
                    value = cell
                cells.append(value)
            values = cells
        self._page.append(values)
        self._on_page += 1
        self.written += 1
