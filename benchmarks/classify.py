"""Classifier throughput, next to jieba alone doing the same tokenising in the same run.

    .venv/bin/python -m benchmarks.classify

The yardstick is like for like: an own `jieba.Tokenizer` with the project's user dictionary
and the configured keywords, `cut(text, HMM=False)` — what the classifier's tokeniser does
before it adds n-grams, weights and a 7-way softmax. Rounds alternate; the figure is the
median of the per-round ratios. Cold start and memory are in `benchmarks/startup.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 7


def rates(texts: list[str], *candidates: Callable[[str], object]) -> list[list[float]]:
    """Ideas/s of each candidate per round; rounds alternate so both see the same machine."""
    for fn in candidates:
        for text in texts[:50]:
            fn(text)  # warm-up
    per_round: list[list[float]] = [[] for _ in candidates]
    for _ in range(ROUNDS):
        for k, fn in enumerate(candidates):
            start = time.perf_counter()
            for text in texts:
                fn(text)
            per_round[k].append(len(texts) / (time.perf_counter() - start))
    return per_round


def main() -> None:
    from bot.app import build_classifier
    from bot.config import load_config
    from nlp.tokenizer import build_tokenizer
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus()]
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(ROOT / "config.yaml", {"JINDIANZI_STORAGE_PATH": f"{tmp}/j.db"})
        classifier = build_classifier(config)
        words = [w for c in config.categories for w in c.keywords]
        tokenizer = build_tokenizer(Path(tmp) / "yardstick", words)
        ours, plain = rates(texts, classifier.classify, lambda t: list(tokenizer.cut(t, HMM=False)))
    ratio = statistics.median(o / p for o, p in zip(ours, plain, strict=True))
    print(
        f"corpus: {len(texts)} texts, {sum(map(len, texts))} characters; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {ROUNDS} alternating rounds"
    )
    print()
    print("| measure | jindianzi classify | jieba cut, HMM off, same dictionary | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| ideas/s, one process, warm (median) | {statistics.median(ours):,.0f} | "
        f"{statistics.median(plain):,.0f} | {ratio:.2f} (median of rounds; "
        f"{min(o / p for o, p in zip(ours, plain, strict=True)):.2f}–"
        f"{max(o / p for o, p in zip(ours, plain, strict=True)):.2f}) |"
    )


if __name__ == "__main__":
    main()
