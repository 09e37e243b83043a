"""A mining group on one PostgreSQL database: 100 mines × 1,130 people, 1,000,000 ideas (issue 20).

    .venv/bin/python -m benchmarks.group_scale [--mines 100] [--ideas-per-mine 10000]
        [--people 1130] [--rounds 3] [--lookups 500] [--group-lookups 8]
        [--group-export-rounds 1] [--keep DIR]

Seeds (once; `--keep DIR` keeps the cluster, the SQLite file and the configs for the next run)
three databases with the same generator, each mine from its own random seed:

- **group**: one PostgreSQL database with mines m001 … m100 and the group office (集团党委,
  mine `office`, one leader), each mine the case's organisation (6 departments, 42 branches),
  1,130 people (1,073 workers, 42 secretaries, 9 leaders, 6 supervisors), `--ideas-per-mine`
  ideas of a year (the shipped corpus texts with a few words of their own, as benchmarks.seed
  makes them) with their similarity terms (`idea_terms`, whose tsvector the adapter indexes,
  and `idea_term_docs`), 42 bound branch groups and ten months of scores. Loaded with COPY as
  the superuser, each mine in a transaction of its own with `jindianzi.mine` set to it (so
  the column default and row-level security's WITH CHECK stamp the mine);
- **alone**: a PostgreSQL database of one mine (no `mines:` section) holding m001's rows;
- **sqlite**: the same one mine in a SQLite file.

The cluster is the tests' (`tests.storage_backends`), restarted durable as
benchmarks.telegram_burst does; the app connects as the ordinary role `APP_ROLE`, so row-level
security binds it. Then, in alternating rounds (the order of the sides reversed every other
round), with the app's own code (`open_app` on the group's config of 100 mines + the office):

- a mine leader's `/stats` through the router (console identity, found by the mine router),
- the group office's `/stats` (every mine's figures and the ranking; group side only),
- `jindianzi export x.xlsx` of one mine (`--mine m001` on the group) and
  `jindianzi export --group` (group side only), each a fresh process: wall time, peak RSS,
- `run_job(services, "monthly_scores", …, force=True)` for one mine, and for every mine one
  after another (group side only), with the notices queued,
- `similar_ideas` (what the router's prepare step runs for a submission) for `--lookups`
  corpus texts (`--group-lookups` in random mines on the group side, where each takes
  seconds: see BENCHMARKS.md): p50 / p99.

Reported: medians over the rounds, and the ratio of the group's one mine to one mine alone on
PostgreSQL (what the tenancy costs) and to SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg
import yaml

from benchmarks.seed import FILLER, NOW, STATUSES, _stamp, _times
from tests.storage_backends import (
    APP_ROLE,
    Cluster,
    PostgresServer,
    _free_port,
    pg_bin_dir,
    start_cluster,
    with_database,
)

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "read_child.py"
BRANCHES = 42
SECRETARIES, LEADERS, SUPERVISORS = BRANCHES, 9, 6
MONTHLY_AT = datetime.fromisoformat("2026-11-01T09:00:00+08:00")
"""The monthly job's moment: October's scores (seeded) go to every bound branch group."""
OFFICE = "office"
GROUP_DB, ALONE_DB = "jindianzi_group", "jindianzi_alone"

Side = Literal["group", "alone", "sqlite"]
SIDES: tuple[Side, ...] = ("group", "alone", "sqlite")
LABELS: dict[Side, str] = {
    "group": "one mine of the group, PostgreSQL",
    "alone": "one mine alone, PostgreSQL",
    "sqlite": "one mine alone, SQLite",
}


def mine_id(n: int) -> str:
    return f"m{n:03d}"


# --- configuration -----------------------------------------------------------------------


def organisation() -> dict[str, Any]:
    """The case's organisation: the shipped departments and branches, extended to 42 branches
    as benchmarks.seed.write_config does."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    org: dict[str, Any] = config["org"]
    departments = [d["id"] for d in org["departments"]]
    branches = [dict(b) for b in org["branches"]]
    for b in branches:
        b.pop("telegram_chat_id", None)
    for n in range(len(branches), BRANCHES):
        branches.append(
            {"id": f"b{n:02d}", "name": f"第{n}党支部", "department": departments[n % 6]}
        )
    return {"departments": org["departments"], "branches": branches}


