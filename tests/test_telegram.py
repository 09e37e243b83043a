"""The real python-telegram-bot stack against a fake Bot API server on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import App, load_sample_roster, open_app, open_storage, utc_now
from bot.config import Config
from bot.outbox import CONCURRENT_CHATS
from bot.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel, chat_of, open_telegram
from handlers.messages import Button
from handlers.notify import Notice
from handlers.services import Services
from nlp import ModelClassifier
from scheduler.jobs import Job
from scheduler.runner import run_job
from tests.botapi_fake import FakeTelegram
from tests.support import ROOT, cli, project_config, seed_telegram_people

TOKEN = "123456:TEST-token"
ZHANG = 1001  # Telegram user ids
LI = 1002
SECRETARY = 1006
ADMIN = 1009


def telegram_config(tmp_path: Path, tg: FakeTelegram, **extra: str) -> Config:
    return project_config(
        tmp_path / "data" / "j.db",
        JINDIANZI_TELEGRAM_TOKEN=TOKEN,
        JINDIANZI_TELEGRAM_BASE_URL=f"{tg.url}/bot",
        JINDIANZI_TELEGRAM_BASE_FILE_URL=f"{tg.url}/file/bot",
        **extra,
    )


def webhook_config(tmp_path: Path, tg: FakeTelegram, port: int) -> Config:
    return telegram_config(
        tmp_path,
        tg,
        JINDIANZI_TELEGRAM_MODE="webhook",
        JINDIANZI_TELEGRAM_WEBHOOK_URL="https://bot.example.com",
        JINDIANZI_TELEGRAM_WEBHOOK_SECRET="s3cret-Token",
        JINDIANZI_TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
    )


def help_update(update_id: int) -> dict[str, Any]:
    """A raw /help from ZHANG, as Telegram posts it to a webhook."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": ZHANG, "type": "private"},
            "from": {"id": ZHANG, "is_bot": False, "first_name": "张"},
            "text": "/help",
        },
    }


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@asynccontextmanager
async def serving(
    config: Config, classifier: ModelClassifier
) -> AsyncIterator[tuple[App, TelegramChannel]]:
    async with open_app(config, classifier=classifier) as app:
        await load_sample_roster(app)
        stop = asyncio.Event()
        async with open_telegram(config.telegram, app.router, app.services) as channel:
            sender = app.sender([channel])
            tasks = [asyncio.create_task(channel.run(stop)), asyncio.create_task(sender.run(stop))]
            try:
                yield app, channel
            finally:
                stop.set()
                await asyncio.gather(*tasks)


@pytest.fixture
async def bot(tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier) -> AsyncIterator[App]:
    async with serving(telegram_config(tmp_path, tg), classifier) as (app, _):
        yield app


