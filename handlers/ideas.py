"""Golden ideas: submit, confirm or change the category, withdraw (after a confirm step),
list one's own."""

from __future__ import annotations

from collections.abc import Sequence

from handlers import access, parsing
from handlers.messages import Button, Incoming, Member, Reply
from handlers.money import format_yuan
from handlers.router import NOT_REGISTERED, Command, Feature, member
from handlers.rules import attachments, ideas
from handlers.services import Services
from storage import Idea, Person

EXAMPLE = "例如:井下回收复用锚杆,每月能省好几万。"
STATE_AWAIT_TEXT = "idea.await_text"


async def submit_text(msg: Member, services: Services) -> list[Reply]:
    _, replies = await _submit(msg, services, msg.text)
    return replies


async def on_media(msg: Member, services: Services) -> list[Reply]:
    """A photo or voice note without text: keep it and ask for the idea in words."""
    conversations = services.repos.conversations
    current = await conversations.get(msg.channel, msg.sender_id)
    kept: list[int] = []
    if current is not None and current.state == STATE_AWAIT_TEXT:
        kept = [int(i) for i in current.data.get("attachments", [])]
    kept += await attachments.keep(services, msg.person.id, msg.channel, msg.attachments)
    await conversations.set(
        msg.channel, msg.sender_id, STATE_AWAIT_TEXT, {"attachments": kept}, services.now()
    )
    if any(a.kind == "voice" for a in msg.attachments):
        return [
            Reply(
                "语音已经保存。请再发一句文字说说您的金点子,方便分类和登记。(发送 /cancel 可取消)"
            )
        ]
    return [
        Reply(
            "照片收到了。请用一两句话说说这个金点子是什么,我会把照片附在上面。(发送 /cancel 可取消)"
        )
    ]


async def on_state(msg: Incoming, services: Services) -> list[Reply]:
    """The text that goes with photos or voice notes sent just before."""
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    assert conversation is not None  # the router routes here by the conversation's state
    sender = member(msg)
    if sender is None:
        await services.repos.conversations.clear(msg.channel, msg.sender_id)
        return [Reply(NOT_REGISTERED)]
    if not msg.text.strip() and msg.attachments:
        return await on_media(sender, services)
    pending = [int(i) for i in conversation.data.get("attachments", [])]
    idea, replies = await _submit(sender, services, msg.text, pending=pending)
    if idea is not None:
        await services.repos.conversations.clear(msg.channel, msg.sender_id)
    return replies


async def idea_command(msg: Member, services: Services) -> list[Reply]:
    """提交金点子:/idea 内容(群里也能用)"""
    if not msg.args:
        return [Reply(f"请把金点子写在 /idea 后面,{EXAMPLE.replace('例如:', '例如:/idea ')}")]
    _, replies = await _submit(msg, services, msg.args)
    return replies


async def _submit(
    msg: Member, services: Services, text: str, pending: Sequence[int] = ()
) -> tuple[Idea | None, list[Reply]]:
    """Classify and store an idea; the idea is None when the text was refused."""
    done = await ideas.submit(
        services, msg.person, msg.channel, text, msg.attachments, pending, msg.ahead
    )
    if done is None:
        return None, [Reply(f"内容太短了,请用一两句话写清楚您的金点子。{EXAMPLE}")]
    idea = done.idea
    similar = _similar_line(done.similar)
    if done.unsure:
        top = [category for category, _ in done.prediction.ranking[:3]]
        picks = tuple(Button(services.category_label(c), f"i:{idea.id}:set:{c}") for c in top)
        return idea, [
            Reply(
                f"收到您的金点子 #{idea.id},谢谢!\n"
                "它属于哪一类我拿不准,请您选一下(前三个最像):" + similar,
                buttons=(
                    picks,
                    (Button("其他类别…", f"i:{idea.id}:cat"), Button("撤回", f"i:{idea.id}:wd")),
                ),
            )
        ]
    label = services.category_label(idea.category)
    text_out = (
        f"收到您的金点子 #{idea.id},谢谢!\n"
        f"类别:{label}(把握 {round(idea.confidence * 100)}%)\n"
        "类别对吗?对就点“确认”,不对请点“改类别”。" + similar
    )
    return idea, [Reply(text_out, buttons=(_idea_buttons(idea.id),))]


