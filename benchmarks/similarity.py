"""Similar-idea search among 100,000 stored ideas, next to a brute-force scan in the same run.

    .venv/bin/python -m benchmarks.similarity [--ideas 100000]

The stored ideas are the shipped corpus texts, each with a few words of its own
appended so that no two are equal. The queries are fresh rewordings.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.app import build_classifier
from bot.config import load_config
from nlp.similarity import cosine
from nlp.training import load_corpus
from storage import Database, Repositories

ROOT = Path(__file__).resolve().parent.parent
QUERIES = 200
FILLER = "一二三四五六七八九十东西南北上下左右前后新旧大小高低长短快慢"


async def run(count: int) -> None:
    rows = load_corpus()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(ROOT / "config.yaml", {"JINDIANZI_STORAGE_PATH": f"{tmp}/j.db"})
        classifier = build_classifier(config)
        texts = [
            rows[i % len(rows)][1] + "".join(rng.sample(FILLER, 4)) + f"{i}号" for i in range(count)
        ]
        start = time.perf_counter()
        term_lists = [classifier.terms(t) for t in texts]
        tokenize_s = time.perf_counter() - start
        async with Database.open(Path(tmp) / "j.db") as db:
            repos = Repositories(db)
            await db.execute("INSERT INTO departments (id, name) VALUES ('d', 'd')")
            await db.execute("INSERT INTO branches VALUES ('b', 'b', 'd')")
            await db.execute(
                "INSERT INTO people (employee_no, name, branch_id, created_at, updated_at)"
                " VALUES ('E1', 'x', 'b', 'x', 'x')"
            )
            start = time.perf_counter()
            async with db.transaction():
                await db.executemany(
                    "INSERT INTO ideas (id, author_id, branch_id, text, category, confidence,"
                    " channel, created_at, updated_at) VALUES (?, 1, 'b', ?, 'other', 0.5, 'x',"
                    " '2026-01-01', '2026-01-01')",
                    [(i + 1, t) for i, t in enumerate(texts)],
                )
                await db.executemany(
                    "INSERT INTO idea_terms (rowid, terms) VALUES (?, ?)",
                    [(i + 1, " ".join(ws)) for i, ws in enumerate(term_lists)],
                )
                document_counts = Counter(w for ws in term_lists for w in set(ws))
                document_counts[""] = count
                await db.executemany(
                    "INSERT OR REPLACE INTO idea_term_docs (term, docs) VALUES (?, ?)",
                    list(document_counts.items()),
                )
            load_s = time.perf_counter() - start
            queries = [
                "建议" + rows[rng.randrange(len(rows))][1] + ",大家看看行不行"
                for _ in range(QUERIES)
            ]
            indexed: list[float] = []
            for query in queries:
                begin = time.perf_counter()
                words = classifier.terms(query)
                candidates = await repos.ideas.term_candidates(words, exclude=0, limit=20)
                split = [(i, t.split()) for i, t in candidates]
                total, df = await repos.ideas.document_frequencies(
                    [*words, *(w for _, ws in split for w in ws)]
                )
                max((cosine(words, ws, total, df), i) for i, ws in split)
                indexed.append(time.perf_counter() - begin)
            df_all = document_counts
            brute: list[float] = []
            for query in queries[:20]:
                begin = time.perf_counter()
                words = classifier.terms(query)
                max((cosine(words, ws, count, df_all), i) for i, ws in enumerate(term_lists))
                brute.append(time.perf_counter() - begin)

    def ms(values: list[float], q: float) -> str:
        return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1000:.1f} ms"

    print(f"{count:,} stored ideas; tokenised in {tokenize_s:.1f} s, loaded in {load_s:.1f} s")
    print()
    print("| measure | FTS5 candidates + TF-IDF cosine | brute-force cosine over all (yardstick) |")
    print("| --- | --- | --- |")
    print(f"| per new idea, p50 | {ms(indexed, 50)} | {ms(brute, 50)} |")
    print(f"| per new idea, p99 | {ms(indexed, 99)} | {ms(brute, 99)} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ideas", type=int, default=100_000)
    asyncio.run(run(parser.parse_args().ideas))


if __name__ == "__main__":
    main()
