"""Supervision: /findings raised on branch visits, /visit and /visits, and the Monday agenda."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handlers.messages import Button, Incoming, Reply
from handlers.notify import notify
from handlers.router import Command, Feature
from handlers.services import Services
from storage import Branch, Finding, Person

STAFF = frozenset({"supervisor", "secretary", "leader", "admin"})
OVERSIGHT = frozenset({"supervisor", "leader", "admin"})
STATE_BRANCH = "find.branch"
STATE_TEXT = "find.text"
MAX_FINDING_CHARS = 500
ACTION_LABELS = {
    "add": "提出",
    "note": "进展",
    "resolve": "已解决",
    "reopen": "重新打开",
    "escalate": "提交党委协调",
}
USAGE = (
    "用法:\n/findings — 我负责范围内未解决的问题\n/findings 编号 — 一条问题的详情和记录\n"
    "/findings 支部编号 | escalated | all — 筛选\n/findings add [支部编号 问题] — 记录新问题\n"
    "/findings note 编号 进展 | resolve 编号 说明 | reopen 编号 原因 | escalate 编号"
)


def departments_of(person: Person) -> set[str]:
    return {r.department_id for r in person.roles if r.role == "supervisor" and r.department_id}


def is_leader(person: Person) -> bool:
    return person.has_role("leader", "admin")


async def scope(person: Person, services: Services) -> list[str] | None:
    """Branch ids the person may see; None means every branch."""
    if is_leader(person):
        return None
    departments = departments_of(person)
    branches = [b.id for b in await services.repos.org.branches() if b.department_id in departments]
    if person.has_role("secretary") and person.branch_id not in branches:
        branches.append(person.branch_id)
    return branches


def _age(services: Services, finding: Finding) -> str:
    days = (services.now() - finding.created_at).days
    return "今天" if days == 0 else f"{days} 天"


def _line(services: Services, finding: Finding, names: dict[str, str]) -> str:
    status = "已解决" if finding.status == "resolved" else "未解决"
    flags = " · 待党委协调" if finding.escalated and finding.status == "open" else ""
    project = f" · 项目 {finding.project_ref}" if finding.project_ref else ""
    text = finding.text if len(finding.text) <= 30 else finding.text[:30] + "…"
    branch = names.get(finding.branch_id, finding.branch_id)
    return (
        f"#{finding.id} {branch} · {_age(services, finding)} · {status}{flags}{project}\n    {text}"
    )


async def _names(services: Services) -> dict[str, str]:
    return {b.id: b.name for b in await services.repos.org.branches()}


async def findings(msg: Incoming, services: Services) -> list[Reply]:
    """督导发现的问题:/findings [编号|支部|add|note|resolve|reopen|escalate]"""
    person = msg.person
    assert person is not None
    word, _, rest = msg.args.strip().partition(" ")
    action = word.lower()
    if action in ("add", "note", "resolve", "reopen", "escalate"):
        handler = {
            "add": _add,
            "note": _note,
            "resolve": _resolve,
            "reopen": _reopen,
            "escalate": _escalate,
        }[action]
        return await handler(msg, services, person, rest.strip())
    if action in ("help", "?"):
        return [Reply(USAGE)]
    if word.lstrip("#").isdigit():
        return [await _show(services, person, int(word.lstrip("#")))]
    return [await _list(services, person, action)]


async def _list(services: Services, person: Person, flt: str) -> Reply:
    allowed = await scope(person, services)
    names = await _names(services)
    branches: list[str] | None = allowed
    title = "未解决的问题"
    if flt and flt not in ("all", "escalated"):
        if flt not in names:
            return Reply(f"没有“{flt[:20]}”这个筛选或支部编号。\n{USAGE}")
        if allowed is not None and flt not in allowed:
            return Reply(f"{names[flt]}不在您负责的范围内。")
        branches, title = [flt], f"{names[flt]}未解决的问题"
    if flt == "all":
        title = "全部问题(含已解决)"
    if flt == "escalated":
        title = "待党委协调的问题"
    found = await services.repos.findings.search(
        branches=branches, include_resolved=flt == "all", escalated_only=flt == "escalated"
    )
    if not found:
        return Reply(f"{title}:没有。")
    lines = [f"{title}(最早的在前):"] + [_line(services, f, names) for f in found]
    return Reply("\n".join(lines))


async def _visible(
    services: Services, person: Person, number: int
) -> tuple[Finding | None, Reply | None]:
    finding = await services.repos.findings.get(number)
    allowed = await scope(person, services)
    if finding is None or (allowed is not None and finding.branch_id not in allowed):
        return None, Reply(f"没有找到您负责范围内编号为 #{number} 的问题。")
    return finding, None


async def _show(services: Services, person: Person, number: int) -> Reply:
    finding, refusal = await _visible(services, person, number)
    if finding is None:
        assert refusal is not None
        return refusal
    names = await _names(services)
    lines = [_line(services, finding, names), f"问题:{finding.text}", "记录:"]
    for event in await services.repos.findings.history(finding.id):
        when = services.local(event.created_at).strftime("%m-%d %H:%M")
        extra = f":{event.text}" if event.text and event.action != "add" else ""
        lines.append(f"  {when} {event.person_name} {ACTION_LABELS[event.action]}{extra}")
    return Reply("\n".join(lines))


def _parse_number(rest: str) -> tuple[int | None, str]:
    number, _, text = rest.partition(" ")
    number = number.lstrip("#")
    return (int(number) if number.isdigit() else None), text.strip()


async def _add(msg: Incoming, services: Services, person: Person, rest: str) -> list[Reply]:
    if not (departments_of(person) or is_leader(person)):
        return [Reply("只有督导人员和党委领导可以记录新问题。")]
    allowed = await scope(person, services)
    if not rest:
        return [await _ask_branch(msg, services, person, allowed)]
    branch_id, _, text = rest.partition(" ")
    branch = await services.repos.org.branch(branch_id)
    if branch is None:
        return [
            Reply(f"没有编号为“{branch_id[:20]}”的支部。用法:/findings add 支部编号 [P项目号] 问题")
        ]
    project_ref = None
    first, _, remainder = text.strip().partition(" ")
    if re.fullmatch(r"[Pp]\d{1,4}", first):  # the key project the problem concerns
        project = await services.repos.projects.get(int(first[1:]))
        if project is None or branch.id not in project.branches:
            return [Reply(f"{branch.name}没有参与重点项目 {first.upper()}。")]
        project_ref, text = project.number, remainder
    _, replies = await _record(msg, services, person, branch, text.strip(), project_ref)
    return replies


async def _ask_branch(
    msg: Incoming, services: Services, person: Person, allowed: list[str] | None
) -> Reply:
    branches = [
        b for b in await services.repos.org.branches() if allowed is None or b.id in allowed
    ]
    if departments_of(person) and not is_leader(person):
        branches = [b for b in branches if b.department_id in departments_of(person)]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_BRANCH, {}, services.now()
    )
    buttons = [Button(b.name.removesuffix("党支部"), f"f:b:{b.id}") for b in branches]
    rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
    return Reply("请选择发现问题的支部(发送 /cancel 可取消):", buttons=rows)


async def on_button(msg: Incoming, services: Services) -> list[Reply]:
    person = msg.person
    assert person is not None
    parts = (msg.callback or "").split(":")
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    if (
        len(parts) != 3
        or parts[1] != "b"
        or conversation is None
        or conversation.state != STATE_BRANCH
    ):
        return [Reply("这个按钮已经失效了,请重新发送 /findings add。")]
    branch = await services.repos.org.branch(parts[2])
    if branch is None or not await _may_raise(services, person, branch):
        return [Reply("这个支部不在您负责的范围内。")]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_TEXT, {"branch": branch.id}, services.now()
    )
    return [Reply(f"{branch.name}:请描述发现的问题(可以附一张照片)。", edit=True)]


async def on_state(msg: Incoming, services: Services) -> list[Reply]:
    person = msg.person
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    assert conversation is not None
    if person is None or conversation.state != STATE_TEXT:
        return [Reply("请点上面的按钮选择支部,或发送 /cancel 取消。")]
    branch = await services.repos.org.branch(str(conversation.data.get("branch", "")))
    if branch is None:
        await services.repos.conversations.clear(msg.channel, msg.sender_id)
        return [Reply("支部已不存在,请重新发送 /findings add。")]
    finding, replies = await _record(msg, services, person, branch, msg.text.strip())
    if finding is not None:
        await services.repos.conversations.clear(msg.channel, msg.sender_id)
    return replies


async def _may_raise(services: Services, person: Person, branch: Branch) -> bool:
    return is_leader(person) or branch.department_id in departments_of(person)


async def _record(
    msg: Incoming,
    services: Services,
    person: Person,
    branch: Branch,
    text: str,
    project_ref: str | None = None,
) -> tuple[Finding | None, list[Reply]]:
    """Store a finding and tell the branch; the finding is None when refused."""
    if not await _may_raise(services, person, branch):
        return None, [Reply(f"{branch.name}不在您所在部门的督导范围内,不能记录。")]
    if sum(1 for ch in text if ch.isalnum()) < 4:
        return None, [Reply("请写清楚发现的问题(至少几个字),例如:/findings add jj1 班前会记录不全")]
    if len(text) > MAX_FINDING_CHARS:
        return None, [
            Reply(f"问题描述太长了({len(text)} 字),请控制在 {MAX_FINDING_CHARS} 字以内。")
        ]
    finding = await services.repos.findings.add(
        branch=branch,
        text=text,
        person_id=person.id,
        project_ref=project_ref,
        now=services.now(),
    )
    for attachment in msg.attachments:
        attachment_id = await services.repos.attachments.add(
            idea_id=None,
            person_id=person.id,
            channel=msg.channel,
            kind=attachment.kind,
            file_ref=attachment.file_ref,
            now=services.now(),
        )
        await services.repos.attachments.link_finding(attachment_id, finding.id)
    recipients = await services.repos.people.identities_with_role("secretary", branch_id=branch.id)
    if services.settings.notify_group:
        recipients += [
            (g.channel, g.chat_id) for g in await services.repos.groups.for_branch(branch.id)
        ]
    await notify(
        services,
        recipients,
        f"📋 督导发现问题 #{finding.id}({branch.name}):{text}\n"
        f"请支部书记跟进:/findings note {finding.id} 进展,解决后 /findings resolve "
        f"{finding.id} 说明。",
        key=f"finding:{finding.id}:add",
    )
    return finding, [Reply(f"已记录问题 #{finding.id}({branch.name}),已通知支部书记。")]


async def _changeable(
    msg: Incoming, services: Services, person: Person, rest: str, needs_text: bool, usage: str
) -> tuple[Finding | None, str, Reply | None]:
    number, text = _parse_number(rest)
    if number is None:
        return None, "", Reply(f"请写上问题编号。用法:{usage}")
    finding, refusal = await _visible(services, person, number)
    if finding is None:
        return None, "", refusal
    if needs_text and sum(1 for ch in text if ch.isalnum()) < 2:
        return None, "", Reply(f"请写上说明。用法:{usage}")
    if len(text) > MAX_FINDING_CHARS:
        return None, "", Reply(f"说明太长了,请控制在 {MAX_FINDING_CHARS} 字以内。")
    return finding, text, None


def _secretary_of(person: Person, finding: Finding) -> bool:
    return person.has_role("secretary") and person.branch_id == finding.branch_id


def _supervisor_of(person: Person, finding: Finding) -> bool:
    return finding.department_id in departments_of(person)


async def _raiser(services: Services, finding: Finding) -> list[tuple[str, str]]:
    return await services.repos.people.identities_of(finding.raised_by)


async def _secretaries(services: Services, finding: Finding) -> list[tuple[str, str]]:
    return await services.repos.people.identities_with_role(
        "secretary", branch_id=finding.branch_id
    )


async def _note(msg: Incoming, services: Services, person: Person, rest: str) -> list[Reply]:
    usage = "/findings note 编号 进展"
    finding, text, refusal = await _changeable(msg, services, person, rest, True, usage)
    if finding is None:
        return [refusal] if refusal else []
    if not (_secretary_of(person, finding) or _supervisor_of(person, finding) or is_leader(person)):
        return [Reply("只有本支部书记、督导部门或党委领导可以记录进展。")]
    event = await services.repos.findings.change(
        finding.id, person.id, "note", text, services.now()
    )
    await notify(
        services,
        await _raiser(services, finding),
        f"问题 #{finding.id} 有新进展({person.name}):{text}",
        key=f"finding:{finding.id}:event:{event}",
    )
    return [Reply(f"已记录问题 #{finding.id} 的进展。")]


async def _resolve(msg: Incoming, services: Services, person: Person, rest: str) -> list[Reply]:
    usage = "/findings resolve 编号 说明"
    finding, text, refusal = await _changeable(msg, services, person, rest, True, usage)
    if finding is None:
        return [refusal] if refusal else []
    if not (_secretary_of(person, finding) or is_leader(person)):
        return [Reply("只有该问题所在支部的书记或党委领导可以标记解决。")]
    if finding.status == "resolved":
        return [Reply(f"问题 #{finding.id} 已经是解决状态。")]
    event = await services.repos.findings.change(
        finding.id, person.id, "resolve", text, services.now(), status="resolved"
    )
    await notify(
        services,
        await _raiser(services, finding),
        f"问题 #{finding.id} 已解决({person.name}):{text}\n"
        f"如未真正解决,可发送 /findings reopen {finding.id} 原因。",
        key=f"finding:{finding.id}:event:{event}",
    )
    return [Reply(f"问题 #{finding.id} 已标记为解决,已通知提出问题的督导人员。")]


async def _reopen(msg: Incoming, services: Services, person: Person, rest: str) -> list[Reply]:
    usage = "/findings reopen 编号 原因"
    finding, text, refusal = await _changeable(msg, services, person, rest, True, usage)
    if finding is None:
        return [refusal] if refusal else []
    if not (_supervisor_of(person, finding) or is_leader(person)):
        return [Reply("只有督导部门或党委领导可以重新打开问题。")]
    if finding.status == "open":
        return [Reply(f"问题 #{finding.id} 还没有解决,不需要重新打开。")]
    event = await services.repos.findings.change(
        finding.id, person.id, "reopen", text, services.now(), status="open"
    )
    await notify(
        services,
        await _secretaries(services, finding),
        f"问题 #{finding.id} 被重新打开({person.name}):{text}",
        key=f"finding:{finding.id}:event:{event}",
    )
    return [Reply(f"问题 #{finding.id} 已重新打开,已通知支部书记。")]


async def _escalate(msg: Incoming, services: Services, person: Person, rest: str) -> list[Reply]:
    usage = "/findings escalate 编号"
    finding, text, refusal = await _changeable(msg, services, person, rest, False, usage)
    if finding is None:
        return [refusal] if refusal else []
    if not (_supervisor_of(person, finding) or _secretary_of(person, finding) or is_leader(person)):
        return [Reply("只有督导部门、本支部书记或党委领导可以提交党委协调。")]
    if finding.status != "open":
        return [Reply(f"问题 #{finding.id} 已经解决,不需要提交协调。")]
    if finding.escalated:
        return [Reply(f"问题 #{finding.id} 已经在周一政工例会的议程上了。")]
    event = await services.repos.findings.change(
        finding.id, person.id, "escalate", text, services.now(), escalated=True
    )
    others = [
        r
        for r in [*await _raiser(services, finding), *await _secretaries(services, finding)]
        if r != (msg.channel, msg.sender_id)
    ]
    await notify(
        services,
        others,
        f"问题 #{finding.id} 已提交党委协调,将列入周一政工例会议程。",
        key=f"finding:{finding.id}:event:{event}",
    )
    return [Reply(f"问题 #{finding.id} 已提交党委协调,会列入下一次周一政工例会的议程。")]


# -- visits ------------------------------------------------------------------------------


async def visit(msg: Incoming, services: Services) -> list[Reply]:
    """记录一次督导走访:/visit 支部编号 [备注]"""
    person = msg.person
    assert person is not None
    branch_id, _, note = msg.args.strip().partition(" ")
    if not branch_id:
        return [Reply("请写上支部编号,例如:/visit jj1 检查了班前会记录")]
    branch = await services.repos.org.branch(branch_id)
    if branch is None:
        return [Reply(f"没有编号为“{branch_id[:20]}”的支部。")]
    if branch.department_id not in departments_of(person):
        return [Reply(f"{branch.name}不在您所在部门的督导范围内。")]
    if len(note) > MAX_FINDING_CHARS:
        return [Reply(f"备注太长了,请控制在 {MAX_FINDING_CHARS} 字以内。")]
    now = services.now()
    month = services.local(now).strftime("%Y-%m")
    await services.repos.visits.add(
        branch=branch, person_id=person.id, note=note.strip(), now=now, local_month=month
    )
    count = (await services.repos.visits.counts(month)).get(branch.id, 0)
    target = services.settings.visits_per_month
    return [Reply(f"已记录对{branch.name}的走访。本月第 {count} 次(目标 {target} 次)。")]


async def visits(msg: Incoming, services: Services) -> list[Reply]:
    """本月督导走访次数:/visits"""
    person = msg.person
    assert person is not None
    month = services.local(services.now()).strftime("%Y-%m")
    counts = await services.repos.visits.counts(month)
    target = services.settings.visits_per_month
    departments = {d: n for d, n in await services.repos.org.department_names()}
    mine = departments_of(person)
    shown = sorted(departments) if is_leader(person) else sorted(mine)
    if not shown:
        return [Reply("只有督导人员和党委领导可以查看走访记录。")]
    lines = [f"{month} 督导走访(每个支部目标 {target} 次):"]
    for department in shown:
        branches = [b for b in await services.repos.org.branches() if b.department_id == department]
        done = sum(min(counts.get(b.id, 0), target) for b in branches)
        lines.append(
            f"【{departments.get(department, department)}】完成 {done}/{target * len(branches)}"
        )
        for b in branches:
            n = counts.get(b.id, 0)
            mark = "✅" if n >= target else "⏳"
            lines.append(f"  {mark} {b.name} {n}/{target}")
    return [Reply("\n".join(lines))]


# -- the Monday agenda -------------------------------------------------------------------


@dataclass
class AgendaBranch:
    branch: Branch
    findings: list[Finding] = field(default_factory=list)


@dataclass
class AgendaDepartment:
    department_id: str
    name: str
    branches: list[AgendaBranch] = field(default_factory=list)


async def build_agenda(services: Services, now: datetime) -> list[AgendaDepartment]:
    """Escalated findings and those open longer than `long_open_days`, by department and branch."""
    cutoff = now - timedelta(days=services.settings.long_open_days)
    items = await services.repos.findings.for_agenda(cutoff)
    branches = {b.id: b for b in await services.repos.org.branches()}
    names = dict(await services.repos.org.department_names())
    agenda: dict[str, AgendaDepartment] = {}
    for finding in items:
        branch = branches[finding.branch_id]
        section = agenda.setdefault(
            finding.department_id,
            AgendaDepartment(
                finding.department_id, names.get(finding.department_id, finding.department_id)
            ),
        )
        if not section.branches or section.branches[-1].branch.id != branch.id:
            section.branches.append(AgendaBranch(branch))
        section.branches[-1].findings.append(finding)
    return list(agenda.values())


def render_agenda(services: Services, agenda: Sequence[AgendaDepartment]) -> str:
    if not agenda:
        return "本周政工例会议程:没有需要党委协调或长期未解决的问题。"
    lines = ["本周政工例会议程(需党委协调、长期未解决的问题):"]
    for section in agenda:
        lines.append(f"【{section.name}】")
        for item in section.branches:
            lines.append(f"  {item.branch.name}")
            for finding in item.findings:
                why = "待协调" if finding.escalated else f"已 {_age(services, finding)}未解决"
                lines.append(f"    #{finding.id} {finding.text[:40]}({why})")
    return "\n".join(lines)


async def agenda(msg: Incoming, services: Services) -> list[Reply]:
    """周一政工例会议程:/agenda"""
    return [Reply(render_agenda(services, await build_agenda(services, services.now())))]


FEATURE = Feature(
    commands=[
        Command("findings", findings, STAFF),
        Command("visit", visit, frozenset({"supervisor"})),
        Command("visits", visits, OVERSIGHT),
        Command("agenda", agenda, OVERSIGHT),
    ],
    callbacks={"f": on_button},
    states={"find": on_state},
)
