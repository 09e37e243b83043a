"""Reviewing ideas: the queue of ideas waiting for a first review (/review), an idea's detail
and history (/review N), the typed steps (/review N adopt P07 …) and the same steps from the
buttons under each idea; the reason for not adopting is asked for in a follow-up message."""

from __future__ import annotations

from handlers import access, forms, parsing
from handlers.forms import Answers
from handlers.ideas import excerpt
from handlers.messages import Button, Incoming, Member, Reply, Rows
from handlers.router import NOT_REGISTERED, Command, Feature, member
from handlers.rules import ideas, listing
from handlers.rules import projects as project_rules
from handlers.rules import review as review_rules
from handlers.rules.ideas import NEXT_STATUSES, STATUS_LABELS
from handlers.rules.projects import text_length_ok
from handlers.services import Services
from storage import Idea, IdeaLine, Person, Project

SIMPLE_MOVES = {"under_review": "审核中", "implemented": "已实施", "rewarded": "已奖励"}
REVIEW_USAGE = (
    "用法:/review 查看待审核的金点子;/review 编号 [under_review | adopt P项目号 | "
    "merge 编号 | reject 原因 | implemented | rewarded]"
)
REVIEW_REFUSAL = "只有党委领导或作者所在支部的书记可以审核这条金点子。"
EXPIRED = "这个按钮已经失效了,请重新发送 /review。"
BATCH = 5
"""Ideas of the queue shown at a time, one message each."""
PROJECTS_SHOWN = 5
"""Project buttons offered for 采纳; with 返回 they fit one WeCom card (six buttons)."""
STATE_REASON = "review.reason"
PRIVATE_ONLY = "待审核的金点子请私聊我查看(发送 /review),不在群里逐条列出。"


async def review(msg: Member, services: Services) -> list[Reply]:
    """审核金点子:/review(待审核的金点子)| /review 编号 [动作]"""
    person = msg.person
    if not msg.args.strip():
        if msg.chat_type != "private":
            return [Reply(PRIVATE_ONLY)]
        return await _queue(msg, services, after=0, edit=False)
    word, _, rest = msg.args.strip().partition(" ")
    number = parsing.number(word)
    if number is None:
        return [Reply(REVIEW_USAGE)]
    idea = await services.repos.ideas.get(number)
    if idea is None:
        return [Reply(f"没有编号为 #{number} 的金点子。")]
    if not access.may_review_idea(person, idea):
        return [Reply(REVIEW_REFUSAL)]
    action, _, detail = rest.strip().partition(" ")
    detail = detail.strip()
    if not action:
        return [await _detail(services, idea)]
    if idea.status == "withdrawn":
        return [Reply(f"金点子 #{idea.id} 已经被作者撤回,不能再审核了。")]
    if action in SIMPLE_MOVES:
        refusal = await ideas.move(services, person, idea, action, detail)
    elif action == "reject":
        if not text_length_ok(detail):
            return [Reply("不采纳要写明原因,例如:/review 12 reject 已有同类项目在做")]
        refusal = await ideas.move(services, person, idea, "not_adopted", detail)
    elif action == "merge":
        refusal = await _merge(services, person, idea, parsing.number(detail))
    elif action == "adopt":
        found = await project_rules.find(services, detail)
        if found is None:
            if project_rules.project_number(detail) is not None:
                return [Reply(f"还没有重点项目 {detail.upper()}。查看全部:/projects")]
            return [Reply("请写上重点项目编号,例如:/review 12 adopt P07")]
        return await _adopt_or_ask(msg, services, idea, found)
    else:
        return [Reply(REVIEW_USAGE)]
    if refusal:
        return [Reply(refusal)]
    return [Reply(f"金点子 #{idea.id} 已更新,已通知作者。")]


# -- the steps, typed or pressed --------------------------------------------------------------


async def _merge(
    services: Services, person: Person, idea: Idea, target_number: int | None
) -> str | None:
    """Merge `idea` into the idea numbered `target_number`; a refusal or None."""
    target = await services.repos.ideas.get(target_number) if target_number is not None else None
    if target is None or not review_rules.merge_target_ok(idea, target):
        return f"请写上要合并到的另一条金点子的编号,例如:/review {idea.id} merge 7"
    return await review_rules.merge(services, person, idea, target)


