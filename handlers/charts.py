"""PNG charts for /stats and the monthly ranking, with a Chinese font that ships with the project.

matplotlib's own fonts have no Chinese glyphs (labels would be tofu boxes), and a fresh
machine may have no CJK font at all, so Noto Sans CJK comes as a Python dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"
FONT_FILE = "NotoSansCJKtc-Regular.otf"


def cjk_font() -> str:
    """Register the shipped Noto Sans CJK with matplotlib; return its family name."""
    path = Path(str(resources.files(FONT_PACKAGE).joinpath(FONT_FILE)))
    names = {f.fname for f in font_manager.fontManager.ttflist}
    if str(path) not in names:
        font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())


def _figure() -> Figure:
    figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def stats_chart(
    path: Path,
    title: str,
    by_category: Sequence[tuple[str, int]],
    monthly: Sequence[tuple[str, int, float]],
    ranking: Sequence[tuple[str, float]],
) -> Path:
    """Ideas by category, monthly ideas with verified benefit (万元), and the branch ranking."""
    family = cjk_font()
    figure = _figure()
    figure.suptitle(title, fontfamily=family, fontsize=16)
    grid = figure.add_gridspec(2, 2)
    pie = figure.add_subplot(grid[0, 0])
    labels = [name for name, n in by_category if n] or ["暂无"]
    values = [n for _, n in by_category if n] or [1]
    pie.pie(
        values,
        labels=labels,
        autopct="%1.0f%%" if any(n for _, n in by_category) else None,
        textprops={"fontfamily": family},
    )
    pie.set_title("金点子类别", fontfamily=family)
    months = figure.add_subplot(grid[0, 1])
    names = [m for m, _, _ in monthly]
    months.bar(names, [n for _, n, _ in monthly], color="#4c72b0", label="金点子(条)")
    months.set_title("每月金点子与核实效益", fontfamily=family)
    benefit = months.twinx()
    benefit.plot(
        names, [b for _, _, b in monthly], color="#dd8452", marker="o", label="核实效益(万元)"
    )
    months.set_ylabel("金点子(条)", fontfamily=family)
    benefit.set_ylabel("核实效益(万元)", fontfamily=family)
    months.tick_params(axis="x", labelrotation=45)
    bars = figure.add_subplot(grid[1, :])
    shown = list(ranking)[:15]
    bars.barh([n for n, _ in shown][::-1], [v for _, v in shown][::-1], color="#55a868")
    bars.set_title("支部排名(金点子条数)" if shown else "支部排名:暂无", fontfamily=family)
    for label in bars.get_yticklabels():
        label.set_fontfamily(family)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def ranking_chart(path: Path, title: str, ranking: Sequence[tuple[str, float]]) -> Path:
    """The month's branch totals, best first."""
    family = cjk_font()
    figure = _figure()
    axes = figure.add_subplot()
    axes.barh([n for n, _ in ranking][::-1], [v for _, v in ranking][::-1], color="#4c72b0")
    axes.set_xlim(0, 100)
    axes.set_title(title, fontfamily=family, fontsize=14)
    for label in axes.get_yticklabels():
        label.set_fontfamily(family)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
