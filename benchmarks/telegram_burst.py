"""A burst of 1,130 registered users each sending one idea at once, through the fake Bot API.

    .venv/bin/python -m benchmarks.telegram_burst [--users 1130] [--rate 30] [--stored 1000000]
        [--rounds 3] [--backend sqlite|postgresql|both] [--processes 1] [--failover]
        [--pg-fsync on|off] [--keep DIR]

The bot runs as it does in service (`jindianzi run`, a separate process, polling), on SQLite
(`storage.path`), on PostgreSQL (`storage.url`, a throwaway cluster started as the tests start
it, `tests.storage_backends.start_cluster`) or on both in the same run. Two yardsticks on the
same fake server, in alternating rounds (the bots, durable, plain; then the other way round): a
plain python-telegram-bot echo bot (`Application.run_polling`), and a durable echo bot that
commits one fsync'd row per update (WAL, synchronous=FULL) before it answers, the fair floor for
a bot that keeps what it is sent. Reported: the medians over the rounds of ideas/s from the
first update being available to the last reply received, of p50/p99 of update-available →
reply, of the bot's CPU seconds per idea (user + system, from /proc, during the burst; on
PostgreSQL the server's too), and of the per-round ratios (PostgreSQL against SQLite among
them): CPU is what a side pays, where wall-clock time also counts its waits for shared
cores. `--stored N` seeds N ideas first (SQLite only: `benchmarks.scale.seed`, bulk SQL; each
round starts from a copy).
`--rate 0` means no send limit (the bot gets 100,000/s: its configuration wants a limit).
The PostgreSQL cluster is made durable like the SQLite file (`fsync`, `synchronous_commit` and
`full_page_writes` on) unless `--pg-fsync off` keeps the test cluster's shortcuts.
`--processes N` (N > 1) adds a side to each round: N `jindianzi run` processes on one
PostgreSQL database (`start_app_processes`), polling leased to one of them, every one claiming
stored updates; the CPU of each is reported. `--failover` runs `failover_round` instead of the
rounds: N processes, the polling lease's holder SIGKILLed mid-burst, the time to the standby's
first poll and replies measured. `BENCH_BOT_CODE=DIR` runs the bot from
another checkout (a before/after on the same machine); `BENCH_PROFILE=FILE` runs it under
cProfile, timed by the main thread's CPU clock (FILE.<backend>.<round>.<process>);
`BENCH_PG_STATEMENTS=FILE` writes the server's top statements (pg_stat_statements) there. Every
idea must be stored exactly once and answered.
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
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

from tests.botapi_fake import FakeTelegram
from tests.storage_backends import Cluster, PostgresServer, start_cluster
from tests.support import seed_telegram_people

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH"
FIRST_USER = 700000

Side = Literal["sqlite", "postgresql", "pg_many", "durable", "echo"]
PG_SIDES: tuple[Side, ...] = ("postgresql", "pg_many")
"""PostgreSQL with one `jindianzi run` process, and with `--processes N` of them."""
LABELS: dict[Side, str] = {
    "sqlite": "jindianzi run, SQLite",
    "postgresql": "jindianzi run, PostgreSQL",
    "pg_many": "jindianzi run, PostgreSQL, N processes",
    "durable": "durable echo bot",
    "echo": "plain echo bot",
}

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


PROFILED_RUN = """
import cProfile, sys, time
from bot.cli import main
profiler = cProfile.Profile(time.thread_time)
try:
    profiler.runcall(main, ["run"])
finally:
    profiler.dump_stats(sys.argv[1])
"""
"""`jindianzi run` under cProfile timed by the main thread's CPU clock: on shared cores a wall
clock would charge another process's time slice to whatever the bot was doing."""


@dataclass(slots=True)
class Round:
    """One side's burst: seconds from the first update to the last reply, latencies, and
    the CPU seconds the bot's processes (and the PostgreSQL server's) spent on it."""

    seconds: float
    latencies: list[float]
    bot_cpu: float = 0.0
    server_cpu: float | None = None
    process_cpu: list[float] | None = None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # the name in brackets may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(postmaster: int) -> dict[int, float]:
    """CPU seconds so far of the PostgreSQL server `postmaster` and each of its children
    (backends, WAL writer, checkpointer …), by pid."""
    found = {postmaster: cpu_seconds(postmaster)}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text.rpartition(")")[2].split()[1]) == postmaster:
            found[int(stat.parent.name)] = cpu_seconds(int(stat.parent.name))
    return found


