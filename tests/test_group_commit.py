"""Stored updates processed in groups: one transaction, a savepoint per update."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.app import App
from bot.intake import MAX_UPDATE_ATTEMPTS, process_stored
from handlers.router import APOLOGY
from tests.support import CHANNEL, Chat, RecordingTransport, idea_rows


async def test_a_poison_update_rolls_back_alone_and_is_set_aside(
    app: App, chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    texts = [f"井下第{n}号皮带机的托辊坏了别扔,拆下来修好再用" for n in range(6)]
    async with app.repos.db.transaction():
        for n, text in enumerate(texts):
            raw = json.dumps({"text": text, "poison": n == 2}, ensure_ascii=False)
            await app.repos.inbox.store(CHANNEL, f"g{n}", raw, app.services.now())
    tries: dict[str, int] = {}

    async def handle(update_id: str, raw: str) -> None:
        data = json.loads(raw)
        await app.router.dispatch(zhang.incoming(data["text"], update_id=update_id), app.services)
        tries[update_id] = tries.get(update_id, 0) + 1
        if data["poison"]:  # its idea and its done mark are written, then it fails
            raise RuntimeError("poison")

    before = len(await idea_rows(app.repos))
    assert await process_stored(app.services, CHANNEL, handle, lambda raw: "u1") == 5
    stored = [r["text"] for r in await idea_rows(app.repos)][before:]
    assert stored == [t for n, t in enumerate(texts) if n != 2]  # the others committed
    # rolled back each time, so retried until set aside; the others were handled once
    assert tries["g2"] == MAX_UPDATE_ATTEMPTS and all(tries[f"g{n}"] == 1 for n in (0, 1, 3, 4, 5))
    assert await app.repos.inbox.pending(CHANNEL) == []
    assert await process_stored(app.services, CHANNEL, handle, lambda raw: "u1") == 0
    failed = await app.repos.inbox.failures()
    assert [(f.update_id, f.attempts) for f in failed] == [("g2", MAX_UPDATE_ATTEMPTS)]
    assert [r["text"] for r in await idea_rows(app.repos)][before:] == stored
    await zhang.say("/my")  # delivers what is queued
    to_zhang = [str(payload["text"]) for chat_id, payload in transport.sent if chat_id == "u1"]
    assert sum(APOLOGY in text for text in to_zhang) == 1  # the apology, once
