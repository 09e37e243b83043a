"""Contract: key projects with progress, key points, KPIs, benefits and rewards
(`repos.projects`), and party groups (`repos.party_groups`)."""

from __future__ import annotations

import pytest

from storage import (
    Benefit,
    ConstraintViolation,
    Duplicate,
    MemberActivity,
    PartyGroup,
    PendingClaim,
    Repositories,
    RewardReceived,
    RewardShare,
    VerifiedBenefit,
)
from storage.models import BenefitSum
from tests.contract.seed import SHANGHAI, T0, Staff, add_idea, at


async def _project(
    repos: Repositories,
    staff: Staff,
    title: str = "锚杆回收复用",
    branches: tuple[str, ...] = ("jj1",),
    expected_fen: int = 4_000_000,
) -> int:
    return await repos.projects.create(
        title=title,
        category="repair_reuse",
        lead_id=staff.leader.id,
        branches=list(branches),
        expected_fen=expected_fen,
        person_id=staff.admin.id,
        now=T0.astimezone(SHANGHAI),
    )


async def _verified(
    repos: Repositories, staff: Staff, project_id: int, fen: int, when_days: float
) -> int:
    benefit_id = await repos.projects.claim(project_id, fen, "节约", staff.secretary.id, at(-30))
    assert await repos.projects.decide(benefit_id, "verified", staff.leader.id, "", at(when_days))
    return benefit_id


# -- projects -----------------------------------------------------------------------------


async def test_project_create_and_get_round_trip(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff, branches=("zc1", "jj1", "zc1"))
    project = await repos.projects.get(pid)
    assert project is not None
    assert (project.title, project.category) == ("锚杆回收复用", "repair_reuse")
    assert (project.lead_id, project.lead_name) == (staff.leader.id, "钱领导")
    assert project.expected_benefit_fen == 4_000_000
    assert project.branches == ("zc1", "jj1")  # in the order given, once each
    assert project.idea_ids == ()
    assert (project.verified_fen, project.rewarded_fen) == (0, 0)
    assert (project.last_progress, project.last_percent, project.last_progress_at) == (
        None,
        None,
        None,
    )
    assert project.created_at == T0
    assert await repos.projects.get(pid + 100) is None


async def test_projects_all_in_id_order(repos: Repositories, staff: Staff) -> None:
    first = await _project(repos, staff, "甲项目")
    second = await _project(repos, staff, "乙项目")
    assert [(p.id, p.title) for p in await repos.projects.all()] == [
        (first, "甲项目"),
        (second, "乙项目"),
    ]


async def test_project_link_ideas_once(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff)
    other = await _project(repos, staff, "另一个")
    b = await add_idea(repos, staff.worker, "乙", T0)
    a = await add_idea(repos, staff.worker, "甲", T0)
    await repos.projects.link(pid, a.id)
    await repos.projects.link(pid, b.id)
    with pytest.raises(Duplicate):  # an idea belongs to one project
        await repos.projects.link(other, a.id)
    with pytest.raises(ConstraintViolation):
        await repos.projects.link(other + 100, (await add_idea(repos, staff.worker, "丙", T0)).id)
    project = await repos.projects.get(pid)
    assert project is not None and project.idea_ids == tuple(sorted((a.id, b.id)))
    assert await repos.projects.project_of(a.id) == pid
    assert await repos.projects.project_of(a.id + 100) is None


async def test_project_progress_latest_text_and_percent(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff)
    await repos.projects.add_progress(pid, staff.secretary.id, 30, "开始回收", at(1))
    await repos.projects.add_progress(pid, staff.secretary.id, None, "遇到困难", at(2))
    project = await repos.projects.get(pid)
    assert project is not None
    assert project.last_progress == "遇到困难"
    assert project.last_percent == 30  # the latest report with a percentage
    assert project.last_progress_at == at(2)


