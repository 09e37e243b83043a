"""Administration in chat: roles are granted by an admin to others, never to oneself."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from handlers import access, forms, parsing
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
    """设置他人的角色:/role 工号(或姓名) 角色"""
    parts = msg.args.split()
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
        return [Reply("不能给自己设置角色,请另一位管理员操作。")]
    org = services.repos.org
    names = {d.name: d.id for d in await org.department_names()}
    role = parse_role(role_text, await org.department_ids(), names)
    if isinstance(role, str):
        return [Reply(role)]
    answers = {"person": str(target.id), "role": role.role, "department": role.department_id or ""}
    return await forms.start(ROLE_CHANGE, msg, services, answers)


def _shown_role(role: str, department: str | None) -> str:
    return ROLE_NAMES.get(role, role) + (f"({department})" if department else "")


async def _summary(msg: Member, services: Services, answers: forms.Answers) -> str:
    target = await services.repos.people.by_id(int(answers["person"]))
    now = "、".join(_shown_role(r.role, r.department_id) for r in target.roles) if target else ""
    name = f"{target.name}(工号 {target.employee_no})" if target else "这个人"
    new = _shown_role(answers["role"], answers["department"] or None)
    return f"把 {name}的角色从“{now or '无'}”改为“{new}”?权限会立即改变。"


async def _apply(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    target = await services.repos.people.by_id(int(answers["person"]))
    if target is None:
        return [Reply("这个人已经不在花名册里了,没有改动。")]
    if not access.may_set_role(msg.person, target):
        return [Reply("不能给自己设置角色,请另一位管理员操作。")]
    role = Role(answers["role"], answers["department"] or None)
    phone = await services.repos.people.phone_of(target.id)
    entry = RosterEntry(
        target.employee_no, target.name, target.branch_id, role, target.wecom_userid, phone
    )
    await services.repos.people.upsert_roster([entry], services.now())
    return [
        Reply(
            f"已把 {target.name}(工号 {target.employee_no})的角色设为:"
            f"{_shown_role(role.role, role.department_id)}。"
        )
    ]


ROLE_CHANGE = forms.Form("role", (), _apply, confirm=_summary, confirm_label="确认修改")
FORMS = (ROLE_CHANGE,)


FEATURE = Feature(commands=[Command("role", set_role, access.ADMINS)])
