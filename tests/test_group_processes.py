"""A mining group's deployment as it runs: two real `jindianzi run` processes on one
PostgreSQL database serving two mines through one Telegram bot (the fake Bot API on
loopback). A burst from both mines, the polling process SIGKILLed in the middle: every
idea is stored once in its own mine, every sender answered, polling taken over, and the
scheduled notice each mine's calendar owes goes out once, to that mine's group only."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from bot.app import open_app, utc_now
from bot.config import load_config
from bot.instance import polling_lease
from bot.roster import import_roster
from nlp import ModelClassifier
from storage.leases import lease_records
from storage.pg import PgDatabase
from tests.storage_backends import PostgresServer
from tests.support import ROOT, stop_processes
from tests.test_leases import TOKEN, OnePollerTelegram, _env

USERS = 12
"""People per mine in the burst; each sends `IDEAS` ideas."""
IDEAS = 2
GROUPS = {"east": -1001, "west": -1002}
TAKEOVER_S = 10.0
"""Issue 20's bound for failover."""


def _write_group(folder: Path) -> Path:
    for mine, name in (("east", "东矿综采一队支部"), ("west", "西矿掘进二队支部")):
        (folder / f"{mine}.yaml").write_text(
            "org:\n"
            "  departments: [{id: zzb, name: 组织部}]\n"
            f"  branches: [{{id: b01, name: {name}, department: zzb,"
            f' telegram_chat_id: "{GROUPS[mine]}"}}]\n'
            # Every hour at :00, so the run owed is always within the grace at start-up:
            # both processes catch it up at once, and the ledger lets one of them send it.
            "schedule: {quarterly_review: {minute: 0}}\n",
            encoding="utf-8",
        )
        people = ["employee_no,name,branch_id,role,wecom_userid,phone"]
        people += [f"E{n:03d},工人{n},b01,worker,," for n in range(USERS)]
        people.append("S001,书记,b01,secretary,,")
        (folder / f"{mine}.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    shipped = shipped.replace("sample_roster: bot/sample_roster.csv", "sample_roster: null")
    path = folder / "group.yaml"
    path.write_text(
        shipped + "\nmines:\n"
        "  - {id: east, name: 东矿, config: east.yaml}\n"
        "  - {id: west, name: 西矿, config: west.yaml}\n",
        encoding="utf-8",
    )
    return path


def _user(mine: str, n: int) -> int:
    return (1 if mine == "east" else 2) * 100_000 + n


def _idea(mine: str, n: int, k: int) -> str:
    return f"{mine}矿第{n}号工人的第{k}条建议:回收旧锚杆托盘再利用,节约材料费"


async def _seed(config_path: Path, env: dict[str, str], classifier: ModelClassifier) -> None:
    """The rosters, each person's Telegram identity, and a scheduler that has run before."""
    config = load_config(config_path, env)
    now = utc_now()
    async with open_app(config, classifier=classifier) as app:
        for mine, services in app.tenants.all():
            repos = services.repos
            await import_roster(config_path.parent / f"{mine}.csv", repos, now)
            async with repos.db.transaction():
                for n in range(USERS):
                    person = await repos.people.by_employee_no(f"E{n:03d}")
                    assert person is not None
                    await repos.people.bind_identity(
                        person.id, "telegram", str(_user(mine, n)), now
                    )
            await repos.job_runs.first_start(now - timedelta(days=1))


async def test_two_processes_serve_two_mines_through_a_sigkill(
    tmp_path: Path, postgres_server: PostgresServer, classifier: ModelClassifier
) -> None:
    url = postgres_server.fresh_database()
    config_path = _write_group(tmp_path)
    tg = OnePollerTelegram(TOKEN)
    async with tg, PgDatabase.open(url) as db:
        env = _env(url, tg, tmp_path) | {"JINDIANZI_CONFIG": str(config_path)}
        await _seed(config_path, env, classifier)
        jindianzi = str(Path(sys.executable).parent / "jindianzi")
        logs = [(tmp_path / f"run{i}.log").open("w") for i in range(2)]
        runs = [
            await asyncio.create_subprocess_exec(jindianzi, "run", env=env, cwd=ROOT, stderr=log)
            for log in logs
        ]
        lease = polling_lease(TOKEN)

        async def poller() -> int | None:
            return next(
                (r.pid for r in await lease_records(db) if r.name == lease and r.held), None
            )

        try:
            deadline = time.monotonic() + 90
            while await poller() is None:
                assert time.monotonic() < deadline, [p.read_text() for p in tmp_path.glob("*.log")]
                await asyncio.sleep(0.2)
            sent: dict[int, int] = {}

            def burst(k: int) -> None:
                for n in range(USERS):
                    for mine in ("east", "west"):
                        tg.push_text(_user(mine, n), _idea(mine, n, k))
                        sent[_user(mine, n)] = sent.get(_user(mine, n), 0) + 1

            burst(0)
            await tg.wait_sent(3)  # under way
            holder = await poller()
            victim = next(r for r in runs if r.pid == holder)
            killed = time.monotonic()
            victim.kill()
            await victim.wait()
            for k in range(1, IDEAS):
                burst(k)
            while (now_polling := await poller()) in (None, holder):
                assert time.monotonic() - killed < TAKEOVER_S, "polling not taken over"
                await asyncio.sleep(0.05)
            print(f"\npolling taken over {time.monotonic() - killed:.2f} s after SIGKILL")
            survivor = next(r for r in runs if r.pid == now_polling)
            assert survivor.returncode is None
            for user, count in sent.items():  # every sender answered, each idea
                await tg.wait_sent(count, chat_id=user, timeout=120)

            for mine in ("east", "west"):
                scoped = db.scoped(mine)
                rows = await scoped.fetchall("SELECT text FROM ideas ORDER BY id")
                texts = sorted(str(r[0]) for r in rows)
                wanted = sorted(_idea(mine, n, k) for n in range(USERS) for k in range(IDEAS))
                assert texts == wanted, mine  # each once, and only in its own mine
                runs_ = await scoped.fetchall(
                    "SELECT status, notices FROM job_runs WHERE job = 'quarterly_review'"
                )
                assert [r[0] for r in runs_] == ["done"], mine
            # The review notice: once to each mine's own group, never to the other's.
            await tg.wait_sent(1, chat_id=GROUPS["east"], timeout=30)
            await tg.wait_sent(1, chat_id=GROUPS["west"], timeout=30)
            await asyncio.sleep(2.0)  # a second, duplicate delivery would have come by now
            for mine, chat in GROUPS.items():
                texts = [m["text"] for m in tg.sent(chat_id=chat)]
                assert len(texts) == 1, (mine, texts)
                assert "季度" in texts[0]
        finally:
            await stop_processes(runs)
            for log in logs:
                log.close()
