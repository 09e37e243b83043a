"""PNG charts for /stats and the monthly ranking, with a Chinese font that ships with the project.

matplotlib's own fonts have no Chinese glyphs (labels would be tofu boxes), and a fresh
machine may have no CJK font at all, so the repository carries one: Noto Sans CJK SC (the
Simplified Chinese cut, so shared characters take mainland forms), subset to GBK and the
symbols charts print, in `handlers/fonts/` (its README says how it is made). Every text of a
chart is drawn in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from importlib import resources
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# The colours live with the chart data, where the web 看板 (which draws no images) reads them.
from handlers.rules.charts_data import MEDIAN as MEDIAN
from handlers.rules.charts_data import OURS as OURS
from handlers.rules.charts_data import PALETTE as PALETTE
from handlers.rules.charts_data import TARGET as TARGET
from handlers.rules.charts_data import (
    BranchSpeed,
    Measure,
    MonthlyCategories,
    ProjectBar,
    ScoreBar,
    YearTarget,
)
from handlers.rules.charts_data import category_colours as category_colours
from handlers.rules.group import MineFigures

FONT_PACKAGE = "handlers"
FONT_FILE = "fonts/NotoSansSC-Regular-GBK.otf"
"""Inside FONT_PACKAGE; pyproject's package data puts it (and fonts/OFL.txt) in the wheel."""

on_drawn: ContextVar[Callable[[Figure], None] | None] = ContextVar("on_drawn", default=None)
"""Called with each chart's Figure once it is saved, inside the chart's font settings, so a
test can walk every text drawn; unset (None) outside tests. A context variable, so it
follows a chart into `asyncio.to_thread`."""


def font_path() -> Path:
    """The font file every chart text is drawn in."""
    return Path(str(resources.files(FONT_PACKAGE).joinpath(FONT_FILE)))


def cjk_font() -> str:
    """Register the shipped Noto Sans CJK SC with matplotlib; return its family name."""
    path = str(font_path())
    if path not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def draw(path: Path, paint: Callable[[Figure], None]) -> Path:
    """A 1000 × 700 PNG whose every label is in the CJK font."""
    with matplotlib.rc_context({"font.family": [cjk_font()], "axes.unicode_minus": False}):
        figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        paint(figure)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
        if (look := on_drawn.get()) is not None:
            look(figure)
    return path


Kpi = tuple[str, str, float, float, Sequence[tuple[str, float]]]
"""(name, unit, baseline, target, [(when, value), …] oldest first)."""


def kpi_chart(path: Path, title: str, kpis: Sequence[Kpi]) -> Path:
    """Each KPI's path from its baseline through the values recorded, against its target;
    one panel per KPI (the first four), the value axis from zero."""
    shown = list(kpis)[:4]

    def paint(figure: Figure) -> None:
        figure.suptitle(title, fontsize=16)
        columns = 1 if len(shown) == 1 else 2
        rows = (len(shown) + columns - 1) // columns
        for k, (name, unit, baseline, target, values) in enumerate(shown, start=1):
            axes = figure.add_subplot(rows, columns, k)
            labels = ["基线", *(when for when, _ in values)]
            points = [baseline, *(value for _, value in values)]
            places = list(range(len(points)))  # by position: two values of one day stay two
            axes.plot(places, points, color="#4c72b0", marker="o", label="实际")
            axes.set_xticks(places, labels)
            for x, y in zip(places, points, strict=True):
                axes.annotate(f"{y:g}", (x, y), textcoords="offset points", xytext=(0, 6))
            axes.axhline(target, color="#55a868", linestyle="--", label=f"目标 {target:g}")
            axes.set_ylim(0, max([*points, target]) * 1.2 or 1)
            axes.set_title(f"{name}({unit})" if unit else name)
            axes.legend(loc="lower left")

    return draw(path, paint)


def sketch(paint: Callable[[Figure], None]) -> Figure:
    """The figure `draw` would save, not saved: what the tests look at."""
    with matplotlib.rc_context({"font.family": [cjk_font()], "axes.unicode_minus": False}):
        figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        paint(figure)
    return figure


# -- the look every /stats chart shares ------------------------------------------------------
# A chat shows a 1000-pixel-wide image at about 360 points on a phone: text below ~14 pt
# turns to dust, so every size is set here, large.

TITLE = 22
LABEL = 17
TICK = 16
VALUE = 14
LEGEND = 14
MAX_BARS = 15
"""More bars than this do not read on a phone: the rest are summed or left out (and said)."""

NEUTRAL = "#8c8c8c"


