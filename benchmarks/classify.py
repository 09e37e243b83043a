"""Classifier speed and memory, next to plain `jieba.cut` over the same texts in the same run.

    .venv/bin/python -m benchmarks.classify

Prints a Markdown table for BENCHMARKS.md: ideas/s after warm-up (one process),
cold start (process start → first JSON line of `jindianzi classify`) and peak
memory (VmHWM of that process), each beside the yardstick.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 7


def throughput(texts: list[str], *candidates: Callable[[str], object]) -> list[float]:
    """Best ideas/s of each candidate; rounds alternate so that both see the same machine."""
    for fn in candidates:
        for text in texts[:50]:
            fn(text)  # warm-up
    best = [0.0] * len(candidates)
    for _ in range(ROUNDS):
        for k, fn in enumerate(candidates):
            start = time.perf_counter()
            for text in texts:
                fn(text)
            best[k] = max(best[k], len(texts) / (time.perf_counter() - start))
    return best


def cold_start(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from process start to the first output line, and peak RSS in MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("井下回收复用锚杆,每月能省好几万\n")
    proc.stdin.flush()
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    status = Path(f"/proc/{proc.pid}/status").read_text()
    peak_kb = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")
    )
    proc.stdin.close()
    proc.wait(timeout=30)
    return elapsed, peak_kb / 1024


YARDSTICK = """
import sys, jieba, logging
jieba.setLogLevel(logging.WARNING)
jieba.initialize()
for line in sys.stdin:
    print(" ".join(jieba.cut(line.strip())), flush=True)
"""


def main() -> None:
    import jieba

    from bot.app import build_classifier
    from bot.config import load_config
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus()]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JINDIANZI_STORAGE_PATH": f"{tmp}/j.db", "PYTHONIOENCODING": "utf-8"}
        config = load_config(ROOT / "config.yaml", {"JINDIANZI_STORAGE_PATH": f"{tmp}/j.db"})
        classifier = build_classifier(config)  # also leaves jieba's cache in tmp, as in service
        jieba.setLogLevel(60)
        jieba.initialize()
        ours, plain = throughput(texts, classifier.classify, lambda t: list(jieba.cut(t)))
        jindianzi = str(Path(sys.executable).parent / "jindianzi")
        our_start, our_mem = min(cold_start([jindianzi, "classify"], env) for _ in range(3))
        yard_start, yard_mem = min(
            cold_start([sys.executable, "-c", YARDSTICK], env) for _ in range(3)
        )
    print(
        f"corpus: {len(texts)} texts, {sum(map(len, texts))} characters; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print()
    print("| measure | jindianzi classify | plain jieba.cut (yardstick) | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| ideas/s, one process, warm | {ours:,.0f} | {plain:,.0f} | {ours / plain:.2f} |")
    print(
        f"| cold start to first answer | {our_start:.2f} s | {yard_start:.2f} s | "
        f"{our_start / yard_start:.2f} |"
    )
    print(
        f"| peak memory (VmHWM) | {our_mem:.0f} MB | {yard_mem:.0f} MB | {our_mem / yard_mem:.2f} |"
    )


if __name__ == "__main__":
    main()
