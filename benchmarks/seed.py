"""A mine's year of golden ideas, seeded fast for the scale benchmarks.

    .venv/bin/python -m benchmarks.seed DB_PATH --ideas 1000000

`write_config` extends the shipped config.yaml to 42 branches (the case's 39 plus a few) and
points it at the database; `seed` creates the schema with the project's own migrations and then
fills it with direct bulk inserts in one transaction: 5,000 workers spread unevenly over the
branches, one heavy user with 1 % of the ideas, a year of dates (fewer at weekends and at
night), the shipped corpus texts with a few words of their own, statuses as a year of reviews
leaves them, 72 key projects with linked ideas, progress, verified benefits, rewards, open
findings and the year's monthly scores, and the similarity index (each corpus text tokenised
once, plus each idea's own number term). The read-path benchmark uses it; the write-path one
can (`seed(path, n, config=write_config(...))`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from nlp.training import load_corpus

ROOT = Path(__file__).resolve().parent.parent
BRANCHES = 42
WORKERS = 5000
PROJECTS = 72
HEAVY_SHARE = 0.01
FILLER = "一二三四五六七八九十东西南北上下左右前后新旧大小高低长短快慢"
STATUSES = (
    ("submitted", 0.30),
    ("under_review", 0.08),
    ("adopted", 0.15),
    ("implemented", 0.06),
    ("rewarded", 0.03),
    ("not_adopted", 0.28),
    ("merged", 0.04),
    ("withdrawn", 0.06),
)
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
"""The seeded year ends here (a Tuesday, 10:00 in Shanghai)."""


@dataclass(frozen=True, slots=True)
class Seeded:
    path: Path
    ideas: int
    leader: str
    """Employee number of a leader with a console identity (local-<工号>)."""
    seconds: float


def write_config(path: Path, db: Path) -> Path:
    """config.yaml with 42 branches and the database at `db`; returns `path`."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    branches = config["org"]["branches"]
    departments = [d["id"] for d in config["org"]["departments"]]
    for n in range(len(branches), BRANCHES):
        branches.append(
            {"id": f"b{n:02d}", "name": f"第{n}党支部", "department": departments[n % 6]}
        )
    config.setdefault("storage", {})["path"] = str(db)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")  # as storage writes it


def _times(rng: random.Random, count: int, end: datetime) -> list[str]:
    """`count` moments of the year before `end`, oldest first: workdays and day shifts busier."""
    start = end - timedelta(days=365)
    out: list[datetime] = []
    while len(out) < count:
        moment = start + timedelta(seconds=rng.random() * 365 * 86400)
        local_hour = (moment.hour + 8) % 24
        weekend = (moment + timedelta(hours=8)).weekday() >= 5
        keep = (0.5 if weekend else 1.0) * (1.0 if 6 <= local_hour < 22 else 0.3)
        if rng.random() < keep:
            out.append(moment)
    out.sort()
    return [_stamp(m) for m in out]


async def _schema(path: Path, config: Path) -> None:
    """The project's migrations and the configured organisation."""
    from bot.app import open_storage
    from bot.config import load_config

    async with open_storage(load_config(config, {})):
        pass


