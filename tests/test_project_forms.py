"""Key projects on a phone: /project new, /benefit and /reward as guided forms with buttons,
the one-line forms with full-width punctuation and names, a confirmation before a reward is
recorded (and declining it), replies that say what is wrong, and notices to the right people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.app import App, open_app
from bot.config import Config
from handlers import access, parsing
from handlers.router import APOLOGY
from nlp import ModelClassifier
from storage import Person, Role
from tests.support import CHANNEL, Chat, Clock, RecordingTransport, register_people, table_rows

CATEGORY_LABELS = ["技术创新", "工艺改良", "修旧利废", "节能环保", "安全生产", "管理提升", "其他"]


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "worker2", "secretary", "other_secretary", "leader", "admin"
    )


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


def labels(who: Chat) -> list[str]:
    return [b["label"] for b in who.last_buttons]


async def rows(app: App, table: str) -> list[dict[str, Any]]:
    return await table_rows(app.repos.db, table)


async def verified_project(people: dict[str, Chat], amount: str = "5万") -> None:
    """P01 of 机掘一队 and 综采一队, led by 孙矿长, with one claim verified by the admin."""
    created = await people["leader"].say(
        "/project new 节能灯改造 | 节能环保 | L001 | jj1,zc1 | 5万"
    )
    assert "已建立重点项目 P01" in created[-1]
    await people["secretary"].say(f"/benefit P01 {amount} 更换LED灯")
    await people["admin"].say("/verify B1")


async def test_a_leader_creates_a_project_by_buttons_only(
    app: App, people: dict[str, Chat]
) -> None:
    leader = people["leader"]
    assert "项目标题" in (await leader.say("/project new"))[-1]
    asked = (await leader.say("井下锚杆回收复用"))[-1]
    assert "类别" in asked and labels(leader) == CATEGORY_LABELS
    asked = (await leader.press("修旧利废"))[-1]
    assert "负责人" in asked and labels(leader) == ["孙矿长"]  # committee members, by name
    asked = (await leader.press("孙矿长"))[-1]
    assert "支部" in asked and "机掘一队" in labels(leader) and "完成" in labels(leader)
    await leader.press("机掘一队")
    again = (await leader.press("综采一队"))[-1]
    assert "已选:机掘一队、综采一队" in again  # the same question, showing what is chosen
    await leader.press("✓ 机掘一队")  # a second press takes it out again
    await leader.press("机掘一队")
    asked = (await leader.press("完成"))[-1]
    assert "预期年效益" in asked
    asked = (await leader.say("5万"))[-1]
    assert "金点子" in asked and "跳过" in labels(leader)
    summary = (await leader.press("跳过"))[-1]
    for part in ("井下锚杆回收复用", "修旧利废", "孙矿长", "综采一队", "机掘一队", "5.00 万元"):
        assert part in summary, part
    assert labels(leader) == ["确认", "取消"]
    assert await app.repos.projects.all() == []  # nothing before 确认
    done = (await leader.press("确认"))[-1]
    assert "已建立重点项目 P01「井下锚杆回收复用」" in done
    project = await app.repos.projects.get(1)
    assert project is not None
    assert (project.category, project.lead_name, project.expected_benefit_fen) == (
        "repair_reuse",
        "孙矿长",
        5_000_000,
    )
    assert sorted(project.branches) == ["jj1", "zc1"]
    assert await app.repos.conversations.get(CHANNEL, leader.user) is None


async def test_the_project_form_says_what_is_wrong_and_can_be_declined(
    app: App, people: dict[str, Chat]
) -> None:
    worker, leader = people["worker"], people["leader"]
    await worker.say("井下回收复用锚杆,每月能省好几万")
    await leader.say("/project new")
    await leader.say("锚杆回收")
    await leader.say("修旧利废")  # a category typed by its name
    replies = await leader.say("张三")
    assert "不是" in replies[0] and "负责人" in replies[-1]
    await leader.say("孙矿长")
    replies = await leader.say("机掘一队、不存在的队")
    assert "不存在的队" in replies[0] and "支部" in replies[-1]
    await leader.say("jj1，综采一队")  # typed names and ids answer the question at once
    replies = await leader.say("很多")
    assert "不是金额" in replies[0] and "例如" in replies[0] and "预期年效益" in replies[-1]
    await leader.say("50000元")
    summary = (await leader.say("#1"))[-1]
    assert "#1" in summary and "5.00 万元" in summary and "机掘一队、综采一队" in summary
    assert "已取消" in (await leader.press("取消"))[-1]
    assert await app.repos.projects.all() == []
    assert (await rows(app, "ideas"))[0]["status"] == "submitted"


async def test_one_line_forms_take_full_width_punctuation_and_names(
    app: App, people: dict[str, Chat]
) -> None:
    leader = people["leader"]
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    created = await leader.say("/project new 节能灯改造｜节能环保｜孙矿长｜机掘一队，综采一队｜5万")
    assert "已建立重点项目 P01" in created[-1]
    created = await leader.say("/project new 锚杆回收｜修旧利废｜l001｜JJ1、jj2｜50万元｜＃1")
    assert "已建立重点项目 P02" in created[-1] and "#1 已纳入重点项目 P02" in created[-1]
    first, second = await app.repos.projects.all()
    assert (first.category, sorted(first.branches)) == ("energy_environment", ["jj1", "zc1"])
    assert sorted(second.branches) == ["jj1", "jj2"] and second.idea_ids == (1,)
    # a missing part is named, with the usage made from the same table
    missing = (await leader.say("/project new 节能灯改造｜节能环保｜L001"))[-1]
    assert "缺少" in missing and "支部" in missing and "用法" in missing
    missing = (await leader.say("/project new 节能灯改造｜节能环保｜L001｜jj1｜"))[-1]
    assert "缺少" in missing and "预期年效益" in missing
    bad = (await leader.say("/project new 节能灯改造｜节能环保｜L001｜jj1｜很多"))[-1]
    assert "不是金额" in bad and "例如" in bad
    assert len(await app.repos.projects.all()) == 2
    secretary = people["secretary"]
    assert "已记录 P01 的进展" in (await secretary.say("/progress P01 ６０％ 推进中"))[-1]
    claimed = (await secretary.say("/benefit P01 ５万元 更换LED灯"))[-1]
    assert "B1" in claimed and "5.00 万元" in claimed


async def test_reward_confirm_full_width_is_parsed_then_confirmed(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await verified_project(people)
    leader = people["leader"]
    summary = (await leader.say("/reward P01 confirm E001：5000，机掘一队：2200 首批"))[-1]
    assert "张三" in summary and "5,000.00 元" in summary
    assert "机掘一队党支部" in summary and "2,200.00 元" in summary
    assert "7,200.00 元" in summary and "首批" in summary
    assert labels(leader) == ["确认", "取消"]
    assert await rows(app, "rewards") == []  # nothing before 确认
    done = (await leader.press("确认"))[-1]
    assert "已记录 P01 的奖励 7,200.00 元" in done and "已通知" in done
    assert [(r["label"], r["amount_fen"]) for r in await rows(app, "reward_recipients")] == [
        ("张三", 500_000),
        ("机掘一队党支部", 220_000),
    ]
    assert any("获得奖励 5,000.00 元" in t for t in sent_to(transport, "u-E001"))


async def test_reward_separators_and_wrong_amounts(app: App, people: dict[str, Chat]) -> None:
    await verified_project(people)
    leader = people["leader"]
    # a full-width semicolon separates shares too: both are read, none lands in the note
    summary = (await leader.say("/reward P01 confirm E001：5000；jj1：2200"))[-1]
    assert "张三" in summary and "机掘一队党支部" in summary and "7,200.00 元" in summary
    assert "备注:无" in summary
    bad = (await leader.say("/reward P01 confirm E001：五千"))[-1]
    assert "“五千”不是金额" in bad and "例如" in bad and "”:“" not in bad
    unknown = (await leader.say("/reward P01 confirm 老王：100"))[-1]
    assert "老王" in unknown and "工号" in unknown
    too_much = (await leader.say("/reward P01 confirm 张三：6万"))[-1]
    assert "不能超过" in too_much
    assert await rows(app, "rewards") == []


async def test_a_reward_can_be_declined(app: App, people: dict[str, Chat]) -> None:
    await verified_project(people)
    leader = people["leader"]
    await leader.say("/reward P01 confirm E001:5000")
    assert "已取消" in (await leader.press("取消"))[-1]
    assert await rows(app, "rewards") == []
    await leader.say("/reward P01 confirm E001:5000")
    assert "已取消" in (await leader.say("取消"))[-1]  # typed, too
    assert await rows(app, "rewards") == []
    assert "待奖励的核实效益 5.00 万元" in (await leader.say("/reward P01"))[0]


async def test_a_reward_by_buttons_takes_the_proposal(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await verified_project(people, "4万")
    leader = people["leader"]
    asked = (await leader.say("/reward"))[-1]
    assert "项目" in asked and labels(leader)[0].startswith("P01")
    proposal = (await leader.press(labels(leader)[0]))[-1]
    assert "建议奖励 2.40 万元" in proposal and "按建议" in labels(leader)[0]
    await leader.press(labels(leader)[0])
    summary = (await leader.press("不写备注"))[-1]
    # the lead (first) branch takes two parts, the other branch one (it was an even split)
    assert "机掘一队党支部 1.60 万元" in summary and "综采一队党支部 8,000.00 元" in summary
    before = len(transport.sent)
    done = (await leader.press("确认"))[-1]
    assert "已记录 P01 的奖励 2.40 万元" in done
    # 机掘一队's secretary is told; 综采一队 has nobody registered: only one is counted
    assert any("机掘一队党支部" in t for t in sent_to(transport, "u-S001")[-1:])
    assert "已通知 1 人" in done, done
    assert len(transport.sent) - before == 2  # the reply and the one notice
    recipients = await rows(app, "reward_recipients")
    assert [(r["branch_id"], r["amount_fen"]) for r in recipients] == [
        ("jj1", 1_600_000),
        ("zc1", 800_000),
    ]


async def test_a_benefit_by_buttons_with_confirmation(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await people["leader"].say("/project new 节能灯改造 | 节能环保 | L001 | jj1,zc1 | 5万")
    secretary = people["secretary"]
    asked = (await secretary.say("/benefit"))[-1]
    assert "项目" in asked and labels(secretary) == ["P01 节能灯改造"]
    assert "金额" in (await secretary.press("P01 节能灯改造"))[-1]
    replies = await secretary.say("好多钱")
    assert "不是金额" in replies[0] and "例如" in replies[0] and "金额" in replies[-1]
    assert "说明" in (await secretary.say("4万元"))[-1]
    summary = (await secretary.say("11月更换LED灯120盏"))[-1]
    assert "P01" in summary and "4.00 万元" in summary and "11月更换LED灯120盏" in summary
    assert await rows(app, "benefits") == []
    done = (await secretary.press("确认"))[-1]
    assert "B1" in done and "已通知" in done
    assert any("/verify B1" in t for t in sent_to(transport, "u-L001"))
    # declined: nothing recorded
    await secretary.say("/benefit P01")
    await secretary.say("1万")
    await secretary.say("12月")
    assert "已取消" in (await secretary.press("取消"))[-1]
    assert len(await rows(app, "benefits")) == 1


async def test_the_claimant_is_told_of_verification_and_rejection(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    await people["leader"].say("/project new 节能灯改造 | 节能环保 | L001 | jj1,zc1 | 5万")
    secretary, leader = people["secretary"], people["leader"]
    await secretary.say("/benefit P01 4万 11月更换LED灯")
    await secretary.say("/benefit P01 1万 12月")
    done = (await leader.say("/verify B1"))[-1]
    assert "B1 已核实" in done and "已通知申报人刘书记" in done
    told = sent_to(transport, "u-S001")[-1]
    assert "B1" in told and "已核实" in told and "4.00 万元" in told
    done = (await leader.say("/verify B2 reject 没有出库单"))[-1]
    assert "未核实" in done and "已通知申报人刘书记" in done
    told = sent_to(transport, "u-S001")[-1]
    assert "B2" in told and "没有出库单" in told


async def test_a_leader_is_not_asked_to_verify_their_own_claim(
    app: App, people: dict[str, Chat], transport: RecordingTransport
) -> None:
    leader = people["leader"]
    await leader.say("/project new 节能灯改造 | 节能环保 | L001 | jj1 | 5万")
    before = len(transport.sent)
    claimed = (await leader.say("/benefit P01 3万 领导申报"))[-1]
    assert "B1" in claimed and "已通知" not in claimed  # the only leader is the claimant
    assert [t for t in sent_to(transport, "u-L001")[before:] if "/verify" in t] == []
    assert "不能核实自己申报" in (await leader.say("/verify B1"))[-1]
    done = (await people["admin"].say("/verify B1"))[-1]
    assert "已通知申报人孙矿长" in done
    assert "已核实" in sent_to(transport, "u-L001")[-1]


def test_the_claimant_may_not_verify_their_own_claim() -> None:
    leader = Person(5, "L001", "孙矿长", "jgk", None, (Role("leader"),))
    secretary = Person(2, "S001", "刘书记", "jj1", None, (Role("secretary"),))
    assert access.may_verify_benefit(leader, claimed_by=2)
    assert not access.may_verify_benefit(leader, claimed_by=5)
    assert not access.may_verify_benefit(secretary, claimed_by=5)


async def test_no_such_project_is_named(app: App, people: dict[str, Chat]) -> None:
    await people["leader"].say("/project new 节能灯改造 | 节能环保 | L001 | jj1 | 5万")
    cases = [
        (people["secretary"], "/progress P09 10 推进中"),
        (people["secretary"], "/benefit P09 1万 说明"),
        (people["leader"], "/reward P09"),
        (people["leader"], "/reward P09 confirm E001:100"),
        (people["leader"], "/project P09"),
    ]
    for who, text in cases:
        replies = await who.say(text)
        assert replies and APOLOGY not in replies
        assert "没有重点项目 P09" in replies[-1], (text, replies)
    missing = (await people["secretary"].say("/progress P01"))[-1]
    assert "进展内容" in missing
    assert await rows(app, "project_progress") == [] and await rows(app, "benefits") == []


async def test_linking_says_the_author_was_told_only_when_somebody_else_was(
    app: App, people: dict[str, Chat]
) -> None:
    leader = people["leader"]
    await people["worker"].say("井下回收复用锚杆,每月能省好几万")
    await leader.say("/idea 主井皮带机托辊坏了别扔,拆下来修好再用")
    await leader.say("/project new 锚杆回收 | 修旧利废 | L001 | jj1 | 5万")
    assert "#1 已纳入重点项目 P01,已通知作者" in (await leader.say("/project link P01 1"))[-1]
    own = (await leader.say("/project link P01 2"))[-1]
    assert "#2 已纳入重点项目 P01" in own and "已通知" not in own


async def test_cancel_leaves_a_project_form_and_its_old_buttons_are_refused(
    app: App, people: dict[str, Chat]
) -> None:
    leader = people["leader"]
    await leader.say("/project new")
    await leader.say("锚杆回收")
    await leader.press("修旧利废")
    await leader.press("孙矿长")
    await leader.press("机掘一队")
    branches = list(leader.last_buttons)
    assert "已取消" in (await leader.say("/cancel"))[-1]
    leader.last_buttons = branches
    assert "按钮已经过期" in (await leader.press("完成"))[-1]
    assert await app.repos.projects.all() == []
    assert await app.repos.conversations.get(CHANNEL, leader.user) is None


async def test_a_project_form_survives_a_restart(
    app: App, config: Config, clock: Clock, classifier: ModelClassifier, people: dict[str, Chat]
) -> None:
    await people["leader"].say("/project new")
    await people["leader"].say("锚杆回收")
    await people["leader"].press("修旧利废")
    async with open_app(config, clock=clock, classifier=classifier) as restarted:
        transport = RecordingTransport()
        leader = Chat(restarted, transport, restarted.sender([transport]), "u-L001")
        leader.last_buttons = people["leader"].last_buttons
        assert "支部" in (await leader.press("孙矿长"))[-1]
        assert "已选:机掘一队" in (await leader.say("机掘一队"))[-1]  # a typed label: a press
        await leader.press("完成")
        await leader.say("5万")
        await leader.press("跳过")
        assert "已建立重点项目 P01" in (await leader.press("确认"))[-1]


@pytest.mark.parametrize(
    ("text", "found", "note"),
    [
        ("E001：5000，jj1：2200", [("E001", "5000"), ("jj1", "2200")], ""),
        ("E001：5000；jj1：2200 首批", [("E001", "5000"), ("jj1", "2200")], "首批"),
        ("张三：5 万、机掘一队：2200元", [("张三", "5万"), ("机掘一队", "2200元")], ""),
        ("E001:50 E003:200 11月", [("E001", "50"), ("E003", "200")], "11月"),
    ],
)
def test_shares_are_read_with_any_separator(
    text: str, found: list[tuple[str, str]], note: str
) -> None:
    assert parsing.shares(text) == (found, note)
