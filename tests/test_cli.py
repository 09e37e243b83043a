"""The command line, run as a real subprocess the way an operator would."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.app import load_sample_roster, open_app, open_storage
from bot.instance import instance_lock
from nlp import ModelClassifier
from tests.support import ROOT, Clock, Writer, cli, project_config


def test_console_newcomer_walkthrough(tmp_path: Path) -> None:
    db = tmp_path / "data" / "j.db"
    script = "/start\nE001\n张三\n井下回收复用锚杆,每月能省好几万\n1\n/my\n/quit\n"
    result = cli("console", db=db, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "登记成功" in out
    assert "收到您的金点子 #1" in out and "类别:修旧利废" in out
    assert "[1] 确认  [2] 改类别  [3] 撤回" in out
    assert "金点子 #1 已确认" in out
    assert "#1 修旧利废 · 已提交" in out
    assert "Traceback" not in out + result.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT text, category, confirmed FROM ideas").fetchall() == [
            ("井下回收复用锚杆,每月能省好几万", "repair_reuse", 1)
        ]


def test_run_without_credentials_opens_the_console(tmp_path: Path) -> None:
    result = cli("run", db=tmp_path / "j.db", stdin="/help\n", module=True)
    assert result.returncode == 0, result.stderr
    assert "金点子 控制台" in result.stdout and "/start" in result.stdout


def test_console_as_a_roster_person(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    result = cli("console", "--as", "E002", db=db, stdin="主井皮带机托辊坏了别扔,拆下来修好再用\n")
    assert result.returncode == 0, result.stderr
    assert "当前身份:李四" in result.stdout and "#1" in result.stdout
    missing = cli("console", "--as", "NOPE", db=db)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "错误: 花名册里没有工号 NOPE"


def test_classify_prints_one_json_object_per_line(tmp_path: Path) -> None:
    lines = [
        "井下回收复用锚杆,每月能省好几万",
        "",
        "   ",
        "!!!",
        "😀😀",
        "12345",
        "hello world",
        "锚" * 10000,
        "井下回收復用錨桿",
        "１２３節約用電",
    ]
    result = cli("classify", db=tmp_path / "j.db", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    labels = {
        "tech_innovation": "技术创新",
        "process_improvement": "工艺改良",
        "repair_reuse": "修旧利废",
        "energy_environment": "节能环保",
        "safety": "安全生产",
        "management": "管理提升",
        "other": "其他",
    }
    for item in out:
        assert set(item) == {"category", "label", "confidence"}
        assert labels[item["category"]] == item["label"]
        assert 0 <= item["confidence"] <= 1
    assert out[0]["category"] == "repair_reuse"
    for nothing in out[1:7]:
        assert nothing["category"] == "other" and nothing["confidence"] < 0.5


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    bad.write_text(
        text.replace("洗煤厂党支部, department: union", "洗煤厂党支部, department: ghost"),
        encoding="utf-8",
    )
    result = cli("--config", str(bad), "export", "x.csv", db=tmp_path / "j.db")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "配置错误 org.branches[9].department: 部门 'ghost' 不存在"
    ]
    after = cli("export", "x.csv", "--config", str(bad), db=tmp_path / "j.db")  # DESIGN's form
    assert after.returncode == 2 and after.stderr == result.stderr


def test_roster_import_reports_bad_rows_and_imports_nothing(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("E300,甲,zc1,worker\nE301,乙,zc9,worker\n", encoding="utf-8")
    db = tmp_path / "j.db"
    result = cli("roster", "import", str(roster), db=db)
    assert result.returncode == 1
    assert "第 2 行" in result.stderr and "zc9" in result.stderr
    assert "什么都没有导入" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone() == (0,)
    roster.write_text("E300,甲,zc1,worker\nE301,乙,zc2,leader\n", encoding="utf-8")
    result = cli("roster", "import", str(roster), db=db)
    assert result.returncode == 0 and "已导入 2 人" in result.stdout


async def test_export_formats(tmp_path: Path, classifier: ModelClassifier) -> None:
    db = tmp_path / "j.db"
    config = project_config(db)
    async with open_app(config, clock=Clock(), classifier=classifier) as app:
        await load_sample_roster(app)
        author = await app.repos.people.by_employee_no("E001")
        assert author is not None
        for text in ("井下回收复用锚杆,每月能省好几万", '=HYPERLINK("http://x") 回收托辊'):
            await app.repos.ideas.add(
                author=author,
                text=text,
                category="repair_reuse",
                confidence=0.8,
                channel="test",
                now=app.services.now(),
            )
    for name in ("ledger.csv", "ledger.jsonl", "ledger.xlsx"):
        result = await asyncio.to_thread(cli, "export", str(tmp_path / name), db=db)
        assert result.returncode == 0, result.stderr
        assert "已导出 2 条" in result.stdout
    with (tmp_path / "ledger.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["编号", "提交时间", "工号"]
    column = rows[0].index("内容")  # the speed columns (首次审核用时, 采纳用时) come after it
    assert rows[1][column] == "井下回收复用锚杆,每月能省好几万" and rows[1][7] == "修旧利废"
    assert rows[2][column].startswith("'=")  # spreadsheet formulas are defused
    assert rows[0][-2:] == ["首次审核用时(天)", "采纳用时(天)"] and rows[1][-2:] == ["", ""]
    items = [json.loads(x) for x in (tmp_path / "ledger.jsonl").read_text("utf-8").splitlines()]
    assert items[0]["author"] == "张三" and items[0]["created_at"] == "2026-11-24T10:00:00+08:00"
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "ledger.xlsx")["金点子"]
    text = sheet.cell(row=3, column=column + 1)  # a string cell, never run as a formula
    assert text.data_type == "s" and text.value == '=HYPERLINK("http://x") 回收托辊'
    bad = await asyncio.to_thread(cli, "export", str(tmp_path / "ledger.pdf"), db=db)
    assert bad.returncode == 2 and "不支持 .pdf" in bad.stderr


async def test_backup_command_while_the_bot_writes(
    tmp_path: Path, classifier: ModelClassifier
) -> None:
    db = tmp_path / "j.db"
    config = project_config(db)
    async with open_app(config, clock=Clock(), classifier=classifier) as app:
        await load_sample_roster(app)
        writer = Writer(app, pause=0.001)
        writer.start()
        await asyncio.sleep(0.1)
        before = writer.committed
        result = await asyncio.to_thread(cli, "backup", str(tmp_path / "b.db"), db=db)
        await writer.stop()
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "b.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = [r[0] for r in copy.execute("SELECT id FROM ideas ORDER BY id")]
    assert len(ids) >= before > 0 and ids == list(range(1, len(ids) + 1))


def test_a_database_from_newer_code_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    assert cli("export", str(tmp_path / "x.csv"), db=db).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    for command in (["export", str(tmp_path / "y.csv")], ["status"]):
        result = cli(*command, db=db)
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert "999" in line and "更新" in line


def test_an_unwritable_data_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    db = blocker / "data" / "j.db"  # its folder can never be made
    for command in (["run"], ["console"], ["export", str(tmp_path / "x.csv")], ["backup", "b"]):
        result = cli(*command, db=db)
        assert result.returncode == 2, command
        [line] = result.stderr.strip().splitlines()
        assert "数据目录" in line and str(blocker) in line


async def test_status_is_one_screen_of_what_an_admin_needs(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    config = project_config(db)
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    async with open_storage(config) as repos, repos.db.transaction():
        await repos.inbox.store("telegram", "41", '{"update_id": 41}', now)
        for _ in range(3):
            await repos.inbox.record_failure("telegram", "41", "KeyError: 'chat'", now, 3)
        await repos.inbox.store("wecom", "m1", "<xml/>", now)
        await repos.outbox.enqueue(
            channel="telegram", chat_id="1", payload={"text": "x"}, dedupe_key="k", now=now
        )
        await repos.job_runs.record("weekly_meeting", "2026-W48", "done", now, now, 3)
    lock = instance_lock(db)
    lock.acquire("run", now)
    try:
        result = cli("status", db=db)
    finally:
        lock.release()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"运行中的机器人:进程 {os.getpid()}" in out and "2026-11-24 10:00" in out  # local time
    assert "Telegram 待处理 0 · 已搁置 1" in out and "企业微信 待处理 1" in out
    assert "搁置 Telegram 41(3 次" in out and "KeyError: 'chat'" in out
    assert "到期待发 1" in out and "发送失败 0" in out
    assert "Telegram 上次取消息:从未" in out
    assert "weekly_meeting 2026-W48 已运行 2026-11-24 10:00:00 通知 3 条" in out
    assert len(out.splitlines()) < 25
    idle = cli("status", db=db)
    assert "运行中的机器人:没有" in idle.stdout


def test_the_console_shows_its_own_persons_messages_and_leaves_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    assert cli("console", "--as", "S001", db=db, stdin="/help\n").returncode == 0
    supervisor = cli("console", "--as", "D001", db=db, stdin="/findings add jj1 班前会记录不全\n")
    assert "已记录问题 #1" in supervisor.stdout
    assert "督导发现问题 #1" not in supervisor.stdout  # the secretary's notice, not shown here
    with sqlite3.connect(db) as conn:
        waiting = conn.execute(
            "SELECT chat_id FROM outbox WHERE status = 'pending' AND channel = 'console'"
        ).fetchall()
    assert waiting == [("local-S001",)]
    secretary = cli("console", "--as", "S001", db=db, stdin="")
    assert "督导发现问题 #1" in secretary.stdout


def test_a_circled_digit_while_buttons_are_shown_is_text(tmp_path: Path) -> None:
    script = "井下回收复用锚杆,每月能省好几万\n²\n①\n/my\n"
    result = cli("console", "--as", "E001", db=tmp_path / "j.db", stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "您的金点子(共 1 条" in result.stdout
