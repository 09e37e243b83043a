"""Speed as a figure: days from an idea to its first review and to adoption, in /stats, the
leaders' monthly notice and the ledger; ideas waiting too long in the leaders' weekly digest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.export import build_sheets, export_ledger
from handlers import render
from handlers.rules.ideas import overdue_reviews
from handlers.rules.scores import Speed
from scheduler.runner import run_job
from storage import Idea, Person, SpeedFigure
from storage.repos.ideas import speed_query
from tests.support import Chat, Clock, RecordingTransport, register_people


def utc(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "secretary", "other_secretary", "leader")


async def person(app: App, number: str) -> Person:
    found = await app.repos.people.by_employee_no(number)
    assert found is not None
    return found


async def submit(app: App, clock: Clock, author: Person, at: datetime) -> Idea:
    clock.now = at
    async with app.repos.db.transaction():
        idea = await app.repos.ideas.add(
            author=author, text="井下回收复用锚杆", category="repair_reuse", confidence=0.5,
            channel="test", now=at,
        )  # fmt: skip
    return idea


async def move(app: App, clock: Clock, idea_id: int, status: str, at: datetime) -> None:
    clock.now = at
    leader = await person(app, "L001")
    idea = await app.repos.ideas.get(idea_id)
    assert idea is not None
    async with app.repos.db.transaction():
        await app.repos.ideas.move(idea, status, leader.id, "", at)


async def seed(app: App, clock: Clock) -> None:
    """jj1: 2 and 4 days to review, 10 and 4 to adoption; xmc: half a day to review; one jj1
    idea waiting since 10 November, one xmc idea since 25 November."""
    worker, other = await person(app, "E001"), await person(app, "S002")
    await submit(app, clock, worker, utc(11, 1))  # 1
    await submit(app, clock, worker, utc(11, 2))  # 2
    await move(app, clock, 1, "under_review", utc(11, 3))
    await submit(app, clock, other, utc(11, 5))  # 3
    await move(app, clock, 2, "adopted", utc(11, 6))
    await move(app, clock, 3, "under_review", utc(11, 5, 14))
    await submit(app, clock, worker, utc(11, 10))  # 4
    await move(app, clock, 1, "adopted", utc(11, 11))
    await move(app, clock, 1, "implemented", utc(11, 12))
    await submit(app, clock, other, utc(11, 25))  # 5
    clock.now = utc(11, 26)


async def test_stats_show_the_speed_for_a_leader_and_a_secretary(
    app: App, clock: Clock, people: dict[str, Chat]
) -> None:
    await seed(app, clock)
    leader = (await people["leader"].say("/stats"))[0]
    assert "用时:首次审核平均 2.2 天(中位数 2 天,共 3 条);采纳平均 7 天(中位数 7 天,共 2 条)" in (
        leader
    )
    assert "机掘一队党支部:首次审核平均 3 天(中位数 3 天,共 2 条)" in leader
    assert "首次审核平均 0.5 天(中位数 0.5 天,共 1 条);采纳还没有记录" in leader
    secretary = (await people["secretary"].say("/stats"))[0]
    assert "用时:首次审核平均 3 天(中位数 3 天,共 2 条);采纳平均 7 天(中位数 7 天,共 2 条)" in (
        secretary
    )
    assert "0.5 天" not in secretary


@pytest.mark.sqlite_only(reason="SQLite query plans (EXPLAIN QUERY PLAN)")
async def test_the_speed_query_reads_indexes(app: App, clock: Clock) -> None:
    await seed(app, clock)
    for branch_id in (None, "jj1"):
        found = await app.repos.ideas.speed(utc(1, 1), branch_id=branch_id, excluded={"withdrawn"})
        assert {f.branch_id for f in found} == (
            {None, "jj1", "xmc"} if branch_id is None else {None, "jj1"}
        )
        sql, params = speed_query(utc(1, 1), branch_id, {"withdrawn"})
        explained = await app.repos.db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = [str(r["detail"]) for r in explained]
        # A range of the year's (or the branch's) ideas, each idea's history one index search;
        # the only sorts are the medians' over the ideas that reached a step.
        assert any(d.startswith("SEARCH i USING COVERING INDEX") for d in plan), plan
        assert not any(d.startswith("SCAN i") or d.startswith("SCAN h") for d in plan), plan
        history = [d for d in plan if d.startswith("SEARCH h")]
        assert len(history) == 2, plan
        assert all("COVERING INDEX idea_history_speed" in d for d in history), plan
    for select in ("SELECT count(*) FROM", "SELECT id, branch_id, created_at FROM"):
        waiting = await app.repos.db.fetchall(
            f"EXPLAIN QUERY PLAN {select} ideas INDEXED BY ideas_waiting_since"
            " WHERE status = 'submitted' AND created_at < ?"
            " ORDER BY created_at LIMIT 10",
            ("2026",),
        )
        assert all("ideas_waiting_since" in str(r["detail"]) for r in waiting)


async def test_monthly_notice_to_leaders_carries_the_speed(
    app: App, clock: Clock, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await seed(app, clock)
    for part, value in (("base", 90), ("self", 80), ("dept", 70), ("leader", 100)):
        await app.repos.scores.enter("jj1", "2026-11", part, value, "", None, clock())
    await app.repos.scores.close("2026-11", 1, clock())  # a month is announced once closed
    transport.sent.clear()
    await run_job(app.services, "monthly_scores", datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    await people["worker"].sender.run_once()
    leader = [p["text"] for c, p in transport.sent if c == "u-L001"]
    assert any("排名" in t and "首次审核平均 2.2 天(中位数 2 天,共 3 条)" in t for t in leader)


async def test_weekly_digest_lists_ideas_waiting_too_long_to_leaders(
    app: App, clock: Clock, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await seed(app, clock)
    transport.sent.clear()
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # Sunday 18:00 in Shanghai
    await run_job(app.services, "weekly_digest", at)
    await people["worker"].sender.run_once()
    leader = [p["text"] for c, p in transport.sent if c == "u-L001"]
    assert leader == ["⏳ 等待审核超过 7 天的金点子 1 条:#4 机掘一队党支部 19 天"]


async def test_overdue_list_shows_the_oldest_ten_and_counts_all(app: App, clock: Clock) -> None:
    worker = await person(app, "E001")
    for day in range(1, 13):
        await submit(app, clock, worker, utc(10, day))
    at = utc(11, 1)
    text = render.overdue_reviews(await overdue_reviews(app.services, at), at)
    assert text.startswith(
        "⏳ 等待审核超过 7 天的金点子 12 条:#1 机掘一队党支部 31 天、#2 机掘一队党支部 30 天"
    )
    assert "#10 机掘一队党支部 22 天" in text and "#11" not in text and text.endswith("……另有 2 条")


async def test_ledger_has_the_days_per_idea(app: App, clock: Clock, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    await seed(app, clock)
    path = tmp_path / "ledger.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    sheet = load_workbook(path)["金点子"]
    header = [c.value for c in sheet[1]]
    review, adopted = header.index("首次审核用时(天)"), header.index("采纳用时(天)")
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [(r[review], r[adopted]) for r in rows] == [
        (2, 10), (4, 4), (0.5, None), (None, None), (None, None),
    ]  # fmt: skip


def test_per_branch_speed_shows_the_slowest_few_and_counts_the_rest() -> None:
    """42 branches would be 42 lines on a phone: the five slowest first reviews, then a count."""

    def figure(branch: str, days: float) -> SpeedFigure:
        return SpeedFigure(branch, "review", 3, days, days)

    by_branch = {f"b{n}": (figure(f"b{n}", float(n)), None) for n in range(1, 8)}
    speed = Speed(figure("", 4.0), None, dict(by_branch))
    names = {f"b{n}": f"支部{n}" for n in range(1, 8)}
    lines = render.speed_lines(speed, names, per_branch=True)
    assert lines[1] == "  审核最慢的 5 个支部:"
    assert [line.split(":")[0].strip() for line in lines[2:7]] == [
        "支部7",
        "支部6",
        "支部5",
        "支部4",
        "支部3",
    ]
    assert lines[-1] == "  其余 2 个支部见台账的“金点子”表。"
    few = render.speed_lines(
        Speed(None, None, dict(list(by_branch.items())[:2])), names, per_branch=True
    )
    assert len(few) == 3 and "其余" not in few[-1]
