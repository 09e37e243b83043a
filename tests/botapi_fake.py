"""A fake Telegram Bot API server on loopback, spoken to by the real python-telegram-bot.

Only the network is fake: the bot under test builds its requests with PTB and parses
these answers with PTB, exactly as against api.telegram.org.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.loopback import serve

BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "金点子",
    "username": "jindianzi_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
SENDS = ("sendMessage", "sendPhoto", "sendDocument", "editMessageText")


@dataclass
class Fault:
    method: str
    error_code: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | None
    migrate_to: int | None = None


class FakeTelegram:
    def __init__(self, token: str = "123:ABC") -> None:
        self.token = token
        self.url = ""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._updates: list[dict[str, Any]] = []
        self.confirmed_offset = 0
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._faults: list[Fault] = []
        self._forbidden: set[int] = set()
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.command_scopes: dict[str, list[str]] = {}
        """The command menu set for each scope ('default', 'chat:ID'), as command names."""

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner, self.url = await serve(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- updates ---------------------------------------------------------------------------

    def _push(self, body: dict[str, Any], update_id: int | None = None) -> dict[str, Any]:
        update = {"update_id": update_id or next(self._update_ids), **body}
        self._updates.append(update)
        self._new_update.set()
        return update

    def push_raw(self, update: dict[str, Any]) -> dict[str, Any]:
        self._updates.append(update)
        self._new_update.set()
        return update

    def _message(
        self, user_id: int, chat_id: int | None, chat_type: str, first_name: str
    ) -> dict[str, Any]:
        chat = chat_id if chat_id is not None else user_id
        chat_obj: dict[str, Any] = {"id": chat, "type": chat_type}
        if chat_type == "private":
            chat_obj["first_name"] = first_name
        else:
            chat_obj["title"] = "支部群"
        return {
            "message_id": next(self._ids(chat)),
            "date": int(time.time()),
            "chat": chat_obj,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
        }

    def push_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "张三",
        update_id: int | None = None,
    ) -> dict[str, Any]:
        message = self._message(user_id, chat_id, chat_type, first_name)
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return self._push({"message": message}, update_id)

    def push_photo(
        self,
        user_id: int,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        message = self._message(user_id, chat_id, chat_type, "张三")
        n = message["message_id"]
        message["photo"] = [
            {"file_id": f"photo-{n}-s", "file_unique_id": f"u{n}s", "width": 90, "height": 90},
            {"file_id": f"photo-{n}", "file_unique_id": f"u{n}", "width": 1280, "height": 960},
        ]
        if caption:
            message["caption"] = caption
        return self._push({"message": message})

    def push_voice(self, user_id: int) -> dict[str, Any]:
        message = self._message(user_id, None, "private", "张三")
        message["voice"] = {
            "file_id": f"voice-{message['message_id']}",
            "file_unique_id": "v",
            "duration": 3,
        }
        return self._push({"message": message})

    def push_contact(
        self, user_id: int, phone: str, contact_user_id: int | None = None
    ) -> dict[str, Any]:
        """A shared contact; Telegram's own button sets `user_id` to the sender's."""
        message = self._message(user_id, None, "private", "张三")
        message["contact"] = {"phone_number": phone, "first_name": "张三"}
        if contact_user_id is not None:
            message["contact"]["user_id"] = contact_user_id
        return self._push({"message": message})

    def push_sticker(self, user_id: int) -> dict[str, Any]:
        message = self._message(user_id, None, "private", "张三")
        message["sticker"] = {
            "file_id": "st",
            "file_unique_id": "st",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return self._push({"message": message})

    def push_edited_text(self, user_id: int, text: str) -> dict[str, Any]:
        message = self._message(user_id, None, "private", "张三")
        message["text"] = text
        message["edit_date"] = int(time.time())
        return self._push({"edited_message": message})

    def push_callback(
        self, user_id: int, data: str, message_id: int, chat_id: int | None = None
    ) -> dict[str, Any]:
        chat = chat_id if chat_id is not None else user_id
        return self._push(
            {
                "callback_query": {
                    "id": f"cq{next(self._update_ids)}",
                    "from": {"id": user_id, "is_bot": False, "first_name": "张三"},
                    "chat_instance": "ci",
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": {
                            "id": chat,
                            "type": "private" if chat > 0 else "group",
                            "title": "支部群",
                        },
                        "from": BOT_USER,
                        "text": "…",
                    },
                }
            }
        )

    def push_my_chat_member(
        self, chat_id: int, new_status: str = "left", chat_type: str = "group", user_id: int = 1
    ) -> dict[str, Any]:
        old = "member" if new_status in ("left", "kicked") else "left"
        member = {"user": BOT_USER}
        kicked_extra = {"until_date": 0} if new_status == "kicked" else {}
        return self._push(
            {
                "my_chat_member": {
                    "chat": {"id": chat_id, "type": chat_type, "title": "支部群"},
                    "from": {"id": user_id, "is_bot": False, "first_name": "群主"},
                    "date": int(time.time()),
                    "old_chat_member": {**member, "status": old},
                    "new_chat_member": {**member, "status": new_status, **kicked_extra},
                }
            }
        )

    def push_migrate(self, old_chat_id: int, new_chat_id: int) -> dict[str, Any]:
        message = self._message(1, old_chat_id, "group", "群主")
        message["migrate_to_chat_id"] = new_chat_id
        return self._push({"message": message})

    def pending_updates(self) -> list[dict[str, Any]]:
        return [u for u in self._updates if u["update_id"] >= self.confirmed_offset]

    # -- faults ----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        retry_after: int | None = 3,
        description: str | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        text = description or (
            f"Too Many Requests: retry after {retry_after}"
            if error_code == 429
            else f"Error {error_code}"
        )
        self._faults.append(
            Fault(
                method, error_code, text, retry_after if error_code == 429 else None, times, chat_id
            )
        )

    def forbid_chat(self, chat_id: int) -> None:
        self._forbidden.add(chat_id)

    def migrate_chat(self, old: int, new: int) -> None:
        self._faults.append(
            Fault(
                "*",
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                None,
                1 << 30,
                old,
                migrate_to=new,
            )
        )

    # -- recording -------------------------------------------------------------------------

    def sent(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        found = []
        for method, params in self.calls:
            if method not in SENDS or "result" not in params:
                continue
            if chat_id is not None and str(params.get("chat_id")) != str(chat_id):
                continue
            found.append(
                {
                    **params,
                    "method": method,
                    "text": params.get("text", params.get("caption", "")),
                    "message_id": params["result"]["message_id"],
                }
            )
        return found

    async def wait_for(
        self, predicate: Callable[[str, dict[str, Any]], bool], timeout: float = 10
    ) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for method, params in self.calls:
                if predicate(method, params):
                    return method, params
            if time.monotonic() > deadline:
                raise TimeoutError("no matching call")
            await asyncio.sleep(0.01)

    async def wait_sent(
        self, count: int, chat_id: int | str | None = None, timeout: float = 10
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.sent(chat_id)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(found)} of {count} messages to {chat_id}: {[f['text'] for f in found]}"
                )
            await asyncio.sleep(0.01)

    # -- HTTP ------------------------------------------------------------------------------

    def _ids(self, chat_id: int) -> itertools.count[int]:
        return self._message_ids.setdefault(chat_id, itertools.count(1))

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                if value[:1] in "[{":
                    try:
                        params[key] = json.loads(value)
                        continue
                    except ValueError:
                        pass
                params[key] = value
            else:
                params[key] = "<file>"
                if isinstance(value, web.FileField):  # what was uploaded, name and bytes
                    params.setdefault("files", {})[key] = (value.filename, value.file.read())
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        params["received_at"] = time.perf_counter()
        self.calls.append((method, params))
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        failure = self._fault(method, params)
        if failure is not None:
            return failure
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params) if handler else True
        params["result"] = result
        return web.json_response({"ok": True, "result": result})

    def _fault(self, method: str, params: dict[str, Any]) -> web.Response | None:
        chat = params.get("chat_id")
        if method in SENDS and chat is not None and int(chat) in self._forbidden:
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was kicked from the group chat",
                },
                status=403,
            )
        for fault in self._faults:
            if fault.method not in (method, "*") or fault.times <= 0:
                continue
            if fault.method == "*" and method not in SENDS:
                continue
            if fault.chat_id is not None and str(chat) != str(fault.chat_id):
                continue
            fault.times -= 1
            body: dict[str, Any] = {
                "ok": False,
                "error_code": fault.error_code,
                "description": fault.description,
            }
            if fault.retry_after is not None:
                body["parameters"] = {"retry_after": fault.retry_after}
            if fault.migrate_to is not None:
                body["parameters"] = {"migrate_to_chat_id": fault.migrate_to}
            return web.json_response(body, status=fault.error_code)
        return None

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG fake")

    def _sent_message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids(chat)),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup", "title": "支部群"}
            if chat < 0
            else {"id": chat, "type": "private", "first_name": "张三"},
            "from": BOT_USER,
            **extra,
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:  # as the Bot API returns
            message["reply_markup"] = markup
        return message

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        if offset:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while not self._updates and not self._stopping.is_set():
            self._new_update.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self._new_update.wait(), left)
            except TimeoutError:
                break
        return self._updates[:limit]

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._sent_message(params, text=params.get("text", ""))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._sent_message(
            params,
            caption=params.get("caption", ""),
            photo=[{"file_id": "sent", "file_unique_id": "s", "width": 1, "height": 1}],
        )

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        filename, content = params.get("files", {}).get("document", ("", b""))
        return self._sent_message(
            params,
            caption=params.get("caption", ""),
            document={
                "file_id": "sent-doc",
                "file_unique_id": "sd",
                "file_name": filename,
                "file_size": len(content),
            },
        )

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        chat = int(params["chat_id"])
        message = {
            "message_id": int(params["message_id"]),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private", "first_name": "张三"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:  # as the Bot API returns
            message["reply_markup"] = markup
        return message

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        return {
            "file_id": params.get("file_id"),
            "file_unique_id": "f",
            "file_path": f"photos/{params.get('file_id')}.jpg",
        }

    async def _m_getMyCommands(self, params: dict[str, Any]) -> Any:
        return []

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") == "chat":
            return f"chat:{scope['chat_id']}"
        return str(scope.get("type"))

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        self.command_scopes[self._scope_key(params)] = [c["command"] for c in params["commands"]]
        return True

    async def _m_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.command_scopes.pop(self._scope_key(params), None)
        return True

    def menu_of(self, chat_id: int) -> list[str]:
        """The commands a private chat's menu shows: its own scope's, else the default's
        (Telegram falls back from a chat's scope to the broader ones)."""
        found = self.command_scopes.get(f"chat:{chat_id}")
        return found if found is not None else self.command_scopes.get("default", [])

    def menu_calls(self, chat_id: int) -> list[tuple[str, dict[str, Any]]]:
        """setMyCommands and deleteMyCommands calls for one chat's scope, in order."""
        return [
            (method, params)
            for method, params in self.calls
            if method in ("setMyCommands", "deleteMyCommands")
            and self._scope_key(params) == f"chat:{chat_id}"
        ]