async def say(tg: FakeTelegram, user: int, text: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Send a text and wait for the bot's answer (one or more new messages or edits)."""
    chat = kwargs.get("chat_id") or user
    before = len(tg.sent(chat_id=chat))
    tg.push_text(user, text, **kwargs)
    return (await tg.wait_sent(before + 1, chat_id=chat))[before:]


async def press(
    tg: FakeTelegram, user: int, message: dict[str, Any], label: str
) -> list[dict[str, Any]]:
    markup = message["reply_markup"]["inline_keyboard"]
    data = next(b["callback_data"] for row in markup for b in row if b["text"] == label)
    before = len(tg.sent(chat_id=user))
    tg.push_callback(user, data, message_id=message["message_id"])
    return (await tg.wait_sent(before + 1, chat_id=user))[before:]


SAMPLE_PHONES = {"E001": "8613800000001", "S001": "+8613800000011", "A001": "13800000041"}
"""Sample roster phones as Telegram shares them."""


async def share_contact(
    tg: FakeTelegram, user: int, phone: str, owner: int | None
) -> list[dict[str, Any]]:
    before = len(tg.sent(chat_id=user))
    tg.push_contact(user, phone, owner)
    return (await tg.wait_sent(before + 1, chat_id=user))[before:]


async def register(tg: FakeTelegram, user: int, employee_no: str, name: str) -> None:
    """Register as a roster person, proved by the contact button with their own number."""
    await say(tg, user, "/start")
    await say(tg, user, employee_no)
    await say(tg, user, name)
    replies = await share_contact(tg, user, SAMPLE_PHONES[employee_no], user)
    assert "登记成功" in replies[0]["text"]


async def test_own_contact_binds_and_someone_elses_is_refused(bot: App, tg: FakeTelegram) -> None:
    await say(tg, ZHANG, "/start")
    await say(tg, ZHANG, "E001")
    asked = (await say(tg, ZHANG, "张三"))[0]
    keyboard = asked["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    assert asked["reply_markup"]["one_time_keyboard"] is True
    for owner in (LI, None):  # another account's card, or a number typed into a card
        refused = await share_contact(tg, ZHANG, SAMPLE_PHONES["E001"], owner)
        assert "别人的名片" in refused[0]["text"]
    assert await bot.repos.people.by_identity("telegram", str(ZHANG)) is None
    replies = await share_contact(tg, ZHANG, SAMPLE_PHONES["E001"], ZHANG)
    assert "登记成功" in replies[0]["text"]
    person = await bot.repos.people.by_identity("telegram", str(ZHANG))
    assert person is not None and person.employee_no == "E001"


async def ideas(app: App) -> list[tuple[str, str]]:
    rows = await app.repos.db.fetchall("SELECT text, category FROM ideas ORDER BY id")
    return [(r[0], r[1]) for r in rows]


async def test_register_idea_buttons_change_category_and_my(bot: App, tg: FakeTelegram) -> None:
    await register(tg, ZHANG, "E001", "张三")
    reply = (await say(tg, ZHANG, "井下回收复用锚杆,每月能省好几万"))[0]
    assert "#1" in reply["text"] and "修旧利废" in reply["text"]
    labels = [b["text"] for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["确认", "改类别", "撤回"]
    assert all(
        len(b["callback_data"].encode()) <= 64
        for row in reply["reply_markup"]["inline_keyboard"]
        for b in row
    )
    choice = (await press(tg, ZHANG, reply, "改类别"))[0]
    assert choice["method"] == "editMessageText"  # the button message changes in place
    assert choice["message_id"] == reply["message_id"]
    done = (await press(tg, ZHANG, choice, "管理提升"))[0]
    assert done["method"] == "editMessageText" and "管理提升" in done["text"]
    assert await ideas(bot) == [("井下回收复用锚杆,每月能省好几万", "management")]
    assert any(m == "answerCallbackQuery" for m, _ in tg.calls)
    listing = (await say(tg, ZHANG, "/my"))[0]
    assert "#1 管理提升 · 已提交" in listing["text"]
    commands = [p for m, p in tg.calls if m == "setMyCommands"]
    assert commands and {"idea", "my", "start", "help"} <= {
        c["command"] for c in commands[0]["commands"]
    }


async def test_photo_idea_and_photo_alone(bot: App, tg: FakeTelegram) -> None:
    await register(tg, ZHANG, "E001", "张三")
    before = len(tg.sent(chat_id=ZHANG))
    tg.push_photo(ZHANG, caption="旧托辊修一修还能用")
    reply = (await tg.wait_sent(before + 1, chat_id=ZHANG))[before]
    assert "#1" in reply["text"]
    before += 1
    tg.push_photo(ZHANG)
    asked = (await tg.wait_sent(before + 1, chat_id=ZHANG))[before]
    assert "照片收到了" in asked["text"]
    reply = (await say(tg, ZHANG, "皮带机头加装防护栏,防止卷人"))[0]
    assert "#2" in reply["text"]
    assert len(await bot.repos.attachments.for_idea(1)) == 1
    assert len(await bot.repos.attachments.for_idea(2)) == 1


async def test_redelivered_update_creates_nothing_new(bot: App, tg: FakeTelegram) -> None:
    await register(tg, ZHANG, "E001", "张三")
    registered = len(tg.sent(chat_id=ZHANG))  # the replies of registration
    update = tg.push_text(ZHANG, "井下回收复用锚杆,每月能省好几万")
    await tg.wait_sent(registered + 1, chat_id=ZHANG)
    tg.push_raw(update)  # Telegram sends the same update again
    await say(tg, ZHANG, "/my")
    assert len(await ideas(bot)) == 1
    assert len(tg.sent(chat_id=ZHANG)) == registered + 2
    chats = await bot.repos.db.fetchall(
        "SELECT DISTINCT chat FROM inbox WHERE channel = 'telegram'"
    )
    assert [r[0] for r in chats] == [str(ZHANG)]  # the sender's updates are claimed in order


@pytest.mark.parametrize(
    ("raw", "chat"),
    [
        ('{"update_id": 1, "message": {"from": {"id": 7}, "chat": {"id": -100}}}', "7"),
        ('{"update_id": 2, "callback_query": {"from": {"id": 8}, "message": {}}}', "8"),
        ('{"update_id": 3, "channel_post": {"chat": {"id": -200}}}', "-200"),
        ('{"update_id": 4, "poll": {"id": "p"}}', ""),
        ("not json at all", ""),
        ("[1, 2]", ""),
    ],
)
def test_an_update_belongs_to_its_sender_else_its_chat(raw: str, chat: str) -> None:
    assert chat_of(raw) == chat


async def test_429_is_waited_out(bot: App, tg: FakeTelegram) -> None:
    await register(tg, ZHANG, "E001", "张三")
    tg.fail_next("sendMessage", error_code=429, retry_after=1)
    started = asyncio.get_running_loop().time()
    reply = (await say(tg, ZHANG, "/help"))[0]
    assert "/my" in reply["text"]
    assert asyncio.get_running_loop().time() - started >= 1.0
    assert [m for m, _ in tg.calls].count("sendMessage") >= 5  # the refused try was recorded


async def test_group_bind_by_secretary_refused_for_worker_and_removal(
    bot: App, tg: FakeTelegram
) -> None:
    await register(tg, ZHANG, "E001", "张三")
    await register(tg, SECRETARY, "S001", "刘书记")
    group = -1001234
    refused = (await say(tg, ZHANG, "/bind jj1", chat_id=group, chat_type="group"))[0]
    assert "只有机掘一队党支部的支部书记或管理员" in refused["text"]
    bound = (await say(tg, SECRETARY, "/bind jj1", chat_id=group, chat_type="group"))[0]
    assert "绑定为「机掘一队党支部」" in bound["text"]
    tg.push_text(ZHANG, "大家今天辛苦了", chat_id=group, chat_type="group")  # chatter: ignored
    idea = (await say(tg, ZHANG, "/idea 旧托辊修一修还能用", chat_id=group, chat_type="group"))[0]
    assert "#1" in idea["text"]
    assert [b.chat_id for b in await bot.repos.groups.for_branch("jj1")] == [str(group)]
    tg.push_my_chat_member(group, new_status="kicked", chat_type="group")
    for _ in range(100):
        if not await bot.repos.groups.for_branch("jj1"):
            break
        await asyncio.sleep(0.05)
    assert await bot.repos.groups.for_branch("jj1") == []


async def test_supergroup_migration_keeps_the_binding(bot: App, tg: FakeTelegram) -> None:
    await register(tg, SECRETARY, "S001", "刘书记")
    await say(tg, SECRETARY, "/bind jj1", chat_id=-500, chat_type="group")
    tg.push_migrate(-500, -1009999)
    for _ in range(100):
        if [b.chat_id for b in await bot.repos.groups.for_branch("jj1")] == ["-1009999"]:
            break
        await asyncio.sleep(0.05)
    assert [b.chat_id for b in await bot.repos.groups.for_branch("jj1")] == ["-1009999"]


async def test_long_message_is_refused_and_long_reply_split(bot: App, tg: FakeTelegram) -> None:
    await register(tg, ZHANG, "E001", "张三")
    reply = (await say(tg, ZHANG, "锚" * 5000))[0]
    assert "消息太长了(5000 字)" in reply["text"]
    assert await ideas(bot) == []
    async with bot.repos.db.transaction():
        await bot.repos.outbox.enqueue(
            channel="telegram",
            chat_id=str(ZHANG),
            payload={"text": "\n".join(f"第{i}行 锚杆回收复用" for i in range(900))},
            dedupe_key="long-1",
            now=bot.services.now(),
        )
    bot.services.outbox_signal.set()
    before = len(tg.sent(chat_id=ZHANG))
    pieces = (await tg.wait_sent(before + 3, chat_id=ZHANG))[before:]
    assert all(len(p["text"]) <= 4096 for p in pieces)
    assert "\n".join(p["text"] for p in pieces).count("锚杆回收复用") == 900


async def test_forbidden_chat_unbinds_and_tells_admins(bot: App, tg: FakeTelegram) -> None:
    await register(tg, ADMIN, "A001", "管理员")
    await say(tg, ADMIN, "/bind xmc", chat_id=-77, chat_type="group")
    tg.forbid_chat(-77)
    async with bot.repos.db.transaction():
        await bot.repos.outbox.enqueue(
            channel="telegram",
            chat_id="-77",
            payload={"text": "周一例会提醒"},
            dedupe_key="n-1",
            now=bot.services.now(),
        )
    bot.services.outbox_signal.set()
    before = len(tg.sent(chat_id=ADMIN))
    notice = (await tg.wait_sent(before + 1, chat_id=ADMIN))[before]
    assert "没能送达" in notice["text"]
    assert await bot.repos.groups.for_branch("xmc") == []


async def test_webhook_checks_the_secret_token(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier, unused_tcp_port: int
) -> None:
    config = webhook_config(tmp_path, tg, unused_tcp_port)
    async with serving(config, classifier) as (app, _):
        webhook = await tg.wait_for(lambda method, _: method == "setWebhook")
        assert webhook[1]["secret_token"] == "s3cret-Token"
        assert webhook[1]["url"] == "https://bot.example.com" + WEBHOOK_PATH
        update = help_update(77)
        url = f"http://127.0.0.1:{unused_tcp_port}{WEBHOOK_PATH}"
        async with httpx.AsyncClient() as client:
            wrong = await client.post(url, json=update, headers={SECRET_HEADER: "guess"})
            missing = await client.post(url, json=update)
            assert wrong.status_code == missing.status_code == 403
            assert await app.repos.inbox.status("telegram", "77") is None
            garbage = await client.post(
                url, content=b"{not json", headers={SECRET_HEADER: "s3cret-Token"}
            )
            assert garbage.status_code == 400
            right = await client.post(url, json=update, headers={SECRET_HEADER: "s3cret-Token"})
            assert right.status_code == 200
        reply = (await tg.wait_sent(1, chat_id=ZHANG))[0]
        assert "/start" in reply["text"]


# -- the whole program, killed and restarted -------------------------------------------------


def start_bot(config_env: dict[str, str], stderr: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
    env.update(config_env)
    with stderr.open("ab") as err:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "jindianzi"), "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


async def test_killed_after_fetch_then_restarted_handles_each_update_once(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier
) -> None:
    db = tmp_path / "data" / "j.db"
    env = {
        "JINDIANZI_STORAGE_PATH": str(db),
        "JINDIANZI_TELEGRAM_TOKEN": TOKEN,
        "JINDIANZI_TELEGRAM_BASE_URL": f"{tg.url}/bot",
        "JINDIANZI_TELEGRAM_BASE_FILE_URL": f"{tg.url}/file/bot",
    }
    async with open_app(telegram_config(tmp_path, tg), classifier=classifier):
        pass  # creates and migrates the database
    seed_telegram_people(db, 1, 5000)
    count = 120
    for n in range(count):
        tg.push_text(5000, f"第{n}号建议:把{n}号皮带机的旧托辊修好再用")
    last_id = max(u["update_id"] for u in tg.pending_updates())
    errors = tmp_path / "stderr.txt"
    first = start_bot(env, errors)
    try:
        await tg.wait_for(
            lambda method, params: (
                method == "getUpdates" and int(params.get("offset") or 0) > last_id
            ),
            timeout=60,
        )
        first.send_signal(signal.SIGKILL)  # fetched and confirmed, mostly not yet handled
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM inbox WHERE channel='telegram'").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM inbox WHERE status='pending'").fetchone()[0]
    assert stored == count  # every confirmed update had been committed first
    assert pending > 0, "the kill came too late to test recovery"
    assert tg.pending_updates() == []  # Telegram will not send them again

    second = start_bot(env, errors)
    try:
        for _ in range(600):
            with sqlite3.connect(db) as conn:
                left = conn.execute("SELECT count(*) FROM inbox WHERE status='pending'").fetchone()[
                    0
                ]
            if left == 0:
                break
            await asyncio.sleep(0.1)
        await tg.wait_sent(count, chat_id=5000, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 30)
    assert second.returncode == 0, errors.read_text()
    assert "Traceback" not in errors.read_text()
    with sqlite3.connect(db) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM ideas ORDER BY id")]
    assert sorted(texts) == sorted(
        f"第{n}号建议:把{n}号皮带机的旧托辊修好再用" for n in range(count)
    )
    answered = [m for m in tg.sent(chat_id=5000) if "收到您的金点子" in m["text"]]
    assert len({m["text"].split("#")[1].split(",")[0] for m in answered}) == count


async def test_send_to_a_migrated_group_follows_it(bot: App, tg: FakeTelegram) -> None:
    await register(tg, SECRETARY, "S001", "刘书记")
    await say(tg, SECRETARY, "/bind jj1", chat_id=-600, chat_type="group")
    tg.migrate_chat(-600, -1006000)
    async with bot.repos.db.transaction():
        await bot.repos.outbox.enqueue(
            channel="telegram",
            chat_id="-600",
            payload={"text": "周一例会提醒"},
            dedupe_key="m-1",
            now=bot.services.now(),
        )
    bot.services.outbox_signal.set()
    delivered = (await tg.wait_sent(1, chat_id=-1006000))[0]
    assert delivered["text"] == "周一例会提醒"
    assert [b.chat_id for b in await bot.repos.groups.for_branch("jj1")] == ["-1006000"]


async def test_a_chart_goes_out_as_a_photo_with_its_text(
    bot: App, tg: FakeTelegram, tmp_path: Path
) -> None:
    image = tmp_path / "chart.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    long_text = "本月排名\n" + "\n".join(f"第{i}名 某某党支部 90 分" for i in range(80))
    async with bot.repos.db.transaction():
        await bot.repos.outbox.enqueue(
            channel="telegram",
            chat_id=str(ZHANG),
            payload={"text": long_text, "image_path": str(image)},
            dedupe_key="chart-1",
            now=bot.services.now(),
        )
    bot.services.outbox_signal.set()
    sent = await tg.wait_sent(2, chat_id=ZHANG)
    assert sent[0]["method"] == "sendPhoto" and sent[0]["photo"] == "<file>"
    assert long_text.startswith(sent[0]["caption"]) and len(sent[0]["caption"]) <= 1024
    assert sent[0]["caption"] + sent[1]["text"] == long_text  # the rest follows as text


async def test_a_scheduled_notice_with_buttons_arrives_with_its_keyboard(
    bot: App, tg: FakeTelegram
) -> None:
    async def rsvp(services: Services, at: datetime) -> list[Notice]:
        buttons = ((Button("参加", "rsvp:yes"), Button("请假", "rsvp:no")),)
        return [Notice((("telegram", str(LI)),), "周一下午政工例会,请确认", buttons=buttons)]

    jobs = {"rsvp": Job("rsvp", "例会确认", "week", rsvp)}
    result = await run_job(bot.services, "rsvp", bot.services.now(), jobs=jobs)
    assert result.queued == 1
    notice = (await tg.wait_sent(1, chat_id=LI))[0]
    assert notice["method"] == "sendMessage" and notice["text"] == "周一下午政工例会,请确认"
    assert notice["reply_markup"]["inline_keyboard"] == [
        [
            {"text": "参加", "callback_data": "rsvp:yes"},
            {"text": "请假", "callback_data": "rsvp:no"},
        ]
    ]


# -- robustness: locks held by others, poison updates ------------------------------------------


async def wait_logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if any(text in r.getMessage() for r in caplog.records):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing logged with {text!r}")


async def test_polling_survives_a_write_lock_held_by_another_process(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier, caplog: pytest.LogCaptureFixture
) -> None:
    config = telegram_config(tmp_path, tg, JINDIANZI_STORAGE_BUSY_TIMEOUT_S="0.2")
    async with serving(config, classifier) as _:
        await tg.wait_for(lambda method, _: method == "getUpdates")
        other = sqlite3.connect(config.storage.path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # held past the busy timeout: the store fails
            tg.push_text(ZHANG, "/help")
            await wait_logged(caplog, "Telegram polling failed")
        finally:
            other.execute("COMMIT")
            other.close()
        reply = (await tg.wait_sent(1, chat_id=ZHANG, timeout=30))[0]
    assert "/start" in reply["text"]  # polling went on once the lock was gone
    tracebacks = [r for r in caplog.records if r.exc_info and "polling" in r.getMessage()]
    assert len(tracebacks) == 1  # logged once, not per retry


POISON = [
    {  # a button press without `from`
        "update_id": 901,
        "callback_query": {
            "id": "cq1",
            "chat_instance": "ci",
            "data": "x",
            "message": {"message_id": 1, "date": 0, "chat": {"id": ZHANG, "type": "private"}},
        },
    },
    {  # a message without `chat`
        "update_id": 902,
        "message": {
            "message_id": 2,
            "date": 0,
            "from": {"id": LI, "is_bot": False, "first_name": "李"},
            "text": "hi",
        },
    },
    {"update_id": True, "message": {"message_id": 3}},  # no integer id at all
]


async def test_poison_updates_are_set_aside_after_three_tries_and_the_rest_flows(
    tmp_path: Path,
    tg: FakeTelegram,
    classifier: ModelClassifier,
    unused_tcp_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = webhook_config(tmp_path, tg, unused_tcp_port)
    good = help_update(903)
    async with serving(config, classifier) as (app, _):
        await tg.wait_for(lambda method, _: method == "setWebhook")
        url = f"http://127.0.0.1:{unused_tcp_port}{WEBHOOK_PATH}"
        async with httpx.AsyncClient() as client:
            for body in [*POISON, good, [1, 2]]:
                answer = await client.post(url, json=body, headers={SECRET_HEADER: "s3cret-Token"})
                assert answer.status_code == 200  # kept: Telegram must not send it again
        reply = (await tg.wait_sent(1, chat_id=ZHANG))[0]
        assert "/start" in reply["text"]
        apology = (await tg.wait_sent(1, chat_id=LI))[0]  # 902 names its sender
        for _ in range(200):
            counts = await app.repos.inbox.counts()
            if counts.get(("telegram", "pending"), 0) == 0:
                break
            await asyncio.sleep(0.05)
        failed = await app.repos.inbox.failures(10)
        assert await app.repos.inbox.status("telegram", "903") == "done"
        await asyncio.sleep(0.3)  # nothing is retried any more
        records = len(caplog.records)
        await asyncio.sleep(0.3)
        assert len(caplog.records) == records
    assert "出了点问题" in apology["text"]
    assert len(tg.sent(chat_id=LI)) == 1  # the apology once
    assert {f.update_id for f in failed} >= {"901", "902"}
    assert len(failed) == 4 and all(f.attempts == 3 and f.error for f in failed)
    assert sum(1 for r in caplog.records if r.exc_info) <= len(failed)  # one traceback each


async def test_poison_updates_by_polling_are_set_aside_and_polling_goes_on(
    tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier
) -> None:
    config = telegram_config(tmp_path, tg)
    for body in POISON:
        tg.push_raw(body)
    tg.push_raw(help_update(903))
    async with serving(config, classifier) as (app, _):
        reply = (await tg.wait_sent(1, chat_id=ZHANG))[0]
        assert "/start" in reply["text"]
        for _ in range(200):
            counts = await app.repos.inbox.counts()
            if counts.get(("telegram", "pending"), 0) == 0:
                break
            await asyncio.sleep(0.05)
        failed = await app.repos.inbox.failures(10)
        tg.push_text(ZHANG, "/help")  # polling goes on after them
        assert len(await tg.wait_sent(2, chat_id=ZHANG)) == 2
    assert {f.update_id for f in failed} >= {"901", "902"}
    assert all(f.attempts == 3 for f in failed)


# -- one instance, and what a kill may repeat ---------------------------------------------------


def bot_env(tmp_path: Path, tg: FakeTelegram, **extra: str) -> dict[str, str]:
    return {
        "JINDIANZI_STORAGE_PATH": str(tmp_path / "data" / "j.db"),
        "JINDIANZI_TELEGRAM_TOKEN": TOKEN,
        "JINDIANZI_TELEGRAM_BASE_URL": f"{tg.url}/bot",
        "JINDIANZI_TELEGRAM_BASE_FILE_URL": f"{tg.url}/file/bot",
        **extra,
    }


async def jindianzi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """One CLI command in its own process, while this event loop serves the fake API."""
    db = Path(env["JINDIANZI_STORAGE_PATH"])
    return await asyncio.to_thread(cli, *args, db=db, extra_env=env)


async def stop_bot(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(process.wait, 30)


async def test_a_second_run_refuses_and_jobs_run_leaves_delivery_to_the_running_bot(
    tmp_path: Path, tg: FakeTelegram
) -> None:
    env = bot_env(tmp_path, tg)
    async with open_storage(telegram_config(tmp_path, tg)) as repos, repos.db.transaction():
        # the Monday notice goes to those who attend the meeting: a leader on Telegram (900)
        await repos.db.execute(
            "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
            " VALUES ('L900', '孙矿长', 'jj1', 'x', 'x')"
        )
        await repos.db.execute(
            "INSERT INTO roles (person_id, role) SELECT id, 'leader' FROM people"
            " WHERE employee_no = 'L900'"
        )
        await repos.db.execute(
            "INSERT INTO identities (channel, external_id, person_id, bound_at)"
            " SELECT 'telegram', '900', id, 'x' FROM people WHERE employee_no = 'L900'"
        )
    errors = tmp_path / "stderr.txt"
    running = start_bot(env, errors)
    try:
        await tg.wait_for(lambda method, _: method == "getUpdates", timeout=60)
        second = await jindianzi(env, "run")
        assert second.returncode == 1
        assert f"进程 {running.pid}" in second.stderr and "只能运行一个" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        job = await jindianzi(env, "jobs", "run", "weekly_meeting", "--now", "2026-11-23T08:30")
        assert job.returncode == 0, job.stderr
        assert "由正在运行的 jindianzi run" in job.stdout and "已送达" not in job.stdout
        await tg.wait_sent(1, chat_id=900, timeout=30)
        again = await jindianzi(env, "jobs", "run", "weekly_meeting", "--now", "2026-11-23T09:00")
        assert "已经运行过" in again.stdout
    finally:
        await stop_bot(running)
    assert running.returncode == 0, errors.read_text()
    assert len(tg.sent(chat_id=900)) == 1


async def test_killed_while_sending_repeats_at_most_the_messages_in_flight(
    tmp_path: Path, tg: FakeTelegram
) -> None:
    env = bot_env(tmp_path, tg, JINDIANZI_TELEGRAM_MAX_MESSAGES_PER_SECOND="1000")
    count, chats = 300, 30
    async with open_storage(telegram_config(tmp_path, tg)) as repos, repos.db.transaction():
        for n in range(count):
            await repos.outbox.enqueue(
                channel="telegram",
                chat_id=str(6000 + n % chats),
                payload={"text": f"通知 {n}"},
                dedupe_key=f"n{n}",
                now=utc_now(),
            )
    errors = tmp_path / "stderr.txt"
    first = start_bot(env, errors)
    try:
        await tg.wait_sent(60, timeout=60)
        first.send_signal(signal.SIGKILL)  # in the middle of a batch
        await asyncio.to_thread(first.wait, 10)
    finally:
        if first.poll() is None:
            first.kill()
    with sqlite3.connect(tmp_path / "data" / "j.db") as conn:
        left = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    assert left > 0, "the kill came too late to test recovery"
    second = start_bot(env, errors)
    try:
        for _ in range(600):
            if len({m["text"] for m in tg.sent()}) >= count:
                break
            await asyncio.sleep(0.1)
    finally:
        await stop_bot(second)
    texts = [m["text"] for m in tg.sent()]
    assert set(texts) == {f"通知 {n}" for n in range(count)}
    assert len(texts) - count <= CONCURRENT_CHATS  # only what was in flight at the kill
