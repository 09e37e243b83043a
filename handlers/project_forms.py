"""Key projects one part at a time: /project new, /benefit and /reward as guided forms, and the
same parts read from the one-line commands.

Each one-line command is a table of `Part`s: what a reply calls the part, what the usage line
shows, and the reader that turns typed text into the answer a form keeps. The usage line is
made from the table, a missing part is named from it, and the guided form asks the same parts
with the same readers, so a typed line and a form answer are read alike. The finishers do
what the commands do, through handlers.rules.projects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from handlers import access, forms, parsing
from handlers.forms import Answers, Ask, Choice, Problem
from handlers.messages import Member, Reply
from handlers.money import (
    Product,
    format_yuan,
    parse_product,
    parse_yuan,
    take_amount,
    take_product,
)
from handlers.rules import names, rewards
from handlers.rules import projects as rules
from handlers.rules.periods import Month
from handlers.rules.projects import NewProject, text_length_ok
from handlers.services import Services
from storage import KeyPoint, PartyGroup, Person, Project, RewardShare

NONE = "-"
"""The answer of an optional part left out (跳过, 不写备注)."""
MAX_TITLE = 60
MAX_NOTE = 200
MAX_PROJECT_BUTTONS = 30
SKIP_WORDS = ("跳过", "无", "没有", "不", "-", "skip")


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a one-line command."""

    key: str
    label: str
    """What a reply calls it: 负责人."""
    hint: str
    """What the usage line shows: 负责人工号或姓名."""
    read: forms.Reader
    optional: bool = False


def usage(command: str, parts: Sequence[Part], separator: str, example: str) -> str:
    shown = [f"[{p.hint}]" if p.optional else p.hint for p in parts]
    return f"用法:{command} {separator.join(shown)}\n例如:{example}"


async def read_parts(
    parts: Sequence[Part],
    fields: Sequence[str],
    msg: Member,
    services: Services,
    usage_text: str,
    *,
    partial: bool = False,
) -> Answers | Problem:
    """The answers of a one-line command's `fields`, read by its table; a missing part is
    named (or, with `partial`, left for the form to ask), a wrong one says what is wrong."""
    if len(fields) > len(parts):
        return Problem(f"多写了 {len(fields) - len(parts)} 项。\n{usage_text}")
    answers: Answers = {}
    for index, part in enumerate(parts):
        text = fields[index].strip() if index < len(fields) else ""
        if not text:
            if part.optional:
                answers[part.key] = NONE
                continue
            if partial:
                continue
            return Problem(f"缺少第 {index + 1} 项“{part.label}”。\n{usage_text}")
        value = await part.read(text, msg, services, answers)
        if isinstance(value, Problem):
            return value
        answers[part.key] = value
    return answers


def _skipped(text: str) -> bool:
    return parsing.fold(text).strip().lower() in SKIP_WORDS


async def project_or_refusal(services: Services, word: str, usage_text: str) -> Project | str:
    """The project `word` names ('P07', 'p7'); the usage when it is no project number at
    all, "没有重点项目 P09" when there is none with that number."""
    number = rules.project_number(parsing.fold(word).strip())
    if number is None:
        return usage_text
    found = await services.repos.projects.get(number)
    if found is None:
        return f"没有重点项目 P{number:02d}。查看全部:/projects"
    return found


async def _typed_project(
    text: str, services: Services, allowed: Callable[[Project], bool]
) -> str | Problem:
    found = await project_or_refusal(services, text, "请写重点项目编号,例如 P07,或点按钮选择。")
    if isinstance(found, str):
        return Problem(found)
    if not allowed(found):
        return Problem(f"{found.number} 不在您可以选的项目里,请点按钮选择。")
    return str(found.id)


def _project_choices(projects: Sequence[Project]) -> list[Choice]:
    """The latest projects as buttons, their number and the start of their title."""
    return [Choice(f"{p.number} {p.title[:12]}", str(p.id)) for p in projects][
        -MAX_PROJECT_BUTTONS:
    ]


async def _project_of(services: Services, answers: Answers) -> Project | None:
    number = parsing.number(answers.get("project", ""), prefixes="")
    return await services.repos.projects.get(number) if number is not None else None


