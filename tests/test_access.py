"""Who may do what: the access predicates, the router's refusals from the command tables,
/help from the same tables, and the calendar's periods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from handlers import access
from handlers.router import Command
from handlers.rules.periods import Month, Quarter
from storage import Branch, Finding, Idea, Person, Role
from tests.support import Chat, register_people

JJ1 = Branch("jj1", "综掘一队党支部", "publicity")
ZC1 = Branch("zc1", "综采一队党支部", "organization")


def person(*roles: Role, pid: int = 1, branch: str = "jj1") -> Person:
    return Person(pid, f"X{pid}", "某人", branch, None, roles)


WORKER = person(Role("worker"), pid=1)
SECRETARY = person(Role("secretary"), pid=2)
OTHER_SECRETARY = person(Role("secretary"), pid=3, branch="zc1")
SUPERVISOR = person(Role("supervisor", "publicity"), pid=4, branch="jgk")
LEADER = person(Role("leader"), pid=5, branch="jgk")
ADMIN = person(Role("admin"), pid=6, branch="jgk")
DEPARTMENT_HEAD = person(Role("leader"), Role("supervisor", "organization"), pid=7, branch="jgk")
NOW = datetime(2026, 11, 24, tzinfo=UTC)
IDEA = Idea(10, WORKER.id, "jj1", "回收锚杆", "repair_reuse", 0.9, True, "submitted", "t", NOW, NOW)
FINDING = Finding(
    id=1,
    branch_id="jj1",
    department_id="publicity",
    text="班前会记录不全",
    status="open",
    escalated=False,
    raised_by=SUPERVISOR.id,
    project_ref=None,
    created_at=NOW,
    updated_at=NOW,
)


@pytest.mark.parametrize(
    ("who", "reviews", "recategorizes", "raises_in_jj1", "binds_jj1", "stands"),
    [
        (WORKER, False, True, False, False, set()),
        (SECRETARY, True, True, False, True, {"secretary"}),
        (OTHER_SECRETARY, False, False, False, False, set()),
        (SUPERVISOR, False, False, True, False, {"supervisor"}),
        (LEADER, True, True, True, False, {"leader"}),
        (ADMIN, True, True, True, True, {"leader"}),
    ],
)
def test_predicates(
    who: Person,
    reviews: bool,
    recategorizes: bool,
    raises_in_jj1: bool,
    binds_jj1: bool,
    stands: set[str],
) -> None:
    assert access.may_review_idea(who, IDEA) is reviews
    assert access.may_recategorize(who, IDEA) is recategorizes  # the worker is the author
    assert access.may_raise_finding(who, JJ1) is raises_in_jj1
    assert access.may_bind_group(who, JJ1) is binds_jj1
    assert access.finding_roles(who, FINDING) == stands


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        (WORKER, []),
        (SECRETARY, ["jj1"]),
        (SUPERVISOR, ["jj1"]),
        (LEADER, None),
        (DEPARTMENT_HEAD, None),
    ],
)
def test_visible_branches(who: Person, seen: list[str] | None) -> None:
    assert access.visible_branches(who, [JJ1, ZC1]) == seen


@pytest.mark.parametrize(
    ("who", "part", "branch", "allowed"),
    [
        (SECRETARY, "self", JJ1, True),
        (SECRETARY, "self", ZC1, False),
        (SUPERVISOR, "dept", JJ1, True),
        (SUPERVISOR, "dept", ZC1, False),
        (SUPERVISOR, "leader", JJ1, False),
        (LEADER, "base", ZC1, True),
        (DEPARTMENT_HEAD, "dept", ZC1, True),
    ],
)
def test_who_enters_which_score(who: Person, part: str, branch: Branch, allowed: bool) -> None:
    assert access.may_enter_score(who, part, branch) is allowed


def test_project_lead_and_branch_secretaries_act_on_a_project() -> None:
    assert access.may_act_on_project(WORKER, WORKER.id, ["zc1"])  # the lead
    assert access.may_act_on_project(SECRETARY, 99, ["jj1", "zc1"])
    assert not access.may_act_on_project(SECRETARY, 99, ["zc1"])
    assert not access.may_act_on_project(SUPERVISOR, 99, ["jj1"])


def test_every_second_word_declares_its_usage(app: App) -> None:
    commands = [c for c in app.router.commands.values() if isinstance(c, Command)]
    subs = [(c, s) for c in commands for s in c.subcommands]
    assert {(c.name, s.name) for c, s in subs} >= {
        ("findings", "add"),
        ("findings", "note"),
        ("findings", "resolve"),
        ("findings", "reopen"),
        ("findings", "escalate"),
        ("project", "new"),
        ("project", "link"),
        ("score", "self"),
        ("score", "dept"),
        ("score", "leader"),
        ("score", "base"),
        ("score", "close"),
    }
    for command, sub in subs:
        assert sub.usage.startswith(f"/{command.name} {sub.name}"), sub.usage


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "secretary", "supervisor", "leader")


async def test_the_router_refuses_a_second_word_before_its_handler_runs(
    app: App, people: dict[str, Chat]
) -> None:
    before = await app.repos.db.fetchall("SELECT * FROM score_entries")
    assert await people["supervisor"].say("/score close 2026-10") == ["只有党委领导可以结账。"]
    assert await people["secretary"].say("/score base jj1 90") == [
        "领导评价和基础分由党委领导填写。"
    ]
    assert await people["secretary"].say("/project link P01 1") == [
        "只有党委领导可以把金点子纳入重点项目。"
    ]
    assert await people["secretary"].say("/findings add jj1 班前会记录不全") == [
        "只有督导人员和党委领导可以记录新问题。"
    ]
    assert await app.repos.db.fetchall("SELECT * FROM score_entries") == before
    assert await app.repos.db.fetchall("SELECT * FROM findings") == []
    # the month may stand before the second word, and the same table decides
    assert await people["supervisor"].say("/score 2026-10 close 2026-10") == [
        "只有党委领导可以结账。"
    ]


async def test_help_lists_the_second_words_a_person_may_use(people: dict[str, Chat]) -> None:
    worker = (await people["worker"].say("/help"))[0]
    supervisor = (await people["supervisor"].say("/help"))[0]
    leader = (await people["leader"].say("/help"))[0]
    assert "/findings" not in worker and "/score" not in worker
    assert "/findings add" in supervisor and "/findings note" in supervisor
    assert "/score dept" in supervisor and "/score close" not in supervisor
    assert "/score close" in leader and "/project new" in leader


@pytest.mark.parametrize(
    ("text", "month", "previous", "quarter"),
    [
        ("2026-11", Month(2026, 11), "2026-10", "2026-Q4"),
        ("2027-01", Month(2027, 1), "2026-12", "2027-Q1"),
        ("2026-04", Month(2026, 4), "2026-03", "2026-Q2"),
    ],
)
def test_months(text: str, month: Month, previous: str, quarter: str) -> None:
    assert Month.parse(text) == month
    assert str(month) == text
    assert str(month.previous()) == previous
    assert str(month.quarter) == quarter


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026-00", "2026-②", ""])
def test_not_months(text: str) -> None:
    assert Month.parse(text) is None


def test_quarters() -> None:
    assert Quarter.parse("2027-Q1") == Quarter(2027, 1)
    assert Quarter.parse("2027-Q5") is None
    assert str(Quarter(2027, 1).previous()) == "2026-Q4"
    assert [str(m) for m in Quarter(2026, 4).months] == ["2026-10", "2026-11", "2026-12"]
    local = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    assert Quarter.of(local).start(local) == datetime(2026, 10, 1, tzinfo=UTC)
    assert Month(2026, 12) > Month(2026, 11) > Month(2025, 12)
