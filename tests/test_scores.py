"""Monthly scores, quarterly material, /stats and its chart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from PIL import Image

from bot.app import App
from handlers.charts import cjk_font, font_path
from handlers.rules.scores import compute, month_scores
from scheduler.runner import run_job
from tests.support import ROOT, Chat, Clock, RecordingTransport, register_people

WEIGHTS = (("self", 0.3), ("dept", 0.4), ("leader", 0.3))


@pytest.mark.parametrize(
    ("parts", "weight", "weights", "expected"),
    [
        ({"base": 90, "self": 80, "dept": 70, "leader": 100}, 0.2, WEIGHTS, (82.0, 88.4, [])),
        ({"base": 90, "self": 80, "dept": 70}, 0.2, WEIGHTS, (None, None, ["leader"])),
        ({"self": 80, "dept": 70, "leader": 100}, 0.2, WEIGHTS, (82.0, None, ["base"])),
        ({}, 0.2, WEIGHTS, (None, None, ["base", "self", "dept", "leader"])),
        ({"base": 90, "self": 80, "dept": 70, "leader": 100}, 0.08, WEIGHTS, (82.0, 89.36, [])),
        (
            {"base": 90, "self": 80, "dept": 70, "leader": 100},
            0.2,
            (("self", 0.5), ("dept", 0.25), ("leader", 0.25)),
            (82.5, 88.5, []),
        ),
        ({"base": 0, "self": 0, "dept": 0, "leader": 0}, 0.2, WEIGHTS, (0.0, 0.0, [])),
    ],
)
def test_computation(
    parts: dict[str, float],
    weight: float,
    weights: tuple[tuple[str, float], ...],
    expected: tuple[float | None, float | None, list[str]],
) -> None:
    assert compute(parts, weight, weights) == expected


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "secretary", "other_secretary", "supervisor", "leader"
    )


async def test_entry_ranking_ties_and_change(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    leader, supervisor, secretary = people["leader"], people["supervisor"], people["secretary"]
    clock.now = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
    for branch in ("jj1", "jj2"):
        await leader.say(f"/score base {branch} 90")
        await leader.say(f"/score leader {branch} 80")
        await supervisor.say(f"/score dept {branch} 80")
        await app.repos.scores.enter(branch, "2026-10", "self", 80, "", None, clock())
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert (
        "已记录 机掘一队党支部 2026-11 的项目自评:85 分"
        in (await secretary.say("/score self 85"))[0]
    )
    await secretary.say("/score self 90 复核后")  # replaces, kept in history
    for branch, base in (("jj1", 95), ("jj2", 95), ("kj1", 99)):
        await leader.say(f"/score base {branch} {base}")
        await leader.say(f"/score leader {branch} 90")
        await supervisor.say(f"/score dept {branch} 90")
    await app.repos.scores.enter("jj2", "2026-11", "self", 90, "", None, clock())
    scores = {s.branch_id: s for s in await month_scores(app.services, "2026-11")}
    assert scores["jj1"].total == scores["jj2"].total == 94.0
    assert scores["jj1"].rank == scores["jj2"].rank == 1
    assert scores["kj1"].total is None and scores["kj1"].missing == ["self"]
    assert scores["kj1"].rank is None
    assert scores["jj1"].change == 94.0 - 88.0
    history = await app.repos.db.fetchall(
        "SELECT value FROM score_entries WHERE branch_id='jj1' AND part='self' AND month='2026-11'"
    )
    assert [r[0] for r in history] == [85.0, 90.0]
    mine = (await secretary.say("/score"))[0]
    assert "第 1 名 机掘一队党支部:94 分" in mine and "比上月 +6" in mine
    assert "开掘一队" not in mine
    everyone = (await leader.say("/score"))[0]
    assert "开掘一队党支部:总分待定(缺 项目自评)" in everyone
    assert everyone.count("第 1 名") == 2


async def test_refusals_and_closed_months(app: App, people: dict[str, Chat], clock: Clock) -> None:
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    cases = [
        (people["worker"], "/score", "只有"),
        (people["secretary"], "/score self 101", "要在 0 到 100 之间"),
        (people["secretary"], "/score self -1", "要在 0 到 100 之间"),
        (people["secretary"], "/score self abc", "分数要写 0 到 100 的数字"),
        (people["secretary"], "/score dept jj1 90", "不在您所在部门的督导范围内"),
        (people["supervisor"], "/score dept xmc 90", "不在您所在部门的督导范围内"),
        (people["supervisor"], "/score base jj1 90", "领导评价和基础分由党委领导填写"),
        (people["supervisor"], "/score self 90", "项目自评由支部书记填写"),
        (people["leader"], "/score base nowhere 90", "没有编号为“nowhere”的支部"),
        (people["leader"], "/score 2027-01", "这个月份还没到"),
        (people["leader"], "/score close 2027-01", "还没到,不能结账"),
        (people["leader"], "/score close 11", "用法:/score close YYYY-MM"),
        (people["secretary"], "/score close 2026-10", "只有党委领导可以结账"),
        (people["leader"], "/score frobnicate", "用法"),
    ]
    for who, command, expected in cases:
        reply = (await who.say(command))[0]
        assert expected in reply, (command, reply)
    assert await app.repos.scores.month("2026-11") == {}
    # closing cannot be undone: it warns of the pending totals and waits for 确认关闭
    assert "总分还没有算出" in (await people["leader"].say("/score close 2026-11"))[0]
    assert not await app.repos.scores.is_closed("2026-11")
    assert "2026-11 已结账" in (await people["leader"].press("确认关闭"))[-1]
    assert "已经结账了" in (await people["leader"].say("/score close 2026-11"))[0]
    assert "已经结账,不能再修改" in (await people["secretary"].say("/score self 80"))[0]
    assert await app.repos.scores.month("2026-11") == {}


async def test_monthly_scores_job(
    app: App,
    people: dict[str, Chat],
    clock: Clock,
    transport: RecordingTransport,
    chat: Callable[..., Chat],
) -> None:
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert (await run_job(app.services, "monthly_scores", clock())).queued == 0  # nothing yet
    for part, value in (("base", 90), ("self", 80), ("dept", 70), ("leader", 100)):
        await app.repos.scores.enter("jj1", "2026-11", part, value, "", None, clock())
    await app.repos.scores.close("2026-11", 1, clock())  # announced only once closed
    transport.sent.clear()
    result = await run_job(app.services, "monthly_scores", datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    assert result.period == "2026-12" and result.queued == 2
    await people["worker"].sender.run_once()
    group = [p for c, p in transport.sent if c == "-900"]
    assert "2026-11 月度考核结果" in group[0]["text"] and "机掘一队党支部" in group[0]["text"]
    assert "第 1 名 / 共 1 个支部" in group[0]["text"] and "总分 88.4 分" in group[0]["text"]
    leader = [p for c, p in transport.sent if c == "u-L001"]
    # one scored branch: one bar compares nothing, so the ranking is text only
    assert "排名" in leader[0]["text"] and "image_path" not in leader[0]


async def test_stats_chart_is_a_png_in_a_cjk_font(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    await people["worker"].say("回风巷瓦斯老是超限,建议加密检测点")
    await people["leader"].say("/project new 锚杆回收 | repair_reuse | L001 | jj1 | 50万 | 1")
    await people["secretary"].say("/benefit P01 4万 11月")
    await people["leader"].say("/verify B1")
    transport.sent.clear()
    await people["leader"].say("/stats")
    payload = next(p for c, p in transport.sent if c == "u-L001")
    assert "本年 2 条" in payload["text"] and "采纳率 50%" in payload["text"]
    assert "核实效益:4.00 万元(年度目标 5,100.00 万元" in payload["text"]
    path = Path(payload["image_path"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.size == (1000, 700)
    family = cjk_font()
    resolved = font_manager.findfont(
        font_manager.FontProperties(family=family), fallback_to_default=False
    )
    assert Path(resolved) == font_path()  # the shipped Noto Sans CJK SC subset
    charmap = FT2Font(resolved).get_charmap()
    assert all(ord(ch) in charmap for ch in "金点子类别每月核实效益支部排名修旧利废安全生产万元")
    secretary = (await people["secretary"].say("/stats"))[0]
    assert "机掘一队党支部" in secretary and "年度目标" not in secretary


async def test_quarter_material(app: App, people: dict[str, Chat]) -> None:
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    await people["leader"].say("/project new 锚杆回收 | repair_reuse | L001 | jj1 | 50万 | 1")
    await people["secretary"].say("/progress P01 40 第一批完成")
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    text = (await people["secretary"].say("/review_quarter 2026-Q4"))[0]
    assert "【机掘一队党支部】未解决督导问题 1 个" in text
    assert "P01 锚杆回收:40% 第一批完成" in text and "10月 待定" in text
    assert "用法" in (await people["leader"].say("/review_quarter 2026-5"))[0]


def test_scores_import_cli(tmp_path: Path) -> None:
    env = {"JINDIANZI_STORAGE_PATH": str(tmp_path / "j.db"), "PYTHONIOENCODING": "utf-8"}
    jindianzi = str(Path(sys.executable).parent / "jindianzi")
    bad = tmp_path / "bad.csv"
    bad.write_text("branch_id,month,base\njj1,2026-11,95\nzz9,2026-13,abc\n", encoding="utf-8")
    result = subprocess.run(
        [jindianzi, "scores", "import", str(bad)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert result.returncode == 1 and "第 3 行" in result.stderr and "zz9" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("jj1,2026-11,95\njj2,2026-11,88.5\n", encoding="utf-8")
    result = subprocess.run(
        [jindianzi, "scores", "import", str(good)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert result.returncode == 0 and "已导入 2 条基础分" in result.stdout


async def test_assessment_sheet_in_the_ledger(app: App, tmp_path: Path, clock: Clock) -> None:
    from openpyxl import load_workbook

    from bot.export import build_sheets, export_ledger

    for branch, base in (("jj1", 90), ("jj2", 90)):
        for part, value in (("base", base), ("self", 80), ("dept", 70), ("leader", 100)):
            await app.repos.scores.enter(branch, "2026-11", part, value, "", None, clock())
    await app.repos.scores.enter("kj1", "2026-11", "base", 99, "", None, clock())
    path = tmp_path / "ledger.xlsx"
    await export_ledger(path, await build_sheets(app.services))
    sheet = load_workbook(path)["月度考核"]
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["机掘一队党支部"][7] == rows["机掘二队党支部"][7] == 88.4
    assert rows["机掘一队党支部"][8] == rows["机掘二队党支部"][8] == 1
    assert rows["开掘一队党支部"][2] == 99 and rows["开掘一队党支部"][7] is None
    assert len(rows) == len(app.config.org.branches)


async def test_scores_for_another_month(app: App, people: dict[str, Chat], clock: Clock) -> None:
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    leader = people["leader"]
    assert (
        "机掘一队党支部 2026-10 的基础分:91 分"
        in (await leader.say("/score 2026-10 base jj1 91"))[0]
    )
    assert await app.repos.scores.month("2026-10") == {"jj1": {"base": 91.0}}
    await leader.say("/score close 2026-10")
    await leader.press("确认关闭")  # the month is closed only once confirmed
    assert "2026-10 已经结账" in (await leader.say("/score 2026-10 base jj1 95"))[0]
    assert "还没到" in (await leader.say("/score 2026-12 base jj1 95"))[0]
    assert await app.repos.scores.month("2026-10") == {"jj1": {"base": 91.0}}
    assert await app.repos.scores.month("2026-12") == {}