def shipped_config() -> str:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    return text.replace("sample_roster: bot/sample_roster.csv", "sample_roster: null")


def write_configs(folder: Path, mines: int) -> dict[Side, Path]:
    """The group's config (a `mines:` section of `mines` mines and the office, a file each)
    and the one-mine configs (the case's organisation in place of the shipped one)."""
    org = organisation()
    for n in range(1, mines + 1):
        (folder / f"{mine_id(n)}.yaml").write_text(
            yaml.safe_dump({"org": org}, allow_unicode=True), encoding="utf-8"
        )
    (folder / f"{OFFICE}.yaml").write_text(
        "org:\n  departments: [{id: zzb, name: 组织部}]\n"
        "  branches: [{id: jg, name: 集团机关支部, department: zzb}]\n",
        encoding="utf-8",
    )
    listed = "".join(
        f"  - {{id: {mine_id(n)}, name: 第{n:03d}矿, config: {mine_id(n)}.yaml}}\n"
        for n in range(1, mines + 1)
    )
    listed += f"  - {{id: {OFFICE}, name: 集团党委, config: {OFFICE}.yaml, group: true}}\n"
    group = folder / "group.yaml"
    group.write_text(shipped_config() + "\nmines:\n" + listed, encoding="utf-8")
    one = yaml.safe_load(shipped_config())
    one["org"] = org
    alone = folder / "alone.yaml"
    alone.write_text(yaml.safe_dump(one, allow_unicode=True), encoding="utf-8")
    return {"group": group, "alone": alone, "sqlite": alone}


