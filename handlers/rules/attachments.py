"""Photos, voice notes and files that come with an idea or a finding."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.messages import IncomingAttachment
from handlers.services import Services


async def keep(
    services: Services,
    person_id: int,
    channel: str,
    attachments: Iterable[IncomingAttachment],
    *,
    idea_id: int | None = None,
    finding_id: int | None = None,
) -> list[int]:
    """Store each attachment (on an idea, a finding, or waiting for its text); their ids."""
    kept = []
    for attachment in attachments:
        attachment_id = await services.repos.attachments.add(
            idea_id=idea_id,
            person_id=person_id,
            channel=channel,
            kind=attachment.kind,
            file_ref=attachment.file_ref,
            now=services.now(),
        )
        if finding_id is not None:
            await services.repos.attachments.link_finding(attachment_id, finding_id)
        kept.append(attachment_id)
    return kept
