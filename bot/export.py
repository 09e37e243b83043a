"""The ledger (台账) the party office keeps: a summary first, then ideas, key projects, key
points, progress, benefits, rewards, monthly scores, supervision findings, visits, party groups,
achievements and KPIs.

xlsx gets one sheet each, every one with an autofilter and its header row frozen; CSV and JSON
lines carry the ideas sheet's columns. Rows stream from storage to the file: ideas, findings and
visits are read in chunks and xlsx is written by XlsxWriter in constant-memory mode (row by row,
measured faster than openpyxl's write-only workbook: BENCHMARKS.md), so an export's memory does
not grow with the number of ideas.

Values: ids are kept and a Chinese column stands beside each (类别编号 repair_reuse → 类别
修旧利废); booleans read 是/否; money is yuan with two decimals everywhere (headers say 元);
times are the configured zone's local time: real date-time cells in xlsx (Excel has no time
zones, so naive local times), ISO 8601 text with the offset in CSV and JSON lines.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from handlers.parsing import clean
from handlers.rules import group as group_rules
from handlers.rules import scores as score_rules
from handlers.rules import supervision as supervision_rules
from handlers.rules.achievements import KINDS as ACHIEVEMENT_KINDS
from handlers.rules.ideas import ADOPTED, STATUS_LABELS, UNCOUNTED, year_start
from handlers.rules.projects import kpi_done, percent_of
from handlers.rules.scores import compute
from handlers.services import MineView, Services
from storage import Repositories

if TYPE_CHECKING:
    from nlp import Category, Prediction

FORMATS = (".csv", ".jsonl", ".xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
STATUS = {**STATUS_LABELS, "claimed": "待核实", "verified": "已核实", "rejected": "未核实"}
FINDING_STATUS = {"open": "未解决", "resolved": "已解决"}
CHANNELS = {"wecom": "企业微信", "telegram": "Telegram", "console": "控制台"}
EXCEL_ROWS = 1_048_576
"""Rows of one Excel worksheet, the header row included."""
_WIDTH_SAMPLE = 200
"""Column widths are set before any row is written, from this many first rows."""
MONEY_FORMAT = "#,##0.00"
"""The one money format of the ledger: yuan, two decimals; the headers say (元)."""
TIME_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT_FORMAT = "0.0%"

Row = dict[str, Any]
IDEA_COLUMNS = (
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
    ("status_id", "状态编号"),
    ("status", "状态"),
    ("reason", "不采纳理由"),
    ("merged_into", "合并到"),
    ("project", "重点项目"),
    ("channel_id", "渠道编号"),
    ("channel", "渠道"),
    ("text", "内容"),
    ("review_days", "首次审核用时(天)"),
    ("adopted_days", "采纳用时(天)"),
)
"""The 金点子 sheet: (key, Chinese header)."""


@dataclass
class Sheet:
    title: str
    columns: list[tuple[str, str]]
    """(key, Chinese header)"""
    rows: AsyncIterable[Row]
    """Read once, while the sheet is written."""
    money: set[str] = field(default_factory=set)
    """Columns holding fen, written as yuan numbers."""
    percent: set[str] = field(default_factory=set)
    """Columns holding a share (0.9982), shown as a percent (99.8%)."""


class LabelsOnly:
    """The classifier port with the categories alone: the export reads labels and never
    classifies, so it does not load the model."""

    def __init__(self, categories: Sequence[Category]) -> None:
        self._categories = list(categories)

    @property
    def categories(self) -> Sequence[Category]:
        return self._categories

    def classify(self, text: str) -> Prediction:
        raise RuntimeError("the export does not classify")

    def terms(self, text: str) -> list[str]:
        raise RuntimeError("the export does not classify")


def _local(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A stored UTC time in the configured zone, to the second (the ledger shows minutes)."""
    return datetime.fromisoformat(text).astimezone(tz).replace(microsecond=0) if text else None


def _yes(value: Any) -> str:
    return "是" if value else "否"