async def test_key_points_join_their_branch_and_drive_the_projects_percent(
    repos: Repositories, staff: Staff
) -> None:
    pid = await _project(repos, staff, branches=("jj1",))
    group = await repos.party_groups.group_of(staff.worker.id)
    assert group is not None
    k1 = await repos.projects.add_key_point(pid, "jj1", "回收", "2026-04", staff.leader.id, T0)
    k2 = await repos.projects.add_key_point(
        pid, "zc1", "复用", "2026-06", staff.leader.id, T0, group_id=None
    )
    k3 = await repos.projects.add_key_point(
        pid, "jj1", "一组负责", "2026-05", staff.leader.id, T0, group_id=group.id
    )
    project = await repos.projects.get(pid)
    assert project is not None and project.branches == ("jj1", "zc1")  # zc1 joined, last
    assert project.last_percent == 0  # no key point reported on yet
    await repos.projects.add_progress(pid, staff.secretary.id, 60, "回收六成", at(1), k1)
    await repos.projects.add_progress(pid, staff.worker2.id, 25, "复用开始", at(2), k2)
    await repos.projects.add_progress(pid, staff.worker2.id, None, "只说一句", at(3), k2)
    points = await repos.projects.key_points(pid)
    assert [(k.id, k.branch_id, k.title, k.due_month) for k in points] == [
        (k1, "jj1", "回收", "2026-04"),
        (k2, "zc1", "复用", "2026-06"),
        (k3, "jj1", "一组负责", "2026-05"),
    ]
    assert [(k.percent, k.last_text, k.last_at) for k in points] == [
        (60, "回收六成", at(1)),
        (25, "只说一句", at(3)),
        (None, None, None),
    ]
    assert points[2].group_id == group.id and points[0].group_id is None
    project = await repos.projects.get(pid)
    # By hand: the mean of 60, 25 and 0 (k3 not reported) = 28.33 → 28.
    assert project is not None and project.last_percent == 28
    assert [k.id for k in await repos.projects.key_points(pid, branch_id="jj1")] == [k1, k3]
    other = await _project(repos, staff, "其他")
    k4 = await repos.projects.add_key_point(other, "jd", "机电", "2026-07", staff.leader.id, T0)
    assert [k.id for k in await repos.projects.key_points()] == [k1, k2, k3, k4]


async def test_project_percent_rounds_a_half_up(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff)
    k1 = await repos.projects.add_key_point(pid, "jj1", "甲", "2026-04", staff.leader.id, T0)
    k2 = await repos.projects.add_key_point(pid, "jj1", "乙", "2026-04", staff.leader.id, T0)
    await repos.projects.add_progress(pid, staff.secretary.id, 60, "", at(1), k1)
    await repos.projects.add_progress(pid, staff.secretary.id, 25, "", at(1), k2)
    project = await repos.projects.get(pid)
    assert project is not None and project.last_percent == 43  # mean 42.5


async def test_branch_percents_are_each_branch_secretarys_latest_whole_project_report(
    repos: Repositories, staff: Staff
) -> None:
    pid = await _project(repos, staff, branches=("zc1", "jj1", "jd"))
    kp = await repos.projects.add_key_point(pid, "jj1", "点", "2026-04", staff.leader.id, T0)
    await repos.projects.add_progress(pid, staff.secretary.id, 40, "", at(1))
    await repos.projects.add_progress(pid, staff.secretary.id, 55, "", at(2))
    await repos.projects.add_progress(pid, staff.secretary.id, 90, "", at(3), kp)  # a key point
    await repos.projects.add_progress(pid, staff.secretary.id, None, "无百分比", at(4))
    await repos.projects.add_progress(pid, staff.worker2.id, 20, "", at(1))
    assert await repos.projects.branch_percents(pid) == [("zc1", 20), ("jj1", 55)]


async def test_kpis_with_values_oldest_first_and_unique_names(
    repos: Repositories, staff: Staff
) -> None:
    pid = await _project(repos, staff)
    kpi = await repos.projects.add_kpi(pid, "锚杆复用率", "%", "10", "60", staff.leader.id, T0)
    other = await repos.projects.add_kpi(pid, "节约金额", "万元", "0", "40", staff.leader.id, T0)
    with pytest.raises(Duplicate):
        await repos.projects.add_kpi(pid, "锚杆复用率", "%", "0", "1", staff.leader.id, T0)
    await repos.projects.add_kpi_value(kpi, "25", staff.secretary.id, at(1))
    await repos.projects.add_kpi_value(kpi, "38.5", staff.secretary.id, at(2).astimezone(SHANGHAI))
    kpis = await repos.projects.kpis(pid)
    assert [(k.id, k.name, k.unit, k.baseline, k.target) for k in kpis] == [
        (kpi, "锚杆复用率", "%", "10", "60"),
        (other, "节约金额", "万元", "0", "40"),
    ]
    assert kpis[0].values == (("25", at(1)), ("38.5", at(2)))
    assert kpis[1].values == ()
    p2 = await _project(repos, staff, "二")
    await repos.projects.add_kpi(
        p2, "锚杆复用率", "%", "0", "1", staff.leader.id, T0
    )  # per project
    assert len(await repos.projects.kpis()) == 3
    assert len(await repos.projects.kpis(p2)) == 1


