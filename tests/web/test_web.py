"""The web 看板 over the real stack: people registered through the chat, /web links from
the router, aiohttp's test server in front of `web_app(app)` on the real database file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, load_sample_roster, open_app
from bot.config import Config, ConfigError, WebConfig, load_config
from bot.roster import import_roster
from bot.web.security import CSP
from bot.web.server import serve, web_app
from handlers.rules.charts_data import category_colours
from nlp import Classifier
from tests.storage_backends import PostgresServer
from tests.support import (
    ROOT,
    Chat,
    Clock,
    RecordingTransport,
    project_config,
    register_people,
)
from tests.test_mines import (
    EAST_ROSTER,
    OFFICE_ROSTER,
    WEST_ROSTER,
    WITH_OFFICE,
    chat_of,
    mine_file,
    register,
)
from tests.web.support import PUBLIC_URL, Client, cookie, csrf_of, link, log_in, sent_to, token_of


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "worker2", "secretary", "supervisor", "leader", "admin"
    )


# -- the link from the chat ---------------------------------------------------------------------


async def test_web_sends_a_one_time_link_to_staff_only(people: dict[str, Chat]) -> None:
    reply = (await people["leader"].say("/web"))[0]
    assert "在电脑浏览器打开" in reply and "10分钟内有效" in reply and "只能用一次" in reply
    token_of(reply)
    assert "只有" in (await people["worker"].say("/web"))[0]  # miners live in the chat
    for role in ("secretary", "supervisor", "admin"):
        token_of((await people[role].say("/web"))[0])


async def test_web_without_a_configured_board_says_so(
    config: Config, clock: Clock, classifier: Classifier
) -> None:
    unconfigured = dataclasses.replace(config, web=WebConfig())  # the shipped default: off
    async with open_app(unconfigured, clock=clock, classifier=classifier) as app:
        await load_sample_roster(app)
        transport = RecordingTransport()
        sender = app.sender([transport])
        chats = await register_people(lambda user: Chat(app, transport, sender, user), "leader")
        assert (await chats["leader"].say("/web")) == ["看板尚未开通,请联系管理员。"]
        assert await app.repos.db.fetchall("SELECT id FROM web_links") == []


async def test_only_the_hash_of_the_token_is_stored(app: App, people: dict[str, Chat]) -> None:
    token = await link(people["leader"])
    rows = await app.repos.db.fetchall("SELECT token_hash FROM web_links")
    assert len(rows) == 1 and rows[0][0] != token and len(rows[0][0]) == 64


# -- logging in ---------------------------------------------------------------------------------


async def test_the_login_page_does_not_use_the_link(
    client: Client, people: dict[str, Chat]
) -> None:
    token = await link(people["leader"])
    for _ in range(3):  # a chat app's preview, then the person
        page = await client.get(f"/login?t={token}")
        assert page.status == 200
        text = await page.text()
        assert "进入看板" in text and f'value="{token}"' in text
        assert "jdz_session" not in page.cookies
    response = await client.post("/login", data={"t": token}, allow_redirects=False)
    assert response.status == 303


async def test_a_link_works_once(client: Client, people: dict[str, Chat]) -> None:
    token = await link(people["leader"])
    first = await client.post("/login", data={"t": token}, allow_redirects=False)
    assert first.status == 303
    again = await client.post("/login", data={"t": token}, allow_redirects=False)
    assert again.status == 410 and "已经用过了" in await again.text()
    assert "jdz_session" not in again.cookies
    page = await client.get(f"/login?t={token}")
    assert page.status == 410 and "已经用过了" in await page.text()


async def test_an_expired_link_is_refused(
    client: Client, people: dict[str, Chat], clock: Clock
) -> None:
    token = await link(people["leader"])
    clock.advance(10 * 60)
    page = await client.get(f"/login?t={token}")
    assert page.status == 410 and "过期" in await page.text()
    response = await client.post("/login", data={"t": token}, allow_redirects=False)
    assert response.status == 410 and "jdz_session" not in response.cookies


async def test_an_unknown_link_is_refused(client: Client, people: dict[str, Chat]) -> None:
    response = await client.post("/login", data={"t": "made-up"}, allow_redirects=False)
    assert response.status == 404 and "/web" in await response.text()


async def test_the_session_cookie_is_locked_down(client: Client, people: dict[str, Chat]) -> None:
    token = await link(people["leader"])
    response = await client.post("/login", data={"t": token}, allow_redirects=False)
    header = response.headers["Set-Cookie"]
    assert header.startswith("jdz_session=")
    flags = {part.strip().split("=")[0].lower(): part for part in header.split(";")}
    assert "httponly" in flags and "secure" in flags  # public_url is https
    assert flags["samesite"].strip() == "SameSite=Strict"
    assert flags["path"].strip() == "Path=/"
    assert flags["max-age"].strip() == f"Max-Age={12 * 3600}"


async def test_without_a_session_every_page_is_refused(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    for path in ("/", "/ideas", "/ideas?view=queue", "/sessions", "/nothing-here"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 401, path
        assert "请从聊天中发送 /web 获取登录链接" in await response.text()
        made_up = await client.get(path, headers=cookie("forged"), allow_redirects=False)
        assert made_up.status == 401
    response = await client.post("/ideas/1/review", data={"step": "reject", "reason": "不行"})
    assert response.status == 401
    assert (await client.get("/static/board.js")).status == 200


async def test_a_session_ends_when_it_expires(
    client: Client, people: dict[str, Chat], clock: Clock
) -> None:
    session = await log_in(client, people["leader"])
    assert (await client.get("/", headers=cookie(session))).status == 200
    clock.advance(12 * 3600)
    assert (await client.get("/", headers=cookie(session))).status == 401


async def test_every_response_carries_the_security_headers(
    client: Client, people: dict[str, Chat]
) -> None:
    session = await log_in(client, people["leader"])
    for path, headers in (
        ("/", cookie(session)),
        ("/ideas", cookie(session)),
        ("/", {}),
        ("/login?t=x", {}),
        ("/static/board.css", {}),
    ):
        response = await client.get(path, headers=headers)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        if path.startswith("/static/"):
            assert response.headers["Cache-Control"] != "no-store"
        else:
            assert response.headers["Cache-Control"] == "no-store", path


async def test_pages_have_no_inline_script_or_style(
    client: Client, people: dict[str, Chat]
) -> None:
    session = await log_in(client, people["leader"])
    for path in ("/", "/ideas", "/sessions"):
        page = await (await client.get(path, headers=cookie(session))).text()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
        for attributes, body in scripts:
            assert 'src="/static/' in attributes or 'type="application/json"' in attributes
            assert not body.strip() or 'type="application/json"' in attributes
        assert "<style" not in page and " style=" not in page and " on" + "click" not in page


async def test_logging_in_is_rate_limited(client: Client, people: dict[str, Chat]) -> None:
    for _ in range(10):
        assert (await client.get("/login?t=guess")).status == 404
    refused = await client.post("/login", data={"t": "guess"})
    assert refused.status == 429 and "太频繁" in await refused.text()


async def test_logout_ends_the_session(client: Client, people: dict[str, Chat], app: App) -> None:
    session = await log_in(client, people["leader"])
    csrf = await csrf_of(client, session)
    response = await client.post("/logout", data={"csrf": csrf}, headers=cookie(session))
    assert response.status == 200 and "已退出" in await response.text()
    assert (await client.get("/", headers=cookie(session))).status == 401
    actions = [a.action for a in await app.repos.web.audits("main")]
    assert actions == ["logout", "login"]


# -- CSRF ---------------------------------------------------------------------------------------


async def idea_of(app: App, author: Chat, text: str) -> int:
    await author.say(text)
    rows = await app.repos.db.fetchall("SELECT id FROM ideas ORDER BY id DESC LIMIT 1")
    return int(rows[0][0])


async def test_a_post_without_the_right_csrf_token_changes_nothing(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    idea = await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    session = await log_in(client, people["leader"])
    csrf = await csrf_of(client, session)
    form = {"step": "reject", "reason": "已有同类项目"}
    missing = await client.post(f"/ideas/{idea}/review", data=form, headers=cookie(session))
    wrong = await client.post(
        f"/ideas/{idea}/review", data={**form, "csrf": "0" * 64}, headers=cookie(session)
    )
    other = await log_in(client, people["admin"])  # another session's token
    theirs = await client.post(
        f"/ideas/{idea}/review",
        data={**form, "csrf": await csrf_of(client, other)},
        headers=cookie(session),
    )
    foreign = await client.post(
        f"/ideas/{idea}/review",
        data={**form, "csrf": csrf},
        headers={**cookie(session), "Origin": "https://evil.example.com"},
    )
    for response in (missing, wrong, theirs, foreign):
        assert response.status == 403
    found = await app.repos.ideas.get(idea)
    assert found is not None and found.status == "submitted"
    assert [a.action for a in await app.repos.web.audits("main")] == ["login", "login"]


# -- scope --------------------------------------------------------------------------------------


async def test_a_secretary_sees_only_their_branch_and_a_leader_all(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    ours = await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    theirs = await idea_of(app, people["worker2"], "综采工作面液压支架密封圈修复再用")
    secretary = await log_in(client, people["secretary"])
    page = await (await client.get("/ideas", headers=cookie(secretary))).text()
    assert f"#{ours}<" in page and f"#{theirs}<" not in page
    asked = await client.get("/ideas?branch=zc1", headers=cookie(secretary))
    assert f"#{theirs}<" not in await asked.text()
    queue = await (await client.get("/ideas?view=queue", headers=cookie(secretary))).text()
    assert f"#{ours}<" in queue and f"#{theirs}<" not in queue
    leader = await log_in(client, people["leader"])
    page = await (await client.get("/ideas", headers=cookie(leader))).text()
    assert f"#{ours}<" in page and f"#{theirs}<" in page
    queue = await (await client.get("/ideas?view=queue", headers=cookie(leader))).text()
    assert queue.index(f"#{ours}<") < queue.index(f"#{theirs}<")  # oldest first


async def test_another_scopes_idea_answers_like_a_missing_one(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    theirs = await idea_of(app, people["worker2"], "综采工作面液压支架密封圈修复再用")
    secretary = await log_in(client, people["secretary"])
    csrf = await csrf_of(client, secretary)
    form = {"step": "reject", "reason": "不是本支部的", "csrf": csrf}
    other = await client.post(f"/ideas/{theirs}/review", data=form, headers=cookie(secretary))
    missing = await client.post("/ideas/99999/review", data=form, headers=cookie(secretary))
    assert other.status == missing.status == 404
    assert await other.text() == await missing.text()
    found = await app.repos.ideas.get(theirs)
    assert found is not None and found.status == "submitted"


async def test_the_overview_shows_the_figures_in_scope(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    await idea_of(app, people["worker2"], "综采工作面液压支架密封圈修复再用")
    leader = await log_in(client, people["leader"])
    page = await (await client.get("/", headers=cookie(leader))).text()
    assert "全矿" in page and 'id="chart-data-year"' in page and 'id="chart-data-branches"' in page
    assert "机掘一队" in page and "综采一队" in page  # branches ranked
    block = re.search(r'id="chart-data-months">(.*?)</script>', page, re.S)
    assert block is not None
    months = json.loads(block.group(1))
    palette = category_colours([c.id for c in app.services.classifier.categories])
    labels = {c.label: c.id for c in app.services.classifier.categories}
    assert months["series"] and months["colours"] == [
        palette[labels[s["name"]]] for s in months["series"]
    ]  # the colours of the chat's image of the same chart
    assert sum(sum(s["values"]) for s in months["series"]) == 2
    secretary = await log_in(client, people["secretary"])
    page = await (await client.get("/", headers=cookie(secretary))).text()
    assert 'id="chart-data-compare"' in page and 'id="chart-data-year"' not in page
    assert "综采一队" not in page  # never another branch's name


# -- reviewing ----------------------------------------------------------------------------------


async def test_rejecting_from_the_web_tells_the_author_in_chat(
    client: Client, people: dict[str, Chat], app: App, transport: RecordingTransport
) -> None:
    idea = await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    session = await log_in(client, people["secretary"])
    csrf = await csrf_of(client, session)
    transport.sent.clear()
    response = await client.post(
        f"/ideas/{idea}/review",
        data={"step": "reject", "reason": "已有同类项目在做", "csrf": csrf, "back": "/ideas"},
        headers=cookie(session),
    )
    assert response.status == 200 and "已改为“未采纳”,已通知作者" in await response.text()
    found = await app.repos.ideas.get(idea)
    assert found is not None and found.status == "not_adopted"
    await people["worker"].sender.run_once()
    told = sent_to(transport, "u-E001")
    assert any(f"#{idea}" in t and "未采纳" in t and "已有同类项目在做" in t for t in told), told
    audit = (await app.repos.web.audits("main"))[0]
    assert (audit.action, audit.target) == ("review.reject", f"idea:{idea}")
    secretary = await app.repos.people.by_employee_no("S001")
    assert secretary is not None and audit.person_id == secretary.id


async def test_adopting_from_the_web_links_the_project_and_tells_the_author(
    client: Client, people: dict[str, Chat], app: App, transport: RecordingTransport
) -> None:
    first = await idea_of(app, people["worker2"], "建议把旧锚杆回收起来再用")
    created = await people["leader"].say(
        f"/project new 井下锚杆回收复用 | repair_reuse | L001 | jj1,zc1 | 50万 | {first}"
    )
    assert "P01" in created[0]
    idea = await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    await app.repos.db.execute("UPDATE ideas SET category = 'repair_reuse' WHERE id = ?", (idea,))
    session = await log_in(client, people["leader"])
    csrf = await csrf_of(client, session)
    transport.sent.clear()
    response = await client.post(
        f"/ideas/{idea}/review",
        data={"step": "adopt", "project": "P01", "csrf": csrf},
        headers=cookie(session),
    )
    assert response.status == 200 and "已纳入重点项目 P01" in await response.text()
    found = await app.repos.ideas.get(idea)
    assert found is not None and found.status == "adopted"
    assert await app.repos.projects.project_of(idea) is not None
    await people["worker"].sender.run_once()
    assert any("已采纳,原因:纳入重点项目 P01" in t for t in sent_to(transport, "u-E001"))


async def test_merging_from_the_web_goes_through_the_review_rules(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    ours = await idea_of(app, people["worker"], "井下回收复用锚杆,每月能省好几万")
    theirs = await idea_of(app, people["worker2"], "综采工作面液压支架密封圈修复再用")
    again = await idea_of(app, people["worker"], "锚杆回收以后修一修还能再用")
    session = await log_in(client, people["secretary"])
    csrf = await csrf_of(client, session)
    across = await client.post(
        f"/ideas/{again}/review",
        data={"step": "merge", "target": str(theirs), "csrf": csrf},
        headers=cookie(session),
    )
    assert across.status == 409  # another branch's idea is not one to merge into here
    merged = await client.post(
        f"/ideas/{again}/review",
        data={"step": "merge", "target": f"#{ours}", "csrf": csrf},
        headers=cookie(session),
    )
    assert merged.status == 200
    found = await app.repos.ideas.get(again)
    assert found is not None and found.status == "merged"


# -- sessions -----------------------------------------------------------------------------------


async def test_an_admin_ends_a_session_and_it_stops_working(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    leader = await log_in(client, people["leader"])
    admin = await log_in(client, people["admin"])
    page = await (await client.get("/sessions", headers=cookie(admin))).text()
    assert "孙矿长" in page and "管理员(您自己)" in page
    rows = await app.repos.db.fetchall("SELECT id, person_id FROM web_sessions ORDER BY id")
    leader_session = rows[0][0]
    csrf = await csrf_of(client, admin, "/sessions")
    wrong = await client.post(
        f"/sessions/{leader_session}/revoke", data={"csrf": "f" * 64}, headers=cookie(admin)
    )
    assert wrong.status == 403
    assert (await client.get("/", headers=cookie(leader))).status == 200
    done = await client.post(
        f"/sessions/{leader_session}/revoke", data={"csrf": csrf}, headers=cookie(admin)
    )
    assert done.status == 200
    assert (await client.get("/", headers=cookie(leader))).status == 401
    again = await client.post(
        f"/sessions/{leader_session}/revoke", data={"csrf": csrf}, headers=cookie(admin)
    )
    assert again.status == 404
    audit = (await app.repos.web.audits("main"))[0]
    assert (audit.action, audit.target) == ("session.revoke", f"session:{leader_session}")


async def test_sessions_are_for_admins_only(
    client: Client, people: dict[str, Chat], app: App
) -> None:
    leader = await log_in(client, people["leader"])
    page = await (await client.get("/ideas", headers=cookie(leader))).text()
    assert 'href="/sessions"' not in page
    response = await client.get("/sessions", headers=cookie(leader))
    assert response.status == 404
    csrf = await csrf_of(client, leader)
    own = (await app.repos.db.fetchall("SELECT id FROM web_sessions"))[0][0]
    refused = await client.post(
        f"/sessions/{own}/revoke", data={"csrf": csrf}, headers=cookie(leader)
    )
    assert refused.status == 404
    assert (await client.get("/", headers=cookie(leader))).status == 200


# -- configuration and serving --------------------------------------------------------------


def test_the_board_is_off_unless_listen_is_set(tmp_path: Path) -> None:
    assert not project_config(tmp_path / "db").web.enabled
    found = project_config(
        tmp_path / "db",
        JINDIANZI_WEB_LISTEN="127.0.0.1:8090",
        JINDIANZI_WEB_PUBLIC_URL=PUBLIC_URL,
        JINDIANZI_WEB_LINK_MINUTES="5",
        JINDIANZI_WEB_SESSION_HOURS="8",
    ).web
    assert found == WebConfig("127.0.0.1:8090", PUBLIC_URL, 5, 8) and found.enabled


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"JINDIANZI_WEB_LISTEN": "8090"}, "web.listen"),
        ({"JINDIANZI_WEB_LISTEN": "127.0.0.1:8090"}, "web.public_url"),
        ({"JINDIANZI_WEB_PUBLIC_URL": "kanban.example.cn"}, "web.public_url"),
        ({"JINDIANZI_WEB_LINK_MINUTES": "0"}, "web.link_minutes"),
        ({"JINDIANZI_WEB_SESSION_HOURS": "many"}, "web.session_hours"),
    ],
)
def test_a_bad_web_setting_names_its_key(tmp_path: Path, environ: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        project_config(tmp_path / "db", **environ)
    assert raised.value.key == key


async def test_serve_listens_on_web_listen_until_stopped(
    config: Config, clock: Clock, classifier: Classifier
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = dataclasses.replace(
        config, web=WebConfig(listen=f"127.0.0.1:{port}", public_url=PUBLIC_URL)
    )
    async with open_app(config, clock=clock, classifier=classifier) as app:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(app, stop))
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(50):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/") as response:
                            status, text = response.status, await response.text()
                        break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                else:
                    pytest.fail("the 看板 did not start listening")
            assert status == 401 and "/web" in text
        finally:
            stop.set()
            await task


async def test_echarts_is_served_with_its_licence(client: Client) -> None:
    script = await client.get("/static/vendor/echarts/echarts.min.js")
    assert script.status == 200 and "javascript" in script.headers["Content-Type"]
    for name in ("LICENSE", "NOTICE"):
        found = await client.get(f"/static/vendor/echarts/{name}")
        assert found.status == 200 and "Apache" in await found.text()


# -- a group of mines (PostgreSQL) ----------------------------------------------------------


@pytest.fixture
async def mines(
    tmp_path: Path, postgres_server: PostgresServer, classifier: Classifier, clock: Clock
) -> AsyncIterator[App]:
    """Two mines and the group office on one PostgreSQL database, the 看板 switched on."""
    mine_file(tmp_path, "east", "东矿综采一队支部")
    mine_file(tmp_path, "west", "西矿掘进二队支部")
    (tmp_path / "office.yaml").write_text(
        "org:\n  departments: [{id: zzb, name: 组织部}]\n"
        "  branches: [{id: jg, name: 集团机关支部, department: zzb}]\n",
        encoding="utf-8",
    )
    path = tmp_path / "group.yaml"
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    shipped = shipped.replace("sample_roster: bot/sample_roster.csv", "sample_roster: null")
    path.write_text(shipped + "\nmines:\n" + WITH_OFFICE, encoding="utf-8")
    env = {
        "JINDIANZI_STORAGE_PATH": str(tmp_path / "unused.db"),
        "JINDIANZI_STORAGE_URL": postgres_server.fresh_database(),
        "JINDIANZI_WEB_LISTEN": "127.0.0.1:8090",
        "JINDIANZI_WEB_PUBLIC_URL": PUBLIC_URL,
    }
    async with open_app(load_config(path, env), clock=clock, classifier=classifier) as app:
        for mine, roster in (
            ("east", EAST_ROSTER),
            ("west", WEST_ROSTER),
            ("office", OFFICE_ROSTER),
        ):
            csv = tmp_path / f"{mine}.csv"
            csv.write_text(roster, encoding="utf-8")
            await import_roster(csv, app.tenants.services[mine].repos, clock())
        yield app


async def test_each_mine_s_session_sees_its_own_mine_and_the_office_the_group(
    mines: App,
) -> None:
    transport = RecordingTransport()
    zhang, li = chat_of(mines, transport, "u-zhang"), chat_of(mines, transport, "u-li")
    await register(zhang, "东矿", "E001", "张三", "13900000001")
    await register(li, "西矿", "E001", "李四", "13700000001")
    await zhang.say("井下水泵加装变频器,节约电费")
    await li.say("掘进面风筒改用新材料,减少漏风")
    east_secretary = chat_of(mines, transport, "u-east-s")
    await register(east_secretary, "东矿", "S001", "刘书记", "13900000011")
    office = chat_of(mines, transport, "u-sun")
    await register(office, "集团党委", "L001", "孙书记", "13600000001")
    async with TestClient(TestServer(web_app(mines)), cookie_jar=DummyCookieJar()) as client:
        east = await log_in(client, east_secretary)
        page = await (await client.get("/ideas", headers=cookie(east))).text()
        assert "井下水泵加装变频器" in page and "掘进面风筒" not in page
        assert "东矿" in page  # the bar names the mine when there are several
        group = await log_in(client, office)
        page = await (await client.get("/", headers=cookie(group))).text()
        assert "集团" in page and "东矿" in page and "西矿" in page
        assert 'id="chart-data-mines"' in page
    rows = await mines.repos.db.fetchall("SELECT mine FROM web_sessions ORDER BY id")
    assert [r[0] for r in rows] == ["east", "office"]


async def test_ideas_filter_search_and_page(
    client: Client, people: dict[str, Chat], app: App, clock: Clock
) -> None:
    worker = await app.repos.people.by_employee_no("E001")
    assert worker is not None
    async with app.repos.db.transaction():
        for n in range(32):
            clock.advance(3600)
            text = f"第{n}条:皮带机托辊改用节能电机" if n % 2 else f"第{n}条:井下回收复用锚杆"
            idea = await app.repos.ideas.add(
                author=worker,
                text=text,
                category="energy_environment" if n % 2 else "repair_reuse",
                confidence=0.9,
                channel="test",
                now=clock(),
            )
            await app.repos.ideas.index_terms(idea.id, app.services.classifier.terms(text))
    await app.repos.db.execute(
        "UPDATE ideas SET created_at = ? WHERE id = 1", ("2026-03-05T02:00:00.000000+00:00",)
    )
    leader = await log_in(client, people["leader"])

    async def ids(query: str) -> list[int]:
        page = await (await client.get(f"/ideas?{query}", headers=cookie(leader))).text()
        return [int(n) for n in re.findall(r'<tr id="idea-(\d+)">', page)]

    first, second = await ids(""), await ids("page=2")
    assert len(first) == 30 and len(second) == 2 and not set(first) & set(second)
    assert first[0] == 32  # newest first
    energy = await ids("category=energy_environment")
    assert len(energy) == 16 and all(n % 2 == 0 for n in energy)  # ids 2, 4 …: odd n
    assert await ids("month=2026-03") == [1]
    assert set(await ids("text=锚杆")) == {n for n in range(1, 33) if n % 2}
    assert await ids("status=adopted") == []
    page = await (await client.get("/ideas?month=march", headers=cookie(leader))).text()
    assert "月份请写成" in page