def side_env(side: Side, folder: Path, urls: dict[str, str]) -> dict[str, str]:
    """The app's environment for `side`: its data folder and, on PostgreSQL, the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
    data = folder / f"data-{side}"
    data.mkdir(exist_ok=True)
    env["JINDIANZI_STORAGE_PATH"] = str(folder / "alone.db" if side == "sqlite" else data / "j.db")
    if side != "sqlite":
        env["JINDIANZI_STORAGE_URL"] = urls[side]
    return env


# --- one mine's rows -----------------------------------------------------------------------


@dataclass(slots=True)
class MineRows:
    """Every row one mine is seeded with, as tuples in the column order of `COLUMNS` (its
    departments and branches are the configured ones, which the app mirrors)."""

    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


COLUMNS: dict[str, tuple[str, ...]] = {
    "people": ("id", "employee_no", "name", "branch_id", "created_at", "updated_at"),
    "roles": ("person_id", "role", "department_id"),
    "identities": ("channel", "external_id", "person_id", "bound_at"),
    "ideas": (
        "id",
        "author_id",
        "branch_id",
        "text",
        "category",
        "confidence",
        "confirmed",
        "status",
        "channel",
        "created_at",
        "updated_at",
    ),
    "idea_terms": ("id", "terms"),
    "idea_term_docs": ("term", "docs"),
    "group_bindings": ("channel", "chat_id", "branch_id", "active", "bound_at", "updated_at"),
    "score_entries": ("branch_id", "month", "part", "value", "person_id", "created_at"),
    "closed_months": ("month", "closed_by", "closed_at"),
}


class Generator:
    """The rows of mine number n: its own random seed, the shipped corpus (tokenised once)."""

    def __init__(self, people: int, ideas: int) -> None:
        from bot.app import build_classifier
        from bot.config import load_config
        from nlp.training import load_corpus

        self.people, self.ideas = people, ideas
        self.corpus = load_corpus()
        classifier = build_classifier(load_config(ROOT / "config.yaml", {}))
        self.terms = [classifier.terms(text) for _, text in self.corpus]
        self.org = organisation()

    def rows(self, n: int, identity: str) -> MineRows:
        """Mine n's rows; its leader L000's console identity is `identity`."""
        rng = random.Random(n)
        out = MineRows()
        t = out.tables
        made = _stamp(NOW - timedelta(days=400))
        departments = [d["id"] for d in self.org["departments"]]
        branches = [b["id"] for b in self.org["branches"]]
        first_person = n * 10_000  # ids are unique across mines, as the identity column gives
        workers = self.people - SECRETARIES - LEADERS - SUPERVISORS
        weights = [1 / (i + 1) ** 0.6 for i in range(len(branches))]
        people: list[tuple[Any, ...]] = []
        roles: list[tuple[Any, ...]] = []
        for w in range(workers):
            branch = rng.choices(branches, weights)[0] if w else branches[0]
            people.append((first_person + len(people), f"W{w:05d}", f"工人{w}", branch))
            roles.append((people[-1][0], "worker", None))
        for i, branch in enumerate(branches):
            people.append((first_person + len(people), f"S{i:03d}", f"书记{i}", branch))
            roles.append((people[-1][0], "secretary", None))
        leader = first_person + len(people)
        for i in range(LEADERS):
            people.append((first_person + len(people), f"L{i:03d}", f"领导{i}", branches[-1]))
            roles.append((people[-1][0], "leader", None))
        for i, department in enumerate(departments):
            people.append((first_person + len(people), f"D{i:03d}", f"督导{i}", branches[i]))
            roles.append((people[-1][0], "supervisor", department))
        t["people"] = [(*p, made, made) for p in people]
        t["roles"] = roles
        t["identities"] = [("console", identity, leader, made)]
        worker_rows = people[:workers]
        heavy = worker_rows[0]
        statuses, status_weights = zip(*STATUSES, strict=True)
        month_ago = _stamp(NOW - timedelta(days=30))
        first_idea = n * 1_000_000
        ideas: list[tuple[Any, ...]] = []
        terms: list[tuple[Any, ...]] = []
        docs: Counter[str] = Counter()
        for k, created in enumerate(_times(rng, self.ideas, NOW), start=1):
            idea_id = first_idea + k
            author = heavy if rng.random() < 0.01 else rng.choice(worker_rows)
            pick = rng.randrange(len(self.corpus))
            category, text = self.corpus[pick]
            text = text + "".join(rng.sample(FILLER, 3)) + f"{idea_id}号"
            recent = created >= month_ago
            status = (
                "submitted"
                if recent and rng.random() < 0.8
                else rng.choices(statuses, status_weights)[0]
            )
            confirmed = int(rng.random() < 0.6)
            ideas.append(
                (
                    idea_id,
                    author[0],
                    author[3],
                    text,
                    category,
                    round(rng.random(), 3),
                    confirmed,
                    status,
                    "telegram",
                    created,
                    created,
                )
            )
            own = [*self.terms[pick], f"{idea_id}号"]
            terms.append((idea_id, " ".join(own)))
            docs.update({w.lower() for w in own})
        docs[""] = self.ideas
        t["ideas"], t["idea_terms"] = ideas, terms
        t["idea_term_docs"] = list(docs.items())
        t["group_bindings"] = [
            ("telegram", f"-{n * 1000 + i}", b, 1, made, made) for i, b in enumerate(branches)
        ]
        t["score_entries"] = [
            (b, f"2026-{month:02d}", part, rng.randint(60, 100), leader, made)
            for month in range(1, 11)
            for b in branches
            for part in ("base", "self", "dept", "leader")
        ]
        t["closed_months"] = [(f"2026-{month:02d}", leader, made) for month in range(1, 11)]
        return out


def office_rows(identity: str) -> MineRows:
    made = _stamp(NOW - timedelta(days=400))
    person = 9_999_999
    return MineRows(
        {
            "people": [(person, "G000", "集团领导", "jg", made, made)],
            "roles": [(person, "leader", None)],
            "identities": [("console", identity, person, made)],
        }
    )


# --- loading -------------------------------------------------------------------------------


def _copy_text(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """Rows in COPY's text format."""
    out = io.StringIO()
    for row in rows:
        cells = []
        for v in row:
            if v is None:
                cells.append("\\N")
            else:
                s = str(v)
                cells.append(s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n"))
        out.write("\t".join(cells) + "\n")
    return out.getvalue().encode("utf-8")


def load_pg(conn: psycopg.Connection[Any], mine: str, rows: MineRows) -> None:
    """One mine's rows by COPY in one transaction as `mine` (the superuser's connection)."""
    with conn.transaction():
        conn.execute("SELECT set_config('jindianzi.mine', %s, true)", (mine,))
        with conn.cursor() as cur:
            for table, data in rows.tables.items():
                if not data:
                    continue
                columns = ", ".join(COLUMNS[table])
                if table == "idea_term_docs":  # the migration's count of no ideas
                    cur.execute(b"DELETE FROM idea_term_docs WHERE mine = %s", (mine,))
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN".encode()) as copy:
                    copy.write(_copy_text(data))
                if table == "idea_terms":  # the postings IdeaRepo.index_terms writes with them
                    cur.execute(
                        b"INSERT INTO idea_term_postings (term, idea_id) SELECT DISTINCT"
                        b" lower(w), t.id FROM idea_terms t,"
                        b" regexp_split_to_table(t.terms, '\\s+') AS w WHERE t.mine = %s"
                        b" AND w <> ''",
                        (mine,),
                    )


def load_sqlite(path: Path, rows: MineRows) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a fixture: durability is moot here
        conn.execute("BEGIN")
        for table, data in rows.tables.items():
            columns = list(COLUMNS[table])
            if table == "idea_terms":
                columns = ["rowid", "terms"]
            marks = ", ".join("?" * len(columns))
            if table == "idea_term_docs":
                conn.execute("DELETE FROM idea_term_docs")
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", data)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def migrate(env: dict[str, str], config: Path) -> None:
    """The project's migrations and every configured mine's organisation, as the app does."""
    from bot.app import open_mines
    from bot.config import load_config

    async with open_mines(load_config(config, env)):
        pass


def _secondary_indexes(conn: psycopg.Connection[Any], tables: Sequence[str]) -> list[str]:
    """The definitions of the non-unique indexes of `tables` (rebuilt after a bulk load)."""
    found = conn.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE NOT i.indisunique AND i.indrelid::regclass::text = ANY (%s)",
        (list(tables),),
    ).fetchall()
    return [str(r[0]) for r in found]