async def test_benefit_claim_round_trip_and_one_decision(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff)
    bid = await repos.projects.claim(
        pid, 4_002_000, "回收锚杆1740根", staff.secretary.id, at(1),
        quantity="1740", unit="根", unit_price_fen=2300, period="2026-02",
    )  # fmt: skip
    assert await repos.projects.benefit(bid) == Benefit(
        bid, pid, 4_002_000, "回收锚杆1740根", staff.secretary.id, "claimed", None, at(1),
        "1740", "根", 2300, "2026-02",
    )  # fmt: skip
    assert await repos.projects.decide(bid, "verified", staff.leader.id, "属实", at(2)) is True
    assert await repos.projects.decide(bid, "rejected", staff.leader.id, "改主意", at(3)) is False
    benefit = await repos.projects.benefit(bid)
    assert benefit is not None and benefit.status == "verified" and benefit.decided_at == at(2)
    assert await repos.projects.benefit(bid + 100) is None
    plain = await repos.projects.claim(pid, 100, "小额", staff.secretary.id, at(1))
    got = await repos.projects.benefit(plain)
    assert got is not None and (got.quantity, got.unit, got.unit_price_fen, got.period) == (
        None,
        "",
        None,
        None,
    )


async def test_verified_benefits_between_since_and_facts(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff)
    late = await _verified(repos, staff, pid, 300, 5)
    early = await _verified(repos, staff, pid, 200, 1)
    before = await _verified(repos, staff, pid, 100, -1)
    rejected = await repos.projects.claim(pid, 999, "不算", staff.secretary.id, at(0))
    await repos.projects.decide(rejected, "rejected", staff.leader.id, "不实", at(2))
    await repos.projects.claim(pid, 888, "待定", staff.secretary.id, at(0))
    between = await repos.projects.verified_between(T0.astimezone(SHANGHAI), at(5))
    assert [b.id for b in between] == [early]  # [start, end), by decision time
    assert [b.id for b in await repos.projects.verified_since(T0)] == [late, early]  # by id
    assert sorted(await repos.projects.verified_facts(T0)) == [
        VerifiedBenefit(at(1), 200, pid),
        VerifiedBenefit(at(5), 300, pid),
    ]
    project = await repos.projects.get(pid)
    assert project is not None and project.verified_fen == 600
    assert before != late


async def test_verified_sums_by_bucket_and_branch(repos: Repositories, staff: Staff) -> None:
    # By hand, boundaries T0, +10d, +20d: bucket 0 = 100 + 250 (P1), bucket 1 = 1000 (P2),
    # bucket 2 = 7 (P1); 5000 verified before T0 and a rejected 999 count nowhere.
    p1 = await _project(repos, staff, "一", branches=("jj1",))
    p2 = await _project(repos, staff, "二", branches=("zc1",))
    await _verified(repos, staff, p1, 100, 1)
    await _verified(repos, staff, p1, 250, 5)
    await _verified(repos, staff, p2, 1000, 12)
    await _verified(repos, staff, p1, 7, 25)
    await _verified(repos, staff, p1, 5000, -1)
    rejected = await repos.projects.claim(p1, 999, "", staff.secretary.id, at(0))
    await repos.projects.decide(rejected, "rejected", staff.leader.id, "", at(3))
    boundaries = [T0.astimezone(SHANGHAI), at(10), at(20)]
    every = await repos.projects.verified_sums(boundaries, branch_id=None)
    assert sorted(every) == [BenefitSum(0, 350), BenefitSum(1, 1000), BenefitSum(2, 7)]
    assert all(isinstance(s.amount_fen, int) for s in every)
    jj1 = await repos.projects.verified_sums(boundaries, branch_id="jj1")
    assert sorted(jj1) == [BenefitSum(0, 350), BenefitSum(2, 7)]
    assert await repos.projects.verified_sums(boundaries, branch_id="jd") == []


