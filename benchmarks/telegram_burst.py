"""A burst of 1,130 registered users each sending one idea at once, through the fake Bot API.

    .venv/bin/python -m benchmarks.telegram_burst [--users 1130] [--rate 30] [--stored 1000000]
        [--rounds 3] [--keep DIR]

The bot runs as it does in service (`jindianzi run`, a separate process, polling). Two
yardsticks on the same fake server, in alternating rounds (jindianzi, durable, plain; then
the other way round): a plain python-telegram-bot echo bot (`Application.run_polling`),
and a durable echo bot that commits one fsync'd row per update (WAL, synchronous=FULL) before
it answers, the fair floor for a bot that keeps what it is sent. Reported: the medians over
the rounds of ideas/s from the first update being available to the last reply received, of
p50/p99 of update-available → reply, and of the per-round ratios. `--stored N` seeds N ideas
first (`benchmarks.scale.seed`, bulk SQL; each round starts from a copy). `--rate 0` means no
send limit (the bot gets 100,000/s: its configuration wants a limit). `BENCH_BOT_CODE=DIR`
runs the bot from another checkout (a before/after on the same machine). Every idea must be
stored exactly once and answered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.botapi_fake import FakeTelegram
from tests.support import seed_telegram_people

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH"
FIRST_USER = 700000

ECHO_BOT = """
import sqlite3, sys
from telegram import Update
from telegram.ext import AIORateLimiter, Application, MessageHandler, filters
db = sqlite3.connect(sys.argv[5], isolation_level=None) if len(sys.argv) > 5 else None
if db is not None:  # the durable echo bot
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE IF NOT EXISTS seen (update_id INTEGER PRIMARY KEY, text TEXT)")
async def echo(update, context):
    if db is not None:
        with db:  # one fsync'd commit per update, as the least a durable bot does
            db.execute("INSERT INTO seen VALUES (?, ?)", (update.update_id, update.message.text))
    await update.message.reply_text(update.message.text)
rate = float(sys.argv[4])
builder = (Application.builder().token(sys.argv[1]).base_url(sys.argv[2])
           .base_file_url(sys.argv[3]))
if rate:
    builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=rate, max_retries=3))
