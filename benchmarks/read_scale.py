"""The read path at 100k and 1M stored ideas, against the code as it was, in the same run.

    .venv/bin/python -m benchmarks.read_scale [--sizes 100000 1000000] [--rounds 3]
        [--big-rounds 1] [--base b85b6e5]

For each size it seeds one database (benchmarks.seed), copies it for the old code (schema
version 12: the new indexes dropped), checks the old commit out into a temporary git worktree
and then, round by round and alternating which goes first, runs in fresh processes:

- leader `/stats` through the router (the dispatch, chart included; and the figures alone),
- `jindianzi jobs run weekly_digest --dry-run` (the whole command),
- `jindianzi export x.jsonl` and `jindianzi export x.xlsx` (the whole command),

each with the process's peak memory (VmHWM). The table shows medians over the rounds; sizes of
1M and more get `--big-rounds` rounds (the old xlsx export alone takes minutes there), and
`--big-skip xlsx` leaves an operation out there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.seed import seed, write_config

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "read_child.py"
NEW_INDEXES = ("ideas_created", "ideas_waiting")
DIGEST_AT = "2026-11-29T18:00:00+08:00"  # the Sunday after the seeded year's end


def operations(out: Path, leader: str) -> dict[str, list[str]]:
    return {
        "leader /stats": ["stats", "{config}", leader],
        "jobs run weekly_digest": [
            "cli",
            "--config",
            "{config}",
            "jobs",
            "run",
            "weekly_digest",
            "--now",
            DIGEST_AT,
            "--dry-run",
        ],
        "export x.jsonl": ["cli", "--config", "{config}", "export", str(out / "x.jsonl")],
        "export x.xlsx": ["cli", "--config", "{config}", "export", str(out / "x.xlsx")],
    }


def run_child(code: Path, config: Path, args: Sequence[str], result: Path) -> dict[str, Any]:
    argv = [a.replace("{config}", str(config)) for a in args]
    env = {"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(CHILD), str(result), *argv],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv} in {code} failed:\n{done.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    if Path(found["code"]).resolve() != code.resolve():
        raise RuntimeError(f"imported {found['code']}, wanted {code}")
    found["wall"] = wall
    return found


def old_copy(new_db: Path, old_db: Path) -> None:
    """The seeded database as the old code's schema knows it."""
    with sqlite3.connect(new_db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(new_db, old_db)
    with sqlite3.connect(old_db) as conn:
        for name in NEW_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.execute("PRAGMA user_version = 12")


def measure(
    size: int, rounds: int, base: Path, work: Path, skip: Sequence[str] = ()
) -> list[dict[str, Any]]:
    new_db, old_db = work / f"new-{size}.db", work / f"old-{size}.db"
    new_config = write_config(work / f"new-{size}.yaml", new_db)
    old_config = write_config(work / f"old-{size}.yaml", old_db)
    seeded = seed(new_db, size, config=new_config)
    print(f"seeded {size:,} ideas in {seeded.seconds:.1f} s", file=sys.stderr, flush=True)
    old_copy(new_db, old_db)
    sides = {"new": (ROOT, new_config), "old": (base, old_config)}
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for round_no in range(rounds):
        order = ("new", "old") if round_no % 2 == 0 else ("old", "new")
        for name, args in operations(work, seeded.leader).items():
            if any(word in name for word in skip):
                continue
            for side in order:
                code, config = sides[side]
                found = run_child(code, config, args, work / "result.json")
                samples.setdefault((name, side), []).append(found)
                print(
                    f"  {size:>9,} r{round_no + 1} {name:<24} {side}: {found['seconds']:.2f} s"
                    f" {found['vmhwm_kb'] / 1024:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    rows = []
    for name in operations(work, seeded.leader):
        if (name, "new") not in samples:
            continue
        new, old = samples[(name, "new")], samples[(name, "old")]

        def med(items: list[dict[str, Any]], key: str) -> float:
            return statistics.median(float(i[key]) for i in items)

        rows.append(
            {
                "size": size,
                "operation": name,
                "rounds": rounds,
                "new_s": med(new, "wall" if name != "leader /stats" else "seconds"),
                "old_s": med(old, "wall" if name != "leader /stats" else "seconds"),
                "new_mb": med(new, "vmhwm_kb") / 1024,
                "old_mb": med(old, "vmhwm_kb") / 1024,
                "new_figures_s": med(new, "figures_seconds")
                if "figures_seconds" in new[0]
                else None,
                "old_figures_s": med(old, "figures_seconds")
                if "figures_seconds" in old[0]
                else None,
            }
        )
    for path in (new_db, old_db):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| operation | ideas | rounds | this change | b85b6e5 (yardstick) | time ratio |"
        " peak memory, this change | peak memory, b85b6e5 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        extra = ""
        if r["new_figures_s"] is not None:
            extra = f" (figures {r['new_figures_s']:.2f} s)"
        old_extra = f" (figures {r['old_figures_s']:.2f} s)" if r["old_figures_s"] else ""
        lines.append(
            f"| {r['operation']} | {r['size']:,} | {r['rounds']} | {r['new_s']:.2f} s{extra}"
            f" | {r['old_s']:.2f} s{old_extra} | {r['new_s'] / r['old_s']:.2f}"
            f" | {r['new_mb']:.0f} MB | {r['old_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-rounds", type=int, default=1)
    parser.add_argument("--base", default="b85b6e5", help="the commit to compare with")
    parser.add_argument(
        "--big-skip", nargs="*", default=[], help="operations (words of) not run at 1M and more"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="read-scale-") as tmp:
        work = Path(tmp)
        base = work / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.base],
            check=True,
            capture_output=True,
        )
        try:
            rows = []
            for size in args.sizes:
                rounds = args.big_rounds if size >= 1_000_000 else args.rounds
                skip = args.big_skip if size >= 1_000_000 else []
                rows += measure(size, rounds, base, work, skip)
                print(table(rows), file=sys.stderr, flush=True)  # survives a later timeout
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
            )
    print(table(rows))


if __name__ == "__main__":
    main()
