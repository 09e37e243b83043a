"""Reading the configuration loads no feature, storage or platform code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, cli

HEAVY = (
    *("storage", "aiosqlite", "matplotlib", "telegram", "wechatpy", "aiohttp"),
    *("apscheduler", "jieba", "numpy"),
)
PERIODS = {"handlers", "handlers.rules", "handlers.rules.periods"}
"""The only part of handlers the calendar needs: the Month and Quarter types (stdlib only)."""


def loaded_modules(module: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `module`."""
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["bot.config", "scheduler", "scheduler.calendar"])
def test_configuration_modules_stay_light(module: str) -> None:
    loaded = loaded_modules(module)
    assert {name.partition(".")[0] for name in loaded}.isdisjoint(HEAVY)
    assert {name for name in loaded if name.split(".")[0] == "handlers"} <= PERIODS


MESSENGERS = {"telegram", "wechatpy", "aiohttp"}
CHARTS = {"matplotlib"}
SCHEDULER = {"apscheduler"}


def command_modules(tmp_path: Path, *args: str, stdin: str = "") -> set[str]:
    """Every module `jindianzi ARGS` imports, run to its end in a fresh interpreter
    (`-X importtime` names each one on stderr); no messenger is configured."""
    done = cli(*args, db=tmp_path / "j.db", stdin=stdin, python_flags=("-X", "importtime"))
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


STORAGE_ONLY = {*MESSENGERS, *CHARTS, *SCHEDULER}


@pytest.mark.parametrize(
    ("args", "stdin", "forbidden"),
    [
        pytest.param(
            ("classify",),
            "井下回收复用锚杆,每月能省好几万\n",
            {*STORAGE_ONLY, "openpyxl"},
            id="classify",
        ),
        pytest.param(("export", "{tmp}/ledger.jsonl"), "", STORAGE_ONLY, id="export"),
        pytest.param(("status",), "", STORAGE_ONLY, id="status"),
        pytest.param(("backup", "{tmp}/copy.db"), "", STORAGE_ONLY, id="backup"),
        pytest.param(("roster", "import", "bot/sample_roster.csv"), "", STORAGE_ONLY, id="roster"),
        pytest.param(("roster", "codes"), "", STORAGE_ONLY, id="codes"),
        pytest.param(("jobs", "list"), "", {*MESSENGERS, *CHARTS}, id="jobs list"),
        pytest.param(("console",), "/quit\n", STORAGE_ONLY, id="console"),
        pytest.param(("run",), "/quit\n", MESSENGERS, id="run, console only"),
    ],
)
def test_a_command_loads_only_the_libraries_it_uses(
    tmp_path: Path, args: tuple[str, ...], stdin: str, forbidden: set[str]
) -> None:
    loaded = command_modules(tmp_path, *(a.format(tmp=tmp_path) for a in args), stdin=stdin)
    assert "bot.cli" in loaded  # the command really ran
    assert {name.partition(".")[0] for name in loaded} & forbidden == set()


def test_jobs_list_reads_triggers_without_a_scheduler(tmp_path: Path) -> None:
    loaded = command_modules(tmp_path, "jobs", "list")
    assert "apscheduler.triggers.cron" in loaded
    assert not {name for name in loaded if name.startswith("apscheduler.schedulers")}
