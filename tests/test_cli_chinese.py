"""The command line speaks Chinese to people: argparse's usage, help and errors, and roster
files with Chinese headers. Run as real subprocesses, the way an operator would."""

from __future__ import annotations

import sqlite3
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


# -- roster files with Chinese headers ---------------------------------------------------


def people(db: Path) -> list[tuple[str, str, str, str | None, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT p.employee_no, p.name, p.branch_id, p.phone, r.role"
            " FROM people p JOIN roles r ON r.person_id = p.id ORDER BY p.employee_no"
        ).fetchall()


def test_a_chinese_header_is_read_as_the_columns_not_as_a_person(tmp_path: Path) -> None:
    roster = tmp_path / "花名册.csv"
    roster.write_text(
        "工号,姓名,支部,角色,手机号\nE300,甲,zc1,worker,13900000001\nS300,乙,zc2,书记,\n",
        encoding="utf-8-sig",  # Excel's UTF-8 starts with a BOM
    )
    db = tmp_path / "j.db"
    result = cli("roster", "import", str(roster), db=db)
    assert result.returncode == 0, result.stderr
    assert "已导入 2 人" in result.stdout
    assert people(db) == [
        ("E300", "甲", "zc1", "13900000001", "worker"),
        ("S300", "乙", "zc2", None, "secretary"),
    ]


def test_chinese_headers_in_any_order_in_gbk_and_mixed_with_english(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes("姓名,手机号,工号,role,支部\n甲,13900000001,E300,leader,zc1\n".encode("gbk"))
    db = tmp_path / "j.db"
    result = cli("roster", "import", str(roster), db=db)
    assert result.returncode == 0, result.stderr
    assert people(db) == [("E300", "甲", "zc1", "13900000001", "leader")]


def test_english_headers_still_work(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,employee_no,branch_id,role\n甲,E300,zc1,worker\n", encoding="utf-8")
    db = tmp_path / "j.db"
    assert cli("roster", "import", str(roster), db=db).returncode == 0
    assert people(db) == [("E300", "甲", "zc1", None, "worker")]


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("工号,姓名,部门,角色", "“部门”"),
        ("employee_no,name,branch,role", "“branch”"),
        ("工号,姓名,支部,角色,工号", "“工号”"),
        ("工号,名称,部门,职位", "“名称”"),
    ],
)
def test_an_unknown_or_repeated_column_is_named_and_nothing_imported(
    tmp_path: Path, header: str, named: str
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(f"{header}\nE300,甲,zc1,worker\n", encoding="utf-8")
    db = tmp_path / "j.db"
    result = cli("roster", "import", str(roster), db=db)
    assert result.returncode == 1
    assert "第 1 行" in result.stderr and named in result.stderr
    assert "工号" in result.stderr and "支部" in result.stderr  # the names it does know
    assert "什么都没有导入" in result.stderr
    chinese_only(result.stderr)
    assert people(db) == []


def test_a_header_missing_a_required_column_says_which(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("工号,姓名,角色\nE300,甲,worker\n", encoding="utf-8")
    db = tmp_path / "j.db"
    result = cli("roster", "import", str(roster), db=db)
    assert result.returncode == 1 and "缺少列" in result.stderr and "支部" in result.stderr
    assert people(db) == []


# -- the console's numbered buttons ------------------------------------------------------


def test_the_console_keeps_each_button_s_number_across_messages(tmp_path: Path) -> None:
    db = tmp_path / "data" / "j.db"
    script = (
        "井下回收复用锚杆,每月能省好几万\n"  # [1] 确认 [2] 改类别 [3] 撤回
        "2\n"  # 改类别: seven categories, new labels get new numbers
        "8\n"  # 安全生产
        "皮带机头加装防护栏,防止卷人\n"
        "3\n"  # 撤回, the same number as under the first idea
        "11\n"  # 确认撤回 (withdrawing is confirmed first)
        "/quit\n"
    )
    result = cli("console", "--as", "E001", db=db, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("[1] 确认  [2] 改类别  [3] 撤回") == 2
    assert "[8] 安全生产" in out and "已改为:安全生产" in out
    assert "[11] 确认撤回  [12] 不撤回" in out
    assert "金点子 #2 已撤回" in out
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT category, status FROM ideas ORDER BY id").fetchall()
    assert rows[0][0] == "safety" and rows[1][1] == "withdrawn"
