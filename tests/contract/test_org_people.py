"""Contract: the organisation (`repos.org`), the roster, roles and chat identities
(`repos.people`), and transactions (`db.transaction()`)."""

from __future__ import annotations

import asyncio

import pytest

from storage import (
    Branch,
    ConstraintViolation,
    Database,
    Department,
    DepartmentName,
    Duplicate,
    Person,
    Recipient,
    Repositories,
    Role,
    RosterEntry,
    StorageError,
)
from tests.contract.seed import BRANCHES, SHANGHAI, T0, Staff, add_idea, at

# -- org ----------------------------------------------------------------------------------


async def test_org_sync_stores_branches_sorted_by_id_with_chinese_names(
    repos: Repositories, staff: Staff
) -> None:
    assert await repos.org.branches() == sorted(BRANCHES, key=lambda b: b.id)
    assert await repos.org.branch("jj1") == Branch("jj1", "机掘一队党支部", "publicity")
    assert await repos.org.branch("nope") is None


async def test_org_department_names_keep_the_configured_order(
    repos: Repositories, staff: Staff
) -> None:
    # Configured order, not alphabetical: organization, publicity, party_office.
    assert await repos.org.department_names() == [
        DepartmentName("organization", "组织部"),
        DepartmentName("publicity", "宣传部"),
        DepartmentName("party_office", "党委办公室"),
    ]
    assert await repos.org.department_ids() == {"organization", "publicity", "party_office"}


async def test_org_sync_again_updates_names_and_keeps_unconfigured_rows(
    repos: Repositories, staff: Staff
) -> None:
    await repos.org.sync(
        [Department("publicity", "党委宣传部")], [Branch("jj1", "机掘一队", "organization")]
    )
    assert await repos.org.branch("jj1") == Branch("jj1", "机掘一队", "organization")
    assert await repos.org.branch("zc1") is not None  # no longer configured: kept for history
    names = dict(await repos.org.department_names())
    assert names["publicity"] == "党委宣传部" and "party_office" in names


async def test_org_sync_with_unknown_department_raises_constraint_violation(
    repos: Repositories,
) -> None:
    with pytest.raises(ConstraintViolation):
        await repos.org.sync([], [Branch("x1", "无名支部", "no_such_department")])


# -- people -------------------------------------------------------------------------------


async def test_roster_round_trips_people_with_sorted_roles(
    repos: Repositories, staff: Staff
) -> None:
    assert staff.worker.employee_no == "E001" and staff.worker.name == "张三"
    assert staff.worker.branch_id == "jj1" and staff.worker.wecom_userid == "zhangsan"
    assert staff.worker.roles == (Role("worker"),)
    assert staff.supervisor.roles == (Role("supervisor", "publicity"),)
    assert staff.admin.roles == (Role("admin"), Role("leader"))  # sorted by name
    assert await repos.people.by_id(staff.worker.id) == staff.worker
    assert await repos.people.by_employee_no("E999") is None
    assert await repos.people.by_id(999_999) is None
    assert await repos.people.count() == 6


async def test_roster_upsert_updates_a_person_and_replaces_roles(
    repos: Repositories, staff: Staff
) -> None:
    entry = RosterEntry("E002", "李四四", "jj1", (Role("secretary"), Role("worker")), None)
    async with repos.db.transaction():
        assert await repos.people.upsert_roster([entry], at(1)) == 1
    again = await repos.people.by_employee_no("E002")
    assert again is not None and again.id == staff.worker2.id
    assert (again.name, again.branch_id) == ("李四四", "jj1")
    assert again.roles == (Role("secretary"), Role("worker"))
    assert await repos.people.count() == 6


async def test_roster_wecom_userid_of_another_person_raises_duplicate(
    repos: Repositories, staff: Staff
) -> None:
    clash = RosterEntry("E003", "王五", "zc1", (Role("worker"),), "zhangsan")
    with pytest.raises(Duplicate):
        async with repos.db.transaction():
            await repos.people.upsert_roster([clash], at(1))
    assert await repos.people.by_employee_no("E003") is None