async def burst(tg: FakeTelegram, users: int, texts: list[str]) -> Round:
    """Push one message per user at once; wait for one reply each."""
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
    return Round(end - start, sorted(latencies.values()))


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def _clean_env() -> dict[str, str]:
    """This environment without any JINDIANZI_ variable (the app rejects unknown ones)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}


def _jindianzi() -> str:
    return str(Path(sys.executable).parent / "jindianzi")


def start_app_processes(
    count: int, env: Mapping[str, str], profile: str | None = None
) -> list[subprocess.Popen[bytes]]:
    """`count` `jindianzi run` processes on the storage `env` names; each gets its own data
    folder (`JINDIANZI_STORAGE_PATH` + `.<n>`: log and instance lock) when there are several.

    The seam for a mining group's deployment: with PostgreSQL several processes share one
    database, each claiming the updates and notices it handles."""
    procs: list[subprocess.Popen[bytes]] = []
    for n in range(count):
        own = dict(env)
        if count > 1:
            folder = Path(env["JINDIANZI_STORAGE_PATH"]).parent / f"process{n}"
            folder.mkdir(exist_ok=True)
            own["JINDIANZI_STORAGE_PATH"] = str(folder / "j.db")
        command = [_jindianzi(), "run"]
        if profile:
            command = [sys.executable, "-c", PROFILED_RUN, f"{profile}.{n}"]
        procs.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=own,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


async def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        await asyncio.to_thread(proc.wait, 30)


async def run_one(
    side: Side,
    users: int,
    rate: float,
    texts: list[str],
    data: Path,
    *,
    stored: int = 0,
    pg_url: str | None = None,
    processes: int = 1,
    profile: str | None = None,
    postmaster: int | None = None,
) -> Round:
    """One side's burst on a fresh fake server; the bot's database is made here (or seeded)."""
    async with FakeTelegram(token=TOKEN) as tg:
        urls = [f"{tg.url}/bot", f"{tg.url}/file/bot"]
        if side in ("echo", "durable"):
            command = [sys.executable, "-c", ECHO_BOT, TOKEN, *urls, str(rate)]
            if side == "durable":
                command.append(str(data / "echo.db"))
            procs = [
                await asyncio.to_thread(
                    subprocess.Popen,
                    command,
                    cwd=ROOT,
                    env=_clean_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            ]
        else:
            env = _storage_env(side, data, pg_url)
            await _create(env)
            if side in PG_SIDES:
                assert pg_url is not None
                await asyncio.to_thread(_seed_pg_people, pg_url, users, FIRST_USER)
            elif stored:  # seeded by `run` (its workers are FIRST_USER, FIRST_USER + 1, …)
                assert (data / "j.db.seeded").exists()
            else:
                seed_telegram_people(data / "j.db", users, FIRST_USER)
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
            count = processes if side == "pg_many" else 1
            procs = await asyncio.to_thread(start_app_processes, count, env, profile)
        try:
            await tg.wait_for(lambda method, _: method == "getUpdates", timeout=60)
            bot_before = [cpu_seconds(p.pid) for p in procs]
            server_before = server_cpu(postmaster) if postmaster else {}
            result = await burst(tg, users, texts)
            spent = [cpu_seconds(p.pid) - b for p, b in zip(procs, bot_before, strict=True)]
            result.bot_cpu, result.process_cpu = sum(spent), spent
            if postmaster:
                after = server_cpu(postmaster)
                result.server_cpu = sum(t - server_before.get(pid, 0.0) for pid, t in after.items())
            gone = [(n, p.returncode) for n, p in enumerate(procs) if p.poll() is not None]
            if gone:
                raise RuntimeError(f"{side}: processes (number, exit code) ended early: {gone}")
            return result
        finally:
            await _stop(procs)


def _storage_env(side: Side, data: Path, pg_url: str | None) -> dict[str, str]:
    """The environment naming the bot's storage: the SQLite file, or PostgreSQL (whose data
    folder, for the log and the instance lock, is the round's folder)."""
    env = {**_clean_env(), "JINDIANZI_STORAGE_PATH": str(data / "j.db")}
    if side in PG_SIDES:
        assert pg_url is not None
        env["JINDIANZI_STORAGE_URL"] = pg_url
    return env


