"""Notices to people and groups, queued in the outbox once per key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from handlers.messages import Outgoing, Rows
from handlers.services import Services

Chat = tuple[str, str]
"""(channel, chat id): a storage.Recipient, or any chat a notice goes to."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What a scheduled job has to say, and to whom; the runner queues it with `notify`."""

    recipients: tuple[Chat, ...]
    text: str
    image_path: str | None = None
    buttons: Rows = ()
    document_path: str | None = None


async def notify(
    services: Services,
    recipients: Iterable[Chat],
    text: str,
    key: str,
    image_path: str | None = None,
    buttons: Rows = (),
    document_path: str | None = None,
) -> int:
    """Queue `text` (with an image, a document and buttons) for every (channel, chat id)
    once; `key` names the occasion."""
    queued = 0
    payload = Outgoing(text, buttons, image_path, document_path, purpose="notice").to_payload()
    for channel, chat_id in dict.fromkeys(recipients):
        queued += await services.repos.outbox.enqueue(
            channel=channel,
            chat_id=chat_id,
            payload=payload,
            dedupe_key=f"{key}:{channel}:{chat_id}",
            now=services.now(),
        )
    if queued:
        services.outbox_signal.set()
    return queued
