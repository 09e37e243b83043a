"""The calendar: triggers over a year, once per period, catch-up, notices, the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, load_sample_roster, open_app
from bot.config import Config, ConfigError, load_config
from nlp import ModelClassifier
from scheduler.runner import catch_up, next_fires, run_job, trigger
from tests.support import ROOT, Chat, Clock, RecordingTransport, another_process, register_people

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_next_fire_times_over_a_year(config: Config) -> None:
    start = local(2026, 11, 24, 12, 0)
    year = {
        name: next_fires(trigger(fields, SHANGHAI), start, 60)
        for name, fields in config.schedule.items()
    }
    in_year = {
        name: [f for f in fires if f < start + timedelta(days=365)] for name, fires in year.items()
    }
    assert in_year["weekly_meeting"][0] == local(2026, 11, 30, 8, 30)
    assert all(
        f.weekday() == 0 and (f.hour, f.minute) == (8, 30) for f in in_year["weekly_meeting"]
    )
    assert len(in_year["weekly_meeting"]) == 52
    assert in_year["supervision_check"][0] == local(2026, 11, 27, 16, 0)
    assert in_year["monthly_scores"][:2] == [local(2026, 12, 1, 9, 0), local(2027, 1, 1, 9, 0)]
    assert len(in_year["monthly_scores"]) == 12
    assert in_year["quarterly_review"] == [
        local(2027, 1, 1, 9, 0),
        local(2027, 4, 1, 9, 0),
        local(2027, 7, 1, 9, 0),
        local(2027, 10, 1, 9, 0),
    ]
    assert in_year["quarter_reminder"][:3] == [
        local(2027, 1, 3, 9, 0),
        local(2027, 1, 5, 9, 0),
        local(2027, 4, 3, 9, 0),
    ]
    assert len(in_year["quarter_reminder"]) == 8
    assert in_year["reward_meeting"][:3] == [
        local(2026, 12, 3, 7, 30),
        local(2027, 1, 7, 7, 30),
        local(2027, 2, 4, 7, 30),
    ]
    assert all(f.weekday() == 3 and f.day <= 7 for f in in_year["reward_meeting"])
    assert in_year["weekly_digest"][0] == local(2026, 11, 29, 18, 0)
    assert in_year["progress_nudge"][0] == local(2026, 11, 26, 10, 0)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  weekly_meeting: {", "  weekly_meetin: {", "schedule.weekly_meetin"),
        ("  misfire_grace: 12h", "  misfire_grace: soon", "schedule.misfire_grace"),
    ],
)
def test_unknown_job_and_bad_grace_are_refused(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        (ROOT / "config.yaml").read_text(encoding="utf-8").replace(old, new), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert err.value.key == key


@pytest.fixture
async def seeded(app: App, chat: Callable[..., Chat]) -> dict[str, Chat]:
    people = await register_people(chat, "supervisor", "secretary", "leader", "worker", "admin")
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    await people["supervisor"].say("/findings add jj2 宣传栏内容过期")
    await people["supervisor"].say("/findings escalate 2")
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    return people


def texts(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def test_weekly_meeting_notices(
    app: App, seeded: dict[str, Chat], sender: object, transport: RecordingTransport
) -> None:
    transport.sent.clear()
    result = await run_job(
        app.services, "weekly_meeting", datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    )
    assert result.period == "2026-W49" and result.queued == 2
    await seeded["worker"].sender.run_once()
    assert texts(transport, "-900") == []  # branch groups do not attend the meeting
    for person in ("u-D001", "u-L001"):
        agenda = texts(transport, person)
        assert len(agenda) == 1 and "【宣传部】" in agenda[0] and "#2 宣传栏内容过期" in agenda[0]
    assert texts(transport, "u-E001") == [] and texts(transport, "u-S001") == []


async def test_other_jobs_notices(
    app: App, seeded: dict[str, Chat], transport: RecordingTransport
) -> None:
    sender = seeded["worker"].sender
    transport.sent.clear()
    await seeded["supervisor"].say("/visit jj1")
    transport.sent.clear()
    await run_job(app.services, "supervision_check", app.services.now())
    await run_job(app.services, "weekly_digest", app.services.now())
    await run_job(app.services, "quarterly_review", datetime(2027, 1, 4, 1, 0, tzinfo=UTC))
    for name in ("monthly_scores", "reward_meeting", "progress_nudge"):
        assert (await run_job(app.services, name, app.services.now())).queued == 0
    await sender.run_once()
    check = texts(transport, "u-D001")[0]
    assert "本周还没有走访:机掘二队党支部、开掘一队党支部" in check
    assert "机掘一队党支部 1/4" in check
    secretary = texts(transport, "u-S001")
    assert any("新提交 1 条,待审核 1 条" in t and "#1 修旧利废" in t for t in secretary)
    # January's meeting reviews the quarter just ended, not the one that begins
    assert not any("2027 年" in t for t in secretary)
    assert any("2026 年第四季度党群讲评会将于 1 月上旬召开" in t for t in texts(transport, "-900"))


async def test_the_same_period_sends_once(
    app: App, seeded: dict[str, Chat], transport: RecordingTransport
) -> None:
    at = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    first = await run_job(app.services, "weekly_meeting", at)
    again = await run_job(app.services, "weekly_meeting", at + timedelta(hours=3))
    assert not first.skipped and again.skipped and again.queued == 0
    forced = await run_job(app.services, "weekly_meeting", at, force=True)
    assert forced.queued == first.queued
    next_week = await run_job(app.services, "weekly_meeting", at + timedelta(days=7))
    assert not next_week.skipped and next_week.period == "2026-W50"


async def test_two_clocks_on_one_database_queue_a_period_once(
    app: App, seeded: dict[str, Chat], clock: Clock
) -> None:
    """Any process may run the clock: of two runs of one period side by side (on PostgreSQL,
    two transactions at once), one queues the notices and the other skips."""
    at = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    async with another_process(app) as other:
        results = await asyncio.gather(
            run_job(app.services, "weekly_meeting", at),
            run_job(other.services, "weekly_meeting", at),
        )
    ran = [r for r in results if not r.skipped]
    assert len(ran) == 1 and ran[0].queued == 2
    [run] = [r for r in await app.repos.job_runs.latest() if r.job == "weekly_meeting"]
    assert (run.period, run.notices) == ("2026-W49", 2)
    # and of two catch-ups after downtime, one catches the period up, one reports a miss
    grace = timedelta(hours=12)
    clock.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    await catch_up(app.services, app.config.schedule, grace)
    clock.now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Monday 11:00: W50's meeting is due
    async with another_process(app) as other:
        done = await asyncio.gather(
            catch_up(app.services, app.config.schedule, grace),
            catch_up(other.services, app.config.schedule, grace),
        )
    caught = [d for d in done[0] + done[1] if d.startswith("weekly_meeting:")]
    assert caught == ["weekly_meeting:2026-W50:caught-up"]
    missed = [d for d in done[0] + done[1] if d.startswith("weekly_digest:")]
    assert missed == ["weekly_digest:2026-W49:missed"]


async def test_enqueued_then_killed_delivers_once_after_restart(
    config: Config, clock: Clock, classifier: ModelClassifier
) -> None:
    async with open_app(config, clock=clock, classifier=classifier) as app:
        await load_sample_roster(app)
        # the leaders attend the Monday meeting (branch groups do not)
        leader = Chat(app, RecordingTransport(), app.sender([]), "u-L001")
        await leader.register("L001", "孙矿长")
        result = await run_job(app.services, "weekly_meeting", clock())
        assert result.queued == 1
        # the process dies here: queued, nothing sent
    transport = RecordingTransport()
    async with open_app(config, clock=clock, classifier=classifier) as app:
        sender = app.sender([transport])
        await sender.run_once()
        await sender.run_once()
        assert (await run_job(app.services, "weekly_meeting", clock())).skipped
        await sender.run_once()
    meeting = [c for c, p in transport.sent if "政工例会" in str(p["text"])]
    assert meeting == ["u-L001"]


async def test_catch_up_within_grace_and_missed_beyond(
    app: App, seeded: dict[str, Chat], clock: Clock, transport: RecordingTransport
) -> None:
    config = app.config
    grace = timedelta(hours=12)
    clock.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert await catch_up(app.services, config.schedule, grace) == []  # first start: nothing due
    clock.now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # Monday 11:00, meeting due at 08:30
    done = await catch_up(app.services, config.schedule, grace)
    assert "weekly_meeting:2026-W49:caught-up" in done
    assert "weekly_digest:2026-W48:missed" in done  # Sunday 18:00 was 17 hours ago
    assert await catch_up(app.services, config.schedule, grace) == []  # nothing twice
    await seeded["worker"].sender.run_once()
    admin = texts(transport, "u-A001")
    assert any("周日金点子周报" in t and "已超过补发时限" in t for t in admin)
    assert any("政工例会" in t for t in texts(transport, "u-L001"))


def test_jobs_cli(tmp_path: Path) -> None:
    env = {"JINDIANZI_STORAGE_PATH": str(tmp_path / "j.db"), "PYTHONIOENCODING": "utf-8"}
    jindianzi = str(Path(sys.executable).parent / "jindianzi")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [jindianzi, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    listing = cli("jobs", "list")
    assert listing.returncode == 0
    assert "每周一 08:30" in listing.stdout and "每月第一个周四 07:30" in listing.stdout
    assert "1、4、7、10 月 1 日 09:00" in listing.stdout
    dry = cli("jobs", "run", "quarterly_review", "--now", "2027-01-04T09:00", "--dry-run")
    assert dry.returncode == 0 and "2027-Q1" in dry.stdout and "试运行" in dry.stdout
    first = cli("jobs", "run", "quarterly_review", "--now", "2027-01-04T09:00")
    assert first.returncode == 0 and "2027-Q1" in first.stdout
    second = cli("jobs", "run", "quarterly_review", "--now", "2027-01-05T09:00")
    assert "已经运行过" in second.stdout
    bad = cli("jobs", "run", "quarterly_review", "--now", "next monday")
    assert bad.returncode == 2 and "--now 的时间格式不对" in bad.stderr
    unknown = cli("jobs", "run", "coffee_break")
    assert unknown.returncode == 2 and "没有名为 coffee_break" in unknown.stderr


async def test_groups_named_in_config_are_bound(tmp_path: Path) -> None:
    from bot.app import open_storage

    text = (
        (ROOT / "config.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "洗煤厂党支部, department: union}",
            "洗煤厂党支部, department: union, telegram_chat_id: '-42'}",
        )
    )
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, {"JINDIANZI_STORAGE_PATH": str(tmp_path / "j.db")})
    async with open_storage(config) as repos:
        assert [(g.channel, g.chat_id) for g in await repos.groups.for_branch("xmc")] == [
            ("telegram", "-42")
        ]
