"""The /stats charts: each drawn from data (empty, all zeros, one branch, 42 branches), looked
at as a figure; and /stats over the real stack, per role."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from bot.app import App
from handlers import charts
from handlers.rules import charts_data
from handlers.rules.charts_data import (
    BranchSpeed,
    Measure,
    MonthlyCategories,
    ProjectBar,
    ScoreBar,
    YearTarget,
)
from handlers.rules.scores import Figures
from tests.support import Chat, Clock, RecordingTransport, register_people

CATEGORIES = [
    ("tech_innovation", "技术创新"),
    ("process_improvement", "工艺改良"),
    ("repair_reuse", "修旧利废"),
    ("energy_environment", "节能环保"),
    ("safety", "安全生产"),
    ("management", "管理提升"),
    ("other", "其他"),
]
PNG = b"\x89PNG\r\n\x1a\n"


def bars(axes: Axes) -> list[Rectangle]:
    return [p for p in axes.patches if isinstance(p, Rectangle)]


def texts(figure: Figure) -> str:
    return " ".join(t.get_text() for t in figure.findobj(Text) if isinstance(t, Text))


def assert_from_zero(figure: Figure, axis: str = "y") -> None:
    """The value axis (y for columns, x for horizontal bars) starts at zero, goes up."""
    for axes in figure.axes:
        low, high = axes.get_ylim() if axis == "y" else axes.get_xlim()
        assert low == 0 and high > 0


# -- the figures from data ---------------------------------------------------------------------


def test_year_against_target_has_the_target_and_the_projection(tmp_path: Path) -> None:
    year = YearTarget(2026, [180.0, 420.0, 800.0, 4500.0], 5100.0, 4918.0)
    figure = charts.figure_for_year(year)
    axes = figure.axes[0]
    assert "完成 88%" in axes.get_title()
    lines = [line for line in axes.get_lines() if isinstance(line, Line2D)]
    target = [line for line in lines if np.array_equal(line.get_ydata(), [5100.0, 5100.0])]
    assert target, "the target line"
    dashed = next(line for line in lines if line.get_linestyle() == "--")
    assert np.array_equal(dashed.get_xdata(), [4, 12])
    assert np.array_equal(dashed.get_ydata(), [4500.0, 4918.0])
    assert "4,918" in texts(figure) and axes.get_ylim()[0] == 0
    assert axes.get_ylim()[1] > 5100
    assert charts.year_chart(tmp_path / "y.png", year).read_bytes()[:8] == PNG


@pytest.mark.parametrize("cumulative", [[], [0.0], [0.0, 0.0, 0.0], [-0.04, 0.0]])
def test_year_with_nothing_verified_stays_above_zero(
    tmp_path: Path, cumulative: list[float]
) -> None:
    """The old chart's benefit axis ran from −0.04 to 0.04 万元 when nothing was verified."""
    year = YearTarget(2026, cumulative, 5100.0, 0.0)
    assert_from_zero(charts.figure_for_year(year))
    assert year.done <= 0.0 or cumulative
    charts.year_chart(tmp_path / "y0.png", year)


def test_the_year_target_projects_the_pace(app: App, clock: Clock) -> None:
    clock.now = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)  # half the year gone
    monthly = [(1, 0, 1_000_000_000), *((n, 0, 0) for n in range(2, 8))]
    found = Figures(None, 2026, 0, 0, 0, 0, Counter(), Counter(), 0, monthly)
    year = charts_data.year_target(app.services, found)
    assert year.cumulative[-1] == 1000.0 and year.target == 5100.0
    assert 1990 < year.projected < 2010  # 1,000 万 in half a year: about 2,000 by December


def test_a_category_has_one_colour_in_every_chart() -> None:
    colours = charts.category_colours([c for c, _ in CATEGORIES])
    mine = MonthlyCategories("全矿", ["1月", "2月"], CATEGORIES, {c: [1, 2] for c, _ in CATEGORIES})
    branch = MonthlyCategories("机掘一队", ["1月", "2月"], CATEGORIES, {"repair_reuse": [3, 0]})
    for data in (mine, branch):
        figure = charts.figure_for_months(data)
        axes = figure.axes[0]
        legend = axes.get_legend()
        assert legend is not None
        seen = {
            text.get_text(): to_hex(handle.get_facecolor())
            for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
            if isinstance(handle, Rectangle)
        }
        assert seen["修旧利废"] == colours["repair_reuse"]
        assert_from_zero(figure)
    assert len(set(colours.values())) == len(CATEGORIES)


def test_months_with_no_ideas_says_so(tmp_path: Path) -> None:
    data = MonthlyCategories("全矿", ["1月", "2月", "3月"], CATEGORIES, {})
    figure = charts.figure_for_months(data)
    assert "本年还没有金点子" in texts(figure) and figure.axes[0].get_ylim() == (0.0, 1.0)
    charts.months_chart(tmp_path / "m.png", data)