async def _adopt_or_ask(
    msg: Member, services: Services, idea: Idea, project: Project, *, edit: bool = False
) -> list[Reply]:
    """Adopt at once when the idea and the project share a category; otherwise ask first,
    naming both (a 节能环保 idea in a 修旧利废 project is allowed, but never by accident)."""
    if idea.category == project.category or not access.may_adopt(
        msg.person, idea, project.branches
    ):
        return [Reply(await _adopt(services, msg.person, idea, project), edit=edit)]
    answers = {"idea": str(idea.id), "project": str(project.id)}
    return await forms.start(CROSS_ADOPT, msg, services, answers)


async def _cross_summary(msg: Member, services: Services, answers: Answers) -> str:
    idea = await services.repos.ideas.get(int(answers["idea"]))
    project = await services.repos.projects.get(int(answers["project"]))
    if idea is None or project is None:
        return "金点子或项目已不存在,请点“取消”。"
    return (
        f"金点子 #{idea.id} 的类别是“{services.category_label(idea.category)}”,"
        f"重点项目 {project.number}「{project.title}」的类别是"
        f"“{services.category_label(project.category)}”,两者不同。\n"
        f"确定要把 #{idea.id} 纳入 {project.number} 吗?"
    )


async def _cross_adopt(msg: Member, services: Services, answers: Answers) -> list[Reply]:
    idea = await services.repos.ideas.get(int(answers["idea"]))
    project = await services.repos.projects.get(int(answers["project"]))
    if idea is None or project is None:
        return [Reply("金点子或项目已不存在,没有纳入。")]
    if not access.may_review_idea(msg.person, idea):
        return [Reply(REVIEW_REFUSAL)]
    return [Reply(await _adopt(services, msg.person, idea, project))]


CROSS_ADOPT = forms.Form(
    "review_cross_adopt", (), _cross_adopt, confirm=_cross_summary, confirm_label="确认纳入"
)
FORMS = (CROSS_ADOPT,)


async def _adopt(services: Services, person: Person, idea: Idea, project: Project) -> str:
    return await review_rules.adopt(services, person, idea, project)


# -- the queue and the detail ------------------------------------------------------------------


async def _queue(msg: Member, services: Services, *, after: int, edit: bool) -> list[Reply]:
    scope = access.review_scope(msg.person)
    repo = services.repos.ideas
    batch = await repo.waiting(scope, after=after, limit=BATCH + 1)
    if not batch:
        done = "后面没有等待审核的金点子了。" if after else "目前没有等待审核的金点子。"
        return [Reply(done, edit=edit)]
    shown = batch[:BATCH]
    # one count per press (a leader's queue at a million ideas counts 300,000 rows)
    if after:
        header = "等待首次审核的金点子,接着往下(点下面的按钮处理):"
        rest = await repo.count_waiting(scope, after=shown[-1].idea.id) if len(batch) > BATCH else 0
    else:
        total = await repo.count_waiting(scope)
        header = f"等待首次审核的金点子共 {total} 条,从最早的开始(点下面的按钮处理):"
        rest = total - len(shown)
    replies = [Reply(header, edit=edit)]
    for line in shown:
        replies.append(Reply(await _card(services, line), buttons=_buttons(line.idea)))
    if len(batch) > BATCH:
        replies.append(
            Reply(
                f"还有 {rest} 条等待审核。",
                buttons=((Button("下一批", f"rq:{shown[-1].idea.id}"),),),
            )
        )
    return replies


async def _card(services: Services, line: IdeaLine) -> str:
    """One idea of the queue: who, where, when, what, and the ideas like it."""
    idea = line.idea
    day = services.local(idea.created_at).strftime("%Y-%m-%d")
    # a short first line: WeCom shows it as the card's title (36 characters at most)
    text = (
        f"#{idea.id} {services.category_label(idea.category)} · "
        f"{ideas.status_label(idea.status)}\n"
        f"{line.author_name} · {listing.short_name(line.branch_name)} · {day}\n{idea.text}"
    )
    similar = await _similar(services, idea)
    if similar:
        text += "\n相似的金点子:" + ";".join(f"#{s.id} {excerpt(s.text, 20)}" for s in similar)
    return text


async def _similar(services: Services, idea: Idea) -> list[Idea]:
    words = services.classifier.terms(idea.text)
    return await ideas.similar_ideas(services, words, indexed=idea.id)