async def test_roster_unknown_branch_raises_constraint_violation(
    repos: Repositories, staff: Staff
) -> None:
    bad = RosterEntry("E004", "赵六", "no_branch", (Role("worker"),), None)
    with pytest.raises(ConstraintViolation):
        async with repos.db.transaction():
            await repos.people.upsert_roster([bad], at(1))
    assert await repos.people.by_employee_no("E004") is None


async def test_set_roles_replaces_roles_and_checks_supervisor_department(
    repos: Repositories, staff: Staff
) -> None:
    async with repos.db.transaction():
        await repos.people.set_roles(staff.worker.id, [Role("leader")])
    person = await repos.people.by_id(staff.worker.id)
    assert person is not None and person.roles == (Role("leader"),)
    with pytest.raises(ConstraintViolation):  # a supervisor needs a department
        async with repos.db.transaction():
            await repos.people.set_roles(staff.worker.id, [Role("supervisor")])
    with pytest.raises(ConstraintViolation):  # an unknown role name
        async with repos.db.transaction():
            await repos.people.set_roles(staff.worker.id, [Role("emperor")])
    person = await repos.people.by_id(staff.worker.id)
    assert person is not None and person.roles == (Role("leader"),)


async def test_people_with_role_and_count_with_role(repos: Repositories, staff: Staff) -> None:
    leaders = await repos.people.with_role("leader")
    assert [p.employee_no for p in leaders] == ["A001", "L001"]  # by 工号
    assert await repos.people.count_with_role("leader") == 2
    assert await repos.people.count_with_role("admin") == 1
    assert await repos.people.with_role("nobody") == []


async def test_people_by_number_or_name_matches_any_case_number_or_exact_name(
    repos: Repositories, staff: Staff
) -> None:
    assert [p.id for p in await repos.people.by_number_or_name("e001")] == [staff.worker.id]
    assert [p.id for p in await repos.people.by_number_or_name("李四")] == [staff.worker2.id]
    assert await repos.people.by_number_or_name("李") == []


async def test_people_phone_of(repos: Repositories, staff: Staff) -> None:
    assert await repos.people.phone_of(staff.worker.id) == "13800000001"
    assert await repos.people.phone_of(staff.leader.id) is None


async def test_identity_binding_round_trip_and_duplicates(
    repos: Repositories, staff: Staff
) -> None:
    await repos.people.bind_identity(staff.worker.id, "telegram", "1001", at(1))
    assert await repos.people.by_identity("telegram", "1001") == staff.worker
    assert await repos.people.identity_of(staff.worker.id, "telegram") == "1001"
    assert await repos.people.by_identity("telegram", "9999") is None
    with pytest.raises(Duplicate):  # the external id is taken
        await repos.people.bind_identity(staff.worker2.id, "telegram", "1001", at(1))
    with pytest.raises(Duplicate):  # the person has an identity on this channel
        await repos.people.bind_identity(staff.worker.id, "telegram", "1002", at(1))
    await repos.people.bind_identity(staff.worker.id, "console", "local", at(1))
    assert await repos.people.identities_of(staff.worker.id) == [
        Recipient("console", "local"),
        Recipient("telegram", "1001"),
    ]
    await repos.people.unbind_identity("telegram", staff.worker.id)
    assert await repos.people.identity_of(staff.worker.id, "telegram") is None
    assert await repos.people.by_identity("telegram", "1001") is None


async def test_bind_identity_of_unknown_person_raises_constraint_violation(
    repos: Repositories, staff: Staff
) -> None:
    with pytest.raises(ConstraintViolation):
        await repos.people.bind_identity(999_999, "telegram", "1001", at(1))


async def test_bind_by_wecom_userid_binds_once_and_only_known_userids(
    repos: Repositories, staff: Staff
) -> None:
    assert await repos.people.bind_by_wecom_userid("zhangsan", at(1)) is True
    assert await repos.people.bind_by_wecom_userid("zhangsan", at(2)) is False  # bound already
    assert await repos.people.bind_by_wecom_userid("stranger", at(1)) is False
    assert await repos.people.by_identity("wecom", "zhangsan") == staff.worker