async def test_rewards_pending_claims_and_set_asides(repos: Repositories, staff: Staff) -> None:
    pid = await _project(repos, staff)
    group = await repos.party_groups.group_of(staff.worker.id)
    assert group is not None
    b1 = await _verified(repos, staff, pid, 10_000, 1)
    b2 = await _verified(repos, staff, pid, 5_000, 2)
    b3 = await _verified(repos, staff, pid, 700, 3)
    shares = [
        RewardShare(staff.worker.id, "jj1", "张三", 3_000),
        RewardShare(None, "jj1", "机掘一队党支部", 1_500),
        RewardShare(None, "jj1", "一组", 500, group.id),
    ]
    rid = await repos.projects.record_reward(
        pid, [(b1, 10_000), (b2, 2_000)], shares, "首季奖励", staff.leader.id, at(4)
    )
    assert rid > 0
    project = await repos.projects.get(pid)
    assert project is not None and project.rewarded_fen == 5_000
    assert await repos.projects.rewarded_basis(pid) == 12_000
    assert await repos.projects.rewards_of(staff.worker.id) == [
        RewardReceived(f"P{pid:02d}", "锚杆回收复用", 3_000, at(4))
    ]
    assert await repos.projects.rewards_of(staff.worker2.id) == []
    assert await repos.projects.pending_claims(pid) == [
        PendingClaim(b2, pid, 5_000, 2_000, at(2)),
        PendingClaim(b3, pid, 700, 0, at(3)),
    ]
    assert await repos.projects.set_aside([b3, b3], "金额太小", staff.leader.id, at(5)) == 1
    assert [c.benefit_id for c in await repos.projects.pending_claims()] == [b2]
    assert await repos.party_groups.rewards_received("jj1") == {
        group.id: [RewardReceived(f"P{pid:02d}", "锚杆回收复用", 500, at(4))]
    }
    assert await repos.party_groups.rewards_received("zc1") == {}
    assert list(await repos.party_groups.rewards_received()) == [group.id]


async def test_ledger_sheets_of_progress_benefits_and_rewards(
    repos: Repositories, staff: Staff
) -> None:
    pid = await _project(repos, staff)
    await repos.projects.add_progress(pid, staff.secretary.id, 10, "起步", at(1))
    bid = await _verified(repos, staff, pid, 2_000, 2)
    group = await repos.party_groups.group_of(staff.worker.id)
    assert group is not None
    shares = [
        RewardShare(staff.worker.id, "jj1", "张三", 300),
        RewardShare(None, "jj1", "一组", 200, group.id),
        RewardShare(None, "jj1", "支部", 100),
    ]
    await repos.projects.record_reward(pid, [(bid, 2_000)], shares, "", staff.leader.id, at(3))
    progress = await repos.projects.sheet("progress")
    assert [(r["project"], r["person"], r["percent"], r["text"]) for r in progress] == [
        (f"P{pid:02d}", "王书记", 10, "起步")
    ]
    benefits = await repos.projects.sheet("benefits")
    assert [(r["id"], r["amount_fen"], r["status"], r["claimed_by"], r["decided_by"]) for r in
            benefits] == [(bid, 2_000, "verified", "王书记", "钱领导")]  # fmt: skip
    rewards = await repos.projects.sheet("rewards")
    assert [(r["label"], r["amount_fen"], r["kind"]) for r in rewards] == [
        ("张三", 300, "个人"),
        ("一组", 200, "党小组"),
        ("支部", 100, "支部"),
    ]


# -- party groups -------------------------------------------------------------------------


