"""Supervision in chat: /findings raised on branch visits, /visit and /visits, /agenda."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from handlers import access, forms, parsing, render
from handlers.messages import Button, Incoming, Member, Reply, Rows
from handlers.router import Command, Feature, Subcommand
from handlers.rules import names, supervision
from handlers.rules.supervision import MAX_FINDING_CHARS, STEPS, FindingStep
from handlers.services import Services
from storage import Branch, Department, Finding, Person

PREFIX = "f"
"""Callback data of a step button on a finding: f:<action>:<finding id>."""


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
        return [await _show(services, msg.person, number, msg.chat_type == "private")]
    first, rest = parsing.split_field(msg.args)
    if first != word and any(first.lower() == sub.name for sub in FINDINGS.subcommands):
        # '/findings resolve:1 …' (a phone's ：): the second word ends at the separator too
        return await FINDINGS.run(dataclasses.replace(msg, args=f"{first} {rest}"), services)
    return [await _list(services, msg.person, action)]


async def _list(services: Services, person: Person, flt: str) -> Reply:
    allowed = await supervision.scope(services, person)
    labels = await _names(services)
    branches: list[str] | None = allowed
    title = "未解决的问题"
    if flt and flt not in ("all", "escalated") and flt not in labels:
        found_by_name = names.branches(await services.repos.org.branches(), flt)
        flt = found_by_name[0].id if len(found_by_name) == 1 else flt
    if flt and flt not in ("all", "escalated"):
        if flt not in labels:
            return Reply(f"没有“{flt[:20]}”这个筛选或支部编号。\n{USAGE}")
        if allowed is not None and flt not in allowed:
            return Reply(f"{labels[flt]}不在您负责的范围内。")
        branches, title = [flt], f"{labels[flt]}未解决的问题"
    if flt == "all":
        title = "全部问题(含已解决)"
    if flt == "escalated":
        title = "待党委协调的问题"
    found = await services.repos.findings.search(
        branches=branches, include_resolved=flt == "all", escalated_only=flt == "escalated"
    )
    if not found:
        return Reply(f"{title}:没有。")
    now = services.now()
    lines = [f"{title}(最早的在前):"] + [render.finding_line(f, labels, now) for f in found]
    return Reply("\n".join(lines))


IN_PRIVATE = "这一步要回答问题,请私聊我操作(在群里的回答我收不到)。"
"""A form's typed answers are read in a private chat only."""


def _not_found(number: int) -> Reply:
    return Reply(f"没有找到您负责范围内编号为 #{number} 的问题。")


async def _show(
    services: Services, person: Person, number: int, with_buttons: bool = True
) -> Reply:
    finding = await supervision.visible(services, person, number)
    if finding is None:
        return _not_found(number)
    labels = await _names(services)
    header = render.finding_header(finding, labels, services.now())
    lines = [header, f"问题:{finding.text}"]
    if finding.decision is not None:
        departments = dict(await services.repos.org.department_names())
        assigned = finding.assigned_department or ""
        lines.append(
            f"例会决定:{finding.decision}({departments.get(assigned, assigned)}负责,"
            f"{finding.decision_due} 前完成)"
        )
    lines.append("记录:")
    for event in await services.repos.findings.history(finding.id):
        when = services.local(event.created_at).strftime("%m-%d %H:%M")
        extra = f":{event.text}" if event.text and event.action != "add" else ""
        lines.append(
            f"  {when} {event.person_name} {supervision.ACTION_LABELS[event.action]}{extra}"
        )
    if not with_buttons:  # in a group: a step's text could not be answered there
        return Reply("\n".join(lines))
    stands = access.finding_roles(person, finding)
    return Reply("\n".join(lines), buttons=step_buttons(finding, stands))


def step_buttons(finding: Finding, stands: Collection[str]) -> Rows:
    """A button for each step someone standing so to the finding may take on it now."""
    steps = supervision.open_steps(stands, finding)
    return (
        (tuple(Button(s.button, f"{PREFIX}:{s.action}:{finding.id}") for s in steps),)
        if steps
        else ()
    )


def _secretary_buttons(finding: Finding) -> Rows:
    return step_buttons(finding, {"secretary"})


