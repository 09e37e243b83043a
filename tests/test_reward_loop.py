"""The reward loop of the first-Thursday safety meeting (issue 16, items 5 and 7), through the
router and the job runner: every verified benefit stays listed until it is rewarded or set
aside; progressive tiers; a partial reward leaves the rest pending; recipients and branch
groups are told; nobody confirms a reward to themselves; a cross-category adoption asks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from handlers import access
from handlers.rules import rewards
from handlers.rules.rewards import basis_taken, tiered_reward
from scheduler.runner import run_job
from tests.support import Chat, Clock, RecordingTransport, register_people

FIRST_THURSDAY_DEC = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # 3 Dec 07:30 in Shanghai
FIRST_THURSDAY_JAN = datetime(2027, 1, 6, 23, 30, tzinfo=UTC)  # 7 Jan 07:30
FIRST_THURSDAY_FEB = datetime(2027, 2, 3, 23, 30, tzinfo=UTC)  # 4 Feb 07:30


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(chat, "worker", "secretary", "leader", "admin", "other_secretary")


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


def labels(person: Chat) -> list[str]:
    return [b["label"] for b in person.last_buttons]


async def meeting(app: App, clock: Clock, at: datetime) -> str | None:
    """The list the reward_meeting job sends the leaders at `at` (None: it sends nothing)."""
    clock.now = at
    result = await run_job(app.services, "reward_meeting", at)
    return result.notices[0].text if result.notices else None


async def washing_plant(people: dict[str, Chat]) -> None:
    """The case's 89 万 washing-plant month, verified."""
    await people["leader"].say("/project new 洗煤厂重介改造 | 工艺改良 | L001 | xmc | 100万")
    await people["other_secretary"].say("/benefit P01 89万 10月精煤回收率提高")
    await people["admin"].say("/verify B1")


async def bolts(people: dict[str, Chat], *amounts: str, idea: bool = False) -> None:
    """P01 井下锚杆回收复用 led by jj1 with zc1 taking part, claims verified by the leader."""
    linked = " | 1" if idea else ""
    await people["leader"].say(
        f"/project new 井下锚杆回收复用 | 修旧利废 | L001 | jj1,zc1 | 50万{linked}"
    )
    for number, amount in enumerate(amounts, start=1):
        await people["secretary"].say(f"/benefit P01 {amount} 回收锚杆1740根×23元")
        await people["leader"].say(f"/verify B{number}")


