"""The chart font (issue 19 item 1): Noto Sans CJK SC shipped in the repository, subset to GBK.

Mainland readers must see mainland glyph forms, every chart text must be drawn in the shipped
file (no fallback, no tofu), and the font must cover GB 2312 whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from handlers.charts import (
    compare_chart,
    font_path,
    kpi_chart,
    months_chart,
    on_drawn,
    projects_chart,
    scores_chart,
    speed_chart,
    year_chart,
)
from handlers.quarter_pack import pack_chart
from handlers.rules.charts_data import (
    BranchSpeed,
    Measure,
    MonthlyCategories,
    ProjectBar,
    ScoreBar,
    YearTarget,
)
from handlers.rules.periods import Quarter
from handlers.rules.quarter_pack import BranchPack, Pack
from handlers.rules.quarterly import Flag
from storage import Branch

PROBES = "骨角刃"
"""Characters whose Simplified and Traditional Chinese glyphs differ in Noto Sans CJK."""
SYSTEM_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _locl(font: TTFont, language: str, script: str = "hani") -> dict[str, str] | None:
    """The glyph substitutions `locl` makes for `language` in `script`; None when the font has
    no such language system."""
    table = font["GSUB"].table
    for record in table.ScriptList.ScriptRecord:
        if record.ScriptTag != script:
            continue
        for system in record.Script.LangSysRecord:
            if system.LangSysTag != language:
                continue
            mapping: dict[str, str] = {}
            for index in system.LangSys.FeatureIndex:
                feature = table.FeatureList.FeatureRecord[index]
                if feature.FeatureTag != "locl":
                    continue
                for lookup_index in feature.Feature.LookupListIndex:
                    lookup = table.LookupList.Lookup[lookup_index]
                    for sub in lookup.SubTable:
                        single = sub.ExtSubTable if lookup.LookupType == 7 else sub
                        mapping.update(getattr(single, "mapping", {}))
            return mapping
    return None


def traditional_defaults(path: Path, probes: str = PROBES, font_number: int = -1) -> list[str]:
    """The probes whose default (cmap) glyph is not the Simplified Chinese form; [] for a font
    that draws them the mainland way.

    Noto Sans CJK's `locl` feature holds the truth, with no glyph ids written down here: in the
    SC cut the ZHS language system substitutes nothing for a probe (its default glyph is
    already the ZHS form) while ZHT substitutes it (the Traditional form is another glyph);
    in the TC cut it is the reverse. A probe counts as mainland only when both hold, so a font
    with `locl` stripped cannot pass by substituting nothing at all."""
    with TTFont(str(path), fontNumber=font_number, lazy=True) as font:
        cmap = font.getBestCmap()
        simplified, traditional = _locl(font, "ZHS "), _locl(font, "ZHT ")
    assert simplified is not None and traditional is not None, f"{path}: no ZHS/ZHT locl"
    wrong = []
    for ch in probes:
        glyph = cmap[ord(ch)]
        if glyph in simplified or glyph not in traditional:
            wrong.append(ch)
    return wrong


def shipped_cmap() -> dict[int, str]:
    """The shipped font's Unicode map."""
    with TTFont(str(font_path()), lazy=True) as font:
        return dict(font.getBestCmap())


