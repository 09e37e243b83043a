"""WeCom: real WeChatCrypto round trips to the real callback server, a fake API on loopback."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.app import App, load_sample_roster, open_app
from bot.config import Config, load_config
from bot.outbox import OutboxSender
from bot.wecom import ROBOT_CHANNEL, MineOrg, WecomChannel, chat_of, open_wecom, signature
from handlers.messages import Button, Outgoing
from nlp import ModelClassifier
from tests.support import ROOT
from tests.wecom_fake import FakeWecomApi

TOKEN = "callbacktoken"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
CORP = "wwjindianzi"
ZHANG = "zhangsan"  # E001's wecom_userid in the sample roster


def wecom_config(tmp_path: Path, api_url: str, port: int) -> Config:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "机掘一队党支部, department: publicity}",
        "机掘一队党支部, department: publicity, wecom_webhook_key: robot-jj1}",
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        text.replace("sample_roster: bot/", f"sample_roster: {ROOT}/bot/"), encoding="utf-8"
    )
    return load_config(
        path,
        {
            "JINDIANZI_STORAGE_PATH": str(tmp_path / "data" / "j.db"),
            "JINDIANZI_WECOM_CORP_ID": CORP,
            "JINDIANZI_WECOM_AGENT_ID": "1000002",
            "JINDIANZI_WECOM_SECRET": "app-secret",
            "JINDIANZI_WECOM_TOKEN": TOKEN,
            "JINDIANZI_WECOM_ENCODING_AES_KEY": AES_KEY,
            "JINDIANZI_WECOM_API_BASE_URL": api_url,
            "JINDIANZI_WECOM_LISTEN": f"127.0.0.1:{port}",
        },
    )


class Phone:
    """WeCom's side of the callback: encrypts like the platform does."""

    def __init__(self, url: str, corp: str = CORP) -> None:
        self.url = url
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, corp)
        self._ids = iter(range(10_000_000, 99_999_999))

    def xml(
        self,
        user: str,
        content: str | None = None,
        msg_id: int | None = None,
        event_key: str | None = None,
        create_time: int | None = None,
        task_id: str = "t1",
    ) -> str:
        now = create_time or int(time.time())
        if event_key is not None:
            return (
                f"<xml><ToUserName>{CORP}</ToUserName><FromUserName>{user}</FromUserName>"
                f"<CreateTime>{now}</CreateTime><MsgType>event</MsgType>"
                "<Event>template_card_event</Event>"
                f"<EventKey><![CDATA[{event_key}]]></EventKey><TaskId>{task_id}</TaskId>"
                "<CardType>button_interaction</CardType><AgentID>1000002</AgentID></xml>"
            )
        return (
            f"<xml><ToUserName>{CORP}</ToUserName><FromUserName>{user}</FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType>text</MsgType>"
            f"<Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id or next(self._ids)}</MsgId><AgentID>1000002</AgentID></xml>"
        )

    async def post(
        self,
        client: httpx.AsyncClient,
        plain: str,
        *,
        timestamp: int | None = None,
        forge: bool = False,
    ) -> httpx.Response:
        stamp = str(timestamp or int(time.time()))
        envelope = self.crypto.encrypt_message(plain, "nonce123", stamp)
        sig = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        if forge:
            sig = "0" * 40
        params = {"msg_signature": sig, "timestamp": stamp, "nonce": "nonce123"}
        return await client.post(self.url, params=params, content=envelope.encode())


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    async with FakeWecomApi() as api:
        yield api


@pytest.fixture
async def served(
    tmp_path: Path, wecom_api: FakeWecomApi, classifier: ModelClassifier, unused_tcp_port: int
) -> AsyncIterator[tuple[App, WecomChannel, OutboxSender]]:
    config = wecom_config(tmp_path, wecom_api.url, unused_tcp_port)
    async with open_app(config, classifier=classifier) as app:
        await load_sample_roster(app)
        async with open_wecom(
            config.wecom, [MineOrg("", config.org, app.services)], app.router
        ) as (
            channel,
            robots,
        ):
            sender = app.sender([channel, robots])
            stop = asyncio.Event()
            tasks = [asyncio.create_task(channel.run(stop)), asyncio.create_task(sender.run(stop))]
            await asyncio.sleep(0.2)  # the server is listening
            try:
                yield app, channel, sender
            finally:
                stop.set()
                await asyncio.gather(*tasks)