async def _create(env: Mapping[str, str]) -> None:
    """Create and migrate the database (with its organisation), unless it is there."""
    db = Path(env["JINDIANZI_STORAGE_PATH"])
    if "JINDIANZI_STORAGE_URL" not in env and await asyncio.to_thread(db.exists):
        return
    await asyncio.to_thread(
        subprocess.run,
        [_jindianzi(), "export", str(db.parent / "x.csv")],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        check=True,
    )


def _seed_pg_people(url: str, users: int, first_user: int) -> None:
    """`tests.support.seed_telegram_people` for PostgreSQL: registered people with Telegram
    ids first_user, first_user + 1, …, written straight into the database."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT set_config('jindianzi.mine', 'main', true)")  # the mine of one
        for n in range(users):
            cur.execute(
                "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
                " VALUES (%s, %s, 'jj1', 'x', 'x') RETURNING id",
                (f"T{n:05d}", f"工人{n}"),
            )
            row = cur.fetchone()
            assert row is not None
            cur.execute(
                "INSERT INTO identities (channel, external_id, person_id, bound_at)"
                " VALUES ('telegram', %s, %s, 'x')",
                (str(first_user + n), row[0]),
            )


def _count_ideas(side: Side, data: Path, pg_url: str | None, mark: str) -> tuple[int, int]:
    """(ideas, distinct texts) of this round, found by the round's mark in their text."""
    query = "SELECT count(*), count(DISTINCT text) FROM ideas WHERE text LIKE {}"
    if side in PG_SIDES:
        assert pg_url is not None
        with psycopg.connect(pg_url) as conn:
            conn.execute("SELECT set_config('jindianzi.mine', 'main', true)")
            found = conn.execute(query.format("%s").encode(), (f"%{mark}%",)).fetchone()
    else:
        with sqlite3.connect(data / "j.db") as lite:
            found = lite.execute(query.format("?"), (f"%{mark}%",)).fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