def test_speed_of_one_branch_is_no_chart_and_42_show_the_slowest_15(tmp_path: Path) -> None:
    one = [BranchSpeed("机掘一队", 2.0, 0.5)]
    assert charts.figure_for_speed(one, "用时") is None
    assert charts.speed_chart(tmp_path / "s1.png", one, "用时") is None
    many = [BranchSpeed(f"支部{i}", float(i), i / 42) for i in range(42)]
    figure = charts.figure_for_speed(many, "用时")
    assert figure is not None
    days, rate = figure.axes
    assert len(bars(days)) == len(bars(rate)) == 15
    assert max(b.get_width() for b in bars(days)) == 41.0  # the slowest are shown
    assert "用时最长的 15 个,共 42 个" in texts(figure)
    assert_from_zero(figure, "x")


def test_projects_labelled_by_number_and_coloured_by_lead(tmp_path: Path) -> None:
    rows = [
        ProjectBar(f"P{i:02d}", f"项目{i}", "张书记" if i % 2 else "李矿长", i * 4 or None)
        for i in range(1, 21)
    ]
    figure = charts.figure_for_projects(rows, "重点项目进展")
    assert figure is not None
    axes = figure.axes[0]
    assert len(bars(axes)) == 15 and "进展最慢的 15 个,共 20 个" in axes.get_title()
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert "P01 项目1" in labels and "P20 项目20" not in labels
    assert len({to_hex(b.get_facecolor()) for b in bars(axes)}) == 2
    assert_from_zero(figure, "x")
    assert charts.projects_chart(tmp_path / "p.png", rows[:1], "重点项目进展") is None


def test_scores_stack_the_base_and_project_parts(tmp_path: Path) -> None:
    rows = [ScoreBar(f"支部{i}", 80 - i, 18 - i / 10) for i in range(42)]
    shown, note = charts.scores_shown(rows)
    assert len(shown) == 15 and shown[0].name == "支部0" and shown[-1].name == "支部41"
    assert "前 10 名与后 5 名,共 42 个" in note
    figure = charts.figure_for_scores(rows, "2026-10 支部月度考核", 0.2)
    assert figure is not None
    axes = figure.axes[0]
    assert len(bars(axes)) == 30  # 15 bars of two parts
    assert "98" in texts(figure) and "基础分 × 80%" in texts(figure)
    assert "重点项目 × 20%" in texts(figure)
    assert axes.get_xlim()[0] == 0
    assert charts.figure_for_scores(rows[:1], "2026-10", 0.2) is None
    assert charts.scores_chart(tmp_path / "one.png", rows[:1], "2026-10", 0.2) is None
    path = charts.scores_chart(tmp_path / "s.png", rows[:14], "2026-10", 0.2)
    assert path is not None and path.read_bytes()[:8] == PNG


def test_a_branch_against_the_median(tmp_path: Path) -> None:
    measures = [
        Measure("每月金点子", "条", 3.2, 2.1),
        Measure("采纳率", "%", 0.4, None),
        Measure("首次审核用时", "天", 0.0, 0.0),
    ]
    figure = charts.figure_for_compare("机掘一队", measures)
    assert len(figure.axes) == 3 and all(len(bars(a)) == 2 for a in figure.axes)
    assert "暂无" in texts(figure) and "全矿\n中位数" in texts(figure)
    assert_from_zero(figure)
    charts.compare_chart(tmp_path / "c.png", "机掘一队", measures)


def test_from_zero_never_goes_negative() -> None:
    figure = Figure()
    axes = figure.add_subplot()
    axes.plot([0, 1], [-0.04, 0.04])
    charts.from_zero(axes, [-0.04, 0.0])
    assert axes.get_ylim() == (0.0, 1.0)


# -- the storage query -------------------------------------------------------------------------


async def test_category_buckets_count_ideas_by_month_and_category(app: App, clock: Clock) -> None:
    repos = app.repos
    author = await repos.people.by_employee_no("E001")
    assert author is not None
    for when, category in (
        (datetime(2026, 1, 5, tzinfo=UTC), "safety"),
        (datetime(2026, 1, 6, tzinfo=UTC), "safety"),
        (datetime(2026, 3, 1, tzinfo=UTC), "other"),
        (datetime(2025, 12, 30, tzinfo=UTC), "other"),  # last year: left out
    ):
        async with repos.db.transaction():
            await repos.ideas.add(
                author=author, text="建议", category=category, confidence=0.9,
                channel="test", now=when,
            )  # fmt: skip
    starts = [datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4)]
    found = await repos.ideas.category_buckets(starts, branch_id=None, excluded={"withdrawn"})
    assert sorted(found) == [(0, "safety", 2), (2, "other", 1)]
    assert await repos.ideas.category_buckets(starts, branch_id="xmc", excluded=()) == []


# -- /stats over the real stack ----------------------------------------------------------------


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "secretary", "other_secretary", "leader")


