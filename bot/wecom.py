"""The WeCom (企业微信) channel: encrypted callbacks in, async API calls and robot webhooks out.

wechatpy does what it does well here: the callback crypto and XML parsing. Its HTTP
client is synchronous, has no default timeout and hard-codes the API host, so the API
is spoken with httpx against `wecom.api_base_url`. A callback is answered with an empty
200 as soon as it is committed to the inbox (WeCom retries after 5 s otherwise); the
reply goes out later through message/send.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import logging
import mimetypes
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import xmltodict
from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException

from bot.config import OrgConfig, WecomConfig
from bot.intake import process_forever, process_stored
from bot.outbox import RetryLater, Undeliverable
from bot.text import split_text, stable_numbers
from handlers.messages import Incoming, IncomingAttachment, Outgoing
from handlers.parsing import number
from handlers.router import Router
from handlers.services import Services
from storage import Repositories

log = logging.getLogger(__name__)

CHANNEL = "wecom"
ROBOT_CHANNEL = "wecom_robot"
MAX_BODY = 64 * 1024
TEXT_LIMIT_BYTES = 2048
TOKEN_ERRORS = {40001, 40014, 42001}
BUSY_ERRORS = {-1, 45009, 45033, 130101}
RETRY_AFTER_S = {45009: 60.0, 45033: 60.0, 130101: 600.0}
"""Rate limits: 130101 is a group robot blocked for about ten minutes."""
MEMBER_PER_MINUTE = 30
ROBOT_PER_MINUTE = 20
CARD_MAX_BUTTONS = 6
CARD_MAX_TITLE = 36
CARD_MAX_SUB_TITLE = 160
CARD_MAX_OPTIONS = 10
"""A card's drop-down (button_selection) holds up to 10 options: more buttons than a card's
six (the seven categories) are offered there, with one button to submit the choice."""
CARD_TITLE = "请选择"
"""A card's title when the text's first line is too long for one (the text goes below)."""
OPTION_MAX_CHARS = 16
BUTTON_MAX_CHARS = 10
SELECT_QUESTION = "choice"
SELECT_SUBMIT = "wecom-select"
"""The submit button's key: a press without a chosen option comes back as this."""
MAX_OPTION_ID_BYTES = 128
NO_CHOICE = "请先在下拉框里选一项,再点“确定”。"
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class CallbackError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Window:
    """At most `limit` events per `period` seconds per key (a sliding window)."""

    def __init__(
        self, limit: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._period = period
        self._clock = clock
        self._events: dict[str, collections.deque[float]] = {}

    def wait(self, key: str, count: int = 1) -> float:
        """Seconds to wait before the next `count` events for `key`; 0 means go (and they are
        counted). More than `limit` at once wait for an empty window and then go."""
        now = self._clock()
        events = self._events.setdefault(key, collections.deque())
        while events and now - events[0] >= self._period:
            events.popleft()
        count = max(1, min(count, self._limit))
        over = len(events) + count - self._limit
        if over > 0:
            return self._period - (now - events[over - 1])
        events.extend([now] * count)
        return 0.0


class Callbacks:
    """Verifies, decrypts and parses callback requests (no I/O)."""

    def __init__(self, config: WecomConfig, clock: Callable[[], float] = time.time) -> None:
        assert config.token is not None and config.encoding_aes_key is not None
        self._token = config.token.get()
        self._corp_id = config.corp_id
        self._window = config.timestamp_window_s
        self._clock = clock
        self._key = base64.b64decode(config.encoding_aes_key.get() + "=")

    def _check(self, query: Any, encrypted: str) -> None:
        timestamp = str(query.get("timestamp", ""))
        nonce = str(query.get("nonce", ""))
        given = str(query.get("msg_signature", ""))
        if number(timestamp, prefixes="") is None or not nonce or not given:
            raise CallbackError(400, "missing signature fields")
        if abs(self._clock() - int(timestamp)) > self._window:
            raise CallbackError(403, "stale timestamp")
        expected = signature(self._token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise CallbackError(403, "bad signature")

    def _decrypt(self, encrypted: str) -> str:
        try:
            text: Any = PrpCrypto(self._key).decrypt(encrypted, self._corp_id)
        except InvalidCorpIdException:
            raise CallbackError(403, "wrong corp id") from None
        except Exception:
            raise CallbackError(400, "cannot decrypt") from None
        return text.decode() if isinstance(text, bytes) else str(text)

    def verify_url(self, query: Any) -> str:
        """GET: the decrypted echostr, exactly."""
        echostr = str(query.get("echostr", ""))
        if not echostr:
            raise CallbackError(400, "missing echostr")
        self._check(query, echostr)
        return self._decrypt(echostr)

    def open(self, query: Any, body: bytes) -> tuple[str, str]:
        """POST: (update id, decrypted XML) of a genuine callback."""
        try:
            envelope = xmltodict.parse(body.decode())["xml"]
            encrypted = str(envelope["Encrypt"])
        except Exception:
            raise CallbackError(400, "not a WeCom XML envelope") from None
        self._check(query, encrypted)
        plain = self._decrypt(encrypted)
        try:
            fields = xmltodict.parse(plain)["xml"]
        except Exception:
            raise CallbackError(400, "decrypted body is not XML") from None
        if not isinstance(fields, dict):
            raise CallbackError(400, "decrypted body has no fields")
        msg_id = fields.get("MsgId")
        if msg_id:
            return str(msg_id), plain
        # Events have no MsgId: sender, second, event, which button of which card and the
        # option chosen in its drop-down (one submit button serves every option).
        parts = ("FromUserName", "CreateTime", "Event", "EventKey", "TaskId")
        key = [str(fields.get(part) or "") for part in parts]
        option = selected_option(fields, SELECT_QUESTION)
        return ":".join(key if option is None else [*key, option]), plain


def translate(update_id: str, plain: str) -> Incoming | None:
    """A decrypted callback as the router's neutral message; None for what the bot ignores."""
    fields = xmltodict.parse(plain)["xml"]
    user = str(fields.get("FromUserName") or "")
    if not user:
        return None
    base = Incoming(channel=CHANNEL, update_id=update_id, chat_id=user, sender_id=user)
    if fields.get("MsgType") == "event":
        if fields.get("Event") == "template_card_event":  # wechatpy does not parse these
            key = str(fields.get("EventKey") or "")
            if key == SELECT_SUBMIT:  # the drop-down's submit button: the option is the press
                key = selected_option(fields, SELECT_QUESTION) or SELECT_SUBMIT
            if not key:
                return None
            return replace(base, callback=key, message_ref=str(fields.get("TaskId") or ""))
        return None  # enter_agent, subscribe and the like need no answer
    message = parse_message(plain)
    kind = message.type
    if kind == "text":
        return replace(base, text=str(message.content or ""))  # a text without Content is empty
    if kind == "image":
        return replace(base, attachments=(IncomingAttachment("photo", str(message.media_id)),))
    if kind == "voice":
        return replace(base, attachments=(IncomingAttachment("voice", str(message.media_id)),))
    return replace(base, kind="unsupported")


def _items(value: object) -> list[object]:
    """xmltodict gives one element as itself and several as a list."""
    return value if isinstance(value, list) else [value]


def selected_option(fields: dict[str, Any], question_key: str) -> str | None:
    """The option chosen for `question_key` in a template_card_event's SelectedItems:

        <SelectedItems><SelectedItem><QuestionKey>choice</QuestionKey>
        <OptionIds><OptionId>i:12:set:safety</OptionId></OptionIds></SelectedItem></SelectedItems>

    None when there is none, or when the XML has any other shape than that."""
    selected = fields.get("SelectedItems")
    if not isinstance(selected, dict):
        return None
    for item in _items(selected.get("SelectedItem")):
        if not isinstance(item, dict) or item.get("QuestionKey") != question_key:
            continue
        options = item.get("OptionIds")
        ids = _items(options.get("OptionId")) if isinstance(options, dict) else []
        for option in ids:
            if isinstance(option, str) and 0 < len(option.encode()) <= MAX_OPTION_ID_BYTES:
                return option
    return None


def sender_of(plain: str) -> str | None:
    """Whom to tell when a stored callback is set aside."""
    return str(xmltodict.parse(plain)["xml"].get("FromUserName") or "") or None


def chat_of(plain: str) -> str:
    """The inbox's chat of a stored callback: the member who sent it ('' if it names none)."""
    try:
        return sender_of(plain) or ""
    except Exception:  # a callback too broken to parse is one of the nameless
        return ""


class WecomApi:
    """The WeCom server API over httpx, with a cached access token."""

    def __init__(self, http: httpx.AsyncClient, config: WecomConfig) -> None:
        assert config.secret is not None
        self._http = http
        self._base = config.api_base_url.rstrip("/")
        self._corp_id = config.corp_id
        self._secret = config.secret.get()
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def token(self, *, refresh: bool = False) -> str:
        async with self._lock:
            if refresh or self._token is None or time.monotonic() >= self._expires:
                body = await self._get(
                    "/cgi-bin/gettoken", {"corpid": self._corp_id, "corpsecret": self._secret}
                )
                if body.get("errcode", 0) != 0:
                    raise RetryLater(
                        f"gettoken errcode {body.get('errcode')}: {body.get('errmsg')}", 60
                    )
                self._token = str(body["access_token"])
                self._expires = time.monotonic() + int(body.get("expires_in", 7200)) - 300
            return self._token

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._http.get(self._base + path, params=params)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
        except (httpx.HTTPError, ValueError) as exc:
            raise RetryLater(f"network: {exc!r}") from exc

    async def _post(self, url: str, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post(url, params=params, json=body)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
        except (httpx.HTTPError, ValueError) as exc:
            raise RetryLater(f"network: {exc!r}") from exc

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST an API method; an expired token is refreshed and the call retried once."""
        result = await self._post(self._base + path, {"access_token": await self.token()}, body)
        if result.get("errcode") in TOKEN_ERRORS:
            token = await self.token(refresh=True)
            result = await self._post(self._base + path, {"access_token": token}, body)
        check(result, path)
        return result

    async def upload(
        self, content: bytes, filename: str, kind: str = "image", content_type: str = "image/png"
    ) -> str:
        """media/upload a file of `kind` (image, file); returns its media_id (valid three
        days). An expired token is refreshed and the upload tried once more."""
        url = self._base + "/cgi-bin/media/upload"
        for refresh in (False, True):
            params = {"access_token": await self.token(refresh=refresh), "type": kind}
            result = await self._upload(url, params, content, filename, content_type)
            if result.get("errcode") not in TOKEN_ERRORS:
                break
        check(result, "media/upload")
        return str(result["media_id"])

    async def _upload(
        self, url: str, params: dict[str, str], content: bytes, filename: str, content_type: str
    ) -> dict[str, Any]:
        try:
            response = await self._http.post(
                url, params=params, files={"media": (filename, content, content_type)}
            )
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
        except (httpx.HTTPError, ValueError) as exc:
            raise RetryLater(f"network: {exc!r}") from exc

    async def code_user(self, code: str) -> dict[str, Any]:
        """auth/getuserinfo: who a login code (from WeCom's OAuth2 or web login) belongs to,
        as WeCom answers it (`userid` for a member, `openid` for anyone else, or an
        `errcode`). An expired token is refreshed and the call tried once more; a network
        failure raises RetryLater."""
        path = "/cgi-bin/auth/getuserinfo"
        result = await self._get(path, {"access_token": await self.token(), "code": code})
        if result.get("errcode") in TOKEN_ERRORS:
            token = await self.token(refresh=True)
            result = await self._get(path, {"access_token": token, "code": code})
        return result

    async def robot(self, key: str, body: dict[str, Any]) -> None:
        result = await self._post(self._base + "/cgi-bin/webhook/send", {"key": key}, body)
        check(result, "webhook/send")

    async def robot_upload(self, key: str, content: bytes, filename: str) -> str:
        """webhook/upload_media a file for a group robot; returns its media_id."""
        url = self._base + "/cgi-bin/webhook/upload_media"
        params = {"key": key, "type": "file"}
        result = await self._upload(url, params, content, filename, content_type_of(filename))
        check(result, "webhook/upload_media")
        return str(result["media_id"])


OAUTH_AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"
WEB_LOGIN = "https://login.work.weixin.qq.com/wwlogin/sso/login"


def login_url(config: WecomConfig, redirect_uri: str, state: str, *, in_client: bool) -> str:
    """Where a browser goes to prove it is a member of the corp: inside the WeCom client its
    OAuth2 page (silent, snsapi_base), in any other browser WeCom's web login (QR code, or
    the desktop client's confirmation). Both come back to `redirect_uri?code=…&state=…`; its
    domain must be the app's trusted domain in the WeCom admin console."""
    if in_client:
        query = urlencode(
            {
                "appid": config.corp_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
                "agentid": str(config.agent_id),
            }
        )
        return f"{OAUTH_AUTHORIZE}?{query}#wechat_redirect"
    query = urlencode(
        {
            "login_type": "CorpApp",
            "appid": config.corp_id,
            "agentid": str(config.agent_id),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{WEB_LOGIN}?{query}"


def content_type_of(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def check(result: dict[str, Any], what: str) -> None:
    code = result.get("errcode", 0)
    if code == 0:
        return
    message = f"{what} errcode {code}: {result.get('errmsg', '')}"
    log.warning("WeCom %s", message)
    if code in BUSY_ERRORS or code in TOKEN_ERRORS:
        raise RetryLater(message, RETRY_AFTER_S.get(code))
    raise Undeliverable(message)


class WecomChannel:
    """Adapter (callbacks → router) and transport (outbox → message/send)."""

    channel = CHANNEL

    def __init__(
        self, config: WecomConfig, api: WecomApi, router: Router, services: Services
    ) -> None:
        self._config = config
        self._api = api
        self._router = router
        self._services = services
        self._callbacks = Callbacks(config)
        self._stored = asyncio.Event()
        self._per_member = Window(MEMBER_PER_MINUTE, 60)

    @property
    def api(self) -> WecomApi:
        """The API client (and its token cache), shared with the 看板's WeCom login."""
        return self._api

    @property
    def _repos(self) -> Repositories:
        return self._services.repos

    # -- intake -----------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get(self._config.callback_path, self._verify)
        app.router.add_post(self._config.callback_path, self._receive)
        return app

    async def _verify(self, request: web.Request) -> web.Response:
        try:
            return web.Response(text=self._callbacks.verify_url(request.query))
        except CallbackError as exc:
            log.warning("WeCom URL verification refused (%s) from %s", exc, request.remote)
            return web.Response(status=exc.status)

    async def _receive(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("WeCom callback over %d bytes refused from %s", MAX_BODY, request.remote)
            return web.Response(status=413)
        try:
            update_id, plain = self._callbacks.open(request.query, body)
        except CallbackError as exc:
            log.warning("WeCom callback refused (%s) from %s", exc, request.remote)
            return web.Response(status=exc.status)
        async with self._repos.db.transaction():
            await self._repos.inbox.store(
                CHANNEL, update_id, plain, self._services.now(), chat=chat_of(plain)
            )
        self._stored.set()
        return web.Response(text="")  # committed: WeCom may forget it now

    async def process_pending(self) -> int:
        return await process_stored(self._services, CHANNEL, self._handle, sender_of)

    async def _handle(self, update_id: str, plain: str) -> None:
        msg = translate(update_id, plain)
        if msg is None:
            async with self._repos.db.transaction():
                await self._repos.inbox.finish(CHANNEL, update_id, "done", self._services.now())
            return
        if msg.callback == SELECT_SUBMIT:  # 确定 without choosing: say so, change nothing
            async with self._repos.db.transaction():
                await self._repos.outbox.enqueue(
                    channel=CHANNEL,
                    chat_id=msg.chat_id,
                    payload=Outgoing(NO_CHOICE).to_payload(),
                    dedupe_key=f"reply:{CHANNEL}:{update_id}:0",
                    now=self._services.now(),
                )
                await self._repos.inbox.finish(CHANNEL, update_id, "done", self._services.now())
            self._services.outbox_signal.set()
            return
        if msg.callback is None and number(msg.text, prefixes="") is not None:
            choice = await self._repos.menus.choice(CHANNEL, msg.chat_id, int(msg.text))
            if choice is not None:  # the numbered fallback for buttons, good for one press
                msg = replace(msg, text="", callback=choice[0], message_ref=choice[1])
                async with self._repos.db.transaction():
                    await self._repos.menus.forget(CHANNEL, msg.chat_id)
        if await self._repos.people.by_identity(CHANNEL, msg.sender_id) is None:
            async with self._repos.db.transaction():  # a roster userid needs no /start
                await self._repos.people.bind_by_wecom_userid(msg.sender_id, self._services.now())
        await self._router.dispatch(msg, self._services)

    async def run(self, stop: asyncio.Event) -> None:
        host, _, port = self._config.listen.rpartition(":")
        # On stop, a callback still in flight gets 2 s (aiohttp would wait 60): what it had not
        # stored WeCom sends again, and the inbox keeps it once.
        runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, host, int(port)).start()
        log.info("WeCom callbacks on %s%s", self._config.listen, self._config.callback_path)
        processor = asyncio.create_task(
            process_forever("WeCom", self.process_pending, self._stored, stop)
        )
        try:
            await stop.wait()
        finally:
            processor.cancel()
            await asyncio.gather(processor, return_exceptions=True)
            await runner.cleanup()

    # -- transport --------------------------------------------------------------------------

    async def send(self, chat_id: str, message: Outgoing) -> None:
        wait = self._per_member.wait(chat_id)
        if wait:
            raise RetryLater("30 messages a minute per member", wait)
        text = message.text
        buttons = [(b.label, b.data) for row in message.buttons for b in row]
        agent = self._config.agent_id
        if message.image_path:  # charts: the picture first, then the text
            path = Path(message.image_path)
            media_id = await self._api.upload(await asyncio.to_thread(path.read_bytes), path.name)
            await self._api.call(
                "/cgi-bin/message/send",
                {
                    "touser": chat_id,
                    "msgtype": "image",
                    "agentid": agent,
                    "image": {"media_id": media_id},
                },
            )
        if message.document_path:  # the meeting pack: the file, then the text
            path = Path(message.document_path)
            media_id = await self._api.upload(
                await asyncio.to_thread(path.read_bytes),
                path.name,
                "file",
                content_type_of(path.name),
            )
            await self._api.call(
                "/cgi-bin/message/send",
                {
                    "touser": chat_id,
                    "msgtype": "file",
                    "agentid": agent,
                    "file": {"media_id": media_id},
                },
            )
        if buttons:
            task_id = f"m{time.time_ns()}"
            numbers = await self._remember(chat_id, buttons, task_id)
            card = template_card(text, buttons, task_id)
            if card is not None:
                await self._api.call(
                    "/cgi-bin/message/send",
                    {
                        "touser": chat_id,
                        "msgtype": "template_card",
                        "agentid": agent,
                        "template_card": card,
                    },
                )
                return
            numbered = "\n".join(
                f"{n}. {label}" for n, (label, _) in zip(numbers, buttons, strict=True)
            )
            text = f"{text}\n回复数字选择:\n{numbered}"
        for piece in split_text(text, TEXT_LIMIT_BYTES, lambda t: len(t.encode())):
            await self._api.call(
                "/cgi-bin/message/send",
                {
                    "touser": chat_id,
                    "msgtype": "text",
                    "agentid": agent,
                    "text": {"content": piece},
                },
            )

    async def _remember(self, chat_id: str, buttons: list[tuple[str, str]], ref: str) -> list[int]:
        """The menu's buttons by number, for a reply with a number; the numbers in button
        order. The same label keeps its number in every menu of the chat (stable_numbers)."""
        menus = self._repos.menus
        async with self._repos.db.transaction():
            held = await menus.numbers(CHANNEL, chat_id)
            numbers, held = stable_numbers([label for label, _ in buttons], held)
            live = [(n, data) for n, (_, data) in zip(numbers, buttons, strict=True)]
            await menus.remember(
                CHANNEL, chat_id, live, ref, self._services.now(), list(held.items())
            )
        return numbers


def template_card(text: str, buttons: list[tuple[str, str]], task_id: str) -> dict[str, Any] | None:
    """The buttons as a card: up to six as buttons, up to ten in a drop-down with one button
    to submit the choice; None when they or the text do not fit (then numbered text: nothing is
    cut). The text's first line is the title, the rest below it."""
    title, _, rest = text.partition("\n")
    rest = rest or title
    if len(title) > CARD_MAX_TITLE:
        title, rest = CARD_TITLE, text
    if len(rest) > CARD_MAX_SUB_TITLE or len(buttons) > CARD_MAX_OPTIONS:
        return None
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": title},
        "sub_title_text": rest,
        "task_id": task_id,
    }
    if len(buttons) <= CARD_MAX_BUTTONS:
        card["button_list"] = [
            {"text": label[:BUTTON_MAX_CHARS], "style": 1, "key": data} for label, data in buttons
        ]
        return card
    card["button_selection"] = {
        "question_key": SELECT_QUESTION,
        "title": "请选择",
        "option_list": [{"id": data, "text": label[:OPTION_MAX_CHARS]} for label, data in buttons],
    }
    card["button_list"] = [{"text": "确定", "style": 1, "key": SELECT_SUBMIT}]
    return card


class RobotTransport:
    """Branch group notices through each group's robot webhook (20 a minute per key)."""

    channel = ROBOT_CHANNEL

    def __init__(self, api: WecomApi, orgs: Sequence[MineOrg]) -> None:
        self._api = api
        self._keys = {
            robot_chat(mine.prefix, b.id): b.wecom_webhook_key.get()
            for mine in orgs
            for b in mine.org.branches
            if b.wecom_webhook_key is not None
        }
        self._window = Window(ROBOT_PER_MINUTE, 60)

    async def send(self, chat_id: str, message: Outgoing) -> None:
        key = self._keys.get(chat_id)
        if key is None:
            raise Undeliverable(f"branch {chat_id} has no wecom_webhook_key")
        pieces = split_text(inert_markdown(message.text), 4000, lambda t: len(t.encode()))
        document = Path(message.document_path) if message.document_path else None
        # Every message counts against the robot's limit, the file as much as the text.
        wait = self._window.wait(chat_id, len(pieces) + (document is not None))
        if wait:
            raise RetryLater("20 messages a minute per group robot", wait)
        if document is not None:
            content = await asyncio.to_thread(document.read_bytes)
            media_id = await self._api.robot_upload(key, content, document.name)
            await self._api.robot(key, {"msgtype": "file", "file": {"media_id": media_id}})
        for piece in pieces:
            await self._api.robot(key, {"msgtype": "markdown", "markdown": {"content": piece}})


_MARKDOWN = str.maketrans(
    {"*": "＊", "[": "［", "]": "］", "`": "｀", "<": "＜", ">": "＞", "#": "＃"}
)


def inert_markdown(text: str) -> str:
    """The text as a group robot's markdown shows it, whatever a person typed into it: the
    characters WeCom markdown acts on (bold, links, code, quotes, headings, font tags) are
    replaced by their full-width look-alikes."""
    return text.translate(_MARKDOWN)


@dataclass(frozen=True, slots=True)
class MineOrg:
    """One mine's organisation as the robots see it: `prefix` ("" with one mine, else
    "<mine>/") keeps two mines' branch b01 two different robot groups."""

    prefix: str
    org: OrgConfig
    services: Services


def robot_chat(prefix: str, branch_id: str) -> str:
    """The robot group's chat id of a branch."""
    return prefix + branch_id


async def bind_robot_groups(mine: MineOrg) -> None:
    """Every branch with a robot key has a (re)activated group binding for notices."""
    repos = mine.services.repos
    async with repos.db.transaction():
        for branch in mine.org.branches:
            if branch.wecom_webhook_key is not None:
                chat = robot_chat(mine.prefix, branch.id)
                await repos.groups.bind(ROBOT_CHANNEL, chat, branch.id, None, mine.services.now())


@asynccontextmanager
async def open_wecom(
    config: WecomConfig, orgs: Sequence[MineOrg], router: Router
) -> AsyncIterator[tuple[WecomChannel, RobotTransport]]:
    """The WeCom app channel (on the first mine's services: the router finds each
    message's mine) and the robots of every mine's branches."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        api = WecomApi(http, config)
        for mine in orgs:
            await bind_robot_groups(mine)
        channel = WecomChannel(config, api, router, orgs[0].services)
        yield channel, RobotTransport(api, orgs)
