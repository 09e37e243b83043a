"""Issue 17, items 1 and 5: the Monday meeting's audience, and ages counted at the job's own
clock (`jobs run … --now`), never the wall clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.app import App
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people


@pytest.fixture
async def people(app: App, chat: Callable[..., Chat]) -> dict[str, Chat]:
    found = await register_people(chat, "supervisor", "secretary", "leader", "worker", "admin")
    await chat("u-S001", chat_type="group", chat_id="-900").say("/bind jj1")
    return found


def texts(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


async def test_agenda_age_is_counted_at_the_jobs_now(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    transport.sent.clear()
    # the wall clock (the app's clock) stays on the day of the finding; the job runs 20 days on
    result = await run_job(app.services, "weekly_meeting", clock() + timedelta(days=20))
    assert result.queued == 2  # the leaders and the supervising department
    await people["worker"].sender.run_once()
    for person in ("u-L001", "u-D001"):
        (agenda,) = texts(transport, person)
        assert "#1 班前会记录不全(已 20 天未解决)" in agenda
    # branch groups do not attend the political-work meeting: they get no Monday notice
    assert texts(transport, "-900") == []


async def test_progress_nudge_says_the_true_number_of_days(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    await people["leader"].say("/project new 锚杆复用 | repair_reuse | L001 | jj1 | 5万")
    transport.sent.clear()
    result = await run_job(app.services, "progress_nudge", clock() + timedelta(days=9))
    assert result.queued >= 1
    await people["worker"].sender.run_once()
    nudge = texts(transport, "u-S001")
    assert any("已经 9 天没有报告进展" in t for t in nudge), nudge


async def test_finding_detail_prints_its_text_once(people: dict[str, Chat]) -> None:
    await people["supervisor"].say("/findings add jj1 班前会记录不全")
    (detail, *_) = await people["supervisor"].say("/findings 1")
    assert detail.count("班前会记录不全") == 1, detail
    assert "问题:班前会记录不全" in detail
