"""One submission at 10k, 100k and 1M stored ideas: does its time grow with the table?

    .venv/bin/python -m benchmarks.scale [--ideas 10000 100000 1000000] [--keep DIR]

Each database is seeded straight with bulk SQL in one transaction (`seed`, also used by
`benchmarks.telegram_burst --stored`): 5,000 workers with Telegram ids (one heavy user
holds 1 % of the ideas), ideas whose terms are drawn Zipf-like (s = 1.1) over the
vocabulary of the shipped corpus ranked by its frequency there, one in three with a
"号" (the common term that hurt most), with their FTS5 rows and document counts.
Then 300 corpus texts are submitted through `Router.dispatch`, as a person would send
them: reported are p50/p90/p99 of the whole dispatch (classification, similar-idea
search, the idea, its index, the reply in the outbox, one fsync'd commit), and of
the similar-idea search alone against the original search (FTS5 BM25 over every term,
the yardstick) on the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.app import build_classifier, open_app
from handlers.messages import Incoming
from handlers.rules.ideas import similar_ideas
from nlp import Classifier
from nlp.training import load_corpus
from tests.support import project_config

WORKERS = 5000
FIRST_USER = 700000
QUERIES = 300
ZIPF_S = 1.1


def seed(db: Path, ideas: int, classifier: Classifier, *, seed_value: int = 1) -> float:
    """Bulk-insert `WORKERS` people and `ideas` ideas into a migrated database; seconds."""
    rng = random.Random(seed_value)
    corpus = [classifier.terms(text) for _, text in load_corpus()]
    ranked = [w for w, _ in Counter(w for ws in corpus for w in ws).most_common()]
    cumulative = list(itertools.accumulate(1 / (r + 1) ** ZIPF_S for r in range(len(ranked))))
    lengths = [max(len(ws), 2) for ws in corpus]
    heavy = 1
    start = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        first_person = int(conn.execute("SELECT coalesce(max(id), 0) FROM people").fetchone()[0])
        conn.executemany(
            "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
            " VALUES (?, ?, 'jj1', 'x', 'x')",
            [(f"T{n:05d}", f"工人{n}") for n in range(WORKERS)],
        )
        people = list(range(first_person + 1, first_person + WORKERS + 1))
        conn.executemany(
            "INSERT INTO identities (channel, external_id, person_id, bound_at)"
            " VALUES ('telegram', ?, ?, 'x')",
            [(str(FIRST_USER + n), pid) for n, pid in enumerate(people)],
        )
        heavy = people[0]
        docs: Counter[str] = Counter()
        top = cumulative[-1]
        batch: list[tuple[int, int, str, str]] = []
        terms_batch: list[tuple[int, str]] = []
        first_idea = int(conn.execute("SELECT coalesce(max(id), 0) FROM ideas").fetchone()[0])
        for n in range(ideas):
            idea_id = first_idea + n + 1
            count = rng.choice(lengths)
            words = [ranked[bisect.bisect(cumulative, rng.random() * top)] for _ in range(count)]
            if rng.random() < 1 / 3:
                words.append("号")
            author = heavy if rng.random() < 0.01 else rng.choice(people)
            day = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00+00:00"
            batch.append((idea_id, author, "".join(words), day))
            terms_batch.append((idea_id, " ".join(words)))
            docs.update({w.lower() for w in words} | {""})
            if len(batch) >= 20000 or n == ideas - 1:
                conn.executemany(
                    "INSERT INTO ideas (id, author_id, branch_id, text, category, confidence,"
                    " channel, created_at, updated_at) VALUES (?, ?, 'jj1', ?, 'other', 0.5,"
                    " 'telegram', ?, ?4)",
                    batch,
                )
                conn.executemany("INSERT INTO idea_terms (rowid, terms) VALUES (?, ?)", terms_batch)
                batch, terms_batch = [], []
        conn.executemany(
            "INSERT INTO idea_term_docs (term, docs) VALUES (?, ?)"
            " ON CONFLICT(term) DO UPDATE SET docs = docs + excluded.docs",
            list(docs.items()),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - start


def ms(values: list[float], q: int) -> str:
    return f"{statistics.quantiles(values, n=100)[q - 1] * 1000:.1f}"


async def measure(db: Path, classifier: Classifier) -> tuple[list[float], list[float], list[float]]:
    """(dispatch seconds, new search seconds, original search seconds) per submission."""
    from tests.support import Clock

    rng = random.Random(2)
    texts = [text for _, text in load_corpus() if len(text) > 8]
    queries = [rng.choice(texts) + f"(第{n}号)" for n in range(QUERIES)]
    config = project_config(db)
    dispatch: list[float] = []
    search: list[float] = []
    original: list[float] = []
    async with open_app(config, clock=Clock(), classifier=classifier) as app:
        ideas = app.repos.ideas
        for n, text in enumerate(queries):
            user = str(FIRST_USER + rng.randrange(WORKERS))
            msg = Incoming("telegram", f"scale-{n}", user, user, text=text)
            begin = time.perf_counter()
            await app.router.dispatch(msg, app.services)
            dispatch.append(time.perf_counter() - begin)
        for text in queries[:100]:
            words = classifier.terms(text)
            begin = time.perf_counter()
            await similar_ideas(app.services, words)
            search.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            await ideas.term_candidates(words, exclude=0, limit=20)
            original.append(time.perf_counter() - begin)
    return dispatch, search, original


async def run(sizes: list[int], keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        classifier = build_classifier(project_config(folder / "unused.db"))
        print(
            "| stored ideas | seeded in | submission p50 / p90 / p99 (ms) | similar-idea"
            " search p50 / p99 (ms) | original FTS5 search p50 / p99 (ms, yardstick) |"
        )
        print("| --- | --- | --- | --- | --- |")
        for size in sizes:
            db = folder / f"scale-{size}.db"
            async with open_app(project_config(db), classifier=classifier):
                pass  # creates, migrates and fills the organisation
            seconds = seed(db, size, classifier)
            dispatch, search, original = await measure(db, classifier)
            print(
                f"| {size:,} | {seconds:.0f} s | {ms(dispatch, 50)} / {ms(dispatch, 90)} /"
                f" {ms(dispatch, 99)} | {ms(search, 50)} / {ms(search, 99)} |"
                f" {ms(original, 50)} / {ms(original, 99)} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ideas", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="keep the seeded databases in this folder")
    args = parser.parse_args()
    asyncio.run(run(args.ideas, args.keep))


if __name__ == "__main__":
    main()