async def test_a_verified_benefit_stays_on_the_list_until_rewarded(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    await washing_plant(people)
    december = await meeting(app, clock, FIRST_THURSDAY_DEC)
    assert december is not None and "P01 洗煤厂重介改造:新核实 89.00 万元" in december
    # 7 Jan: nothing newly verified, yet P01 is still unrewarded; it used to send "0 条通知"
    january = await meeting(app, clock, FIRST_THURSDAY_JAN)
    assert january is not None, "the unrewarded project dropped off the list"
    assert "P01 洗煤厂重介改造:此前已列,待奖励 89.00 万元,建议奖励 29.70 万元" in january
    assert "建议分给:洗煤厂党支部 29.70 万元" in january
    assert "建议奖励 29.70 万元" in (await people["leader"].say("/reward P01"))[-1]
    await people["leader"].press("按建议分配")
    await people["leader"].press("不写备注")
    assert "已记录 P01 的奖励 29.70 万元" in (await people["leader"].press("确认"))[-1]
    assert await meeting(app, clock, FIRST_THURSDAY_FEB) is None  # rewarded: off the list


def test_tiers_are_marginal_with_no_cliff(app: App) -> None:
    tiers = app.services.settings.reward_tiers  # 60 % to 10 万, 30 % to 100 万, 10 % above
    assert tiered_reward(tiers, 10_000_000) == 6_000_000  # 100,000 yuan → 60,000
    assert tiered_reward(tiers, 10_000_100) == 6_000_030  # 100,001 → 60,000 + 0.30
    assert tiered_reward(tiers, 89_000_000) == 29_700_000  # 6 万 + 79 万 × 30 %
    assert tiered_reward(tiers, 200_000_000) == 6_000_000 + 27_000_000 + 10_000_000
    points = [0, 1, 9_999_999, 10_000_000, 10_000_001, 99_999_999, 100_000_000, 100_000_001]
    values = [tiered_reward(tiers, p) for p in points]
    assert values == sorted(values)  # one more yuan never lowers the reward
    # the inverse: what basis a reward of 1 万 uses at the start of the bands
    assert basis_taken(tiers, 0, 4_000_000, 1_200_000) == 2_000_000
    assert basis_taken(tiers, 0, 4_000_000, 9_999_999) == 4_000_000  # more than proposed: all


async def test_a_reward_across_a_tier_boundary(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    leader = people["leader"]
    await bolts(people, "8万")
    assert "建议奖励 4.80 万元" in (await leader.say("/reward P01"))[-1]
    await leader.say("/cancel")
    await people["secretary"].say("/benefit P01 40020 12月回收锚杆1740根×23元")
    await leader.say("/verify B2")
    # 12.002 万 verified: 10 万 at 60 %, the last 2.002 万 at 30 % (the cliff gave 3.60 万)
    asked = (await leader.say("/reward P01"))[-1]
    assert "待奖励的核实效益 12.00 万元" in asked and "建议奖励 6.60 万元" in asked
    project = await app.repos.projects.get(1)
    assert project is not None
    offer = await rewards.proposal(app.services, project)
    assert offer.proposed_fen == 6_000_000 + 600_600  # 2,002,000 fen × 0.3 above the band
    # the two sizes either side of the boundary through chat: 100,000 and 100,001 yuan
    await leader.say("/cancel")
    await leader.say("/project new 甲项目 | 修旧利废 | L001 | jj1 | 10万")
    await leader.say("/project new 乙项目 | 修旧利废 | L001 | jj1 | 10万")
    await people["secretary"].say("/benefit P02 100000 整月")
    await people["secretary"].say("/benefit P03 100001 整月")
    await leader.say("/verify B3")
    await leader.say("/verify B4")
    two, three = await app.repos.projects.get(2), await app.repos.projects.get(3)
    assert two is not None and three is not None
    assert (await rewards.proposal(app.services, two)).proposed_fen == 6_000_000
    assert (await rewards.proposal(app.services, three)).proposed_fen == 6_000_030


async def test_a_partial_reward_leaves_the_rest_on_the_next_list(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    leader = people["leader"]
    await bolts(people, "4万")
    assert await meeting(app, clock, FIRST_THURSDAY_DEC) is not None
    await leader.say("/reward P01 confirm 机掘一队:12000 12月安全办公会")  # half the 2.40 万
    done = (await leader.press("确认"))[-1]
    assert "已记录 P01 的奖励 1.20 万元" in done
    assert "其余 2.00 万元 留在待奖励名单上" in done
    # the 1.20 万 used 2 万 of the 4 万 basis: the claim records what it gave
    rows = await app.repos.db.fetchall("SELECT benefit_id, basis_fen FROM reward_claims")
    assert [tuple(r) for r in rows] == [(1, 2_000_000)]
    january = await meeting(app, clock, FIRST_THURSDAY_JAN)
    assert january is not None
    assert "P01 井下锚杆回收复用:此前已列,待奖励 2.00 万元,建议奖励 1.20 万元" in january
    asked = (await leader.say("/reward P01"))[-1]
    assert "待奖励的核实效益 2.00 万元" in asked and "建议奖励 1.20 万元" in asked


async def test_recipients_and_the_branch_group_are_told(
    app: App, people: dict[str, Chat], chat: Callable[..., Chat], transport: RecordingTransport
) -> None:
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    group = chat("u-S001", chat_type="group", chat_id="-100")
    assert "绑定" in (await group.say("/bind jj1"))[0]
    await bolts(people, "4万", idea=True)
    leader = people["leader"]
    items = await rewards.reward_meeting_items(app.services, FIRST_THURSDAY_DEC)
    assert [(s.label, s.amount_fen) for s in items[0].shares] == [
        ("机掘一队党支部", 1_200_000),  # the lead branch: two parts
        ("综采一队党支部", 600_000),
        ("张三", 600_000),  # the author of idea #1
    ]
    asked = (await leader.say("/reward P01"))[-1]
    assert "机掘一队党支部 1.20 万元、综采一队党支部 6,000.00 元、张三 6,000.00 元" in asked
    await leader.press("按建议分配")
    await leader.press("不写备注")
    done = (await leader.press("确认"))[-1]
    assert "已通知 2 人和 1 个支部群" in done, done
    assert any("获得奖励 6,000.00 元" in t for t in sent_to(transport, "u-E001"))
    assert any("机掘一队党支部参与的重点项目" in t for t in sent_to(transport, "u-S001"))
    told = sent_to(transport, "-100")
    assert any("矿长特别奖励" in t and "张三 6,000.00 元" in t for t in told), told


async def test_nobody_confirms_a_reward_to_themselves(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    leader, admin = people["leader"], people["admin"]
    await leader.say("井下回收复用锚杆,每月能省好几万")  # the leader's own idea #1
    await bolts(people, "4万", idea=True)
    asked = (await leader.say("/reward P01"))[-1]
    assert "孙矿长" in asked and "不能给自己确认奖励" in asked
    assert "按建议分配" not in labels(leader)
    await leader.say("/cancel")
    refused = (await leader.say("/reward P01 confirm L001:6000,jj1:12000"))[-1]
    assert "不能给自己确认奖励" in refused
    assert await app.repos.db.fetchall("SELECT * FROM rewards") == []
    # another leader confirms it, and the leader is told like any recipient
    await admin.say("/reward P01 confirm L001:6000,jj1:12000")
    assert "已记录 P01 的奖励 1.80 万元" in (await admin.press("确认"))[-1]
    assert any("获得奖励 6,000.00 元" in t for t in sent_to(transport, "u-L001"))
    person = await app.repos.people.by_employee_no("L001")
    assert person is not None
    assert not access.may_confirm_reward(person, [person.id])
    assert access.may_confirm_reward(person, [None, person.id + 1])


async def test_set_aside_with_a_reason_takes_it_off_the_list(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    leader = people["leader"]
    await washing_plant(people)
    assert "要写明原因" in (await leader.say("/reward P01 set-aside"))[-1]
    asked = (await leader.say("/reward P01 set-aside 效益已计入集团技改奖"))[-1]
    assert "89.00 万元" in asked and "效益已计入集团技改奖" in asked
    assert labels(leader) == ["确认", "取消"]
    await leader.press("取消")
    assert await meeting(app, clock, FIRST_THURSDAY_DEC) is not None  # declined: still listed
    await leader.say("/reward P01 set-aside 效益已计入集团技改奖")
    assert "不予奖励" in (await leader.press("确认"))[-1]
    assert await meeting(app, clock, FIRST_THURSDAY_JAN) is None
    assert "没有待奖励的核实效益" in (await leader.say("/reward P01"))[-1]
    rows = await app.repos.db.fetchall("SELECT benefit_id, reason FROM reward_set_asides")
    assert [tuple(r) for r in rows] == [(1, "效益已计入集团技改奖")]
    # a claim verified later is listed again on its own
    await people["other_secretary"].say("/benefit P01 2万 11月")
    await people["admin"].say("/verify B2")
    later = await meeting(app, clock, FIRST_THURSDAY_FEB)
    assert later is not None and "待奖励 2.00 万元" in later


async def test_adopting_into_another_category_asks_first(app: App, people: dict[str, Chat]) -> None:
    leader = people["leader"]
    await people["worker"].say("井下照明全部换成LED节能灯,每年能省不少电费")
    idea = await app.repos.ideas.get(1)
    assert idea is not None
    other = "repair_reuse" if idea.category != "repair_reuse" else "energy_environment"
    await leader.say(f"/project new 锚杆回收 | {other} | L001 | jj1 | 10万")
    idea_label = app.services.category_label(idea.category)
    project_label = app.services.category_label(other)

    asked = (await leader.say("/review 1 adopt P01"))[-1]
    assert idea_label in asked and project_label in asked
    assert labels(leader) == ["确认纳入", "取消"]
    await leader.press("取消")
    found = await app.repos.ideas.get(1)
    assert found is not None and found.status == "submitted"
    assert await app.repos.projects.project_of(1) is None

    await leader.say("/review")  # the queue's 采纳 button asks the same
    await leader.press_on("#1 ", "采纳")
    asked = (await leader.press("P01 锚杆回收"))[-1]
    assert idea_label in asked and project_label in asked
    assert "已纳入重点项目 P01" in (await leader.press("确认纳入"))[-1]
    assert await app.repos.projects.project_of(1) == 1


def test_the_migration_spreads_old_rewards_over_their_claims() -> None:
    """Rewards recorded before 0017 took the whole basis then pending: their basis is spread
    over the project's verified claims, oldest first, so the rest stays pending."""
    import sqlite3
    from importlib import resources

    folder = resources.files("storage").joinpath("migrations")
    conn = sqlite3.connect(":memory:")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql") and entry.name < "0017":
            conn.executescript(entry.read_text(encoding="utf-8"))
    stamp = "2026-11-24T02:00:00+00:00"
    benefit = (
        "INSERT INTO benefits (project_id, amount_fen, text, claimed_by, status, decided_at,"
        " created_at) VALUES (1, ?, '', 1, ?, ?, ?)"
    )
    conn.execute(benefit, (3_000_000, "verified", stamp, stamp))
    conn.execute(benefit, (500_000, "rejected", stamp, stamp))
    conn.execute(benefit, (2_000_000, "verified", stamp, stamp))
    conn.execute(
        "INSERT INTO rewards (project_id, amount_fen, basis_fen, confirmed_by, created_at)"
        " VALUES (1, 2400000, 4000000, 1, ?)",
        (stamp,),
    )
    conn.executescript(folder.joinpath("0017_reward_loop.sql").read_text(encoding="utf-8"))
    rows = conn.execute("SELECT benefit_id, basis_fen FROM reward_claims ORDER BY 1").fetchall()
    assert rows == [(1, 3_000_000), (3, 1_000_000)]
