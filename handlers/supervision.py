"""Supervision in chat: /findings raised on branch visits, /visit and /visits, /agenda."""

from __future__ import annotations

from handlers import access, forms, parsing, render
from handlers.messages import Button, Incoming, Member, Reply
from handlers.router import Command, Feature, Subcommand, member
from handlers.rules import supervision
from handlers.rules.supervision import MAX_FINDING_CHARS, STEPS, FindingStep
from handlers.services import Services
from storage import Branch, Finding, Person

STATE_BRANCH = "find.branch"
STATE_TEXT = "find.text"


async def _names(services: Services) -> dict[str, str]:
    return {b.id: b.name for b in await services.repos.org.branches()}


async def findings(msg: Member, services: Services) -> list[Reply]:
    """督导发现的问题:/findings [编号|支部|add|note|resolve|reopen|escalate]"""
    word = msg.args.strip().partition(" ")[0]
    action = word.lower()
    if action in ("help", "?"):
        return [Reply(USAGE)]
    number = parsing.number(word)
    if number is not None:
        return [await _show(services, msg.person, number)]
    return [await _list(services, msg.person, action)]


async def _list(services: Services, person: Person, flt: str) -> Reply:
    allowed = await supervision.scope(services, person)
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
    lines = [f"{title}(最早的在前):"] + [render.finding_line(services, f, names) for f in found]
    return Reply("\n".join(lines))


def _not_found(number: int) -> Reply:
    return Reply(f"没有找到您负责范围内编号为 #{number} 的问题。")


async def _show(services: Services, person: Person, number: int) -> Reply:
    finding = await supervision.visible(services, person, number)
    if finding is None:
        return _not_found(number)
    names = await _names(services)
    lines = [render.finding_line(services, finding, names), f"问题:{finding.text}", "记录:"]
    for event in await services.repos.findings.history(finding.id):
        when = services.local(event.created_at).strftime("%m-%d %H:%M")
        extra = f":{event.text}" if event.text and event.action != "add" else ""
        lines.append(
            f"  {when} {event.person_name} {supervision.ACTION_LABELS[event.action]}{extra}"
        )
    return Reply("\n".join(lines))


async def _add(msg: Member, services: Services) -> list[Reply]:
    """记录新问题"""
    person, rest = msg.person, msg.args
    allowed = await supervision.scope(services, person)
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
    if parsing.looks_like_project(first):  # the key project the problem concerns
        number = parsing.number(first, prefixes="P")
        project = await services.repos.projects.get(number) if number is not None else None
        if project is None or branch.id not in project.branches:
            return [Reply(f"{branch.name}没有参与重点项目 {first.upper()}。")]
        project_ref, text = project.number, remainder
    _, replies = await _record(msg, services, branch, text.strip(), project_ref)
    return replies


async def _ask_branch(
    msg: Incoming, services: Services, person: Person, allowed: list[str] | None
) -> Reply:
    branches = [
        b for b in await services.repos.org.branches() if allowed is None or b.id in allowed
    ]
    if access.departments_of(person) and not access.is_leader(person):
        branches = [b for b in branches if access.supervises(person, b.department_id)]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_BRANCH, {}, services.now()
    )
    buttons = [Button(b.name.removesuffix("党支部"), f"f:b:{b.id}") for b in branches]
    rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
    return Reply("请选择发现问题的支部(发送 /cancel 可取消):", buttons=rows)


async def on_button(msg: Member, services: Services) -> list[Reply]:
    person = msg.person
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
    if branch is None or not access.may_raise_finding(person, branch):
        return [Reply("这个支部不在您负责的范围内。")]
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE_TEXT, {"branch": branch.id}, services.now()
    )
    return [Reply(f"{branch.name}:请描述发现的问题(可以附一张照片)。", edit=True)]


async def on_state(msg: Incoming, services: Services) -> list[Reply]:
    sender = member(msg)
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    assert conversation is not None  # the router routes here by the conversation's state
    if sender is None or conversation.state != STATE_TEXT:
        return [Reply("请点上面的按钮选择支部,或发送 /cancel 取消。")]
    branch = await services.repos.org.branch(str(conversation.data.get("branch", "")))
    if branch is None:
        await services.repos.conversations.clear(msg.channel, msg.sender_id)
        return [Reply("支部已不存在,请重新发送 /findings add。")]
    finding, replies = await _record(sender, services, branch, msg.text.strip())
    if finding is not None:
        await services.repos.conversations.clear(msg.channel, msg.sender_id)
    return replies


async def _record(
    msg: Member, services: Services, branch: Branch, text: str, project_ref: str | None = None
) -> tuple[Finding | None, list[Reply]]:
    """Store a finding and tell the branch; the finding is None when refused."""
    done = await supervision.record(
        services, msg.person, msg.channel, branch, text, msg.attachments, project_ref
    )
    if isinstance(done, str):
        return None, [Reply(done)]
    return done, [Reply(f"已记录问题 #{done.id}({branch.name}),已通知支部书记。")]