async def _add(msg: Member, services: Services) -> list[Reply]:
    """记录新问题"""
    named, text = parsing.split_field(msg.args)
    if not named:
        if msg.chat_type != "private":
            return [Reply(f"{IN_PRIVATE}也可以一次写全:/findings add 支部 问题")]
        return await forms.start(ADD, msg, services)
    found = names.branches(await services.repos.org.branches(), named)
    if len(found) > 1:
        listed = "、".join(names.short_branch_name(b) for b in found[:8])
        return [Reply(f"“{parsing.shown(named)}”可能是:{listed}。请写完整的支部名称或编号。")]
    if not found:
        return [
            Reply(
                f"没有编号为“{parsing.shown(named)}”的支部。"
                "用法:/findings add 支部编号或名称 [P项目号] 问题"
            )
        ]
    branch, project_ref = found[0], None
    first, remainder = parsing.split_field(text)
    if parsing.looks_like_project(first):  # the key project the problem concerns
        number = parsing.number(first, prefixes="P")
        project = await services.repos.projects.get(number) if number is not None else None
        if project is None or branch.id not in project.branches:
            return [Reply(f"{branch.name}没有参与重点项目 {first.upper()}。")]
        project_ref, text = project.number, remainder
    return await _record(msg, services, branch, text.strip(), project_ref)


