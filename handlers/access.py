"""Who may do what: every role check and every scope in one place.

Commands declare the roles that may use them (`Roles`, checked by the router before a
handler runs); the rules ask the predicates below about one object (this branch, this
idea, this project, this finding). Nothing else reads a person's roles.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from storage import Branch, Finding, Idea, IdeaScope, Person, Project, QuarterReport, Role

Roles = frozenset[str]

PUBLIC = "public"
"""Pseudo-role: usable before registration."""

ROLE_NAMES = {
    "worker": "职工",
    "secretary": "支部书记",
    "supervisor": "督导人员",
    "leader": "党委领导",
    "admin": "管理员",
}

ROLE_ALIASES = {
    "职工": "worker",
    "员工": "worker",
    "工人": "worker",
    "矿工": "worker",
    "支部书记": "secretary",
    "党支部书记": "secretary",
    "书记": "secretary",
    "督导人员": "supervisor",
    "督导员": "supervisor",
    "督导": "supervisor",
    "党委领导": "leader",
    "领导": "leader",
    "党委委员": "leader",
    "管理员": "admin",
}
"""The Chinese names people write for each role (ROLE_NAMES' own among them)."""

ANYONE: Roles = frozenset({PUBLIC})
LEADERS: Roles = frozenset({"leader", "admin"})
ADMINS: Roles = frozenset({"admin"})
SUPERVISORS: Roles = frozenset({"supervisor"})
SECRETARIES: Roles = frozenset({"secretary"})
OVERSIGHT: Roles = frozenset({"supervisor", "leader", "admin"})
"""Those who watch branches from outside: supervisors and leaders."""
STAFF: Roles = frozenset({"supervisor", "secretary", "leader", "admin"})
"""Everyone who handles supervision findings."""
PROJECT_STAFF: Roles = frozenset({"leader", "admin", "secretary"})
BRANCH_STAFF: Roles = frozenset({"secretary", "leader", "admin"})
"""Those who read a branch's or the whole mine's figures."""
FINDING_RAISERS: Roles = frozenset({"supervisor", "leader", "admin"})
INVITERS: Roles = frozenset({"secretary", "admin"})
"""Who hands out one-time registration codes."""
WEB_USERS: Roles = frozenset({"secretary", "supervisor", "leader", "admin"})
"""Who enters the web 看板 (/web): those who run the campaign, not the miners."""
PRIVILEGED: Roles = frozenset({"secretary", "supervisor", "leader", "admin"})
"""Roles that never bind a chat identity on a roster line or a secretary's word alone."""


def holds(person: Person | None, roles: Roles | None) -> bool:
    """May `person` use something open to `roles` (None: any registered person)?"""
    if roles is not None and PUBLIC in roles:
        return True
    if person is None:
        return False
    return roles is None or person.has_role(*roles)


def standing(person: Person | None) -> Hashable:
    """What `holds` depends on for a person: people of the same standing may use the same."""
    return None if person is None else person.roles


def role_names(roles: Iterable[str]) -> str:
    return "、".join(ROLE_NAMES.get(r, r) for r in sorted(roles))


def role_id(text: str) -> str | None:
    """The role a person wrote: its id (any case) or one of its Chinese names; None if none."""
    name = text.strip()
    if name.lower() in ROLE_NAMES:
        return name.lower()
    return ROLE_ALIASES.get(name)


def accepted_role_names() -> str:
    """Every way to write each role, for a reply to a role nobody has."""
    parts = []
    for role in ROLE_NAMES:
        names = [ROLE_NAMES[role], *(a for a, r in ROLE_ALIASES.items() if r == role)]
        shown = "/".join(dict.fromkeys(names))
        suffix = ":部门" if role == "supervisor" else ""
        parts.append(f"{shown}{suffix}({role}{suffix.replace('部门', '部门编号')})")
    return "、".join(parts)


def is_leader(person: Person) -> bool:
    """Committee members and admins: they see and decide everything."""
    return person.has_role("leader", "admin")


def is_committee_member(person: Person) -> bool:
    """Who may lead a key project: a committee member (leader) proper."""
    return person.has_role("leader")


def is_secretary(person: Person) -> bool:
    return person.has_role("secretary")


def secretary_of(person: Person, branch_id: str) -> bool:
    return person.has_role("secretary") and person.branch_id == branch_id


def departments_of(person: Person) -> set[str]:
    """The departments whose supervisor the person is."""
    return {r.department_id for r in person.roles if r.role == "supervisor" and r.department_id}


def supervises(person: Person, department_id: str) -> bool:
    return department_id in departments_of(person)


def visible_branches(person: Person, branches: Sequence[Branch]) -> list[str] | None:
    """Branch ids the person may see; None means every branch.

    Leaders see all; a supervisor the branches of their department; a secretary their own.
    """
    if is_leader(person):
        return None
    departments = departments_of(person)
    seen = [b.id for b in branches if b.department_id in departments]
    if is_secretary(person) and person.branch_id not in seen:
        seen.append(person.branch_id)
    return seen


def own_branch_scope(person: Person) -> str | None:
    """The branch a secretary's figures are limited to; None for leaders (the whole mine)."""
    return None if is_leader(person) else person.branch_id


# -- the web 看板 --------------------------------------------------------------------------


def may_use_web(person: Person) -> bool:
    """Checked on every page, not only at /web: a role taken away closes the 看板 at once."""
    return holds(person, WEB_USERS)


def may_manage_web_sessions(person: Person) -> bool:
    """Admins list and end anyone's 看板 sessions."""
    return person.has_role("admin")


def may_see_projects(person: Person) -> bool:
    """/projects in chat and on the 看板: leaders, and secretaries for their branches'."""
    return holds(person, PROJECT_STAFF)


def may_see_findings(person: Person) -> bool:
    """/findings in chat and on the 看板: everyone who handles supervision findings."""
    return holds(person, STAFF)


def may_see_agenda(person: Person) -> bool:
    """/agenda in chat and on the 看板: supervisors (their department's part) and leaders."""
    return holds(person, OVERSIGHT)


def may_read_scores(person: Person) -> bool:
    """The monthly scores page and its grid: whoever /score shows scores to (a secretary their
    branch, a supervisor their department's, leaders every branch; the rules narrow it)."""
    return holds(person, STAFF)


def may_read_quarter_pack(person: Person) -> bool:
    """The quarterly pack's view: leaders every branch, a secretary their own, as /quarter."""
    return is_leader(person) or is_secretary(person)


def may_download_ledger(person: Person) -> bool:
    """The 台账 holds the whole mine (every idea with its author, every score and finding), so
    only those who see the whole mine in chat take it: leaders and admins."""
    return is_leader(person)


def may_download(person: Person) -> bool:
    """The downloads page: the ledger and the quarterly pack are both the leaders'."""
    return may_download_ledger(person)


# -- the quarterly review ---------------------------------------------------------------


def may_report_quarter(person: Person, project: Project) -> bool:
    """A secretary reports on the key projects their own branch takes part in."""
    return is_secretary(person) and person.branch_id in project.branches


def may_read_quarter(person: Person, report: QuarterReport) -> bool:
    """Leaders read every branch's quarterly report; a secretary their own branch's."""
    return is_leader(person) or (is_secretary(person) and report.branch_id == person.branch_id)


def may_comment_quarter(person: Person) -> bool:
    return is_leader(person)


# -- ideas -------------------------------------------------------------------------------


def may_review_idea(person: Person, idea: Idea) -> bool:
    """Leaders, and the secretary of the author's branch."""
    return is_leader(person) or secretary_of(person, idea.branch_id)


def idea_scope(person: Person, branches: Sequence[Branch]) -> IdeaScope:
    """The ideas a person may see in lists and searches: leaders every idea; a secretary
    their branch's, a supervisor those of their department's branches; everyone their own.

    One's own ideas are asked for apart only when one's branch is not seen anyway (a worker,
    a supervisor of other branches), so that a branch's list reads one index."""
    seen = visible_branches(person, branches)
    if seen is None:
        return IdeaScope(None)
    own = None if person.branch_id in seen else person.id
    return IdeaScope(tuple(seen), author_id=own)


def unseen_branches(person: Person, scope: IdeaScope, branch_ids: Iterable[str]) -> list[str]:
    """Of the branches a person asks a list for, those whose ideas the scope does not show
    (one's own branch shows one's own ideas)."""
    if scope.branches is None:
        return []
    shown = {*scope.branches, *([person.branch_id] if scope.author_id is not None else [])}
    return [b for b in branch_ids if b not in shown]


def review_scope(person: Person) -> IdeaScope:
    """The ideas a person may review (see `may_review_idea`): leaders every idea, a
    secretary their branch's, anyone else none."""
    if is_leader(person):
        return IdeaScope(None)
    return IdeaScope((person.branch_id,) if is_secretary(person) else ())


def may_recategorize(person: Person, idea: Idea) -> bool:
    """Authors, their branch secretary and leaders may correct a category."""
    return idea.author_id == person.id or may_review_idea(person, idea)


def may_merge(person: Person, idea: Idea, into: Idea) -> bool:
    """Leaders merge any two ideas; a secretary only two of their own branch."""
    return is_leader(person) or (
        secretary_of(person, idea.branch_id) and secretary_of(person, into.branch_id)
    )


# -- key projects ------------------------------------------------------------------------


def may_adopt(person: Person, idea: Idea, project_branches: Iterable[str]) -> bool:
    """Leaders adopt any idea; a secretary their branch's ideas into projects it takes part in."""
    if is_leader(person):
        return True
    return secretary_of(person, idea.branch_id) and idea.branch_id in set(project_branches)


def may_act_on_project(person: Person, lead_id: int, branch_ids: Iterable[str]) -> bool:
    """Leaders, the project's lead and the secretaries of its branches: they report on it,
    claim its benefit and see its details."""
    if is_leader(person) or person.id == lead_id:
        return True
    return is_secretary(person) and person.branch_id in set(branch_ids)


def may_plan_project(person: Person, lead_id: int) -> bool:
    """Leaders and the project's lead share it out into key points and set its KPIs."""
    return is_leader(person) or person.id == lead_id


def may_record_achievement(person: Person, lead_id: int | None) -> bool:
    """Leaders record any achievement; a project's lead those of their project (lead_id None:
    an idea outside any project, leaders only)."""
    return is_leader(person) or (lead_id is not None and person.id == lead_id)


def may_report_on_key_point(person: Person, lead_id: int, branch_id: str) -> bool:
    """The secretary of the branch that owns a key point reports on it; the project's lead
    and the leaders on any of its key points."""
    return is_leader(person) or person.id == lead_id or secretary_of(person, branch_id)


def may_verify_benefit(person: Person, claimed_by: int) -> bool:
    """Leaders verify benefit claims, never their own: whoever claimed needs another's eyes."""
    return is_leader(person) and person.id != claimed_by


def may_confirm_reward(
    person: Person,
    recipient_ids: Iterable[int | None],
    group_ids: Iterable[int | None] = (),
    *,
    own_group_id: int | None = None,
) -> bool:
    """Leaders confirm rewards, never one that pays themselves or the party group they are
    in (`own_group_id`)."""
    if not is_leader(person) or person.id in set(recipient_ids):
        return False
    return own_group_id is None or own_group_id not in set(group_ids)


# -- supervision -------------------------------------------------------------------------


def may_raise_finding(person: Person, branch: Branch) -> bool:
    return is_leader(person) or supervises(person, branch.department_id)


def finding_roles(person: Person, finding: Finding) -> set[str]:
    """How the person stands to a finding: 'secretary', 'supervisor', 'leader' (any of them)."""
    stands = set()
    if secretary_of(person, finding.branch_id):
        stands.add("secretary")
    if supervises(person, finding.department_id):
        stands.add("supervisor")
    if is_leader(person):
        stands.add("leader")
    if finding.assigned_department and supervises(person, finding.assigned_department):
        stands.add("assigned")  # the department the Monday meeting assigned it to
    return stands


def may_decide_finding(person: Person) -> bool:
    """The Monday meeting's decision on a finding is recorded by a leader."""
    return is_leader(person)


# -- groups and scores -------------------------------------------------------------------


def may_set_role(admin: Person, person: Person) -> bool:
    """An admin sets anybody's role but their own (another admin must)."""
    return holds(admin, ADMINS) and admin.id != person.id


def leaves_no_admin(person: Person, roles_after: Iterable[Role], admins: int) -> bool:
    """Would giving `person` the roles `roles_after` leave the mine without an admin?
    `admins` counts those holding the admin role now."""
    return person.has_role("admin") and admins <= 1 and all(r.role != "admin" for r in roles_after)


def may_manage_party_groups(person: Person, branch_id: str) -> bool:
    """A branch's secretary makes its party groups and puts its people in them."""
    return secretary_of(person, branch_id)


def may_bind_group(person: Person, branch: Branch) -> bool:
    return secretary_of(person, branch.id) or person.has_role("admin")


def may_rebind_group(person: Person) -> bool:
    """Moving a group from one branch to another takes its notices away: admins only."""
    return person.has_role("admin")


def may_enter_score(person: Person, part: str, branch: Branch) -> bool:
    """self: the branch's secretary; dept: its supervising department, or a leader filling in
    where the department has not (or has nobody to); leader, base: leaders."""
    if part == "self":
        return secretary_of(person, branch.id)
    if part == "dept":
        return supervises(person, branch.department_id) or is_leader(person)
    return is_leader(person)


# -- identity ----------------------------------------------------------------------------


def may_be_vouched_for(person: Person) -> bool:
    """Only a worker binds on their secretary's approval; privileged roles need a proof."""
    return not person.has_role(*PRIVILEGED)


def may_vouch(person: Person, branch_id: str) -> bool:
    """The branch's secretary, or an admin when no secretary can."""
    return secretary_of(person, branch_id) or person.has_role("admin")


def may_invite(issuer: Person, person: Person) -> bool:
    """Admins invite anyone; a secretary only the workers of their own branch."""
    if issuer.has_role("admin"):
        return True
    return secretary_of(issuer, person.branch_id) and may_be_vouched_for(person)