def test_shipped_font_is_noto_sans_cjk_sc_under_the_ofl() -> None:
    path = font_path()
    assert path.is_file() and path.parent.name == "fonts"
    assert path.stat().st_size < 10_000_000
    with TTFont(str(path), lazy=True) as font:
        names = {n: font["name"].getDebugName(n) for n in (0, 1, 4, 13, 14)}
    assert names[1] == names[4] == "Noto Sans CJK SC"
    assert "SIL Open Font License, Version 1.1" in str(names[13])
    assert names[14] == "http://scripts.sil.org/OFL" and "Adobe" in str(names[0])
    licence = (path.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Adobe" in licence


def test_characters_take_their_simplified_chinese_forms() -> None:
    assert traditional_defaults(font_path()) == []


def test_the_form_check_catches_the_traditional_cut() -> None:
    """Where Debian's fonts-noto-cjk is installed: its TC face fails the check, its SC passes."""
    if not SYSTEM_TTC.is_file():
        pytest.skip(f"no {SYSTEM_TTC}")
    faces = {}
    for number in (2, 3):
        with TTFont(str(SYSTEM_TTC), fontNumber=number, lazy=True) as face:
            faces[face["name"].getDebugName(4)] = number
    assert traditional_defaults(SYSTEM_TTC, font_number=faces["Noto Sans CJK TC"]) == list(PROBES)
    assert traditional_defaults(SYSTEM_TTC, font_number=faces["Noto Sans CJK SC"]) == []


def test_all_of_gb2312_and_the_chart_symbols_are_covered() -> None:
    cmap = shipped_cmap()
    hanzi = [
        code
        for code in range(0x4E00, 0xA000)
        if len(chr(code).encode("gb2312", errors="ignore")) == 2
    ]
    assert len(hanzi) == 6763
    assert [chr(c) for c in hanzi if c not in cmap] == []
    symbols = "①②③④⑤⑥⑦⑧⑨⑩×→—…%％℃㎡²·、。,:()【】「」ⅠⅡⅢ≤≥±‰"
    assert [ch for ch in symbols if ord(ch) not in cmap] == []
    # GBK beyond GB 2312: rarer characters of people's names
    assert all(ord(ch) in cmap for ch in "堃喆赟昇")


@contextmanager
def drawn_figures() -> Iterator[list[Figure]]:
    """Every chart Figure saved inside the block, and any warnings raised while drawing."""
    figures: list[Figure] = []
    token = on_drawn.set(figures.append)
    try:
        yield figures
    finally:
        on_drawn.reset(token)


def assert_drawn_in_shipped_font(figure: Figure) -> None:
    """Every visible text of `figure` (titles, tick labels, legends, annotations, axis labels,
    pie labels) has all its characters in the shipped font and resolves to the shipped file."""
    path = str(font_path())
    cmap = shipped_cmap()
    texts = [
        t
        for t in figure.findobj(lambda a: isinstance(a, Text))
        if isinstance(t, Text) and t.get_visible() and t.get_text()
    ]
    assert texts, "a chart with no text"
    for text in texts:
        content = text.get_text()
        assert [ch for ch in content if ord(ch) not in cmap and not ch.isspace()] == [], content
        resolved = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
        assert resolved == path, (content, resolved)


def _render(draw: Callable[..., Path | None], *args: Any) -> Figure:
    """Run one chart function, check it warned of no missing glyph, return its Figure."""
    with warnings.catch_warnings(record=True) as caught, drawn_figures() as figures:
        warnings.simplefilter("always")
        written = draw(*args)
    assert written is not None and written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
    assert len(figures) == 1
    return figures[0]


BRANCHES: Sequence[tuple[str, float]] = [
    ("机掘一队党支部", 96.5),
    ("综采二队党支部", 91.0),
    ("通风区党支部", 88.0),
    ("运输区党支部", 84.5),
    ("选煤厂党支部", 79.0),
]


CATEGORIES = [("tech_innovation", "技术创新"), ("repair_reuse", "修旧利废"), ("other", "其他")]


def test_year_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    year = YearTarget(2026, [180.0, 420.0, 800.0, 4500.0], 5100.0, 4918.0)
    assert_drawn_in_shipped_font(_render(year_chart, tmp_path / "year.png", year))


def test_months_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    months = MonthlyCategories(
        "机掘一队党支部",
        ["9月", "10月", "11月"],
        CATEGORIES,
        {"tech_innovation": [3, 5, 2], "repair_reuse": [8, 4, 6], "other": [0, 1, 0]},
    )
    assert_drawn_in_shipped_font(_render(months_chart, tmp_path / "months.png", months))


def test_speed_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    rows = [BranchSpeed(name, score / 20, score / 100) for name, score in BRANCHES]
    figure = _render(speed_chart, tmp_path / "speed.png", rows, "采纳与审核用时")
    assert_drawn_in_shipped_font(figure)


def test_projects_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    rows = [
        ProjectBar("P01", "锚杆回收复用", "张书记", 60),
        ProjectBar("P02", "旧皮带修复", "李矿长", 35),
        ProjectBar("P03", "采煤机截齿修复再利用", "王堃", None),
    ]
    figure = _render(projects_chart, tmp_path / "projects.png", rows, "重点项目进展")
    assert_drawn_in_shipped_font(figure)


def test_scores_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    rows = [ScoreBar(name, score * 0.8, 18.0) for name, score in BRANCHES]
    figure = _render(scores_chart, tmp_path / "scores.png", rows, "2026-11 支部月度考核", 0.2)
    assert_drawn_in_shipped_font(figure)


def test_compare_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    measures = [Measure("每月金点子", "条", 3.2, 2.1), Measure("采纳率", "%", 0.4, 0.3)]
    figure = _render(compare_chart, tmp_path / "compare.png", "机掘一队党支部", measures)
    assert_drawn_in_shipped_font(figure)


def test_kpi_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    kpis = [
        ("锚杆复用率", "%", 20.0, 60.0, [("10月", 35.0), ("11月", 48.0)]),
        ("吨煤电耗", "kW·h", 30.0, 25.0, [("11月", 27.5)]),
        ("巷道支护面积", "㎡", 0.0, 1200.0, [("11月", 640.0)]),
    ]
    figure = _render(kpi_chart, tmp_path / "kpi.png", "P01 锚杆回收 指标", kpis)
    assert_drawn_in_shipped_font(figure)


def test_pack_chart_is_drawn_in_the_shipped_font(tmp_path: Path) -> None:
    branches = [
        BranchPack(
            Branch(f"b{k}", name, "zzb"),
            "组织部",
            (score, score, score),
            average=score,
            rank=k,
            flags=[Flag(f"b{k}", name, "季度考核排名倒数")] if k == len(BRANCHES) else [],
        )
        for k, (name, score) in enumerate(BRANCHES, start=1)
    ]
    found = Pack(Quarter(2026, 4), datetime(2027, 1, 7, tzinfo=UTC), branches)
    figure = _render(pack_chart, tmp_path / "2026-Q4-季度讲评会.png", found)
    assert_drawn_in_shipped_font(figure)


def test_the_walk_catches_a_character_the_font_lacks(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught, drawn_figures() as figures:
        warnings.simplefilter("always")
        rows = [ScoreBar(name, score * 0.8, 18.0) for name, score in BRANCHES]
        scores_chart(tmp_path / "emoji.png", rows, "📊 月度考核排名", 0.2)
    assert any("missing from" in str(w.message) for w in caught)
    with pytest.raises(AssertionError, match="📊"):
        assert_drawn_in_shipped_font(figures[0])
