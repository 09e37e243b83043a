"""The quarterly review in chat (/quarter): secretaries report per key project, leaders read
and comment.

A secretary sees the branch's key projects for the quarter under review, each 已汇报 or 未汇报,
and reports through a form (本季度进展, 存在问题, 下一步安排). Once a branch has reported on all
its projects the leaders are told, with a 点评 button per report; a comment goes to the
branch's secretaries. Every rule lives in `handlers.rules.quarterly`.
"""

from __future__ import annotations

from handlers import access, forms, parsing, render
from handlers.messages import Button, Member, Reply, Rows
from handlers.notify import notify
from handlers.quarter_pack import pack_reply
from handlers.router import Command, Feature, Subcommand
from handlers.rules import audience, names, quarterly
from handlers.rules.periods import Quarter
from handlers.services import Services
from storage import Branch, Project, QuarterReport

IN_PRIVATE = "请私聊我填写季度汇报(在群里的回答我收不到)。"
BAD_QUARTER = "季度的格式是 YYYY-Qn,例如 /quarter 2026-Q4。"
USAGE = (
    "用法:/quarter [YYYY-Qn] [支部] 查看季度汇报;/quarter report P03 汇报一个重点项目"
    "(支部书记);/quarter comment 汇报编号 点评内容(党委领导);"
    "/quarter pack [YYYY-Qn] 讲评会材料(党委领导)"
)


def _reviewed(services: Services) -> Quarter:
    return quarterly.under_review(services.local(services.now()))


def _read_quarter(words: list[str], services: Services) -> tuple[Quarter, list[str]] | str:
    """The quarter the first word names (else the one under review), or why it is wrong."""
    if words and words[0][:1].isdigit():
        named = Quarter.parse(words[0].upper())
        if named is None:
            return BAD_QUARTER
        if named > _reviewed(services).next():
            return "这个季度还没有到。"
        return named, words[1:]
    return _reviewed(services), words


async def quarter(msg: Member, services: Services) -> list[Reply]:
    """季度讲评会汇报:/quarter [YYYY-Qn] [支部]"""
    read = _read_quarter(msg.args.split(), services)
    if isinstance(read, str):
        return [Reply(read)]
    period, words = read
    branches = await services.repos.org.branches()
    if words:
        found = names.branches(branches, " ".join(words))
        if len(found) != 1:
            return [Reply(f"没有找到“{parsing.shown(' '.join(words))}”这个支部。{USAGE}")]
        branch = found[0]
    elif access.is_leader(msg.person):
        return [await _overview(services, period)]
    else:
        own = next((b for b in branches if b.id == msg.person.branch_id), None)
        if own is None:
            return [Reply("您所在的支部不在组织名单里,请联系管理员。")]
        branch = own
    if not access.is_leader(msg.person) and branch.id != msg.person.branch_id:
        return [Reply("您只能查看本支部的季度汇报。")]
    return [await _branch_view(services, msg, period, branch)]


async def _overview(services: Services, period: Quarter) -> Reply:
    """A leader's view: reported x/y per branch and who must explain."""
    found = await quarterly.dues(services, period)
    flags = await quarterly.flags(services, period)
    text = render.quarterly_overview(period, quarterly.due_text(services, period), found, flags)
    return Reply(text + "\n发送 /quarter 支部名称 查看该支部的汇报和点评。")


def _report_lines(number: str, report: QuarterReport) -> list[str]:
    lines = [
        f"【{number}】汇报 #{report.id}({report.person_name})",
        f"  本季度进展:{report.progress}",
        f"  存在问题:{report.problems}",
        f"  下一步安排:{report.next_steps}",
    ]
    lines += [f"  💬 {c.person_name}点评:{c.text}" for c in report.comments]
    return lines


async def _branch_view(services: Services, msg: Member, period: Quarter, branch: Branch) -> Reply:
    """One branch's projects for the quarter: reported or not, the reports with comments."""
    due = (await quarterly.dues(services, period, branch.id))[0]
    head = f"{branch.name} {quarterly.label(period)}讲评会汇报({len(due.reports)}/"
    lines = [head + f"{len(due.projects)},{quarterly.due_text(services, period)}):"]
    if not due.projects:
        lines.append("  本支部这个季度没有需要汇报的重点项目。")
    buttons: list[Button] = []
    leader = access.is_leader(msg.person)
    private = msg.chat_type == "private"
    for project in due.projects:
        report = due.reports.get(project.id)
        lines.append(f"{project.number} {project.title}:{'已汇报' if report else '未汇报'}")
        if report is not None:
            lines += _report_lines(project.number, report)[1:]
            if leader:
                buttons.append(render.comment_button(report, project.number))
        if access.may_report_quarter(msg.person, project) and private:
            word = "重新汇报" if report else "汇报"
            buttons.append(
                Button(f"{word} {project.number}", render.report_button(project, period).data)
            )
    rows: Rows = tuple((b,) for b in buttons[: render.REPORT_BUTTONS * 2])
    return Reply("\n".join(lines), buttons=rows)


