"""A burst of 1,130 registered users each sending one idea at once, through the fake Bot API.

    .venv/bin/python -m benchmarks.telegram_burst [--users 1130]

The bot runs as it does in service (`jindianzi run`, a separate process, polling);
the yardstick is a plain python-telegram-bot echo bot (`Application.run_polling`) on
the same fake server in the same run. Reported: ideas/s from the first update being
available to the last reply received, and p50/p99 of update-available → reply.
Every idea must be stored exactly once and answered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
import sys
from telegram import Update
from telegram.ext import AIORateLimiter, Application, MessageHandler, filters
async def echo(update, context):
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
    name: str, users: int, rate: float, texts: list[str], db: Path
) -> tuple[float, list[float]]:
    env_base = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
    jindianzi = str(Path(sys.executable).parent / "jindianzi")
    async with FakeTelegram(token=TOKEN) as tg:
        urls = [f"{tg.url}/bot", f"{tg.url}/file/bot"]
        if name == "echo":
            command, env = [sys.executable, "-c", ECHO_BOT, TOKEN, *urls, str(rate)], env_base
        else:
            env = {**env_base, "JINDIANZI_STORAGE_PATH": str(db)}
            await asyncio.to_thread(  # creates and migrates the database
                subprocess.run,
                [jindianzi, "export", str(db.parent / "x.csv")],
                cwd=ROOT,
                env=env,
                capture_output=True,
                check=True,
            )
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
            env.update(
                {
                    "JINDIANZI_TELEGRAM_TOKEN": TOKEN,
                    "JINDIANZI_TELEGRAM_BASE_URL": urls[0],
                    "JINDIANZI_TELEGRAM_BASE_FILE_URL": urls[1],
                    "JINDIANZI_TELEGRAM_MAX_MESSAGES_PER_SECOND": str(rate),
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


async def run(users: int, rate: float) -> None:
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus() if len(text) > 8]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "data" / "j.db"
        echo = await run_one("echo", users, rate, texts, db)
        ours = await run_one("jindianzi", users, rate, texts, db)
        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT count(*), count(DISTINCT text) FROM ideas").fetchone()
    assert stored == (users, users), f"ideas stored: {stored}, expected {users} distinct"
    limit = f"{rate:g} messages/s (AIORateLimiter, both bots)" if rate else "none"
    print(
        f"{users} users, one idea each, pushed at once; overall send limit: {limit}; "
        f"every idea stored exactly once ({stored[0]}) and answered"
    )
    print()
    print("| measure | jindianzi run | PTB echo bot (yardstick) | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| ideas/s | {users / ours[0]:,.0f} | {users / echo[0]:,.0f} | {echo[0] / ours[0]:.2f} |"
    )
    for q in (50, 99):
        a, b = quantile(ours[1], q), quantile(echo[1], q)
        print(f"| p{q} update → reply | {a:.2f} s | {b:.2f} s | {a / b:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1130)
    parser.add_argument(
        "--rate", type=float, default=30.0, help="overall messages/s for both bots; 0 for no limit"
    )
    args = parser.parse_args()
    asyncio.run(run(args.users, args.rate))


if __name__ == "__main__":
    main()
