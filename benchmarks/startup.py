"""Cold start of `jindianzi classify` next to jieba's own start with the same dictionary.

    .venv/bin/python -m benchmarks.startup [--rounds 7] [--offenders 8]

Process start → first output line, jieba's cache already in the data directory (as in
service). The yardstick is `import jieba` plus an own `jieba.Tokenizer` initialised from
that cache with the project's user dictionary and the configured keywords, cutting the
line with HMM off as the project does: everything the classifier cannot do without.
Rounds alternate which of the pair starts first; the table gives medians, and the ratios
are medians of the per-round ratios. Peak memory is VmHWM while the process waits for
its next line. Then the packages whose imports cost `jindianzi classify` most
(`python -X importtime`, self time summed per top-level package, one run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = "井下回收复用锚杆,每月能省好几万\n"

YARDSTICK = """
import logging, sys
import jieba
jieba.setLogLevel(logging.WARNING)
tokenizer = jieba.Tokenizer()
tokenizer.tmp_dir, tokenizer.cache_file = sys.argv[1], "jieba.cache"
tokenizer.initialize()
with open(sys.argv[2], "rb") as stream:
    tokenizer.load_userdict(stream)
with open(sys.argv[3], encoding="utf-8") as words:
    for word in words.read().split():
        tokenizer.add_word(word)
for line in sys.stdin:
    print(" ".join(tokenizer.cut(line.strip(), HMM=False)), flush=True)
"""


def first_answer(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Seconds to the first output line, CPU seconds spent by then (user + system, less
    disturbed by a busy machine than the wall clock), VmHWM in MB then, and the line."""
    begin = time.perf_counter()
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdin=pipe, stdout=pipe, env=env, cwd=ROOT) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(LINE.encode())  # bytes: the child is told PYTHONIOENCODING=utf-8
        proc.stdin.flush()
        answer = proc.stdout.readline().decode()
        seconds = time.perf_counter() - begin
        status = Path(f"/proc/{proc.pid}/status").read_text()
        ticks = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[11:13]
        proc.stdin.close()
        proc.wait(timeout=60)
    peak_kb = next(int(row.split()[1]) for row in status.splitlines() if row.startswith("VmHWM:"))
    if not answer:
        raise SystemExit(f"no answer from {command[:2]}")
    cpu = sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")
    return seconds, cpu, peak_kb / 1024, answer


def offenders(env: dict[str, str], count: int) -> list[tuple[str, float]]:
    """The top-level packages with the most import time (ms, self) in `jindianzi classify`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "classify"],
        input=LINE,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        check=True,
    )
    cost: dict[str, float] = {}
    for row in done.stderr.splitlines():
        if row.startswith("import time:") and "self [us]" not in row:
            own, _, name = row.removeprefix("import time:").split("|")
            package = name.strip().partition(".")[0]
            cost[package] = cost.get(package, 0.0) + int(own) / 1000
    return sorted(cost.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--offenders", type=int, default=8)
    args = parser.parse_args()

    from bot.config import load_config
    from nlp.tokenizer import USER_DICT

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
        env.update({"JINDIANZI_STORAGE_PATH": f"{tmp}/j.db", "PYTHONIOENCODING": "utf-8"})
        config = load_config(ROOT / "config.yaml", env)
        words = Path(tmp) / "words.txt"
        words.write_text("\n".join(k for c in config.categories for k in c.keywords), "utf-8")
        ours = [str(Path(sys.executable).parent / "jindianzi"), "classify"]
        yardstick = [
            sys.executable,
            "-c",
            YARDSTICK,
            tmp,
            str(ROOT / "nlp" / USER_DICT),
            str(words),
        ]
        first_answer(ours, env)  # writes jieba's cache into the data directory
        first_answer(yardstick, env)
        runs: dict[str, list[tuple[float, float, float]]] = {"ours": [], "yardstick": []}
        ratios, cpu_ratios = [], []
        for round_ in range(args.rounds):
            pair = [("ours", ours), ("yardstick", yardstick)]
            for name, command in pair if round_ % 2 == 0 else pair[::-1]:
                seconds, cpu, peak, _ = first_answer(command, env)
                runs[name].append((seconds, cpu, peak))
            ratios.append(runs["ours"][-1][0] / runs["yardstick"][-1][0])
            cpu_ratios.append(runs["ours"][-1][1] / runs["yardstick"][-1][1])
        top = offenders(env, args.offenders)

    def median(name: str, k: int) -> float:
        return statistics.median(run[k] for run in runs[name])

    print(
        f"{args.rounds} alternating rounds; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores; ratios {min(ratios):.2f}–{max(ratios):.2f}"
    )
    print()
    print("| measure | jindianzi classify | jieba + own Tokenizer, same dictionary | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| cold start to first answer, median | {median('ours', 0):.2f} s | "
        f"{median('yardstick', 0):.2f} s | {statistics.median(ratios):.2f} |"
    )
    print(
        f"| CPU time to first answer, median | {median('ours', 1):.2f} s | "
        f"{median('yardstick', 1):.2f} s | {statistics.median(cpu_ratios):.2f} |"
    )
    mem_ours, mem_yard = median("ours", 2), median("yardstick", 2)
    print(
        f"| peak memory (VmHWM), median | {mem_ours:.0f} MB | {mem_yard:.0f} MB | "
        f"{mem_ours / mem_yard:.2f} |"
    )
    print()
    print("`-X importtime` of `jindianzi classify`, self time per package (one run): ", end="")
    print(", ".join(f"{name} {ms:.0f} ms" for name, ms in top))


if __name__ == "__main__":
    main()
