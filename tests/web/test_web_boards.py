"""The 看板's boards over the real stack (issue 21): key projects (/projects), findings by
department (/findings) and the Monday agenda (/agenda), where a leader decides an item with
the same rule and the same chat notices as /findings decide.

People register through the chat, log in with a /web link (tests/web/support.py) and
read the pages from aiohttp's test server in front of `web_app(app)` on the real SQLite file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.app import App
from tests.support import Chat, Clock, RecordingTransport, register_people
from tests.web.support import Client, cookie, csrf_of, log_in, sent_to


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    found = await register_people(
        chat, "supervisor", "secretary", "other_secretary", "leader", "worker", "admin"
    )
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    return found


async def get(client: Client, session: str, path: str) -> tuple[int, str]:
    response = await client.get(path, headers=cookie(session))
    return response.status, await response.text()


def numbers(page: str) -> list[str]:
    """The project numbers on the board's cards, in order."""
    return re.findall(r'<h3><a href="/projects/\d+">(P\d+) ', page)


def column_of(page: str, number: str) -> str:
    columns = re.split(r'<section class="column column-', page)[1:]
    (found,) = [c.split('"', 1)[0] for c in columns if f">{number} " in c]
    return found


async def person_id(app: App, employee_no: str) -> int:
    found = await app.repos.people.by_employee_no(employee_no)
    assert found is not None
    return found.id


# -- key projects -------------------------------------------------------------------------------


async def two_projects(people: dict[str, Chat]) -> None:
    leader = people["leader"]
    await leader.say("/project new 锚杆复用 | repair_reuse | L001 | jj1 | 5万")
    await leader.say("/project new 洗煤节水 | energy_environment | L001 | xmc | 3万")
    await leader.say("/project P01 point add 锚杆回收分拣 | jj1 | 2026-12")
    await leader.say("/project P01 kpi add 锚杆复用率 | % | 10 | 60")
    await leader.say("/project P01 kpi 锚杆复用率 35")
    await people["secretary"].say("/progress P01 40 完成第一批回收")