async def test_unbound_lists_people_without_an_identity_by_number(
    repos: Repositories, staff: Staff
) -> None:
    await repos.people.bind_identity(staff.worker.id, "telegram", "1001", at(1))
    everyone = [p.employee_no for p in await repos.people.unbound("telegram")]
    assert everyone == ["A001", "E002", "L001", "S001", "V001"]
    assert [p.employee_no for p in await repos.people.unbound("telegram", "jj1")] == ["S001"]
    assert len(await repos.people.unbound("wecom")) == 6


async def test_identities_with_role_filter_by_branch_and_department(
    repos: Repositories, staff: Staff
) -> None:
    await repos.people.bind_identity(staff.secretary.id, "telegram", "2001", at(1))
    await repos.people.bind_identity(staff.supervisor.id, "wecom", "zhaodd", at(1))
    await repos.people.bind_identity(staff.admin.id, "telegram", "3001", at(1))
    await repos.people.bind_identity(staff.admin.id, "console", "admin", at(1))
    assert await repos.people.identities_with_role("secretary") == [Recipient("telegram", "2001")]
    assert await repos.people.identities_with_role("secretary", branch_id="zc1") == []
    sup = await repos.people.identities_with_role("supervisor", department_id="publicity")
    assert sup == [Recipient("wecom", "zhaodd")]
    assert await repos.people.identities_with_role("supervisor", department_id="union") == []
    assert await repos.people.admin_identities() == [
        Recipient("console", "admin"),
        Recipient("telegram", "3001"),
    ]


async def test_bound_lists_every_identity_of_a_channel_with_its_person(
    repos: Repositories, staff: Staff
) -> None:
    await repos.people.bind_identity(staff.worker2.id, "telegram", "20", at(1))
    await repos.people.bind_identity(staff.worker.id, "telegram", "10", at(1))
    bound = await repos.people.bound("telegram")
    assert bound == [("10", staff.worker), ("20", staff.worker2)]  # by external id
    assert await repos.people.bound("wecom") == []


async def test_roster_party_group_is_made_and_left_when_the_branch_changes(
    repos: Repositories, staff: Staff
) -> None:
    group = await repos.party_groups.group_of(staff.worker.id)
    assert group is not None and (group.branch_id, group.name) == ("jj1", "一组")
    moved = RosterEntry("E001", "张三", "zc1", (Role("worker"),), "zhangsan", "13800000001")
    async with repos.db.transaction():
        await repos.people.upsert_roster([moved], at(1))
    assert await repos.party_groups.group_of(staff.worker.id) is None
    assert await repos.party_groups.group(group.id) == group  # the group itself stays


# -- transactions -------------------------------------------------------------------------


class _Boom(Exception):
    pass


async def test_a_failure_inside_a_transaction_leaves_nothing(
    repos: Repositories, db: Database, staff: Staff
) -> None:
    with pytest.raises(_Boom):
        async with db.transaction():
            idea = await add_idea(repos, staff.worker, "回收旧锚杆", T0)
            await repos.heartbeats.beat("sender", T0)
            assert await repos.ideas.get(idea.id) is not None  # visible inside
            raise _Boom
    assert await repos.ideas.get(idea.id) is None
    assert await repos.ideas.count_by_author(staff.worker.id) == 0
    assert await repos.heartbeats.all() == {}


async def test_a_storage_error_inside_a_transaction_rolls_back_earlier_writes(
    repos: Repositories, db: Database, staff: Staff
) -> None:
    with pytest.raises(Duplicate):
        async with db.transaction():
            await repos.people.bind_identity(staff.worker.id, "telegram", "1", T0)
            await repos.people.bind_identity(staff.worker2.id, "telegram", "1", T0)
    assert await repos.people.identity_of(staff.worker.id, "telegram") is None