# -- reporting ---------------------------------------------------------------------------


async def _report(msg: Member, services: Services) -> list[Reply]:
    """汇报一个重点项目"""
    words = msg.args.split()
    if not words:
        return [Reply("用法:/quarter report P03(P03 是本支部参与的重点项目编号)")]
    project = await quarterly.reportable(services, msg.person, words[0])
    if isinstance(project, str):
        return [Reply(project)]
    return await _open_report(msg, services, project, _reviewed(services))


async def _open_report(
    msg: Member, services: Services, project: Project, period: Quarter
) -> list[Reply]:
    if msg.chat_type != "private":
        return [Reply(IN_PRIVATE + f"也可以私聊发送 /quarter report {project.number}。")]
    answers = {"project": str(project.id), "quarter": str(period)}
    return await forms.start(REPORT, msg, services, answers)


async def _opened(msg: Member, services: Services, answers: forms.Answers) -> Project | str:
    period = Quarter.parse(answers.get("quarter", ""))
    project = await quarterly.reportable(services, msg.person, "P" + answers.get("project", ""))
    return "这个操作已经结束了,请重新发送 /quarter。" if period is None else project


def _title(project: Project | str, answers: forms.Answers) -> str:
    period = Quarter.parse(answers.get("quarter", ""))
    if isinstance(project, str) or period is None:
        return ""
    return f"{project.number} {project.title}({quarterly.label(period)})"


