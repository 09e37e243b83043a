"""The 看板's assessment pages over the real stack: the month's scores, the entry grid (its
writes compared with the same entry made by /score in chat), the quarterly pack and the
downloads of the 台账 and the pack, each as the people registered through the chat see them."""

from __future__ import annotations

import html
import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest

from bot.app import App
from tests.support import Chat, register_people, table_rows
from tests.web.support import Client, cookie, log_in

NOVEMBER = "2026-11"


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "secretary", "supervisor", "leader", "admin")


async def session_of(client: Client, person: Chat) -> dict[str, str]:
    return cookie(await log_in(client, person))


async def text_of(client: Client, path: str, headers: dict[str, str], status: int = 200) -> str:
    response = await client.get(path, headers=headers)
    body = await response.text()
    assert response.status == status, body
    return body


def grid_form(page: str) -> dict[str, str]:
    """What a browser would send for the grid as the page drew it: every input's value."""
    fields = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is not None:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1) if value else "")
    return fields


def cell_html(page: str, branch_id: str, part: str) -> str:
    """The grid's <td> holding the input of (branch, part)."""
    found = re.search(
        rf'<td class="cell[^"]*">\s*<input [^>]*name="cell:{branch_id}:{part}".*?</td>', page, re.S
    )
    assert found is not None, page
    return found.group(0)


async def audits(app: App) -> list[dict[str, Any]]:
    return [r for r in await table_rows(app.repos.db, "web_audit") if r["action"] != "login"]


# -- the month's scores -------------------------------------------------------------------------


