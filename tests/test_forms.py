"""Guided forms: one question at a time, buttons for choices, names for ids, /cancel, and a
confirmation that can be declined. Driven through the router as a person would."""

from __future__ import annotations

from collections.abc import Callable

from bot.app import App
from handlers.rules import names
from storage import Branch
from tests.support import CHANNEL, Chat, idea_rows, register_people


async def visits_of(app: App) -> list[tuple[str, str]]:
    rows = await app.repos.db.fetchall("SELECT branch_id, note FROM visits ORDER BY id")
    return [(r["branch_id"], r["note"]) for r in rows]


async def test_a_supervisor_records_a_visit_by_buttons_only(
    app: App, chat: Callable[..., Chat]
) -> None:
    supervisor = (await register_people(chat, "supervisor"))["supervisor"]
    asked = (await supervisor.say("/visit"))[-1]
    assert "请选择走访的支部" in asked
    # only the branches of the supervisor's department (宣传部: jj1, jj2, kj1), by short name
    assert [b["label"] for b in supervisor.last_buttons] == ["机掘一队", "机掘二队", "开掘一队"]
    replies = await supervisor.press("机掘二队")
    assert "→ 机掘二队" in replies[0]  # the question's message now shows the answer
    assert "走访看了什么" in replies[-1]
    done = await supervisor.press("不写备注")
    assert "已记录对机掘二队党支部的走访" in done[-1] and "本月第 1 次" in done[-1]
    assert await visits_of(app) == [("jj2", "")]
    assert await app.repos.conversations.get(CHANNEL, supervisor.user) is None


async def test_names_are_taken_where_ids_were_asked(app: App, chat: Callable[..., Chat]) -> None:
    supervisor = (await register_people(chat, "supervisor"))["supervisor"]
    done = await supervisor.say("/visit 机掘二队 检查了班前会记录")
    assert "已记录对机掘二队党支部的走访" in done[-1]
    # a part of a name that fits two branches: offered as a choice, the note kept
    replies = await supervisor.say("/visit 机掘 宣传栏已更新")
    assert "可能是:机掘一队、机掘二队" in replies[0]
    assert "请选择走访的支部" in replies[-1]
    replies = await supervisor.say("机掘一队")  # typed instead of pressed
    assert "已记录对机掘一队党支部的走访" in replies[-1]
    # a branch outside the department is named as such, and nothing is recorded for it
    replies = await supervisor.say("/visit 洗煤厂")
    assert replies == ["洗煤厂党支部不在您所在部门的督导范围内。"]
    assert await visits_of(app) == [("jj2", "检查了班前会记录"), ("jj1", "宣传栏已更新")]


async def test_a_form_is_left_with_cancel_and_old_buttons_are_refused(
    app: App, chat: Callable[..., Chat]
) -> None:
    supervisor = (await register_people(chat, "supervisor"))["supervisor"]
    await supervisor.say("/visit")
    first = list(supervisor.last_buttons)
    await supervisor.press("开掘一队")  # the next question is asked
    supervisor.last_buttons = first  # a press on the first question's message, again
    assert "这个按钮已经过期了" in (await supervisor.press("机掘一队"))[-1]
    assert "已取消" in (await supervisor.say("/cancel"))[-1]
    supervisor.last_buttons = first
    assert "这个按钮已经过期了" in (await supervisor.press("机掘一队"))[-1]
    assert await visits_of(app) == []
    # after /cancel a plain message is an idea again, not an answer to the form
    await supervisor.say("井下第3号皮带机的托辊坏了别扔,拆下来修好再用")
    assert [r["text"] for r in await idea_rows(app.repos)][-1].startswith("井下第3号皮带机")


async def test_a_wrong_typed_answer_is_asked_again(app: App, chat: Callable[..., Chat]) -> None:
    supervisor = (await register_people(chat, "supervisor"))["supervisor"]
    await supervisor.say("/visit")
    replies = await supervisor.say("不存在的队")
    assert "没有找到“不存在的队”这个支部" in replies[0]
    assert "请选择走访的支部" in replies[-1] and len(supervisor.last_buttons) == 3
    await supervisor.press("机掘一队")
    replies = await supervisor.say("查" * 600)
    assert "备注太长了" in replies[0] and "走访看了什么" in replies[-1]
    assert await visits_of(app) == []


def test_branch_names_by_id_full_name_short_name_or_unique_part() -> None:
    branches = [
        Branch("jj1", "机掘一队党支部", "publicity"),
        Branch("jj2", "机掘二队党支部", "publicity"),
        Branch("xmc", "洗煤厂党支部", "union"),
    ]

    def ids(text: str) -> list[str]:
        return [b.id for b in names.branches(branches, text)]

    assert ids("JJ2") == ["jj2"]
    assert ids("机掘二队") == ["jj2"]
    assert ids("机掘二队党支部") == ["jj2"]
    assert ids("洗煤") == ["xmc"]
    assert ids("机掘") == ["jj1", "jj2"]
    assert ids("ｊｊ１") == ["jj1"]  # full-width, as a phone may type it
    assert ids("") == [] and ids("综采") == []


async def test_a_role_change_is_confirmed_and_can_be_declined(
    app: App, chat: Callable[..., Chat]
) -> None:
    admin = (await register_people(chat, "admin"))["admin"]

    async def roles() -> list[str]:
        person = await app.repos.people.by_employee_no("E002")
        assert person is not None
        return [str(r) for r in person.roles]

    asked = await admin.say("/role 李四 书记")  # by name as well as by 工号
    assert asked == ["把 李四(工号 E002)的角色从“职工”改为“支部书记”?权限会立即改变。"]
    assert [b["label"] for b in admin.last_buttons] == ["确认修改", "取消"]
    assert "已取消,没有做任何改动" in (await admin.press("取消"))[0]
    assert await roles() == ["worker"]
    await admin.say("/role E002 督导：宣传部")
    assert "已把 李四(工号 E002)的角色设为:督导人员(publicity)" in (await admin.say("确认"))[0]
    assert await roles() == ["supervisor:publicity"]
    assert "花名册里没有工号或姓名为“王老五”的人" in (await admin.say("/role 王老五 书记"))[0]
