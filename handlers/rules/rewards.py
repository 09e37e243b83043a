"""Rewards from verified benefit: the 矿长特别奖励 of the first-Thursday safety meeting.

"Small projects: most to the workers; big projects: most to the company": `rewards.tiers` is
read like a tax table. Each band's share applies only to the benefit inside that band, so one
more yuan of benefit never lowers the reward (verified 100,000 yuan at 60 % gives 60,000;
100,001 gives 60,000 plus the next band's share of the last yuan). A project's bands run over
the basis its rewards have used so far and then its pending benefit, so a second claim
continues where the first one stopped (a claim set aside counts for neither).

Each verified claim stays on the reward list until rewards have taken all of it as their
basis or the leaders set it aside with a reason. A reward smaller than proposed takes only
the basis that would have proposed what it paid; the rest stays pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from handlers import access, parsing
from handlers.money import format_yuan
from handlers.notify import notify
from handlers.rules import audience, names
from handlers.services import Services
from storage import Branch, PartyGroup, PendingClaim, Person, Project, Recipient, RewardShare

Tiers = tuple[tuple[int | None, float], ...]
"""(upper bound in fen or None for the last band, the workers' share in that band)."""

LEAD_BRANCH_WEIGHT = 2
"""Parts of the proposal for the project's first (lead) branch; every other branch taking part,
every party group owning a key point and every author of a linked idea gets one part."""
OTHER_WEIGHT = 1


# -- the tier rule -----------------------------------------------------------------------


def tier_share(tiers: Tiers, fen: int) -> float:
    """The share of the band that holds the `fen`-th fen of a project's verified benefit."""
    for up_to, share in tiers:
        if up_to is None or fen <= up_to:
            return share
    return tiers[-1][1]


def tiered_reward(tiers: Tiers, total_fen: int) -> int:
    """The workers' reward for `total_fen` of verified benefit, band by band (fen, floored)."""
    reward = Decimal(0)
    lower = 0
    for up_to, share in tiers:
        top = total_fen if up_to is None else min(total_fen, up_to)
        if top > lower:
            reward += Decimal(str(share)) * (top - lower)
        if up_to is None or total_fen <= up_to:
            break
        lower = up_to
    return int(reward.to_integral_value(rounding=ROUND_FLOOR))


def basis_taken(tiers: Tiers, rewarded_fen: int, open_fen: int, paid_fen: int) -> int:
    """The basis a reward of `paid_fen` uses of the `open_fen` after `rewarded_fen`: the least
    that proposes at least what was paid (all of it when paid as proposed or more)."""
    start = tiered_reward(tiers, rewarded_fen)
    low, high = 0, open_fen
    while low < high:
        middle = (low + high) // 2
        if tiered_reward(tiers, rewarded_fen + middle) - start >= paid_fen:
            high = middle
        else:
            low = middle + 1
    return low


@dataclass(frozen=True, slots=True)
class Proposal:
    basis_fen: int
    """Verified benefit not yet rewarded nor set aside."""
    rewarded_basis_fen: int
    """Verified benefit that earlier rewards of the project took as their basis."""
    proposed_fen: int
    """The workers' reward for `basis_fen` by the tier rule."""

    @property
    def share(self) -> float:
        """The proposal as a share of its basis (the bands blended)."""
        return self.proposed_fen / self.basis_fen if self.basis_fen else 0.0


async def proposal(services: Services, project: Project) -> Proposal:
    pending = await services.repos.projects.pending_claims(project.id)
    return _proposal(services, await services.repos.projects.rewarded_basis(project.id), pending)


def _proposal(services: Services, rewarded: int, pending: Sequence[PendingClaim]) -> Proposal:
    tiers = services.settings.reward_tiers
    basis = sum(c.open_fen for c in pending)
    proposed = tiered_reward(tiers, rewarded + basis) - tiered_reward(tiers, rewarded)
    return Proposal(basis, rewarded, proposed)


async def pending_projects(services: Services) -> list[Project]:
    """Projects with verified benefit not yet rewarded nor set aside."""
    ids = dict.fromkeys(c.project_id for c in await services.repos.projects.pending_claims())
    found = [await services.repos.projects.get(i) for i in ids]
    return [p for p in found if p is not None]


# -- who is proposed ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed recipient (amount not yet known) and its parts of the proposal."""

    share: RewardShare
    weight: int


def group_label(branch: Branch | None, group: PartyGroup) -> str:
    """How a reward names a party group: 机掘一队一组 (branch as people say it, then group)."""
    return (names.short_branch_name(branch) if branch is not None else group.branch_id) + (
        group.name
    )


def group_share(branch: Branch | None, group: PartyGroup, fen: int) -> RewardShare:
    return RewardShare(None, group.branch_id, group_label(branch, group), fen, group.id)


async def proposed_recipients(services: Services, project: Project) -> list[Candidate]:
    """Who the proposal goes to: the lead (first) branch, the other branches taking part, the
    party groups (党小组) owning key points (each once, in key-point order), the authors of the
    linked ideas."""
    branches = {b.id: b for b in await services.repos.org.branches()}
    found: list[Candidate] = []
    for index, branch_id in enumerate(project.branches):
        branch = branches.get(branch_id)
        label = branch.name if branch is not None else branch_id
        weight = LEAD_BRANCH_WEIGHT if index == 0 else OTHER_WEIGHT
        found.append(Candidate(RewardShare(None, branch_id, label, 0), weight))
    group_ids = [k.group_id for k in await services.repos.projects.key_points(project.id)]
    for group_id in dict.fromkeys(g for g in group_ids if g is not None):
        group = await services.repos.party_groups.group(group_id)
        if group is not None:
            found.append(
                Candidate(group_share(branches.get(group.branch_id), group, 0), OTHER_WEIGHT)
            )
    authors: dict[int, str] = {}
    for idea_id in project.idea_ids:
        idea = await services.repos.ideas.get(idea_id)
        if idea is None or idea.author_id in authors:
            continue
        author = await services.repos.people.by_id(idea.author_id)
        if author is not None:
            authors[author.id] = author.name
    found += [
        Candidate(RewardShare(pid, None, name, 0), OTHER_WEIGHT) for pid, name in authors.items()
    ]
    return found


def split(candidates: Sequence[Candidate], fen: int) -> list[RewardShare]:
    """`fen` shared by weight; the first ones take the odd fen."""
    parts = sum(c.weight for c in candidates)
    if parts <= 0 or fen <= 0:
        return []
    amounts = [fen * c.weight // parts for c in candidates]
    for index in range(fen - sum(amounts)):
        amounts[index % len(amounts)] += 1
    return [
        c.share._replace(amount_fen=a) for c, a in zip(candidates, amounts, strict=True) if a > 0
    ]


async def proposed_shares(services: Services, project: Project, fen: int) -> list[RewardShare]:
    return split(await proposed_recipients(services, project), fen)


GROUP_SEPARATORS = ("/", "／")


async def _named_group(
    services: Services, every: Sequence[Branch], who: str, fen: int
) -> RewardShare | str:
    """The share of 'jj1/一组' or '机掘一队/一组': a party group of the branch named first."""
    for separator in GROUP_SEPARATORS:
        if separator in who:
            branch_text, _, group_text = who.partition(separator)
            break
    branches = names.branches(every, branch_text)
    if not branches:
        return f"没有找到支部“{parsing.shown(branch_text)}”:请写 支部/党小组,例如 jj1/一组。"
    if len(branches) > 1:
        listed = "、".join(names.short_branch_name(b) for b in branches[:8])
        return f"“{parsing.shown(branch_text)}”可能是:{listed},请写支部全名或编号。"
    branch = branches[0]
    groups = await services.repos.party_groups.groups_of_branch(branch.id)
    found = names.party_groups(groups, group_text)
    if not found:
        known = "、".join(g.name for g in groups) or "还没有党小组"
        return f"{branch.name}没有叫“{parsing.shown(group_text)}”的党小组(现有:{known})。"
    if len(found) > 1:
        listed = "、".join(g.name for g in found)
        return f"“{parsing.shown(group_text)}”可能是:{listed},请写党小组全名。"
    return group_share(branch, found[0], fen)


async def _project_group(
    services: Services, every: Sequence[Branch], project: Project | None, who: str, fen: int
) -> RewardShare | str | None:
    """The share of a party group named alone ('一组'), looked for among the groups of the
    project's branches; None when none of them has that name."""
    if project is None:
        return None
    by_id = {b.id: b for b in every}
    found: list[PartyGroup] = []
    for branch_id in project.branches:
        found += names.party_groups(
            await services.repos.party_groups.groups_of_branch(branch_id), who
        )
    exact = [g for g in found if g.name == who.strip()]
    found = exact or found
    if not found:
        return None
    if len(found) > 1:
        listed = "、".join(group_label(by_id.get(g.branch_id), g) for g in found[:8])
        return f"“{parsing.shown(who)}”可能是:{listed},请写 支部/党小组,例如 jj1/一组。"
    return group_share(by_id.get(found[0].branch_id), found[0], fen)


async def reward_share(
    services: Services, who: str, fen: int, project: Project | None = None
) -> RewardShare | str:
    """The share of the person (by 工号 or name), the branch (by id or name) or the party
    group ('jj1/一组', or its name alone when unique among `project`'s branches) named `who`,
    or why there is none (nobody, or several to choose from)."""
    every = await services.repos.org.branches()
    if any(separator in who for separator in GROUP_SEPARATORS):
        return await _named_group(services, every, who, fen)
    someone = names.people(await services.repos.people.by_number_or_name(who), who)
    if len(someone) == 1:
        return RewardShare(someone[0].id, None, someone[0].name, fen)
    if len(someone) > 1:
        listed = "、".join(f"{p.employee_no}({p.name})" for p in someone[:5])
        return f"“{parsing.shown(who)}”有 {len(someone)} 位:{listed},请写工号。"
    branches = names.branches(every, who)
    if len(branches) == 1:
        return RewardShare(None, branches[0].id, branches[0].name, fen)
    if branches:
        listed = "、".join(names.short_branch_name(b) for b in branches[:8])
        return f"“{parsing.shown(who)}”可能是:{listed},请写支部全名或编号。"
    group = await _project_group(services, every, project, who, fen)
    if group is not None:
        return group
    return (
        f"没有找到“{parsing.shown(who)}”:请写获奖人的工号或姓名,支部的编号或名称,"
        "或 支部/党小组(例如 jj1/一组)。"
    )


SELF_REWARD = "您是这笔奖励的获奖人之一,不能给自己确认奖励,请另一位党委领导确认。"
OWN_GROUP_REWARD = "您是获奖党小组的成员,不能给本组确认奖励,请另一位党委领导确认。"


async def confirm_refusal(
    services: Services, person: Person, shares: Sequence[RewardShare]
) -> str | None:
    """Why `person` may not confirm these shares, or None."""
    if not access.is_leader(person):
        return "只有党委领导可以确认奖励。"
    if not access.may_confirm_reward(person, (s.person_id for s in shares)):
        return SELF_REWARD
    own = await services.repos.party_groups.group_of(person.id)
    if not access.may_confirm_reward(
        person, (), (s.group_id for s in shares), own_group_id=own.id if own else None
    ):
        return OWN_GROUP_REWARD
    return None


# -- recording and telling ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    reward_id: int
    basis_fen: int
    """The verified benefit this reward used; what is left stays on the list."""
    people_told: int
    groups_told: int


def _takes(pending: Sequence[PendingClaim], fen: int) -> list[tuple[int, int]]:
    """`fen` of basis taken from the claims, oldest first."""
    takes = []
    for claim in pending:
        if fen <= 0:
            break
        part = min(fen, claim.open_fen)
        takes.append((claim.benefit_id, part))
        fen -= part
    return takes


async def record_reward(
    services: Services,
    person: Person,
    project: Project,
    shares: Sequence[RewardShare],
    note: str,
) -> Recorded | str:
    """Record the reward (the system keeps the ledger, pays nothing) and tell each person
    rewarded, the secretaries of each branch rewarded and the bound groups of the branches
    involved (never the one who records it); or why it was not recorded."""
    refusal = await confirm_refusal(services, person, shares)
    if refusal:
        return refusal
    repo = services.repos.projects
    pending = await repo.pending_claims(project.id)
    offer = _proposal(services, await repo.rewarded_basis(project.id), pending)
    total = sum(r.amount_fen for r in shares)
    if total > offer.basis_fen:
        return "奖励总额不能超过待奖励的核实效益。"
    tiers = services.settings.reward_tiers
    used = basis_taken(tiers, offer.rewarded_basis_fen, offer.basis_fen, total)
    reward_id = await repo.record_reward(
        project.id, _takes(pending, used), shares, note, person.id, services.now()
    )
    people, groups = await _tell(services, person, project, reward_id, shares)
    return Recorded(reward_id, used, people, groups)


async def _tell(
    services: Services,
    person: Person,
    project: Project,
    reward_id: int,
    shares: Sequence[RewardShare],
) -> tuple[int, int]:
    secretaries = await services.repos.people.with_role("secretary")
    told: set[int] = set()
    branches: list[str] = []
    for item in shares:
        if item.person_id is not None:
            whom = [(item.person_id, f"🎉 {item.label},您参与的重点项目")]
            someone = await services.repos.people.by_id(item.person_id)
            if someone is not None and someone.branch_id:
                branches.append(someone.branch_id)
        elif item.group_id is not None:  # the group's members and its branch's secretaries
            assert item.branch_id is not None  # a group's share carries its branch
            branches.append(item.branch_id)
            members = await services.repos.party_groups.members(item.group_id)
            whom = [
                (m.id, f"🎉 {m.name},您所在的党小组{item.label}参与的重点项目") for m in members
            ]
            whom += [
                (s.id, f"🎉 {s.name},{item.label}参与的重点项目")
                for s in secretaries
                if s.branch_id == item.branch_id and s.id not in {m.id for m in members}
            ]
        else:
            assert item.branch_id is not None  # a share is a person's or a branch's
            branches.append(item.branch_id)
            whom = [
                (s.id, f"🎉 {s.name},{item.label}参与的重点项目")
                for s in secretaries
                if s.branch_id == item.branch_id
            ]
        for person_id, opening in whom:
            if person_id == person.id:
                continue
            queued = await notify(
                services,
                await audience.person(services, person_id),
                f"{opening} {project.number}「{project.title}」获得奖励 "
                f"{format_yuan(item.amount_fen)}。",
                key=f"reward:{reward_id}:{_share_key(item)}:{person_id}",
            )
            if queued:
                told.add(person_id)
    listed = "、".join(f"{s.label} {format_yuan(s.amount_fen)}" for s in shares)
    text = f"🏅 重点项目 {project.number}「{project.title}」获得矿长特别奖励:{listed}。"
    groups: list[Recipient] = []
    for branch_id in dict.fromkeys(branches):
        groups += await audience.branch_groups(services, branch_id)
    group_count = 0
    for group in audience.unique(groups):
        group_count += bool(
            await notify(services, [group], text, key=f"reward:{reward_id}:group:{group.chat_id}")
        )
    return len(told), group_count


def _share_key(item: RewardShare) -> str:
    if item.group_id is not None:
        return f"g{item.group_id}"
    return str(item.person_id or item.branch_id)


async def set_aside(services: Services, person: Person, project: Project, reason: str) -> int:
    """Take the project's pending claims off the reward list for `reason`; how much (fen)."""
    pending = await services.repos.projects.pending_claims(project.id)
    await services.repos.projects.set_aside(
        [c.benefit_id for c in pending], reason, person.id, services.now()
    )
    return sum(c.open_fen for c in pending)


# -- the first-Thursday list -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeetingItem:
    project: Project
    newly_verified_fen: int
    """Of the pending benefit, what was verified since the last meeting."""
    proposal: Proposal
    shares: tuple[RewardShare, ...]
    """The proposal shared out to its proposed recipients."""


async def reward_meeting_items(services: Services, since: datetime) -> list[MeetingItem]:
    """Every project with verified benefit not yet rewarded nor set aside, with its proposal
    and proposed recipients; what was verified since `since` is shown as new."""
    repo = services.repos.projects
    pending = await repo.pending_claims()
    items = []
    for project_id in dict.fromkeys(c.project_id for c in pending):
        found = await repo.get(project_id)
        if found is None:
            continue
        claims = [c for c in pending if c.project_id == project_id]
        offer = _proposal(services, await repo.rewarded_basis(project_id), claims)
        new = sum(c.open_fen for c in claims if c.verified_at >= since)
        shares = await proposed_shares(services, found, offer.proposed_fen)
        items.append(MeetingItem(found, new, offer, tuple(shares)))
    return items
