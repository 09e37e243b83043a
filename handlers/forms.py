"""Guided forms: a multi-part command asked one part at a time, a confirmation before what
cannot be taken back.

A `Form` is a list of `Step`s and a `finish`. Each step asks (a line of text, with buttons
when the answer is a choice) and reads the answer, typed or pressed, into a string, or says
what is wrong and asks again. With `confirm` the form ends on a summary with 确认 / 取消
buttons, and `finish` runs only on 确认; a form without steps is a plain confirmation
(withdraw an idea, close a month, change a role). The form's place and answers live in the
conversation table like `/start`'s, so a restart keeps them; `/cancel` leaves any form.

`finish` does what the one-line command does, through the same rule: a form is one more way
to type the same command, never a second set of rules.

A step with `multiple` takes several choices (the branches of a project): each press adds
one, or takes it out again, and asks the same question showing what is chosen, until the
"完成" choice; the answer is the chosen values joined by ",".

Buttons carry `fm:<turn>:<choice>`: the turn counts the questions asked, from a start taken
from the clock, so a button from an earlier question (or an earlier form) is refused instead
of answering the current one; the choices' values are kept with the conversation, not in the
button.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from handlers import parsing
from handlers.messages import Button, Incoming, Member, Reply
from handlers.router import Feature, member
from handlers.rules import names
from handlers.services import Services
from storage import Branch, Person

PREFIX = "fm"
STATE = PREFIX + "."
OK, NO = "ok", "no"
COLUMNS = 3
CANCEL_HINT = "(发送 /cancel 可退出)"
DECLINED = "好的,已取消,没有做任何改动。"
STALE = "这个按钮已经过期了。"
TURN_CYCLE = 1_000_000_000
"""Turns start at the clock's milliseconds modulo this (parsing.number reads up to 2**31)."""
DONE = "..done"
"""The value of a multiple step's "完成" choice (no id looks like it)."""
CHOSEN = "✓ "
"""Marks a chosen button of a multiple step."""
PICKED = "+"
"""Suffix of the answers' key that holds a multiple step's choices so far."""

Answers = dict[str, str]


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Ask:
    """A question: its text and, when the answer is one of a few, the choices as buttons."""

    text: str
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an answer was not taken; the question is asked again after it."""

    text: str


Asker = Callable[[Member, Services, Answers], Awaitable[Ask]]
Reader = Callable[[str, Member, Services, Answers], Awaitable["str | Problem"]]
Finisher = Callable[[Member, Services, Answers], Awaitable[list[Reply]]]
Summary = Callable[[Member, Services, Answers], Awaitable[str]]


async def _as_typed(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
    return text.strip() or Problem("请输入内容。")


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    ask: Asker
    read: Reader = _as_typed
    """Reads a typed answer (a pressed choice, or a typed choice label, skips it)."""
    skip: Callable[[Answers], bool] | None = None
    """When the step is not needed, given the answers so far."""
    multiple: bool = False
    """Several choices, gathered until `DONE` (see `multi_choice_step`)."""


@dataclass(frozen=True, slots=True)
class Form:
    name: str
    """Unique among forms; kept in the conversation state."""
    steps: tuple[Step, ...]
    finish: Finisher
    confirm: Summary | None = None
    """The summary shown with 确认 / 取消 before `finish`; None finishes at once."""
    confirm_label: str = "确认"


async def start(
    form: Form, msg: Member, services: Services, answers: Answers | None = None
) -> list[Reply]:
    """Open `form` for the sender with `answers` already known (a one-line form may give
    some parts); asks the first open question, or the confirmation."""
    turn = await _first_turn(msg, services)
    return await _advance(form, msg, services, dict(answers or {}), turn=turn, said=[])


async def _first_turn(msg: Incoming, services: Services) -> int:
    """Where a new form's turns start: past the open form's (if one is replaced) and at the
    clock's milliseconds, so that a button left on an earlier form's message (a 确认 never
    pressed, or pressed long ago) never matches a question of this one."""
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    opened = 0
    if conversation is not None and conversation.state.startswith(STATE):
        opened = int(conversation.data.get("turn", 0)) + 1
    return max(opened, int(services.now().timestamp() * 1000) % TURN_CYCLE)


def feature(forms: Iterable[Form]) -> Feature:
    """The router's entry for every form: typed answers by state, presses by callback."""
    listed = list(forms)
    by_name = {f.name: f for f in listed}
    if len(by_name) != len(listed):
        raise ValueError("two forms share a name")

    async def on_text(msg: Incoming, services: Services) -> list[Reply]:
        sender = member(msg)
        if sender is None:
            return []
        opened = await _opened(by_name, sender, services)
        if opened is None:
            await _close(sender, services)
            return [Reply("这个操作已经结束了,请重新发送命令。")]
        form, data = opened
        return await _answer(form, sender, services, data, typed=sender.text)

    async def on_press(msg: Member, services: Services) -> list[Reply]:
        parts = (msg.callback or "").split(":")
        opened = await _opened(by_name, msg, services)
        turn = parsing.number(parts[1], prefixes="") if len(parts) == 3 else None
        if opened is None or turn != opened[1].get("turn"):
            return [Reply(STALE + ("请回答最新的问题。" if opened else "请重新发送命令。"))]
        form, data = opened
        return await _answer(form, msg, services, data, pressed=parts[2])

    return Feature(states={PREFIX: on_text}, callbacks={PREFIX: on_press})


