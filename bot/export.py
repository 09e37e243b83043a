"""The ideas ledger (台账) as CSV, JSON lines or an Excel workbook."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

FORMATS = (".csv", ".jsonl", ".xlsx")
COLUMNS = [
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
    ("channel", "渠道"),
    ("text", "内容"),
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rows(
    ledger: Sequence[Mapping[str, Any]], labels: Mapping[str, str], tz: ZoneInfo
) -> list[dict[str, Any]]:
    rows = []
    for item in ledger:
        row = dict(item)
        row["created_at"] = (
            datetime.fromisoformat(row["created_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        )
        row["category_label"] = labels.get(row["category"], row["category"])
        row["confirmed"] = bool(row["confirmed"])
        rows.append({key: row[key] for key, _ in COLUMNS})
    return rows


def _cell(value: Any) -> Any:
    """Spreadsheets run text that starts with '=' and friends as a formula: defuse it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_ledger(
    path: Path, ledger: Sequence[Mapping[str, Any]], labels: Mapping[str, str], tz: ZoneInfo
) -> int:
    """Write the ledger in the format named by the file's suffix; returns the row count."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"不支持 {suffix or '无后缀'} 格式,请用 {'、'.join(FORMATS)}")
    rows = _rows(ledger, labels, tz)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if suffix == ".jsonl":
        with tmp.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:  # BOM: Excel reads UTF-8
            writer = csv.writer(out)
            writer.writerow([title for _, title in COLUMNS])
            for row in rows:
                writer.writerow([_cell(row[key]) for key, _ in COLUMNS])
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "金点子台账"
        sheet.append([title for _, title in COLUMNS])
        for row in rows:
            sheet.append([_cell(row[key]) for key, _ in COLUMNS])
        book.save(tmp)
    tmp.replace(path)
    return len(rows)