class PgCluster:
    """The throwaway PostgreSQL cluster of the tests, made durable unless asked not to;
    one new database per round."""

    def __init__(self, fsync: bool) -> None:
        self.cluster: Cluster = start_cluster()
        if fsync:
            _restart_durable(self.cluster)
        self.server = PostgresServer(self.cluster.url)
        with self.server.admin() as conn:
            settings = conn.execute(
                b"SELECT name, setting FROM pg_settings WHERE name IN"
                b" ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method',"
                b" 'shared_buffers') ORDER BY name"
            ).fetchall()
            version = conn.execute(b"SHOW server_version").fetchone()
        shown = ", ".join(f"{name}={value}" for name, value in settings)
        self.settings = f"PostgreSQL {version[0] if version else '?'}: {shown}"

    def database(self) -> str:
        return self.server.create()

    def postmaster(self) -> int:
        """The server's pid (the first line of postmaster.pid)."""
        return int((self.cluster.folder / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        report = os.environ.get(STATEMENTS_ENV)
        if report:
            self._write_statements(Path(report))
        self.cluster.stop()

    def _write_statements(self, report: Path) -> None:
        """The server's statements of the whole run by total execution time (the server's
        own view of where its CPU went), for `BENCH_PG_STATEMENTS`."""
        with self.server.admin() as conn:
            conn.execute(b"CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            rows = conn.execute(
                b"SELECT calls, round(total_exec_time::numeric, 1),"
                b" round(mean_exec_time::numeric, 3), rows,"
                b" left(regexp_replace(query, '\\s+', ' ', 'g'), 160)"
                b" FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40"
            ).fetchall()
        lines = ["calls\ttotal ms\tmean ms\trows\tquery"]
        lines += ["\t".join(str(v) for v in row) for row in rows]
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")


STATEMENTS_ENV = "BENCH_PG_STATEMENTS"
"""Set to a file name: the server loads pg_stat_statements, and its top statements of the
run are written there when the cluster stops."""


def _restart_durable(cluster: Cluster) -> None:
    """Restart `cluster` without the shortcuts `start_cluster` takes for tests (fsync,
    synchronous_commit and full_page_writes off: command-line options, which ALTER SYSTEM
    cannot override), so that a commit waits for the disk as SQLite's synchronous=FULL does."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(cluster.url).query)
    socket_dir, port = query["host"][0], query["port"][0]
    options = f"-k {socket_dir} -p {port} -c listen_addresses='' -c max_connections=200"
    if os.environ.get(STATEMENTS_ENV):
        options += " -c shared_preload_libraries=pg_stat_statements"
    data = str(cluster.folder / "data")
    log = str(cluster.folder / "server.log")
    pg_ctl = [str(cluster.bin_dir / "pg_ctl"), "-D", data, "-l", log, "-w", "-m", "fast"]
    subprocess.run(
        [*cluster.prefix, *pg_ctl, "-o", options, "restart"], capture_output=True, check=True
    )


async def run(
    users: int,
    rate: float,
    stored: int,
    rounds: int,
    keep: Path | None,
    backends: Sequence[Side],
    processes: int = 1,
    pg_fsync: bool = True,
) -> None:
    """Alternating rounds of (the bots, durable echo, plain echo); medians of the ratios."""
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus() if len(text) > 8]
    sides: list[Side] = [*backends, "durable", "echo"]
    results: dict[Side, list[Round]] = {side: [] for side in sides}
    pg = PgCluster(pg_fsync) if set(PG_SIDES) & set(backends) else None
    profile = os.environ.get("BENCH_PROFILE")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = keep or Path(tmp)
            for n in range(rounds):
                data = base / f"round{n}"
                (data / "postgresql").mkdir(parents=True, exist_ok=True)
                db = data / "j.db"
                if stored and n and not db.exists():  # one seeded copy, copied per round
                    shutil.copy(base / "round0" / "j.db.pristine", db)
                    db.with_name(db.name + ".seeded").touch()
                mark = f"(第{n}轮)"
                round_texts = [f"{t}{mark}" for t in texts]
                order = sides if n % 2 == 0 else sides[::-1]
                for side in order:
                    if side == "sqlite" and stored and n == 0 and not db.exists():
                        await _seed_once(db, stored)
                        shutil.copy(db, db.with_name("j.db.pristine"))
                    url = pg.database() if pg is not None and side in PG_SIDES else None
                    folder = data / side if side in PG_SIDES else data
                    folder.mkdir(parents=True, exist_ok=True)
                    results[side].append(
                        await run_one(
                            side,
                            users,
                            rate,
                            round_texts,
                            folder,
                            stored=stored,
                            pg_url=url,
                            processes=processes,
                            profile=f"{profile}.{side}.{n}" if profile else None,
                            postmaster=pg.postmaster() if url and pg else None,
                        )
                    )
                    if side in backends:
                        count = _count_ideas(side, folder, url, mark)
                        assert count == (users, users), f"{side}: ideas stored {count}"
            report(results, backends, users, rate, stored, rounds, processes, pg)
    finally:
        if pg is not None:
            pg.stop()


def report(
    results: Mapping[Side, list[Round]],
    backends: Sequence[Side],
    users: int,
    rate: float,
    stored: int,
    rounds: int,
    processes: int,
    pg: PgCluster | None,
) -> None:
    """The table: each side's medians, then the medians of the per-round ratios."""
    limit = f"{rate:g} messages/s (AIORateLimiter, all bots)" if rate else "none"
    print(
        f"{users} users, one idea each, pushed at once; {stored:,} ideas stored before;"
        f" overall send limit: {limit}; {rounds} alternating rounds; every idea stored"
        " exactly once and answered"
    )
    if pg is not None:
        many = f", and {processes} processes" if "pg_many" in backends else ""
        print(f"PostgreSQL: 1 process{many}; {pg.settings}")
    print()
    sides = list(results)
    labels = {**LABELS, "pg_many": f"jindianzi run, PostgreSQL, {processes} processes"}
    short = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "pg_many": f"PostgreSQL×{processes}"}
    ratios: list[tuple[str, Side, Side]] = []
    for pg_side in PG_SIDES:
        if pg_side in backends and "sqlite" in backends:
            ratios.append((f"{short[pg_side]} / SQLite", pg_side, "sqlite"))
    if "pg_many" in backends and "postgresql" in backends:
        ratios.append((f"{short['pg_many']} / PostgreSQL", "pg_many", "postgresql"))
    for ours in backends:
        ratios += [(f"{short[ours]} / durable", ours, "durable")]
    head = [labels[s] for s in sides] + [r[0] for r in ratios]
    print("| measure | " + " | ".join(head) + " |")
    print("| --- " * (len(head) + 1) + "|")

    def row(name: str, measure: dict[Side, list[float]], unit: str, digits: int) -> None:
        cells = [f"{statistics.median(measure[s]):,.{digits}f}{unit}" for s in sides]
        for _, a, b in ratios:
            per_round = [x / y for x, y in zip(measure[a], measure[b], strict=True)]
            cells.append(f"{statistics.median(per_round):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    row("ideas/s (median)", {s: [users / r.seconds for r in results[s]] for s in sides}, "", 0)
    for q in (50, 99):
        measure = {s: [quantile(r.latencies, q) for r in results[s]] for s in sides}
        row(f"p{q} update → reply (median)", measure, " s", 2)
    cpu = {s: [1000 * r.bot_cpu / users for r in results[s]] for s in sides}
    row("bot CPU per idea (median)", cpu, " ms", 1)
    print()
    for pg_side in PG_SIDES:
        if pg_side not in backends:
            continue
        server = [1000 * (r.server_cpu or 0.0) / users for r in results[pg_side]]
        bot = cpu[pg_side]
        both = [a + b for a, b in zip(bot, server, strict=True)]
        print(
            f"{labels[pg_side]}: server CPU per idea (median) {statistics.median(server):.1f} ms;"
            f" bot and server together {statistics.median(both):.1f} ms"
        )
    for side in backends:
        per_round = ", ".join(f"{users / r.seconds:.0f}" for r in results[side])
        cpu_rounds = ", ".join(f"{1000 * r.bot_cpu / users:.1f}" for r in results[side])
        print(f"{labels[side]}: ideas/s per round: {per_round}; bot CPU ms per idea: {cpu_rounds}")
        if side == "pg_many":
            split = "; ".join(
                "/".join(f"{t:.1f}" for t in r.process_cpu or []) for r in results[side]
            )
            print(f"{labels[side]}: CPU seconds of each process per round: {split}")


@dataclass(slots=True)
class Failover:
    """One failover round: how long after the SIGKILL the standby polled, sent its first
    reply, and answered the first update sent after the kill."""

    to_poll: float
    to_any_reply: float
    to_reply: float
    killed_sender: bool
    before: int
    after: int


def _lease_holders(url: str) -> dict[str, int]:
    """Lease name → the pid of its holder, from `leases` (whose row the holder writes; true
    while no holder has died, as before the kill)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(b"SELECT name, pid FROM leases").fetchall()
    return {str(name): int(pid) for name, pid in rows}


async def failover_round(
    users: int, texts: list[str], data: Path, pg: PgCluster, processes: int
) -> Failover:
    """`processes` `jindianzi run` on one fresh PostgreSQL database; half the users send an
    idea, and once a quarter are answered the polling lease's holder is SIGKILLed and the
    other half send theirs. Measured from the kill: the first getUpdates (the standby took
    the lease) and the first reply to an update sent after the kill. Every idea must be
    stored once and every user answered."""
    url = pg.database()
    env = _storage_env("pg_many", data, url)
    await _create(env)
    await asyncio.to_thread(_seed_pg_people, url, users, FIRST_USER)
    mark = f"(切换{data.name})"
    async with FakeTelegram(token=TOKEN) as tg:
        env.update(
            {
                "JINDIANZI_TELEGRAM_TOKEN": TOKEN,
                "JINDIANZI_TELEGRAM_BASE_URL": f"{tg.url}/bot",
                "JINDIANZI_TELEGRAM_BASE_FILE_URL": f"{tg.url}/file/bot",
                "JINDIANZI_TELEGRAM_MAX_MESSAGES_PER_SECOND": "100000",
            }
        )
        procs = await asyncio.to_thread(start_app_processes, processes, env)
        try:
            await tg.wait_for(lambda method, _: method == "getUpdates", timeout=60)
            half = users // 2
            answered: dict[int, float] = {}
            seen = 0

            def look() -> None:
                nonlocal seen
                fresh, seen = tg.calls[seen:], len(tg.calls)
                for method, params in fresh:
                    if method == "sendMessage" and "chat_id" in params:
                        answered.setdefault(int(params["chat_id"]), params["received_at"])

            for n in range(half):
                tg.push_text(FIRST_USER + n, texts[n % len(texts)] + f"(第{n}号){mark}")
            while len(answered) < users // 4:
                look()
                await asyncio.sleep(0.01)
            holders = await asyncio.to_thread(_lease_holders, url)
            poller = holders[f"telegram-polling:{TOKEN.partition(':')[0]}"]
            victim = next(p for p in procs if p.pid == poller)
            sender = any(k.startswith("outbox:") and v == poller for k, v in holders.items())
            look()
            victim.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            for n in range(half, users):
                tg.push_text(FIRST_USER + n, texts[n % len(texts)] + f"(第{n}号){mark}")
            await asyncio.to_thread(victim.wait, 10)
            calls_at_kill = len(tg.calls)  # the victim's last poll may land just after the kill
            while len(answered) < users:
                look()
                await asyncio.sleep(0.01)
                if time.perf_counter() - killed > 300:
                    raise TimeoutError(f"only {len(answered)} of {users} answered")
            polls = [
                p["received_at"]
                for method, p in tg.calls[calls_at_kill:]
                if method == "getUpdates" and "received_at" in p
            ]
            late = [t for chat, t in answered.items() if chat >= FIRST_USER + half]
            alive = [p for p in procs if p is not victim]
            gone = [p.returncode for p in alive if p.poll() is not None]
            if gone:
                raise RuntimeError(f"a surviving process ended (exit codes {gone})")
        finally:
            await _stop([p for p in procs if p.poll() is None])
    count = _count_ideas("pg_many", data, url, mark)
    assert count == (users, users), f"failover: ideas stored {count}"
    return Failover(
        to_poll=min(polls) - killed if polls else float("nan"),
        to_any_reply=min(t for t in answered.values() if t > killed) - killed,
        to_reply=min(late) - killed,
        killed_sender=sender,
        before=half,
        after=users - half,
    )


async def failover(users: int, rounds: int, processes: int, pg_fsync: bool) -> None:
    """`failover_round` `rounds` times, each on a fresh database; the figures and medians."""
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus() if len(text) > 8]
    pg = PgCluster(pg_fsync)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            found = []
            for n in range(rounds):
                data = Path(tmp) / f"failover{n}"
                data.mkdir()
                found.append(await failover_round(users, texts, data, pg, processes))
                f = found[-1]
                print(
                    f"round {n}: standby polled {f.to_poll:.2f} s after the SIGKILL, first reply"
                    f" {f.to_any_reply:.2f} s after it, first reply to an update sent after it"
                    f" {f.to_reply:.2f} s (behind the backlog, oldest first); the killed poller"
                    f" {'also' if f.killed_sender else 'did not'} held the outbox lease;"
                    f" {f.before} + {f.after} ideas, each stored once and answered",
                    flush=True,
                )
    finally:
        pg.stop()
    print(
        f"{processes} processes, {users} users; {pg.settings}; medians over {rounds} rounds:"
        f" to the standby's first poll {statistics.median(f.to_poll for f in found):.2f} s,"
        f" to the first reply {statistics.median(f.to_any_reply for f in found):.2f} s,"
        f" to the first reply after the kill {statistics.median(f.to_reply for f in found):.2f} s"
        f" (worst {max(f.to_reply for f in found):.2f} s)"
    )


async def _seed_once(db: Path, stored: int) -> None:
    """Create, migrate and seed the SQLite database (people and ideas) for the first round."""
    await _create({**_clean_env(), "JINDIANZI_STORAGE_PATH": str(db)})
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
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="the bot's storage; both: SQLite and PostgreSQL alternating in the same run",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="with N > 1, PostgreSQL is run twice a round: one process, and N processes",
    )
    parser.add_argument(
        "--failover",
        action="store_true",
        help="instead of the rounds: N (at least 2) processes, the poller SIGKILLed mid-burst",
    )
    parser.add_argument(
        "--pg-fsync",
        choices=["on", "off"],
        default="on",
        help="on: a durable PostgreSQL, as in service; off: the test cluster's fsync=off",
    )
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder")
    args = parser.parse_args()
    backends: list[Side] = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.processes > 1 and "postgresql" in backends:
        backends.append("pg_many")
    if args.stored and "postgresql" in backends:
        parser.error("--stored seeds SQLite only (benchmarks.scale.seed)")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.failover:
        if args.processes < 2:
            parser.error("--failover needs --processes 2 or more")
        asyncio.run(failover(args.users, args.rounds, args.processes, args.pg_fsync == "on"))
        return
    asyncio.run(
        run(
            args.users,
            args.rate,
            args.stored,
            args.rounds,
            args.keep,
            backends,
            args.processes,
            args.pg_fsync == "on",
        )
    )


if __name__ == "__main__":
    main()