@pytest.fixture
def phone(unused_tcp_port: int) -> Phone:
    return Phone(f"http://127.0.0.1:{unused_tcp_port}/wecom/callback")


async def wait_texts(api: FakeWecomApi, user: str, count: int) -> list[str]:
    for _ in range(300):
        if len(api.texts(user)) >= count:
            return api.texts(user)
        await asyncio.sleep(0.02)
    raise TimeoutError(api.texts(user))


async def test_url_verification_returns_the_echostr(served: Any, phone: Phone) -> None:
    echo = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("echo-4711", CORP)
    echo = echo.decode() if isinstance(echo, bytes) else echo
    stamp = str(int(time.time()))
    params = {
        "msg_signature": signature(TOKEN, stamp, "n1", echo),
        "timestamp": stamp,
        "nonce": "n1",
        "echostr": echo,
    }
    async with httpx.AsyncClient() as client:
        ok = await client.get(phone.url, params=params)
        assert ok.status_code == 200 and ok.text == "echo-4711"
        bad = await client.get(phone.url, params={**params, "msg_signature": "f" * 40})
        assert bad.status_code == 403


async def test_text_idea_answered_through_message_send(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    async with httpx.AsyncClient() as client:
        response = await phone.post(
            client, phone.xml(ZHANG, "井下回收复用锚杆,每月能省好几万", msg_id=555)
        )
        assert response.status_code == 200 and response.text == ""
        again = await phone.post(
            client, phone.xml(ZHANG, "井下回收复用锚杆,每月能省好几万", msg_id=555)
        )
        assert again.status_code == 200
    texts = await wait_texts(wecom_api, ZHANG, 1)
    assert "#1" in texts[0] and "修旧利废" in texts[0]
    await asyncio.sleep(0.3)
    assert len(wecom_api.texts(ZHANG)) == 1  # the redelivery did nothing
    stored = await app.repos.db.fetchall("SELECT chat FROM inbox WHERE update_id = '555'")
    assert [r[0] for r in stored] == [ZHANG]  # the member's updates are claimed in order
    rows = await app.repos.db.fetchall("SELECT text FROM ideas")
    assert len(rows) == 1
    card = wecom_api.sent[0]
    assert card["msgtype"] == "template_card" and card["agentid"] == 1000002
    assert [b["text"] for b in card["template_card"]["button_list"]] == ["确认", "改类别", "撤回"]


async def test_card_button_then_category_drop_down_changes_the_category(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml(ZHANG, "井下回收复用锚杆,每月能省好几万"))
        await wait_texts(wecom_api, ZHANG, 1)
        keys = {b["text"]: b["key"] for b in wecom_api.sent[0]["template_card"]["button_list"]}
        await phone.post(client, phone.xml(ZHANG, event_key=keys["改类别"]))
        await wait_texts(wecom_api, ZHANG, 2)
        card = wecom_api.sent[1]["template_card"]  # 7 choices: one drop-down, not numbered text
        options = {o["text"]: o["id"] for o in card["button_selection"]["option_list"]}
        assert len(options) == 7 and "安全生产" in options
        await phone.post(client, selection_xml(ZHANG, card, options["安全生产"]))
        texts = await wait_texts(wecom_api, ZHANG, 3)
    assert "已改为:安全生产" in texts[2]
    row = await app.repos.db.fetchone("SELECT category, confirmed FROM ideas WHERE id = 1")
    assert (row[0], row[1]) == ("safety", 1)


async def test_bad_callbacks_are_refused_and_store_nothing(served: Any, phone: Phone) -> None:
    app, _, _ = served
    plain = phone.xml(ZHANG, "井下回收复用锚杆")
    async with httpx.AsyncClient() as client:
        forged = await phone.post(client, plain, forge=True)
        stale = await phone.post(client, plain, timestamp=int(time.time()) - 3600)
        other_corp = await Phone(phone.url, corp="wwsomeoneelse").post(client, plain)
        stamp = str(int(time.time()))
        params = {"msg_signature": "a" * 40, "timestamp": stamp, "nonce": "n"}
        not_xml = await client.post(phone.url, params=params, content=b"hello, not xml")
        huge = await client.post(phone.url, params=params, content=b"<xml>" + b"a" * (20 << 20))
    assert forged.status_code == 403
    assert stale.status_code == 403
    assert other_corp.status_code == 403
    assert not_xml.status_code == 400
    assert huge.status_code == 413
    assert await app.repos.db.fetchall("SELECT * FROM inbox") == []


async def test_expired_token_is_refreshed_and_the_send_retried_once(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml(ZHANG, "/help"))
        await wait_texts(wecom_api, ZHANG, 1)
        assert wecom_api.token_requests == 1
        wecom_api.expire_tokens()
        await phone.post(client, phone.xml(ZHANG, "/my"))
        texts = await wait_texts(wecom_api, ZHANG, 2)
    assert wecom_api.token_requests == 2
    assert "还没有提交过金点子" in texts[1]


async def test_group_robot_keeps_under_20_a_minute(served: Any, wecom_api: FakeWecomApi) -> None:
    app, _, sender = served
    async with app.repos.db.transaction():
        for n in range(25):
            await app.repos.outbox.enqueue(
                channel=ROBOT_CHANNEL,
                chat_id="jj1",
                payload={"text": f"通知 {n}"},
                dedupe_key=f"r{n}",
                now=app.services.now(),
            )
    await sender.run_once()
    assert len(wecom_api.robot) == 20
    assert {key for key, _ in wecom_api.robot} == {"robot-jj1"}
    assert wecom_api.robot[0][1]["msgtype"] == "markdown"
    assert (await app.repos.outbox.counts()).get("pending") == 5


async def queue_for_robot(app: App, key: str) -> None:
    await app.repos.outbox.enqueue(
        channel=ROBOT_CHANNEL,
        chat_id="jj1",
        payload={"text": "周一例会提醒"},
        dedupe_key=key,
        now=app.services.now(),
    )


async def test_rejected_robot_key_unbinds_and_tells_admins(
    served: Any, wecom_api: FakeWecomApi, phone: Phone
) -> None:
    app, _, sender = served
    assert [b.chat_id for b in await app.repos.groups.for_branch("jj1")] == ["jj1"]
    wecom_api.rejected_keys.add("robot-jj1")
    async with app.repos.db.transaction():
        person = await app.repos.people.by_employee_no("A001")
        assert person is not None
        await app.repos.people.bind_identity(person.id, "wecom", "admin-user", app.services.now())
        await queue_for_robot(app, "r-x")
    await sender.run_once()
    assert await app.repos.groups.for_branch("jj1") == []
    assert any("没能送达" in text for text in wecom_api.texts("admin-user"))


async def test_callbacks_are_answered_fast_during_a_burst(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    async with app.repos.db.transaction():
        for n in range(150):
            await app.repos.db.execute(
                "INSERT INTO people (employee_no, name, branch_id, wecom_userid, created_at,"
                " updated_at) VALUES (?, ?, 'jj1', ?, 'x', 'x')",
                (f"W{n}", f"工人{n}", f"w{n}"),
            )
    texts = [t for t in ("皮带机托辊修一修还能用", "巷道照明换成LED灯", "回风巷瓦斯老是超限")]

    async def one(client: httpx.AsyncClient, n: int) -> float:
        started = time.perf_counter()
        response = await phone.post(client, phone.xml(f"w{n}", f"{texts[n % 3]}({n})"))
        assert response.status_code == 200
        return time.perf_counter() - started

    async with httpx.AsyncClient(timeout=30) as client:
        slowest = max(await asyncio.gather(*(one(client, n) for n in range(150))))
    assert slowest < 5.0  # WeCom's own deadline: later than this it sends the callback again
    for _ in range(500):
        row = await app.repos.db.fetchone("SELECT count(*) FROM ideas")
        if row is not None and row[0] == 150:
            break
        await asyncio.sleep(0.05)
    row = await app.repos.db.fetchone("SELECT count(*), count(DISTINCT author_id) FROM ideas")
    assert row is not None and (row[0], row[1]) == (150, 150)


async def test_stats_chart_reaches_wecom_as_an_image(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    async with app.repos.db.transaction():
        leader = await app.repos.people.by_employee_no("L001")
        assert leader is not None
        await app.repos.people.bind_identity(leader.id, "wecom", "sun", app.services.now())
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml("sun", "/stats"))
        texts = await wait_texts(wecom_api, "sun", 2)
    assert texts[0] == "<image media-1>" and "金点子统计" in texts[1]
    assert wecom_api.uploads[0][:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_circled_digit_is_text_and_stops_nobody(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    """ "①".isdigit() is true but int("①") fails: it once stopped the channel for everyone."""
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml(ZHANG, "井下回收复用锚杆,每月能省好几万"))
        await wait_texts(wecom_api, ZHANG, 1)  # a menu is open: numbers mean buttons now
        for odd in ("①", "²"):
            await phone.post(client, phone.xml(ZHANG, odd))
        await phone.post(client, phone.xml(ZHANG, "/my"))
        texts = await wait_texts(wecom_api, ZHANG, 4)
    assert "#1" in texts[3]  # /my answered: the channel flows on
    assert all("已改为" not in text for text in texts)  # no odd digit pressed a button


async def test_two_button_presses_in_one_second_both_count(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    async with httpx.AsyncClient() as client:
        for text in ("井下回收复用锚杆,每月能省好几万", "皮带机头加装防护栏,防止卷人"):
            await phone.post(client, phone.xml(ZHANG, text))
        await wait_texts(wecom_api, ZHANG, 2)
        cards = [body["template_card"] for body in wecom_api.sent]
        second = int(time.time())
        for card in cards:
            key = next(b["key"] for b in card["button_list"] if b["text"] == "确认")
            await phone.post(
                client,
                phone.xml(ZHANG, event_key=key, create_time=second, task_id=card["task_id"]),
            )
        await wait_texts(wecom_api, ZHANG, 4)
    rows = await app.repos.db.fetchall("SELECT confirmed FROM ideas ORDER BY id")
    assert [r[0] for r in rows] == [1, 1]


async def test_a_rate_limited_robot_is_retried_later_and_stays_bound(
    served: Any, wecom_api: FakeWecomApi
) -> None:
    app, _, sender = served
    wecom_api.robot_errcodes["robot-jj1"] = 130101  # sent too often: blocked for ~10 minutes
    async with app.repos.db.transaction():
        await queue_for_robot(app, "r-limited")
    await sender.run_once()
    assert (await app.repos.outbox.counts()).get("pending") == 1
    assert [b.chat_id for b in await app.repos.groups.for_branch("jj1")] == ["jj1"]
    retry_at = await app.repos.outbox.next_due_at([ROBOT_CHANNEL])
    assert retry_at is not None
    assert (retry_at - app.services.now()).total_seconds() >= 9 * 60


async def test_card_texts_keep_to_wecom_limits_and_lose_nothing(
    served: Any, wecom_api: FakeWecomApi
) -> None:
    _, channel, _ = served
    long_rest = "第二行起是说明文字。" * 20  # 200 characters: over a card's 160
    short = Outgoing("请确认\n例会时间周一下午", buttons=((Button("参加", "rsvp:yes"),),))
    long = Outgoing("请确认\n" + long_rest, buttons=((Button("参加", "rsvp:yes"),),))
    await channel.send("lisi", short)
    await channel.send("wangwu", long)
    cards = [body["template_card"] for body in wecom_api.sent if "template_card" in body]
    assert cards and cards[0]["sub_title_text"] == "例会时间周一下午"
    assert all(len(c["main_title"]["title"]) <= 36 for c in cards)
    assert all(len(c["sub_title_text"]) <= 160 for c in cards)
    assert long_rest in "\n".join(wecom_api.texts("wangwu"))  # too long for a card: nothing cut


async def test_an_unreadable_callback_is_set_aside_and_its_sender_told(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    broken = phone.xml(ZHANG, "井下回收复用锚杆", msg_id=777).replace("<MsgType>text</MsgType>", "")
    async with httpx.AsyncClient() as client:
        assert (await phone.post(client, broken)).status_code == 200
        texts = await wait_texts(wecom_api, ZHANG, 1)
        await phone.post(client, phone.xml(ZHANG, "/my"))
        texts = await wait_texts(wecom_api, ZHANG, 2)
    assert "出了点问题" in texts[0]  # told once, not left waiting in silence
    assert "还没有提交过金点子" in texts[1]
    [failed] = await app.repos.inbox.failures()
    assert (failed.update_id, failed.attempts) == ("777", 3)


async def test_a_text_without_content_is_no_idea_named_none(
    served: Any, wecom_api: FakeWecomApi, phone: Phone
) -> None:
    app, _, _ = served
    plain = phone.xml(ZHANG, "x").replace("<Content><![CDATA[x]]></Content>", "")
    async with httpx.AsyncClient() as client:
        assert (await phone.post(client, plain)).status_code == 200
        texts = await wait_texts(wecom_api, ZHANG, 1)
    assert "内容太短" in texts[0]
    assert await app.repos.db.fetchall("SELECT text FROM ideas") == []


async def test_what_people_type_is_shown_not_obeyed_in_robot_markdown(
    served: Any, wecom_api: FakeWecomApi
) -> None:
    app, _, sender = served
    typed = '**紧急** [点我](http://evil.example) <font color="warning">红字</font>\n# 标题 `代码`'
    async with app.repos.db.transaction():
        await app.repos.outbox.enqueue(
            channel=ROBOT_CHANNEL,
            chat_id="jj1",
            payload={"text": f"📋 督导发现问题 #1(机掘一队党支部):{typed}"},
            dedupe_key="md",
            now=app.services.now(),
        )
    await sender.run_once()
    content = wecom_api.robot[-1][1]["markdown"]["content"]
    for active in ("**", "[", "](", "<font", "\n#", "`"):
        assert active not in content, active
    assert "紧急" in content and "点我" in content and "红字" in content


def selection_xml(
    user: str,
    card: dict[str, Any],
    *options: str,
    question: str | None = None,
    create_time: int | None = None,
) -> str:
    """A template_card_event for a drop-down card's submit button, as WeCom posts it."""
    key = question or card["button_selection"]["question_key"]
    ids = "".join(f"<OptionId><![CDATA[{o}]]></OptionId>" for o in options)
    selected = (
        f"<SelectedItems><SelectedItem><QuestionKey><![CDATA[{key}]]></QuestionKey>"
        f"<OptionIds>{ids}</OptionIds></SelectedItem></SelectedItems>"
        if options
        else ""
    )
    return (
        f"<xml><ToUserName>{CORP}</ToUserName><FromUserName>{user}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType>event</MsgType>"
        "<Event>template_card_event</Event>"
        f"<EventKey><![CDATA[{card['button_list'][0]['key']}]]></EventKey>"
        f"<TaskId>{card['task_id']}</TaskId><CardType>button_interaction</CardType>"
        f"<ResponseCode>rc1</ResponseCode><AgentID>1000002</AgentID>{selected}</xml>"
    )


async def test_seven_categories_are_one_drop_down_card_within_wecom_limits(
    served: Any, wecom_api: FakeWecomApi
) -> None:
    _, channel, _ = served
    buttons = tuple(
        (Button(label, f"i:9:set:{category}"),)
        for category, label in (
            ("tech_innovation", "技术创新"), ("process_improvement", "工艺改良"),
            ("repair_reuse", "修旧利废"), ("energy_environment", "节能环保"),
            ("safety", "安全生产"), ("management", "管理提升"), ("other", "其他"),
        )
    )  # fmt: skip
    long_title = "金点子 #9:主井皮带机托辊坏了别扔,拆下来修好再用,一年下来能省下不少钱呢,大家都说好"
    await channel.send("lisi", Outgoing(f"{long_title}\n现在的类别:其他。请选择类别:", buttons))
    [body] = wecom_api.sent
    card = body["template_card"]
    assert body["msgtype"] == "template_card" and card["card_type"] == "button_interaction"
    assert len(card["main_title"]["title"]) <= 36 and len(card["sub_title_text"]) <= 160
    assert long_title in card["sub_title_text"]  # a title too long for a card moves below it
    selection = card["button_selection"]
    assert [o["text"] for o in selection["option_list"]] == [b[0].label for b in buttons]
    assert [o["id"] for o in selection["option_list"]] == [b[0].data for b in buttons]
    assert len(card["button_list"]) == 1 and card["button_list"][0]["text"] == "确定"


async def test_a_drop_down_without_a_choice_is_asked_again_and_odd_xml_presses_nothing(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, _, _ = served
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml(ZHANG, "井下回收复用锚杆,每月能省好几万"))
        await wait_texts(wecom_api, ZHANG, 1)
        keys = {b["text"]: b["key"] for b in wecom_api.sent[0]["template_card"]["button_list"]}
        await phone.post(client, phone.xml(ZHANG, event_key=keys["改类别"]))
        await wait_texts(wecom_api, ZHANG, 2)
        card = wecom_api.sent[1]["template_card"]
        await phone.post(client, selection_xml(ZHANG, card))  # 确定 with nothing chosen
        texts = await wait_texts(wecom_api, ZHANG, 3)
        assert "请先在下拉框里选一项" in texts[2]
        odd = selection_xml(
            ZHANG, card, "i:1:set:safety", question="other", create_time=int(time.time()) + 1
        )  # another second: the same callback as the first press, else
        await phone.post(client, odd)
        texts = await wait_texts(wecom_api, ZHANG, 4)
        assert "请先在下拉框里选一项" in texts[3]  # another question's answer is no choice
        both = selection_xml(ZHANG, card, "i:1:set:management", "i:1:set:safety")
        await phone.post(client, both)  # several options: the first counts
        texts = await wait_texts(wecom_api, ZHANG, 5)
    assert "已改为:管理提升" in texts[4]
    row = await app.repos.db.fetchone("SELECT category FROM ideas WHERE id = 1")
    assert row[0] == "management"


async def test_the_numbered_fallback_keeps_each_action_s_number(
    served: Any, phone: Phone, wecom_api: FakeWecomApi
) -> None:
    app, channel, _ = served
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml(ZHANG, "井下回收复用锚杆,每月能省好几万"))
        await wait_texts(wecom_api, ZHANG, 1)
    long = "说明文字。" * 40  # 200 characters: too long for a card, so numbered text
    idea = (Button("确认", "i:1:ok"), Button("改类别", "i:1:cat"), Button("撤回", "i:1:wd"))
    unsure = (
        Button("安全生产", "i:1:set:safety"),
        Button("技术创新", "i:1:set:tech_innovation"),
        Button("其他", "i:1:set:other"),
        Button("其他类别…", "i:1:cat"),
        Button("撤回", "i:1:wd"),
    )
    await channel.send(ZHANG, Outgoing(f"金点子 #1\n{long}", (idea,)))
    await channel.send(ZHANG, Outgoing(f"金点子 #1\n{long}", (unsure,)))
    await channel.send(ZHANG, Outgoing(f"金点子 #1\n{long}", (idea[::-1],)))
    first, second, third = wecom_api.texts(ZHANG)[1:4]
    assert "1. 确认\n2. 改类别\n3. 撤回" in first
    assert "\n3. 撤回" in second and "1. " not in second.split("回复数字选择")[1]
    assert "3. 撤回\n2. 改类别\n1. 确认" in third  # the same numbers, whatever the order
    async with httpx.AsyncClient() as client:
        await phone.post(client, phone.xml(ZHANG, "3"))
        texts = await wait_texts(wecom_api, ZHANG, 5)
        assert "确认撤回 #1" in texts[4]  # withdrawing is confirmed, on a card of its own
        await phone.post(client, phone.xml(ZHANG, "3"))  # the menu was good for one press
        texts = await wait_texts(wecom_api, ZHANG, 6)
        assert "内容太短" in texts[5]
        card = next(m for m in reversed(wecom_api.sent) if "template_card" in m)
        keys = {b["text"]: b["key"] for b in card["template_card"]["button_list"]}
        await phone.post(client, phone.xml(ZHANG, event_key=keys["确认撤回"]))
        texts = await wait_texts(wecom_api, ZHANG, 7)
    assert "已撤回" in texts[6]
    await channel.send(ZHANG, Outgoing(f"金点子 #1\n{long}", (unsure,)))
    assert "\n3. 撤回" in wecom_api.texts(ZHANG)[7]  # numbers outlive the press that used one
    row = await app.repos.db.fetchone("SELECT status FROM ideas WHERE id = 1")
    assert row[0] == "withdrawn"


def test_a_callback_belongs_to_its_sender() -> None:
    assert chat_of("<xml><FromUserName>zhangsan</FromUserName></xml>") == "zhangsan"
    assert chat_of("<xml><MsgType>event</MsgType></xml>") == ""
    assert chat_of("<xml/>") == ""
    assert chat_of("not xml") == ""