def seed_all(
    server: PostgresServer, folder: Path, configs: dict[Side, Path], mines: int, gen: Generator
) -> dict[str, float]:
    """Create and fill the three databases; seconds each took."""
    seconds: dict[str, float] = {}
    for name in (GROUP_DB, ALONE_DB):
        with server.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}'.encode())
    urls = {
        "group": with_database(server.url, GROUP_DB),
        "alone": with_database(server.url, ALONE_DB),
    }
    for side in SIDES:
        if side == "sqlite":
            (folder / "alone.db").unlink(missing_ok=True)
        asyncio.run(migrate(side_env(side, folder, urls), configs[side]))
    # the group: every mine, indexes on ideas and idea_terms rebuilt after the load
    start = time.perf_counter()
    with psycopg.connect(server.as_admin(urls["group"]), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        bulky = ("ideas", "idea_terms")
        indexes = _secondary_indexes(conn, bulky)
        for definition in indexes:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            conn.execute(f"DROP INDEX {name}".encode())
        load_pg(conn, OFFICE, office_rows(f"local-{OFFICE}-G000"))
        for n in range(1, mines + 1):
            load_pg(conn, mine_id(n), gen.rows(n, f"local-{mine_id(n)}-L000"))
            if n % 10 == 0:
                print(f"  seeded {n} mines, {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for definition in indexes:
            conn.execute(definition.encode())
        _after_load(conn)
    seconds["group"] = time.perf_counter() - start
    # one mine alone: mine 1's rows
    rows = gen.rows(1, "local-L000")
    start = time.perf_counter()
    with psycopg.connect(server.as_admin(urls["alone"]), autocommit=True) as conn:
        load_pg(conn, "main", rows)
        _after_load(conn)
    seconds["alone"] = time.perf_counter() - start
    start = time.perf_counter()
    load_sqlite(folder / "alone.db", rows)
    seconds["sqlite"] = time.perf_counter() - start
    return seconds


def _after_load(conn: psycopg.Connection[Any]) -> None:
    """Identity sequences past the ids given, and the planner's statistics (autovacuum would
    gather them soon after such a load in service)."""
    for table in ("people", "ideas"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT max(id) FROM {table}) + 1, false)".encode()
        )
    conn.execute("VACUUM ANALYZE")


# --- the cluster ---------------------------------------------------------------------------


