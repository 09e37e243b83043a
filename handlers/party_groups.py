"""Party groups (党小组) in chat: /group shows one's branch's groups and what each did this
year; the branch's secretary makes groups (/group add) and puts people in them (/group assign).

The groups themselves are storage records (`PartyGroup`, `repos.party_groups`) that other
features point at by id; people name them within a branch (`names.party_groups`)."""

from __future__ import annotations

from handlers import access, parsing
from handlers.messages import Member, Reply
from handlers.money import format_yuan
from handlers.router import Command, Feature, Subcommand
from handlers.rules import names
from handlers.rules.ideas import ADOPTED, UNCOUNTED, year_start
from handlers.services import Services
from storage import Branch, Duplicate, KeyPoint, MemberActivity, PartyGroup, RewardReceived

USAGE = (
    "用法:/group 查看本支部的党小组;支部书记:/group add 名称 新建党小组,"
    "/group assign 工号(或姓名) 党小组 把人分进党小组。"
)
ADD_USAGE = "用法:/group add 名称,例如 /group add 一组。"
ASSIGN_USAGE = "用法:/group assign 工号(或姓名) 党小组,例如 /group assign E001 一组。"
NOT_SECRETARY = "只有本支部的支部书记可以新建党小组、给党小组分配人员。"
UNGROUPED_SHOWN = 30


def _counts(ideas: int, adopted: int) -> str:
    return f"{ideas} 条" + (f",已采纳 {adopted} 条" if adopted else "")


def _group_work(points: list[KeyPoint], received: list[RewardReceived]) -> list[str]:
    """A group's key points and the rewards it received, under its line in /group."""
    lines = []
    if points:
        listed = "、".join(f"P{k.project_id:02d} {k.title}({k.due_month} 到期)" for k in points)
        lines.append(f"  本组负责的关键点:{listed}")
    if received:
        total = format_yuan(sum(r.amount_fen for r in received))
        listed = "、".join(
            f"{r.project_number} {r.title} {format_yuan(r.amount_fen)}" for r in received
        )
        lines.append(f"  本组获得奖励 {total}:{listed}")
    return lines


def render_groups(
    branch: Branch,
    groups: list[PartyGroup],
    people: list[MemberActivity],
    year: int,
    viewer_id: int,
    points: list[KeyPoint] | None = None,
    received: dict[int, list[RewardReceived]] | None = None,
) -> str:
    """A branch's groups, each with its members' ideas this year, the key points it owns and
    the rewards it received, and who is in none."""
    points = points or []
    received = received or {}
    by_group = {g.id: [p for p in people if p.group_id == g.id] for g in groups}
    mine = next((g for g in groups if viewer_id in (p.person_id for p in by_group[g.id])), None)
    where = f";您在{mine.name}" if mine else ""
    lines = [f"{branch.name}的党小组({year} 年的金点子{where}):"]
    for group in groups:
        members = by_group[group.id]
        ideas, adopted = sum(p.ideas for p in members), sum(p.adopted for p in members)
        lines.append(f"{group.name}({len(members)} 人):金点子 {_counts(ideas, adopted)}")
        lines += [f"  · {p.name}({p.employee_no}):{_counts(p.ideas, p.adopted)}" for p in members]
        lines += _group_work(
            [k for k in points if k.group_id == group.id], received.get(group.id, [])
        )
    ungrouped = [p for p in people if p.group_id not in by_group]
    if ungrouped:
        listed = "、".join(f"{p.name}({p.employee_no})" for p in ungrouped[:UNGROUPED_SHOWN])
        more = f" 等 {len(ungrouped)} 人" if len(ungrouped) > UNGROUPED_SHOWN else ""
        lines.append(f"未分组({len(ungrouped)} 人):{listed}{more}")
    return "\n".join(lines)


