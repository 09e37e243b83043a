"""A scheduled notice to 42 branch groups (the mine's 42 party branches) on the fake Bot API.

    .venv/bin/python -m benchmarks.scheduler_fanout [--groups 42]

`monthly_scores` on the 1st sends each bound branch group its month's total, parts, rank
and change (here with every part entered for every branch). The yardstick is the bound
Telegram's limits allow: n messages at 30 per second overall (each group gets one
message, far under its 20 a minute). Reported: job start to last delivery, the bound,
and their ratio (target under 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.app import open_app, open_channels
from bot.config import load_config
from handlers.rules.scores import previous_month
from scheduler.runner import run_job
from tests.botapi_fake import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:FANOUT"
DEPARTMENTS = ["organization", "publicity", "party_office", "discipline", "union", "youth_league"]


def config_text(groups: int) -> str:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    head, _, rest = text.partition("  branches:\n")
    _, _, tail = rest.partition("\n\n")
    branches = "".join(
        f"    - {{id: b{n:02d}, name: 第{n}党支部, department: {DEPARTMENTS[n % 6]},"
        f" telegram_chat_id: '-{1000 + n}'}}\n"
        for n in range(groups)
    )
    return head + "  branches:\n" + branches + "\n" + tail


async def run(groups: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(
            config_text(groups).replace(
                "sample_roster: bot/sample_roster.csv", "sample_roster: ''"
            ),
            encoding="utf-8",
        )
        async with FakeTelegram(token=TOKEN) as tg:
            config = load_config(
                path,
                {
                    "JINDIANZI_STORAGE_PATH": f"{tmp}/j.db",
                    "JINDIANZI_TELEGRAM_TOKEN": TOKEN,
                    "JINDIANZI_TELEGRAM_BASE_URL": f"{tg.url}/bot",
                    "JINDIANZI_TELEGRAM_BASE_FILE_URL": f"{tg.url}/file/bot",
                },
            )
            async with open_app(config) as app:
                async with app.repos.db.transaction():
                    for n in range(groups):
                        await app.repos.groups.bind(
                            "telegram", f"-{1000 + n}", f"b{n:02d}", None, app.services.now()
                        )
                first = app.services.local(app.services.now()).replace(day=1, hour=9)
                month = previous_month(first.strftime("%Y-%m"))
                async with app.repos.db.transaction():
                    for n in range(groups):
                        for part, value in (
                            ("base", 80 + n % 20),
                            ("self", 90),
                            ("dept", 85),
                            ("leader", 88),
                        ):
                            await app.repos.scores.enter(
                                f"b{n:02d}", month, part, value, "", None, app.services.now()
                            )
                async with open_channels(app) as (_, transports):
                    sender = app.sender(transports)
                    start = time.perf_counter()
                    result = await run_job(app.services, "monthly_scores", first)
                    delivered = await sender.run_once()
                    elapsed = time.perf_counter() - start
            sent = len(tg.sent())
    assert result.queued == groups and delivered == groups and sent == groups, (
        result.queued,
        delivered,
        sent,
    )
    bound = groups / 30
    print(f"{groups} branch groups, one notice each, every one delivered once")
    print()
    print(
        "| measure | monthly_scores job → last delivery | bound from the limits (n / 30 per s)"
        " | ratio |"
    )
    print("| --- | --- | --- | --- |")
    print(f"| time | {elapsed:.2f} s | {bound:.2f} s | {elapsed / bound:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=42)
    asyncio.run(run(parser.parse_args().groups))


if __name__ == "__main__":
    main()