async def test_a_leader_sees_every_project_and_a_secretary_their_branch_s(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    await two_projects(people)
    await people["secretary"].say("/benefit P01 4万 回收锚杆")
    await people["admin"].say("/verify B1")
    leader = await log_in(client, people["leader"])
    status, page = await get(client, leader, "/projects")
    assert status == 200 and numbers(page) == ["P02", "P01"]
    assert (column_of(page, "P01"), column_of(page, "P02")) == ("in_progress", "not_started")
    for label in ("未开始", "推进中", "停滞", "已完成"):
        assert f"<h2>{label} " in page
    card = page[page.index(">P01 ") :]
    card = card[: card.index("</article>")]
    assert "修旧利废" in card and "孙矿长" in card and "机掘一队党支部" in card
    assert '<progress max="100" value="40"' in card and "40%" in card
    assert "锚杆回收分拣" in card  # the key point, its owner and progress
    assert "基线 10% → 目标 60% → 当前 35%(已完成 50%)" in card
    # money as the chat shows it: expected, verified, the tier rule's proposal, rewarded
    assert "<dt>预期年效益</dt><dd>5.00 万元</dd>" in card
    assert "<dt>核实效益</dt><dd>4.00 万元</dd>" in card
    assert "<dt>建议奖励</dt><dd>2.40 万元</dd>" in card
    assert "<dt>已奖励</dt><dd>0.00 元</dd>" in card
    assert 'style="' not in page
    secretary = await log_in(client, people["secretary"])
    status, page = await get(client, secretary, "/projects")
    assert status == 200 and numbers(page) == ["P01"]
    assert "洗煤" not in page  # neither the project nor its branch in the filter
    assert '<a href="/projects" class="current"' in page  # the nav entry, marked
    supervisor = await log_in(client, people["supervisor"])
    status, page = await get(client, supervisor, "/projects")
    assert status == 404  # /projects is not the supervisors' in chat either
    _, overview = await get(client, supervisor, "/")
    assert 'href="/projects"' not in overview
    assert 'href="/findings"' in overview and 'href="/agenda"' in overview


async def test_the_projects_filters(client: Client, people: dict[str, Chat], app: App) -> None:
    await two_projects(people)
    await people["leader"].say(
        "/project new 支护优化 | tech_innovation | L001 | jj1 | 2万"
    )  # the same lead; another category
    leader = await log_in(client, people["leader"])
    _, by_branch = await get(client, leader, "/projects?branch=xmc")
    assert numbers(by_branch) == ["P02"] and '<option value="xmc" selected>' in by_branch
    _, by_category = await get(client, leader, "/projects?category=tech_innovation")
    assert numbers(by_category) == ["P03"]
    lead = await person_id(app, "L001")
    _, by_lead = await get(client, leader, f"/projects?lead={lead}")
    assert sorted(numbers(by_lead)) == ["P01", "P02", "P03"]
    _, nobody = await get(client, leader, f"/projects?lead={lead + 999}")
    assert numbers(nobody) == [] and "显示 0 个项目" in nobody
    secretary = await log_in(client, people["secretary"])
    _, theirs = await get(client, secretary, "/projects?branch=xmc")
    assert numbers(theirs) == []  # another branch's projects are not found by filtering


async def test_another_scope_s_project_answers_like_a_missing_one(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    await two_projects(people)
    secretary = await log_in(client, people["secretary"])
    status, own = await get(client, secretary, "/projects/1")
    assert status == 200 and "锚杆复用" in own and "完成第一批回收" in own
    other = await client.get("/projects/2", headers=cookie(secretary))
    missing = await client.get("/projects/999", headers=cookie(secretary))
    odd = await client.get("/projects/P02", headers=cookie(secretary))
    assert other.status == missing.status == odd.status == 404
    assert await other.text() == await missing.text() == await odd.text()
    leader = await log_in(client, people["leader"])
    status, page = await get(client, leader, "/projects/2")
    assert status == 200 and "洗煤节水" in page


# -- findings -----------------------------------------------------------------------------------


def counts_row(page: str, row: str) -> dict[str, int]:
    found = re.search(rf'<tr[^>]* id="counts-{row}">(.*?)</tr>', page, re.S)
    assert found is not None, row
    return {
        state: int(n) for state, n in re.findall(r'data-state="(\w+)">(\d+)</td>', found.group(1))
    }


def finding_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="finding-(\d+)"', page)]


async def test_findings_by_department_with_counts_and_filters(
    client: Client, people: dict[str, Chat], clock: Clock
) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")  # 宣传部
    await people["leader"].say("/findings add xmc 学习台账缺页")  # 工会
    await people["leader"].say("/findings add jj2 宣传栏内容过期")  # 宣传部
    await people["supervisor"].say("/findings escalate 1")
    await people["leader"].say("/findings decide 2 补齐台账 | 工会 | 2026-11-26")
    await people["leader"].say("/findings resolve 3 已更新")
    leader = await log_in(client, people["leader"])
    status, page = await get(client, leader, "/findings")
    assert status == 200 and finding_ids(page) == [1, 3, 2]
    assert counts_row(page, "publicity") == {
        "open": 0, "escalated": 1, "decided": 0, "overdue": 0, "done": 1,
    }  # fmt: skip
    assert counts_row(page, "union")["decided"] == 1
    assert counts_row(page, "total") == {
        "open": 0, "escalated": 1, "decided": 1, "overdue": 0, "done": 1,
    }  # fmt: skip
    assert "补齐台账" in page and "2026-11-26" in page
    clock.advance(timedelta(days=3).total_seconds())  # past the decision's due day
    leader = await log_in(client, people["leader"])  # the first session has ended
    status, late = await get(client, leader, "/findings?state=overdue")
    assert finding_ids(late) == [2]
    assert '<tr id="finding-2" class="state-overdue">' in late and "已逾期" in late
    assert counts_row(late, "union")["overdue"] == 1
    _, union = await get(client, leader, "/findings?department=union")
    assert finding_ids(union) == [2] and 'id="department-publicity"' not in union
    _, november = await get(client, leader, "/findings?month=2026-11")
    assert finding_ids(november) == [1, 3, 2]
    _, december = await get(client, leader, "/findings?month=2026-12")
    assert finding_ids(december) == [] and "没有符合条件的督导问题" in december
    status, bad = await get(client, leader, "/findings?month=十一月&state=nonsense")
    assert status == 200 and "月份请写成 2026-11" in bad and finding_ids(bad) == [1, 3, 2]
    secretary = await log_in(client, people["secretary"])
    _, theirs = await get(client, secretary, "/findings")
    assert finding_ids(theirs) == [1] and "学习台账缺页" not in theirs
    supervisor = await log_in(client, people["supervisor"])
    _, supervised = await get(client, supervisor, "/findings")
    assert finding_ids(supervised) == [1, 3]


# -- the Monday agenda --------------------------------------------------------------------------


async def escalated(people: dict[str, Chat], *branches: str) -> None:
    for number, branch in enumerate(branches, start=1):
        await people["supervisor"].say(f"/findings add {branch} 班前会记录不全")
        await people["supervisor"].say(f"/findings escalate {number}")


async def decide(
    client: Client, session: str, finding: int, form: dict[str, str]
) -> tuple[int, str]:
    response = await client.post(f"/agenda/{finding}/decide", data=form, headers=cookie(session))
    return response.status, await response.text()


async def test_a_leader_decides_an_agenda_item_and_the_chat_is_told_as_by_the_command(
    client: Client, people: dict[str, Chat], app: App, transport: RecordingTransport
) -> None:
    await escalated(people, "jj1", "jj1")
    transport.sent.clear()
    by_chat = (await people["leader"].say("/findings decide 1 补齐记录 | 宣传部 | 2026-12-05"))[0]
    await people["worker"].sender.run_once()
    chat_notices = {to: sent_to(transport, to) for to in ("u-S001", "-900", "u-D001")}
    leader = await log_in(client, people["leader"])
    status, page = await get(client, leader, "/agenda")
    assert status == 200 and 'action="/agenda/2/decide"' in page
    assert 'action="/agenda/1/decide"' not in page and 'id="pending-1"' in page
    csrf = await csrf_of(client, leader, "/agenda")
    transport.sent.clear()
    app.services.outbox_signal.clear()
    form = {"decision": "补齐记录", "department": "publicity", "due": "2026-12-05", "csrf": csrf}
    status, page = await decide(client, leader, 2, form)
    assert status == 200
    assert by_chat.replace("#1", "#2") in page  # the chat's own reply, on the page
    assert 'id="item-2"' not in page and 'id="pending-2"' in page  # off the agenda, followed
    assert app.services.outbox_signal.is_set()
    await people["worker"].sender.run_once()
    for to, said in chat_notices.items():
        expected = [t.replace("#1", "#2").replace("resolve 1 ", "resolve 2 ") for t in said]
        assert said and sent_to(transport, to) == expected, to
    found = await app.repos.findings.get(2)
    assert found is not None and (found.decision, found.assigned_department) == (
        "补齐记录",
        "publicity",
    )
    audit = [a for a in await app.repos.web.audits("main") if a.action != "login"]
    assert [(a.action, a.target) for a in audit] == [("agenda.decide", "finding:2")]
    assert audit[0].person_id == await person_id(app, "L001")


async def test_bad_agenda_input_is_answered_and_changes_nothing(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    await escalated(people, "jj1")
    leader = await log_in(client, people["leader"])
    csrf = await csrf_of(client, leader, "/agenda")
    good = {"decision": "补齐记录", "department": "publicity", "due": "2026-12-05", "csrf": csrf}
    for change, said in (
        ({"decision": ""}, "请写清楚决定的内容"),
        ({"due": "下周五"}, "“下周五”不是日期,请写成 2026-12-15。"),
        ({"due": "2026-11-01"}, "已经过去了"),
        ({"department": "finance"}, "请选择责任部门,可选:"),
        ({"department": ""}, "请选择责任部门"),
    ):
        status, page = await decide(client, leader, 1, {**good, **change})
        assert status == 400 and said in page, change
        assert 'action="/agenda/1/decide"' in page  # the item is still there to decide
        assert "Traceback" not in page
    status, page = await decide(client, leader, 1, {**good, "due": "下周五"})
    assert 'value="补齐记录"' in page  # what was typed is kept for the correction
    found = await app.repos.findings.get(1)
    assert found is not None and found.decision is None
    assert [a.action for a in await app.repos.web.audits("main")] == ["login"]
    missing = await client.post("/agenda/999/decide", data=good, headers=cookie(leader))
    assert missing.status == 404


async def test_an_agenda_post_without_the_csrf_field_changes_nothing(
    client: Client, people: dict[str, Chat], app: App, transport: RecordingTransport
) -> None:
    await escalated(people, "jj1")
    leader = await log_in(client, people["leader"])
    transport.sent.clear()
    form = {"decision": "补齐记录", "department": "publicity", "due": "2026-12-05"}
    missing = await client.post("/agenda/1/decide", data=form, headers=cookie(leader))
    wrong = await client.post(
        "/agenda/1/decide", data={**form, "csrf": "0" * 64}, headers=cookie(leader)
    )
    assert missing.status == wrong.status == 403
    found = await app.repos.findings.get(1)
    assert found is not None and found.decision is None
    assert [a.action for a in await app.repos.web.audits("main")] == ["login"]
    await people["worker"].sender.run_once()
    assert transport.sent == []


async def test_those_who_may_not_decide_get_no_form_and_are_refused(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    await escalated(people, "jj1")
    supervisor = await log_in(client, people["supervisor"])
    status, page = await get(client, supervisor, "/agenda")
    assert status == 200 and 'id="item-1"' in page  # their department's part of the agenda
    assert "decide-form" not in page and "记录决定" not in page
    csrf = await csrf_of(client, supervisor, "/agenda")
    form = {"decision": "补齐记录", "department": "publicity", "due": "2026-12-05", "csrf": csrf}
    status, page = await decide(client, supervisor, 1, form)
    assert status == 403 and "只有党委领导可以记录政工例会的决定。" in page
    secretary = await log_in(client, people["secretary"])
    status, _ = await get(client, secretary, "/agenda")
    assert status == 404  # the chat does not show a secretary the agenda either
    _, overview = await get(client, secretary, "/")
    assert 'href="/agenda"' not in overview and 'href="/findings"' in overview
    csrf = await csrf_of(client, secretary, "/findings")
    refused = await client.post(
        "/agenda/1/decide", data={**form, "csrf": csrf}, headers=cookie(secretary)
    )
    assert refused.status == 404  # not a page of theirs at all
    found = await app.repos.findings.get(1)
    assert found is not None and found.decision is None
    assert [a.action for a in await app.repos.web.audits("main")] == ["login", "login"]
