"""Finding ideas without knowing their numbers: /ideas with filters and paging, /search, the
/review queue with its buttons, an idea's history, and withdrawing with a confirm step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from handlers.router import APOLOGY
from storage import IdeaFilter, IdeaScope
from storage.repos.ideas import listing_query, waiting_query
from tests.support import Chat, Clock, RecordingTransport, idea_rows, register_people

ANCHOR = "井下回收复用锚杆,每月能省好几万"
ANCHOR_AGAIN = "回收井下的旧锚杆复用,每月能省好几万元"
BELT = "主井皮带机托辊坏了别扔,拆下来修好再用"
LIGHTS = "巷道照明换成LED灯,每年节电十几万度"
SHIFT = "交接班记录改成电子台账,减少漏项"


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "worker2", "secretary", "other_secretary", "supervisor", "leader"
    )


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


def labels(chat: Chat) -> list[str]:
    return [b["label"] for b in chat.last_buttons]


async def status_of(app: App, idea_id: int) -> str:
    idea = await app.repos.ideas.get(idea_id)
    assert idea is not None
    return idea.status


# -- the review queue -------------------------------------------------------------------------


async def test_a_secretary_finds_and_reviews_the_weeks_ideas_without_knowing_a_number(
    app: App, people: dict[str, Chat], transport: RecordingTransport, clock: Clock
) -> None:
    worker, secretary, leader = people["worker"], people["secretary"], people["leader"]
    await leader.say("/project new 井下锚杆回收复用 | repair_reuse | L001 | jj1,zc1 | 50万")
    for text in (ANCHOR, BELT, ANCHOR_AGAIN, LIGHTS, SHIFT):  # #1 … #5, all of 机掘一队
        clock.advance(3600)
        await worker.say(text)
    await people["worker2"].say("综采面液压支架的旧密封圈修好再用")  # #6, 综采一队
    transport.sent.clear()

    replies = await secretary.say("/review")
    assert "共 5 条" in replies[0]
    cards = replies[1:]
    assert [c.split(" ", 1)[0] for c in cards] == ["#1", "#2", "#3", "#4", "#5"]  # oldest first
    assert "张三" in cards[0] and "机掘一队" in cards[0] and "2026-11-24" in cards[0]
    assert "修旧利废" in cards[0] and ANCHOR in cards[0]
    assert "#1" in cards[2].split("相似的金点子", 1)[1]  # #3 is like #1
    assert not any("液压支架" in c for c in cards)  # another branch's idea is not in the queue
    assert [b["label"] for b in secretary.received[-1]["buttons"][0]] == [
        "审核中",
        "采纳",
        "合并",
        "不采纳",
    ]

    assert "已改为“审核中”" in (await secretary.press_on("#2 ", "审核中"))[0]
    assert await status_of(app, 2) == "under_review"
    assert any("审核中" in t for t in sent_to(transport, "u-E001"))

    offer = (await secretary.press_on("#1 ", "采纳"))[0]
    assert "纳入哪个重点项目" in offer
    assert "已纳入重点项目 P01" in (await secretary.press("P01 井下锚杆回收复用"))[0]
    assert await status_of(app, 1) == "adopted"

    offer = (await secretary.press_on("#3 ", "合并"))[0]
    assert "#1" in offer and "并入 #1" in labels(secretary)
    assert "已合并到 #1" in (await secretary.press("并入 #1"))[0]
    assert await status_of(app, 3) == "merged"

    asked = (await secretary.press_on("#4 ", "不采纳"))[0]
    assert "原因" in asked and "/cancel" in asked
    assert "请写明" in (await secretary.say("灯"))[0]  # too short: asked again, nothing changed
    assert await status_of(app, 4) == "submitted"
    done = (await secretary.say("已有同类项目在做"))[0]
    assert "已改为“未采纳”" in done
    assert await status_of(app, 4) == "not_adopted"
    assert any("已有同类项目在做" in t for t in sent_to(transport, "u-E001"))
    assert len(await idea_rows(app.repos)) == 6  # the reason was no new idea

    left = await secretary.say("/review")
    assert "共 1 条" in left[0] and left[1].startswith("#5 ")


async def test_the_queue_comes_in_batches_of_five(app: App, people: dict[str, Chat]) -> None:
    for n in range(1, 8):
        await people["worker"].say(f"第{n}号皮带机的托辊拆下来修一修再用")
    replies = await people["leader"].say("/review")
    assert "共 7 条" in replies[0] and len(replies) == 7  # header, five ideas, 下一批
    assert "下一批" in labels(people["leader"])
    more = await people["leader"].press("下一批")
    assert [r.split(" ", 1)[0] for r in more[1:3]] == ["#6", "#7"]
    assert "下一批" not in labels(people["leader"])


async def test_a_rejection_reason_can_be_cancelled(app: App, people: dict[str, Chat]) -> None:
    await people["worker"].say(ANCHOR)
    secretary = people["secretary"]
    await secretary.say("/review")
    await secretary.press_on("#1 ", "不采纳")
    assert "已取消" in (await secretary.say("/cancel"))[0]
    assert await status_of(app, 1) == "submitted"
    assert "#2" in (await secretary.say(BELT))[0]  # plain text is an idea again


async def test_merge_without_similar_ideas_and_adopt_without_projects_say_what_to_type(
    app: App, people: dict[str, Chat]
) -> None:
    await people["worker"].say(ANCHOR)
    secretary = people["secretary"]
    await secretary.say("/review")
    assert "/review 1 merge" in (await secretary.press_on("#1 ", "合并"))[0]
    await secretary.say("/review")
    assert "/review 1 adopt" in (await secretary.press_on("#1 ", "采纳"))[0]
    assert await status_of(app, 1) == "submitted"


async def test_queue_buttons_check_scope_and_state(app: App, people: dict[str, Chat]) -> None:
    await people["worker"].say(ANCHOR)
    other = people["other_secretary"]
    for data in ("r:1:adopt", "r:1:merge", "r:1:reject", "r:1:m:1", "r:1:a:1"):
        replies = await other.deliver(other.incoming(callback=data))
        assert "只有党委领导或作者所在支部的书记" in replies[0], data
    secretary = people["secretary"]
    for data in ("r:1:a:99", "r:1:m:99", "r:1:m:1", "rq:²", "r:²:adopt", "r:1:zz"):
        replies = await secretary.deliver(secretary.incoming(callback=data))
        assert replies and APOLOGY not in replies, data
    assert await status_of(app, 1) == "submitted"
    assert "没有" in (await people["other_secretary"].say("/review"))[0]


async def test_lists_and_the_queue_stay_out_of_groups(
    app: App, people: dict[str, Chat], chat: Callable[..., Chat]
) -> None:
    await people["worker"].say(ANCHOR)
    group = chat("u-S001", chat_type="group", chat_id="g-jj1")
    for text in ("/review", "/ideas", "/search 锚杆"):
        reply = (await group.say(text))[0]
        assert "私聊" in reply and ANCHOR not in reply, text
    replies = await group.deliver(group.incoming(callback="r:1:reject"))
    assert "私聊" in replies[0]
    assert await app.repos.conversations.get("test", "u-S001") is None


# -- an idea's detail -------------------------------------------------------------------------


async def test_the_detail_shows_author_branch_date_and_every_change(
    app: App, people: dict[str, Chat], clock: Clock
) -> None:
    await people["worker"].say(ANCHOR)
    clock.advance(600)
    await people["secretary"].say("/review 1 under_review")
    clock.advance(600)
    await people["leader"].say("/review 1 reject 已有同类项目在做")
    detail = (await people["leader"].say("/review 1"))[0]
    header, rest = detail.split("\n", 1)
    assert "#1" in header and "未采纳" in header and "修旧利废" in header
    assert "张三" in rest and "机掘一队" in rest and "2026-11-24" in rest
    assert "10:00 张三 提交" in rest
    assert "10:10 刘书记 → 审核中" in rest
    assert "10:20 孙矿长 → 未采纳:已有同类项目在做" in rest


# -- /ideas -----------------------------------------------------------------------------------


@pytest.fixture
async def spread(people: dict[str, Chat], clock: Clock) -> dict[str, Chat]:
    """#1-#3 张三 (机掘一队), #4 刘书记 (机掘一队), #5 李四 (综采一队), #6 陈书记 (洗煤厂);
    #1 in October, the rest on 2026-11-24."""
    clock.now = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
    await people["worker"].say(ANCHOR)
    clock.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    for who, text in [
        ("worker", BELT),
        ("worker", LIGHTS),
        ("secretary", SHIFT),
        ("worker2", "综采面液压支架的旧密封圈回收修好再用"),
        ("other_secretary", "洗煤厂循环水泵加装变频器,节电"),
    ]:
        await people[who].say(text)
        clock.advance(60)
    await people["leader"].say("/review 2 under_review")
    return people