async def build_sheets(services: Services) -> list[Sheet]:
    """Every sheet, 汇总 first; the assessment weighs its parts as the settings say; "this
    year" and "this month" are the clock's, in the configured zone."""
    repos = services.repos
    settings = services.settings
    tz = settings.timezone
    labels = {c.id: c.label for c in services.classifier.categories}
    local = services.local(services.now())
    summary = Sheet(
        "汇总",
        [("figure", "指标"), ("value", "数值"), ("unit", "单位"), ("note", "说明")],
        _summary_rows(services),
    )
    ideas = Sheet("金点子", list(IDEA_COLUMNS), _ideas(repos, labels, tz), percent={"confidence"})
    projects = Sheet(
        "重点项目",
        [
            ("number", "项目编号"),
            ("title", "名称"),
            ("category_id", "类别编号"),
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
            ("status_id", "状态编号"),
            ("status", "状态"),
            ("reason", "未核实理由"),
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
        _assessment_rows(repos, settings.project_weight, settings.part_weights),
    )
    findings = Sheet(
        "督导问题",
        [
            ("id", "编号"),
            ("branch", "支部"),
            ("department", "督导部门"),
            ("text", "问题"),
            ("status_id", "状态编号"),
            ("status", "状态"),
            ("escalated", "已提交党委"),
            ("decision", "例会决定"),
            ("assigned", "责任部门"),
            ("decision_due", "完成期限"),
            ("created_at", "提出时间"),
            ("resolved_at", "解决时间"),
            ("overdue", "逾期"),
        ],
        _finding_rows(repos, tz, local.date().isoformat()),
    )
    visits = Sheet(
        "督导走访",
        [
            ("visited_at", "走访时间"),
            ("branch", "支部"),
            ("department", "督导部门"),
            ("supervisor", "督导人员"),
            ("note", "备注"),
        ],
        _visit_rows(repos, tz),
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
        summary,
        ideas,
        projects,
        key_points,
        progress,
        benefits,
        rewards,
        assessment,
        findings,
        visits,
        groups,
        achievements,
        kpis,
    ]


async def _summary_rows(services: Services) -> AsyncIterator[Row]:
    """The campaign's figures as /stats, /visits and /findings compute them (the same rule
    functions), for the whole mine."""
    found = await score_rules.figures(services, None)
    target = services.settings.yearly_target_fen
    yield {"figure": "统计年度", "value": found.year, "unit": "年"}
    yield {"figure": "本年金点子", "value": found.ideas_this_year, "unit": "条"}
    yield {"figure": "本季度金点子", "value": found.ideas_this_quarter, "unit": "条"}
    yield {"figure": "本月金点子", "value": found.ideas_this_month, "unit": "条"}
    yield {"figure": "已采纳", "value": found.adopted, "unit": "条"}
    yield {"figure": "采纳率", "value": found.adoption_rate, "unit": "%", "_percent": True}
    yield {"figure": "核实效益", "value": found.verified_fen, "unit": "元", "_money": True}
    yield {"figure": "年度效益目标", "value": target, "unit": "元", "_money": True}
    yield {
        "figure": "效益完成率",
        "value": found.verified_fen / target if target else 0.0,
        "unit": "%",
        "_percent": True,
    }
    projects = await services.repos.projects.all()
    yield {"figure": "重点项目", "value": len(projects), "unit": "个"}
    yield {
        "figure": "已发奖励",
        "value": sum(p.rewarded_fen for p in projects),
        "unit": "元",
        "_money": True,
    }
    open_findings = await services.repos.findings.open_counts()
    yield {"figure": "未解决督导问题", "value": sum(open_findings.values()), "unit": "条"}
    visits = await supervision_rules.department_visits(services, services.local(services.now()))
    month = visits[0].month if visits else None
    yield {
        "figure": "本月督导走访",
        "value": sum(d.done for d in visits),
        "unit": "次",
        "note": f"{month} 每个支部目标 {services.settings.visits_per_month} 次" if month else "",
    }
    yield {
        "figure": "本月走访目标",
        "value": sum(d.target * len(d.branches) for d in visits),
        "unit": "次",
    }
    speed = await score_rules.speed(services, None, score_rules.year_start(services))
    for label, figure in (("首次审核", speed.review), ("采纳", speed.adopted)):
        yield {
            "figure": f"{label}平均用时",
            "value": round(figure.mean_days, 2) if figure else None,
            "unit": "天",
            "note": f"中位数 {figure.median_days:.1f} 天,共 {figure.ideas} 条"
            if figure
            else "还没有记录",
        }


async def _ideas(repos: Repositories, labels: dict[str, str], tz: ZoneInfo) -> AsyncIterator[Row]:
    async for row in repos.ideas.ledger():
        project = row.pop("project_id")
        merged = row.pop("merged_into")
        row["created_at"] = _local(row["created_at"], tz)
        row["category_label"] = labels.get(row["category"], row["category"])
        row["confirmed"] = _yes(row["confirmed"])
        row["status_id"] = row["status"]
        row["status"] = STATUS.get(row["status"], row["status"])
        row["merged_into"] = f"#{merged}" if merged else ""
        row["project"] = f"P{project:02d}" if project else ""
        row["channel_id"] = row["channel"]
        # A mine's own bot (telegram:<mine>) is Telegram too.
        row["channel"] = CHANNELS.get(row["channel"].partition(":")[0], row["channel"])
        for days in ("review_days", "adopted_days"):
            if row[days] is not None:
                row[days] = round(row[days], 2)
        yield row


async def _projects(repos: Repositories, labels: dict[str, str]) -> AsyncIterator[Row]:
    for p in await repos.projects.all():
        yield {
            "number": p.number,
            "title": p.title,
            "category_id": p.category,
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
            row["status_id"] = row["status"]
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
            "last_at": point.last_at.astimezone(tz).replace(microsecond=0)
            if point.last_at
            else None,
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
            "created_at": a.created_at.astimezone(tz).replace(microsecond=0),
        }


def _number(text: str) -> int | float:
    """A decimal kept as text, as the spreadsheet's number (1740, 16.07)."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


async def _assessment_rows(
    repos: Repositories, project_weight: float, part_weights: tuple[tuple[str, float], ...]
) -> AsyncIterator[Row]:
    names = {b.id: b.name for b in await repos.org.branches()}
    months = await repos.scores.months()
    every = await repos.scores.latest(months)
    for month in months:
        entries = every.get(month, {})
        scored: list[dict[str, Any]] = []
        for branch_id, name in names.items():
            parts = entries.get(branch_id, {})
            project, total, _ = compute(parts, project_weight, part_weights)
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


async def _finding_rows(repos: Repositories, tz: ZoneInfo, today: str) -> AsyncIterator[Row]:
    async for row in repos.findings.ledger():
        status = row["status"]
        overdue = bool(status == "open" and row["decision_due"] and row["decision_due"] < today)
        row.update(
            status_id=status,
            status=FINDING_STATUS.get(status, status),
            escalated=_yes(row["escalated"]),
            decision=row["decision"] or "",
            assigned=row["assigned"] or "",
            decision_due=row["decision_due"] or "",
            created_at=_local(row["created_at"], tz),
            resolved_at=_local(row["resolved_at"], tz),
            overdue=_yes(overdue),
        )
        yield row


async def _visit_rows(repos: Repositories, tz: ZoneInfo) -> AsyncIterator[Row]:
    async for row in repos.visits.ledger():
        row["visited_at"] = _local(row["visited_at"], tz)
        yield row


def _cell(value: Any) -> Any:
    """Control characters (stored before the router removed them) have no place in a cell."""
    return clean(value) if isinstance(value, str) else value


def _text_cell(value: Any) -> Any:
    """A CSV opened in a spreadsheet runs text that starts with '=' and friends as a formula:
    defuse it (xlsx writes every text as a string cell, which never runs)."""
    value = _cell(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def _value(sheet: Sheet, key: str, row: dict[str, Any]) -> Any:
    value = row.get(key)
    if key in sheet.money and value is not None:
        return round(int(value) / 100, 2)
    return _cell(value)


def ideas_sheet(sheets: Sequence[Sheet]) -> Sheet:
    """The sheet CSV and JSON lines carry."""
    return next(s for s in sheets if s.title == "金点子")


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
    ideas = ideas_sheet(sheets)
    count = 0
    if suffix == ".jsonl":
        with tmp.open("w", encoding="utf-8") as out:
            async for row in ideas.rows:
                item = {k: _json_value(row.get(k)) for k, _ in ideas.columns}
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                count += 1
    elif suffix == ".csv":
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:  # BOM: Excel reads UTF-8
            writer = csv.writer(out)
            writer.writerow([title for _, title in ideas.columns])
            async for row in ideas.rows:
                writer.writerow([_text_cell(_value(ideas, key, row)) for key, _ in ideas.columns])
                count += 1
    else:
        count = await _xlsx(tmp, sheets, row_limit, warn or _stderr, ideas)
    tmp.replace(path)
    return count


def _json_value(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


async def _xlsx(
    path: Path,
    sheets: list[Sheet],
    row_limit: int,
    warn: Callable[[str], None],
    counted: Sheet,
) -> int:
    """Constant memory: each row goes to the file as it comes; returns `counted`'s rows."""
    import xlsxwriter

    if row_limit < 2:
        raise ValueError("a sheet needs room for its header and a row")
    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            # Text stays text: '=1+1' is not a formula, '0012' not a number, no links made.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            # Local times, as naive date-times: Excel has no time zones.
            "remove_timezone": True,
            "default_date_format": TIME_FORMAT,
        },
    )
    formats = _Formats(book)
    written = 0
    try:
        for sheet in sheets:
            rows = aiter(sheet.rows)
            sample: list[tuple[list[Any], Row]] = []
            async for row in rows:
                sample.append(([_value(sheet, key, row) for key, _ in sheet.columns], row))
                if len(sample) == _WIDTH_SAMPLE:
                    break
            out = _Pages(book, formats, sheet, _widths(sheet, [v for v, _ in sample]), row_limit)
            out.warn = warn
            for values, row in sample:
                out.append(values, row)
            async for row in rows:
                out.append([_value(sheet, key, row) for key, _ in sheet.columns], row)
            out.close()
            if sheet is counted:
                written = out.written
    finally:
        book.close()
    return written


