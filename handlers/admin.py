"""Administration in chat: roles are granted by an admin to others, never to oneself."""

from __future__ import annotations

from handlers import access
from handlers.access import ROLE_NAMES
from handlers.messages import Member, Reply
from handlers.router import Command, Feature
from handlers.services import Services
from storage import Role, RosterEntry

ROLE_USAGE = "用法:/role 工号 角色,角色可以是 worker、secretary、supervisor:部门编号、leader、admin"


def parse_role(text: str, departments: set[str]) -> Role | str:
    """A Role, or the Chinese reason why `text` is not one."""
    name, _, department = text.strip().partition(":")
    if name not in ROLE_NAMES:
        return f"没有“{text}”这个角色。"
    if name == "supervisor":
        if department not in departments:
            known = "、".join(sorted(departments))
            return f"督导人员要写部门编号(supervisor:部门编号),部门编号是:{known}。"
        return Role(name, department)
    if department:
        return f"只有 supervisor 需要写部门,“{text}”不对。"
    return Role(name)


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
    role = parse_role(role_text, await services.repos.org.department_ids())
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