def _step(step: FindingStep) -> Subcommand:
    """The second word that moves a finding on by `step`."""

    async def handler(msg: Member, services: Services) -> list[Reply]:
        number_text, _, text = msg.args.partition(" ")
        number, text = parsing.number(number_text), text.strip()
        if number is None:
            return [Reply(f"请写上问题编号。用法:{step.usage}")]
        finding = await supervision.visible(services, msg.person, number)
        if finding is None:
            return [_not_found(number)]
        if step.needs_text and not supervision.substantial(text, 2):
            return [Reply(f"请写上说明。用法:{step.usage}")]
        if len(text) > MAX_FINDING_CHARS:
            return [Reply(f"说明太长了,请控制在 {MAX_FINDING_CHARS} 字以内。")]
        done = await supervision.take_step(
            services, msg.person, finding, step, text, (msg.channel, msg.sender_id)
        )
        return [Reply(done)]

    label = supervision.ACTION_LABELS[step.action]
    return Subcommand(step.action, handler, f"{step.usage} — {label}")


# -- visits ------------------------------------------------------------------------------


async def visit(msg: Member, services: Services) -> list[Reply]:
    """记录一次督导走访:/visit [支部] [备注](不写支部就点按钮选)"""
    named, _, note = msg.args.strip().partition(" ")
    answers: forms.Answers = {}
    if named:
        every = await services.repos.org.branches()
        anywhere = forms.branch_named(every, named)
        branch = next((b for b in every if b.id == anywhere), None)
        if branch is not None and not access.supervises(msg.person, branch.department_id):
            return [Reply(f"{branch.name}不在您所在部门的督导范围内。")]
        mine = [b for b in every if access.supervises(msg.person, b.department_id)]
        found = forms.branch_named(mine, named)
        answers = {"note": note.strip() or NO_NOTE} if note.strip() else {}
        if isinstance(found, forms.Problem):  # ask for the branch, saying why
            return [Reply(found.text), *await forms.start(VISIT, msg, services, answers)]
        answers = {"branch": found, "note": note.strip() or NO_NOTE}
    return await forms.start(VISIT, msg, services, answers)


NO_NOTE = "-"


async def _visit_note(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    return forms.Ask(
        "请简单写一句这次走访看了什么(也可以点“不写备注”):",
        (forms.Choice("不写备注", NO_NOTE),),
    )


async def _read_note(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    if len(text) > MAX_FINDING_CHARS:
        return forms.Problem(f"备注太长了({len(text)} 字),请控制在 {MAX_FINDING_CHARS} 字以内。")
    return text.strip() or NO_NOTE


async def _record_visit(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    branch = await services.repos.org.branch(answers["branch"])
    if branch is None or not access.supervises(msg.person, branch.department_id):
        return [Reply("这个支部不在您所在部门的督导范围内。")]
    note = answers.get("note", NO_NOTE)
    if len(note) > MAX_FINDING_CHARS:
        return [Reply(f"备注太长了,请控制在 {MAX_FINDING_CHARS} 字以内。")]
    count = await supervision.record_visit(
        services, msg.person, branch, "" if note == NO_NOTE else note
    )
    target = services.settings.visits_per_month
    return [Reply(f"已记录对{branch.name}的走访。本月第 {count} 次(目标 {target} 次)。")]


VISIT = forms.Form(
    "visit",
    (
        forms.branch_step(
            "branch",
            "请选择走访的支部:",
            lambda person, branch: access.supervises(person, branch.department_id),
        ),
        forms.Step("note", _visit_note, _read_note),
    ),
    _record_visit,
)


async def visits(msg: Member, services: Services) -> list[Reply]:
    """本月督导走访次数:/visits"""
    person = msg.person
    mine = None if access.is_leader(person) else sorted(access.departments_of(person))
    if mine == []:
        return [Reply("只有督导人员和党委领导可以查看走访记录。")]
    at = services.local(services.now())
    found = sorted(
        await supervision.department_visits(services, at, mine), key=lambda d: d.department_id
    )
    target = services.settings.visits_per_month
    lines = [
        f"{found[0].month if found else at.strftime('%Y-%m')} 督导走访(每个支部目标 {target} 次):"
    ]
    for department in found:
        lines.append(
            f"【{department.name}】完成 {department.done}/{target * len(department.branches)}"
        )
        for item in department.branches:
            mark = "✅" if item.this_month >= target else "⏳"
            lines.append(f"  {mark} {item.branch.name} {item.this_month}/{target}")
    return [Reply("\n".join(lines))]


# -- the Monday agenda -------------------------------------------------------------------


async def agenda(msg: Member, services: Services) -> list[Reply]:
    """周一政工例会议程:/agenda"""
    scope = supervision.agenda_scope(msg.person)
    sections = await supervision.build_agenda(services, services.now(), scope)
    return [Reply(render.agenda(services, sections))]


FINDINGS = Command(
    "findings",
    findings,
    access.STAFF,
    subcommands=(
        Subcommand(
            "add",
            _add,
            "/findings add [支部编号 问题] — 记录新问题",
            access.FINDING_RAISERS,
            "只有督导人员和党委领导可以记录新问题。",
        ),
        *(_step(step) for step in STEPS.values()),
    ),
)
USAGE = (
    "用法:\n/findings — 我负责范围内未解决的问题\n/findings 编号 — 一条问题的详情和记录\n"
    "/findings 支部编号 | escalated | all — 筛选\n"
    + "\n".join(sub.usage for sub in FINDINGS.subcommands)
)

FEATURE = Feature(
    commands=[
        FINDINGS,
        Command("visit", visit, access.SUPERVISORS),
        Command("visits", visits, access.OVERSIGHT),
        Command("agenda", agenda, access.OVERSIGHT),
    ],
    callbacks={"f": on_button},
    states={"find": on_state},
)
FORMS = (VISIT,)