async def _campaign(app: App, people: dict[str, Chat]) -> None:
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    await people["worker"].say("回风巷瓦斯老是超限,建议加密检测点")
    await people["other_secretary"].say("洗煤厂煤泥回收再利用,减少浪费")
    await people["leader"].say("/project new 锚杆回收 | repair_reuse | L001 | jj1 | 50万 | 1")
    await people["leader"].say("/project new 煤泥回收 | repair_reuse | L001 | xmc | 20万 | 3")


async def test_a_leader_gets_two_charts_and_the_rest_as_buttons(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    await _campaign(app, people)
    for branch, base in (("jj1", 90), ("xmc", 80)):
        for part, value in (("base", base), ("self", 80), ("dept", 70), ("leader", 100)):
            await app.repos.scores.enter(branch, "2026-10", part, value, "", None, clock())
    await app.repos.scores.close("2026-10", 1, clock())
    transport.sent.clear()
    await people["leader"].say("/stats")
    sent = [p for c, p in transport.sent if c == "u-L001"]
    assert len(sent) == 2 and all(Path(p["image_path"]).is_file() for p in sent)
    assert "本年 3 条" in sent[0]["text"] and "年度目标进度" in sent[0]["text"]
    assert "支部月度考核(2026-10)" in sent[1]["text"]
    labels = [b["label"] for row in sent[1].get("buttons", ()) for b in row]
    assert labels == ["查看:每月金点子", "查看:采纳与审核用时", "查看:重点项目进展"]
    assert all(len(b["data"].encode()) <= 64 for row in sent[1]["buttons"] for b in row)
    transport.sent.clear()
    await people["leader"].press("查看:重点项目进展")
    pressed = [p for c, p in transport.sent if c == "u-L001"]
    assert len(pressed) == 1 and Path(pressed[0]["image_path"]).is_file()


async def test_a_secretary_sees_their_branch_and_the_median_only(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await _campaign(app, people)
    transport.sent.clear()
    await people["secretary"].say("/stats")
    sent = [p for c, p in transport.sent if c == "u-S001"]
    assert len(sent) == 2 and all(Path(p["image_path"]).is_file() for p in sent)
    assert "本支部与全矿中位数" in sent[0]["text"] and "每月金点子" in sent[1]["text"]
    assert not any("洗煤厂" in str(p["text"]) for p in sent)
    labels = [b["label"] for row in sent[1].get("buttons", ()) for b in row]
    assert labels == ["查看:重点项目进展"]
    # the figures drawn for the secretary name no other branch
    services = app.services
    months = await charts_data.monthly_categories(services, "jj1", "机掘一队")
    measures = await charts_data.against_median(services, "jj1", None)
    projects = await charts_data.project_bars(services, "jj1")
    drawn = texts(charts.figure_for_months(months)) + texts(
        charts.figure_for_compare("机掘一队", measures)
    )
    assert "洗煤厂" not in drawn and "煤泥" not in drawn
    assert [p.title for p in projects] == ["锚杆回收"]
    # a forged button for a leader's chart is refused
    refused = await people["secretary"].deliver(people["secretary"].incoming(callback="st:scores"))
    assert "只给党委领导" in refused[0]
    leader = await people["leader"].deliver(people["leader"].incoming(callback="st:compare"))
    assert "只给支部书记" in leader[0]


async def test_a_worker_is_refused_stats(people: dict[str, Chat]) -> None:
    reply = (await people["worker"].say("/stats"))[0]
    assert "/stats 只有" in reply and "没有这个权限" in reply


def test_every_text_reads_on_a_phone() -> None:
    """A chat shows the 1000-pixel image about 360 points wide: nothing under 14 pt, and no
    label runs off the image."""
    rows = [ScoreBar(f"机关第{i}支部", 70.0, 18.0) for i in range(20)]
    figures = [
        charts.figure_for_year(YearTarget(2026, [100.0, 4500.0], 5100.0, 4918.0)),
        charts.figure_for_months(
            MonthlyCategories(
                "全矿",
                [f"{n}月" for n in range(1, 12)],
                CATEGORIES,
                {c: [3] * 11 for c, _ in CATEGORIES},
            )
        ),
        charts.figure_for_speed(
            [BranchSpeed(f"后勤服务队{i}", 3.0, 0.5) for i in range(20)], "用时"
        ),
        charts.figure_for_projects(
            [ProjectBar(f"P{i:02d}", "采煤机截齿修复再利用", "张书记", 50) for i in range(20)],
            "进展",
        ),
        charts.figure_for_scores(rows, "2026-10 支部月度考核", 0.2),
        charts.figure_for_compare("机掘一队", [Measure("采纳率", "%", 0.5, 0.4)] * 4),
    ]
    for figure in figures:
        assert figure is not None
        figure.canvas.draw()  # ticks are made when drawn
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        for text in figure.findobj(Text):
            assert isinstance(text, Text)
            if text.get_text().strip() and text.get_visible():
                assert float(text.get_fontsize()) >= 14, text.get_text()
        drawn = figure.get_tightbbox(renderer)  # what was drawn, in inches
        assert drawn is not None
        assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01
        assert drawn.x1 <= 10.01 and drawn.y1 <= 7.01
