"""Administration in chat: roles are granted by an admin to others, never to oneself.

A person may hold several roles (a committee member who also supervises for 党委办公室):
`/role` sets them all, `/role add` and `/role remove` change one; each is confirmed first."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from handlers import access, forms, parsing
from handlers.access import ROLE_NAMES
from handlers.messages import Member, Reply
from handlers.router import Command, Feature
from handlers.services import Services
from storage import Person, Role

ROLE_USAGE = (
    "用法:/role 工号 角色(设为这些角色,几个角色用 ; 或 、 隔开),"
    "/role add 工号 角色(加上一个角色),/role remove 工号 角色(去掉一个角色);"
    "例如 /role E002 书记、/role add E002 督导:宣传部。工号也可以写姓名。角色可以写:"
    + access.accepted_role_names()
    + "。"
)
ROLE_SEPARATORS = re.compile(r"[;、]")
"""Between the roles of one cell or one /role (full-width ; is folded to ; first)."""
ACTIONS = {
    "add": "add",
    "加": "add",
    "添加": "add",
    "增加": "add",
    "remove": "remove",
    "去掉": "remove",
    "删除": "remove",
    "移除": "remove",
}
SET, ADD, REMOVE = "set", "add", "remove"
NOT_ADMIN = "只有管理员可以修改角色。"
NOT_SELF = "不能给自己设置角色,请另一位管理员操作。"


def parse_role(
    text: str, departments: Collection[str], department_names: Mapping[str, str] | None = None
) -> Role | str:
    """A Role, or the Chinese reason why `text` is not one.

    The role by id or Chinese name (书记, 督导:宣传部); a supervisor's department by id, or by
    name when `department_names` (name → id) is given; full-width forms (督导：宣传部) too."""
    name, colon, department = parsing.fold(text).strip().partition(":")
    role = access.role_id(name)
    if role is None:
        return f"没有“{text}”这个角色。角色可以写:{access.accepted_role_names()}。"
    department = department.strip()
    if role == "supervisor":
        department = (department_names or {}).get(department, department)
        if department not in departments:
            known = "、".join(
                f"{n}({i})" for n, i in sorted((department_names or {}).items(), key=lambda x: x[1])
            ) or "、".join(sorted(departments))
            return f"督导人员要写部门(督导:部门,或 supervisor:部门编号),部门是:{known}。"
        return Role(role, department)
    if colon:
        return f"只有督导人员(supervisor)需要写部门,“{text}”不对。"
    return Role(role)


def parse_roles(
    text: str, departments: Collection[str], department_names: Mapping[str, str] | None = None
) -> tuple[Role, ...] | str:
    """The roles `text` lists, separated by ; or 、 (each as `parse_role` reads it; one
    written twice counts once), or the Chinese reason why not."""
    parts = [p.strip() for p in ROLE_SEPARATORS.split(parsing.fold(text)) if p.strip()]
    if not parts:
        return "角色不能为空。角色可以写:" + access.accepted_role_names() + "。"
    roles: list[Role] = []
    for part in parts:
        role = parse_role(part, departments, department_names)
        if isinstance(role, str):
            return role
        if role not in roles:
            roles.append(role)
    return merged_roles(roles, ())


def merged_roles(held: Iterable[Role], more: Iterable[Role]) -> tuple[Role, ...] | str:
    """`held` with `more` added (a role already held counts once), or why a person cannot
    hold them all: each role name once, so a supervisor of one department only."""
    roles: list[Role] = []
    for role in (*held, *more):
        if role in roles:
            continue
        same = next((r for r in roles if r.role == role.role), None)
        if same is not None:
            return (
                f"一个人只能做一个部门的督导人员,不能同时是{shown_role(same)}和{shown_role(role)}。"
            )
        roles.append(role)
    return tuple(roles)


def shown_role(role: Role) -> str:
    return ROLE_NAMES.get(role.role, role.role) + (
        f"({role.department_id})" if role.department_id else ""
    )


def shown_roles(roles: Iterable[Role]) -> str:
    return "、".join(shown_role(r) for r in roles) or "无"


def _who(person: Person) -> str:
    return f"{person.name}(工号 {person.employee_no})"


async def _roles_after(
    admin: Person, target: Person, action: str, roles: tuple[Role, ...], services: Services
) -> tuple[Role, ...] | str:
    """The target's roles after the change, or why the change may not be made (asked both
    when the command is given and again when it is confirmed: things may have moved)."""
    if not access.holds(admin, access.ADMINS):
        return NOT_ADMIN
    if not access.may_set_role(admin, target):
        return NOT_SELF
    if action != SET and len(roles) != 1:
        return "一次只加一个角色或去掉一个角色;要一次设好几个角色,请用 /role 工号 角色;角色。"
    after: tuple[Role, ...] | str
    if action == SET:
        after = roles
    elif action == ADD:
        if roles[0] in target.roles:
            return f"{_who(target)}已经是{shown_role(roles[0])}了,没有改动。"
        after = merged_roles(target.roles, roles)
    else:
        if roles[0] not in target.roles:
            held = shown_roles(target.roles)
            return f"{_who(target)}没有“{shown_role(roles[0])}”这个角色,现有角色:{held}。"
        after = tuple(r for r in target.roles if r != roles[0])
        if not after:
            return f"{_who(target)}只有这一个角色,不能去掉;要换成别的角色,请用 /role 工号 新角色。"
    if isinstance(after, str):
        return after
    admins = await services.repos.people.count_with_role("admin")
    if access.leaves_no_admin(target, after, admins):
        return f"{_who(target)}是最后一位管理员,不能去掉管理员角色;请先给另一个人加上管理员。"
    return after


async def set_role(msg: Member, services: Services) -> list[Reply]:
    """设置他人的角色:/role 工号(或姓名) 角色;/role add|remove 工号 角色"""
    parts = msg.args.split()
    action = ACTIONS.get(parts[0].lower(), SET) if parts else SET
    if action != SET:
        parts = parts[1:]
    if len(parts) != 2:
        return [Reply(ROLE_USAGE)]
    who, role_text = parts
    found = await services.repos.people.by_number_or_name(parsing.fold(who).strip())
    if not found:
        return [Reply(f"花名册里没有工号或姓名为“{parsing.shown(who)}”的人。")]
    if len(found) > 1:
        listed = "、".join(f"{p.name}(工号 {p.employee_no})" for p in found[:8])
        return [Reply(f"叫“{parsing.shown(who)}”的有 {len(found)} 位:{listed}。请改用工号。")]
    target = found[0]
    if not access.may_set_role(msg.person, target):
        return [Reply(NOT_SELF)]
    org = services.repos.org
    names = {d.name: d.id for d in await org.department_names()}
    roles = parse_roles(role_text, await org.department_ids(), names)
    if isinstance(roles, str):
        return [Reply(roles)]
    after = await _roles_after(msg.person, target, action, roles, services)
    if isinstance(after, str):
        return [Reply(after)]
    answers = {
        "person": str(target.id),
        "action": action,
        "roles": ";".join(str(r) for r in roles),
    }
    return await forms.start(ROLE_CHANGE, msg, services, answers)


def _answered_roles(answers: forms.Answers) -> tuple[Role, ...]:
    if "roles" not in answers:  # a form opened before several roles were possible
        return (Role(answers.get("role", ""), answers.get("department") or None),)
    roles = []
    for item in answers["roles"].split(";"):
        name, _, department = item.partition(":")
        roles.append(Role(name, department or None))
    return tuple(roles)


async def _summary(msg: Member, services: Services, answers: forms.Answers) -> str:
    target = await services.repos.people.by_id(int(answers["person"]))
    name = _who(target) if target else "这个人"
    held = target.roles if target else ()
    roles = _answered_roles(answers)
    action = answers.get("action", SET)
    if action == ADD:
        return (
            f"给 {name}加上角色“{shown_role(roles[0])}”?现有角色:{shown_roles(held)}。"
            "权限会立即改变。"
        )
    if action == REMOVE:
        after = tuple(r for r in held if r != roles[0])
        return (
            f"去掉 {name}的角色“{shown_role(roles[0])}”?去掉后的角色:{shown_roles(after)}。"
            "权限会立即改变。"
        )
    return f"把 {name}的角色从“{shown_roles(held)}”改为“{shown_roles(roles)}”?权限会立即改变。"


async def _apply(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    target = await services.repos.people.by_id(int(answers["person"]))
    if target is None:
        return [Reply("这个人已经不在花名册里了,没有改动。")]
    action = answers.get("action", SET)
    roles = _answered_roles(answers)
    after = await _roles_after(msg.person, target, action, roles, services)
    if isinstance(after, str):
        return [Reply(after)]
    await services.repos.people.set_roles(target.id, after)
    if action == ADD:
        text = (
            f"已给 {_who(target)}加上角色:{shown_role(roles[0])}。现有角色:{shown_roles(after)}。"
        )
    elif action == REMOVE:
        text = (
            f"已去掉 {_who(target)}的角色:{shown_role(roles[0])}。现有角色:{shown_roles(after)}。"
        )
    else:
        text = f"已把 {_who(target)}的角色设为:{shown_roles(after)}。"
    return [Reply(text)]


ROLE_CHANGE = forms.Form("role", (), _apply, confirm=_summary, confirm_label="确认修改")
FORMS = (ROLE_CHANGE,)


FEATURE = Feature(commands=[Command("role", set_role, access.ADMINS)])