async def test_a_nested_transaction_rolls_back_alone(
    repos: Repositories, db: Database, staff: Staff
) -> None:
    async with db.transaction():
        kept = await add_idea(repos, staff.worker, "外层的金点子", T0)
        with pytest.raises(_Boom):
            async with db.transaction():
                lost = await add_idea(repos, staff.worker, "内层的金点子", T0)
                raise _Boom
    assert await repos.ideas.get(kept.id) is not None
    assert await repos.ideas.get(lost.id) is None


async def test_a_failed_statement_fails_where_it_runs_and_the_unit_of_work_goes_on(
    repos: Repositories, db: Database, staff: Staff
) -> None:
    """Each statement's outcome is known when it returns (PostgreSQL sends a transaction's
    statements in a pipeline): the failing call raises, not a later one; what its savepoint
    did is rolled back, what came before and after it commits."""
    reached: list[str] = []
    async with db.transaction():
        await repos.people.bind_identity(staff.worker.id, "telegram", "1", T0)
        with pytest.raises(Duplicate):
            async with db.transaction():
                await repos.heartbeats.beat("inside", T0)
                await repos.people.bind_identity(staff.worker2.id, "telegram", "1", T0)
                reached.append("after the duplicate")
        with pytest.raises(StorageError):
            async with db.transaction():
                await db.executemany(
                    "INSERT INTO heartbeats (name, at) VALUES (?, ?)",
                    [("many1", "x"), ("many1", "y")],
                )
                reached.append("after the failed executemany")
        await repos.heartbeats.beat("after", T0)
        assert list(await repos.heartbeats.all()) == ["after"]  # a read sees the write before
    assert reached == []
    assert list(await repos.heartbeats.all()) == ["after"]
    assert await repos.people.identity_of(staff.worker.id, "telegram") == "1"
    assert await repos.people.identity_of(staff.worker2.id, "telegram") is None


async def test_committed_work_is_visible_after_the_transaction(
    repos: Repositories, db: Database, staff: Staff
) -> None:
    moment = T0.astimezone(SHANGHAI)
    async with db.transaction():
        idea = await add_idea(repos, staff.worker, "提交后可见", moment)
    got = await repos.ideas.get(idea.id)
    assert got is not None and got.text == "提交后可见" and got.created_at == moment


async def test_an_idea_by_an_unknown_person_raises_a_storage_error(
    repos: Repositories, staff: Staff
) -> None:
    ghost = Person(999_999, "X999", "无名", "jj1", None)
    with pytest.raises(StorageError):
        await add_idea(repos, ghost, "没有作者的金点子", T0)


async def test_a_repository_unit_of_work_inside_a_failed_transaction_is_rolled_back(
    repos: Repositories, db: Database, staff: Staff
) -> None:
    # quarters.save_report and org.sync open their own transaction: nested, they are part
    # of the caller's and go with it.
    pid = await repos.projects.create(
        title="项目", category="other", lead_id=staff.leader.id, branches=["jj1"],
        expected_fen=0, person_id=staff.leader.id, now=T0,
    )  # fmt: skip
    with pytest.raises(_Boom):
        async with db.transaction():
            await repos.quarters.save_report(
                quarter="2026Q1", project_id=pid, branch_id="jj1", progress="进展",
                problems="", next_steps="", person_id=staff.secretary.id, now=T0,
            )  # fmt: skip
            await repos.org.sync([], [Branch("new", "新支部", "publicity")])
            raise _Boom
    assert await repos.quarters.reports("2026Q1") == []
    assert await repos.org.branch("new") is None


async def test_concurrent_units_of_work_all_commit(repos: Repositories, db: Database) -> None:
    async def unit(n: int) -> None:
        async with db.transaction():
            await repos.heartbeats.beat(f"part{n:02d}", at(0, minutes=n))
            await asyncio.sleep(0)  # let the others try to start theirs meanwhile
            await repos.inbox.store("telegram", str(n), "raw", at(0, minutes=n))

    await asyncio.gather(*(unit(n) for n in range(10)))
    assert len(await repos.heartbeats.all()) == 10
    assert len(await repos.inbox.pending("telegram")) == 10