async def _amount(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    fen = parse_yuan(text)
    return Problem(fen) if isinstance(fen, str) else str(fen)


# -- /project new ------------------------------------------------------------------------


async def _title(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    title = text.strip()
    if len(title) > MAX_TITLE:
        return Problem(f"项目标题请控制在 {MAX_TITLE} 字以内。")
    if not text_length_ok(title):
        return Problem("请写上项目标题(至少两个字)。")
    return title


async def _category(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    key = parsing.fold(text).strip().lower()
    for category in services.classifier.categories:
        if key in (category.id.lower(), category.label.lower()):
            return category.id
    return Problem(
        f"类别要写类别编号或名称,例如 repair_reuse 或 修旧利废;“{parsing.shown(text)}”不是。"
    )


async def _committee(services: Services) -> list[Person]:
    """Who may lead a key project."""
    return [
        p for p in await services.repos.people.with_role("leader") if access.is_committee_member(p)
    ]


async def _lead(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    found = names.people(await _committee(services), text)
    if len(found) == 1:
        return found[0].employee_no
    if found:
        listed = "、".join(f"{p.employee_no}({p.name})" for p in found)
        return Problem(f"“{parsing.shown(text)}”有 {len(found)} 位:{listed},请写工号。")
    return Problem(f"负责人要写党委委员(领导)的工号或姓名,“{parsing.shown(text)}”不是。")


async def _branches(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    every = await services.repos.org.branches()
    picked: list[str] = []
    words = parsing.fold_separators(text).replace(",", " ").replace(";", " ").split()
    if not words:
        return Problem("支部编号不对:没写。")
    for word in words:
        found = names.branches(every, word)
        if not found:
            return Problem(
                f"支部编号不对:没有“{parsing.shown(word)}”这个支部。请写支部编号或名称,"
                "例如 jj1 或 机掘一队,几个支部用逗号分开。"
            )
        if len(found) > 1:
            listed = "、".join(names.short_branch_name(b) for b in found[:8])
            return Problem(f"“{parsing.shown(word)}”可能是:{listed},请写全名或编号。")
        if found[0].id not in picked:
            picked.append(found[0].id)
    return ",".join(picked)


async def _expected(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    fen = parse_yuan(text)
    return Problem(f"预期年效益:{fen}") if isinstance(fen, str) else str(fen)


async def _ideas(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    if _skipped(text):
        return NONE
    numbers = parsing.fold_separators(text).replace(",", " ").split()
    found = await rules.unlinked_ideas(services, numbers)
    if isinstance(found, str):
        return Problem(found)
    return " ".join(str(i.id) for i in found) or NONE


NEW_PARTS = (
    Part("title", "标题", "标题", _title),
    Part("category", "类别", "类别", _category),
    Part("lead", "负责人", "负责人工号或姓名", _lead),
    Part("branches", "支部", "支部,支部", _branches),
    Part("expected", "预期年效益", "预期年效益", _expected),
    Part("ideas", "金点子", "金点子编号 …", _ideas, optional=True),
)
NEW_USAGE = (
    usage(
        "/project new",
        NEW_PARTS,
        " | ",
        "/project new 井下锚杆回收复用 | 修旧利废 | 孙矿长 | 机掘一队,机掘二队 | 50万 | 1 3",
    )
    + "\n只发 /project new 就按步骤一项一项填。"
)
NEW_LINE = "/project new [" + " | ".join(p.hint for p in NEW_PARTS) + "]"
"""The subcommand's line in /help."""


async def new_project(msg: Member, services: Services) -> list[Reply]:
    """建立重点项目"""
    if not msg.args.strip():
        return await forms.start(NEW_PROJECT, msg, services)
    fields = parsing.fold(msg.args).split("|")
    answers = await read_parts(NEW_PARTS, fields, msg, services, NEW_USAGE)
    if isinstance(answers, Problem):
        return [Reply(answers.text)]
    return await _create(msg, services, answers)


async def _create(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    if not access.is_leader(msg.person):
        return [Reply("只有党委领导可以建立重点项目。")]
    branches = answers["branches"].split(",")
    refusal = await rules.check_new(services, answers["lead"], branches)
    if refusal:
        return [Reply(refusal)]
    ideas = answers.get("ideas", NONE)
    found = await rules.unlinked_ideas(services, [] if ideas == NONE else ideas.split())
    if isinstance(found, str):
        return [Reply(found)]
    title = answers["title"]
    plan = NewProject(
        title, answers["category"], answers["lead"], branches, int(answers["expected"]), found
    )
    created, linked = await rules.create(services, msg.person, plan)
    return [
        Reply(f"已建立重点项目 {created.number}「{title}」。" + "".join(f"\n{t}" for t in linked))
    ]


async def _new_summary(msg: Member, services: Services, answers: Answers) -> str:
    labels = {c.id: c.label for c in services.classifier.categories}
    short = {b.id: names.short_branch_name(b) for b in await services.repos.org.branches()}
    lead = await services.repos.people.by_employee_no(answers["lead"])
    ideas = answers.get("ideas", NONE)
    return "\n".join(
        [
            "请确认新的重点项目:",
            f"  标题:{answers['title']}",
            f"  类别:{labels.get(answers['category'], answers['category'])}",
            f"  负责人:{lead.name if lead else ''}({answers['lead']})",
            "  支部:" + "、".join(short.get(b, b) for b in answers["branches"].split(",")),
            f"  预期年效益:{format_yuan(int(answers['expected']))}",
            "  金点子:"
            + ("不纳入" if ideas == NONE else "、".join(f"#{i}" for i in ideas.split())),
        ]
    )


def _asks(text: str, *choices: Choice) -> forms.Asker:
    async def ask(msg: Member, services: Services, answers: Answers) -> Ask:
        return Ask(text, choices)

    return ask


async def _category_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    return [Choice(c.label, c.id) for c in services.classifier.categories]


async def _lead_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    committee = await _committee(services)
    twice = {p.name for p in committee if sum(q.name == p.name for q in committee) > 1}
    return [
        Choice(f"{p.name}({p.employee_no})" if p.name in twice else p.name, p.employee_no)
        for p in committee
    ]


async def _branch_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    return [Choice(names.short_branch_name(b), b.id) for b in await services.repos.org.branches()]


NEW_PROJECT = forms.Form(
    "project_new",
    (
        forms.Step("title", _asks(f"请写上项目标题({MAX_TITLE} 字以内):"), _title),
        forms.choice_step("category", "请选择类别:", _category_choices, typed=_category),
        forms.choice_step("lead", "请选择项目负责人(党委委员):", _lead_choices, typed=_lead),
        forms.multi_choice_step(
            "branches",
            "请选择参与的支部,可以选几个,选好后点“完成”(也可以直接写支部名称,用逗号分开):",
            _branch_choices,
            typed=_branches,
        ),
        forms.Step("expected", _asks("请写上预期年效益,例如 50万 或 500000元:"), _expected),
        forms.Step(
            "ideas",
            _asks(
                "要纳入哪些金点子?写编号(带 #),例如 #12 #15;没有就点“跳过”。", Choice("跳过", NONE)
            ),
            _ideas,
        ),
    ),
    _create,
    confirm=_new_summary,
)


# -- /benefit ----------------------------------------------------------------------------


async def _claimable(msg: Member, services: Services) -> list[Project]:
    return [p for p in await services.repos.projects.all() if rules.may_act(msg.person, p)]


async def _claim_project(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    return await _typed_project(text, services, lambda p: rules.may_act(msg.person, p))


async def _claim_text(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    if not text_length_ok(text.strip()):
        return Problem("请写上效益的说明(哪个月、怎么算的,500 字以内)。")
    month = rules.typed_month(text, _this_month(services))
    if isinstance(month, str):
        return Problem(month)
    if month is not None and month > _this_month(services):
        return Problem(f"{month} 还没到,只能申报已经取得的效益。")
    return text.strip()


def _this_month(services: Services) -> Month:
    return Month.of(services.local(services.now()))


def _encode_amount(fen: int, product: Product | None) -> str:
    """A benefit's amount as a form answer: '4002000', or '4002000|1740|套|2300' with its
    calculation (quantity, unit, unit price)."""
    if product is None:
        return str(fen)
    return f"{fen}|{product.quantity}|{product.unit}|{product.price_fen}"


def _decode_amount(value: str) -> tuple[int, Product | None]:
    fen_text, *calculation = value.split("|")
    fen = parsing.number(fen_text, prefixes="") or 0
    if len(calculation) != 3:
        return fen, None
    quantity, unit, price_text = calculation
    return fen, Product(quantity, unit, parsing.number(price_text, prefixes="") or 0, fen)


async def _benefit_amount(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    """An amount ('4万') or a quantity × unit price ('1740套×23元', '1740*23')."""
    if take_product(text) is not None:
        product = parse_product(text)
        if isinstance(product, str):
            return Problem(product)
        return _encode_amount(product.amount_fen, product)
    fen = parse_yuan(text)
    if isinstance(fen, str):
        return Problem(fen + "也可以写 数量×单价,例如 1740套×23元。")
    return _encode_amount(fen, None)


BENEFIT_PARTS = (
    Part("project", "项目编号", "P项目号", _claim_project),
    Part("amount", "金额", "金额或数量×单价", _benefit_amount),
    Part("text", "说明", "说明(可写月份)", _claim_text),
)
BENEFIT_USAGE = (
    usage("/benefit", BENEFIT_PARTS, " ", "/benefit P07 1740套×23元 11月回收锚杆")
    + "\n金额也可以直接写,例如 /benefit P07 4万 11月更换LED灯;不写月份算本月。"
    + "\n只发 /benefit 就按步骤填。"
)
PRODUCT, AMOUNT = "product", "amount"
"""The two ways a benefit is written (the form's first question)."""


async def benefit(msg: Member, services: Services) -> list[Reply]:
    """申报项目效益:/benefit [P07 金额或数量×单价 说明](只发 /benefit 就按步骤填)"""
    word, _, rest = msg.args.strip().partition(" ")
    if not word:
        if not await _claimable(msg, services):
            return [Reply("目前没有您可以申报效益的重点项目。")]
        return await forms.start(BENEFIT, msg, services)
    found = await project_or_refusal(services, word, BENEFIT_USAGE)
    if isinstance(found, str):
        return [Reply(found)]
    if not rules.may_act(msg.person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以申报效益。")]
    amount, text = take_product(rest) or take_amount(rest)
    fields = [found.number, amount, text]
    answers = await read_parts(BENEFIT_PARTS, fields, msg, services, BENEFIT_USAGE, partial=True)
    if isinstance(answers, Problem):
        return [Reply(answers.text)]
    if "text" in answers:  # the month it names, or this one
        month = rules.typed_month(answers["text"], _this_month(services))
        answers["period"] = str(month if isinstance(month, Month) else _this_month(services))
    if all(p.key in answers for p in BENEFIT_PARTS):  # typed in full: recorded at once
        return await _claim(msg, services, answers)
    return await forms.start(BENEFIT, msg, services, answers)


async def _claim(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    found = await _project_of(services, answers)
    if found is None or not rules.may_act(msg.person, found):
        return [Reply("只有项目的负责人、参与支部的书记或党委领导可以申报效益。")]
    fen, product = _decode_amount(answers["amount"])
    period = _period(services, answers)
    claim_id, told = await rules.claim(
        services, msg.person, found, fen, answers["text"], product=product, period=period
    )
    whom = f"已通知 {told} 位党委领导核实" if told else "请党委领导核实"
    amount = rules.describe_amount(fen, product, str(period))
    return [
        Reply(
            f"已申报 {found.number} 效益 {amount}(编号 B{claim_id}),{whom}。"
            "只有核实后的金额才会计入。"
        )
    ]


def _period(services: Services, answers: Answers) -> Month:
    """The month chosen, else the one the note names, else this one."""
    chosen = Month.parse(answers.get("period", ""))
    if chosen is not None:
        return chosen
    named = rules.typed_month(answers.get("text", ""), _this_month(services))
    return named if isinstance(named, Month) else _this_month(services)


async def _kind(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    """A typed answer to "数量×单价 or 金额" that is already the amount answers both."""
    value = await _benefit_amount(text, msg, services, answers)
    if isinstance(value, Problem):
        return value
    answers["amount"] = value  # the next question is answered too
    return PRODUCT if "|" in value else AMOUNT


async def _kind_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    return [Choice("数量×单价", PRODUCT), Choice("金额", AMOUNT)]


async def _period_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    this = _this_month(services)
    return [
        Choice(f"本月 {this}", str(this)),
        Choice(f"上月 {this.previous()}", str(this.previous())),
    ]


async def _typed_period(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    month = rules.typed_month(text, _this_month(services))
    if month is None:
        return Problem("请写月份,例如 2026-11 或 11月,或点按钮。")
    if isinstance(month, str):
        return Problem(month)
    if month > _this_month(services):
        return Problem(f"{month} 还没到,只能申报已经取得的效益。")
    return str(month)


def _names_a_month(answers: Answers) -> bool:
    return (
        "period" in answers
        or rules.typed_month(answers.get("text", ""), Month(2000, 1)) is not None
    )


async def _claim_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    return _project_choices(await _claimable(msg, services))


async def _ask_amount(msg: Member, services: Services, answers: Answers) -> Ask:
    found = await _project_of(services, answers)
    number = found.number if found else ""
    if answers.get("kind") == PRODUCT:
        return Ask(f"请写上 {number} 的数量×单价,例如 1740套×23元:")
    return Ask(f"请写上 {number} 这次申报的效益金额,例如 4万 或 40000元:")


async def _benefit_summary(msg: Member, services: Services, answers: Answers) -> str:
    found = await _project_of(services, answers)
    fen, product = _decode_amount(answers["amount"])
    return "\n".join(
        [
            "请确认效益申报:",
            f"  项目:{found.number} {found.title}" if found else "  项目:",
            f"  金额:{rules.describe_amount(fen, product)}",
            f"  月份:{_period(services, answers)}",
            f"  说明:{answers['text']}",
            "确认后等党委领导核实,核实后才计入。",
        ]
    )


BENEFIT = forms.Form(
    "benefit",
    (
        forms.choice_step(
            "project",
            "请选择要申报效益的重点项目(或写项目编号,例如 P07):",
            _claim_choices,
            typed=_claim_project,
        ),
        forms.choice_step(
            "kind",
            "这次效益怎么算?点“数量×单价”(例如 1740套×23元)或“金额”(例如 4万);也可以直接写:",
            _kind_choices,
            typed=_kind,
            skip=lambda answers: "amount" in answers,
        ),
        forms.Step("amount", _ask_amount, _benefit_amount),
        forms.Step(
            "text",
            _asks("请写上效益说明:哪个月、怎么算的,例如 11月回收锚杆1740根:"),
            _claim_text,
        ),
        forms.choice_step(
            "period",
            "这是哪个月的效益?点按钮,或写月份(例如 2026-10):",
            _period_choices,
            typed=_typed_period,
            skip=_names_a_month,
        ),
    ),
    _claim,
    confirm=_benefit_summary,
)


# -- key points: /project P07 point add, and /progress on one of several -----------------

MAX_POINT_TITLE = 40


async def _point_title(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    title = text.strip()
    if len(title) > MAX_POINT_TITLE:
        return Problem(f"关键点请控制在 {MAX_POINT_TITLE} 字以内。")
    if not text_length_ok(title):
        return Problem("请写上关键点(至少两个字),例如 锚杆回收分拣。")
    return title


async def _point_branch(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    found = forms.branch_named(await services.repos.org.branches(), text)
    if isinstance(found, Problem):
        return Problem(
            f"负责的支部:没有找到“{parsing.shown(text)}”,请写支部名称或编号,例如 机掘一队 或 jj1。"
        )
    return found


async def _due(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    written = Month.parse(parsing.fold(text).strip())
    if written is None:
        named = rules.typed_month(text, _this_month(services))
        if isinstance(named, str):
            return Problem(named)
        return Problem(f"到期月份请写年和月,例如 2027-03;“{parsing.shown(text)}”不对。")
    return str(written)


async def _point_group(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    """The party group (of the branch already read) that owns the key point, as its id."""
    branch = await services.repos.org.branch(answers.get("branch", ""))
    if branch is None:
        return Problem("请先写负责的支部,再写党小组。")
    groups = await services.repos.party_groups.groups_of_branch(branch.id)
    found = names.party_groups(groups, text)
    if not found:
        known = "、".join(g.name for g in groups) or "还没有党小组"
        return Problem(f"{branch.name}没有叫“{parsing.shown(text)}”的党小组(现有:{known})。")
    if len(found) > 1:
        return Problem(
            f"“{parsing.shown(text)}”可能是:{'、'.join(g.name for g in found)},请写全名。"
        )
    return str(found[0].id)


POINT_PARTS = (
    Part("title", "关键点", "关键点", _point_title),
    Part("branch", "支部", "负责的支部", _point_branch),
    Part("due", "到期月份", "到期月份", _due),
    Part("group", "党小组", "负责的党小组", _point_group, optional=True),
)
POINT_USAGE = (
    usage(
        "/project P07 point add",
        POINT_PARTS,
        " | ",
        "/project P07 point add 锚杆回收分拣 | 机掘一队 | 2027-03 | 一组",
    )
    + "\n只发 /project P07 point add 就按步骤填。"
)


async def key_point(msg: Member, services: Services, found: Project) -> list[Reply]:
    """/project P07 point add [关键点 | 支部 | 到期月份]; `msg.args` is what follows 'add'."""
    if not access.may_plan_project(msg.person, found.lead_id):
        return [Reply(f"只有 {found.number} 的负责人或党委领导可以分解关键点。")]
    answers: Answers = {"project": str(found.id)}
    if not msg.args.strip():
        return await forms.start(KEY_POINT, msg, services, answers)
    fields = parsing.fold(msg.args).split("|")
    typed = await read_parts(POINT_PARTS, fields, msg, services, POINT_USAGE)
    if isinstance(typed, Problem):
        return [Reply(typed.text)]
    return await _add_point(msg, services, answers | typed)


async def _add_point(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    found = await _project_of(services, answers)
    due = Month.parse(answers["due"])
    if found is None or due is None or not access.may_plan_project(msg.person, found.lead_id):
        return [Reply("只有项目的负责人或党委领导可以分解关键点。")]
    branch = await services.repos.org.branch(answers["branch"])
    joined = branch is not None and branch.id not in found.branches
    group = await _answered_group(services, answers)
    if group is not None and group.branch_id != answers["branch"]:
        return [Reply("党小组不在负责的支部里,没有记录。请重新发送。")]
    done = await rules.add_key_point(
        services,
        msg.person,
        found,
        answers["branch"],
        answers["title"],
        due,
        group.id if group is not None else None,
    )
    if isinstance(done, str):
        return [Reply(done)]
    name = branch.name if branch else answers["branch"]
    owner = f"{name}{group.name}" if group is not None else name
    return [
        Reply(
            f"已为 {found.number} 加上关键点{done}「{answers['title']}」:{owner}负责,"
            f"{due} 到期。"
            + (f"{name}已加入项目。" if joined else "")
            + f"\n支部书记报告进展:/progress {found.number} 百分比 进展"
        )
    ]


async def _answered_group(services: Services, answers: Answers) -> PartyGroup | None:
    """The party group a key point's answers name (None: the branch as a whole)."""
    value = answers.get("group", NONE)
    number = parsing.number(value, prefixes="") if value != NONE else None
    return await services.repos.party_groups.group(number) if number is not None else None


async def _branch_options(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    return [Choice(names.short_branch_name(b), b.id) for b in await services.repos.org.branches()]


async def _due_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    month = _this_month(services)
    found = []
    for _ in range(3):  # the next quarter's ends are what projects are planned to
        month = Month(month.year + month.number // 12, month.number % 12 + 1)
        found.append(Choice(str(month), str(month)))
    return found


async def _point_summary(msg: Member, services: Services, answers: Answers) -> str:
    found = await _project_of(services, answers)
    branch = await services.repos.org.branch(answers["branch"])
    group = await _answered_group(services, answers)
    return "\n".join(
        [
            f"请确认 {found.number if found else ''} 的新关键点:",
            f"  关键点:{answers['title']}",
            f"  负责的支部:{branch.name if branch else answers['branch']}",
            f"  到期月份:{answers['due']}",
        ]
        + ([f"  负责的党小组:{group.name}"] if group is not None else [])
    )


KEY_POINT = forms.Form(
    "key_point",
    (
        forms.Step(
            "title",
            _asks(f"请写上关键点({MAX_POINT_TITLE} 字以内),例如 锚杆回收分拣:"),
            _point_title,
        ),
        forms.choice_step(
            "branch",
            "哪个支部负责?点按钮,或写支部名称:",
            _branch_options,
            typed=_point_branch,
        ),
        forms.choice_step(
            "due",
            "到期月份?点按钮,或写年和月(例如 2027-03):",
            _due_choices,
            typed=_due,
        ),
    ),
    _add_point,
    confirm=_point_summary,
)


async def record_progress(
    msg: Member,
    services: Services,
    found: Project,
    percent: int | None,
    text: str,
    point: KeyPoint | None = None,
) -> list[Reply]:
    """Record a report on the project or on one of its key points; what the project's
    progress is now."""
    await rules.add_progress(services, msg.person, found, percent, text, point)
    if point is None:
        return [Reply(f"已记录 {found.number} 的进展。")]
    points = await services.repos.projects.key_points(found.id)
    index = next(i for i, k in enumerate(points, start=1) if k.id == point.id)
    branch_names = {b.id: names.short_branch_name(b) for b in await services.repos.org.branches()}
    now = await services.repos.projects.get(found.id)
    overall = now.last_percent if now is not None else None
    shown = f"{percent}%" if percent is not None else "进展"
    return [
        Reply(
            f"已记录 {found.number} 的进展:"
            f"{rules.key_point_label(index, point, branch_names)} {shown}。"
            + (
                f"\n项目进度 {overall}%({len(points)} 个关键点的平均)。"
                if overall is not None
                else ""
            )
        )
    ]


async def progress_on_points(
    msg: Member,
    services: Services,
    found: Project,
    points: list[KeyPoint],
    percent: int | None,
    text: str,
) -> list[Reply]:
    """A report on a project with key points: on the person's one key point at once, or on
    the one they choose when they may report on several."""
    mine = rules.reportable(msg.person, found, points)
    if not mine:
        return [
            Reply(
                f"{found.number} 已分解为关键点,您的支部没有负责的关键点。"
                "请负责的支部书记或项目负责人报告。"
            )
        ]
    if len(mine) == 1:
        return await record_progress(msg, services, found, percent, text, mine[0])
    answers: Answers = {
        "project": str(found.id),
        "percent": NONE if percent is None else str(percent),
        "text": text,
    }
    return await forms.start(PROGRESS_POINT, msg, services, answers)


async def _mine(msg: Member, services: Services, answers: Answers) -> list[tuple[int, KeyPoint]]:
    """(number within the project, key point) of those the person may report on."""
    found = await _project_of(services, answers)
    if found is None:
        return []
    points = await services.repos.projects.key_points(found.id)
    allowed = {k.id for k in rules.reportable(msg.person, found, points)}
    return [(i, k) for i, k in enumerate(points, start=1) if k.id in allowed]


async def _point_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    branch_names = {b.id: names.short_branch_name(b) for b in await services.repos.org.branches()}
    return [
        Choice(f"关键点{i} {k.title[:10]}({branch_names.get(k.branch_id, k.branch_id)})", str(k.id))
        for i, k in await _mine(msg, services, answers)
    ]


async def _typed_point(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    wanted = parsing.fold(text).strip().removeprefix("关键点")
    number = parsing.number(wanted, prefixes="K")
    for i, k in await _mine(msg, services, answers):
        if i == number or k.title == wanted:
            return str(k.id)
    return Problem("请点按钮选择关键点,或写它的序号(例如 2)。")


def _point_question(answers: Answers) -> str:
    percent = answers.get("percent", NONE)
    shown = f"{percent}%" if percent != NONE else "这条进展"
    return f"{shown}是哪个关键点的?请选择:"


async def _progress_point(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    found = await _project_of(services, answers)
    chosen = parsing.number(answers.get("point", ""), prefixes="")
    mine = {k.id: k for _, k in await _mine(msg, services, answers)}
    if found is None or chosen not in mine:
        return [Reply("这个关键点已不在您可以报告的范围里,没有记录。")]
    percent_text = answers.get("percent", NONE)
    percent = None if percent_text == NONE else parsing.percent(percent_text)
    return await record_progress(msg, services, found, percent, answers["text"], mine[chosen])


PROGRESS_POINT = forms.Form(
    "progress_point",
    (forms.choice_step("point", _point_question, _point_choices, typed=_typed_point),),
    _progress_point,
)


# -- KPIs: /project P07 kpi add 名称 | 单位 | 基线 | 目标, /project P07 kpi 名称 数值 --------

MAX_KPI_NAME = 30
MAX_UNIT = 10


async def _kpi_name(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    name = text.strip()
    if len(name) > MAX_KPI_NAME or not text_length_ok(name) or " " in name:
        return Problem(f"指标名称要写 2 到 {MAX_KPI_NAME} 个字,中间不带空格,例如 中煤带煤损失率。")
    return name


async def _unit(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    unit = text.strip()
    if _skipped(unit):
        return ""
    if len(unit) > MAX_UNIT or any(ch.isdigit() for ch in unit):
        return Problem(f"单位请写 {MAX_UNIT} 字以内,不带数字,例如 % 或 吨;没有单位写 -。")
    return unit


def _value_reader(label: str) -> forms.Reader:
    async def read(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
        value = parsing.decimal(text.strip().removesuffix(answers.get("unit", "") or "\0"))
        if value is None:
            return Problem(
                f"{label}要写数字(0-9,可带小数点),例如 16.07;“{parsing.shown(text)}”不对。"
            )
        return str(value)

    return read


KPI_PARTS = (
    Part("name", "指标名称", "指标名称", _kpi_name),
    Part("unit", "单位", "单位", _unit),
    Part("baseline", "基线", "基线", _value_reader("基线")),
    Part("target", "目标", "目标", _value_reader("目标")),
)
KPI_USAGE = (
    usage(
        "/project P07 kpi add",
        KPI_PARTS,
        " | ",
        "/project P07 kpi add 中煤带煤损失率 | % | 16.07 | 11.6",
    )
    + "\n记录当前值:/project P07 kpi 中煤带煤损失率 12.8"
)


async def kpi(msg: Member, services: Services, found: Project) -> list[Reply]:
    """/project P07 kpi add … or /project P07 kpi 名称 数值; `msg.args` follows 'kpi'."""
    word, _, rest = parsing.fold(msg.args).strip().partition(" ")
    if word.lower() in ("add", "新增", "添加"):
        return await _add_kpi(msg, services, found, rest)
    kpis = await services.repos.projects.kpis(found.id)
    if not word:
        listed = "\n".join(f"  {rules.kpi_line(k)}" for k in kpis) or "  还没有指标。"
        return [Reply(f"{found.number} 的指标:\n{listed}\n{KPI_USAGE}")]
    if not rules.may_act(msg.person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以记录指标。")]
    chosen = next((k for k in kpis if k.name == word), None)
    if chosen is None:
        known = "、".join(k.name for k in kpis) or "还没有指标"
        return [Reply(f"{found.number} 没有指标“{parsing.shown(word)}”({known})。\n{KPI_USAGE}")]
    value = parsing.decimal(rest.strip().removesuffix(chosen.unit) if chosen.unit else rest)
    if value is None:
        return [
            Reply(
                f"请写上 {chosen.name} 的当前值(数字,可带小数点),"
                f"例如 /project {found.number} kpi {chosen.name} 12.8"
            )
        ]
    await rules.record_kpi(services, msg.person, chosen, value)
    updated = next(k for k in await services.repos.projects.kpis(found.id) if k.id == chosen.id)
    return [Reply(f"已记录 {found.number} 的指标。\n{rules.kpi_line(updated)}")]


async def _add_kpi(msg: Member, services: Services, found: Project, text: str) -> list[Reply]:
    if not access.may_plan_project(msg.person, found.lead_id):
        return [Reply(f"只有 {found.number} 的负责人或党委领导可以设指标。")]
    answers = await read_parts(KPI_PARTS, text.split("|"), msg, services, KPI_USAGE)
    if isinstance(answers, Problem):
        return [Reply(answers.text)]
    baseline, target = parsing.decimal(answers["baseline"]), parsing.decimal(answers["target"])
    assert baseline is not None and target is not None  # read by the same parser
    refusal = await rules.add_kpi(
        services, msg.person, found, answers["name"], answers["unit"], baseline, target
    )
    if refusal:
        return [Reply(refusal)]
    unit = answers["unit"]
    return [
        Reply(
            f"已为 {found.number} 设指标 {answers['name']}:"
            f"基线 {rules.plain_decimal(baseline)}{unit}"
            f" → 目标 {rules.plain_decimal(target)}{unit}。\n"
            f"记录当前值:/project {found.number} kpi {answers['name']} 数值"
        )
    ]


# -- /reward -----------------------------------------------------------------------------

REWARD_USAGE = (
    "用法:/reward P07 查看建议并按步骤确认;"
    "/reward P07 confirm 工号或支部:金额,工号或支部:金额 [备注];"
    "/reward P07 set-aside 不予奖励的原因\n"
    "党小组写 支部/党小组(例如 jj1/一组),项目的支部里只有一个同名党小组时可只写组名。\n"
    "例如:/reward P07 confirm E001:5000,机掘一队:2200,jj1/一组:1000 11月安全办公会"
)
SET_ASIDE_WORDS = ("set-aside", "setaside", "不予奖励", "搁置")


def _encode(shares: Sequence[RewardShare]) -> str:
    """Shares as a form answer: 'p12=500000,bjj1=220000,g3=100000' (person id, branch id or
    party group id, fen)."""
    return ",".join(
        f"p{s.person_id}={s.amount_fen}"
        if s.person_id is not None
        else f"g{s.group_id}={s.amount_fen}"
        if s.group_id is not None
        else f"b{s.branch_id}={s.amount_fen}"
        for s in shares
    )


async def _decode(services: Services, value: str) -> list[RewardShare] | None:
    """The shares of `_encode`, named as now; None when one is no longer there."""
    found = []
    for item in value.split(","):
        who, _, fen_text = item.partition("=")
        fen = parsing.number(fen_text, prefixes="")
        if fen is None or not who:
            return None
        if who[0] == "p":
            number = parsing.number(who[1:], prefixes="")
            person = await services.repos.people.by_id(number) if number is not None else None
            if person is None:
                return None
            found.append(RewardShare(person.id, None, person.name, fen))
        elif who[0] == "g":
            number = parsing.number(who[1:], prefixes="")
            group = await services.repos.party_groups.group(number) if number is not None else None
            if group is None:
                return None
            branch = await services.repos.org.branch(group.branch_id)
            found.append(rewards.group_share(branch, group, fen))
        else:
            branch = await services.repos.org.branch(who[1:])
            if branch is None:
                return None
            found.append(RewardShare(None, branch.id, branch.name, fen))
    return found


async def _shares(
    msg: Member, services: Services, project: Project, targets: Sequence[tuple[str, str]]
) -> str | Problem:
    """The recipients written as (who, amount), resolved and checked, as a form answer."""
    merged: dict[tuple[int | None, str | None, int | None], RewardShare] = {}
    for who, amount in targets:
        fen = parse_yuan(amount)
        if isinstance(fen, str):
            return Problem(f"{parsing.shown(who)} 的金额不对:{fen}")
        share = await rewards.reward_share(services, who, fen, project)
        if isinstance(share, str):
            return Problem(share)
        refusal = await rewards.confirm_refusal(services, msg.person, [share])
        if refusal:
            return Problem(refusal)
        key = (share.person_id, share.branch_id, share.group_id)
        if key in merged:  # named twice: one share of the sum
            share = share._replace(amount_fen=merged[key].amount_fen + fen)
        merged[key] = share
    if not merged:
        return Problem("请写上获奖的人或支部和金额,例如:E001:2000,机掘一队:3000")
    total = sum(s.amount_fen for s in merged.values())
    basis = (await rewards.proposal(services, project)).basis_fen
    if total > basis:
        return Problem(
            f"奖励总额 {format_yuan(total)} 不能超过待奖励的核实效益 {format_yuan(basis)}。"
        )
    return _encode(list(merged.values()))


async def _typed_shares(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    project = await _project_of(services, answers)
    if project is None:
        return Problem("这个项目已不存在,请发送 /cancel 后重新开始。")
    targets, rest = parsing.shares(text)
    if rest:
        return Problem(
            f"“{parsing.shown(rest)}”看不懂。请写 工号或支部:金额,几个用逗号分开,"
            "例如 E001:2000,机掘一队:3000"
        )
    return await _shares(msg, services, project, targets)


async def _pending(services: Services) -> list[Project]:
    """Projects with verified benefit not yet rewarded nor set aside."""
    return await rewards.pending_projects(services)


async def _reward_project(
    text: str, msg: Member, services: Services, answers: Answers
) -> str | Problem:
    pending = {p.id for p in await _pending(services)}
    return await _typed_project(text, services, lambda p: p.id in pending)


async def reward(msg: Member, services: Services) -> list[Reply]:
    """奖励建议与确认:/reward [P07 [confirm 工号或支部:金额,… 备注 | set-aside 原因]]"""
    word, _, rest = msg.args.strip().partition(" ")
    if not word:
        if not await _pending(services):
            return [Reply("目前没有待奖励的核实效益。")]
        return await forms.start(REWARD, msg, services)
    found = await project_or_refusal(services, word, REWARD_USAGE)
    if isinstance(found, str):
        return [Reply(found)]
    if (await rewards.proposal(services, found)).basis_fen <= 0:
        return [Reply(f"{found.number} 没有待奖励的核实效益。")]
    answers: Answers = {"project": str(found.id)}
    action, _, detail = rest.strip().partition(" ")
    if action.lower() in SET_ASIDE_WORDS:
        return await _start_set_aside(msg, services, found, detail.strip())
    if action and action.lower() not in ("confirm", "确认"):
        return [Reply(REWARD_USAGE)]
    if action:
        targets, note = parsing.shares(detail)
        value = await _shares(msg, services, found, targets)
        if isinstance(value, Problem):
            return [Reply(value.text)]
        if len(note) > MAX_NOTE:
            return [Reply(f"备注太长了,请控制在 {MAX_NOTE} 字以内。")]
        answers |= {"shares": value, "note": note or NONE}
    return await forms.start(REWARD, msg, services, answers)


async def _record(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    found = await _project_of(services, answers)
    shares = await _decode(services, answers["shares"])
    if found is None or shares is None:
        return [Reply("获奖人或项目已不在名册里,没有记录。请重新发送 /reward。")]
    offer = await rewards.proposal(services, found)
    note = answers.get("note", NONE)
    done = await rewards.record_reward(
        services, msg.person, found, shares, "" if note == NONE else note
    )
    if isinstance(done, str):
        return [Reply(done)]
    total = sum(s.amount_fen for s in shares)
    told = f"已通知 {done.people_told} 人" if done.people_told else ""
    if done.groups_told:
        told += ("和" if told else "已通知") + f" {done.groups_told} 个支部群"
    left = offer.basis_fen - done.basis_fen
    rest = (
        f"本次用去核实效益 {format_yuan(done.basis_fen)},其余 {format_yuan(left)} "
        "留在待奖励名单上。"
        if left > 0
        else ""
    )
    return [
        Reply(
            f"已记录 {found.number} 的奖励 {format_yuan(total)}"
            f"(建议 {format_yuan(offer.proposed_fen)})。{rest}系统只记账,不自动发放。"
            + (f"{told}。" if told else "")
        )
    ]


async def _reward_choices(msg: Member, services: Services, answers: Answers) -> list[Choice]:
    return _project_choices(await _pending(services))


async def _ask_shares(msg: Member, services: Services, answers: Answers) -> Ask:
    found = await _project_of(services, answers)
    if found is None:
        return Ask("这个项目已不存在,请发送 /cancel。")
    offer = await rewards.proposal(services, found)
    proposed = await rewards.proposed_shares(services, found, offer.proposed_fen)
    text = (
        f"{found.number} 待奖励的核实效益 {format_yuan(offer.basis_fen)};按档累进职工得 "
        f"{offer.share:.0%},建议奖励 {format_yuan(offer.proposed_fen)},其余归企业。\n"
        "请写上获奖的人或支部和金额,例如 E001:5000,机掘一队:2200"
    )
    if not proposed:
        return Ask(text + "。")
    split = "、".join(f"{s.label} {format_yuan(s.amount_fen)}" for s in proposed)
    refusal = await rewards.confirm_refusal(services, msg.person, proposed)
    if refusal:  # the leader is one of the recipients or in a recipient group
        return Ask(f"{text}。\n建议分给:{split};{refusal}")
    return Ask(
        f"{text};或点“按建议”分给建议的获奖人({split})。",
        (Choice("按建议分配", _encode(proposed)),),
    )


async def _note(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    if len(text) > MAX_NOTE:
        return Problem(f"备注太长了({len(text)} 字),请控制在 {MAX_NOTE} 字以内。")
    return text.strip() or NONE


async def _reward_summary(msg: Member, services: Services, answers: Answers) -> str:
    found = await _project_of(services, answers)
    shares = await _decode(services, answers["shares"]) or []
    offer = await rewards.proposal(services, found) if found is not None else None
    note = answers.get("note", NONE)
    lines = [f"请确认 {found.number}「{found.title}」的奖励:" if found else "请确认奖励:"]
    lines += [f"  {s.label} {format_yuan(s.amount_fen)}" for s in shares]
    total = format_yuan(sum(s.amount_fen for s in shares))
    if offer is not None:
        lines.append(
            f"合计 {total}(建议 {format_yuan(offer.proposed_fen)},"
            f"待奖励的核实效益 {format_yuan(offer.basis_fen)})"
        )
    lines.append(f"备注:{'无' if note == NONE else note}")
    lines.append("确认后记入台账并通知获奖人;系统只记账,不自动发放。")
    return "\n".join(lines)


REWARD = forms.Form(
    "reward",
    (
        forms.choice_step(
            "project",
            "请选择要确认奖励的重点项目(或写项目编号,例如 P07):",
            _reward_choices,
            typed=_reward_project,
        ),
        forms.Step("shares", _ask_shares, _typed_shares),
        forms.Step(
            "note",
            _asks("备注(例如 11月安全办公会),或点“不写备注”:", Choice("不写备注", NONE)),
            _note,
        ),
    ),
    _record,
    confirm=_reward_summary,
)


# -- /reward P07 set-aside --------------------------------------------------------------------


async def _start_set_aside(
    msg: Member, services: Services, project: Project, reason: str
) -> list[Reply]:
    if not text_length_ok(reason) or len(reason) > MAX_NOTE:
        return [
            Reply(
                f"不予奖励要写明原因({MAX_NOTE} 字以内),例如:"
                f"/reward {project.number} set-aside 效益已在其他项目奖励过"
            )
        ]
    return await forms.start(
        SET_ASIDE, msg, services, {"project": str(project.id), "reason": reason}
    )


async def _set_aside_summary(msg: Member, services: Services, answers: Answers) -> str:
    found = await _project_of(services, answers)
    if found is None:
        return "这个项目已不存在,请点“取消”。"
    offer = await rewards.proposal(services, found)
    return (
        f"请确认:{found.number}「{found.title}」待奖励的核实效益 {format_yuan(offer.basis_fen)}"
        f"不予奖励,从安全办公会奖励名单上移除。\n原因:{answers['reason']}"
    )


async def _set_aside(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    if not access.is_leader(msg.person):
        return [Reply("只有党委领导可以决定不予奖励。")]
    found = await _project_of(services, answers)
    if found is None:
        return [Reply("这个项目已不存在,没有记录。")]
    fen = await rewards.set_aside(services, msg.person, found, answers["reason"])
    if fen <= 0:
        return [Reply(f"{found.number} 没有待奖励的核实效益了。")]
    return [
        Reply(
            f"已记录:{found.number} 的 {format_yuan(fen)} 核实效益不予奖励"
            f"(原因:{answers['reason']}),不再列入奖励名单。"
        )
    ]


SET_ASIDE = forms.Form("reward_set_aside", (), _set_aside, confirm=_set_aside_summary)

FORMS = (NEW_PROJECT, BENEFIT, REWARD, SET_ASIDE, KEY_POINT, PROGRESS_POINT)