def _buttons(idea: Idea) -> Rows:
    """The steps the idea may take next, each a button."""
    nexts = NEXT_STATUSES.get(idea.status, set())
    steps = [
        ("审核中", "under_review", "under_review"),
        ("采纳", "adopted", "adopt"),
        ("合并", "merged", "merge"),
        ("不采纳", "not_adopted", "reject"),
        ("已实施", "implemented", "implemented"),
        ("已奖励", "rewarded", "rewarded"),
    ]
    row = tuple(Button(label, f"r:{idea.id}:{step}") for label, to, step in steps if to in nexts)
    return (row,) if row else ()


async def _detail(services: Services, idea: Idea) -> Reply:
    """An idea's author, branch, date, category, status and every change with who and when."""
    line = await services.repos.ideas.line(idea.id)
    assert line is not None  # the caller has just read the idea
    history = await services.repos.ideas.history(idea.id)
    stamp = "%Y-%m-%d %H:%M"
    submitted = services.local(idea.created_at).strftime(stamp)
    lines = [
        f"金点子 #{idea.id}({services.category_label(idea.category)} · "
        f"{STATUS_LABELS.get(idea.status, idea.status)})",
        f"作者:{line.author_name} · {line.branch_name} · {submitted} 提交",
        idea.text,
        "处理记录:",
        f"  {submitted} {line.author_name} 提交",
    ]
    lines += [
        f"  {services.local(when).strftime(stamp)} {who} → {STATUS_LABELS.get(to, to)}"
        f"{(':' + why) if why else ''}"
        for to, why, who, when in history
    ]
    lines.append(
        f"采纳:/review {idea.id} adopt P项目号;合并:/review {idea.id} merge 编号;"
        f"不采纳:/review {idea.id} reject 原因"
    )
    return Reply("\n".join(lines), buttons=_buttons(idea))


# -- buttons -----------------------------------------------------------------------------------


async def on_next(msg: Member, services: Services) -> list[Reply]:
    """下一批: rq:<the last idea shown>."""
    parts = (msg.callback or "").split(":")
    after = parsing.number(parts[1]) if len(parts) == 2 else None
    if after is None:
        return [Reply(EXPIRED)]
    return await _queue(msg, services, after=after, edit=True)


async def on_button(msg: Member, services: Services) -> list[Reply]:
    """r:<idea>:<step>[:<project or target idea>]."""
    person = msg.person
    parts = (msg.callback or "").split(":")
    number = parsing.number(parts[1]) if len(parts) in (3, 4) else None
    if number is None:
        return [Reply(EXPIRED)]
    idea = await services.repos.ideas.get(number)
    if idea is None or not access.may_review_idea(person, idea):
        return [Reply(REVIEW_REFUSAL)]
    step = parts[2]
    argument = parsing.number(parts[3], prefixes="") if len(parts) == 4 else None
    if len(parts) == 4 and argument is None:
        return [Reply(EXPIRED)]
    if step in SIMPLE_MOVES and argument is None:
        refusal = await ideas.move(services, person, idea, step, "")
        text = refusal or f"金点子 #{idea.id} 已改为“{SIMPLE_MOVES[step]}”,已通知作者。"
        return [Reply(text, edit=True)]
    if step == "adopt" and argument is None:
        return [await _adopt_choice(services, person, idea)]
    if step == "a" and argument is not None:
        found = await services.repos.projects.get(argument)
        if found is None:
            return [Reply(f"还没有重点项目 P{argument:02d}。查看全部:/projects")]
        return await _adopt_or_ask(msg, services, idea, found, edit=True)
    if step == "merge" and argument is None:
        return [await _merge_choice(services, person, idea)]
    if step == "m" and argument is not None:
        refusal = await _merge(services, person, idea, argument)
        text = refusal or f"金点子 #{idea.id} 已合并到 #{argument},已通知作者。"
        return [Reply(text, edit=True)]
    if step == "reject" and argument is None:
        if msg.chat_type != "private":  # the reason is read from the next private message
            return [Reply(f"请私聊我写不采纳的原因,或发送 /review {idea.id} reject 原因。")]
        if not ideas.may_move(idea, "not_adopted"):
            return [
                Reply(f"金点子 #{idea.id} 现在是“{ideas.status_label(idea.status)}”,不能再不采纳。")
            ]
        await services.repos.conversations.set(
            msg.channel, msg.sender_id, STATE_REASON, {"idea_id": idea.id}, services.now()
        )
        return [
            Reply(f"请直接回复不采纳金点子 #{idea.id} 的原因(会转告作者)。发送 /cancel 可取消。")
        ]
    if step == "card" and argument is None:
        line = await services.repos.ideas.line(idea.id)
        assert line is not None
        return [Reply(await _card(services, line), buttons=_buttons(idea), edit=True)]
    return [Reply(EXPIRED)]