async def _ask_text(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    branch = await services.repos.org.branch(answers["branch"])
    name = branch.name if branch is not None else answers["branch"]
    return forms.Ask(f"{name}:请描述发现的问题(可以附一张照片)。")


async def _read_text(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    if not supervision.substantial(text, supervision.MIN_FINDING_CHARS):
        return forms.Problem("请写清楚发现的问题(至少几个字)。")
    if len(text) > MAX_FINDING_CHARS:
        return forms.Problem(
            f"问题描述太长了({len(text)} 字),请控制在 {MAX_FINDING_CHARS} 字以内。"
        )
    return text


async def _finish_add(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    branch = await services.repos.org.branch(answers["branch"])
    if branch is None:
        return [Reply("支部已不存在,请重新发送 /findings add。")]
    return await _record(msg, services, branch, answers["text"])


ADD = forms.Form(
    "finding_add",
    (
        forms.branch_step("branch", "请选择发现问题的支部:", access.may_raise_finding),
        forms.Step("text", _ask_text, _read_text),
    ),
    _finish_add,
)


async def _record(
    msg: Member, services: Services, branch: Branch, text: str, project_ref: str | None = None
) -> list[Reply]:
    """Store a finding and tell the branch."""
    done = await supervision.record(
        services,
        msg.person,
        msg.channel,
        branch,
        text,
        msg.attachments,
        project_ref,
        buttons=_secretary_buttons,
    )
    if isinstance(done, str):
        return [Reply(done)]
    return [Reply(f"已记录问题 #{done.finding.id}({branch.name}){done.told}")]


async def _typed_finding(
    msg: Member, services: Services, number_text: str, usage: str
) -> Finding | Reply:
    """The finding a one-line command names, if the person may see it; else the reply."""
    number = parsing.number(number_text)
    if number is None:
        return Reply(f"请写上问题编号。用法:{usage}")
    finding = await supervision.visible(services, msg.person, number)
    return finding if finding is not None else _not_found(number)


def _step(step: FindingStep) -> Subcommand:
    """The second word that moves a finding on by `step`."""

    async def handler(msg: Member, services: Services) -> list[Reply]:
        number_text, text = parsing.split_field(msg.args)
        finding = await _typed_finding(msg, services, number_text, step.usage)
        if isinstance(finding, Reply):
            return [finding]
        why = supervision.refusal(msg.person, finding, step)
        if why is None and step.needs_text and not text:
            why = f"请写上说明。用法:{step.usage}"
        why = why or supervision.text_problem(step, text)
        if why:
            return [Reply(why)]
        return [await _take(msg, services, finding, step, text)]

    label = supervision.ACTION_LABELS[step.action]
    return Subcommand(step.action, handler, f"{step.usage} — {label}")


DECIDE_USAGE = "/findings decide 编号 决定 | 责任部门 | 完成日期"


async def _decide(msg: Member, services: Services) -> list[Reply]:
    """The Monday meeting's decision on a finding, on one line."""
    number_text, rest = parsing.split_field(msg.args)
    finding = await _typed_finding(msg, services, number_text, DECIDE_USAGE)
    if isinstance(finding, Reply):
        return [finding]
    parts = [p.strip() for p in rest.split("|")]
    if len(parts) != 3 or not all(parts):
        return [Reply(f"请写全决定、责任部门和完成日期。用法:{DECIDE_USAGE}")]
    text, named, due_text = parts
    every = [Department(d.id, d.name) for d in await services.repos.org.department_names()]
    found = names.departments(every, named)
    if len(found) != 1:
        listed = "、".join(d.name for d in every)
        return [Reply(f"“{parsing.shown(named)}”不是一个部门。可选:{listed}。")]
    due = supervision.parse_due(due_text)
    if due is None:
        return [Reply(f"“{parsing.shown(due_text)}”不是日期,请写成 2026-12-15。")]
    return [Reply(await supervision.decide(services, msg.person, finding, text, found[0], due))]


async def _decide_button(msg: Member, services: Services, number_text: str) -> list[Reply]:
    """决定 on the agenda: a form asks the decision, the department and the due day."""
    number = parsing.number(number_text, prefixes="")
    finding = await supervision.visible(services, msg.person, number) if number else None
    if finding is None or number is None:
        return [_not_found(number or 0)]
    if not access.may_decide_finding(msg.person):
        return [Reply("只有党委领导可以记录政工例会的决定。")]
    if msg.chat_type != "private":
        return [Reply(f"{IN_PRIVATE}也可以一次写全:{DECIDE_USAGE}")]
    return await forms.start(DECIDE, msg, services, {"finding": str(number)})


async def _ask_decision(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    number = answers.get("finding", "")
    return forms.Ask(f"问题 #{number}:请写上政工例会的决定。")


async def _read_decision(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    if not supervision.substantial(text, 2) or len(text) > MAX_FINDING_CHARS:
        return forms.Problem(f"请写清楚决定的内容(不超过 {MAX_FINDING_CHARS} 字)。")
    return text


async def _departments(services: Services) -> list[Department]:
    return [Department(d.id, d.name) for d in await services.repos.org.department_names()]


async def _department_choices(
    msg: Member, services: Services, answers: forms.Answers
) -> list[forms.Choice]:
    return [forms.Choice(d.name, d.id) for d in await _departments(services)]


async def _read_department(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    found = names.departments(await _departments(services), text)
    return found[0].id if len(found) == 1 else forms.Problem("请点下面的按钮选择责任部门。")


async def _ask_due(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    return forms.Ask("请写上完成日期,例如 2026-12-15。")


async def _read_due(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    due = supervision.parse_due(text)
    return due or forms.Problem(f"“{parsing.shown(text)}”不是日期,请写成 2026-12-15。")


async def _finish_decide(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    number = parsing.number(answers.get("finding", ""), prefixes="")
    finding = await supervision.visible(services, msg.person, number) if number else None
    department = {d.id: d for d in await _departments(services)}.get(answers["department"])
    if finding is None or department is None:
        return [Reply("这个问题已经不在您负责的范围内了。")]
    text = await supervision.decide(
        services, msg.person, finding, answers["text"], department, answers["due"]
    )
    return [Reply(text)]


DECIDE = forms.Form(
    "finding_decide",
    (
        forms.Step("text", _ask_decision, _read_decision),
        forms.choice_step(
            "department", "请选择责任部门:", _department_choices, typed=_read_department
        ),
        forms.Step("due", _ask_due, _read_due),
    ),
    _finish_decide,
)


def _decide_buttons(sections: list[supervision.AgendaDepartment]) -> Rows:
    """A 决定 button for each item on the agenda, three to a row."""
    buttons = [
        Button(f"决定 #{f.id}", f"{PREFIX}:decide:{f.id}")
        for section in sections
        for item in section.branches
        for f in item.findings
    ]
    return tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))


async def _take(
    msg: Member, services: Services, finding: Finding, step: FindingStep, text: str
) -> Reply:
    done = await supervision.take_step(
        services, msg.person, finding, step, text, (msg.channel, msg.sender_id), step_buttons
    )
    return Reply(done)


async def _left_over(msg: Incoming, services: Services) -> list[Reply]:
    """An answer to the /findings add conversation of before the forms (find.branch,
    find.text), kept in the table across the upgrade: not an idea, and not lost in silence."""
    await services.repos.conversations.clear(msg.channel, msg.sender_id)
    return [Reply("这个操作已经结束了,请重新发送 /findings add。")]


async def on_button(msg: Member, services: Services) -> list[Reply]:
    """A step button on a finding: done at once, or a form asks for its text."""
    parts = (msg.callback or "").split(":")
    if len(parts) == 3 and parts[1] == "decide":
        return await _decide_button(msg, services, parts[2])
    step = STEPS.get(parts[1]) if len(parts) == 3 else None
    number = parsing.number(parts[2], prefixes="") if step is not None else None
    if step is None or number is None:
        return [Reply("这个按钮已经失效了,请重新发送 /findings。")]
    finding = await supervision.visible(services, msg.person, number)
    if finding is None:
        return [_not_found(number)]
    why = supervision.refusal(msg.person, finding, step)
    if why:
        return [Reply(why)]
    if not step.needs_text:
        return [await _take(msg, services, finding, step, "")]
    if msg.chat_type != "private":
        return [Reply(f"{IN_PRIVATE}也可以一次写全:{step.usage}")]
    return await forms.start(
        STEP_TEXT, msg, services, {"finding": str(number), "action": step.action}
    )


async def _opened_step(
    msg: Member, services: Services, answers: forms.Answers
) -> tuple[Finding, FindingStep] | str:
    """The finding and the step a step form is about, or why it is over."""
    step = STEPS.get(answers.get("action", ""))
    number = parsing.number(answers.get("finding", ""), prefixes="")
    finding = await supervision.visible(services, msg.person, number) if number else None
    if step is None or finding is None:
        return "这个问题已经不在您负责的范围内了。"
    return finding, step


async def _ask_step_text(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    opened = await _opened_step(msg, services, answers)
    if isinstance(opened, str):
        return forms.Ask(opened)
    finding, step = opened
    short = finding.text if len(finding.text) <= 30 else finding.text[:30] + "…"
    return forms.Ask(f"问题 #{finding.id}:{short}\n{step.ask.format(id=finding.id)}")


async def _read_step_text(
    text: str, msg: Member, services: Services, answers: forms.Answers
) -> str | forms.Problem:
    step = STEPS.get(answers.get("action", ""))
    why = supervision.text_problem(step, text) if step is not None else None
    return forms.Problem(why) if why else text


async def _finish_step(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    opened = await _opened_step(msg, services, answers)
    if isinstance(opened, str):
        return [Reply(opened)]
    finding, step = opened
    return [await _take(msg, services, finding, step, answers["text"])]


STEP_TEXT = forms.Form(
    "finding_step", (forms.Step("text", _ask_step_text, _read_step_text),), _finish_step
)


# -- visits ------------------------------------------------------------------------------


async def visit(msg: Member, services: Services) -> list[Reply]:
    """记录一次督导走访:/visit [支部] [备注](不写支部就点按钮选)"""
    named, note = parsing.split_field(msg.args)
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
            said = found.text
            if not names.branches(every, named):
                said = f"没有编号为“{parsing.shown(named)}”的支部,请点按钮选择(也可以写支部名称)。"
            return [Reply(said), *await forms.start(VISIT, msg, services, answers)]
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
    now = services.now()
    sections = await supervision.build_agenda(services, now, scope)
    pending = await supervision.decided_pending(services, now, scope)
    private_leader = access.may_decide_finding(msg.person) and msg.chat_type == "private"
    rows = _decide_buttons(sections) if private_leader else ()
    return [Reply(render.agenda(sections, now, pending), buttons=rows)]


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
        Subcommand(
            "decide",
            _decide,
            f"{DECIDE_USAGE} — 记录政工例会的决定",
            access.LEADERS,
            "只有党委领导可以记录政工例会的决定。",
        ),
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
    callbacks={PREFIX: on_button},
    states={"find": _left_over},
)
FORMS = (VISIT, ADD, STEP_TEXT, DECIDE)