def seed(
    path: Path,
    ideas: int,
    *,
    config: Path,
    seed_value: int = 1,
    now: datetime = NOW,
    terms: bool = True,
) -> Seeded:
    """Create and fill the database at `path` (it must not exist); see the module docstring.
    With `terms` the similarity index is filled too (else the app indexes every idea when it
    starts, which takes a quarter of an hour at 1M)."""
    started = time.perf_counter()
    asyncio.run(_schema(path, config))
    rng = random.Random(seed_value)
    corpus = load_corpus()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a benchmark fixture: durability is moot
        conn.execute("BEGIN")
        branches = [r[0] for r in conn.execute("SELECT id FROM branches ORDER BY rowid")]
        departments = [r[0] for r in conn.execute("SELECT id FROM departments ORDER BY rowid")]
        made = _stamp(now - timedelta(days=400))
        weights = [1 / (i + 1) ** 0.6 for i in range(len(branches))]  # some branches are big
        people = []
        for n in range(WORKERS):
            branch = rng.choices(branches, weights)[0] if n else branches[0]
            people.append((f"W{n:05d}", f"工人{n}", branch, made, made))
        for i, branch in enumerate(branches):
            people.append((f"S{i:03d}", f"书记{i}", branch, made, made))
        for i in range(9):
            people.append((f"L{i:03d}", f"领导{i}", branches[-1], made, made))
        for i in range(len(departments)):
            people.append((f"D{i:03d}", f"督导{i}", branches[i], made, made))
        conn.executemany(
            "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            people,
        )
        ids = {
            r[0]: (r[1], r[2])
            for r in conn.execute("SELECT employee_no, id, branch_id FROM people")
        }
        roles = [(ids[p[0]][0], "worker", None) for p in people[:WORKERS]]
        roles += [(ids[f"S{i:03d}"][0], "secretary", None) for i in range(len(branches))]
        roles += [(ids[f"L{i:03d}"][0], "leader", None) for i in range(9)]
        roles += [(ids[f"D{i:03d}"][0], "supervisor", d) for i, d in enumerate(departments)]
        conn.executemany(
            "INSERT INTO roles (person_id, role, department_id) VALUES (?, ?, ?)", roles
        )
        staff = [f"S{i:03d}" for i in range(len(branches))] + [f"L{i:03d}" for i in range(9)]
        conn.executemany(
            "INSERT INTO identities (channel, external_id, person_id, bound_at)"
            " VALUES (?, ?, ?, ?)",
            [("console", f"local-{no}", ids[no][0], made) for no in staff],
        )
        worker_ids = [ids[p[0]] for p in people[:WORKERS]]
        heavy = worker_ids[0]
        statuses, status_weights = zip(*STATUSES, strict=True)
        times = _times(rng, ideas, now)
        month_ago = _stamp(now - timedelta(days=30))

        picks: list[int] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            for n, created in enumerate(times, start=1):
                author, branch = heavy if rng.random() < HEAVY_SHARE else rng.choice(worker_ids)
                pick = rng.randrange(len(corpus))
                picks.append(pick)
                category, text = corpus[pick]
                text = text + "".join(rng.sample(FILLER, 3)) + f"{n}号"
                recent = created >= month_ago  # the last month is mostly not reviewed yet
                status = (
                    "submitted"
                    if recent and rng.random() < 0.8
                    else rng.choices(statuses, status_weights)[0]
                )
                yield (
                    n,
                    author,
                    branch,
                    text,
                    category,
                    round(rng.random(), 3),
                    int(rng.random() < 0.6),
                    status,
                    "telegram",
                    created,
                    created,
                )

        conn.executemany(
            "INSERT INTO ideas (id, author_id, branch_id, text, category, confidence, confirmed,"
            " status, channel, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        if terms:
            _index_terms(conn, config, corpus, picks)
        leader = ids["L000"][0]
        for p in range(1, PROJECTS + 1):
            created = _stamp(now - timedelta(days=300 - p * 3))
            conn.execute(
                "INSERT INTO projects (id, title, category, lead_id, expected_benefit_fen,"
                " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (p, f"重点项目{p}", corpus[p][0], leader, 5_000_000 * p, leader, created, created),
            )
            for branch in rng.sample(branches, rng.randint(1, 3)):
                conn.execute(
                    "INSERT INTO project_branches (project_id, branch_id) VALUES (?, ?)",
                    (p, branch),
                )
            for idea in rng.sample(range(1, ideas + 1), min(ideas, 4)):
                conn.execute("INSERT OR IGNORE INTO project_ideas VALUES (?, ?)", (idea, p))
            for k in range(4):
                at = _stamp(now - timedelta(days=200 - p - k * 20))
                conn.execute(
                    "INSERT INTO project_progress (project_id, person_id, percent, text,"
                    " created_at) VALUES (?, ?, ?, ?, ?)",
                    (p, leader, 20 * (k + 1), f"第{k + 1}阶段完成", at),
                )
                conn.execute(
                    "INSERT INTO benefits (project_id, amount_fen, text, claimed_by, status,"
                    " decided_by, decided_at, created_at) VALUES (?, ?, ?, ?, 'verified', ?, ?, ?)",
                    (p, rng.randint(10_000, 5_000_000), "月度效益", leader, leader, at, at),
                )
        for n in range(300):
            branch = rng.choice(branches)
            at = _stamp(now - timedelta(days=rng.randint(1, 120)))
            department = departments[branches.index(branch) % 6]
            conn.execute(
                "INSERT INTO findings (branch_id, department_id, text, status, raised_by,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (branch, department, f"问题{n}", rng.choice(["open", "resolved"]), leader, at, at),
            )
        for month in range(1, 11):
            for branch in branches:
                for part in ("base", "self", "dept", "leader"):
                    conn.execute(
                        "INSERT INTO score_entries (branch_id, month, part, value, person_id,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (branch, f"2026-{month:02d}", part, rng.randint(60, 100), leader, made),
                    )
        conn.execute("COMMIT")  # no ANALYZE: a live database has none either
    finally:
        conn.close()
    return Seeded(path, ideas, "L000", time.perf_counter() - started)


def _index_terms(
    conn: sqlite3.Connection, config: Path, corpus: list[tuple[str, str]], picks: list[int]
) -> None:
    """Each idea's terms: its corpus text's (tokenised once per text) plus its own number, so
    document counts are the corpus's, scaled; as `IdeaRepo.index_terms` stores them."""
    from bot.app import build_classifier
    from bot.config import load_config

    classifier = build_classifier(load_config(config, {}))
    base = [classifier.terms(text) for _, text in corpus]
    docs: Counter[str] = Counter()
    for pick in picks:
        docs.update({t.lower() for t in base[pick]})
    conn.executemany(
        "INSERT INTO idea_terms (rowid, terms) VALUES (?, ?)",
        ((n, " ".join([*base[pick], f"{n}号"])) for n, pick in enumerate(picks, start=1)),
    )
    docs[""] = len(picks)
    conn.executemany(
        "INSERT INTO idea_term_docs (term, docs) VALUES (?, ?)"
        " ON CONFLICT(term) DO UPDATE SET docs = docs + excluded.docs",
        [*docs.items(), *((f"{n}号", 1) for n in range(1, len(picks) + 1))],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--ideas", type=int, default=100_000)
    args = parser.parse_args()
    config = write_config(args.db.with_suffix(".yaml"), args.db)
    found = seed(args.db, args.ideas, config=config)
    print(f"{found.ideas:,} ideas in {found.seconds:.1f} s: {found.path} (config {config})")


if __name__ == "__main__":
    main()