async def show_groups(msg: Member, services: Services) -> list[Reply]:
    """查看本支部的党小组和各组今年的金点子:/group [支部]"""
    person = msg.person
    repos = services.repos
    branch_id = person.branch_id
    if msg.args.strip():
        all_branches = await repos.org.branches()
        found = names.branches(all_branches, msg.args)
        if not found:
            return [Reply(USAGE)]
        if len(found) > 1:
            shown = "、".join(names.short_branch_name(b) for b in found)
            return [Reply(f"“{parsing.shown(msg.args)}”可能是:{shown},请写全名。")]
        seen = access.visible_branches(person, all_branches)
        if seen is not None and found[0].id not in seen and found[0].id != person.branch_id:
            return [Reply(f"您看不到{found[0].name}的党小组。")]
        branch_id = found[0].id
    branch = await repos.org.branch(branch_id)
    if branch is None:
        return [Reply("您所在的支部不在配置里了,请联系管理员。")]
    groups = await repos.party_groups.groups_of_branch(branch.id)
    if not groups:
        hint = (
            "您可以用 /group add 名称 新建,再用 /group assign 工号 名称 把人分进去。"
            if access.may_manage_party_groups(person, branch.id)
            else ""
        )
        return [Reply(f"{branch.name}还没有党小组。{hint}")]
    local = services.local(services.now())
    people = await repos.party_groups.member_activity(
        branch.id, year_start(local), adopted=ADOPTED, excluded=UNCOUNTED
    )
    points = await repos.projects.key_points(branch_id=branch.id)
    received = await repos.party_groups.rewards_received(branch.id)
    return [Reply(render_groups(branch, groups, people, local.year, person.id, points, received))]


async def _own_branch(msg: Member, services: Services) -> Branch | str:
    """The branch whose groups the sender manages, or why they manage none."""
    branch = await services.repos.org.branch(msg.person.branch_id)
    if branch is None or not access.may_manage_party_groups(msg.person, branch.id):
        return NOT_SECRETARY
    return branch


async def add_group(msg: Member, services: Services) -> list[Reply]:
    """新建党小组:/group add 名称"""
    branch = await _own_branch(msg, services)
    if isinstance(branch, str):
        return [Reply(branch)]
    if not msg.args.strip():
        return [Reply(ADD_USAGE)]
    name = names.party_group_name(msg.args)
    if name is None:
        return [Reply(f"党小组名称不能有空格,也不能超过 {names.GROUP_NAME_MAX} 个字。")]
    taken = f"{branch.name}已经有党小组“{name}”了,没有改动。"
    if await services.repos.party_groups.group_named(branch.id, name) is not None:
        return [Reply(taken)]
    try:
        await services.repos.party_groups.add(branch.id, name, services.now())
    except Duplicate:
        return [Reply(taken)]
    return [Reply(f"已在{branch.name}新建党小组“{name}”。")]


async def assign_member(msg: Member, services: Services) -> list[Reply]:
    """把人分进党小组:/group assign 工号(或姓名) 党小组"""
    branch = await _own_branch(msg, services)
    if isinstance(branch, str):
        return [Reply(branch)]
    parts = msg.args.split()
    if len(parts) != 2:
        return [Reply(ASSIGN_USAGE)]
    who, group_text = parts
    repos = services.repos
    found = await repos.people.by_number_or_name(parsing.fold(who).strip())
    if not found:
        return [Reply(f"花名册里没有工号或姓名为“{parsing.shown(who)}”的人。")]
    if len(found) > 1:
        listed = "、".join(f"{p.name}(工号 {p.employee_no})" for p in found[:8])
        return [Reply(f"叫“{parsing.shown(who)}”的有 {len(found)} 位:{listed}。请改用工号。")]
    person = found[0]
    label = f"{person.name}(工号 {person.employee_no})"
    if person.branch_id != branch.id:
        return [Reply(f"{label}不在{branch.name},只能把本支部的人分进本支部的党小组。")]
    groups = await repos.party_groups.groups_of_branch(branch.id)
    if not groups:
        return [Reply(f"{branch.name}还没有党小组,请先用 /group add 名称 新建。")]
    matches = names.party_groups(groups, group_text)
    if not matches:
        known = "、".join(g.name for g in groups)
        return [Reply(f"{branch.name}没有叫“{parsing.shown(group_text)}”的党小组,现有:{known}。")]
    if len(matches) > 1:
        shown = "、".join(g.name for g in matches)
        return [Reply(f"“{parsing.shown(group_text)}”可能是:{shown},请写全名。")]
    group = matches[0]
    before = await repos.party_groups.group_of(person.id)
    if before == group:
        return [Reply(f"{label}已经在党小组“{group.name}”了,没有改动。")]
    await repos.party_groups.assign(person.id, group.id)
    was = f"(原来在{before.name})" if before else ""
    return [Reply(f"已把 {label}分到党小组“{group.name}”{was}。")]


FEATURE = Feature(
    commands=[
        Command(
            "group",
            show_groups,
            subcommands=(
                Subcommand("add", add_group, "/group add 名称", access.SECRETARIES, NOT_SECRETARY),
                Subcommand(
                    "assign",
                    assign_member,
                    "/group assign 工号 党小组",
                    access.SECRETARIES,
                    NOT_SECRETARY,
                ),
            ),
        )
    ]
)
