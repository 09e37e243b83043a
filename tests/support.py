"""Test doubles that fake only the outside world: a recording transport and a chat driver."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.config import Config, load_config
from bot.outbox import OutboxSender, RetryLater, Undeliverable
from handlers.messages import Incoming, Outgoing, SharedContact
from storage import Person, Repositories
from storage.port import SqlDatabase

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "test"


def project_config(db_path: Path, **environ: str) -> Config:
    """The shipped config.yaml with the database moved to `db_path`."""
    env = {"JINDIANZI_STORAGE_PATH": str(db_path), **environ}
    return load_config(ROOT / "config.yaml", env)


class Clock:
    """A settable clock, so retries and times are deterministic."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingTransport:
    """The far end of a channel: records what arrives; can be told to fail."""

    channel = CHANNEL

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[Exception] = []

    async def send(self, chat_id: str, message: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, message.to_payload()))  # what a wire would carry


_update_ids = itertools.count(1000)


class Chat:
    """One person talking to the bot through the router, as a channel adapter would."""

    def __init__(
        self,
        app: App,
        transport: RecordingTransport,
        sender: OutboxSender,
        user: str,
        chat_type: str = "private",
        chat_id: str | None = None,
    ) -> None:
        self.app = app
        self.transport = transport
        self.sender = sender
        self.user = user
        self.chat_type = chat_type
        self.chat_id = chat_id or user
        self.last_buttons: list[dict[str, str]] = []
        self.received: list[dict[str, Any]] = []
        """Every message this chat was sent (its text and buttons), oldest first."""

    def incoming(
        self,
        text: str = "",
        *,
        callback: str | None = None,
        update_id: str | None = None,
        **extra: Any,
    ) -> Incoming:
        return Incoming(
            channel=CHANNEL,
            update_id=update_id or str(next(_update_ids)),
            chat_id=self.chat_id,
            sender_id=self.user,
            chat_type=self.chat_type,  # type: ignore[arg-type]
            text=text,
            callback=callback,
            message_ref="m1" if callback else None,
            **extra,
        )

    async def deliver(self, msg: Incoming) -> list[str]:
        before = len(self.transport.sent)
        await self.app.router.dispatch(msg, self.app.services)
        await self.sender.run_once()
        new = self.transport.sent[before:]
        for chat, payload in new:
            if payload.get("buttons"):
                self.last_buttons = [b for row in payload["buttons"] for b in row]
            if chat == self.chat_id:
                self.received.append(payload)
        return [str(p["text"]) for chat, p in new if chat == self.chat_id]

    async def say(self, text: str, **extra: Any) -> list[str]:
        return await self.deliver(self.incoming(text, **extra))

    async def press(self, label: str) -> list[str]:
        data = next(b["data"] for b in self.last_buttons if b["label"] == label)
        return await self.deliver(self.incoming(callback=data))

    async def press_on(self, start: str, label: str) -> list[str]:
        """Press a button of the latest message to this chat whose text begins with `start`
        (when one reply is several messages, each with its own buttons)."""
        message = next(m for m in reversed(self.received) if str(m["text"]).startswith(start))
        buttons = [b for row in message.get("buttons", ()) for b in row]
        data = next(b["data"] for b in buttons if b["label"] == label)
        return await self.deliver(self.incoming(callback=data))

    async def share_contact(self, phone: str, user_id: str | None = None) -> list[str]:
        """Share a phone number, by default the sender's own (as Telegram's button does)."""
        contact = SharedContact(phone, self.user if user_id is None else user_id)
        return await self.deliver(self.incoming(contact=contact))

    async def register(self, employee_no: str, name: str) -> list[str]:
        """Register as a roster person, proved by sharing the phone the roster has for them."""
        await self.say("/start")
        await self.say(employee_no)
        await self.say(name)
        person = await self.app.repos.people.by_employee_no(employee_no)
        phone = await self.app.repos.people.phone_of(person.id) if person else None
        return await self.share_contact(phone or "10000000000")


SAMPLE_PEOPLE = {
    "worker": ("E001", "张三"),
    "worker2": ("E002", "李四"),
    "secretary": ("S001", "刘书记"),
    "other_secretary": ("S002", "陈书记"),
    "supervisor": ("D001", "周督导"),
    "leader": ("L001", "孙矿长"),
    "admin": ("A001", "管理员"),
}
"""The sample roster's people by the part they play in a test: (工号, 姓名)."""


async def register_people(chat: Callable[..., Chat], *roles: str) -> dict[str, Chat]:
    """A registered private chat (id u-<工号>) for each of `roles`, in that order."""
    chats = {}
    for role in roles:
        number, name = SAMPLE_PEOPLE[role]
        chats[role] = chat(f"u-{number}")
        await chats[role].register(number, name)
    return chats


class Writer:
    """Commits one idea after another until stopped, counting what was committed."""

    def __init__(self, app: App, pause: float = 0.0) -> None:
        self.app = app
        self.pause = pause
        self.committed = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        repos = self.app.repos
        author = await repos.people.by_employee_no("E001")
        assert author is not None
        while not self._stop.is_set():
            async with repos.db.transaction():
                await repos.ideas.add(
                    author=author,
                    text=f"回收旧锚杆第{self.committed}批",
                    category="repair_reuse",
                    confidence=0.9,
                    channel="test",
                    now=self.app.services.now(),
                )
            self.committed += 1
            await asyncio.sleep(self.pause)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


