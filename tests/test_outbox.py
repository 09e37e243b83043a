"""Outbound delivery: retried with back-off, failures told to the admins, never sent twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.app import App
from bot.outbox import MAX_ATTEMPTS, OutboxSender
from tests.support import Chat, Clock, RecordingTransport, RetryLater, Undeliverable


async def queue(
    app: App, key: str, chat_id: str = "c1", payload: dict[str, Any] | None = None
) -> None:
    async with app.repos.db.transaction():
        await app.repos.outbox.enqueue(
            channel="test",
            chat_id=chat_id,
            payload=payload or {"text": key},
            dedupe_key=key,
            now=app.services.now(),
        )


async def test_same_key_is_queued_once(
    app: App, sender: OutboxSender, transport: RecordingTransport
) -> None:
    await queue(app, "notice-1")
    await queue(app, "notice-1")
    assert await sender.run_once() == 1
    assert await sender.run_once() == 0
    assert transport.sent == [("c1", {"text": "notice-1"})]


async def test_retry_after_is_waited_out(
    app: App, sender: OutboxSender, transport: RecordingTransport, clock: Clock
) -> None:
    transport.failures = [RetryLater("429", retry_after=30)]
    await queue(app, "n")
    assert await sender.run_once() == 0
    clock.advance(29)
    assert await sender.run_once() == 0
    clock.advance(2)
    assert await sender.run_once() == 1
    assert transport.sent == [("c1", {"text": "n"})]


async def test_network_errors_back_off_then_give_up_and_tell_admins(
    app: App,
    sender: OutboxSender,
    transport: RecordingTransport,
    clock: Clock,
    chat: Callable[..., Chat],
) -> None:
    await chat("admin-1").register("A001", "管理员")
    transport.sent.clear()
    transport.failures = [RetryLater("timeout")] * MAX_ATTEMPTS
    await queue(app, "doomed", chat_id="c9")
    for _ in range(MAX_ATTEMPTS):
        await sender.run_once()
        clock.advance(600)
    counts = await app.repos.outbox.counts()
    assert counts.get("failed") == 1
    await sender.run_once()
    assert [chat_id for chat_id, _ in transport.sent] == ["admin-1"]
    assert "没能送达" in transport.sent[0][1]["text"]


async def test_undeliverable_fails_at_once(
    app: App, sender: OutboxSender, transport: RecordingTransport
) -> None:
    transport.failures = [Undeliverable("blocked by user")]
    await queue(app, "x")
    await sender.run_once()
    assert (await app.repos.outbox.counts()).get("failed") == 1
    assert transport.sent == []  # no admin has an identity yet: nobody to tell


async def test_unreachable_group_is_unbound_and_admins_told(
    app: App, sender: OutboxSender, transport: RecordingTransport, chat: Callable[..., Chat]
) -> None:
    await chat("admin-1").register("A001", "管理员")
    group = chat("admin-1", chat_type="group", chat_id="-42")
    await group.say("/bind jj1")
    transport.sent.clear()
    transport.failures = [Undeliverable("bot was kicked")]
    await queue(app, "weekly reminder", chat_id="-42")
    await sender.run_once()
    binding = await app.repos.groups.get("test", "-42")
    assert binding is not None and not binding.active
    assert [chat_id for chat_id, _ in transport.sent] == ["admin-1"]
    assert "bot was kicked" in transport.sent[0][1]["text"]


async def test_a_chat_keeps_its_order_while_others_go_ahead(
    app: App, sender: OutboxSender, transport: RecordingTransport, clock: Clock
) -> None:
    transport.failures = [RetryLater("timeout", retry_after=10)]
    await queue(app, "first", chat_id="c1")
    await queue(app, "second", chat_id="c1")
    await queue(app, "other chat", chat_id="c2")
    await sender.run_once()
    assert transport.sent == [("c2", {"text": "other chat"})]  # c1 waits behind "first"
    clock.advance(11)
    await sender.run_once()
    assert [p["text"] for c, p in transport.sent if c == "c1"] == ["first", "second"]


async def test_a_row_stored_before_typed_messages_arrives_whole(
    app: App, sender: OutboxSender, transport: RecordingTransport, tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"  # there: a file gone from disk is left out (test_documents)
    chart.write_bytes(b"\x89PNG\r\n\x1a\n")
    stored = {
        "text": "选择类别",
        "buttons": [[{"label": "确认", "data": "idea:1:ok"}], [{"label": "撤回", "data": "x:1"}]],
        "image_path": str(chart),
        "edit_ref": "42",
    }
    await queue(app, "old", payload=stored)
    assert await sender.run_once() == 1
    assert transport.sent == [("c1", stored)]


async def test_a_failure_report_that_fails_is_not_reported(
    app: App, sender: OutboxSender, transport: RecordingTransport, chat: Callable[..., Chat]
) -> None:
    await chat("admin-1").register("A001", "管理员")
    transport.sent.clear()
    transport.failures = [Undeliverable("blocked by user")]
    await queue(app, "r", chat_id="c9", payload={"text": "⚠️ 没能送达", "kind": "delivery_failure"})
    await sender.run_once()
    assert (await app.repos.outbox.counts()).get("failed") == 1
    assert transport.sent == []  # a report of this report could loop
