"""Random text and argument lists for every command and second word, as every role.

Invariants: nobody ever gets the generic apology (which means a handler raised), every
command in a private chat gets a reply, and a command that only shows something stores
nothing.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App, load_sample_roster, open_app
from handlers.router import APOLOGY, Command
from nlp import ModelClassifier
from tests.support import SAMPLE_PEOPLE, Chat, Clock, RecordingTransport, project_config

TOKENS = [
    "1", "2", "#1", "P01", "p1", "P9", "B1", "b2", "jj1", "zc1", "xmc", "E001", "L001", "S001",
    "①", "²", "１２", "-5", "150", "60%", "0", "99999999999999999999", "5 万", "4万", "3.5",
    "E001:5000", "E001：5000，jj1：2200", "jj1:100,jj1:100", "｜", "|", "，", "、", "\x00",
    "\x1b[31m", "2026-11", "2026-13", "2026-Q4", "0000-Q1", "adopt", "merge", "reject",
    "confirm", "under_review", "implemented", "all", "escalated", "help", "?", "回收锚杆",
    "repair_reuse", "节能环保", "publicity", "supervisor:publicity", "leader", "书记",
]  # fmt: skip
SKIPPED = {"stats"}
"""/stats renders a PNG chart: correct but slow, and covered by its own tests."""
VIEWERS = {"help", "my", "projects", "agenda", "visits", "review_quarter"}
"""Commands that only show something, whatever their arguments."""
MOVING = {"inbox", "outbox", "conversations", "button_menus"}
"""Tables every message touches: the update, its replies, the dialogue state."""


def command_words(app: App) -> list[str]:
    words = []
    for name, command in app.router.commands.items():
        if name in SKIPPED:
            continue
        words.append(f"/{name}")
        if isinstance(command, Command):
            words += [f"/{name} {sub.name}" for sub in command.subcommands]
    return sorted(words)


async def table_counts(app: App) -> dict[str, int]:
    rows = await app.repos.db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    counts = {}
    for (name,) in rows:
        if name not in MOVING and not name.startswith("idea_search"):
            row = await app.repos.db.fetchone(f"SELECT count(*) FROM {name}")
            assert row is not None
            counts[name] = int(row[0])
    return counts


def test_no_input_makes_a_handler_raise(tmp_path: Path, classifier: ModelClassifier) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    config = project_config(tmp_path / "data" / "fuzz.db")
    app = loop.run_until_complete(
        stack.enter_async_context(open_app(config, clock=Clock(), classifier=classifier))
    )
    loop.run_until_complete(load_sample_roster(app))
    transport = RecordingTransport()
    sender = app.sender([transport])
    people = {}
    for role, (number, name) in SAMPLE_PEOPLE.items():
        people[role] = Chat(app, transport, sender, f"u-{number}")
        loop.run_until_complete(people[role].register(number, name))
    setup = [
        ("leader", "/project new 锚杆回收 | repair_reuse | L001 | jj1,xmc | 10万"),
        ("worker", "井下回收复用锚杆,每月能省好几万"),
        ("supervisor", "/findings add jj1 班前会记录不全"),
        ("secretary", "/benefit P01 4万 11月回收锚杆1740根"),
    ]
    for role, text in setup:
        loop.run_until_complete(people[role].say(text))
    words = command_words(app)
    token = st.one_of(st.sampled_from(TOKENS), st.text(max_size=12))
    arguments = st.lists(token, max_size=5).map(" ".join)

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(st.sampled_from(sorted(people)), st.sampled_from(words), arguments)
    def check(role: str, command: str, args: str) -> None:
        message = f"{command} {args}".strip()
        before = loop.run_until_complete(table_counts(app))
        replies = loop.run_until_complete(people[role].say(message))
        after = loop.run_until_complete(table_counts(app))
        assert replies, message
        assert APOLOGY not in replies, message
        if command.removeprefix("/") in VIEWERS:
            assert after == before, message

    try:
        check()
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