def from_zero(axes: Axes, values: Sequence[float], *, axis: str = "y", room: float = 1.15) -> None:
    """A value axis from zero up to a little over the largest value, never negative; 0 to 1
    when every value is zero (matplotlib would centre a flat line on zero, −0.04 to 0.04)."""
    top = max([0.0, *values]) * room or 1.0
    if axis == "y":
        axes.set_ylim(0, top)
    else:
        axes.set_xlim(0, top)


def _phone(axes: Axes, title: str = "") -> None:
    axes.tick_params(labelsize=TICK)
    if title:
        axes.set_title(title, fontsize=LABEL)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _short(text: str, width: int = 10) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _wan(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}".removesuffix(".0")


# -- 1. the year against its target ---------------------------------------------------------


def year_paint(data: YearTarget) -> Callable[[Figure], None]:
    def paint(figure: Figure) -> None:
        axes = figure.add_subplot()
        months = list(range(1, len(data.cumulative) + 1))
        axes.bar(months, data.cumulative, color=OURS, label="累计核实效益")
        if data.cumulative:
            last = data.cumulative[-1]
            axes.annotate(
                _wan(last), (months[-1], last / 2), ha="center", va="center", fontsize=VALUE,
                color="white", rotation=90,
            )  # fmt: skip
            axes.plot(
                [months[-1], 12], [last, data.projected], color=OURS, linestyle="--",
                linewidth=2.5, label=f"按目前进度,年底约 {_wan(data.projected)} 万元",
            )  # fmt: skip
            near = abs(data.projected - data.target) < 0.08 * max(data.target, data.projected)
            below = near and data.projected <= data.target
            axes.annotate(
                _wan(data.projected), (12, data.projected), textcoords="offset points",
                xytext=(0, -12 if below else 8), ha="center", va="top" if below else "bottom",
                fontsize=VALUE, color=OURS,
            )  # fmt: skip
        axes.axhline(
            data.target, color=TARGET, linewidth=2.5, label=f"年度目标 {_wan(data.target)} 万元"
        )
        if not any(data.cumulative):
            axes.text(0.5, 0.45, "本年还没有核实的效益", ha="center", fontsize=LABEL,
                      transform=axes.transAxes)  # fmt: skip
        axes.set_xlim(0.4, 12.6)
        axes.set_xticks(range(1, 13), [f"{m}月" for m in range(1, 13)])
        from_zero(axes, [data.target, data.projected, *data.cumulative], room=1.2)
        axes.set_ylabel("万元", fontsize=LABEL)
        axes.legend(loc="upper left", fontsize=LEGEND, frameon=False)
        _phone(axes)
        axes.set_title(f"{data.year} 年核实效益:完成 {data.done:.0%}", fontsize=TITLE)

    return paint


def figure_for_year(data: YearTarget) -> Figure:
    return sketch(year_paint(data))


def year_chart(path: Path, data: YearTarget) -> Path:
    """The year's cumulative verified benefit against the target, with the pace projected."""
    return draw(path, year_paint(data))


# -- 2. ideas per month by category ---------------------------------------------------------


def months_paint(data: MonthlyCategories) -> Callable[[Figure], None]:
    colours = category_colours([c for c, _ in data.categories])

    def paint(figure: Figure) -> None:
        axes = figure.add_subplot()
        places = list(range(len(data.months)))
        bottom = [0] * len(places)
        for category, label in data.categories:
            counts = list(data.counts.get(category, [0] * len(places)))
            if not any(counts):
                continue  # an empty category would only crowd the legend
            axes.bar(places, counts, bottom=bottom, color=colours[category], label=label)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        for x, total in zip(places, bottom, strict=True):
            if total:
                axes.annotate(
                    str(total), (x, total), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=VALUE,
                )  # fmt: skip
        axes.set_xticks(places, list(data.months))
        axes.set_xlim(-0.6, max(len(places), 6) - 0.4)  # January's one bar stays a bar's width
        from_zero(axes, bottom, room=1.2)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("金点子(条)", fontsize=LABEL)
        if any(bottom):
            axes.legend(loc="upper left", fontsize=LEGEND, ncols=4, frameon=False)
        else:
            axes.text(0.5, 0.5, "本年还没有金点子", ha="center", fontsize=LABEL,
                      transform=axes.transAxes)  # fmt: skip
        _phone(axes)
        axes.set_title(data.title, fontsize=TITLE)

    return paint


def figure_for_months(data: MonthlyCategories) -> Figure:
    return sketch(months_paint(data))


def months_chart(path: Path, data: MonthlyCategories) -> Path:
    """Ideas per month, stacked by category in the category colours."""
    return draw(path, months_paint(data))


# -- 3. adoption rate and days to the first review, by branch ---------------------------------