async def test_scores_show_a_leader_every_branch_and_a_secretary_their_own(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    await people["leader"].say("/score base jj1 90")
    await people["leader"].say("/score base xmc 80")
    branches = await app.repos.org.branches()
    leader = await session_of(client, people["leader"])
    page = await text_of(client, f"/scores?month={NOVEMBER}", leader)
    assert len(re.findall(r'<tr id="score-', page)) == len(branches)
    assert "2026 年 11 月" in page and "未结账" in page
    assert "孙矿长" in page  # who entered the 基础分
    assert 'href="/scores?month=2026-10"' in page and "下个月" not in page  # nothing yet to come
    assert 'href="/scores/grid?month=2026-11"' in page
    assert 'href="/downloads"' in page

    secretary = await session_of(client, people["secretary"])
    page = await text_of(client, "/scores", secretary)
    assert re.findall(r'<tr id="score-([^"]+)"', page) == ["jj1"]
    assert "机掘一队党支部" in page and "洗煤厂" not in page
    assert 'href="/downloads"' not in page  # the nav shows only what one may use
    assert 'href="/quarter"' in page

    supervisor = await session_of(client, people["supervisor"])
    page = await text_of(client, "/scores", supervisor)
    assert sorted(re.findall(r'<tr id="score-([^"]+)"', page)) == ["jj1", "jj2", "kj1"]
    assert 'href="/quarter"' not in page

    await text_of(client, "/scores?month=2026-13", leader, status=400)
    await text_of(client, "/scores?month=abc", leader, status=400)


async def test_a_closed_month_is_marked_and_its_grid_takes_nothing(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    leader = await session_of(client, people["leader"])
    open_grid = await text_of(client, f"/scores/grid?month={NOVEMBER}", leader)
    await people["leader"].say("/score close 2026-11")
    await people["leader"].press("确认关闭")
    page = await text_of(client, f"/scores?month={NOVEMBER}", leader)
    assert "已结账" in page and "/scores/grid" not in page.split("</nav>")[1]
    page = await text_of(client, f"/scores/grid?month={NOVEMBER}", leader)
    assert "已经结账" in page and 'action="/scores/grid"' not in page
    form = grid_form(open_grid)
    form["cell:jj1:base"] = "90"
    response = await client.post("/scores/grid", data=form, headers=leader)
    body = await response.text()
    assert response.status == 409 and "已经结账,不能再修改" in body
    assert 'action="/scores/grid"' not in body
    assert await app.repos.scores.month(NOVEMBER) == {}
    assert await audits(app) == []
    future = await text_of(client, "/scores/grid?month=2026-12", leader)
    assert "这个月份还没到。" in future and 'action="/scores/grid"' not in future


# -- the grid -----------------------------------------------------------------------------------


async def test_the_grid_enters_many_branches_at_once_and_shows_each_problem_at_its_cell(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    await people["leader"].say("/score base zc1 70")
    leader = await session_of(client, people["leader"])
    page = await text_of(client, f"/scores/grid?month={NOVEMBER}", leader)
    branches = await app.repos.org.branches()
    assert len(re.findall(r'<tr id="row-', page)) == len(branches)
    assert 'value="70"' in cell_html(page, "zc1", "base")  # the current value, prefilled
    assert page.count('inputmode="decimal"') == 3 * len(branches)  # 基础分, 部门评价, 领导评价
    assert "cell:jj1:self" not in page  # the secretary's part is not the leader's to enter

    form = grid_form(page)
    form.update(
        {
            "cell:jj1:base": "90",
            "cell:jj2:base": "120",
            "cell:tf:leader": "８８ 推进有力",
            "cell:kj1:dept": "86",
        }
    )
    response = await client.post("/scores/grid", data=form, headers=leader)
    result = await response.text()
    assert response.status == 422, result
    assert "已记录 3 项分数,1 项有问题未记录,请改正后再提交。" in result
    bad = cell_html(result, "jj2", "base")
    assert 'value="120"' in bad and 'aria-invalid="true"' in bad  # kept to be put right
    assert "第7行 机掘二队党支部 基础分:分数要在 0 到 100 之间,“120”不行。" in bad
    assert "已录入" in cell_html(result, "jj1", "base")
    assert 'value="90"' in cell_html(result, "jj1", "base")
    assert "未变" in cell_html(result, "zc1", "base")
    assert "已录入" not in cell_html(result, "zc1", "base")

    entries = await app.repos.scores.month(NOVEMBER)
    assert entries["jj1"]["base"] == 90.0 and entries["tf"]["leader"] == 88.0
    assert entries["kj1"]["dept"] == 86.0 and "jj2" not in entries
    # the same ledger rows as /score in chat: one per cell, the leader's, with the note
    await people["leader"].say("/score leader xmc 88 推进有力")
    rows = await table_rows(app.repos.db, "score_entries")
    leader_id = (await app.repos.people.by_employee_no("L001")).id  # type: ignore[union-attr]

    def row(branch_id: str, part: str) -> list[tuple[Any, ...]]:
        return [
            (r["part"], r["value"], r["text"], r["person_id"], r["month"])
            for r in rows
            if r["branch_id"] == branch_id and r["part"] == part
        ]

    assert (
        row("tf", "leader")
        == row("xmc", "leader")
        == [("leader", 88.0, "推进有力", leader_id, NOVEMBER)]
    )
    assert len(row("zc1", "base")) == 1  # unchanged: not entered again
    listed = (await people["leader"].say("/score"))[0]
    assert "领导评价 88" in listed and "开掘一队党支部" in listed

    (audit,) = await audits(app)
    assert (audit["action"], audit["target"], audit["person_id"]) == (
        "scores.grid",
        "month:2026-11",
        leader_id,
    )
    assert audit["detail"].startswith("录入 3 项") and "jj1.base=90" in audit["detail"]

    # put right and sent again: the bad cell goes in, the rest is unchanged
    form = grid_form(result)
    form["cell:jj2:base"] = "95"
    response = await client.post("/scores/grid", data=form, headers=leader)
    again = await response.text()
    assert response.status == 200 and "已记录 1 项分数。" in again
    assert (await app.repos.scores.month(NOVEMBER))["jj2"]["base"] == 95.0
    assert len(await audits(app)) == 2


async def test_a_secretary_enters_only_their_branch(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    secretary = await session_of(client, people["secretary"])
    page = await text_of(client, "/scores/grid", secretary)
    form = grid_form(page)
    assert [k for k in form if k.startswith("cell:")] == ["cell:jj1:self"]
    form["cell:jj1:self"] = "85"
    form["cell:xmc:self"] = "99"  # another branch: reads like one that does not exist
    response = await client.post("/scores/grid", data=form, headers=secretary)
    body = await response.text()
    assert response.status == 422
    assert "没有找到您可以录入项目自评的支部“xmc”" in body
    assert await app.repos.scores.month(NOVEMBER) == {"jj1": {"self": 85.0}}


async def test_a_grid_without_the_csrf_field_is_refused_and_changes_nothing(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    leader = await session_of(client, people["leader"])
    form = grid_form(await text_of(client, "/scores/grid", leader))
    form.pop("csrf")
    form["cell:jj1:base"] = "90"
    response = await client.post("/scores/grid", data=form, headers=leader)
    assert response.status == 403
    form["csrf"] = "0" * 64
    assert (await client.post("/scores/grid", data=form, headers=leader)).status == 403
    assert await app.repos.scores.month(NOVEMBER) == {}
    assert await audits(app) == []


# -- the quarterly pack -------------------------------------------------------------------------


async def test_the_quarter_pack_shows_a_secretary_their_branch_only(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    branches = await app.repos.org.branches()
    leader = await session_of(client, people["leader"])
    page = await text_of(client, "/quarter", leader)
    assert "季度讲评会材料" in page
    assert len(re.findall(r'<section class="card" id="branch-', page)) == len(branches)
    assert "/downloads/quarter.xlsx" in page
    secretary = await session_of(client, people["secretary"])
    page = await text_of(client, "/quarter", secretary)
    assert re.findall(r'id="branch-([^"]+)"', page) == ["jj1"]
    assert "/downloads/quarter.xlsx" not in page
    supervisor = await session_of(client, people["supervisor"])
    missing = await text_of(client, "/quarter", supervisor, status=404)
    assert "没有找到" in missing
    await text_of(client, "/quarter?quarter=2030-Q1", leader, status=404)  # not begun
    await text_of(client, "/quarter?quarter=Q9", leader, status=400)


async def test_the_quarter_page_shows_reports_comments_and_flags(
    app: App, client: Client, people: dict[str, Chat], chat: Callable[..., Chat]
) -> None:
    """What /quarter shows in chat: a secretary's report with its three parts, the leaders'
    comment, the report counts; another branch's report stays out of a secretary's view."""
    other = (await register_people(chat, "other_secretary"))["other_secretary"]
    await people["leader"].say("/project new 锚杆回收复用 | repair_reuse | L001 | jj1 | 50万")
    await people["leader"].say(
        "/project new 皮带机变频节能 | energy_environment | L001 | xmc | 30万"
    )
    await people["secretary"].say("/quarter report P01")
    for answer in ("回收锚杆 1740 根", "校直设备不足", "二月添置校直机", "确认"):
        await people["secretary"].say(answer)
    await other.say("/quarter report P02")
    for answer in ("改造 3 台", "无", "推广到主井", "确认"):
        await other.say(answer)
    (report,) = await app.repos.quarters.reports("2026-Q4", "jj1")
    await people["leader"].say(f"/quarter comment {report.id} 继续推进")
    leader = await session_of(client, people["leader"])
    page = await text_of(client, "/quarter", leader)
    jj1 = page.split('id="branch-jj1"')[1].split("</section>")[0]
    for shown in ("P01 锚杆回收复用", "回收锚杆 1740 根", "校直设备不足", "二月添置校直机"):
        assert shown in jj1
    assert "孙矿长" in jj1 and "继续推进" in jj1 and "汇报 1/1" in jj1
    assert "改造 3 台" in page
    secretary = await session_of(client, people["secretary"])
    own = await text_of(client, "/quarter", secretary)
    assert "回收锚杆 1740 根" in own and "继续推进" in own
    assert "改造 3 台" not in own and "皮带机变频节能" not in own


# -- downloads ----------------------------------------------------------------------------------


async def test_a_leader_downloads_the_ledger_as_the_export_writes_it(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    await people["worker"].say("建议回收井下废旧锚杆,分拣后复用")
    await people["leader"].say("/score base jj1 90")
    leader = await session_of(client, people["leader"])
    page = await text_of(client, "/downloads", leader)
    assert 'href="/downloads/ledger.xlsx"' in page and "/downloads/quarter.xlsx" in page
    before = set(Path(tempfile.gettempdir()).glob("jdz-ledger-*"))
    response = await client.get("/downloads/ledger.xlsx", headers=leader)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('金点子台账-20261124.xlsx')}" in disposition
    assert 'filename="ledger-20261124.xlsx"' in disposition  # for a client without RFC 5987
    book = openpyxl.load_workbook(io.BytesIO(await response.read()), read_only=True)
    assert book.sheetnames[:2] == ["汇总", "金点子"]
    assert "月度考核" in "".join(book.sheetnames)
    ideas = list(book["金点子"].iter_rows(values_only=True))
    assert "建议回收井下废旧锚杆,分拣后复用" in [c for r in ideas for c in r]
    book.close()
    assert set(Path(tempfile.gettempdir()).glob("jdz-ledger-*")) == before  # nothing left
    (audit,) = await audits(app)
    assert (audit["action"], audit["target"]) == ("download.ledger", "ledger")
    assert audit["detail"] == "1 条金点子"

    response = await client.get("/downloads/quarter.xlsx", headers=leader)
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert quote("季度讲评会材料.xlsx") in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    assert book.sheetnames
    assert [a["action"] for a in await audits(app)] == ["download.ledger", "download.quarter_pack"]


async def test_downloads_answer_others_as_if_they_did_not_exist(
    app: App, client: Client, people: dict[str, Chat]
) -> None:
    for role in ("secretary", "supervisor"):
        who = await session_of(client, people[role])
        for path in ("/downloads", "/downloads/ledger.xlsx", "/downloads/quarter.xlsx"):
            response = await client.get(path, headers=who)
            assert response.status == 404, (role, path)
            assert "Content-Disposition" not in response.headers
    assert (await client.get("/downloads/ledger.xlsx")).status == 401  # no session at all
    assert await audits(app) == []
