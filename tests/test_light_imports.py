"""Reading the configuration loads no feature, storage or platform code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

HEAVY = ("handlers", "storage", "aiosqlite", "matplotlib", "telegram", "wechatpy", "aiohttp")


def loaded_packages(module: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing `module`."""
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {name.partition(".")[0] for name in out.split()}


@pytest.mark.parametrize("module", ["bot.config", "scheduler", "scheduler.calendar"])
def test_configuration_modules_stay_light(module: str) -> None:
    assert loaded_packages(module).isdisjoint(HEAVY)
