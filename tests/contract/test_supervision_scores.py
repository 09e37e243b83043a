"""Contract: findings and visits (`repos.findings`, `repos.visits`), monthly scores
(`repos.scores`), identity proofs (`repos.proofs`), achievements (`repos.achievements`)
and quarterly reports (`repos.quarters`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import (
    Duplicate,
    Finding,
    FindingEvent,
    InviteCode,
    Repositories,
)
from storage.models import BindRequest
from tests.contract.seed import SHANGHAI, T0, Staff, add_idea, at

# -- findings -----------------------------------------------------------------------------


async def _finding(
    repos: Repositories, staff: Staff, text: str, days: float = 0, branch: str = "jj1"
) -> Finding:
    return await repos.findings.add(
        branch=staff.branch(branch),
        text=text,
        person_id=staff.supervisor.id,
        project_ref=None,
        now=at(days),
    )


async def test_finding_add_round_trips_and_logs_the_add(repos: Repositories, staff: Staff) -> None:
    moment = at(0).astimezone(SHANGHAI)
    finding = await repos.findings.add(
        branch=staff.branch("jj1"), text="三会一课记录不全", person_id=staff.supervisor.id,
        project_ref="P01", now=moment,
    )  # fmt: skip
    assert (finding.branch_id, finding.department_id) == ("jj1", "publicity")  # the branch's
    assert (finding.text, finding.status, finding.escalated) == ("三会一课记录不全", "open", False)
    assert (finding.project_ref, finding.raised_by) == ("P01", staff.supervisor.id)
    assert finding.created_at == moment == finding.updated_at
    assert (finding.decision, finding.assigned_department, finding.decision_due) == (None,) * 3
    assert await repos.findings.get(finding.id) == finding
    assert await repos.findings.get(finding.id + 100) is None
    assert await repos.findings.history(finding.id) == [
        FindingEvent("add", "三会一课记录不全", "赵督导", moment)
    ]


async def test_finding_change_sets_status_and_escalation_with_history(
    repos: Repositories, staff: Staff
) -> None:
    finding = await _finding(repos, staff, "问题")
    await repos.findings.change(finding.id, staff.secretary.id, "note", "正在整改", at(1))
    await repos.findings.change(
        finding.id, staff.supervisor.id, "escalate", "上会", at(2), escalated=True
    )
    escalated = await repos.findings.get(finding.id)
    assert escalated is not None and escalated.escalated is True and escalated.status == "open"
    await repos.findings.change(
        finding.id, staff.secretary.id, "resolve", "已整改", at(3), status="resolved"
    )
    resolved = await repos.findings.get(finding.id)
    assert resolved is not None
    assert (resolved.status, resolved.escalated, resolved.updated_at) == ("resolved", True, at(3))
    events = await repos.findings.history(finding.id)
    assert [(e.action, e.text, e.person_name) for e in events] == [
        ("add", "问题", "赵督导"),
        ("note", "正在整改", "王书记"),
        ("escalate", "上会", "赵督导"),
        ("resolve", "已整改", "王书记"),
    ]


async def test_finding_search_filters_oldest_first(repos: Repositories, staff: Staff) -> None:
    late = await _finding(repos, staff, "晚", 2)
    early = await _finding(repos, staff, "早", 1)
    other = await _finding(repos, staff, "综采", 0, "zc1")
    done = await _finding(repos, staff, "已解决", 3)
    await repos.findings.change(
        done.id, staff.secretary.id, "resolve", "", at(4), status="resolved"
    )
    await repos.findings.change(late.id, staff.supervisor.id, "escalate", "", at(4), escalated=True)
    ids = [f.id for f in await repos.findings.search(branches=None)]
    assert ids == [other.id, early.id, late.id]
    jj1 = await repos.findings.search(branches=["jj1"], include_resolved=True)
    assert [f.id for f in jj1] == [early.id, late.id, done.id]
    assert [f.id for f in await repos.findings.search(branches=None, escalated_only=True)] == [
        late.id
    ]
    assert await repos.findings.search(branches=[]) == []
    assert [f.id for f in await repos.findings.search(branches=None, limit=1)] == [other.id]
    assert await repos.findings.open_counts() == {"jj1": 2, "zc1": 1}


async def test_findings_opened_between_with_when_they_were_resolved(
    repos: Repositories, staff: Staff
) -> None:
    a = await _finding(repos, staff, "甲", 1)
    b = await _finding(repos, staff, "乙", 2, "zc1")
    c = await _finding(repos, staff, "丙", 3)
    await _finding(repos, staff, "太晚", 10)
    await repos.findings.change(a.id, staff.secretary.id, "resolve", "", at(4), status="resolved")
    await repos.findings.change(c.id, staff.secretary.id, "resolve", "", at(5), status="resolved")
    await repos.findings.change(c.id, staff.supervisor.id, "reopen", "", at(6), status="open")
    found = await repos.findings.opened_between(T0, at(10))
    # By branch, then time: jj1's a and c, then zc1's b. c was reopened: not resolved.
    assert [(f.id, resolved) for f, resolved in found] == [
        (a.id, at(4)),
        (c.id, None),
        (b.id, None),
    ]


async def test_finding_decisions_agenda_and_decided_open(repos: Repositories, staff: Staff) -> None:
    old = await _finding(repos, staff, "久拖未决", -20)
    fresh = await _finding(repos, staff, "新问题", 0)
    escalated = await _finding(repos, staff, "上会", 0, "zc1")
    await repos.findings.change(
        escalated.id, staff.supervisor.id, "escalate", "", at(0), escalated=True
    )
    overdue = await _finding(repos, staff, "决定已过期", -1)
    await repos.findings.decide(
        overdue.id, staff.leader.id, text="限期整改", department_id="organization",
        due="2026-03-01", now=at(-1),
    )  # fmt: skip
    due = await _finding(repos, staff, "决定未到期", -1)
    await repos.findings.decide(
        due.id, staff.leader.id, text="本周完成", department_id="publicity",
        due="2026-03-06", now=at(0),
    )  # fmt: skip
    decided = await repos.findings.get(due.id)
    assert decided is not None
    assert (decided.decision, decided.assigned_department, decided.decision_due) == (
        "本周完成",
        "publicity",
        "2026-03-06",
    )
    assert (await repos.findings.history(due.id))[-1].action == "decide"
    agenda = await repos.findings.for_agenda(at(-14), "2026-03-02")
    # By department, branch, time: organization's zc1 escalated; publicity's jj1 old, overdue.
    assert [f.id for f in agenda] == [escalated.id, old.id, overdue.id]
    assert fresh.id not in [f.id for f in agenda]
    assert [f.id for f in await repos.findings.decided_open("2026-03-02")] == [due.id]
    assert await repos.findings.decided_open("2026-03-07") == []


async def test_finding_ledger_in_chunks(repos: Repositories, staff: Staff) -> None:
    a = await _finding(repos, staff, "甲", 1)
    b = await _finding(repos, staff, "乙", 2, "zc1")
    c = await _finding(repos, staff, "丙", 3)
    await repos.findings.change(b.id, staff.secretary.id, "resolve", "", at(5), status="resolved")
    await repos.findings.decide(
        c.id, staff.leader.id, text="督办", department_id="party_office", due="2026-03-20",
        now=at(4),
    )  # fmt: skip
    rows = [r async for r in repos.findings.ledger(chunk=2)]
    assert [r["id"] for r in rows] == [a.id, b.id, c.id]
    assert (rows[0]["branch"], rows[0]["department"], rows[0]["resolved_at"]) == (
        "机掘一队党支部",
        "宣传部",
        None,
    )
    assert rows[1]["department"] == "组织部" and rows[1]["resolved_at"] is not None
    assert (rows[2]["decision"], rows[2]["assigned"]) == ("督办", "党委办公室")


# -- visits -------------------------------------------------------------------------------


async def test_visits_counted_by_time_month_and_department(
    repos: Repositories, staff: Staff
) -> None:
    jj1, zc1 = staff.branch("jj1"), staff.branch("zc1")
    v = repos.visits
    await v.add(
        branch=jj1, person_id=staff.supervisor.id, note="例行", now=at(-5), local_month="2026-02"
    )
    await v.add(
        branch=jj1, person_id=staff.supervisor.id, note="", now=at(1), local_month="2026-03"
    )
    await v.add(
        branch=jj1, person_id=staff.supervisor.id, note="", now=at(2), local_month="2026-03"
    )
    await v.add(
        branch=zc1, person_id=staff.supervisor.id, note="", now=at(3), local_month="2026-03"
    )
    assert await v.since(T0) == {"jj1": 2, "zc1": 1}
    assert await v.counts("2026-03") == {"jj1": 2, "zc1": 1}
    assert await v.counts("2026-01") == {}
    assert await v.by_department(["2026-02", "2026-03"]) == {
        ("jj1", "publicity"): 3,
        ("zc1", "organization"): 1,
    }
    assert await v.by_department([]) == {}
    rows = [r async for r in v.ledger(chunk=3)]
    first = rows[0]
    assert (first["branch"], first["department"], first["supervisor"], first["note"]) == (
        "机掘一队党支部",
        "宣传部",
        "赵督导",
        "例行",
    )
    assert len(rows) == 4


# -- scores -------------------------------------------------------------------------------


async def test_scores_latest_entry_of_each_part_counts(repos: Repositories, staff: Staff) -> None:
    s = repos.scores
    await s.enter("jj1", "2026-02", "base", 80, "", staff.leader.id, at(0))
    await s.enter("jj1", "2026-02", "base", 85.5, "复核后", staff.leader.id, at(1))
    await s.enter("jj1", "2026-02", "self", 90, "自评", staff.secretary.id, at(1))
    await s.enter("zc1", "2026-02", "self", 70, "", None, at(1))
    await s.enter("zc1", "2026-03", "dept", 60, "三月", staff.supervisor.id, at(2))
    assert await s.month("2026-02") == {
        "jj1": {"base": 85.5, "self": 90.0},
        "zc1": {"self": 70.0},
    }
    values = (await s.month("2026-02"))["jj1"].values()
    assert all(isinstance(x, float) for x in values)
    assert await s.month("2025-12") == {}
    assert await s.latest(["2026-02", "2026-03"]) == {
        "2026-02": {"jj1": {"base": 85.5, "self": 90.0}, "zc1": {"self": 70.0}},
        "2026-03": {"zc1": {"dept": 60.0}},
    }
    assert await s.latest([]) == {}
    assert await s.months() == ["2026-02", "2026-03"]
    assert await s.notes("2026-02", "base") == {"jj1": "复核后"}
    assert await s.notes("2026-02", "self") == {"jj1": "自评"}  # zc1's empty text left out


async def test_scores_say_who_entered_each_parts_latest_value(
    repos: Repositories, staff: Staff
) -> None:
    s = repos.scores
    await s.enter("jj1", "2026-02", "base", 80, "", staff.leader.id, at(0))
    await s.enter("jj1", "2026-02", "base", 85, "", staff.admin.id, at(1))  # the latest counts
    await s.enter("jj1", "2026-02", "self", 90, "", staff.secretary.id, at(2))
    await s.enter("zc1", "2026-02", "self", 70, "", None, at(3))  # entered by nobody known
    await s.enter("jj1", "2026-03", "base", 60, "", staff.leader.id, at(4))
    assert await s.entered_by("2026-02") == {
        ("jj1", "base"): (staff.admin.name, at(1)),
        ("jj1", "self"): (staff.secretary.name, at(2)),
        ("zc1", "self"): ("", at(3)),
    }
    assert await s.entered_by("2025-12") == {}


async def test_score_months_close_and_reopen_with_a_reason(
    repos: Repositories, staff: Staff
) -> None:
    s = repos.scores
    assert await s.is_closed("2026-02") is False
    assert await s.close("2026-02", staff.leader.id, at(0)) is True
    assert await s.close("2026-02", staff.leader.id, at(1)) is False
    assert await s.is_closed("2026-02") is True
    assert await s.last_reopening("2026-02") is None
    assert await s.reopen("2026-02", "分数录错", staff.admin.id, at(2)) is True
    assert await s.reopen("2026-02", "再来", staff.admin.id, at(3)) is False  # not closed
    assert await s.is_closed("2026-02") is False
    await s.close("2026-02", staff.leader.id, at(4))
    await s.reopen("2026-02", "第二次", staff.admin.id, at(5).astimezone(SHANGHAI))
    assert await s.last_reopening("2026-02") == ("第二次", at(5))


async def test_scores_changed_since_a_moment(repos: Repositories, staff: Staff) -> None:
    s = repos.scores
    await s.enter("jj1", "2026-02", "base", 80, "", None, at(0))
    await s.enter("jj1", "2026-02", "self", 90, "", None, at(0))
    await s.enter("jj1", "2026-02", "base", 82, "", None, at(2))  # changed
    await s.enter("jj1", "2026-02", "self", 90, "", None, at(2))  # same value again
    await s.enter("zc1", "2026-02", "dept", 75, "", None, at(3))  # new after the moment
    found = await s.changed_since("2026-02", at(1))
    assert sorted(found, key=lambda c: (c[0], c[1])) == [
        ("jj1", "base", 80.0, 82.0),
        ("zc1", "dept", None, 75.0),
    ]


# -- proofs -------------------------------------------------------------------------------


async def test_invite_codes_newest_replaces_and_used_once(
    repos: Repositories, staff: Staff
) -> None:
    p = repos.proofs
    pid = staff.worker.id
    await p.issue_code(pid, "salt1", "hash1", staff.secretary.id, at(0), at(1))
    await p.issue_code(pid, "salt2", "hash2", None, at(0, hours=1), at(2).astimezone(SHANGHAI))
    code = await p.open_code(pid, at(0, hours=2))
    assert code == InviteCode(code.id if code else 0, pid, "salt2", "hash2", at(2))
    assert code is not None
    assert await p.open_code(pid, at(2)) is None  # expired at that very moment
    assert await p.use_code(code.id, at(1)) is True
    assert await p.use_code(code.id, at(1)) is False
    assert await p.open_code(pid, at(1)) is None
    assert await p.open_code(staff.worker2.id, at(0)) is None


async def test_bind_failures_counted_after_a_moment(repos: Repositories) -> None:
    p = repos.proofs
    for minutes in (1, 2, 3):
        await p.record_failure("telegram", "77", at(0, minutes=minutes))
    await p.record_failure("telegram", "88", at(0, minutes=2))
    assert await p.failures_since("telegram", "77", at(0, minutes=1)) == 2  # strictly after
    assert await p.failures_since("telegram", "77", T0) == 3
    assert await p.failures_since("wecom", "77", T0) == 0


async def test_bind_requests_one_open_per_sender_decided_once(
    repos: Repositories, staff: Staff
) -> None:
    p = repos.proofs
    rid = await p.request(staff.worker.id, "telegram", "77", at(0))
    assert await p.request_by_id(rid) == BindRequest(
        rid, staff.worker.id, "telegram", "77", "pending"
    )
    with pytest.raises(Duplicate):
        await p.request(staff.worker2.id, "telegram", "77", at(1))
    assert await p.decide(rid, False, staff.secretary.id, at(2)) is True
    assert await p.decide(rid, True, staff.secretary.id, at(3)) is False
    decided = await p.request_by_id(rid)
    assert decided is not None and decided.status == "rejected"
    again = await p.request(staff.worker.id, "telegram", "77", at(4))  # a new one may follow
    assert again != rid
    assert await p.request_by_id(again + 100) is None


# -- achievements -------------------------------------------------------------------------


async def test_achievements_listed_by_kind_project_and_time(
    repos: Repositories, staff: Staff
) -> None:
    pid = await repos.projects.create(
        title="项目", category="other", lead_id=staff.leader.id, branches=["jj1"],
        expected_fen=0, person_id=staff.leader.id, now=T0,
    )  # fmt: skip
    a = repos.achievements

    idea = await add_idea(repos, staff.worker, "托辊改进", T0)

    async def add(kind: str, title: str, note: str, project: int | None, days: float) -> int:
        who = staff.admin.id if kind == "patent" else staff.leader.id
        return await a.add(  # each names a project or an idea
            kind=kind, title=title, note=note, project_id=project,
            idea_id=None if project else idea.id,
            person_id=who, now=at(days),
        )  # fmt: skip

    m1 = await add("management_method", "锚杆回收法", "", pid, 1)
    p1 = await add("patent", "一种托辊", "实用新型", None, 5)
    m2 = await add("management_method", "班组管理法", "", None, 9)
    assert [x.id for x in await a.listed()] == [m1, p1, m2]
    assert [x.id for x in await a.listed(kind="management_method")] == [m1, m2]
    assert [x.id for x in await a.listed(project_id=pid)] == [m1]
    window = await a.listed(since=at(1).astimezone(SHANGHAI), until=at(9))
    assert [x.id for x in window] == [m1, p1]
    patent = window[1]
    assert (patent.kind, patent.title, patent.note, patent.person_name) == (
        "patent",
        "一种托辊",
        "实用新型",
        "孙管理",
    )
    assert patent.created_at == at(5) and (patent.project_id, patent.idea_id) == (None, idea.id)
    assert await a.counts() == {"management_method": 2, "patent": 1}


# -- quarters -----------------------------------------------------------------------------


async def test_quarter_reports_resubmitted_keep_id_and_comments(
    repos: Repositories, staff: Staff
) -> None:
    q = repos.quarters
    p1 = await repos.projects.create(
        title="一", category="other", lead_id=staff.leader.id, branches=["jj1", "zc1"],
        expected_fen=0, person_id=staff.leader.id, now=T0,
    )  # fmt: skip
    p2 = await repos.projects.create(
        title="二", category="other", lead_id=staff.leader.id, branches=["jj1"],
        expected_fen=0, person_id=staff.leader.id, now=T0,
    )  # fmt: skip

    async def report(project: int, branch: str, text: str, days: float) -> int:
        return await q.save_report(
            quarter="2026Q1", project_id=project, branch_id=branch, progress=text,
            problems="缺人手", next_steps="继续", person_id=staff.secretary.id, now=at(days),
        )  # fmt: skip

    first = await report(p2, "jj1", "完成三成", 1)
    await report(p1, "zc1", "综采进度", 1)
    await report(p1, "jj1", "机掘进度", 1)
    await q.add_comment(first, staff.leader.id, "加快进度", at(2))
    await q.add_comment(first, staff.admin.id, "同意", at(3))
    assert await report(p2, "jj1", "完成五成", 4) == first  # replaces, same id
    got = await q.report(first)
    assert got is not None
    assert (got.progress, got.problems, got.next_steps) == ("完成五成", "缺人手", "继续")
    assert (got.person_name, got.reported_at) == ("王书记", at(4))
    assert [(c.person_name, c.text, c.created_at) for c in got.comments] == [
        ("钱领导", "加快进度", at(2)),
        ("孙管理", "同意", at(3)),
    ]
    listed = await q.reports("2026Q1")
    assert [(r.branch_id, r.project_id) for r in listed] == [("jj1", p1), ("jj1", p2), ("zc1", p1)]
    assert [r.project_id for r in await q.reports("2026Q1", "zc1")] == [p1]
    assert await q.reports("2026Q2") == []
    assert await q.report(first + 100) is None


async def test_quarter_progress_as_of_a_moment(repos: Repositories, staff: Staff) -> None:
    pid = await repos.projects.create(
        title="一", category="other", lead_id=staff.leader.id, branches=["jj1"],
        expected_fen=0, person_id=staff.leader.id, now=T0,
    )  # fmt: skip
    quiet = await repos.projects.create(
        title="二", category="other", lead_id=staff.leader.id, branches=["jj1"],
        expected_fen=0, person_id=staff.leader.id, now=T0,
    )  # fmt: skip
    await repos.projects.add_progress(pid, staff.secretary.id, 20, "", at(1))
    await repos.projects.add_progress(pid, staff.secretary.id, None, "", at(2))
    await repos.projects.add_progress(pid, staff.secretary.id, 90, "", at(10))
    await repos.projects.add_progress(quiet, staff.secretary.id, 5, "", at(20))
    assert await repos.quarters.progress_as_of(at(5)) == {pid: (at(2), None)}
    found = await repos.quarters.progress_as_of(at(30) + timedelta(seconds=1))
    assert found == {pid: (at(10), 90), quiet: (at(20), 5)}