def shown(reply: str) -> list[str]:
    """The idea numbers of a list, in order."""
    return [line.split(" ", 1)[0] for line in reply.split("\n") if line.startswith("#")]


async def test_ideas_are_scoped_by_role(spread: dict[str, Chat]) -> None:
    assert shown((await spread["worker"].say("/ideas"))[0]) == ["#3", "#2", "#1"]
    secretary = (await spread["secretary"].say("/ideas"))[0]
    assert shown(secretary) == ["#4", "#3", "#2", "#1"]  # their branch, never another's
    assert shown((await spread["other_secretary"].say("/ideas"))[0]) == ["#6"]
    assert shown((await spread["leader"].say("/ideas"))[0]) == ["#6", "#5", "#4", "#3", "#2", "#1"]
    supervisor = (await spread["supervisor"].say("/ideas"))[0]  # 宣传部: 机掘一队, …
    assert shown(supervisor) == ["#4", "#3", "#2", "#1"]
    line = next(x for x in secretary.split("\n") if x.startswith("#2 "))
    assert "2026-11-24" in line and "张三" in line and "机掘一队" in line
    assert "修旧利废" in line and "审核中" in line
    assert "主井皮带机" in secretary
    refused = (await spread["secretary"].say("/ideas 综采一队"))[0]
    assert "只能查看" in refused and "#5" not in refused
    assert "只能查看" in (await spread["worker"].say("/ideas zc1"))[0]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("审核中", ["#2"]),
        ("under_review", ["#2"]),
        ("待审核", ["#6", "#5", "#4", "#3", "#1"]),
        ("节能环保", ["#6", "#3"]),
        ("energy_environment", ["#6", "#3"]),
        ("jj1", ["#4", "#3", "#2", "#1"]),
        ("机掘一队", ["#4", "#3", "#2", "#1"]),
        ("机掘一队党支部 洗煤厂", ["#6", "#4", "#3", "#2", "#1"]),
        ("2026-10", ["#1"]),
        ("10月", ["#1"]),
        ("11月", ["#6", "#5", "#4", "#3", "#2"]),
        ("锚杆", ["#1"]),
        ("回收 修旧利废", ["#5", "#1"]),
        ("11月 修旧利废 待审核 综采一队", ["#5"]),
        ("修旧利废 已撤回", []),
    ],
)
async def test_ideas_filters_in_any_order(
    spread: dict[str, Chat], words: str, expected: list[str]
) -> None:
    reply = (await spread["leader"].say(f"/ideas {words}"))[0]
    assert shown(reply) == expected, reply
    if not expected:
        assert "没有找到" in reply


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("已审核", "没有“已审核”这个状态"),
        ("机掘九队支部", "没有“机掘九队支部”这个支部"),
        ("jj9", "jj1 机掘一队"),
        ("2026-13", "不是一个月份"),
        ("13月", "不是一个月份"),
        ("2026-11-24", "请按月份筛选"),
        ("0", "页码"),
        ("²", "页码"),
        ("99999999999999999999", "页码"),
        ("501", "最多能翻到第 500 页"),
        ("的", "没法搜索"),
    ],
)
async def test_bad_ideas_filters_are_named(
    app: App, spread: dict[str, Chat], words: str, expected: str
) -> None:
    before = await idea_rows(app.repos)
    replies = await spread["leader"].say(f"/ideas {words}")
    assert replies and APOLOGY not in replies
    assert expected in replies[0], replies
    assert await idea_rows(app.repos) == before


