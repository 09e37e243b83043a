"""Neutral message types shared by every channel adapter and every handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from storage import Person

ChatType = Literal["private", "group"]
Kind = Literal["message", "edited", "unsupported", "bot_added", "bot_removed", "migrated"]
"""What an update is: a message (text, button press, media), or something about the chat."""


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button; `data` comes back as the callback (keep it under 64 bytes)."""

    label: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > 64:
            raise ValueError(f"callback data over 64 bytes: {self.data!r}")


@dataclass(frozen=True, slots=True)
class IncomingAttachment:
    kind: Literal["photo", "voice", "file"]
    file_ref: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from a person, whatever the channel."""

    channel: str
    update_id: str
    chat_id: str
    sender_id: str
    chat_type: ChatType = "private"
    kind: Kind = "message"
    text: str = ""
    callback: str | None = None
    message_ref: str | None = None
    """The platform id of the message whose button was pressed."""
    attachments: tuple[IncomingAttachment, ...] = ()
    migrate_to: str | None = None
    """For kind 'migrated': the chat's new id."""
    person: Person | None = None
    """Filled in by the router from the sender's bound identity."""
    args: str = ""
    """For a command: the text after the command word."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Member(Incoming):
    """An update from a registered person: what every handler past registration receives."""

    person: Person


@dataclass(frozen=True, slots=True)
class Reply:
    """One outgoing message; by default it goes back to the chat the update came from."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    image_path: str | None = None
    edit: bool = False
    """Replace the message whose button was pressed instead of sending a new one."""
    chat_id: str | None = None
    channel: str | None = None

    def payload(self, message_ref: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text}
        if self.buttons:
            body["buttons"] = [
                [{"label": b.label, "data": b.data} for b in row] for row in self.buttons
            ]
        if self.image_path:
            body["image_path"] = self.image_path
        if self.edit and message_ref:
            body["edit_ref"] = message_ref
        return body


@dataclass(frozen=True, slots=True)
class Outcome:
    """What dispatching one update produced (the replies are already in the outbox)."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
