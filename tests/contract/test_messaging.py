"""Contract: the inbox, heartbeats, conversations, the outbox, group bindings, menus and the
job-run ledger (`repos.inbox`, `.heartbeats`, `.conversations`, `.outbox`, `.groups`,
`.menus`, `.job_runs`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import (
    Conversation,
    FailedUpdate,
    GroupBinding,
    JobRun,
    MenuChoice,
    OutboxMessage,
    PendingUpdate,
    Repositories,
)
from tests.contract.seed import SHANGHAI, T0, Staff, at

LEASE = timedelta(minutes=5)

# -- inbox --------------------------------------------------------------------------------


async def test_inbox_stores_an_update_once(repos: Repositories) -> None:
    assert await repos.inbox.store("telegram", "101", '{"text": "你好"}', T0) is True
    assert await repos.inbox.store("telegram", "101", "{}", at(1)) is False
    assert await repos.inbox.store("wecom", "101", "<xml/>", T0) is True  # per channel
    assert await repos.inbox.status("telegram", "101") == "pending"
    assert await repos.inbox.status("telegram", "999") is None
    assert await repos.inbox.pending("telegram") == [PendingUpdate("101", '{"text": "你好"}')]


async def test_inbox_pending_in_arrival_order_with_a_limit(repos: Repositories) -> None:
    await repos.inbox.store("telegram", "b", "second", at(0, minutes=2))
    await repos.inbox.store("telegram", "a", "first", at(0, minutes=1))
    await repos.inbox.store("telegram", "c", "same time as b", at(0, minutes=2))
    assert [p.update_id for p in await repos.inbox.pending("telegram")] == ["a", "b", "c"]
    assert [p.update_id for p in await repos.inbox.pending("telegram", 2)] == ["a", "b"]
    assert await repos.inbox.pending("wecom") == []


async def test_inbox_finish_marks_done_even_if_never_stored(repos: Repositories) -> None:
    await repos.inbox.store("telegram", "1", "raw", T0)
    await repos.inbox.finish("telegram", "1", "done", at(1))
    await repos.inbox.finish("wecom", "m-2", "done", at(1))  # processed without a stored copy
    assert await repos.inbox.status("telegram", "1") == "done"
    assert await repos.inbox.status("wecom", "m-2") == "done"
    assert await repos.inbox.store("wecom", "m-2", "again", at(2)) is False  # a redelivery
    assert await repos.inbox.pending("telegram") == []


async def test_inbox_failures_are_counted_then_set_aside(repos: Repositories) -> None:
    await repos.inbox.store("telegram", "1", "raw", T0)
    await repos.inbox.store("telegram", "2", "raw", T0)
    assert await repos.inbox.record_failure("telegram", "1", "超时", at(1), 3) == 1
    assert await repos.inbox.status("telegram", "1") == "pending"
    assert await repos.inbox.record_failure("telegram", "1", "超时", at(2), 2) == 2
    assert await repos.inbox.status("telegram", "1") == "failed"
    assert await repos.inbox.record_failure("telegram", "2", "x" * 5000, at(3), 1) == 1
    assert await repos.inbox.record_failure("telegram", "nope", "?", at(3), 4) == 4
    failures = await repos.inbox.failures()
    assert [f.update_id for f in failures] == ["2", "1"]  # newest first
    assert failures[1] == FailedUpdate("telegram", "1", 2, "超时", at(2))
    assert len(failures[0].error) == 2000  # the error is cut
    assert [f.update_id for f in await repos.inbox.failures(limit=1)] == ["2"]
    assert await repos.inbox.pending("telegram") == []


async def test_inbox_counts_and_last_received(repos: Repositories) -> None:
    await repos.inbox.store("telegram", "1", "raw", at(0))
    await repos.inbox.store("telegram", "2", "raw", at(2).astimezone(SHANGHAI))
    await repos.inbox.store("wecom", "1", "raw", at(1))
    await repos.inbox.finish("telegram", "1", "done", at(3))
    assert await repos.inbox.counts() == {
        ("telegram", "done"): 1,
        ("telegram", "pending"): 1,
        ("wecom", "pending"): 1,
    }
    assert await repos.inbox.last_received() == {"telegram": at(2), "wecom": at(1)}


# -- heartbeats and conversations ---------------------------------------------------------


async def test_heartbeats_keep_the_latest_beat_per_name(repos: Repositories) -> None:
    assert await repos.heartbeats.all() == {}
    await repos.heartbeats.beat("telegram_poll", at(0))
    await repos.heartbeats.beat("outbox", at(1))
    await repos.heartbeats.beat("telegram_poll", at(2).astimezone(SHANGHAI))
    beats = await repos.heartbeats.all()
    assert beats == {"outbox": at(1), "telegram_poll": at(2)}
    assert list(beats) == ["outbox", "telegram_poll"]


async def test_conversation_state_round_trips_chinese_data(repos: Repositories) -> None:
    assert await repos.conversations.get("telegram", "1") is None
    data = {"draft": "回收锚杆,每月节约4万元", "choices": [1, 2], "nested": {"确认": True}}
    await repos.conversations.set("telegram", "1", "confirm_idea", data, T0)
    assert await repos.conversations.get("telegram", "1") == Conversation("confirm_idea", data)
    await repos.conversations.set("telegram", "1", "pick_category", {}, at(1))
    assert await repos.conversations.get("telegram", "1") == Conversation("pick_category", {})
    assert await repos.conversations.get("wecom", "1") is None
    await repos.conversations.clear("telegram", "1")
    assert await repos.conversations.get("telegram", "1") is None


# -- outbox -------------------------------------------------------------------------------


async def _enqueue(repos: Repositories, chat_id: str, key: str, text: str = "通知") -> bool:
    return await repos.outbox.enqueue(
        channel="telegram", chat_id=chat_id, payload={"text": text}, dedupe_key=key, now=T0
    )


async def test_outbox_enqueue_dedupes_by_key(repos: Repositories) -> None:
    assert await _enqueue(repos, "A", "k1", "第一次") is True
    assert await _enqueue(repos, "B", "k1", "第二次") is False
    claimed = await repos.outbox.claim(at(0, minutes=1), ["telegram"], LEASE)
    assert [(m.chat_id, m.payload) for m in claimed] == [("A", {"text": "第一次"})]
    assert await repos.outbox.counts() == {"pending": 1}


async def test_outbox_claim_oldest_first_round_trips_the_payload(repos: Repositories) -> None:
    payload = {"text": "本月评分:第一名", "buttons": [["查看", "score:1"]], "n": 3}
    await repos.outbox.enqueue(
        channel="telegram", chat_id="A", payload=payload, dedupe_key="k1", now=T0
    )
    await _enqueue(repos, "B", "k2")
    await _enqueue(repos, "A", "k3")
    await repos.outbox.enqueue(
        channel="wecom", chat_id="u1", payload={"text": "企业微信"}, dedupe_key="k4", now=T0
    )
    claimed = await repos.outbox.claim(at(0, minutes=1), ["telegram"], LEASE)
    assert [(m.chat_id, m.attempts) for m in claimed] == [("A", 0), ("B", 0), ("A", 0)]
    assert claimed[0] == OutboxMessage(claimed[0].id, "telegram", "A", payload, 0)
    assert claimed[0].id < claimed[1].id < claimed[2].id
    assert await repos.outbox.claim(at(0, minutes=1), [], LEASE) == []
    assert await repos.outbox.claim(at(0, minutes=-1), ["wecom"], LEASE) == []  # not due yet


async def test_outbox_claim_holds_until_the_lease_ends_or_a_release(repos: Repositories) -> None:
    await _enqueue(repos, "A", "k1")
    await _enqueue(repos, "B", "k2")
    now = at(0, minutes=1)
    first = await repos.outbox.claim(now, ["telegram"], LEASE)
    assert len(first) == 2
    assert await repos.outbox.claim(now + timedelta(minutes=4), ["telegram"], LEASE) == []
    again = await repos.outbox.claim(now + LEASE, ["telegram"], LEASE)  # the claim ran out
    assert [m.id for m in again] == [m.id for m in first]
    await repos.outbox.release([first[0].id])
    later = now + LEASE + timedelta(minutes=1)
    assert [m.id for m in await repos.outbox.claim(later, ["telegram"], LEASE)] == [first[0].id]
    assert await repos.outbox.release_claims() == 2
    assert len(await repos.outbox.claim(later, ["telegram"], LEASE)) == 2


async def test_outbox_claim_one_chat_in_order_and_limit(repos: Repositories) -> None:
    await _enqueue(repos, "A", "a1")
    await _enqueue(repos, "A", "a2")
    await _enqueue(repos, "B", "b1")
    now = at(0, minutes=1)
    limited = await repos.outbox.claim(now, ["telegram"], LEASE, limit=1)
    assert [m.chat_id for m in limited] == ["A"]
    # a1 is claimed: a2 (same chat) must wait; b1 goes.
    b1 = await repos.outbox.claim(now, ["telegram"], LEASE)
    assert [m.chat_id for m in b1] == ["B"]
    await repos.outbox.mark_sent(b1[0].id, now)
    await repos.outbox.mark_retry(limited[0].id, "429 Too Many Requests", at(1))
    # a1 waits for its retry: a2 still waits behind it.
    assert await repos.outbox.claim(now + LEASE * 2, ["telegram"], LEASE) == []
    retried = await repos.outbox.claim(at(1), ["telegram"], LEASE)
    assert [(m.chat_id, m.attempts) for m in retried] == [("A", 1), ("A", 0)]  # a1, then a2
    assert retried[0].id == limited[0].id


async def test_outbox_claim_only_some_chats_of_a_channel(repos: Repositories) -> None:
    await _enqueue(repos, "A", "k1")
    await _enqueue(repos, "B", "k2")
    await repos.outbox.enqueue(
        channel="console", chat_id="local", payload={}, dedupe_key="k3", now=T0
    )
    now = at(0, minutes=1)
    found = await repos.outbox.claim(now, ["telegram", "console"], LEASE, only={"telegram": ["B"]})
    assert sorted((m.channel, m.chat_id) for m in found) == [
        ("console", "local"),
        ("telegram", "B"),
    ]


async def test_outbox_sent_failed_counts_summary_and_next_due(repos: Repositories) -> None:
    for key, chat in (("k1", "A"), ("k2", "B"), ("k3", "C"), ("k4", "D")):
        await _enqueue(repos, chat, key)
    now = at(0, minutes=1)
    a, b, c = await repos.outbox.claim(now, ["telegram"], LEASE, limit=3)
    await repos.outbox.mark_sent(a.id, now)
    await repos.outbox.mark_failed(b.id, "403 Forbidden: bot was blocked")
    await repos.outbox.mark_retry(c.id, "timeout", at(1))
    assert await repos.outbox.counts() == {"sent": 1, "failed": 1, "pending": 2}
    assert await repos.outbox.summary(now) == {
        "claimed": 0,
        "due": 1,
        "waiting": 1,
        "sent": 1,
        "failed": 1,
    }
    assert await repos.outbox.next_due_at(["telegram"]) == T0  # D is due since T0
    d = await repos.outbox.claim(now, ["telegram"], LEASE)
    assert [m.chat_id for m in d] == ["D"]
    assert (await repos.outbox.summary(now))["claimed"] == 1
    await repos.outbox.mark_sent(d[0].id, now)
    assert await repos.outbox.next_due_at(["telegram"]) == at(1)
    assert await repos.outbox.next_due_at(["wecom"]) is None
    assert await repos.outbox.next_due_at([]) is None
    assert await repos.outbox.claim(at(2), ["telegram"], LEASE) != []  # C's retry is due
    assert await repos.outbox.claim(at(2), ["telegram"], LEASE) == []  # sent/failed never again


# -- group bindings -----------------------------------------------------------------------


async def test_group_bind_get_and_rebind(repos: Repositories, staff: Staff) -> None:
    assert await repos.groups.get("telegram", "-100") is None
    await repos.groups.bind("telegram", "-100", "jj1", staff.secretary.id, T0)
    assert await repos.groups.get("telegram", "-100") == GroupBinding(
        "telegram", "-100", "jj1", True
    )
    await repos.groups.bind("telegram", "-100", "zc1", None, at(1))
    assert await repos.groups.get("telegram", "-100") == GroupBinding(
        "telegram", "-100", "zc1", True
    )


async def test_group_deactivate_reactivate_and_for_branch(
    repos: Repositories, staff: Staff
) -> None:
    await repos.groups.bind("telegram", "-2", "jj1", None, T0)
    await repos.groups.bind("telegram", "-1", "jj1", None, T0)
    await repos.groups.bind("wecom", "robot", "jj1", None, T0)
    await repos.groups.bind("telegram", "-3", "zc1", None, T0)
    assert [(g.channel, g.chat_id) for g in await repos.groups.for_branch("jj1")] == [
        ("telegram", "-1"),
        ("telegram", "-2"),
        ("wecom", "robot"),
    ]
    assert await repos.groups.deactivate("telegram", "-1", at(1)) is True
    assert await repos.groups.deactivate("telegram", "-1", at(1)) is False
    binding = await repos.groups.get("telegram", "-1")
    assert binding is not None and binding.active is False
    assert [g.chat_id for g in await repos.groups.for_branch("jj1")] == ["-2", "robot"]
    assert await repos.groups.reactivate("telegram", "-1", at(2)) is True
    assert await repos.groups.reactivate("telegram", "never", at(2)) is False
    assert len(await repos.groups.for_branch("jj1")) == 3


async def test_group_migrate_keeps_the_binding_under_the_new_id(
    repos: Repositories, staff: Staff
) -> None:
    await repos.groups.bind("telegram", "-1", "jj1", None, T0)
    await repos.groups.bind("telegram", "-1009", "zc1", None, T0)  # seen before the move
    assert await repos.groups.migrate("telegram", "-1", "-1009", at(1)) is True
    assert await repos.groups.get("telegram", "-1") is None
    assert await repos.groups.get("telegram", "-1009") == GroupBinding(
        "telegram", "-1009", "jj1", True
    )
    assert await repos.groups.for_branch("zc1") == []
    assert await repos.groups.migrate("telegram", "-5", "-6", at(1)) is False


# -- menus --------------------------------------------------------------------------------


async def test_menu_choices_by_number_and_numbers_kept_after_forget(repos: Repositories) -> None:
    assert await repos.menus.choice("wecom", "u1", 1) is None
    assert await repos.menus.numbers("wecom", "u1") == {}
    await repos.menus.remember(
        "wecom", "u1", [(1, "idea:7"), (3, "idea:8")], "我的金点子", T0,
        numbers=[("查看", 1), ("撤回", 3)],
    )  # fmt: skip
    assert await repos.menus.choice("wecom", "u1", 3) == MenuChoice("idea:8", "我的金点子")
    assert await repos.menus.choice("wecom", "u1", 2) is None
    assert await repos.menus.choice("wecom", "u2", 1) is None
    assert await repos.menus.numbers("wecom", "u1") == {"查看": 1, "撤回": 3}
    await repos.menus.forget("wecom", "u1")
    assert await repos.menus.choice("wecom", "u1", 1) is None
    assert await repos.menus.numbers("wecom", "u1") == {"查看": 1, "撤回": 3}
    await repos.menus.remember("wecom", "u1", [(2, "x")], "", at(1))
    assert await repos.menus.choice("wecom", "u1", 2) == MenuChoice("x", "")
    assert await repos.menus.numbers("wecom", "u1") == {}  # replaced by the new state


async def test_command_menus_per_chat_apart_from_button_menus(repos: Repositories) -> None:
    await repos.menus.remember("telegram", "1", [(1, "b")], "ref", T0)
    await repos.menus.remember_commands("telegram", "1", [("start", "开始"), ("help", "帮助")], T0)
    await repos.menus.remember_commands("telegram", "2", [("start", "开始")], T0)
    assert await repos.menus.command_menus("telegram") == {
        "1": [("start", "开始"), ("help", "帮助")],
        "2": [("start", "开始")],
    }
    assert await repos.menus.choice("telegram", "1", 1) == MenuChoice("b", "ref")
    await repos.menus.forget_commands("telegram", "1")
    assert await repos.menus.command_menus("telegram") == {"2": [("start", "开始")]}
    assert await repos.menus.command_menus("wecom") == {}
    assert await repos.menus.choice("telegram", "1", 1) == MenuChoice("b", "ref")


# -- job runs -----------------------------------------------------------------------------


async def test_job_run_status_and_notices_add_up(repos: Repositories) -> None:
    assert await repos.job_runs.status("weekly_meeting", "2026-W10") is None
    await repos.job_runs.record("weekly_meeting", "2026-W10", "done", T0, at(0, minutes=1), 3)
    await repos.job_runs.record("weekly_meeting", "2026-W10", "done", T0, at(0, minutes=9), 2)
    assert await repos.job_runs.status("weekly_meeting", "2026-W10") == "done"
    assert await repos.job_runs.latest() == [
        JobRun("weekly_meeting", "2026-W10", "done", at(0, minutes=9), 5)
    ]


async def test_job_run_last_fire_counts_only_done_runs_before(repos: Repositories) -> None:
    await repos.job_runs.record("digest", "w1", "done", at(0), at(0), 1)
    await repos.job_runs.record("digest", "w2", "done", at(7).astimezone(SHANGHAI), at(7), 1)
    await repos.job_runs.record("digest", "w3", "missed", at(14), at(15), 0)
    assert await repos.job_runs.last_fire("digest", before=at(20)) == at(7)
    assert await repos.job_runs.last_fire("digest", before=at(7)) == at(0)
    assert await repos.job_runs.last_fire("digest", before=at(0)) is None
    assert await repos.job_runs.last_fire("other", before=at(20)) is None


async def test_job_run_first_start_is_recorded_once(repos: Repositories) -> None:
    assert await repos.job_runs.first_start(T0.astimezone(SHANGHAI)) == T0
    assert await repos.job_runs.first_start(at(5)) == T0
    assert await repos.job_runs.latest() == []  # the scheduler's own row is not a job


async def test_job_run_latest_is_each_jobs_latest_run_by_name(repos: Repositories) -> None:
    await repos.job_runs.record("monthly_scores", "2026-02", "done", at(-30), at(-30), 14)
    await repos.job_runs.record("monthly_scores", "2026-03", "missed", at(0), at(1), 0)
    await repos.job_runs.record("digest", "w1", "done", at(0), at(0, hours=1), 2)
    assert await repos.job_runs.latest() == [
        JobRun("digest", "w1", "done", at(0, hours=1), 2),
        JobRun("monthly_scores", "2026-03", "missed", at(1), 0),
    ]


async def test_job_run_latest_gives_one_row_per_job_when_runs_share_a_time(
    repos: Repositories,
) -> None:
    # A catch-up at start records a missed period and the current one with the same `now`.
    await repos.job_runs.record("digest", "w1", "missed", at(0), at(8), 0)
    await repos.job_runs.record("digest", "w2", "done", at(7), at(8), 4)
    latest = await repos.job_runs.latest()
    assert [run.job for run in latest] == ["digest"]


async def test_concurrent_claims_never_hand_out_one_message_twice(repos: Repositories) -> None:
    for n in range(12):
        await _enqueue(repos, f"chat{n}", f"k{n}")
    now = at(0, minutes=1)
    batches = await asyncio.gather(
        *(repos.outbox.claim(now, ["telegram"], LEASE, limit=5) for _ in range(4))
    )
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == len(set(ids))  # disjoint claims
    rest = await repos.outbox.claim(now, ["telegram"], LEASE)
    assert len(ids) + len(rest) == 12
