"""The read path at scale: figures and digests counted in SQL, the ledger streamed to its file."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.export import MONEY_FORMAT, build_sheets, export_ledger, ideas_sheet
from handlers import render
from handlers.rules.ideas import ADOPTED, DIGEST_SHOWN, weekly_digests
from handlers.rules.periods import Quarter
from handlers.rules.scores import Figures, figures
from handlers.services import Services
from storage import Person
from tests.support import Chat, Clock, register_people

SHEETS = [
    "汇总", "金点子", "重点项目", "关键点", "进展", "效益", "奖励", "月度考核", "督导问题",
    "督导走访", "党小组", "成果", "KPI",
]  # fmt: skip


async def python_figures(services: Services, branch_id: str | None) -> Figures:
    """/stats as it was computed before it moved into SQL: every fact loaded into Python."""
    local = services.local(services.now())
    year_start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    facts = [
        f
        for f in await services.repos.ideas.facts(year_start)
        if (branch_id is None or f.branch_id == branch_id) and f.status != "withdrawn"
    ]
    quarter_start = Quarter.of(local).start(local)
    month_start = year_start.replace(month=local.month)
    projects = {p.id: p for p in await services.repos.projects.all()}
    verified = [
        v
        for v in await services.repos.projects.verified_facts(year_start)
        if branch_id is None or branch_id in projects[v.project_id].branches
    ]
    monthly = []
    for number in range(1, local.month + 1):
        count = sum(1 for f in facts if services.local(f.created_at).month == number)
        benefit = sum(
            v.amount_fen for v in verified if services.local(v.verified_at).month == number
        )
        monthly.append((number, count, benefit))
    return Figures(
        branch_id=branch_id,
        year=local.year,
        ideas_this_month=sum(1 for f in facts if f.created_at >= month_start),
        ideas_this_quarter=sum(1 for f in facts if f.created_at >= quarter_start),
        ideas_this_year=len(facts),
        adopted=sum(1 for f in facts if f.status in ADOPTED),
        by_category=Counter(f.category for f in facts),
        by_branch=Counter(f.branch_id for f in facts),
        verified_fen=sum(v.amount_fen for v in verified),
        monthly=monthly,
    )


async def add_idea(app: App, author: Person, text: str, at: datetime, category: str) -> None:
    await app.repos.ideas.add(
        author=author, text=text, category=category, confidence=0.5, channel="test", now=at
    )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


STAMPS = [
    utc(2025, 12, 31, 15, 59, 59),  # 23:59:59 on 31 Dec in Shanghai: last year
    utc(2025, 12, 31, 16, 0),  # midnight of 1 January in Shanghai
    utc(2026, 1, 15, 3, 0),
    utc(2026, 1, 31, 15, 59, 59),  # still January, locally
    utc(2026, 1, 31, 16, 0),  # February, locally (still January in UTC)
    utc(2026, 2, 28, 15, 59),
    utc(2026, 2, 28, 16, 0),  # 1 March locally: a new month and quarter's first day is 1 April
    utc(2026, 3, 31, 16, 0),  # 1 April locally: Q2
    utc(2026, 6, 30, 15, 59, 59),
    utc(2026, 6, 30, 16, 0),  # 1 July locally: Q3
    utc(2026, 11, 30, 16, 0),  # 1 December locally
    utc(2026, 12, 31, 15, 59, 59),
]
STATUSES = ["submitted", "withdrawn", "adopted", "implemented", "rewarded", "not_adopted"]
BRANCHES = ["jj1", "jj2", "kj1"]
CATEGORIES = ["repair_reuse", "safety", "tech_innovation", "other"]


async def seed(app: App) -> None:
    """Ideas on both sides of every local month boundary, in three branches and all statuses;
    verified benefits of projects of one and two branches, around the same boundaries."""
    author = await app.repos.people.by_employee_no("E001")
    assert author is not None
    repos = app.repos
    async with repos.db.transaction():
        for index, stamp in enumerate(STAMPS * 3):
            person: Person = dataclasses.replace(author, branch_id=BRANCHES[index % 3])
            idea = await repos.ideas.add(
                author=person,
                text=f"第 {index} 条",
                category=CATEGORIES[index % 4],
                confidence=0.5,
                channel="test",
                now=stamp + timedelta(microseconds=index // len(STAMPS)),
            )
            status = STATUSES[index % len(STATUSES)]
            if status != "submitted":
                await repos.ideas.set_status(idea.id, status, stamp)
        one = await repos.projects.create(
            title="锚杆回收",
            category="repair_reuse",
            lead_id=author.id,
            branches=["jj1"],
            expected_fen=0,
            person_id=author.id,
            now=STAMPS[1],
        )
        both = await repos.projects.create(
            title="托辊修复",
            category="repair_reuse",
            lead_id=author.id,
            branches=["jj2", "kj1"],
            expected_fen=0,
            person_id=author.id,
            now=STAMPS[1],
        )
        for index, stamp in enumerate(STAMPS):
            project = one if index % 2 else both
            benefit = await repos.projects.claim(project, 100 * (index + 1), "", author.id, stamp)
            decision = "rejected" if index == 5 else "verified"
            await repos.projects.decide(benefit, decision, author.id, "", stamp)


@pytest.mark.parametrize(
    ("now", "branch_id"),
    [
        (utc(2026, 11, 24, 2, 0), None),
        (utc(2026, 11, 24, 2, 0), "jj1"),  # a secretary's scope
        (utc(2026, 11, 24, 2, 0), "kj1"),
        (utc(2026, 1, 31, 15, 59, 59), None),  # the last second of January, locally
        (utc(2026, 1, 31, 16, 0), None),  # the first of February
        (utc(2026, 2, 28, 16, 0), "jj2"),  # March: a new quarter
        (utc(2026, 3, 31, 16, 0), None),  # April
        (utc(2026, 6, 30, 16, 0), "jj1"),  # July
        (utc(2026, 12, 31, 15, 59, 59), None),  # the year's last second, locally
        (utc(2025, 12, 31, 16, 0), None),  # the new year's first second
    ],
)
async def test_sql_figures_equal_the_python_computation(
    app: App, clock: Clock, now: datetime, branch_id: str | None
) -> None:
    await seed(app)
    clock.now = now
    expected = await python_figures(app.services, branch_id)
    found = await figures(app.services, branch_id)
    assert found == expected
    assert sum(n for _, n, _ in found.monthly) <= found.ideas_this_year


async def test_withdrawn_ideas_and_other_branches_are_left_out(app: App, clock: Clock) -> None:
    await seed(app)
    clock.now = utc(2026, 12, 31, 15, 59, 59)
    mine = await figures(app.services, "jj1")
    everyone = await figures(app.services, None)
    this_year = len(STAMPS[1:]) * 3  # the first stamp is last year's
    withdrawn = sum(1 for i in range(1, len(STAMPS) * 3) if STATUSES[i % 6] == "withdrawn")
    assert everyone.ideas_this_year == this_year - withdrawn
    assert set(mine.by_branch) == {"jj1"} and mine.ideas_this_year < everyone.ideas_this_year
    assert everyone.monthly[0][1] == sum(
        1 for i in range(3 * len(STAMPS)) if i % len(STAMPS) in (1, 2, 3) and i % 6 != 1
    )
    clock.now = utc(2025, 12, 31, 15, 0)  # the year before: its months hold none of 2026's
    before = await figures(app.services, None)
    assert before.year == 2025 and [n for _, n, _ in before.monthly] == [0] * 11 + [3]


async def test_digest_counts_and_shows_the_newest(
    app: App, chat: Callable[..., Chat], clock: Clock
) -> None:
    await register_people(chat, "secretary")
    author = await app.repos.people.by_employee_no("E001")
    assert author is not None
    at = utc(2026, 11, 29, 10, 0)
    async with app.repos.db.transaction():
        for day in (9, 8):  # before the week
            await add_idea(app, author, "上周以前", at - timedelta(days=day), "other")
        for minute in range(DIGEST_SHOWN + 5):
            moment = at - timedelta(days=6, minutes=-minute)
            await add_idea(app, author, f"本周第 {minute} 条", moment, "safety")
        await app.repos.ideas.set_status(3, "adopted", at)
    [week] = [w for w in await weekly_digests(app.services, at) if w.branch.id == "jj1"]
    assert week.new_count == DIGEST_SHOWN + 5 and week.waiting == 2 + DIGEST_SHOWN + 5 - 1
    assert [i.id for i in week.new] == list(range(8, 8 + DIGEST_SHOWN))  # newest, oldest first
    text = render.weekly_digest(app.services, week)
    assert f"新提交 {DIGEST_SHOWN + 5} 条,待审核 {DIGEST_SHOWN + 6} 条" in text
    assert "#22 安全生产" in text and "#7 " not in text and "……另有 5 条" in text


async def test_the_ledger_reads_in_chunks(app: App, clock: Clock) -> None:
    await seed(app)
    ids = [row["id"] async for row in app.repos.ideas.ledger(chunk=5)]
    assert ids == list(range(1, 3 * len(STAMPS) + 1))


async def test_write_only_xlsx_opens_with_the_same_sheets_and_headers(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    await seed(app)
    await app.repos.projects.link(1, 1)
    sheets = await build_sheets(app.services)
    headers = {s.title: [title for _, title in s.columns] for s in sheets}
    path = tmp_path / "ledger.xlsx"
    assert await export_ledger(path, sheets) == 3 * len(STAMPS)
    book = load_workbook(path)
    assert book.sheetnames == SHEETS
    for name in SHEETS:
        page = book[name]
        assert [c.value for c in page[1]] == headers[name]
        assert page["A1"].font.bold and page.freeze_panes == "A2"
    ideas = book["金点子"]
    assert ideas.max_row == 3 * len(STAMPS) + 1
    assert ideas["A2"].value == 1 and ideas["B2"].value == datetime(2025, 12, 31, 23, 59, 59)
    assert ideas["O2"].value == "P01" and ideas["O3"].value is None
    assert ideas.column_dimensions["R"].width > ideas.column_dimensions["A"].width
    amount = book["效益"]["C2"]
    assert amount.value == 1.0 and amount.number_format == MONEY_FORMAT


@pytest.mark.parametrize(
    ("ideas", "limit", "pages"), [(7, 4, [3, 3, 1]), (3, 4, [3]), (6, 4, [3, 3])]
)
async def test_a_long_sheet_goes_on_in_the_next_before_the_row_limit(
    app: App, clock: Clock, tmp_path: Path, ideas: int, limit: int, pages: list[int]
) -> None:
    from openpyxl import load_workbook

    author = await app.repos.people.by_employee_no("E001")
    assert author is not None
    for n in range(ideas):
        await add_idea(app, author, f"第 {n} 条", clock(), "other")
    warnings: list[str] = []
    path = tmp_path / "ledger.xlsx"
    sheets = [ideas_sheet(await build_sheets(app.services))]
    assert await export_ledger(path, sheets, row_limit=limit, warn=warnings.append) == ideas
    book = load_workbook(path)
    names = ["金点子", *(f"金点子({n})" for n in range(2, len(pages) + 1))]
    assert book.sheetnames == names
    assert [book[n].max_row - 1 for n in names] == pages
    assert all(book[n]["A1"].value == "编号" for n in names)
    ids = [r[0] for n in names for r in book[n].iter_rows(min_row=2, values_only=True)]
    assert ids == list(range(1, ideas + 1))
    assert len(warnings) == (len(pages) > 1) and all("金点子(2)" in w for w in warnings)
    csv_path = tmp_path / "ledger.csv"
    sheets = await build_sheets(app.services)
    assert await export_ledger(csv_path, sheets, row_limit=limit) == ideas  # no sheets in CSV
    with csv_path.open(encoding="utf-8-sig") as f:
        assert len(list(csv.reader(f))) == ideas + 1
