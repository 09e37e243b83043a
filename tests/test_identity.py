"""Identity is proved, not claimed: a roster line (工号 and 姓名) alone binds nobody."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, load_sample_roster, open_app
from bot.roster import RosterProblems, import_roster
from handlers.messages import Incoming
from nlp import ModelClassifier
from tests.support import Chat, Clock, RecordingTransport, cli, project_config


async def claim(chat: Chat, employee_no: str, name: str) -> list[list[str]]:
    """What someone who only knows a roster line gets at each step."""
    return [await chat.say("/start"), await chat.say(employee_no), await chat.say(name)]


async def invite(issuer: Chat, employee_no: str) -> str:
    """The code `/invite` hands out."""
    return (await issuer.say(f"/invite {employee_no}"))[0].split("邀请码:")[1][:8]


async def ask_approval(
    worker: Chat, employee_no: str, name: str, decider: Chat, transport: RecordingTransport
) -> None:
    """The worker asks for approval; `decider` holds the buttons of the notice sent to them."""
    await claim(worker, employee_no, name)
    assert "支部书记" in (await worker.say("申请审核"))[0]
    notice = next(p for c, p in reversed(transport.sent) if c == "u-S001")
    assert name in notice["text"] and employee_no in notice["text"]
    decider.last_buttons = [b for row in notice["buttons"] for b in row]


async def decide(decider: Chat, label: str, transport: RecordingTransport) -> tuple[str, str]:
    """The decider presses 同意 or 拒绝: their reply, and what the worker (u-zhang) is told."""
    before = len(transport.sent)
    reply = (await decider.press(label))[0]
    told = [p["text"] for c, p in transport.sent[before:] if c == "u-zhang"]
    return reply, told[0] if told else ""


async def test_knowing_a_roster_line_makes_nobody_that_person(
    app: App, chat: Callable[..., Chat]
) -> None:
    impostor = chat("u-evil")
    await claim(impostor, "A001", "管理员")
    assert await app.repos.people.by_identity("test", "u-evil") is None
    assert "您还没有登记" in (await impostor.say("/role E001 leader"))[0]
    await claim(chat("u-evil2"), "E001", "张三")
    assert await app.repos.people.by_identity("test", "u-evil2") is None


async def test_known_and_unknown_numbers_get_the_same_replies(chat: Callable[..., Chat]) -> None:
    known = await claim(chat("u-a"), "E001", "张三")
    unknown = await claim(chat("u-b"), "X999", "某某")
    wrong_name = await claim(chat("u-c"), "E001", "李四")
    assert known == unknown == wrong_name
    assert "手机号" in known[2][0] and "邀请码" in known[2][0]


async def test_the_ask_for_a_phone_carries_a_contact_button(
    chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    await claim(chat("u-a"), "E001", "张三")
    buttons = transport.sent[-1][1]["buttons"]
    assert any(b.get("request_contact") for row in buttons for b in row)


async def test_own_phone_binds_and_someone_elses_contact_is_refused(
    app: App, chat: Callable[..., Chat]
) -> None:
    zhang = chat("u-zhang")
    await claim(zhang, "E001", "张三")
    refused = await zhang.share_contact("13800000001", user_id="someone-else")
    assert "您自己的手机号" in refused[0]
    assert await app.repos.people.by_identity("test", "u-zhang") is None
    replies = await zhang.share_contact("+86 138-0000-0001")
    assert "登记成功" in replies[0]
    person = await app.repos.people.by_identity("test", "u-zhang")
    assert person is not None and person.employee_no == "E001"


async def test_a_phone_not_on_the_roster_line_binds_nothing(
    app: App, chat: Callable[..., Chat]
) -> None:
    impostor = chat("u-evil")
    await claim(impostor, "A001", "管理员")
    replies = await impostor.share_contact("13912345678")
    assert "没有完成" in replies[0]
    assert await app.repos.people.by_identity("test", "u-evil") is None


async def test_an_invite_code_from_the_secretary_binds_once(
    app: App, chat: Callable[..., Chat]
) -> None:
    secretary = chat("u-S001")
    await secretary.register("S001", "刘书记")
    code = await invite(secretary, "E001")
    zhang = chat("u-zhang")
    await claim(zhang, "E001", "张三")
    assert "登记成功" in (await zhang.say(code.lower()))[0]
    other = chat("u-other")
    await claim(other, "E001", "张三")
    assert "没有完成" in (await other.say(code))[0]  # used up
    assert await app.repos.people.by_identity("test", "u-other") is None


async def test_who_may_invite_whom(chat: Callable[..., Chat]) -> None:
    secretary = chat("u-S001")
    await secretary.register("S001", "刘书记")
    assert "只能给本支部的职工" in (await secretary.say("/invite E002"))[0]  # another branch
    assert "只能给本支部的职工" in (await secretary.say("/invite A001"))[0]  # privileged
    assert "用法" in (await secretary.say("/invite"))[0]
    assert "没有工号" in (await secretary.say("/invite NOPE"))[0]
    worker = chat("u-E002")
    await worker.register("E002", "李四")
    assert "没有这个权限" in (await worker.say("/invite E001"))[0]
    admin = chat("u-A001")
    await admin.register("A001", "管理员")
    code = await invite(admin, "L001")
    leader = chat("u-leader")
    await claim(leader, "L001", "孙矿长")
    assert "登记成功" in (await leader.say(code))[0]


async def test_a_code_expires_after_seven_days(
    app: App, chat: Callable[..., Chat], clock: Clock
) -> None:
    admin = chat("u-A001")
    await admin.register("A001", "管理员")
    code = await invite(admin, "E001")
    clock.advance(timedelta(days=7, minutes=1).total_seconds())
    zhang = chat("u-zhang")
    await claim(zhang, "E001", "张三")
    assert "没有完成" in (await zhang.say(code))[0]


async def test_the_secretary_approves_a_worker(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    secretary = chat("u-S001")
    await secretary.register("S001", "刘书记")
    await ask_approval(chat("u-zhang"), "E001", "张三", secretary, transport)
    reply, told = await decide(secretary, "同意", transport)
    assert "已同意" in reply and "登记成功" in told
    person = await app.repos.people.by_identity("test", "u-zhang")
    assert person is not None and person.employee_no == "E001"
    assert "已经处理过" in (await secretary.press("拒绝"))[0]


async def test_the_secretary_refuses_and_privileged_roles_are_never_approved(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    secretary = chat("u-S001")
    await secretary.register("S001", "刘书记")
    await ask_approval(chat("u-zhang"), "E001", "张三", secretary, transport)
    reply, told = await decide(secretary, "拒绝", transport)
    assert "已拒绝" in reply and "没有同意" in told
    assert await app.repos.people.by_identity("test", "u-zhang") is None

    admin = chat("u-A001")
    await admin.register("A001", "管理员")
    impostor = chat("u-evil")
    await claim(impostor, "L001", "孙矿长")
    sent = len(transport.sent)
    asked = (await impostor.say("申请审核"))[0]
    assert [c for c, _ in transport.sent[sent:]] == ["u-evil"]  # nobody was asked
    stranger = chat("u-stranger")
    await claim(stranger, "X999", "某某")
    assert (await stranger.say("申请审核"))[0] == asked  # nothing tells a leader's line apart
    assert await app.repos.people.by_identity("test", "u-evil") is None


async def test_only_that_branchs_secretary_decides(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    secretary = chat("u-S001")
    await secretary.register("S001", "刘书记")
    other = chat("u-S002")
    await other.register("S002", "陈书记")
    await ask_approval(chat("u-zhang"), "E001", "张三", other, transport)
    assert not [c for c, p in transport.sent if c == "u-S002" and "申请在机器人上登记" in p["text"]]
    assert "只有" in (await other.press("同意"))[0]
    assert await app.repos.people.by_identity("test", "u-zhang") is None


async def test_five_failures_a_day_then_come_back_tomorrow(
    app: App, chat: Callable[..., Chat], clock: Clock
) -> None:
    guesser = chat("u-guess")
    for n in range(5):
        await claim(guesser, "A001", "管理员")
        await guesser.say(f"ABCDEFG{n + 2}")
    replies = await guesser.say("/start")
    assert "请明天再试或找支部书记" in replies[0]
    clock.advance(timedelta(hours=24, minutes=1).total_seconds())
    assert "工号" in (await guesser.say("/start"))[0]


async def test_other_text_at_the_proof_step_explains_the_ways(chat: Callable[..., Chat]) -> None:
    zhang = chat("u-zhang")
    await claim(zhang, "E001", "张三")
    replies = await zhang.say("你好")
    assert "手机号" in replies[0] and "邀请码" in replies[0]
    assert "已取消" in (await zhang.say("/cancel"))[0]


async def test_code_sheet_from_the_command_line(
    tmp_path: Path, classifier: ModelClassifier
) -> None:
    db = tmp_path / "j.db"
    config = project_config(db)
    async with open_app(config, clock=Clock(), classifier=classifier) as app:
        await load_sample_roster(app)
    sheet = tmp_path / "codes.csv"
    result = cli("roster", "codes", "--branch", "jj1", "--out", str(sheet), db=db)
    assert result.returncode == 0, result.stderr
    with sheet.open(encoding="utf-8-sig") as opened:
        rows = list(csv.DictReader(opened))
    assert [r["employee_no"] for r in rows] == ["D001", "E001", "S001"]
    bad = cli("roster", "codes", "--branch", "nowhere", db=db)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "nowhere" in bad.stderr and "Traceback" not in bad.stderr
    unwritable = cli("roster", "codes", "--out", str(tmp_path / "no" / "x.csv"), db=db)
    assert unwritable.returncode == 2 and len(unwritable.stderr.strip().splitlines()) == 1
    printed = cli("roster", "codes", db=db)
    assert printed.returncode == 0 and printed.stdout.count("\n") == 10  # header and 9 people
    async with open_app(config, clock=Clock(), classifier=classifier) as app:
        transport = RecordingTransport()
        zhang = Chat(app, transport, app.sender([transport]), "u-zhang")
        await claim(zhang, "E001", "张三")
        code = next(r["code"] for r in rows if r["employee_no"] == "E001")
        assert "没有完成" in (await zhang.say(code))[0]  # replaced by the printed sheet's
        fresh = next(
            line.split(",")[3] for line in printed.stdout.splitlines() if line.startswith("E001")
        )
        await claim(zhang, "E001", "张三")
        assert "登记成功" in (await zhang.say(fresh))[0]


async def test_roster_columns_by_header_in_any_order(app: App, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "phone,role,name,employee_no,branch_id\n"
        "+86 139-0000-0007,worker,钱七,E007,jj1\n"
        ",worker,孙八,E008,jj1\n",
        encoding="utf-8",
    )
    assert await import_roster(path, app.repos, app.services.now()) == 2
    person = await app.repos.people.by_employee_no("E007")
    assert person is not None and await app.repos.people.phone_of(person.id) == "13900000007"
    path.write_text("E009,周九,jj1,worker,,call me\n", encoding="utf-8")
    with pytest.raises(RosterProblems) as err:
        await import_roster(path, app.repos, app.services.now())
    assert "手机号" in err.value.problems[0]


async def test_role_change_keeps_the_phone(app: App, chat: Callable[..., Chat]) -> None:
    admin = chat("u-A001")
    await admin.register("A001", "管理员")
    await admin.say("/role E001 secretary")
    await admin.press("确认修改")
    person = await app.repos.people.by_employee_no("E001")
    assert person is not None and await app.repos.people.phone_of(person.id) == "13800000001"


async def on_wecom(app: App, userid: str, text: str) -> list[str]:
    """What a WeCom member (vouched for by the corp as one of its people) is answered."""
    update = next(WECOM_UPDATES)
    msg = Incoming("wecom", f"w{update}", userid, userid, text=text)
    return [r.text for r in (await app.router.dispatch(msg, app.services)).replies]


WECOM_UPDATES = itertools.count(1)


async def test_on_wecom_a_worker_binds_by_roster_line_but_an_admin_needs_a_code(
    app: App, chat: Callable[..., Chat]
) -> None:
    for text in ("/start", "E002", "李四"):
        replies = await on_wecom(app, "lisi-wx", text)
    assert "登记成功" in replies[0]
    for text in ("/start", "A001", "管理员"):
        replies = await on_wecom(app, "someone-wx", text)
    assert "邀请码" in replies[0]
    assert await app.repos.people.by_identity("wecom", "someone-wx") is None
    assert "邀请码" in (await on_wecom(app, "someone-wx", "随便说点"))[0]
    admin = chat("u-A001")
    await admin.register("A001", "管理员")
    code = await invite(admin, "A001")
    for text in ("/start", "A001", "管理员", code):
        replies = await on_wecom(app, "admin-wx", text)
    assert "登记成功" in replies[0]
    person = await app.repos.people.by_identity("wecom", "admin-wx")
    assert person is not None and person.employee_no == "A001"
