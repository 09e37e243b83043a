"""Neutral message types shared by every channel adapter and every handler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from storage import Idea, Person

ChatType = Literal["private", "group"]
Purpose = Literal["reply", "notice", "delivery_failure"]
"""Why a message goes out: an answer to an update, a notice, or the report of a failed one."""
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
Kind = Literal["message", "edited", "unsupported", "bot_added", "bot_removed", "migrated"]
"""What an update is: a message (text, button press, media), or something about the chat."""


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button; `data` comes back as the callback (keep it under 64 bytes).

    With `request_contact` it asks the messenger to share the person's own phone number
    instead (Telegram's contact button); channels that cannot do that leave it out.
    """

    label: str
    data: str = ""
    request_contact: bool = False

    def __post_init__(self) -> None:
        if len(self.data.encode()) > 64:
            raise ValueError(f"callback data over 64 bytes: {self.data!r}")


@dataclass(frozen=True, slots=True)
class IncomingAttachment:
    kind: Literal["photo", "voice", "file"]
    file_ref: str


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A phone number shared in chat; `user_id` is the messenger account it belongs to."""

    phone: str
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReadAhead:
    """What the router's prepare step read for an update before its write transaction."""

    idea_text: str
    """The text the update would submit as an idea."""
    similar: tuple[Idea, ...]
    """Up to three stored ideas like it."""


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
    contact: SharedContact | None = None
    """A shared phone number (Telegram's contact message)."""
    person: Person | None = None
    """Filled in by the router from the sender's bound identity."""
    args: str = ""
    """For a command: the text after the command word."""
    ahead: ReadAhead | None = None
    """Filled in by the router's prepare step (see `Router.prepare`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Member(Incoming):
    """An update from a registered person: what every handler past registration receives."""

    person: Person


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What one outbox row carries to a transport, whatever the channel.

    Stored as JSON with the keys `text`, `buttons` ([[{label, data[, request_contact]}]]),
    `image_path`, `document_path`, `edit_ref` and `kind` (the purpose; absent for a reply), each
    only when set, so rows queued before this type existed read back unchanged.
    """

    text: str
    buttons: Rows = ()
    image_path: str | None = None
    document_path: str | None = None
    """A file sent as a document (the quarterly meeting pack as an .xlsx)."""
    edit_ref: str | None = None
    """The platform id of a message to replace instead of sending a new one."""
    purpose: Purpose = "reply"

    def to_payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text}
        if self.buttons:
            body["buttons"] = [[_button_payload(b) for b in row] for row in self.buttons]
        if self.image_path:
            body["image_path"] = self.image_path
        if self.document_path:
            body["document_path"] = self.document_path
        if self.edit_ref:
            body["edit_ref"] = self.edit_ref
        if self.purpose != "reply":
            body["kind"] = self.purpose
        return body

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Outgoing:
        """The message of a stored row; raises ValueError for a row no transport could send."""
        try:
            buttons = tuple(
                tuple(
                    Button(str(b["label"]), str(b["data"]), bool(b.get("request_contact")))
                    for b in row
                )
                for row in payload.get("buttons") or ()
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed buttons: {payload.get('buttons')!r}") from exc
        kind = payload.get("kind") or "reply"
        purpose = next((p for p in PURPOSES if p == kind), None)
        if purpose is None:
            raise ValueError(f"unknown kind: {kind!r}")
        image_path, edit_ref = payload.get("image_path"), payload.get("edit_ref")
        document_path = payload.get("document_path")
        return cls(
            text=str(payload.get("text", "")),
            buttons=buttons,
            image_path=str(image_path) if image_path else None,
            document_path=str(document_path) if document_path else None,
            edit_ref=str(edit_ref) if edit_ref else None,
            purpose=purpose,
        )


def _button_payload(button: Button) -> dict[str, Any]:
    body: dict[str, Any] = {"label": button.label, "data": button.data}
    if button.request_contact:
        body["request_contact"] = True
    return body


@dataclass(frozen=True, slots=True)
class Reply:
    """One outgoing message; by default it goes back to the chat the update came from."""

    text: str
    buttons: Rows = ()
    image_path: str | None = None
    document_path: str | None = None
    edit: bool = False
    """Replace the message whose button was pressed instead of sending a new one."""
    chat_id: str | None = None
    channel: str | None = None

    def outgoing(self, message_ref: str | None) -> Outgoing:
        """The message to queue, answering an update whose pressed button was `message_ref`."""
        return Outgoing(
            self.text,
            self.buttons,
            self.image_path,
            self.document_path,
            edit_ref=message_ref if self.edit else None,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What dispatching one update produced (the replies are already in the outbox)."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