def seed_telegram_people(db: Path, users: int, first_user: int) -> None:
    """Registered people with Telegram ids first_user, first_user + 1, …, as if each had
    done /start (written straight into the file, for a bot running in another process)."""
    with sqlite3.connect(db) as conn:
        for n in range(users):
            conn.execute(
                "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
                " VALUES (?, ?, 'jj1', 'x', 'x')",
                (f"T{n:05d}", f"工人{n}"),
            )
            conn.execute(
                "INSERT INTO identities (channel, external_id, person_id, bound_at)"
                " VALUES ('telegram', ?, last_insert_rowid(), 'x')",
                (str(first_user + n),),
            )


async def idea_rows(repos: Repositories) -> list[dict[str, Any]]:
    return [dict(r) for r in await repos.db.fetchall("SELECT * FROM ideas ORDER BY id")]


def replace_config(config: Config, **changes: Any) -> Config:
    return dataclasses.replace(config, **changes)


def cli(
    *args: str,
    db: Path,
    stdin: str = "",
    extra_env: dict[str, str] | None = None,
    module: bool = False,
    python_flags: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`jindianzi ARGS` in a fresh process (`python [FLAGS] -m bot ARGS` with flags or `module`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
    env.update({"JINDIANZI_STORAGE_PATH": str(db), "PYTHONIOENCODING": "utf-8"})
    env.update(extra_env or {})
    command = (
        [sys.executable, *python_flags, "-m", "bot"]
        if module or python_flags
        else [str(Path(sys.executable).parent / "jindianzi")]
    )
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


__all__ = ["RetryLater", "Undeliverable"]


class _Undo(Exception):
    """Raised to roll a transaction back on purpose."""


async def similar_before_and_after(
    app: App, author: Person, stored: list[str], new: list[str]
) -> tuple[list[list[int]], list[list[int]]]:
    """For each of `new` submitted against `stored`: the ≤3 similar idea ids by the
    original method (FTS5 BM25 over every term, the best 20 scored by cosine, the search
    inside the write transaction) and by `handlers.rules.ideas.similar_ideas`."""
    from handlers.rules.ideas import SIMILAR_SHOWN, similar_ideas
    from nlp.similarity import cosine

    services, ideas = app.services, app.repos.ideas
    async with app.repos.db.transaction():
        for text in stored:
            idea = await ideas.add(
                author=author, text=text, category="other", confidence=0.5,
                channel=CHANNEL, now=services.now(),
            )  # fmt: skip
            await ideas.index_terms(idea.id, services.classifier.terms(text))
    before, after = [], []
    for text in new:
        words = services.classifier.terms(text)
        after.append([i.id for i in await similar_ideas(services, words)])
        try:
            async with app.repos.db.transaction():
                idea = await ideas.add(
                    author=author, text=text, category="other", confidence=0.5,
                    channel=CHANNEL, now=services.now(),
                )  # fmt: skip
                candidates = await ideas.term_candidates(words, exclude=idea.id, limit=20)
                split = [(i, t.split()) for i, t in candidates]
                total, df = await ideas.document_frequencies(
                    [*words, *(w for _, ws in split for w in ws)]
                )
                # the counts as the original saw them, after indexing this idea in the unit
                # (a unit's counts are written only as it commits now: `SqlDatabase.tally`)
                total += 1
                df.update({w: df.get(w, 0) + 1 for w in {w.lower() for w in words}})
                scored = sorted(
                    ((cosine(words, ws, total, df), i) for i, ws in split), reverse=True
                )
                threshold = services.settings.similarity_threshold
                before.append([i for s, i in scored[:SIMILAR_SHOWN] if s >= threshold])
                raise _Undo
        except _Undo:
            pass
    return before, after


def recall(before: list[list[int]], after: list[list[int]]) -> tuple[float, int]:
    """(share of the original method's hits the new one also finds, how many hits)."""
    hits = sum(len(b) for b in before)
    kept = sum(len(set(b) & set(a)) for b, a in zip(before, after, strict=True))
    return (kept / hits if hits else 1.0), hits


INSERTION_ORDER = {"departments", "project_branches", "reward_recipients", "inbox"}
"""Tables without an id, whose insertion order is their `position` (no rowid on PostgreSQL)."""


async def table_rows(db: SqlDatabase, table: str) -> list[dict[str, Any]]:
    """Every row of `table` in insertion order, as dicts, on either storage backend."""
    order = "position" if table in INSERTION_ORDER else "id"
    return [dict(r) for r in await db.fetchall(f"SELECT * FROM {table} ORDER BY {order}")]


@contextlib.asynccontextmanager
async def another_process(app: App) -> AsyncIterator[App]:
    """What a second bot process on `app`'s database would be: on PostgreSQL an app of its
    own (its own pool, its own transactions side by side); on SQLite, one process per
    database file, the same app."""
    if app.repos.db.dialect != "postgresql":
        yield app
        return
    from bot.app import open_app

    async with open_app(
        app.config, clock=app.services.clock, classifier=app.services.classifier
    ) as other:
        yield other


async def stop_processes(runs: Sequence[asyncio.subprocess.Process]) -> None:
    """SIGTERM each process still running, as an operator stops the bot, then wait for each
    (20 s, then SIGKILL)."""
    for run in runs:
        if run.returncode is None:
            run.send_signal(signal.SIGTERM)
    for run in runs:
        try:
            await asyncio.wait_for(run.wait(), 20)
        except TimeoutError:
            run.kill()
            await run.wait()