def _asker(question: str, *choices: forms.Choice) -> forms.Asker:
    async def ask(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
        project = await _opened(msg, services, answers)
        if isinstance(project, str):
            return forms.Ask(project)
        return forms.Ask(f"{_title(project, answers)}\n{question}", choices)

    return ask


def _reader(what: str) -> forms.Reader:
    async def read(
        text: str, msg: Member, services: Services, answers: forms.Answers
    ) -> str | forms.Problem:
        why = quarterly.text_problem(text, what)
        return forms.Problem(why) if why else text.strip()

    return read


async def _report_summary(msg: Member, services: Services, answers: forms.Answers) -> str:
    project = await _opened(msg, services, answers)
    return "\n".join(
        [
            f"请核对季度汇报:{_title(project, answers)}",
            f"本季度进展:{answers.get('progress', '')}",
            f"存在问题:{answers.get('problems', '')}",
            f"下一步安排:{answers.get('next_steps', '')}",
            "确认提交吗?",
        ]
    )


async def _submit(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    project = await _opened(msg, services, answers)
    period = Quarter.parse(answers.get("quarter", ""))
    if isinstance(project, str) or period is None:
        return [Reply(project if isinstance(project, str) else "请重新发送 /quarter。")]
    done = await quarterly.submit_report(
        services,
        msg.person,
        project,
        period,
        answers.get("progress", ""),
        answers.get("problems", ""),
        answers.get("next_steps", ""),
    )
    if isinstance(done, str):
        return [Reply(done)]
    said = (
        f"已更新 {project.number} 的 {quarterly.label(period)}汇报(替换了之前提交的内容)。"
        if done.replaced
        else f"已提交 {project.number} 的 {quarterly.label(period)}汇报,谢谢!"
    )
    due = (await quarterly.dues(services, period, msg.person.branch_id))[0]
    if due.missing:
        listed = "、".join(p.number for p in due.missing)
        said += f"本支部还有 {len(due.missing)} 项未汇报:{listed}。"
    else:
        said += "本支部的重点项目已全部汇报。"
    if done.complete is not None:
        await _tell_complete(services, period, done.complete)
    return [Reply(said)]


async def _tell_complete(services: Services, period: Quarter, due: quarterly.BranchDue) -> None:
    """The leaders: the branch has reported on all its projects, a 点评 button per report."""
    numbers = {p.id: p.number for p in due.projects}
    text = (
        f"✅ {due.branch.name}已交齐 {quarterly.label(period)} {len(due.projects)} 个"
        "重点项目的汇报。"
        f"发送 /quarter {names.short_branch_name(due.branch)} 查看内容。"
    )
    rows: Rows = tuple(
        (render.comment_button(r, numbers.get(r.project_id, "")),) for r in due.reports.values()
    )
    leaders = await audience.leaders(services)
    await notify(services, leaders, text, key=f"qr-complete:{period}:{due.branch.id}", buttons=rows)


REPORT = forms.Form(
    "quarter_report",
    (
        forms.Step("progress", _asker("请输入本季度进展:"), _reader("本季度进展")),
        forms.Step(
            "problems",
            _asker("请输入存在的问题(没有请点“无”):", forms.Choice("无", quarterly.NONE)),
            _reader("存在问题"),
        ),
        forms.Step("next_steps", _asker("请输入下一步安排:"), _reader("下一步安排")),
    ),
    _submit,
    confirm=_report_summary,
    confirm_label="确认提交",
)


# -- comments ----------------------------------------------------------------------------


async def _comment(msg: Member, services: Services) -> list[Reply]:
    """点评一份季度汇报"""
    first, text = parsing.split_field(msg.args)
    number = parsing.number(first) if first else None
    if number is None:
        return [Reply("用法:/quarter comment 汇报编号 点评内容(例如 /quarter comment 3 进展扎实)")]
    if not text.strip():
        return await _open_comment(msg, services, number)
    return await _commented(msg, services, {"report": str(number), "text": text})


async def _open_comment(msg: Member, services: Services, report_id: int) -> list[Reply]:
    report = await quarterly.readable(services, msg.person, report_id)
    if report is None:
        return [Reply(f"没有编号为 {report_id} 的季度汇报。")]
    if msg.chat_type != "private":
        return [Reply(f"请私聊我点评,也可以一次写全:/quarter comment {report_id} 点评内容")]
    return await forms.start(COMMENT, msg, services, {"report": str(report_id)})


async def _ask_comment(msg: Member, services: Services, answers: forms.Answers) -> forms.Ask:
    report = await quarterly.readable(services, msg.person, int(answers.get("report", "0")))
    if report is None:
        return forms.Ask("这份汇报已经不存在了。")
    project = await services.repos.projects.get(report.project_id)
    number = project.number if project else ""
    branch = await services.repos.org.branch(report.branch_id)
    lines = [f"{branch.name if branch else report.branch_id} 的汇报:"]
    lines += _report_lines(number, report)
    lines.append("请输入您的点评:")
    return forms.Ask("\n".join(lines))


async def _commented(msg: Member, services: Services, answers: forms.Answers) -> list[Reply]:
    number = parsing.number(answers.get("report", ""), prefixes="")
    if number is None:
        return [Reply("这个操作已经结束了,请重新发送 /quarter。")]
    done = await quarterly.comment(services, msg.person, number, answers.get("text", ""))
    if isinstance(done, str):
        return [Reply(done)]
    project = await services.repos.projects.get(done.project_id)
    label = project.number if project else f"汇报 #{done.id}"
    said = done.comments[-1]
    text = f"💬 党委领导 {msg.person.name} 点评了 {label} 的季度汇报:{said.text}"
    secretaries = await audience.secretaries(services, done.branch_id)
    await notify(services, secretaries, text, key=f"qr-comment:{said.id}")
    return [Reply(f"已记录您对 {label} 汇报的点评,并已告知支部书记。")]


COMMENT = forms.Form(
    "quarter_comment",
    (forms.Step("text", _ask_comment, _reader("点评")),),
    _commented,
)


async def on_press(msg: Member, services: Services) -> list[Reply]:
    """A report button (qr:r:<project>:<quarter>) or a comment button (qr:c:<report>)."""
    parts = (msg.callback or "").split(":")
    if len(parts) == 4 and parts[1] == "r":
        period = Quarter.parse(parts[3])
        project = await quarterly.reportable(services, msg.person, "P" + parts[2])
        if period is None:
            return [Reply("这个按钮已经失效了,请重新发送 /quarter。")]
        if isinstance(project, str):
            return [Reply(project)]
        return await _open_report(msg, services, project, period)
    number = parsing.number(parts[2], prefixes="") if len(parts) == 3 else None
    if parts[1:2] == ["c"] and number is not None:
        if not access.may_comment_quarter(msg.person):
            return [Reply("只有党委领导可以点评季度汇报。")]
        return await _open_comment(msg, services, number)
    return [Reply("这个按钮已经失效了,请重新发送 /quarter。")]


async def _pack(msg: Member, services: Services) -> list[Reply]:
    """The meeting pack on request: the text, the chart and the workbook."""
    read = _read_quarter(msg.args.split(), services)
    if isinstance(read, str):
        return [Reply(read)]
    period, rest = read
    if rest:
        return [Reply("用法:/quarter pack [YYYY-Qn],例如 /quarter pack 2026-Q4。")]
    return await pack_reply(services, msg.person, period)


QUARTER = Command(
    "quarter",
    quarter,
    access.BRANCH_STAFF,
    subcommands=(
        Subcommand(
            "report",
            _report,
            "/quarter report P03 — 汇报一个重点项目的季度情况(支部书记)",
            access.SECRETARIES,
            "季度汇报由支部书记填写。",
        ),
        Subcommand(
            "comment",
            _comment,
            "/quarter comment 汇报编号 点评内容 — 点评季度汇报(党委领导)",
            access.LEADERS,
            "只有党委领导可以点评季度汇报。",
        ),
        Subcommand(
            "pack",
            _pack,
            "/quarter pack [YYYY-Qn] — 季度讲评会材料:表格和图表(党委领导)",
            access.LEADERS,
            "季度讲评会材料只发给党委领导。",
        ),
    ),
)
FORMS = (REPORT, COMMENT)
FEATURE = Feature(commands=[QUARTER], callbacks={quarterly.BUTTON: on_press})
