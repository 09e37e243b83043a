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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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


def stats_chart(
    path: Path,
    title: str,
    by_category: Sequence[tuple[str, int]],
    monthly: Sequence[tuple[str, int, float]],
    ranking: Sequence[tuple[str, float]],
) -> Path:
    """Ideas by category, monthly ideas with verified benefit (万元), and the branch ranking."""

    def paint(figure: Figure) -> None:
        figure.suptitle(title, fontsize=16)
        grid = figure.add_gridspec(2, 2)
        pie = figure.add_subplot(grid[0, 0])
        present = [(name, n) for name, n in by_category if n]
        if present:
            pie.pie(
                [n for _, n in present], labels=[name for name, _ in present], autopct="%1.0f%%"
            )
        else:
            pie.text(0.5, 0.5, "暂无金点子", ha="center", va="center")
            pie.set_axis_off()
        pie.set_title("金点子类别")
        months = figure.add_subplot(grid[0, 1])
        names = [m for m, _, _ in monthly]
        months.bar(names, [n for _, n, _ in monthly], color="#4c72b0")
        months.set_title("每月金点子与核实效益")
        months.set_ylabel("金点子(条)")
        months.tick_params(axis="x", labelrotation=45)
        benefit = months.twinx()
        benefit.plot(names, [b for _, _, b in monthly], color="#dd8452", marker="o")
        benefit.set_ylabel("核实效益(万元)")
        bars = figure.add_subplot(grid[1, :])
        shown = list(ranking)[:15]
        bars.barh([n for n, _ in shown][::-1], [v for _, v in shown][::-1], color="#55a868")
        bars.set_title("支部排名(金点子条数)" if shown else "支部排名:暂无")

    return draw(path, paint)


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


def ranking_chart(path: Path, title: str, ranking: Sequence[tuple[str, float]]) -> Path:
    """The month's branch totals, best first."""

    def paint(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.barh([n for n, _ in ranking][::-1], [v for _, v in ranking][::-1], color="#4c72b0")
        axes.set_xlim(0, 100)
        axes.set_title(title, fontsize=14)

    return draw(path, paint)