async def test_party_group_add_is_unique_per_branch(repos: Repositories, staff: Staff) -> None:
    two = await repos.party_groups.add("jj1", "二组", T0)
    assert two == PartyGroup(two.id, "jj1", "二组")
    with pytest.raises(Duplicate):
        await repos.party_groups.add("jj1", "二组", T0)
    elsewhere = await repos.party_groups.add("zc1", "二组", T0)  # a name is per branch
    assert await repos.party_groups.group(elsewhere.id) == elsewhere
    assert await repos.party_groups.group(elsewhere.id + 100) is None
    with pytest.raises(ConstraintViolation):
        await repos.party_groups.add("no_branch", "一组", T0)


async def test_party_groups_listed_by_branch_then_creation(
    repos: Repositories, staff: Staff
) -> None:
    one = await repos.party_groups.group_of(staff.worker.id)  # made by the roster
    assert one is not None
    three = await repos.party_groups.add("jj1", "三组", T0)
    two = await repos.party_groups.add("jj1", "二组", T0)
    zc = await repos.party_groups.add("zc1", "甲组", T0)
    jd = await repos.party_groups.add("jd", "乙组", T0)
    assert await repos.party_groups.groups_of_branch("jj1") == [one, three, two]
    assert await repos.party_groups.every() == [jd, one, three, two, zc]
    assert await repos.party_groups.group_named("jj1", " 二组 ") == two
    assert await repos.party_groups.group_named("jj1", "二") is None
    assert await repos.party_groups.group_named("zc1", "二组") is None


async def test_party_group_membership(repos: Repositories, staff: Staff) -> None:
    one = await repos.party_groups.group_of(staff.worker.id)
    assert one is not None
    two = await repos.party_groups.add("jj1", "二组", T0)
    await repos.party_groups.assign(staff.secretary.id, one.id)
    assert [p.employee_no for p in await repos.party_groups.members(one)] == ["E001", "S001"]
    assert await repos.party_groups.members(one.id) == await repos.party_groups.members(one)
    members = await repos.party_groups.members(one)
    assert members[1] == staff.secretary  # with roles
    await repos.party_groups.assign(staff.worker.id, two.id)  # out of the other group
    assert await repos.party_groups.group_of(staff.worker.id) == two
    assert [p.id for p in await repos.party_groups.members(one)] == [staff.secretary.id]
    await repos.party_groups.unassign(staff.secretary.id)
    assert await repos.party_groups.group_of(staff.secretary.id) is None
    assert await repos.party_groups.members(one) == []


async def test_member_activity_counts_each_branch_members_ideas(
    repos: Repositories, staff: Staff
) -> None:
    # By hand for jj1 from T0: 张三 has 2 counted ideas (1 adopted), a withdrawn one and
    # one from before T0 left out; 王书记 has none. 李四 is of zc1.
    group = await repos.party_groups.group_of(staff.worker.id)
    assert group is not None
    adopted = await add_idea(repos, staff.worker, "一", at(1))
    await repos.ideas.set_status(adopted.id, "adopted", at(2))
    await add_idea(repos, staff.worker, "二", at(2))
    gone = await add_idea(repos, staff.worker, "三", at(3))
    await repos.ideas.set_status(gone.id, "withdrawn", at(3))
    await add_idea(repos, staff.worker, "旧", at(-1))
    await add_idea(repos, staff.worker2, "别的支部", at(1))
    found = await repos.party_groups.member_activity(
        "jj1", T0, adopted={"adopted", "implemented"}, excluded={"withdrawn"}
    )
    assert found == [
        MemberActivity(staff.worker.id, "E001", "张三", group.id, 2, 1),
        MemberActivity(staff.secretary.id, "S001", "王书记", None, 0, 0),
    ]
    no_adopted = await repos.party_groups.member_activity(
        "jj1", T0, adopted=(), excluded={"withdrawn"}
    )
    assert [(m.ideas, m.adopted) for m in no_adopted] == [(2, 0), (0, 0)]


async def test_member_activity_with_nothing_excluded_counts_every_idea(
    repos: Repositories, staff: Staff
) -> None:
    await add_idea(repos, staff.worker, "一", at(1))
    gone = await add_idea(repos, staff.worker, "二", at(2))
    await repos.ideas.set_status(gone.id, "withdrawn", at(3))
    found = await repos.party_groups.member_activity("jj1", T0, adopted=(), excluded=())
    assert [(m.employee_no, m.ideas) for m in found] == [("E001", 2), ("S001", 0)]