async def test_ideas_are_paged_ten_at_a_time(app: App, people: dict[str, Chat]) -> None:
    worker = people["worker"]
    for n in range(1, 24):
        await worker.say(f"第{n}号皮带机的托辊拆下来修一修再用")
    leader = people["leader"]
    first = (await leader.say("/ideas 修旧利废 托辊 皮带机 待审核 机掘一队 11月"))[0]
    assert shown(first) == [f"#{n}" for n in range(23, 13, -1)]
    assert "第 1 页" in first and labels(leader) == ["下一页"]
    assert all(len(b["data"].encode()) <= 64 for b in leader.last_buttons)
    second = (await leader.press("下一页"))[0]
    assert shown(second) == [f"#{n}" for n in range(13, 3, -1)] and "第 2 页" in second
    assert labels(leader) == ["上一页", "下一页"]
    third = (await leader.press("下一页"))[0]
    assert shown(third) == ["#3", "#2", "#1"] and labels(leader) == ["上一页"]
    assert shown((await leader.press("上一页"))[0]) == shown(second)
    assert shown((await leader.say("/ideas 3"))[0]) == ["#3", "#2", "#1"]
    assert shown((await leader.say("/ideas 第2页 托辊"))[0]) == shown(second)
    beyond = (await leader.say("/ideas 9"))[0]
    assert "第 9 页" in beyond and "没有" in beyond and labels(leader) == ["第一页"]
    token = leader.last_buttons[0]["data"].rsplit(":", 1)[0]
    for odd in ("il:nothere:2", "il:²", f"{token}:²", f"{token}:0", "il"):
        replies = await leader.deliver(leader.incoming(callback=odd))
        assert replies and APOLOGY not in replies and "失效" in replies[0], odd