def speed_paint(rows: Sequence[BranchSpeed], title: str) -> Callable[[Figure], None]:
    shown = sorted(rows, key=lambda r: -r.review_days)[:MAX_BARS][::-1]  # slowest at the top

    def paint(figure: Figure) -> None:
        days, rate = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
        names = [_short(r.name, 7) for r in shown]
        bars = days.barh(names, [r.review_days for r in shown], color="#dd8452")
        days.bar_label(bars, labels=[f"{r.review_days:g}" for r in shown], padding=3,
                       fontsize=VALUE)  # fmt: skip
        from_zero(days, [r.review_days for r in shown], axis="x", room=1.25)
        _phone(days, "首次审核用时(天,中位数)")
        bars = rate.barh(names, [r.adoption * 100 for r in shown], color="#55a868")
        rate.bar_label(bars, labels=[f"{r.adoption:.0%}" for r in shown], padding=3,
                       fontsize=VALUE)  # fmt: skip
        rate.set_xlim(0, 125)
        rate.set_xticks([0, 50, 100], ["0", "50%", "100%"])
        _phone(rate, "采纳率")
        more = f"(用时最长的 {len(shown)} 个,共 {len(rows)} 个)" if len(rows) > len(shown) else ""
        figure.suptitle(title + more, fontsize=TITLE)

    return paint


def figure_for_speed(rows: Sequence[BranchSpeed], title: str) -> Figure | None:
    return sketch(speed_paint(rows, title)) if len(rows) > 1 else None


def speed_chart(path: Path, rows: Sequence[BranchSpeed], title: str) -> Path | None:
    """Per branch, the slowest first: days to the first review and the adoption rate; None
    for one branch or none (one bar compares nothing)."""
    return draw(path, speed_paint(rows, title)) if len(rows) > 1 else None


# -- 4. the key projects' progress ----------------------------------------------------------


def projects_paint(rows: Sequence[ProjectBar], title: str) -> Callable[[Figure], None]:
    ordered = sorted(rows, key=lambda p: (p.percent or 0, p.number))[:MAX_BARS]  # slowest
    shown = ordered[::-1]
    leads = list(dict.fromkeys(p.lead for p in sorted(rows, key=lambda p: p.number)))
    colours = {lead: PALETTE[i % len(PALETTE)] for i, lead in enumerate(leads)}

    def paint(figure: Figure) -> None:
        axes = figure.add_subplot()
        values = [float(p.percent or 0) for p in shown]
        bars = axes.barh(
            [f"{p.number} {_short(p.title, 8)}" for p in shown],
            values,
            color=[colours[p.lead] for p in shown],
        )
        axes.bar_label(
            bars,
            labels=[f"{p.percent}%" if p.percent is not None else "未报" for p in shown],
            padding=3,
            fontsize=VALUE,
        )
        axes.set_xlim(0, 115)
        axes.set_xticks([0, 25, 50, 75, 100], ["0", "25%", "50%", "75%", "100%"])
        from matplotlib.patches import Patch

        present = list(dict.fromkeys(p.lead for p in shown))
        axes.legend(
            handles=[Patch(color=colours[lead], label=lead) for lead in present],
            title="牵头领导", fontsize=LEGEND, title_fontsize=LEGEND, loc="lower right",
        )  # fmt: skip
        _phone(axes)
        more = f"(进展最慢的 {len(shown)} 个,共 {len(rows)} 个)" if len(rows) > len(shown) else ""
        axes.set_title(title + more, fontsize=TITLE)

    return paint


def figure_for_projects(rows: Sequence[ProjectBar], title: str) -> Figure | None:
    return sketch(projects_paint(rows, title)) if len(rows) > 1 else None


def projects_chart(path: Path, rows: Sequence[ProjectBar], title: str) -> Path | None:
    """Each key project's latest progress, least advanced first, coloured by lead; None for
    fewer than two projects."""
    return draw(path, projects_paint(rows, title)) if len(rows) > 1 else None


# -- 5. the branches' monthly scores --------------------------------------------------------


def scores_shown(rows: Sequence[ScoreBar]) -> tuple[list[ScoreBar], str]:
    """At most MAX_BARS of the ranked rows: all, or the best ten and the worst five; and what
    the title says about it."""
    if len(rows) <= MAX_BARS:
        return list(rows), ""
    best, worst = MAX_BARS * 2 // 3, MAX_BARS - MAX_BARS * 2 // 3
    return [*rows[:best], *rows[-worst:]], f"(前 {best} 名与后 {worst} 名,共 {len(rows)} 个)"


