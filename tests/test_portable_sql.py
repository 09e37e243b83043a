"""SQL rewritten to run on PostgreSQL too keeps SQLite's answers: insertion order from the
`position` column (migration 0024) instead of rowid, aggregates without group_concat's or
sum's SQLite-only forms, conditions that are booleans, and the dialect fragments themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.models import (
    Branch,
    Department,
    IdeaFilter,
    IdeaScope,
    Person,
    RewardShare,
    Role,
    RosterEntry,
)
from storage.repos import Repositories
from storage.repos.dialect import day_number, indexed_by, joined, match_query

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
async def repos(tmp_path: Path) -> AsyncIterator[Repositories]:
    async with Database.open(tmp_path / "j.db") as db:
        found = Repositories(db)
        async with db.transaction():
            # not in id order: the configured order is what departments are listed in
            await found.org.sync(
                [Department("d2", "宣传部"), Department("d1", "组织部"), Department("d3", "纪委")],
                [
                    Branch("b2", "二支部", "d1"),
                    Branch("b1", "一支部", "d2"),
                    Branch("b3", "三支部", "d3"),
                ],
            )
            await found.people.upsert_roster(
                [
                    RosterEntry("W1", "工人甲", "b1", (Role("worker"),), None, None, "一组"),
                    RosterEntry(
                        "S1",
                        "书记乙",
                        "b1",
                        (Role("worker"), Role("secretary")),
                        None,
                        None,
                        "二组",
                    ),
                    RosterEntry(
                        "L1",
                        "领导丙",
                        "b2",
                        (Role("supervisor", "d1"), Role("leader")),
                        None,
                        None,
                        None,
                    ),
                ],
                at(0),
            )
        yield found


async def _person(repos: Repositories, employee_no: str) -> Person:
    person = await repos.people.by_employee_no(employee_no)
    assert person is not None
    return person


async def test_departments_keep_their_first_configured_order(repos: Repositories) -> None:
    async with repos.db.transaction():
        await repos.org.sync([Department("d1", "组织部改"), Department("d0", "工会")], [])
    assert [(d.id, d.name) for d in await repos.org.department_names()] == [
        ("d2", "宣传部"),
        ("d1", "组织部改"),
        ("d3", "纪委"),
        ("d0", "工会"),
    ]


async def test_position_is_the_rowid_for_every_insert(repos: Repositories) -> None:
    db = repos.db
    await db.execute("INSERT INTO departments (id, name) VALUES ('d9', '团委')")
    for table in ("departments", "inbox", "project_branches", "reward_recipients"):
        rows = await db.fetchall(f"SELECT rowid, position FROM {table}")
        assert all(r[0] == r[1] for r in rows), table
    row = await db.fetchone("SELECT position FROM departments WHERE id = 'd9'")
    assert row is not None and row[0] == 4


async def test_a_project_lists_its_branches_in_linking_order(repos: Repositories) -> None:
    leader = await _person(repos, "L1")
    projects = repos.projects
    async with repos.db.transaction():
        pid = await projects.create(
            title="锚杆回收",
            category="repair_reuse",
            lead_id=leader.id,
            branches=["b3", "b1"],
            expected_fen=100,
            person_id=leader.id,
            now=at(1),
        )
    await projects.add_key_point(pid, "b2", "要点一", "2026-04", leader.id, at(2))
    await projects.add_key_point(pid, "b3", "要点二", "2026-04", leader.id, at(3))  # in already
    author = await _person(repos, "W1")
    for n in (3, 1, 2):
        idea = await repos.ideas.add(
            author=author, text=f"点子{n}", category="other", confidence=0.5, channel="t", now=at(n)
        )
        await projects.link(pid, idea.id)
    project = await projects.get(pid)
    assert project is not None
    assert project.branches == ("b3", "b1", "b2")  # the first is the lead branch
    assert project.idea_ids == (1, 2, 3)
    await projects.add_progress(pid, (await _person(repos, "S1")).id, 40, "进展", at(4))
    assert await projects.branch_percents(pid) == [("b1", 40)]
    assert [k.title for k in await projects.key_points(branch_id="b3")] == ["要点二"]
    assert [k.title for k in await projects.key_points()] == ["要点一", "要点二"]


async def test_reward_shares_and_project_numbers_in_the_ledger(repos: Repositories) -> None:
    leader = await _person(repos, "L1")
    worker = await _person(repos, "W1")
    group = (await repos.party_groups.groups_of_branch("b1"))[0]
    projects = repos.projects
    async with repos.db.transaction():
        for n in range(1, 11):
            await repos.db.execute(
                "INSERT INTO projects (id, title, category, lead_id, expected_benefit_fen,"
                " created_by, created_at, updated_at) VALUES (?, ?, 'other', ?, 0, ?, ?, ?)",
                (n * n, f"项目{n}", leader.id, leader.id, at(n).isoformat(), at(n).isoformat()),
            )
        benefit = await projects.claim(100, 4_000_000, "省了", worker.id, at(20))
        await projects.decide(benefit, "verified", leader.id, "", at(21))
        await projects.record_reward(
            100,
            [(benefit, 4_000_000)],
            [
                RewardShare(None, "b3", "三支部", 500),
                RewardShare(None, "b1", "一组", 300, group.id),
                RewardShare(worker.id, "b1", "工人甲", 200),
            ],
            "奖",
            leader.id,
            at(22),
        )
        for n in (1, 9, 10):
            await projects.add_progress(n * n, worker.id, None, "进展", at(23))
    rewards = await projects.sheet("rewards")
    assert [(r["project"], r["label"], r["kind"]) for r in rewards] == [
        ("P100", "三支部", "支部"),
        ("P100", "一组", "党小组"),
        ("P100", "工人甲", "个人"),
    ]
    assert [r["project"] for r in await projects.sheet("progress")] == ["P01", "P81", "P100"]
    assert [r["project"] for r in await projects.sheet("benefits")] == ["P100"]
    received = await repos.party_groups.rewards_received()
    assert [(r.project_number, r.amount_fen) for r in received[group.id]] == [("P100", 300)]
    assert await repos.party_groups.rewards_received("b3") == {}


async def test_roles_are_read_back_whole(repos: Repositories) -> None:
    leader = await _person(repos, "L1")
    assert leader.roles == (Role("leader"), Role("supervisor", "d1"))
    members = await repos.party_groups.members((await repos.party_groups.groups_of_branch("b1"))[1])
    assert [(p.employee_no, p.roles) for p in members] == [
        ("S1", (Role("secretary"), Role("worker")))
    ]


async def test_member_activity_counts_adopted_ideas_per_person(repos: Repositories) -> None:
    worker = await _person(repos, "W1")
    secretary = await _person(repos, "S1")
    ideas = repos.ideas
    for n in range(3):
        idea = await ideas.add(
            author=worker, text=f"点子{n}", category="other", confidence=0.5, channel="t", now=at(n)
        )
        if n:
            await ideas.move(idea, "adopted", secretary.id, "", at(n + 1))
    activity = await repos.party_groups.member_activity(
        "b1", at(-1), adopted={"adopted"}, excluded={"withdrawn"}
    )
    assert [(a.employee_no, a.ideas, a.adopted) for a in activity] == [("S1", 0, 0), ("W1", 3, 2)]
    none_adopted = await repos.party_groups.member_activity(
        "b1", at(-1), adopted=(), excluded={"withdrawn"}
    )
    assert [(a.ideas, a.adopted) for a in none_adopted] == [(0, 0), (3, 0)]
    groups = await ideas.groups(at(-1), branch_id="b1", adopted={"adopted"}, excluded=set())
    assert [(g.branch_id, g.ideas, g.adopted) for g in groups] == [("b1", 3, 2)]


async def test_an_empty_scope_lists_nothing(repos: Repositories) -> None:
    worker = await _person(repos, "W1")
    await repos.ideas.add(
        author=worker, text="点子", category="other", confidence=0.5, channel="t", now=at(0)
    )
    assert await repos.ideas.listing(IdeaScope(()), IdeaFilter(), limit=10, offset=0) == []
    assert await repos.ideas.count_waiting(IdeaScope(())) == 0
    assert len(await repos.ideas.listing(IdeaScope(None), IdeaFilter(), limit=10, offset=0)) == 1
    assert [i.text for i in await repos.ideas.for_branch("b1", since=None, status=None)] == ["点子"]


async def test_achievements_without_a_filter_are_all_listed(repos: Repositories) -> None:
    leader = await _person(repos, "L1")
    await repos.achievements.add(
        kind="patent",
        title="专利",
        note="",
        project_id=None,
        idea_id=(
            await repos.ideas.add(
                author=leader, text="点子", category="other", confidence=0.5, channel="t", now=at(0)
            )
        ).id,
        person_id=leader.id,
        now=at(0),
    )
    assert [a.title for a in await repos.achievements.listed()] == ["专利"]


async def test_inbox_order_and_an_unbounded_pending_list(repos: Repositories) -> None:
    inbox = repos.inbox
    for update in ("9", "10", "8"):  # one poll: the same moment, in arrival order
        await inbox.store("telegram", update, "{}", at(1))
    await inbox.store("telegram", "1", "{}", at(0))
    assert [u.update_id for u in await inbox.pending("telegram")] == ["1", "9", "10", "8"]
    assert [u.update_id for u in await inbox.pending("telegram", 2)] == ["1", "9"]
    assert await inbox.pending("telegram", 0) == []
    for update in ("9", "10"):
        await inbox.record_failure("telegram", update, "boom", at(2), 1)
    assert [f.update_id for f in await inbox.failures()] == ["10", "9"]


async def test_a_migrated_group_takes_over_a_binding_of_its_new_id(repos: Repositories) -> None:
    groups = repos.groups
    await groups.bind("telegram", "-1", "b1", None, at(0))
    await groups.bind("telegram", "-100", "b2", None, at(0))
    assert await groups.migrate("telegram", "-1", "-100", at(1))
    assert [(g.chat_id, g.branch_id) for g in await groups.for_branch("b1")] == [("-100", "b1")]
    assert await groups.for_branch("b2") == []
    assert await groups.migrate("telegram", "-100", "-100", at(2))  # the same id: kept
    assert [g.chat_id for g in await groups.for_branch("b1")] == ["-100"]
    assert not await groups.migrate("telegram", "-5", "-6", at(3))


@pytest.mark.parametrize(
    ("terms", "every", "sqlite", "postgresql"),
    [
        (["锚杆", "回收", "锚杆"], True, '"回收" "锚杆"', "'回收' & '锚杆'"),
        (["锚杆", "回收"], False, '"回收" OR "锚杆"', "'回收' | '锚杆'"),
        (['say "hi"'], True, '"say ""hi"""', "'say \"hi\"'"),
        (["it's"], True, '"it\'s"', "'it''s'"),
        (["a\\b"], True, '"a\\b"', "'a\\\\b'"),
        (["&", "|", "!", "<->", ":*"], False, None, "'!' | '&' | ':*' | '<->' | '|'"),
    ],
)
def test_match_queries_quote_every_term(
    terms: list[str], every: bool, sqlite: str | None, postgresql: str
) -> None:
    if sqlite is not None:
        assert match_query("sqlite", terms, every=every) == sqlite
    assert match_query("postgresql", terms, every=every) == postgresql


def test_the_other_fragments_per_dialect() -> None:
    assert indexed_by("sqlite", "ideas_created") == " INDEXED BY ideas_created"
    assert indexed_by("postgresql", "ideas_created") == ""
    assert day_number("sqlite", "i.created_at") == "julianday(i.created_at)"
    assert day_number("postgresql", "i.created_at") == (
        "EXTRACT(EPOCH FROM CAST(i.created_at AS timestamptz))::float8 / 86400"
    )
    assert joined("postgresql", "b", "FROM t", "position") == (
        "(SELECT string_agg(CAST(b AS TEXT), ' ' ORDER BY position) FROM t)"
    )
    assert joined("sqlite", "b", "FROM t") == "(SELECT group_concat(b, ' ') FROM t)"