class _Formats:
    """The workbook's few cell formats, made once."""

    def __init__(self, book: Any) -> None:
        self.header = book.add_format({"bold": True})
        self.money = book.add_format({"num_format": MONEY_FORMAT})
        self.percent = book.add_format({"num_format": PERCENT_FORMAT})
        self.time = book.add_format({"num_format": TIME_FORMAT})


def _widths(sheet: Sheet, sample: list[list[Any]]) -> list[int]:
    """Column widths from the header and the first rows (wide characters count double)."""
    widths = []
    for index, (key, title) in enumerate(sheet.columns):
        factor = 2 if key in ("text", "title", "figure", "note", "decision") else 1
        longest = max([len(str(title)) * 2] + [_shown_length(v[index]) * factor for v in sample])
        widths.append(min(max(longest + 2, 8), 60))
    return widths


def _shown_length(value: Any) -> int:
    if isinstance(value, datetime):
        return len(TIME_FORMAT)
    return len(str(value if value is not None else ""))


class _Pages:
    """One sheet, going on in 标题(2), 标题(3), … at the row limit; every page with its header
    frozen and an autofilter over header and rows."""

    def __init__(
        self, book: Any, formats: _Formats, sheet: Sheet, widths: list[int], row_limit: int
    ) -> None:
        self._book, self._formats, self._sheet, self._widths = book, formats, sheet, widths
        self._limit = row_limit
        self.warn: Callable[[str], None] = _stderr
        self._column_formats = [
            formats.money
            if key in sheet.money
            else formats.percent
            if key in sheet.percent
            else None
            for key, _ in sheet.columns
        ]
        self._value_column = next(
            (i for i, (key, _) in enumerate(sheet.columns) if key == "value"), None
        )
        self.number = 0
        self.written = 0
        self._on_page = 0
        self._page: Any = self._open()

    def _open(self) -> Any:
        self.number += 1
        title = self._sheet.title
        page = self._book.add_worksheet(title if self.number == 1 else f"{title}({self.number})")
        page.freeze_panes(1, 0)
        for index, width in enumerate(self._widths):
            page.set_column(index, index, width)
        for index, (_, name) in enumerate(self._sheet.columns):
            page.write_string(0, index, name, self._formats.header)
        self._on_page = 0
        return page

    def _filter(self) -> None:
        self._page.autofilter(0, 0, self._on_page, len(self._sheet.columns) - 1)

    def append(self, values: list[Any], row: Row) -> None:
        if self._on_page == self._limit - 1:  # the header is one of the page's rows
            if self.number == 1:
                title = self._sheet.title
                self.warn(
                    f"警告:{title}超过 Excel 每个工作表 {self._limit:,} 行的上限,"
                    f"其余的行接着写在 {title}(2) 等工作表里。"
                )
            self._filter()
            self._page = self._open()
        self._on_page += 1
        line, page, formats = self._on_page, self._page, self._column_formats
        for index, value in enumerate(values):
            if value is None or value == "":
                continue
            fmt = formats[index]
            if index == self._value_column:  # the summary: each row says its unit
                fmt = (
                    self._formats.money
                    if row.get("_money")
                    else self._formats.percent
                    if row.get("_percent")
                    else None
                )
                if row.get("_money"):
                    value = round(int(value) / 100, 2)
            if isinstance(value, str):
                page.write_string(line, index, value)
            elif isinstance(value, bool):
                page.write_boolean(line, index, value)
            elif isinstance(value, (int, float)):
                page.write_number(line, index, value, fmt)
            elif isinstance(value, datetime):
                page.write_datetime(line, index, value, self._formats.time)
            else:
                page.write(line, index, value, fmt)
        self.written += 1

    def close(self) -> None:
        self._filter()


