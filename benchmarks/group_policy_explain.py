"""EXPLAIN ANALYZE of the app's hot reads under row-level security's policy, as shipped and
rewritten, on the database `benchmarks.group_scale --keep DIR` seeded (issue 20).

    .venv/bin/python -m benchmarks.group_policy_explain DIR [--mine m050]

Starts the kept cluster, copies `ideas` and `idea_terms` into a scratch schema (their keys,
the GIN index and two of the ideas' indexes; row-level security forced, owned by the app's
role), then for each policy variant, in a transaction rolled back afterwards, runs each query
twice as the app's role in one mine and prints the second (warm) execution's time and scans.
The scratch schema is dropped at the end; the app's own tables are never altered.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import psycopg

from benchmarks.group_scale import GROUP_DB, kept_cluster, stop_kept
from tests.storage_backends import APP_ROLE, with_database

S = "current_setting('jindianzi.mine', true)"
POLICIES = {
    "shipped": f"mine = {S} OR {S} = '*'",
    "range": (
        f"mine >= (CASE WHEN {S} = '*' THEN '' ELSE {S} END)"
        f" AND mine <= (CASE WHEN {S} = '*' THEN chr(1114111) ELSE {S} END)"
    ),
    "any": f"mine = ANY (CASE WHEN {S} = '*' THEN ARRAY(SELECT id FROM public.mines)"
    f" ELSE ARRAY[{S}] END)",
}
QUERIES = {
    "idea by id": "SELECT * FROM ideas WHERE id = 50000123",
    "latest 50 holding a term": "SELECT id FROM idea_terms"
    " WHERE tsv @@ to_tsquery('simple', '井下') ORDER BY id DESC LIMIT 50",
    "unindexed (open_app)": "SELECT id, text FROM ideas"
    " WHERE id NOT IN (SELECT id FROM idea_terms) ORDER BY id LIMIT 1000",
    "year's ideas (figures)": "SELECT count(*) FROM ideas"
    " WHERE created_at >= '2026-01-01' AND status NOT IN ('withdrawn')",
}
VARIANTS: list[tuple[str, str, bool, list[str]]] = [
    ("shipped policy", "shipped", False, []),
    ("range policy", "range", False, []),
    ("range policy + ts_match_vq LEAKPROOF", "range", True, []),
    ("ANY policy + LEAKPROOF", "any", True, []),
    (
        "ANY policy + LEAKPROOF + (mine, created_at, status, branch_id)",
        "any",
        True,
        [
            "CREATE INDEX ON scratch.ideas (mine, created_at, status, branch_id)",
            "ANALYZE scratch.ideas",
        ],
    ),
]
SETUP = [
    "DROP SCHEMA IF EXISTS scratch CASCADE",
    "CREATE SCHEMA scratch",
    f"GRANT USAGE ON SCHEMA scratch TO {APP_ROLE}",
    "CREATE TABLE scratch.ideas AS SELECT * FROM public.ideas",
    "ALTER TABLE scratch.ideas ADD PRIMARY KEY (mine, id)",
    "CREATE INDEX ON scratch.ideas (branch_id, id)",
    "CREATE INDEX ON scratch.ideas (created_at, status, branch_id)",
    "CREATE TABLE scratch.idea_terms AS SELECT mine, id, terms, tsv FROM public.idea_terms",
    "ALTER TABLE scratch.idea_terms ADD PRIMARY KEY (mine, id)",
    "CREATE INDEX ON scratch.idea_terms USING GIN (tsv)",
]


def setup(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    for sql in SETUP:
        conn.execute(sql.encode())
    for table in ("ideas", "idea_terms"):
        conn.execute(f"ALTER TABLE scratch.{table} OWNER TO {APP_ROLE}".encode())
        conn.execute(f"ALTER TABLE scratch.{table} ENABLE ROW LEVEL SECURITY".encode())
        conn.execute(f"ALTER TABLE scratch.{table} FORCE ROW LEVEL SECURITY".encode())
        policy = POLICIES["shipped"]
        conn.execute(f"CREATE POLICY mine_rows ON scratch.{table} USING ({policy})".encode())
        conn.execute(f"VACUUM ANALYZE scratch.{table}".encode())


def variant(url: str, mine: str, label: str, policy: str, leakproof: bool, ddl: list[str]) -> None:
    with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
        for table in ("ideas", "idea_terms"):
            using = POLICIES[policy]
            conn.execute(f"ALTER POLICY mine_rows ON scratch.{table} USING ({using})".encode())
        if leakproof:
            conn.execute(b"ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF")
        for sql in ddl:
            conn.execute(sql.encode())
        conn.execute(f"SET ROLE {APP_ROLE}".encode())
        conn.execute(b"SET search_path = scratch, public")
        conn.execute("SELECT set_config('jindianzi.mine', %s, true)", (mine,))
        print(f"### {label}")
        for name, sql in QUERIES.items():
            plan: list[str] = []
            for _ in range(2):  # the second execution, warm
                rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}".encode()).fetchall()
                plan = [str(r[0]) for r in rows]
            found = re.search(r"Execution Time: ([\d.]+)", plan[-1])
            scans = [line.strip() for line in plan if "Scan" in line or "Cond" in line][:3]
            print(f"- {name}: {found.group(1) if found else '?'} ms; {' / '.join(scans)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("keep", type=Path, help="the --keep folder of benchmarks.group_scale")
    parser.add_argument("--mine", default="m050")
    args = parser.parse_args()
    cluster = kept_cluster(args.keep)
    try:
        url = with_database(cluster.url, GROUP_DB)
        with psycopg.connect(url, autocommit=True) as conn:
            setup(conn)
        try:
            for label, policy, leakproof, ddl in VARIANTS:
                variant(url, args.mine, label, policy, leakproof, ddl)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(b"DROP SCHEMA scratch CASCADE")
    finally:
        stop_kept(cluster)


if __name__ == "__main__":
    main()