def _similar_line(similar: Sequence[Idea]) -> str:
    if not similar:
        return ""
    return "\n相似的金点子:" + ";".join(f"#{i.id} {excerpt(i.text, 20)}" for i in similar)


def excerpt(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length] + "…"


def _idea_buttons(idea_id: int) -> tuple[Button, ...]:
    return (
        Button("确认", f"i:{idea_id}:ok"),
        Button("改类别", f"i:{idea_id}:cat"),
        Button("撤回", f"i:{idea_id}:wd"),
    )


async def on_button(msg: Member, services: Services) -> list[Reply]:
    person = msg.person
    parts = (msg.callback or "").split(":")
    idea_id = parsing.number(parts[1]) if len(parts) >= 3 else None
    if idea_id is None:
        return [Reply("这个按钮已经失效了。")]
    action = parts[2]
    idea = await services.repos.ideas.get(idea_id)
    if idea is None or not (
        idea.author_id == person.id
        or (action in ("cat", "set") and access.may_recategorize(person, idea))
    ):
        return [Reply("这条金点子不是您提交的,不能操作。")]
    if idea.status == "withdrawn":
        return [Reply(f"金点子 #{idea.id} 已经撤回,不能再操作了。", edit=True)]
    if action == "ok":
        await ideas.confirm(services, idea)
        label = services.category_label(idea.category)
        return [Reply(f"金点子 #{idea.id} 已确认,类别:{label}。谢谢您的金点子!", edit=True)]
    if action == "cat":
        return [_category_choice(idea, services)]
    if action == "set" and len(parts) == 4:
        return await _set_category(idea, parts[3], person, services)
    if action == "wd":
        return [_withdraw_question(idea, person, edit=True)]
    if action == "wdy":
        refusal = await ideas.withdraw(services, idea, person)
        if refusal:
            return [Reply(refusal, edit=True)]
        return [Reply(f"金点子 #{idea.id} 已撤回。有新想法随时再发给我。", edit=True)]
    if action == "wdn":
        return [
            Reply(
                f"好的,金点子 #{idea.id} 没有撤回。",
                buttons=(_idea_buttons(idea.id),),
                edit=True,
            )
        ]
    return [Reply("这个按钮已经失效了。")]


def _withdraw_question(idea: Idea, person: Person, *, edit: bool) -> Reply:
    """Withdrawing cannot be undone: ask first (or say why it cannot be withdrawn)."""
    refusal = ideas.withdraw_refusal(idea, person)
    if refusal:
        return Reply(refusal, edit=edit)
    return Reply(
        f"确认撤回 #{idea.id}?「{excerpt(idea.text, 20)}」\n撤回后这条金点子就不再审核了。",
        buttons=((Button("确认撤回", f"i:{idea.id}:wdy"), Button("不撤回", f"i:{idea.id}:wdn")),),
        edit=edit,
    )


async def withdraw_command(msg: Member, services: Services) -> list[Reply]:
    """撤回还没有审核的金点子:/withdraw 编号"""
    number = parsing.number(msg.args.strip())
    if number is None:
        return [Reply("请写上要撤回的金点子编号,例如:/withdraw 12(编号见 /my)")]
    idea = await services.repos.ideas.get(number)
    if idea is None:
        return [Reply(f"没有编号为 #{number} 的金点子。")]
    return [_withdraw_question(idea, msg.person, edit=False)]


