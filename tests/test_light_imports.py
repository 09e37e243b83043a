"""Reading the configuration loads no feature, storage or platform code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

HEAVY = ("storage", "aiosqlite", "matplotlib", "telegram", "wechatpy", "aiohttp")
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