async def _opened(
    by_name: dict[str, Form], msg: Incoming, services: Services
) -> tuple[Form, dict[str, Any]] | None:
    conversation = await services.repos.conversations.get(msg.channel, msg.sender_id)
    if conversation is None or not conversation.state.startswith(STATE):
        return None
    form = by_name.get(conversation.state.removeprefix(STATE))
    return (form, conversation.data) if form is not None else None


async def _answer(
    form: Form,
    msg: Member,
    services: Services,
    data: dict[str, Any],
    *,
    typed: str | None = None,
    pressed: str | None = None,
) -> list[Reply]:
    answers: Answers = dict(data.get("answers", {}))
    turn = int(data.get("turn", 0))
    at = str(data.get("at", ""))
    choices = [Choice(str(label), str(value)) for label, value in data.get("choices", [])]
    if at == OK:  # the confirmation
        choice = pressed if pressed is not None else _confirm_word(typed or "")
        if choice == OK:
            await _close(msg, services)
            return await form.finish(msg, services, answers)
        if choice == NO:
            await _close(msg, services)
            return [Reply(DECLINED, edit=pressed is not None)]
        return [Reply(f"请点“{form.confirm_label}”或“取消”按钮,或发送 /cancel。")]
    step = next((s for s in form.steps if s.key == at), None)
    if step is None:  # the form changed since it was opened
        await _close(msg, services)
        return [Reply("这个操作已经结束了,请重新发送命令。")]
    value: str | Problem
    picked: str | None = None
    if pressed is not None:
        index = parsing.number(pressed, prefixes="")
        if index is None or index >= len(choices):
            return [Reply(STALE + "请回答最新的问题。")]
        value = picked = choices[index].value
    else:
        text = (typed or "").strip()
        picked = _by_label(choices, text)
        value = picked if picked is not None else await step.read(text, msg, services, answers)
    if step.multiple and picked is not None:  # one choice more or less, or done
        gathered = _gather(step, answers, picked)
        if gathered is None:  # the same question again, showing what is chosen
            ask = await step.ask(msg, services, answers)
            again = await _put(form, msg, services, answers, step.key, turn + 1, ask)
            return [dataclasses.replace(again, edit=pressed is not None)]
        value = gathered
    if isinstance(value, Problem):
        ask = await step.ask(msg, services, answers)
        return [Reply(value.text), await _put(form, msg, services, answers, step.key, turn, ask)]
    answers.pop(step.key + PICKED, None)
    answers[step.key] = value
    said = []
    if pressed is not None:  # the question's message keeps the question and shows the answer
        shown = "、".join(_label_of(choices, v).removeprefix(CHOSEN) for v in _values(step, value))
        said = [Reply(f"{data.get('text', '')}\n→ {shown}", edit=True)]
    return await _advance(form, msg, services, answers, turn=turn, said=said)


async def _advance(
    form: Form,
    msg: Member,
    services: Services,
    answers: Answers,
    *,
    turn: int,
    said: list[Reply],
) -> list[Reply]:
    """Ask the first step not yet answered (nor skipped), then the confirmation, then finish."""
    for step in form.steps:
        if step.key in answers or (step.skip is not None and step.skip(answers)):
            continue
        ask = await step.ask(msg, services, answers)
        return [*said, await _put(form, msg, services, answers, step.key, turn + 1, ask)]
    if form.confirm is None:
        await _close(msg, services)
        return [*said, *await form.finish(msg, services, answers)]
    summary = await form.confirm(msg, services, answers)
    ask = Ask(summary, (Choice(form.confirm_label, OK), Choice("取消", NO)))
    return [*said, await _put(form, msg, services, answers, OK, turn + 1, ask, hint=False)]


async def _put(
    form: Form,
    msg: Member,
    services: Services,
    answers: Answers,
    at: str,
    turn: int,
    ask: Ask,
    *,
    hint: bool = True,
) -> Reply:
    """Remember where the form is and what its buttons mean; the question to send."""
    data = {
        "at": at,
        "turn": turn,
        "answers": answers,
        "choices": [[c.label, c.value] for c in ask.choices],
        "text": ask.text,
    }
    await services.repos.conversations.set(
        msg.channel, msg.sender_id, STATE + form.name, data, services.now()
    )
    if at == OK:
        buttons = tuple(Button(c.label, f"{PREFIX}:{turn}:{c.value}") for c in ask.choices)
        return Reply(ask.text, buttons=(buttons,))
    pressable = [Button(c.label, f"{PREFIX}:{turn}:{k}") for k, c in enumerate(ask.choices)]
    rows = tuple(tuple(pressable[i : i + COLUMNS]) for i in range(0, len(pressable), COLUMNS))
    return Reply(ask.text + (CANCEL_HINT if hint else ""), buttons=rows)