def kept_cluster(folder: Path) -> Cluster:
    """A durable cluster in `folder`/pg (initdb'd the first time), on a free port."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise SystemExit("no initdb/pg_ctl found")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pg = folder / "pg"
    data = pg / "data"
    pg.mkdir(parents=True, exist_ok=True)
    if prefix:
        shutil.chown(pg, user="postgres", group="postgres")
    if not data.exists():
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "--auth=trust"]
        initdb += ["--username=postgres", "--encoding=UTF8", "--locale=C"]
        subprocess.run([*prefix, *initdb], capture_output=True, check=True)
    port = _free_port()
    options = f"-k {pg} -p {port} -c listen_addresses='' -c max_connections=200"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(pg / "server.log"), "-w"]
    subprocess.run([*prefix, *pg_ctl, "-o", options, "start"], capture_output=True, check=True)
    query = urllib.parse.urlencode({"host": str(pg), "port": str(port)})
    return Cluster(pg, bin_dir, prefix, f"postgresql://postgres@/postgres?{query}")


def stop_kept(cluster: Cluster) -> None:
    data = str(cluster.folder / "data")
    pg_ctl = [str(cluster.bin_dir / "pg_ctl"), "-D", data, "-m", "fast", "stop"]
    subprocess.run([*cluster.prefix, *pg_ctl], capture_output=True, check=False)


# --- measuring -----------------------------------------------------------------------------


def quantile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def measure_app(
    side: Side, env: dict[str, str], config_path: Path, mines: int, lookups: int, seed_value: int
) -> dict[str, Any]:
    """The in-process measurements of one side in one round."""
    from bot.app import open_app
    from bot.config import load_config
    from handlers.messages import Incoming
    from handlers.rules.ideas import similar_ideas
    from nlp.training import load_corpus
    from scheduler.runner import run_job

    found: dict[str, Any] = {}
    config = load_config(config_path, env)
    start = time.perf_counter()
    async with open_app(config) as app:
        found["open_app"] = time.perf_counter() - start
        _noted(side, found, "open_app")
        group = side == "group"
        first = mine_id(1) if group else next(iter(app.tenants.services))
        services = app.tenants.services[first]

        async def dispatch(sender: str, on: Any) -> float:
            msg = Incoming(
                channel="console",
                update_id=f"bench-{time.time_ns()}",
                chat_id=sender,
                sender_id=sender,
                text="/stats",
            )
            begin = time.perf_counter()
            outcome = await app.router.dispatch(msg, on)
            elapsed = time.perf_counter() - begin
            assert outcome.replies and "统计" in outcome.replies[0].text, outcome
            return elapsed

        leader = f"local-{first}-L000" if group else "local-L000"
        found["stats"] = await dispatch(leader, services)
        _noted(side, found, "stats")
        if group:
            found["group_stats"] = await dispatch(f"local-{OFFICE}-G000", app.tenants.main)
            _noted(side, found, "group_stats")
        begin = time.perf_counter()
        result = await run_job(services, "monthly_scores", MONTHLY_AT, force=True)
        found["monthly_one"] = time.perf_counter() - begin
        _noted(side, found, "monthly_one")
        found["monthly_one_queued"] = result.queued
        if group:
            queued = 0
            begin = time.perf_counter()
            for n in range(1, mines + 1):
                done = await run_job(
                    app.tenants.services[mine_id(n)], "monthly_scores", MONTHLY_AT, force=True
                )
                queued += done.queued
            found["monthly_all"] = time.perf_counter() - begin
            _noted(side, found, "monthly_all")
            found["monthly_all_queued"] = queued
        rng = random.Random(seed_value)
        texts = [text for _, text in load_corpus() if len(text) > 8]
        times: list[float] = []
        for k in range(lookups):
            if k and k % 20 == 0:
                print(f"  {side}: {k} lookups", file=sys.stderr, flush=True)
            on = app.tenants.services[mine_id(rng.randint(1, mines))] if group else services
            words = on.classifier.terms("建议" + rng.choice(texts))
            begin = time.perf_counter()
            await similar_ideas(on, words)
            times.append(time.perf_counter() - begin)
        found["lookups"] = times
    return found


def _noted(side: Side, found: dict[str, Any], key: str) -> None:
    """Say one figure as soon as it is measured (a long run's partial results survive)."""
    print(f"  {side}: {key} = {found[key]:.2f}", file=sys.stderr, flush=True)


def run_cli(env: dict[str, str], args: Sequence[str], out: Path) -> dict[str, Any]:
    """`jindianzi ARGS` in a fresh process (benchmarks/read_child.py): seconds, peak RSS."""
    result = out.with_suffix(".json")
    child_env = {**env, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(CHILD), str(result), "cli", *args],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    found["wall"] = wall
    found["stdout"] = done.stdout.strip()
    return found


def clean_queues(server: PostgresServer, urls: dict[str, str], folder: Path) -> None:
    """Forget what earlier rounds queued (the outbox, the inbox, the job ledger)."""
    for side in ("group", "alone"):
        with psycopg.connect(server.as_admin(urls[side]), autocommit=True) as conn:
            for table in ("outbox", "inbox", "job_runs"):
                conn.execute(f"DELETE FROM {table}".encode())
    with sqlite3.connect(folder / "alone.db") as lite:
        for table in ("outbox", "inbox", "job_runs"):
            lite.execute(f"DELETE FROM {table}")


def run(args: argparse.Namespace) -> None:
    folder: Path = args.keep or Path(tempfile_dir())
    folder.mkdir(parents=True, exist_ok=True)
    if args.keep:
        cluster = kept_cluster(folder)
    else:
        from benchmarks.telegram_burst import _restart_durable

        cluster = start_cluster()
        _restart_durable(cluster)
    try:
        server = PostgresServer(cluster.url)
        urls = {
            "group": with_database(server.url, GROUP_DB),
            "alone": with_database(server.url, ALONE_DB),
        }
        configs = write_configs(folder, args.mines)
        marker = folder / "seeded.json"
        wanted = {"mines": args.mines, "people": args.people, "ideas": args.ideas_per_mine}
        seeded = json.loads(marker.read_text()) if marker.exists() else {}
        if seeded.get("wanted") != wanted:
            print("seeding …", file=sys.stderr, flush=True)
            gen = Generator(args.people, args.ideas_per_mine)
            seconds = seed_all(server, folder, configs, args.mines, gen)
            seeded = {"wanted": wanted, "seconds": seconds}
            marker.write_text(json.dumps(seeded))
        print(f"seeded: {seeded}", file=sys.stderr, flush=True)
        report(measure_rounds(args, server, urls, folder, configs), seeded, args)
    finally:
        if args.keep:
            stop_kept(cluster)
        else:
            cluster.stop()
            shutil.rmtree(folder, ignore_errors=True)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="group-scale-")


