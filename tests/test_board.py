"""Issue 21: the web 看板's data and writes (handlers/board.py) over the real SQLite file.

People register the way the chat tests do; what each sees is compared with what the chat
shows them, and every write with the same write done by the chat command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from handlers import board
from handlers.rules.periods import Month, Quarter
from storage import Person
from tests.support import Chat, Clock, RecordingTransport, register_people, table_rows

NOVEMBER = Month(2026, 11)


@pytest.fixture
async def people(app: App, chat: Callable[..., Chat]) -> dict[str, Chat]:
    found = await register_people(
        chat, "supervisor", "secretary", "other_secretary", "leader", "worker", "admin"
    )
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    return found


async def person(app: App, employee_no: str) -> Person:
    found = await app.repos.people.by_employee_no(employee_no)
    assert found is not None
    return found


def texts(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def notices(app: App) -> list[dict[str, Any]]:
    """Outbox rows that are notices, not the replies to the person who acted."""
    rows = await table_rows(app.repos.db, "outbox")
    return [r for r in rows if not str(r["dedupe_key"]).startswith("reply:")]


# -- key projects -----------------------------------------------------------------------


async def test_projects_board_shows_each_person_the_projects_the_chat_shows(
    app: App, people: dict[str, Chat]
) -> None:
    leader = people["leader"]
    await leader.say("/project new 锚杆复用 | repair_reuse | L001 | jj1 | 5万")
    await leader.say("/project new 洗煤节水 | energy_environment | L001 | xmc | 3万")
    await leader.say("/project P01 point add 锚杆回收分拣 | jj1 | 2026-12")
    await leader.say("/project P01 kpi add 锚杆复用率 | % | 10 | 60")
    await leader.say("/project P01 kpi 锚杆复用率 35")
    await people["secretary"].say("/progress P01 40 完成第一批回收")

    everything = await board.projects_board(app.services, await person(app, "L001"))
    assert everything is not None
    assert (everything.shown, everything.in_scope, everything.total) == (2, 2, 2)
    columns = {c.id: [p.number for p in c.projects] for c in everything.columns}
    assert columns == {"not_started": ["P02"], "in_progress": ["P01"], "stalled": [], "done": []}
    card = everything.columns[1].projects[0]
    assert card.lead_name == "孙矿长" and card.branches == (("jj1", "机掘一队党支部"),)
    assert card.category_label == "修旧利废" and card.percent == 40
    (point,) = card.key_points
    assert (point.title, point.owner, point.due_month) == (
        "锚杆回收分拣",
        "机掘一队党支部",
        "2026-12",
    )
    (kpi,) = card.kpis
    assert (kpi.baseline, kpi.target, kpi.current, kpi.done_percent) == ("10", "60", "35", 50)

    mine = await board.projects_board(app.services, await person(app, "S001"))
    assert mine is not None
    assert [p.number for c in mine.columns for p in c.projects] == ["P01"]
    assert (mine.in_scope, mine.total) == (1, 2)
    filtered = await board.projects_board(app.services, await person(app, "L001"), branch_id="xmc")
    assert filtered is not None
    assert [p.number for c in filtered.columns for p in c.projects] == ["P02"]
    by_category = await board.projects_board(
        app.services, await person(app, "L001"), category="repair_reuse"
    )
    assert by_category is not None
    assert [p.number for c in by_category.columns for p in c.projects] == ["P01"]
    # /projects is for leaders and secretaries: a supervisor and a worker get no board
    assert await board.projects_board(app.services, await person(app, "D001")) is None
    assert await board.projects_board(app.services, await person(app, "E001")) is None


async def test_a_project_outside_ones_scope_reads_as_missing(
    app: App, people: dict[str, Chat]
) -> None:
    await people["leader"].say("/project new 洗煤节水 | energy_environment | L001 | xmc | 3万")
    secretary = await person(app, "S001")
    assert await board.board_project(app.services, secretary, 1) is None
    assert await board.board_project(app.services, secretary, 999) is None
    found = await board.board_project(app.services, await person(app, "S002"), 1)
    assert found is not None and found.title == "洗煤节水"


async def test_a_project_without_progress_for_long_is_stalled(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    await people["leader"].say("/project new 锚杆复用 | repair_reuse | L001 | jj1 | 5万")
    clock.advance(timedelta(days=31).total_seconds())
    found = await board.projects_board(app.services, await person(app, "L001"))
    assert found is not None
    assert [p.number for p in found.columns[2].projects] == ["P01"]
    assert found.columns[2].label == "停滞"


# -- findings ---------------------------------------------------------------------------


async def test_findings_board_by_department_and_state(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")  # 宣传部
    await people["leader"].say("/findings add xmc 学习台账缺页")  # 工会
    await people["leader"].say("/findings add jj2 宣传栏内容过期")  # 宣传部
    await people["supervisor"].say("/findings escalate 1")
    await people["leader"].say("/findings decide 2 补齐台账 | 工会 | 2026-11-26")
    await people["leader"].say("/findings resolve 3 已更新")

    leader = await board.findings_board(app.services, await person(app, "L001"))
    assert leader is not None
    assert [d.name for d in leader.departments] == ["宣传部", "工会"]
    states = {f.id: f.state for d in leader.departments for f in d.findings}
    assert states == {1: "escalated", 2: "decided", 3: "done"}
    assert dict(leader.departments[0].counts) == {
        "open": 0,
        "escalated": 1,
        "decided": 0,
        "overdue": 0,
        "done": 1,
    }
    clock.advance(timedelta(days=3).total_seconds())  # past the decision's due day
    later = await board.findings_board(app.services, await person(app, "L001"), state="overdue")
    assert later is not None
    (union,) = later.departments
    (overdue,) = union.findings
    assert (overdue.id, overdue.assigned_department_name, overdue.due) == (2, "工会", "2026-11-26")
    assert overdue.state_label == "已逾期"

    secretary = await board.findings_board(app.services, await person(app, "S001"))
    assert secretary is not None
    assert [f.id for d in secretary.departments for f in d.findings] == [1]
    supervisor = await board.findings_board(app.services, await person(app, "D001"))
    assert supervisor is not None
    assert [f.id for d in supervisor.departments for f in d.findings] == [1, 3]
    other = await board.findings_board(app.services, await person(app, "S002"))
    assert other is not None
    assert [f.id for d in other.departments for f in d.findings] == [2]
    assert await board.findings_board(app.services, await person(app, "E001")) is None
    # one finding: out of one's scope it reads exactly as a missing one
    assert await board.board_finding(app.services, await person(app, "S001"), 2) is None
    assert await board.board_finding(app.services, await person(app, "S001"), 99) is None
    own = await board.board_finding(app.services, await person(app, "S002"), 2)
    assert own is not None and (own.branch_name, own.state) == ("洗煤厂党支部", "overdue")
    by_department = await board.findings_board(
        app.services, await person(app, "L001"), department_id="union"
    )
    assert by_department is not None
    assert [d.department_id for d in by_department.departments] == ["union"]
    december = await board.findings_board(
        app.services, await person(app, "L001"), month=Month(2026, 12)
    )
    assert december is not None and december.departments == ()


# -- monthly scores and the grid --------------------------------------------------------


async def test_monthly_scores_in_scope_with_who_entered_them(
    app: App, people: dict[str, Chat]
) -> None:
    await people["leader"].say("/score base jj1 90")
    await people["leader"].say("/score base xmc 80")
    secretary = await board.monthly_scores(app.services, await person(app, "S001"), NOVEMBER)
    assert secretary is not None
    (row,) = secretary.branches
    assert row.branch_id == "jj1"
    base = next(p for p in row.parts if p.part == "base")
    assert (base.value, base.entered_by, base.label) == (90.0, "孙矿长", "基础分")
    assert "项目自评" in row.missing
    leader = await board.monthly_scores(app.services, await person(app, "L001"), NOVEMBER)
    assert leader is not None and len(leader.branches) == len(await app.repos.org.branches())
    supervisor = await board.monthly_scores(app.services, await person(app, "D001"), NOVEMBER)
    assert supervisor is not None
    assert {b.branch_id for b in supervisor.branches} == {"jj1", "jj2", "kj1"}
    assert await board.monthly_scores(app.services, await person(app, "E001"), NOVEMBER) is None


async def test_score_grid_offers_each_person_the_cells_they_may_enter(
    app: App, people: dict[str, Chat]
) -> None:
    await people["secretary"].say("/score self 85")
    secretary = await board.score_grid(app.services, await person(app, "S001"), NOVEMBER)
    assert secretary.refusal is None
    assert [(r.branch_id, [(c.part, c.value) for c in r.cells]) for r in secretary.rows] == [
        ("jj1", [("self", 85.0)])
    ]
    supervisor = await board.score_grid(app.services, await person(app, "D001"), NOVEMBER)
    assert [r.branch_id for r in supervisor.rows] == ["jj1", "jj2", "kj1"]
    assert supervisor.parts == (("dept", "部门评价"),)
    leader = await board.score_grid(app.services, await person(app, "L001"), NOVEMBER)
    assert len(leader.rows) == len(await app.repos.org.branches())
    assert [p for p, _ in leader.parts] == ["base", "dept", "leader"]
    worker = await board.score_grid(app.services, await person(app, "E001"), NOVEMBER)
    assert worker.rows == ()
    future = await board.score_grid(app.services, await person(app, "L001"), Month(2026, 12))
    assert future.refusal == "这个月份还没到。"


async def test_grid_entry_checks_every_cell_and_enters_the_good_ones(
    app: App, people: dict[str, Chat]
) -> None:
    leader = await person(app, "L001")
    await people["leader"].say("/score base zc1 70")
    result = await board.enter_scores(
        app.services,
        leader,
        NOVEMBER,
        [
            ("jj1", "base", "90"),
            ("jj2", "base", "120"),
            ("kj1", "leader", "优秀"),
            ("jd", "bonus", "80"),
            ("nowhere", "base", "80"),
            ("jj1", "base", "91"),
            ("zc1", "base", "70"),  # as it is: not entered again
            ("ys", "dept", ""),  # left empty
            ("tf", "leader", "８８ 推进有力"),  # a Chinese keyboard's full-width digits
        ],
    )
    assert [p.message for p in result.problems] == [
        "第7行 机掘二队党支部 基础分:分数要在 0 到 100 之间,“120”不行。",
        "第9行 开掘一队党支部 领导评价:分数要写 0 到 100 的数字,例如 85 或 92.5。",
        "第4行 机电队党支部:没有“bonus”这一项,可以填写的是基础分、项目自评、部门评价、领导评价。",
        "第5项:没有找到您可以录入基础分的支部“nowhere”。",
        "第6行 机掘一队党支部 基础分:填写了两次,请只填写一次。",
    ]
    # rows are the branches' rows in the leader's grid, as the page shows them
    grid = await board.score_grid(app.services, leader, NOVEMBER)
    assert [r.branch_id for r in grid.rows].index("jj2") + 1 == result.problems[0].row == 7
    assert [p.index for p in result.problems] == [2, 3, 4, 5, 6]
    assert [(e.row, e.branch_id, e.part, e.value) for e in result.entered] == [
        (6, "jj1", "base", 90.0),
        (10, "tf", "leader", 88.0),
    ]
    assert result.unchanged == 2
    assert result.message == "已记录 2 项分数,5 项有问题未记录,请改正后再提交。"
    entries = await app.repos.scores.month(str(NOVEMBER))
    assert entries["jj1"]["base"] == 90.0 and entries["tf"]["leader"] == 88.0
    assert "jj2" not in entries and "kj1" not in entries
    rows = [r for r in await table_rows(app.repos.db, "score_entries") if r["branch_id"] == "tf"]
    assert [(r["person_id"], r["text"]) for r in rows] == [(leader.id, "推进有力")]


async def test_a_branch_one_may_not_score_reads_like_one_that_does_not_exist(
    app: App, people: dict[str, Chat]
) -> None:
    secretary = await person(app, "S001")
    result = await board.enter_scores(
        app.services,
        secretary,
        NOVEMBER,
        [("xmc", "self", "85"), ("zzz", "self", "85"), ("jj1", "base", "85")],
    )
    messages = [p.message for p in result.problems]
    assert messages == [
        "第1项:没有找到您可以录入项目自评的支部“xmc”。",
        "第2项:没有找到您可以录入项目自评的支部“zzz”。",
        "第3项:没有找到您可以录入基础分的支部“jj1”。",
    ]
    assert result.entered == ()
    assert await app.repos.scores.month(str(NOVEMBER)) == {}


async def test_grid_entry_is_the_chat_entry(app: App, people: dict[str, Chat]) -> None:
    """The same cell entered by /score and by the grid: the same ledger row (who, what),
    the same notices (the chat queues none on entry: the month's notice goes out when it is
    closed), the same figures."""
    supervisor = await person(app, "D001")
    before = len(await notices(app))
    await people["supervisor"].say("/score dept jj1 88 走访到位")
    by_chat = len(await notices(app)) - before
    before = len(await notices(app))
    result = await board.enter_scores(
        app.services, supervisor, NOVEMBER, [("jj2", "dept", "88 走访到位")]
    )
    assert len(result.entered) == 1
    by_grid = len(await notices(app)) - before
    assert by_grid == by_chat
    rows = await table_rows(app.repos.db, "score_entries")
    shown = [(r["branch_id"], r["part"], r["value"], r["text"], r["person_id"]) for r in rows]
    assert shown == [
        ("jj1", "dept", 88.0, "走访到位", supervisor.id),
        ("jj2", "dept", 88.0, "走访到位", supervisor.id),
    ]
    # and the chat reads the grid's entry as its own
    listed = (await people["supervisor"].say("/score"))[0]
    for name in ("机掘一队党支部", "机掘二队党支部"):
        assert f"{name}:总分待定(缺 基础分、项目自评、领导评价);部门评价 88" in listed, listed


async def test_a_closed_month_takes_nothing_from_the_grid(
    app: App, people: dict[str, Chat]
) -> None:
    await people["leader"].say("/score close 2026-11")
    await people["leader"].press("确认关闭")
    assert await app.repos.scores.is_closed("2026-11")
    result = await board.enter_scores(
        app.services, await person(app, "L001"), NOVEMBER, [("jj1", "base", "90")]
    )
    assert result.refusal is not None and "已经结账" in result.refusal
    assert result.message == result.refusal
    assert await app.repos.scores.month("2026-11") == {}
    grid = await board.score_grid(app.services, await person(app, "L001"), NOVEMBER)
    assert grid.refusal == result.refusal


# -- the Monday agenda ------------------------------------------------------------------


async def test_agenda_as_the_chat_shows_it(app: App, people: dict[str, Chat]) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    await people["supervisor"].say("/findings escalate 1")
    await people["leader"].say("/findings add xmc 学习台账缺页")
    await people["leader"].say("/findings escalate 2")
    leader = await board.agenda(app.services, await person(app, "L001"))
    assert leader is not None and leader.may_decide
    assert [(s.name, [i.finding.id for i in s.items]) for s in leader.sections] == [
        ("宣传部", [1]),
        ("工会", [2]),
    ]
    supervisor = await board.agenda(app.services, await person(app, "D001"))
    assert supervisor is not None and not supervisor.may_decide
    assert [[i.finding.id for i in s.items] for s in supervisor.sections] == [[1]]
    assert await board.agenda(app.services, await person(app, "S001")) is None
    assert ("publicity", "宣传部") in leader.departments


async def test_deciding_an_agenda_item_notifies_as_the_chat_does(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    for number in (1, 2):
        await people["supervisor"].say("/findings add jj1 班前会记录不全")
        await people["supervisor"].say(f"/findings escalate {number}")
    transport.sent.clear()
    by_chat = (await people["leader"].say("/findings decide 1 补齐记录 | 宣传部 | 2026-12-05"))[0]
    chat_notices = {to: texts(transport, to) for to in ("u-S001", "-900", "u-D001")}
    transport.sent.clear()
    leader = await person(app, "L001")
    app.services.outbox_signal.clear()
    decided = await board.decide_agenda_item(
        app.services, leader, 2, "补齐记录", "publicity", "2026-12-05"
    )
    assert decided.ok
    assert decided.message == by_chat.replace("#1", "#2")
    assert "已通知支部书记、支部群、宣传部" in decided.message
    assert app.services.outbox_signal.is_set()  # the sender wakes, as after a chat update
    await people["worker"].sender.run_once()
    for to, said in chat_notices.items():
        expected = [t.replace("#1", "#2").replace("resolve 1 ", "resolve 2 ") for t in said]
        assert said and texts(transport, to) == expected, to
    found = await app.repos.findings.get(2)
    assert found is not None and (found.decision, found.decision_due) == ("补齐记录", "2026-12-05")


async def test_agenda_decisions_refused_as_in_chat(app: App, people: dict[str, Chat]) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    await people["supervisor"].say("/findings escalate 1")
    leader = await person(app, "L001")
    refused = await board.decide_agenda_item(
        app.services, await person(app, "D001"), 1, "补齐", "publicity", "2026-12-05"
    )
    assert (refused.ok, refused.message) == (False, "只有党委领导可以记录政工例会的决定。")
    bad_day = await board.decide_agenda_item(app.services, leader, 1, "补齐", "publicity", "下周五")
    assert not bad_day.ok and "不是日期" in bad_day.message
    past = await board.decide_agenda_item(
        app.services, leader, 1, "补齐", "publicity", "2026-11-01"
    )
    assert not past.ok and "已经过去了" in past.message
    nowhere = await board.decide_agenda_item(
        app.services, leader, 1, "补齐", "finance", "2026-12-05"
    )
    assert not nowhere.ok and "请选择责任部门" in nowhere.message
    found = await app.repos.findings.get(1)
    assert found is not None and found.decision is None
    # another branch's secretary: the finding reads exactly like one that does not exist
    other = await person(app, "S002")
    with pytest.raises(board.NotFound) as outside:
        await board.decide_agenda_item(app.services, other, 1, "补齐", "publicity", "2026-12-05")
    with pytest.raises(board.NotFound) as missing:
        await board.decide_agenda_item(app.services, other, 99, "补齐", "publicity", "2026-12-05")
    assert outside.value.message.replace("#1", "#?") == missing.value.message.replace("#99", "#?")


# -- the quarterly pack -----------------------------------------------------------------


async def test_quarter_pack_view_and_file(app: App, people: dict[str, Chat]) -> None:
    await people["leader"].say("/project new 锚杆复用 | repair_reuse | L001 | jj1 | 5万")
    await people["leader"].say("/project new 洗煤节水 | energy_environment | L001 | xmc | 3万")
    leader = await board.quarter_pack_view(app.services, await person(app, "L001"))
    assert leader is not None and leader.quarter == "2026-Q4" and leader.label == "2026 年第四季度"
    assert len(leader.branches) == len(await app.repos.org.branches())
    assert (leader.reports_due, leader.reports_in) == (2, 0)
    # no progress in the 30 days before the quarter's end: both projects are stalled
    assert sorted((f.branch_id, f.project.number) for f in leader.stalled if f.project) == [
        ("jj1", "P01"),
        ("xmc", "P02"),
    ]
    assert leader.may_download
    secretary = await board.quarter_pack_view(app.services, await person(app, "S001"))
    assert secretary is not None and not secretary.may_download
    assert [b.branch.id for b in secretary.branches] == ["jj1"]
    assert [(r.project_number, r.missing) for r in secretary.branches[0].reports] == [("P01", True)]
    assert [f.branch_id for f in secretary.stalled] == ["jj1"]
    assert await board.quarter_pack_view(app.services, await person(app, "D001")) is None
    assert await board.quarter_pack_view(app.services, await person(app, "E001")) is None
    assert (
        await board.quarter_pack_view(app.services, await person(app, "L001"), Quarter(2027, 2))
        is None
    )

    download = await board.quarter_pack_file(app.services, await person(app, "L001"))
    assert download is not None and download.file_name == "2026-Q4-季度讲评会材料.xlsx"
    assert download.path.is_file() and download.path.read_bytes()[:2] == b"PK"  # a zip: xlsx
    assert await board.quarter_pack_file(app.services, await person(app, "S001")) is None
