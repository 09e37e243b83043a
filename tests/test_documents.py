"""Outgoing documents (the quarterly meeting pack as an .xlsx) on every channel: queued by a
job's notice, delivered by the real Telegram and WeCom channels over their fake APIs."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from bot.app import App, load_sample_roster, open_app
from bot.console import ConsoleChannel
from bot.outbox import MISSING_FILE_NOTE, OutboxSender
from bot.wecom import ROBOT_CHANNEL, ROBOT_PER_MINUTE, MineOrg, open_wecom
from handlers.messages import Button, Outgoing, Reply
from handlers.notify import Chat, Notice
from handlers.services import Services
from nlp import ModelClassifier
from scheduler.jobs import Job
from scheduler.runner import run_job
from tests.botapi_fake import FakeTelegram
from tests.test_telegram import TOKEN, serving, telegram_config
from tests.test_wecom import ZHANG as WECOM_ZHANG
from tests.test_wecom import wait_texts, wecom_config
from tests.wecom_fake import FakeWecomApi

LEADER = 1002  # a Telegram user id
PACK = b"PK\x03\x04" + bytes(range(256)) * 8  # an .xlsx is a zip: binary, not text
RSVP = ((Button("参加", "rsvp:yes"), Button("请假", "rsvp:no")),)


def pack(tmp_path: Path) -> Path:
    path = tmp_path / "charts" / "pack.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PACK)
    return path


async def queue_notice(services: Services, notice: Notice, name: str = "review_pack") -> int:
    """Run a one-notice job through the real runner, as the scheduler would."""

    async def collect(services: Services, at: datetime) -> list[Notice]:
        return [notice]

    jobs = {name: Job(name, "季度讲评材料", "quarter", collect)}
    result = await run_job(services, name, services.now(), jobs=jobs)
    return result.queued


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


# -- the payload ----------------------------------------------------------------------------


def test_a_document_survives_the_outbox_payload_and_old_rows_read_unchanged() -> None:
    sent = Outgoing("季度讲评材料", RSVP, "/c/a.png", "/c/pack.xlsx", "42", "notice")
    assert sent.to_payload()["document_path"] == "/c/pack.xlsx"
    assert Outgoing.from_payload(sent.to_payload()) == sent
    old = {"text": "旧通知", "image_path": "/c/a.png", "kind": "notice"}
    assert Outgoing.from_payload(old) == Outgoing("旧通知", image_path="/c/a.png", purpose="notice")
    assert Outgoing.from_payload(old).to_payload() == old  # no key where there is no document
    reply = Reply("材料在此", document_path="/c/pack.xlsx", edit=True)
    assert reply.outgoing("7") == Outgoing("材料在此", document_path="/c/pack.xlsx", edit_ref="7")


async def test_the_console_shows_the_document_by_name() -> None:
    out = io.StringIO()
    console = ConsoleChannel("E001", io.StringIO(), out)
    await console.send("E001", Outgoing("二季度讲评材料", document_path="/c/charts/pack.xlsx"))
    assert out.getvalue().splitlines() == ["🤖 二季度讲评材料", "   [附件] pack.xlsx"]


# -- Telegram -------------------------------------------------------------------------------


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(tmp_path: Path, tg: FakeTelegram, classifier: ModelClassifier) -> AsyncIterator[App]:
    async with serving(telegram_config(tmp_path, tg), classifier) as (app, _):
        yield app


async def test_telegram_sends_the_pack_as_a_document_with_the_text_as_caption(
    bot: App, tg: FakeTelegram, tmp_path: Path
) -> None:
    path = pack(tmp_path)
    text = "二季度重点项目讲评材料,请会前阅读"
    notice = Notice((("telegram", str(LEADER)),), text, buttons=RSVP, document_path=str(path))
    assert await queue_notice(bot.services, notice) == 1
    sent = await tg.wait_sent(1, chat_id=LEADER)
    await asyncio.sleep(0.2)  # nothing else follows
    assert len(tg.sent(chat_id=LEADER)) == 1
    document = sent[0]
    assert document["method"] == "sendDocument" and document["document"] == "<file>"
    assert document["files"]["document"] == ("pack.xlsx", PACK)
    assert document["caption"] == text
    assert [b["callback_data"] for b in document["reply_markup"]["inline_keyboard"][0]] == [
        "rsvp:yes",
        "rsvp:no",
    ]


async def test_telegram_sends_a_long_text_after_the_document_with_the_buttons_last(
    bot: App, tg: FakeTelegram, tmp_path: Path
) -> None:
    path = pack(tmp_path)
    text = "二季度讲评\n" + "\n".join(f"第{i}项 某某党支部 进度正常" for i in range(100))
    assert 1024 < len(text) < 4096
    notice = Notice((("telegram", str(LEADER)),), text, buttons=RSVP, document_path=str(path))
    await queue_notice(bot.services, notice)
    sent = await tg.wait_sent(2, chat_id=LEADER)
    assert [s["method"] for s in sent] == ["sendDocument", "sendMessage"]
    assert sent[0]["files"]["document"] == ("pack.xlsx", PACK)
    assert "caption" not in sent[0] and "reply_markup" not in sent[0]
    assert sent[1]["text"] == text  # whole, never cut into a caption
    assert sent[1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "参加"


async def test_telegram_sends_chart_then_document_with_the_buttons_on_the_last(
    bot: App, tg: FakeTelegram, tmp_path: Path
) -> None:
    path = pack(tmp_path)
    chart = tmp_path / "charts" / "kpi.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    notice = Notice(
        (("telegram", str(LEADER)),), "讲评图表", str(chart), RSVP, document_path=str(path)
    )
    await queue_notice(bot.services, notice)
    sent = await tg.wait_sent(2, chat_id=LEADER)
    assert [s["method"] for s in sent] == ["sendPhoto", "sendDocument"]
    assert sent[0]["caption"] == "讲评图表" and "reply_markup" not in sent[0]
    assert sent[1]["files"]["document"] == ("pack.xlsx", PACK) and "caption" not in sent[1]
    assert sent[1]["reply_markup"]["inline_keyboard"][0][1]["text"] == "请假"


async def test_a_missing_document_sends_the_text_with_a_note_once(
    bot: App, tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "deleted" / "pack.xlsx"
    chart = tmp_path / "deleted" / "kpi.png"
    notice = Notice(
        (("telegram", str(LEADER)),), "季度讲评材料", str(chart), RSVP, document_path=str(gone)
    )
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        await queue_notice(bot.services, notice)
        sent = await tg.wait_sent(1, chat_id=LEADER)
        await wait_until(lambda: _counts_are(bot, {"sent": 1}))
        await asyncio.sleep(0.3)
    assert [s["method"] for s in sent] == ["sendMessage"]
    assert len(tg.sent(chat_id=LEADER)) == 1  # not retried
    assert sent[0]["text"] == f"季度讲评材料\n{MISSING_FILE_NOTE}"
    assert sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "rsvp:yes"
    warnings = [r for r in caplog.records if "gone from disk" in r.getMessage()]
    assert len(warnings) == 1 and str(gone) in warnings[0].getMessage()
    assert await bot.repos.outbox.counts() == {"sent": 1}


async def _counts_are(app: App, expected: dict[str, int]) -> bool:
    return await app.repos.outbox.counts() == expected


# -- WeCom ----------------------------------------------------------------------------------


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    async with FakeWecomApi() as api:
        yield api


@pytest.fixture
async def wecom(
    tmp_path: Path, wecom_api: FakeWecomApi, classifier: ModelClassifier, unused_tcp_port: int
) -> AsyncIterator[tuple[App, OutboxSender]]:
    """The app with the WeCom app channel and the group robots as transports; the test
    drives the sender (`run_once`), so what a round delivers is known."""
    config = wecom_config(tmp_path, wecom_api.url, unused_tcp_port)
    async with open_app(config, classifier=classifier) as app:
        await load_sample_roster(app)
        async with open_wecom(
            config.wecom, [MineOrg("", config.org, app.services)], app.router
        ) as (
            channel,
            robots,
        ):
            yield app, app.sender([channel, robots])


async def test_wecom_app_uploads_the_file_then_sends_it_then_the_text(
    wecom: tuple[App, OutboxSender], wecom_api: FakeWecomApi, tmp_path: Path
) -> None:
    app, sender = wecom
    path = pack(tmp_path)
    to: tuple[Chat, ...] = (("wecom", WECOM_ZHANG),)
    await queue_notice(app.services, Notice(to, "二季度讲评材料", document_path=str(path)))
    assert await sender.run_once() == 1
    assert wecom_api.files == [("pack.xlsx", PACK)]
    assert wecom_api.uploads == []  # not uploaded as an image
    assert await wait_texts(wecom_api, WECOM_ZHANG, 2) == ["<file file-1>", "二季度讲评材料"]
    assert wecom_api.sent[0]["msgtype"] == "file" and wecom_api.sent[0]["agentid"] == 1000002


async def test_wecom_app_refreshes_an_expired_token_for_the_file_upload(
    wecom: tuple[App, OutboxSender], wecom_api: FakeWecomApi, tmp_path: Path
) -> None:
    app, sender = wecom
    path = pack(tmp_path)
    await queue_notice(
        app.services, Notice((("wecom", WECOM_ZHANG),), "第一份", document_path=str(path)), "a"
    )
    assert await sender.run_once() == 1
    wecom_api.expire_tokens()
    await queue_notice(
        app.services, Notice((("wecom", WECOM_ZHANG),), "第二份", document_path=str(path)), "b"
    )
    assert await sender.run_once() == 1
    assert wecom_api.token_requests == 2
    assert [name for name, _ in wecom_api.files] == ["pack.xlsx", "pack.xlsx"]
    assert wecom_api.texts(WECOM_ZHANG)[2:] == ["<file file-2>", "第二份"]


async def test_group_robot_uploads_the_file_and_sends_it_before_the_text(
    wecom: tuple[App, OutboxSender], wecom_api: FakeWecomApi, tmp_path: Path
) -> None:
    app, sender = wecom
    path = pack(tmp_path)
    notice = Notice(((ROBOT_CHANNEL, "jj1"),), "**二季度**讲评材料", document_path=str(path))
    await queue_notice(app.services, notice)
    assert await sender.run_once() == 1
    assert wecom_api.robot_files == [("robot-jj1", "pack.xlsx", PACK)]
    assert wecom_api.robot == [
        ("robot-jj1", {"msgtype": "file", "file": {"media_id": "robot-file-1"}}),
        ("robot-jj1", {"msgtype": "markdown", "markdown": {"content": "＊＊二季度＊＊讲评材料"}}),
    ]


async def test_a_group_robot_file_counts_against_its_20_a_minute(
    wecom: tuple[App, OutboxSender], wecom_api: FakeWecomApi, tmp_path: Path
) -> None:
    app, sender = wecom
    path = pack(tmp_path)
    notices = ROBOT_PER_MINUTE // 2 + 1  # a file and a text each: one too many for a minute
    for n in range(notices):
        notice = Notice(((ROBOT_CHANNEL, "jj1"),), f"材料 {n}", document_path=str(path))
        await queue_notice(app.services, notice, f"pack_{n}")
    assert await sender.run_once() == notices - 1
    assert len(wecom_api.robot) == ROBOT_PER_MINUTE
    assert len(wecom_api.robot_files) == notices - 1
    assert (await app.repos.outbox.counts()).get("pending") == 1


async def test_a_missing_file_reaches_wecom_and_the_robot_as_text_with_a_note(
    wecom: tuple[App, OutboxSender], wecom_api: FakeWecomApi, tmp_path: Path
) -> None:
    app, sender = wecom
    gone = str(tmp_path / "deleted" / "pack.xlsx")
    to: tuple[Chat, ...] = (("wecom", WECOM_ZHANG), (ROBOT_CHANNEL, "jj1"))
    await queue_notice(app.services, Notice(to, "季度讲评材料", document_path=gone))
    assert await sender.run_once() == 2
    assert await sender.run_once() == 0  # nothing left to retry
    assert wecom_api.files == [] and wecom_api.robot_files == []
    assert wecom_api.texts(WECOM_ZHANG) == [f"季度讲评材料\n{MISSING_FILE_NOTE}"]
    assert [body["markdown"]["content"] for _, body in wecom_api.robot] == [
        f"季度讲评材料\n{MISSING_FILE_NOTE}"
    ]
    assert await app.repos.outbox.counts() == {"sent": 2}