def group_sheets(mines: Sequence[MineView]) -> list[Sheet]:
    """The group's ledger: 各矿汇总 (the mines ranked as the group office's /stats ranks
    them), then 金点子 of every mine, a 矿 column first."""
    summary = Sheet(
        "各矿汇总",
        [
            ("rank", "排名"),
            ("mine_id", "矿编号"),
            ("mine", "矿"),
            ("ideas", "本年金点子"),
            ("adopted", "已采纳"),
            ("adoption", "采纳率"),
            ("verified", "核实效益(元)"),
            ("target", "年度效益目标(元)"),
            ("done", "效益完成率"),
        ],
        _mine_rows(mines),
        money={"verified", "target"},
        percent={"adoption", "done"},
    )
    ideas = Sheet(
        "金点子",
        [("mine", "矿"), *IDEA_COLUMNS],
        _group_ideas(mines),
        percent={"confidence"},
    )
    return [summary, ideas]


async def _mine_rows(mines: Sequence[MineView]) -> AsyncIterator[Row]:
    for rank, m in enumerate(await group_rules.mine_figures(mines), 1):
        yield {
            "rank": rank,
            "mine_id": m.mine_id,
            "mine": m.name,
            "ideas": m.ideas,
            "adopted": m.adopted,
            "adoption": m.adoption,
            "verified": m.verified_fen,
            "target": m.target_fen,
            "done": m.done,
        }


async def _group_ideas(mines: Sequence[MineView]) -> AsyncIterator[Row]:
    for view in mines:
        services = view.services
        labels = {c.id: c.label for c in services.classifier.categories}
        async for row in _ideas(services.repos, labels, services.settings.timezone):
            yield {"mine": view.name, **row}