async def test_a_page_button_shows_the_presser_only_what_they_may_see(
    app: App, people: dict[str, Chat]
) -> None:
    for n in range(1, 12):
        await people["worker"].say(f"第{n}号皮带机的托辊拆下来修一修再用")
    leader = people["leader"]
    await leader.say("/ideas")
    data = next(b["data"] for b in leader.last_buttons if b["label"] == "下一页")
    other = people["other_secretary"]
    replies = await other.deliver(other.incoming(callback=data))
    assert "失效" in replies[0] and "#1 " not in replies[0]


# -- /search ----------------------------------------------------------------------------------


async def test_search_finds_what_the_person_may_see(spread: dict[str, Chat]) -> None:
    assert shown((await spread["leader"].say("/search 回收"))[0]) == ["#5", "#1"]
    assert shown((await spread["secretary"].say("/search 回收"))[0]) == ["#1"]
    assert shown((await spread["worker2"].say("/search 回收"))[0]) == ["#5"]
    assert shown((await spread["leader"].say("/search 节电 变频器"))[0]) == ["#6"]
    assert "没有找到" in (await spread["leader"].say("/search 食堂"))[0]
    assert "/search 锚杆" in (await spread["leader"].say("/search"))[0]
    assert "没法搜索" in (await spread["leader"].say("/search 的 了"))[0]


async def test_search_is_paged_like_ideas(people: dict[str, Chat]) -> None:
    for n in range(1, 13):
        await people["worker"].say(f"第{n}号皮带机的托辊拆下来修一修再用")
    leader = people["leader"]
    first = (await leader.say("/search 托辊"))[0]
    assert len(shown(first)) == 10 and labels(leader) == ["下一页"]
    assert shown((await leader.press("下一页"))[0]) == ["#2", "#1"]


# -- withdrawing ------------------------------------------------------------------------------


async def test_withdraw_asks_first_and_can_be_declined(app: App, people: dict[str, Chat]) -> None:
    worker = people["worker"]
    await worker.say(ANCHOR)
    withdraw = next(b for b in worker.last_buttons if b["label"] == "撤回")
    assert withdraw["data"].split(":")[1] == "1"  # the idea's id, the same in every message
    asked = (await worker.press("撤回"))[0]
    assert "确认撤回 #1" in asked and labels(worker) == ["确认撤回", "不撤回"]
    assert "没有撤回" in (await worker.press("不撤回"))[0]
    assert await status_of(app, 1) == "submitted"
    assert "撤回" in labels(worker)  # the idea's buttons are back
    await worker.press("撤回")
    assert "已撤回" in (await worker.press("确认撤回"))[0]
    assert await status_of(app, 1) == "withdrawn"
    history = await app.repos.ideas.history(1)
    assert [(e.status, e.actor_name) for e in history] == [("withdrawn", "张三")]


