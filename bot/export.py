"""The ledger (台账) the party office keeps: ideas, key projects, progress, benefits, rewards.

xlsx gets one sheet each; CSV and JSON lines carry the ideas sheet's columns.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import ScoringConfig
from handlers.parsing import clean
from handlers.rules.ideas import STATUS_LABELS
from handlers.rules.scores import compute
from storage import Repositories

FORMATS = (".csv", ".jsonl", ".xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
STATUS = {**STATUS_LABELS, "claimed": "待核实", "verified": "已核实", "rejected": "未核实"}


@dataclass
class Sheet:
    title: str
    columns: list[tuple[str, str]]
    """(key, Chinese header)"""
    rows: list[dict[str, Any]] = field(default_factory=list)
    money: set[str] = field(default_factory=set)
    """Columns holding fen, written as yuan numbers."""


def _local(text: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M") if text else ""


async def build_sheets(
    repos: Repositories,
    labels: dict[str, str],
    tz: ZoneInfo,
    scoring: ScoringConfig | None = None,
) -> list[Sheet]:
    """Every sheet; the assessment one weighs its parts as `scoring` says (default: as shipped)."""
    scoring = scoring or ScoringConfig()
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
        ],
    )
    for item in await repos.ideas.ledger():
        row = dict(item)
        row["created_at"] = _local(row["created_at"], tz)
        row["category_label"] = labels.get(row["category"], row["category"])
        row["confirmed"] = bool(row["confirmed"])
        row["status"] = STATUS.get(row["status"], row["status"])
        project = await repos.projects.project_of(int(row["id"]))
        row["project"] = f"P{project:02d}" if project else ""
        ideas.rows.append(row)
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
        money={"expected", "verified", "rewarded"},
    )
    for p in await repos.projects.all():
        projects.rows.append(
            {
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
    )
    for row in await repos.projects.sheet("progress"):
        progress.rows.append({**row, "created_at": _local(row["created_at"], tz)})
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
        ],
        money={"amount_fen"},
    )
    for row in await repos.projects.sheet("benefits"):
        benefits.rows.append(
            {
                **row,
                "status": STATUS.get(row["status"], row["status"]),
                "created_at": _local(row["created_at"], tz),
                "decided_at": _local(row["decided_at"], tz),
            }
        )
    rewards = Sheet(
        "奖励",
        [
            ("id", "奖励编号"),
            ("project", "项目"),
            ("label", "获奖人/支部"),
            ("amount_fen", "金额(元)"),
            ("basis_fen", "对应核实效益(元)"),
            ("note", "备注"),
            ("confirmed_by", "确认人"),
            ("created_at", "时间"),
        ],
        money={"amount_fen", "basis_fen"},
    )
    for row in await repos.projects.sheet("rewards"):
        rewards.rows.append({**row, "created_at": _local(row["created_at"], tz)})
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
    )
    assessment.rows = await _assessment_rows(repos, scoring)
    return [ideas, projects, progress, benefits, rewards, assessment]


async def _assessment_rows(repos: Repositories, scoring: ScoringConfig) -> list[dict[str, Any]]:
    rows = []
    names = {b.id: b.name for b in await repos.org.branches()}
    for month in await repos.scores.months():
        entries = await repos.scores.month(month)
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
        rows += scored
    return rows


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


def export_ledger(path: Path, sheets: list[Sheet]) -> int:
    """Write the ledger in the format named by the suffix; returns the number of ideas."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"不支持 {suffix or '无后缀'} 格式,请用 {'、'.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    ideas = sheets[0]
    if suffix == ".jsonl":
        with tmp.open("w", encoding="utf-8") as out:
            for row in ideas.rows:
                out.write(
                    json.dumps({k: row.get(k) for k, _ in ideas.columns}, ensure_ascii=False) + "\n"
                )
    elif suffix == ".csv":
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:  # BOM: Excel reads UTF-8
            writer = csv.writer(out)
            writer.writerow([title for _, title in ideas.columns])
            for row in ideas.rows:
                writer.writerow([_value(ideas, key, row) for key, _ in ideas.columns])
    else:
        _xlsx(tmp, sheets)
    tmp.replace(path)
    return len(ideas.rows)


def _xlsx(path: Path, sheets: list[Sheet]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        page = book.create_sheet(sheet.title)
        page.append([title for _, title in sheet.columns])
        for cell in page[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            page.append([_value(sheet, key, row) for key, _ in sheet.columns])
        page.freeze_panes = "A2"
        for index, (key, title) in enumerate(sheet.columns, start=1):
            letter = get_column_letter(index)
            longest = max(
                [len(str(title)) * 2]
                + [
                    len(str(_value(sheet, key, row) or "")) * (2 if key in ("text", "title") else 1)
                    for row in sheet.rows[:200]
                ]
            )
            page.column_dimensions[letter].width = min(max(longest + 2, 8), 60)
            if key in sheet.money:
                for (cell,) in page.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = '#,##0.00 "元"'
    book.save(path)