def measure_rounds(
    args: argparse.Namespace,
    server: PostgresServer,
    urls: dict[str, str],
    folder: Path,
    configs: dict[Side, Path],
) -> dict[Side, list[dict[str, Any]]]:
    samples: dict[Side, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for round_no in range(args.rounds):
        order = SIDES if round_no % 2 == 0 else tuple(reversed(SIDES))
        clean_queues(server, urls, folder)
        for side in order:
            env = side_env(side, folder, urls)
            lookups = args.group_lookups if side == "group" else args.lookups
            found = asyncio.run(
                measure_app(side, env, configs[side], args.mines, lookups, round_no)
            )
            config = str(configs[side])
            mine = ["--mine", mine_id(1)] if side == "group" else []
            out = folder / f"{side}-one.xlsx"
            found["export_one"] = run_cli(env, ["--config", config, "export", str(out), *mine], out)
            if side == "group" and round_no < args.group_export_rounds:
                out = folder / "group-all.xlsx"
                found["export_group"] = run_cli(
                    env, ["--config", config, "export", str(out), "--group"], out
                )
            samples[side].append(found)
            lookups = found["lookups"]
            print(
                f"r{round_no + 1} {side}: open {found['open_app']:.2f} s, /stats"
                f" {found['stats']:.2f} s"
                + (f", group /stats {found['group_stats']:.2f} s" if "group_stats" in found else "")
                + f", monthly one {found['monthly_one']:.2f} s ({found['monthly_one_queued']})"
                + (
                    f", monthly all {found['monthly_all']:.2f} s ({found['monthly_all_queued']})"
                    if "monthly_all" in found
                    else ""
                )
                + f", export one {found['export_one']['wall']:.2f} s"
                f" {found['export_one']['vmhwm_kb'] / 1024:.0f} MB"
                + (
                    f", export --group {found['export_group']['wall']:.2f} s"
                    f" {found['export_group']['vmhwm_kb'] / 1024:.0f} MB"
                    if "export_group" in found
                    else ""
                )
                + f", similar p50 {1000 * quantile(lookups, 50):.1f} ms"
                f" p99 {1000 * quantile(lookups, 99):.1f} ms",
                file=sys.stderr,
                flush=True,
            )
    return samples


def report(
    samples: dict[Side, list[dict[str, Any]]], seeded: dict[str, Any], args: argparse.Namespace
) -> None:
    def med(side: Side, pick: Any) -> float | None:
        values = [pick(s) for s in samples[side]]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    measures: list[tuple[str, Any, str]] = [
        ("open_app (all configured mines)", lambda s: s["open_app"], "s"),
        ("mine leader /stats (router dispatch, charts drawn)", lambda s: s["stats"], "s"),
        ("group office /stats (every mine ranked)", lambda s: s.get("group_stats"), "s"),
        ("monthly_scores, one mine", lambda s: s["monthly_one"], "s"),
        ("monthly_scores, every mine", lambda s: s.get("monthly_all"), "s"),
        ("jindianzi export x.xlsx, one mine", lambda s: s["export_one"]["wall"], "s"),
        ("  its peak RSS", lambda s: s["export_one"]["vmhwm_kb"] / 1024, "MB"),
        (
            "jindianzi export --group",
            lambda s: s["export_group"]["wall"] if "export_group" in s else None,
            "s",
        ),
        (
            "  its peak RSS",
            lambda s: s["export_group"]["vmhwm_kb"] / 1024 if "export_group" in s else None,
            "MB",
        ),
    ]
    total = args.mines * args.ideas_per_mine
    print(
        f"{args.mines} mines × {args.people} people, {total:,} ideas ({args.ideas_per_mine:,} a"
        f" mine); {args.rounds} alternating rounds, medians; {args.lookups} lookups a round"
        f" ({args.group_lookups} on the group side);"
        f" seeded in {seeded['seconds']}"
    )
    print()
    print(
        f"| measure | {LABELS['group']} | {LABELS['alone']} (yardstick) | {LABELS['sqlite']}"
        " | group / alone | group / SQLite |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, pick, unit in measures:
        cells = []
        values = {side: med(side, pick) for side in SIDES}
        for side in SIDES:
            v = values[side]
            cells.append("" if v is None else (f"{v:.1f} {unit}" if unit != "s" else f"{v:.2f} s"))
        g, a, q = values["group"], values["alone"], values["sqlite"]
        cells.append(f"{g / a:.2f}" if g is not None and a else "")
        cells.append(f"{g / q:.2f}" if g is not None and q else "")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for q in (50, 99):
        pooled = {
            side: 1000 * quantile([t for s in samples[side] for t in s["lookups"]], q)
            for side in SIDES
        }
        g, a, lite = pooled["group"], pooled["alone"], pooled["sqlite"]
        print(
            f"| similar-idea lookup p{q}, every round's lookups pooled | {g:.1f} ms | {a:.1f} ms"
            f" | {lite:.1f} ms | {g / a:.2f} | {g / lite:.2f} |"
        )
    counts = {side: sum(len(s["lookups"]) for s in samples[side]) for side in SIDES}
    print()
    print(f"lookups pooled: {counts}")
    queued = [s.get("monthly_all_queued") for s in samples["group"]]
    one = [s["monthly_one_queued"] for s in samples["group"]]
    print()
    print(f"notices queued: one mine {one}, every mine {queued}")
    for s in samples["group"]:
        if "export_group" in s:
            print(f"group export: {s['export_group']['stdout']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mines", type=int, default=100)
    parser.add_argument("--people", type=int, default=1130)
    parser.add_argument("--ideas-per-mine", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=500, help="similar-idea lookups a round")
    parser.add_argument(
        "--group-lookups",
        type=int,
        default=8,
        help="lookups a round on the group side (each scans every mine's terms, seconds each)",
    )
    parser.add_argument("--group-export-rounds", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the cluster and the files here")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
