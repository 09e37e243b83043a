"""Several roles per person (roster rows, a roles column, /role add|remove) and party groups
(党小组): from the roster, by /group, and what a group did this year."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.roster import RosterProblems, import_roster, parse_roster
from handlers import access
from handlers.rules import names
from storage import PartyGroup, Role
from tests.support import Chat, register_people

BRANCHES = {"jj1", "jj2", "jgk", "jd", "zc1"}
DEPARTMENTS = {"publicity", "party_office", "organization"}
DEPARTMENT_NAMES = {"宣传部": "publicity", "党委办公室": "party_office", "组织部": "organization"}


def parse(text: str) -> list[tuple[str, list[str], str | None]]:
    entries = parse_roster(text, BRANCHES, DEPARTMENTS, DEPARTMENT_NAMES)
    return [(e.employee_no, [str(r) for r in e.roles], e.party_group) for e in entries]


def problems(text: str) -> tuple[str, ...]:
    with pytest.raises(RosterProblems) as caught:
        parse_roster(text, BRANCHES, DEPARTMENTS, DEPARTMENT_NAMES)
    return caught.value.problems


async def roles_of(app: App, employee_no: str) -> list[str]:
    person = await app.repos.people.by_employee_no(employee_no)
    assert person is not None
    return [str(r) for r in person.roles]


async def load(app: App, tmp_path: Path, text: str) -> int:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return await import_roster(path, app.repos, app.services.now())


# -- the roster -------------------------------------------------------------------------


def test_repeated_rows_for_one_number_accumulate_roles() -> None:
    text = (
        "employee_no,name,branch_id,role,phone\n"
        "L002,钱委员,jgk,leader,13900000051\n"
        "E300,甲,zc1,worker,\n"
        "L002,钱委员,jgk,督导:党委办公室,\n"
        "L002,钱委员,jgk,leader,13900000051\n"  # the same role twice counts once
    )
    assert parse(text) == [
        ("L002", ["leader", "supervisor:party_office"], None),
        ("E300", ["worker"], None),
    ]


def test_a_roles_column_holds_several_roles_by_id_or_chinese_name() -> None:
    text = (
        "工号,姓名,支部,roles\n"
        "L002,钱委员,jgk,leader;supervisor:party_office\n"
        "L003,吴委员,jgk,领导、督导:宣传部\n"
        "S300,乙,zc1,书记;\n"  # a trailing separator is no role
    )
    assert parse(text) == [
        ("L002", ["leader", "supervisor:party_office"], None),
        ("L003", ["leader", "supervisor:publicity"], None),
        ("S300", ["secretary"], None),
    ]


def test_conflicting_rows_and_bad_roles_are_errors_by_line_and_nothing_is_read() -> None:
    found = problems(
        "employee_no,name,branch_id,role,phone\n"
        "L002,钱委员,jgk,leader,13900000051\n"
        "L002,钱卫元,jgk,supervisor:party_office,\n"
        "L002,钱委员,jd,worker,\n"
        "L002,钱委员,jgk,worker,13900000099\n"
        "E300,甲,zc1,leader;boss,\n"
        "E301,乙,zc1,督导:宣传部;督导:组织部,\n"
        "E302,丙,zc1,;,\n"
    )
    assert found[0].startswith("第 3 行:") and "第 2 行" in found[0] and "钱卫元" in found[0]
    assert found[1].startswith("第 4 行:") and "第 2 行" in found[1] and "jd" in found[1]
    assert found[2].startswith("第 5 行:") and "手机号" in found[2] and "第 2 行" in found[2]
    assert found[3].startswith("第 6 行:") and "没有“boss”这个角色" in found[3]
    assert found[4].startswith("第 7 行:") and "一个部门" in found[4]
    assert found[5].startswith("第 8 行:") and "角色不能为空" in found[5]
    assert len(found) == 6


async def test_an_import_writes_every_role_and_a_reimport_replaces_them(
    app: App, tmp_path: Path
) -> None:
    await load(app, tmp_path, "L002,钱委员,jgk,leader\nL002,钱委员,jgk,督导:党委办公室\n")
    assert await roles_of(app, "L002") == ["leader", "supervisor:party_office"]
    await load(app, tmp_path, "L002,钱委员,jgk,leader\n")
    assert await roles_of(app, "L002") == ["leader"]


# -- /role add | remove ------------------------------------------------------------------


async def test_role_add_and_remove_are_confirmed_and_can_be_declined(
    app: App, chat: Callable[..., Chat]
) -> None:
    admin = (await register_people(chat, "admin"))["admin"]
    asked = await admin.say("/role add E002 督导:宣传部")
    assert asked == [
        "给 李四(工号 E002)加上角色“督导人员(publicity)”?现有角色:职工。权限会立即改变。"
    ]
    assert [b["label"] for b in admin.last_buttons] == ["确认修改", "取消"]
    assert "已取消,没有做任何改动" in (await admin.press("取消"))[0]
    assert await roles_of(app, "E002") == ["worker"]
    await admin.say("/role add E002 督导:宣传部")
    done = await admin.press("确认修改")
    assert done == [
        "已给 李四(工号 E002)加上角色:督导人员(publicity)。现有角色:职工、督导人员(publicity)。"
    ]
    assert await roles_of(app, "E002") == ["supervisor:publicity", "worker"]

    asked = await admin.say("/role remove 李四 职工")
    assert asked == [
        "去掉 李四(工号 E002)的角色“职工”?去掉后的角色:督导人员(publicity)。权限会立即改变。"
    ]
    assert "已取消" in (await admin.press("取消"))[0]
    assert await roles_of(app, "E002") == ["supervisor:publicity", "worker"]
    await admin.say("/role remove 李四 职工")
    assert "已去掉 李四(工号 E002)的角色:职工" in (await admin.press("确认修改"))[0]
    assert await roles_of(app, "E002") == ["supervisor:publicity"]

    # /role keeps its meaning: it sets the role, or several at once
    await admin.say("/role E002 领导;督导:党委办公室")
    assert "党委领导、督导人员(party_office)" in (await admin.press("确认修改"))[0]
    assert await roles_of(app, "E002") == ["leader", "supervisor:party_office"]


async def test_role_add_and_remove_refuse_bad_input_and_change_nothing(
    app: App, chat: Callable[..., Chat]
) -> None:
    people = await register_people(chat, "admin", "worker")
    admin = people["admin"]
    cases = [
        ("/role add E002", "用法"),
        ("/role add E002 boss", "没有“boss”这个角色"),
        ("/role add E002 职工", "已经是职工"),
        ("/role add E002 督导:宣传部;领导", "一次只加一个角色"),
        ("/role remove E002 领导", "没有“党委领导”这个角色"),
        ("/role remove E002 职工", "只有这一个角色"),
        ("/role add A001 领导", "不能给自己"),
        ("/role remove A001 管理员", "不能给自己"),
        ("/role add 王老五 领导", "花名册里没有"),
        ("/role E002 督导:宣传部;督导:组织部", "一个部门"),
    ]
    for text, expected in cases:
        replies = await admin.say(text)
        assert expected in replies[0], (text, replies)
    assert await roles_of(app, "E002") == ["worker"]
    assert "只有管理员可以使用" in (await people["worker"].say("/role add E001 管理员"))[0]
    assert await roles_of(app, "E001") == ["worker"]


async def test_the_last_admin_keeps_the_admin_role(
    app: App, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    admin = (await register_people(chat, "admin"))["admin"]
    await admin.say("/role add E002 管理员")
    await admin.press("确认修改")
    assert await roles_of(app, "E002") == ["admin", "worker"]
    second = chat("u-E002")
    await second.register("E002", "李四")
    await second.say("/role add A001 领导")
    await second.press("确认修改")
    asked = await second.say("/role remove A001 管理员")  # two admins: allowed, once confirmed
    assert "去掉 管理员(工号 A001)的角色“管理员”" in asked[0]
    # before E002 confirms, A001 takes E002's admin role away: E002 may no longer act
    await admin.say("/role remove E002 管理员")
    await admin.press("确认修改")
    assert (await second.say("确认")) == ["只有管理员可以修改角色。"]
    assert await roles_of(app, "A001") == ["admin", "leader"]
    assert await roles_of(app, "E002") == ["worker"]
    a001 = await app.repos.people.by_employee_no("A001")
    assert a001 is not None
    assert access.leaves_no_admin(a001, [Role("leader")], 1)
    assert not access.leaves_no_admin(a001, [Role("leader")], 2)
    assert not access.leaves_no_admin(a001, [Role("admin"), Role("leader")], 1)
    # nor does a roster import take the last admin's role away
    with pytest.raises(RosterProblems) as caught:
        await load(app, tmp_path, "A001,管理员,jgk,leader\n")
    assert "没有管理员" in caught.value.problems[0]
    assert await roles_of(app, "A001") == ["admin", "leader"]


async def test_a_leader_who_supervises_the_party_office_uses_both(
    app: App, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    await load(
        app,
        tmp_path,
        "employee_no,name,branch_id,role,phone\n"
        "L002,钱委员,jgk,leader,13900000051\n"
        "L002,钱委员,jgk,督导:党委办公室,\n",
    )
    both = chat("u-L002")
    await both.register("L002", "钱委员")
    done = await both.say("/visit 机电队 检查了班前会记录")  # jd is supervised by 党委办公室
    assert "已记录对机电队党支部的走访" in done[-1]
    assert "用法" in (await both.say("/verify"))[0]  # a leader's command, not refused
    assert "/visit" in (await both.say("/help"))[0] and "/verify" in (await both.say("/help"))[0]
    plain = (await register_people(chat, "leader"))["leader"]
    assert "只有" in (await plain.say("/visit 机电队"))[0]


# -- party groups ------------------------------------------------------------------------

GROUPS_ROSTER = (
    "工号,姓名,支部,角色,党小组,手机号\n"
    "E001,张三,jj1,worker,一组,13800000001\n"
    "E005,钱七,jj1,worker,一组,13800000005\n"
    "E006,孙八,jj1,worker,二组,\n"
    "S001,刘书记,jj1,secretary,,13800000011\n"
    "E002,李四,zc1,worker,一组,13800000002\n"
)


async def test_party_groups_come_from_the_roster_per_branch(app: App, tmp_path: Path) -> None:
    await load(app, tmp_path, GROUPS_ROSTER)
    groups = app.repos.party_groups
    jj1 = await groups.groups_of_branch("jj1")
    assert [(g.branch_id, g.name) for g in jj1] == [("jj1", "一组"), ("jj1", "二组")]
    zc1 = await groups.groups_of_branch("zc1")
    assert [g.name for g in zc1] == ["一组"] and zc1[0].id != jj1[0].id  # per branch
    first = await groups.group_named("jj1", "一组")
    assert first == jj1[0] and await groups.group_named("jj1", "三组") is None
    assert [p.employee_no for p in await groups.members(first)] == ["E001", "E005"]
    assert names.party_groups(jj1, "二") == [jj1[1]]
    assert names.party_groups(jj1, "组") == jj1
    # a roster without the column leaves the groups alone
    await load(app, tmp_path, "E001,张三,jj1,worker,,13800000001\n")
    assert [p.employee_no for p in await groups.members(first)] == ["E001", "E005"]
    # a move to another branch takes the person out of the old branch's group
    await load(app, tmp_path, "E005,钱七,jj2,worker\n")
    assert [p.employee_no for p in await groups.members(first)] == ["E001"]
    found = problems(
        "工号,姓名,支部,角色,党小组\nE009,某,jj1,worker,一 组 太长的名字名字名字名字\n"
    )
    assert "党小组" in found[0]


async def test_a_secretary_adds_groups_and_assigns_members(
    app: App, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    await load(app, tmp_path, GROUPS_ROSTER)
    people = await register_people(chat, "secretary", "worker", "other_secretary")
    secretary = people["secretary"]
    assert (await secretary.say("/group add 三组")) == ["已在机掘一队党支部新建党小组“三组”。"]
    assert "已经有党小组“三组”" in (await secretary.say("/group add 三组"))[0]
    assert "用法" in (await secretary.say("/group add"))[0]
    assert "不能超过" in (await secretary.say("/group add " + "组" * 17))[0]
    done = await secretary.say("/group assign E006 三")  # a unique part of the name
    assert done == ["已把 孙八(工号 E006)分到党小组“三组”(原来在二组)。"]
    third = await app.repos.party_groups.group_named("jj1", "三组")
    assert third is not None
    assert [p.employee_no for p in await app.repos.party_groups.members(third)] == ["E006"]
    cases = [
        (secretary, "/group assign E006 组", "可能是:一组、二组、三组"),
        (secretary, "/group assign E006 五组", "机掘一队党支部没有叫“五组”的党小组"),
        (secretary, "/group assign E002 一组", "不在机掘一队党支部"),
        (secretary, "/group assign E999 一组", "花名册里没有"),
        (secretary, "/group assign E006", "用法"),
        (secretary, "/group dance", "用法"),
        (people["worker"], "/group add 四组", "只有本支部的支部书记"),
        (people["worker"], "/group assign E001 二组", "只有本支部的支部书记"),
        (people["other_secretary"], "/group assign E001 二组", "不在洗煤厂党支部"),
    ]
    for who, text, expected in cases:
        replies = await who.say(text)
        assert expected in replies[0], (text, replies)
    assert [g.name for g in await app.repos.party_groups.groups_of_branch("jj1")] == [
        "一组",
        "二组",
        "三组",
    ]
    assert [p.employee_no for p in await app.repos.party_groups.members(third)] == ["E006"]


async def test_members_see_what_their_group_did_this_year(
    app: App, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    await load(app, tmp_path, GROUPS_ROSTER)
    worker = (await register_people(chat, "worker"))["worker"]
    for text in ("回收旧锚杆再利用", "皮带机托辊修复后再用", "巷道照明改用节能灯"):
        await worker.say(text)
    await app.repos.db.execute("UPDATE ideas SET status = 'adopted' WHERE id = 1")
    await app.repos.db.execute("UPDATE ideas SET status = 'withdrawn' WHERE id = 3")
    shown = (await worker.say("/group"))[0]
    assert shown == (
        "机掘一队党支部的党小组(2026 年的金点子;您在一组):\n"
        "一组(2 人):金点子 2 条,已采纳 1 条\n"
        "  · 张三(E001):2 条,已采纳 1 条\n"
        "  · 钱七(E005):0 条\n"
        "二组(1 人):金点子 0 条\n"
        "  · 孙八(E006):0 条\n"
        "未分组(2 人):周督导(D001)、刘书记(S001)"
    )
    other = chat("u-E002")
    await other.register("E002", "李四")
    shown = (await other.say("/group"))[0]
    assert shown.startswith("综采一队党支部的党小组") and "张三" not in shown


async def test_a_branch_without_groups_is_told_how_to_start(
    app: App, chat: Callable[..., Chat]
) -> None:
    people = await register_people(chat, "worker", "secretary")
    assert "还没有党小组" in (await people["worker"].say("/group"))[0]
    assert "/group add" in (await people["secretary"].say("/group"))[0]


def test_a_party_group_is_a_plain_record() -> None:
    group = PartyGroup(7, "jj1", "一组")
    assert (group.id, group.branch_id, group.name) == (7, "jj1", "一组")


async def test_group_of_another_branch_only_for_those_who_see_it(
    app: App, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    await load(app, tmp_path, GROUPS_ROSTER)
    people = await register_people(chat, "worker2", "supervisor", "leader", "secretary")
    assert (await people["leader"].say("/group 机掘一队"))[0].startswith("机掘一队党支部的党小组")
    assert (await people["supervisor"].say("/group jj1"))[0].startswith("机掘一队党支部的党小组")
    assert (await people["worker2"].say("/group 机掘一队")) == ["您看不到机掘一队党支部的党小组。"]
    assert "可能是:机掘一队、机掘二队" in (await people["leader"].say("/group 机掘"))[0]
    assert "/group add 名称" in (await people["secretary"].say("/help"))[0]
    assert "/group add" not in (await people["worker2"].say("/help"))[0]