async def category_command(msg: Member, services: Services) -> list[Reply]:
    """更正金点子的类别:/category 编号"""
    person = msg.person
    arg = msg.args.strip()
    number = parsing.number(arg)
    if number is None:
        return [Reply("请写上金点子的编号,例如:/category 12")]
    idea = await services.repos.ideas.get(number)
    if idea is None:
        return [Reply(f"没有编号为 #{number} 的金点子。")]
    if not access.may_recategorize(person, idea):
        return [Reply("只有作者本人、本支部书记或党委领导可以更正这条金点子的类别。")]
    if idea.status == "withdrawn":
        return [Reply(f"金点子 #{idea.id} 已经撤回,不能再操作了。")]
    current = services.category_label(idea.category)
    choice = _category_choice(idea, services)
    return [
        Reply(
            f"金点子 #{idea.id}:{idea.text[:40]}\n现在的类别:{current}。{choice.text}",
            buttons=choice.buttons,
        )
    ]


def _category_choice(idea: Idea, services: Services) -> Reply:
    buttons = [Button(c.label, f"i:{idea.id}:set:{c.id}") for c in services.classifier.categories]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    return Reply(f"请为金点子 #{idea.id} 选择类别:", buttons=rows, edit=True)


async def _set_category(
    idea: Idea, category: str, person: Person, services: Services
) -> list[Reply]:
    if not await ideas.set_category(services, idea, category, person):
        return [Reply("没有这个类别,请重新选择。")]
    label = services.category_label(category)
    return [Reply(f"金点子 #{idea.id} 的类别已改为:{label}。谢谢!", edit=True)]


async def my_ideas(msg: Member, services: Services) -> list[Reply]:
    """查看我提交的金点子:/my [页码]"""
    arg = msg.args.strip()
    page = parsing.number(arg) if arg else 1
    if page is None:
        return [Reply("页码要写数字,例如:/my 2")]
    return [await _my_page(msg, services, page, edit=False)]


async def on_my_page(msg: Member, services: Services) -> list[Reply]:
    parts = (msg.callback or "").split(":")
    page = (parsing.number(parts[1]) if len(parts) == 2 else None) or 1
    return [await _my_page(msg, services, page, edit=True)]


async def _my_page(msg: Member, services: Services, page: int, *, edit: bool) -> Reply:
    person = msg.person
    size = services.settings.page_size
    total = await services.repos.ideas.count_by_author(person.id)
    if total == 0:
        return Reply(f"您还没有提交过金点子。直接发一段文字给我就行,{EXAMPLE}")
    pages = (total + size - 1) // size
    page = min(max(page, 1), pages)
    page_ideas = await services.repos.ideas.by_author(
        person.id, limit=size, offset=(page - 1) * size
    )
    lines = [f"您的金点子(共 {total} 条,第 {page}/{pages} 页):"]
    for idea in page_ideas:
        day = services.local(idea.created_at).strftime("%Y-%m-%d")
        status = ideas.status_label(idea.status)
        lines.append(
            f"#{idea.id} {services.category_label(idea.category)} · {status} · {day}\n"
            f"    {excerpt(idea.text, 24)}"
        )
    if page == 1:
        rewards = await services.repos.projects.rewards_of(person.id)
        if rewards:
            lines.append("您获得的奖励:")
            lines += [
                f"  {number} {title[:16]}:{format_yuan(fen)}({services.local(when):%Y-%m-%d})"
                for number, title, fen, when in rewards
            ]
    nav = []
    if page > 1:
        nav.append(Button("上一页", f"my:{page - 1}"))
    if page < pages:
        nav.append(Button("下一页", f"my:{page + 1}"))
    return Reply("\n".join(lines), buttons=(tuple(nav),) if nav else (), edit=edit)


FEATURE = Feature(
    commands=[
        Command("idea", idea_command),
        Command("my", my_ideas),
        Command("category", category_command),
        Command("withdraw", withdraw_command),
    ],
    callbacks={"i": on_button, "my": on_my_page},
    states={"idea": on_state},
    text=submit_text,
    media=on_media,
    prepare=ideas.prepare,
)