app = builder.build()
app.add_handler(MessageHandler(filters.TEXT, echo))
app.run_polling(allowed_updates=Update.ALL_TYPES)
"""
"""The plain echo bot; given a database file as a fifth argument, the durable one."""


async def burst(tg: FakeTelegram, users: int, texts: list[str]) -> tuple[float, list[float]]:
    """Push one message per user at once; wait for one reply each; (seconds, latencies)."""
    pushed: dict[int, float] = {}
    start = time.perf_counter()
    for n in range(users):
        tg.push_text(FIRST_USER + n, texts[n % len(texts)] + f"(第{n}号)")
        pushed[FIRST_USER + n] = time.perf_counter()
    latencies: dict[int, float] = {}
    seen = 0
    while len(latencies) < users:
        # Only the calls recorded since the last look: rescanning them all would load the
        # fake server (same process) more the longer a bot takes, and skew the comparison.
        fresh, seen = tg.calls[seen:], len(tg.calls)
        for method, params in fresh:
            if method != "sendMessage" or "chat_id" not in params:
                continue
            chat = int(params["chat_id"])
            if chat in pushed and chat not in latencies:
                latencies[chat] = params["received_at"] - pushed[chat]
        await asyncio.sleep(0.02)
        if time.perf_counter() - start > 600:
            raise TimeoutError(f"only {len(latencies)} of {users} answered")
    end = max(pushed[c] + latency for c, latency in latencies.items())
    return end - start, sorted(latencies.values())


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def run_one(
    name: str, users: int, rate: float, texts: list[str], db: Path, stored: int = 0
) -> tuple[float, list[float]]:
    env_base = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
    jindianzi = str(Path(sys.executable).parent / "jindianzi")
    async with FakeTelegram(token=TOKEN) as tg:
        urls = [f"{tg.url}/bot", f"{tg.url}/file/bot"]
        if name == "echo":
            command, env = [sys.executable, "-c", ECHO_BOT, TOKEN, *urls, str(rate)], env_base
        elif name == "durable":
            echo_db = str(db.parent / "echo.db")
            command = [sys.executable, "-c", ECHO_BOT, TOKEN, *urls, str(rate), echo_db]
            env = env_base
        else:
            env = {**env_base, "JINDIANZI_STORAGE_PATH": str(db)}
            await _create(db)
            if stored:  # seeded by `run` (its workers are FIRST_USER, FIRST_USER + 1, …)
                assert db.with_name(db.name + ".seeded").exists()
            else:
                seed_telegram_people(db, users, FIRST_USER)
            command = [jindianzi, "run"]
            if os.environ.get("BENCH_PROFILE"):
                command = [
                    sys.executable,
                    "-m",
                    "cProfile",
                    "-o",
                    os.environ["BENCH_PROFILE"],
                    "-m",
                    "bot",
                    "run",
                ]
            if os.environ.get("BENCH_BOT_CODE"):  # another checkout's bot, for a before/after
                env["PYTHONPATH"] = os.environ["BENCH_BOT_CODE"]
            env.update(
                {
                    "JINDIANZI_TELEGRAM_TOKEN": TOKEN,
                    "JINDIANZI_TELEGRAM_BASE_URL": urls[0],
                    "JINDIANZI_TELEGRAM_BASE_FILE_URL": urls[1],
                    "JINDIANZI_TELEGRAM_MAX_MESSAGES_PER_SECOND": str(rate or 100_000),  # ~none
                }
            )
        proc = await asyncio.to_thread(
            subprocess.Popen,
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await tg.wait_for(lambda method, _: method == "getUpdates", timeout=60)
            return await burst(tg, users, texts)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)


async def run(users: int, rate: float, stored: int, rounds: int, keep: Path | None) -> None:
    """Alternating rounds of (jindianzi, durable echo, plain echo); medians of the ratios."""
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus() if len(text) > 8]
    results: dict[str, list[tuple[float, list[float]]]] = {"ours": [], "durable": [], "echo": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        for n in range(rounds):
            data = base / f"round{n}"
            data.mkdir(parents=True, exist_ok=True)
            db = data / "j.db"
            if stored and n and not db.exists():  # one seeded copy, copied per round
                src = base / "round0" / "j.db.pristine"
                shutil.copy(src, db)
                db.with_name(db.name + ".seeded").touch()
            ours_texts = [f"{t}(第{n}轮)" for t in texts]
            order = ["ours", "durable", "echo"] if n % 2 == 0 else ["echo", "durable", "ours"]
            for name in order:
                if name == "ours" and stored and n == 0 and not db.exists():
                    await _seed_once(db, stored)
                    shutil.copy(db, db.with_name("j.db.pristine"))
                kind = "jindianzi" if name == "ours" else name
                results[name].append(await run_one(kind, users, rate, ours_texts, db, stored))
            with sqlite3.connect(db) as conn:
                count = conn.execute(
                    "SELECT count(*), count(DISTINCT text) FROM ideas WHERE text LIKE ?",
                    (f"%(第{n}轮)%",),
                ).fetchone()
            assert count == (users, users), f"ideas stored: {count}, expected {users} distinct"
    limit = f"{rate:g} messages/s (AIORateLimiter, all bots)" if rate else "none"
    print(
        f"{users} users, one idea each, pushed at once; {stored:,} ideas stored before;"
        f" overall send limit: {limit}; {rounds} alternating rounds; every idea stored"
        " exactly once and answered"
    )
    print()
    print(
        "| measure | jindianzi run | durable echo bot | plain echo bot"
        " | ratio to durable | ratio to plain |"
    )
    print("| --- | --- | --- | --- | --- | --- |")

    def med(values: list[float]) -> float:
        return statistics.median(values)

    o, d, e = results["ours"], results["durable"], results["echo"]
    tput = [users / r[0] for r in o], [users / r[0] for r in d], [users / r[0] for r in e]
    print(
        f"| ideas/s (median) | {med(tput[0]):,.0f} | {med(tput[1]):,.0f} | {med(tput[2]):,.0f}"
        f" | {med([a / b for a, b in zip(tput[0], tput[1], strict=True)]):.2f}"
        f" | {med([a / b for a, b in zip(tput[0], tput[2], strict=True)]):.2f} |"
    )
    for q in (50, 99):
        a = [quantile(r[1], q) for r in o]
        b = [quantile(r[1], q) for r in d]
        c = [quantile(r[1], q) for r in e]
        print(
            f"| p{q} update → reply (median) | {med(a):.2f} s | {med(b):.2f} s | {med(c):.2f} s"
            f" | {med([x / y for x, y in zip(a, b, strict=True)]):.2f}"
            f" | {med([x / y for x, y in zip(a, c, strict=True)]):.2f} |"
        )
    print()
    print("jindianzi ideas/s per round:", ", ".join(f"{x:.0f}" for x in tput[0]))


async def _create(db: Path) -> None:
    """Create and migrate the database (with its organisation), unless it is there."""
    if await asyncio.to_thread(db.exists):
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
    env["JINDIANZI_STORAGE_PATH"] = str(db)
    await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "jindianzi"), "export", str(db.parent / "x.csv")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )


async def _seed_once(db: Path, stored: int) -> None:
    """Create, migrate and seed the database (people and ideas) for the first round."""
    await _create(db)
    from benchmarks.scale import seed
    from bot.app import build_classifier
    from tests.support import project_config

    seconds = seed(db, stored, build_classifier(project_config(db)))
    db.with_name(db.name + ".seeded").touch()
    print(f"seeded {stored:,} ideas in {seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1130)
    parser.add_argument(
        "--rate", type=float, default=30.0, help="overall messages/s for both bots; 0 for no limit"
    )
    parser.add_argument("--stored", type=int, default=0, help="ideas seeded before the burst")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder")
    args = parser.parse_args()
    asyncio.run(run(args.users, args.rate, args.stored, args.rounds, args.keep))


if __name__ == "__main__":
    main()