def choice_step(
    key: str,
    question: Callable[[Answers], str] | str,
    options: Callable[[Member, Services, Answers], Awaitable[Sequence[Choice]]],
    *,
    typed: Reader | None = None,
    skip: Callable[[Answers], bool] | None = None,
) -> Step:
    """A step answered by a button; `typed` also reads a typed answer (a name, say)."""

    async def ask(msg: Member, services: Services, answers: Answers) -> Ask:
        text = question(answers) if callable(question) else question
        return Ask(text, tuple(await options(msg, services, answers)))

    async def only_buttons(
        text: str, msg: Member, services: Services, answers: Answers
    ) -> str | Problem:
        return Problem("请点下面的按钮选择。")

    return Step(key, ask, typed or only_buttons, skip)


def multi_choice_step(
    key: str,
    question: Callable[[Answers], str] | str,
    options: Callable[[Member, Services, Answers], Awaitable[Sequence[Choice]]],
    *,
    typed: Reader | None = None,
    skip: Callable[[Answers], bool] | None = None,
    done_label: str = "完成",
) -> Step:
    """A step answered by several buttons, then `done_label`; the answer is the chosen
    values joined by ",". A typed label acts as its button; other typed text is read by
    `typed` (a list of names, say), which answers the step at once."""

    async def ask(msg: Member, services: Services, answers: Answers) -> Ask:
        text = question(answers) if callable(question) else question
        chosen = [v for v in answers.get(key + PICKED, "").split(",") if v]
        listed = list(await options(msg, services, answers))
        marked = tuple(
            Choice(CHOSEN + c.label, c.value) if c.value in chosen else c for c in listed
        )
        if chosen:
            names_of = {c.value: c.label for c in listed}
            text += "\n已选:" + "、".join(names_of.get(v, v) for v in chosen)
        return Ask(text, (*marked, Choice(done_label, DONE)))

    async def only_buttons(
        text: str, msg: Member, services: Services, answers: Answers
    ) -> str | Problem:
        return Problem(f"请点下面的按钮选择,选好后点“{done_label}”。")

    return Step(key, ask, typed or only_buttons, skip, multiple=True)


def _gather(step: Step, answers: Answers, value: str) -> str | Problem | None:
    """A multiple step's answer once `value` is `DONE`; else None, with `value` added to
    (or taken out of) the choices so far."""
    chosen = [v for v in answers.get(step.key + PICKED, "").split(",") if v]
    if value == DONE:
        return ",".join(chosen) if chosen else Problem("请至少选一个。")
    chosen = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
    answers[step.key + PICKED] = ",".join(chosen)
    return None


def _values(step: Step, value: str) -> list[str]:
    return value.split(",") if step.multiple else [value]


def branch_step(
    key: str,
    question: str,
    allowed: Callable[[Person, Branch], bool],
    *,
    skip: Callable[[Answers], bool] | None = None,
) -> Step:
    """Choose one of the branches `allowed` for the person: a button each, or the name typed
    (机掘二队, jj2, 机掘); several matches are offered again as buttons."""

    async def mine(msg: Member, services: Services) -> list[Branch]:
        return [b for b in await services.repos.org.branches() if allowed(msg.person, b)]

    async def options(msg: Member, services: Services, answers: Answers) -> list[Choice]:
        return [Choice(names.short_branch_name(b), b.id) for b in await mine(msg, services)]

    async def typed(text: str, msg: Member, services: Services, answers: Answers) -> str | Problem:
        return branch_named(await mine(msg, services), text)

    return choice_step(key, question, options, typed=typed, skip=skip)


def branch_named(branches: Sequence[Branch], text: str) -> str | Problem:
    """The id of the one branch `text` names, or what to say."""
    found = names.branches(branches, text)
    if len(found) == 1:
        return found[0].id
    if not found:
        return Problem(f"没有找到“{parsing.shown(text)}”这个支部(或不在您的范围内),请点按钮选择。")
    listed = "、".join(names.short_branch_name(b) for b in found[:8])
    return Problem(f"“{parsing.shown(text)}”可能是:{listed}。请点按钮选择。")


async def _close(msg: Incoming, services: Services) -> None:
    await services.repos.conversations.clear(msg.channel, msg.sender_id)


def _confirm_word(text: str) -> str | None:
    word = parsing.fold(text).strip().lower()
    if word in ("确认", "确定", "是", "好", "ok", "yes", "y", "1"):
        return OK
    if word in ("取消", "不", "否", "不要", "no", "n", "2"):
        return NO
    return None


def _by_label(choices: Sequence[Choice], text: str) -> str | None:
    """A choice typed by its label or value (WeCom's numbered text, a typed branch name)."""
    wanted = parsing.fold(text).strip().lower()
    for choice in choices:
        label = choice.label.lower()
        if wanted in (label, label.removeprefix(CHOSEN), choice.value.lower()):
            return choice.value
    return None


def _label_of(choices: Sequence[Choice], value: str) -> str:
    return next((c.label for c in choices if c.value == value), value)