def _back(idea: Idea) -> tuple[Button, ...]:
    return (Button("返回", f"r:{idea.id}:card"),)


async def _adopt_choice(services: Services, person: Person, idea: Idea) -> Reply:
    everything = await services.repos.projects.all()
    found = [p for p in everything if access.may_adopt(person, idea, p.branches)]
    if not found:
        return Reply(
            f"还没有可以纳入的重点项目,暂时不能采纳 #{idea.id}。党委领导建立重点项目后,"
            f"可以再点“采纳”,或输入 /review {idea.id} adopt P项目号。",
            buttons=(_back(idea),),
            edit=True,
        )
    newest = sorted(found, key=lambda p: p.id, reverse=True)[:PROJECTS_SHOWN]
    rows = tuple((Button(f"{p.number} {p.title[:12]}", f"r:{idea.id}:a:{p.id}"),) for p in newest)
    more = (
        f"\n这里列出最新的 {PROJECTS_SHOWN} 个;其他项目请输入 /review {idea.id} adopt P项目号。"
        if len(found) > PROJECTS_SHOWN
        else ""
    )
    return Reply(
        f"把金点子 #{idea.id} 纳入哪个重点项目?\n{excerpt(idea.text, 40)}{more}",
        buttons=(*rows, _back(idea)),
        edit=True,
    )


async def _merge_choice(services: Services, person: Person, idea: Idea) -> Reply:
    targets = [t for t in await _similar(services, idea) if access.may_merge(person, idea, t)]
    if not targets:
        return Reply(
            f"没有找到和 #{idea.id} 相似、可以合并的金点子。"
            f"要合并到别的金点子,请输入 /review {idea.id} merge 编号。",
            buttons=(_back(idea),),
            edit=True,
        )
    lines = [f"把金点子 #{idea.id} 合并到哪一条?相似的有:"]
    lines += [f"#{t.id} {excerpt(t.text, 30)}" for t in targets]
    buttons = tuple(Button(f"并入 #{t.id}", f"r:{idea.id}:m:{t.id}") for t in targets)
    return Reply("\n".join(lines), buttons=(buttons, _back(idea)), edit=True)


async def on_reason(msg: Incoming, services: Services) -> list[Reply]:
    """The reason for not adopting the idea whose 不采纳 was pressed."""
    conversations = services.repos.conversations
    conversation = await conversations.get(msg.channel, msg.sender_id)
    assert conversation is not None  # the router routes here by the conversation's state
    sender = member(msg)
    if sender is None:
        await conversations.clear(msg.channel, msg.sender_id)
        return [Reply(NOT_REGISTERED)]
    idea_id = parsing.number(str(conversation.data.get("idea_id", "")))
    idea = await services.repos.ideas.get(idea_id) if idea_id is not None else None
    if idea is None or not access.may_review_idea(sender.person, idea):
        await conversations.clear(msg.channel, msg.sender_id)
        return [Reply(REVIEW_REFUSAL)]
    reason = msg.text.strip()
    if not text_length_ok(reason):
        return [
            Reply(
                f"请写明不采纳金点子 #{idea.id} 的原因(至少两个字,500 字以内),或发送 /cancel 取消。"
            )
        ]
    refusal = await ideas.move(services, sender.person, idea, "not_adopted", reason)
    await conversations.clear(msg.channel, msg.sender_id)
    return [Reply(refusal or f"金点子 #{idea.id} 已改为“未采纳”,已通知作者。")]


FEATURE = Feature(
    commands=[Command("review", review, access.PROJECT_STAFF)],
    callbacks={"r": on_button, "rq": on_next},
    states={"review": on_reason},
)
