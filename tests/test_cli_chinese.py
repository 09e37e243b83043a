"""The command line speaks Chinese to people: argparse's usage, help and errors, and roster
files with Chinese headers. Run as real subprocesses, the way an operator would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import cli

ENGLISH = (
    "usage:",
    "error:",
    "the following arguments",
    "invalid choice",
    "unrecognized arguments",
    "expected one argument",
    "show this help",
    "options:",
    "positional arguments",
    "Traceback",
)


def chinese_only(text: str) -> None:
    for phrase in ENGLISH:
        assert phrase not in text, (phrase, text)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "缺少参数"),
        (("frobnicate",), "“frobnicate”"),
        (("roster",), "缺少参数"),
        (("roster", "import"), "缺少参数"),
        (("roster", "expel"), "“expel”"),
        (("jobs", "run", "weekly_meeting", "--bogus"), "不认识的参数: --bogus"),
        (("jobs", "run", "weekly_meeting", "--now"), "--now 后面要写一个值"),
    ],
)
def test_bad_arguments_get_one_chinese_line_and_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = cli(*args, db=tmp_path / "j.db")
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and "-h" in lines[0]
    chinese_only(result.stderr + result.stdout)


def test_an_invalid_choice_names_the_choices(tmp_path: Path) -> None:
    result = cli("frobnicate", db=tmp_path / "j.db")
    for command in ("run", "console", "roster", "status"):
        assert command in result.stderr
    result = cli("roster", "expel", "x.csv", db=tmp_path / "j.db")
    assert "import" in result.stderr and "codes" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("-h",), ("--help",), ("roster", "-h"), ("roster", "import", "--help"), ("jobs", "run", "-h")],
)
def test_help_is_in_chinese(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = cli(*args, db=tmp_path / "j.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("用法: jindianzi")
    assert "显示帮助" in result.stdout and "选项:" in result.stdout
    chinese_only(result.stdout + result.stderr)


def test_help_lists_every_command_with_its_chinese_summary(tmp_path: Path) -> None:
    out = cli("--help", db=tmp_path / "j.db").stdout
    assert "命令:" in out
    for command, summary in (
        ("roster", "花名册"),
        ("status", "机器人没反应"),
        ("jobs", "定时任务"),
    ):
        line = next(line for line in out.splitlines() if line.strip().startswith(command))
        assert summary in line
