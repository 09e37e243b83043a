"""Administration in chat: roles are granted by an admin to others, never to oneself."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from handlers import access, parsing
from handlers.access import ROLE_NAMES
from handlers.messages import Member, Reply
from handlers.router import Command, Feature
from handlers.services import Services
from storage import Role, RosterEntry

ROLE_USAGE = (
    "用法:/role 工号 角色,例如 /role E002 书记。角色可以写:" + access.accepted_role_names() + "。"
)


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


async def set_role(msg: Member, services: Services) -> list[Reply]:
    """设置他人的角色:/role 工号 角色"""
    admin = msg.person
    parts = msg.args.split()
    if len(parts) != 2:
        return [Reply(ROLE_USAGE)]
    employee_no, role_text = parts
    target = await services.repos.people.by_employee_no(employee_no)
    if target is None:
        return [Reply(f"花名册里没有工号 {employee_no}。")]
    if target.id == admin.id:
        return [Reply("不能给自己设置角色,请另一位管理员操作。")]
    org = services.repos.org
    names = {d.name: d.id for d in await org.department_names()}
    role = parse_role(role_text, await org.department_ids(), names)
    if isinstance(role, str):
        return [Reply(role)]
    phone = await services.repos.people.phone_of(target.id)
    entry = RosterEntry(
        target.employee_no, target.name, target.branch_id, role, target.wecom_userid, phone
    )
    await services.repos.people.upsert_roster([entry], services.now())
    where = f"({role.department_id})" if role.department_id else ""
    return [
        Reply(
            f"已把 {target.name}(工号 {target.employee_no})的角色设为:"
            f"{ROLE_NAMES[role.role]}{where}。"
        )
    ]


FEATURE = Feature(commands=[Command("role", set_role, access.ADMINS)])