async def test_withdraw_command_until_someone_reviews(app: App, people: dict[str, Chat]) -> None:
    worker = people["worker"]
    await worker.say(ANCHOR)
    await worker.say(BELT)
    await people["worker2"].say("综采面液压支架的旧密封圈回收修好再用")
    await people["secretary"].say("/review 2 under_review")
    cases = [
        ("/withdraw", "请写上要撤回的金点子编号"),
        ("/withdraw ①", "请写上要撤回的金点子编号"),
        ("/withdraw 99999999999999999999", "请写上要撤回的金点子编号"),
        ("/withdraw 99", "没有编号为 #99 的金点子"),
        ("/withdraw 3", "不是您提交的"),
        ("/withdraw 2", "已经有人审核"),
    ]
    for text, expected in cases:
        reply = (await worker.say(text))[0]
        assert expected in reply, (text, reply)
    assert [r["status"] for r in await idea_rows(app.repos)] == [
        "submitted",
        "under_review",
        "submitted",
    ]
    assert "确认撤回 #1" in (await worker.say("/withdraw #1"))[0]
    assert "没有撤回" in (await worker.press("不撤回"))[0]
    await worker.say("/withdraw 1")
    await people["leader"].say("/review 1 under_review")  # reviewed while the question waits
    assert "已经有人审核" in (await worker.press("确认撤回"))[0]
    assert await status_of(app, 1) == "under_review"


async def test_withdraw_confirmed_by_command(app: App, people: dict[str, Chat]) -> None:
    worker = people["worker"]
    await worker.say(ANCHOR)
    await worker.say("/withdraw 1")
    assert "已撤回" in (await worker.press("确认撤回"))[0]
    assert "已经撤回" in (await worker.say("/withdraw 1"))[0]
    secretary = people["secretary"]
    assert "没有等待审核" in (await secretary.say("/review"))[0]
    detail = (await secretary.say("/review 1"))[0]
    assert "已撤回" in detail.split("\n", 1)[0] and "张三 → 已撤回" in detail
    assert secretary.received[-1].get("buttons") is None  # nothing left to do with it
    assert "已经被作者撤回" in (await secretary.say("/review 1 under_review"))[0]
    assert await status_of(app, 1) == "withdrawn"


# -- the queries stay on indexes ----------------------------------------------------------------

MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
SCOPES = {
    "worker": IdeaScope((), author_id=1),
    "secretary": IdeaScope(("jj1",)),
    "supervisor": IdeaScope(("jj1", "jj2", "kj1")),
    "leader": IdeaScope(None),
}


FILTERS = {
    "none": IdeaFilter(),
    "status": IdeaFilter(statuses=("under_review",)),
    "category-branches": IdeaFilter(categories=("safety",), branches=("jj1", "zc1")),
    "month": IdeaFilter(since=MONTH[0], until=MONTH[1]),
    "month-statuses": IdeaFilter(since=MONTH[0], until=MONTH[1], statuses=("submitted", "merged")),
    "terms": IdeaFilter(terms=("锚杆", "回收")),
}
PLANS = [
    pytest.param(scope, name, probe, id=f"{scope}-{name}" + ("-probe" if probe else ""))
    for scope in sorted(SCOPES)
    for name, filters in FILTERS.items()
    for probe in ((False, True) if filters.terms else (False,))
    if not (scope == "worker" and filters.since)  # one person's ideas of a month: a few, sorted
]


@pytest.mark.sqlite_only(reason="SQLite query plans (EXPLAIN QUERY PLAN)")
@pytest.mark.parametrize(("scope", "filters", "probe"), PLANS)
async def test_list_queries_read_in_index_order(
    app: App, scope: str, filters: str, probe: bool
) -> None:
    """No sort of the matching rows: a page stops after its rows, however many ideas match
    (ideas of the very same moment are sorted by id: the "right part" of a month's order)."""
    query = listing_query(SCOPES[scope], FILTERS[filters], limit=11, offset=0, probe=probe)
    plan = await app.repos.db.fetchall(f"EXPLAIN QUERY PLAN {query[0]}", query[1])
    details = [str(r["detail"]) for r in plan]
    assert not any(d == "USE TEMP B-TREE FOR ORDER BY" for d in details), details


@pytest.mark.sqlite_only(reason="SQLite query plans (EXPLAIN QUERY PLAN)")
@pytest.mark.parametrize("scope", ["secretary", "leader"])
async def test_the_queue_query_reads_in_index_order(app: App, scope: str) -> None:
    sql, params = waiting_query(SCOPES[scope], after=0, limit=6)
    plan = await app.repos.db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    details = [str(r["detail"]) for r in plan]
    assert not any("TEMP B-TREE" in d for d in details), details
    assert all("USING" in d or "SCALAR" in d or "SEARCH" in d for d in details), details
