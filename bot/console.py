"""The console channel: a terminal chat through the same router.

Buttons are shown as numbered choices; typing the number presses the button.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from pathlib import Path
from typing import TextIO

from bot.outbox import OutboxSender
from bot.text import stable_numbers
from handlers.messages import Incoming, Outgoing
from handlers.parsing import clean, number
from handlers.router import Router
from handlers.services import Services

CHANNEL = "console"
QUIT = {"/quit", "/exit", "退出"}


class ConsoleChannel:
    """Both the adapter (stdin → router) and the transport (outbox → stdout)."""

    channel = CHANNEL

    def __init__(
        self, sender_id: str, stdin: TextIO | None = None, stdout: TextIO | None = None
    ) -> None:
        self.sender_id = sender_id
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._session = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._buttons: dict[int, str] = {}
        """The last menu's callback data by number."""
        self._numbers: dict[str, int] = {}
        """The number each button label has had: the same in every menu (stable_numbers)."""
        self._button_ref: str | None = None
        self._printed = itertools.count(1)

    async def send(self, chat_id: str, message: Outgoing) -> None:
        ref = f"c{next(self._printed)}"
        lines = [f"🤖 {clean(message.text)}"]  # no escape sequence reaches the terminal
        if message.image_path:
            lines.append(f"   (图片: {message.image_path})")
        if message.document_path:
            lines.append(f"   [附件] {clean(Path(message.document_path).name)}")
        buttons = [(clean(b.label), b.data) for row in message.buttons for b in row]
        if buttons:
            numbers, self._numbers = stable_numbers([label for label, _ in buttons], self._numbers)
            self._buttons = {n: data for n, (_, data) in zip(numbers, buttons, strict=True)}
            self._button_ref = ref
            shown = zip(numbers, buttons, strict=True)
            lines.append("   " + "  ".join(f"[{n}] {label}" for n, (label, _) in shown))
        self._stdout.write("\n".join(lines) + "\n")
        self._stdout.flush()

    def _incoming(self, line: str) -> Incoming:
        update_id = f"{self._session}-{next(self._counter)}"
        choice = number(line, prefixes="")
        if choice is not None and choice in self._buttons:
            data = self._buttons[choice]
            self._buttons = {}
            return Incoming(
                CHANNEL,
                update_id,
                self.sender_id,
                self.sender_id,
                callback=data,
                message_ref=self._button_ref,
            )
        return Incoming(CHANNEL, update_id, self.sender_id, self.sender_id, text=line)

    async def run(
        self, router: Router, services: Services, outbox: OutboxSender, banner: str
    ) -> None:
        self._stdout.write(banner + "\n")
        self._stdout.flush()
        await outbox.run_once()
        interactive = self._stdin.isatty()
        while True:
            if interactive:
                self._stdout.write("> ")
                self._stdout.flush()
            line = await asyncio.to_thread(self._stdin.readline)
            if not line:
                break
            line = line.rstrip("\r\n")
            if line.strip() in QUIT:
                break
            if not line.strip():
                continue
            await router.dispatch(self._incoming(line), services)
            await outbox.run_once()
        self._stdout.write("再见!\n")
        self._stdout.flush()