def scores_paint(rows: Sequence[ScoreBar], title: str, weight: float) -> Callable[[Figure], None]:
    shown, note = scores_shown(rows)
    shown = shown[::-1]  # best at the top

    def paint(figure: Figure) -> None:
        axes = figure.add_subplot()
        names = [_short(r.name, 7) for r in shown]
        base = [r.base_part for r in shown]
        axes.barh(names, base, color=OURS, label=f"基础分 × {1 - weight:.0%}")
        bars = axes.barh(
            names, [r.project_part for r in shown], left=base, color="#dd8452",
            label=f"重点项目 × {weight:.0%}",
        )  # fmt: skip
        axes.bar_label(bars, labels=[f"{r.total:g}" for r in shown], padding=3, fontsize=VALUE)
        axes.set_xlim(0, 112)
        axes.set_xlabel("总分", fontsize=LABEL)
        axes.legend(loc="lower left", fontsize=LEGEND, ncols=2, bbox_to_anchor=(0, 1.0),
                    frameon=False)  # fmt: skip
        _phone(axes)
        axes.set_title(title + note, fontsize=TITLE, pad=40)

    return paint


def figure_for_scores(rows: Sequence[ScoreBar], title: str, weight: float) -> Figure | None:
    return sketch(scores_paint(rows, title, weight)) if len(rows) > 1 else None


def scores_chart(path: Path, rows: Sequence[ScoreBar], title: str, weight: float) -> Path | None:
    """The month's branch totals, best first, each split into its base and key-project parts;
    None for fewer than two branches."""
    return draw(path, scores_paint(rows, title, weight)) if len(rows) > 1 else None


# -- 6. a branch against the mine's median ----------------------------------------------------


def compare_paint(branch: str, measures: Sequence[Measure], title: str) -> Callable[[Figure], None]:
    def paint(figure: Figure) -> None:
        panels = figure.subplots(1, len(measures))
        for axes, m in zip(panels, measures, strict=True):
            values = [m.ours or 0.0, m.median or 0.0]
            bars = axes.bar([0, 1], values, color=[OURS, MEDIAN], width=0.7)
            labels = [
                "暂无" if v is None else (f"{v:.0%}" if m.unit == "%" else f"{v:g}")
                for v in (m.ours, m.median)
            ]
            axes.bar_label(bars, labels=labels, padding=3, fontsize=VALUE + 2)
            axes.set_xticks([0, 1], ["本支部", "全矿\n中位数"])
            if m.unit == "%":
                axes.set_ylim(0, 1.2)
                axes.set_yticks([0, 0.5, 1], ["0", "50%", "100%"])
            else:
                from_zero(axes, values, room=1.25)
            _phone(axes, f"{m.label}\n({m.unit})" if m.unit != "%" else f"{m.label}\n")
            axes.set_yticks([])  # each bar carries its value: the axis would only crowd
            axes.spines["left"].set_visible(False)
        figure.suptitle(title or f"{branch}与全矿中位数", fontsize=TITLE)

    return paint


def figure_for_compare(branch: str, measures: Sequence[Measure], title: str = "") -> Figure:
    return sketch(compare_paint(branch, measures, title))


def compare_chart(path: Path, branch: str, measures: Sequence[Measure], title: str = "") -> Path:
    """One branch beside the mine's median, one panel per measure."""
    return draw(path, compare_paint(branch, measures, title))


# -- 7. the group office: the mines ranked --------------------------------------------------


def mines_paint(rows: Sequence[MineFigures], title: str) -> Callable[[Figure], None]:
    shown = list(rows[:MAX_BARS])[::-1]  # the best at the top

    def paint(figure: Figure) -> None:
        done, ideas = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
        names = [_short(r.name, 7) for r in shown]
        bars = done.barh(names, [r.done * 100 for r in shown], color=OURS)
        done.bar_label(bars, labels=[f"{r.done:.0%}" for r in shown], padding=3, fontsize=VALUE)
        done.axvline(100, color=TARGET, linewidth=1.5, linestyle="--")
        from_zero(done, [r.done * 100 for r in shown] + [100], axis="x", room=1.25)
        _phone(done, "核实效益 / 年度目标(%)")
        bars = ideas.barh(names, [r.ideas for r in shown], color="#55a868")
        ideas.bar_label(bars, labels=[str(r.ideas) for r in shown], padding=3, fontsize=VALUE)
        from_zero(ideas, [r.ideas for r in shown], axis="x", room=1.3)
        ideas.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        _phone(ideas, "本年金点子(条)")
        more = f"(前 {len(shown)} 个,共 {len(rows)} 个矿)" if len(rows) > len(shown) else ""
        figure.suptitle(title + more, fontsize=TITLE)

    return paint


def figure_for_mines(rows: Sequence[MineFigures], title: str) -> Figure:
    return sketch(mines_paint(rows, title))


def mines_chart(path: Path, rows: Sequence[MineFigures], title: str) -> Path:
    """The mines ranked by the share of their yearly benefit target verified, beside their
    ideas this year: the group office's first chart."""
    return draw(path, mines_paint(rows, title))
