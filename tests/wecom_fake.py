"""A fake WeCom server API on loopback: gettoken, message/send, media/upload, the group
robot webhook (send, upload_media) and auth/getuserinfo (login codes)."""

from __future__ import annotations

import itertools
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.loopback import serve


class FakeWecomApi:
    def __init__(self) -> None:
        self.url = ""
        self.token_requests = 0
        self.sent: list[dict[str, Any]] = []
        self.robot: list[tuple[str, dict[str, Any]]] = []
        self.expired: set[str] = set()
        self.rejected_keys: set[str] = set()
        self.robot_errcodes: dict[str, int] = {}
        """A robot key that answers with this errcode (e.g. 130101, rate-limited)."""
        self.uploads: list[bytes] = []
        self.files: list[tuple[str, bytes]] = []
        """Uploads of type file (media/upload), as (filename, content)."""
        self.robot_files: list[tuple[str, str, bytes]] = []
        """Robot webhook/upload_media uploads, as (key, filename, content)."""
        self.codes: dict[str, dict[str, str]] = {}
        """Login codes a test registered (`login_code`), each good once, as WeCom's are."""
        self.code_requests = 0
        self._tokens = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeWecomApi:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/webhook/send", self._webhook)
        app.router.add_post("/cgi-bin/media/upload", self._upload)
        app.router.add_post("/cgi-bin/webhook/upload_media", self._robot_upload)
        app.router.add_get("/cgi-bin/auth/getuserinfo", self._getuserinfo)
        self._runner, self.url = await serve(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def expire_tokens(self) -> None:
        """Every token handed out so far now answers 42001."""
        self.expired.update(f"tok-{n}" for n in range(1, self.token_requests + 1))

    def login_code(self, code: str, *, userid: str = "", openid: str = "") -> None:
        """WeCom issued `code` to a member (`userid`) or to someone outside the corp
        (`openid`): getuserinfo answers it once, then 40029 like any unknown code."""
        self.codes[code] = {"userid": userid} if userid else {"openid": openid}

    async def _getuserinfo(self, request: web.Request) -> web.Response:
        self.code_requests += 1
        if request.query.get("access_token") in self.expired:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        answer = self.codes.pop(request.query.get("code", ""), None)
        if answer is None:
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response({"errcode": 0, "errmsg": "ok", **answer})

    async def _gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpsecret") != "app-secret":
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.token_requests += 1
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": f"tok-{next(self._tokens)}",
                "expires_in": 7200,
            }
        )

    async def _send(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") in self.expired:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        body = await request.json()
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": str(len(self.sent))})

    async def _upload(self, request: web.Request) -> web.Response:
        kind = request.query.get("type")
        if request.query.get("access_token") in self.expired or kind not in ("image", "file"):
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        form = await request.post()
        media = form["media"]
        assert isinstance(media, web.FileField)
        content = media.file.read()
        if kind == "file":
            self.files.append((media.filename, content))
            media_id = f"file-{len(self.files)}"
        else:
            self.uploads.append(content)
            media_id = f"media-{len(self.uploads)}"
        return web.json_response({"errcode": 0, "type": kind, "media_id": media_id})

    async def _robot_upload(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key in self.rejected_keys:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        if request.query.get("type") != "file":
            return web.json_response({"errcode": 40004, "errmsg": "invalid media type"})
        form = await request.post()
        media = form["media"]
        assert isinstance(media, web.FileField)
        self.robot_files.append((key, media.filename, media.file.read()))
        return web.json_response(
            {"errcode": 0, "type": "file", "media_id": f"robot-file-{len(self.robot_files)}"}
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key in self.rejected_keys:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        if key in self.robot_errcodes:
            return web.json_response({"errcode": self.robot_errcodes[key], "errmsg": "refused"})
        self.robot.append((key, await request.json()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def texts(self, user: str) -> list[str]:
        """What one member saw: text messages and the cards' titles and texts."""
        found = []
        for body in self.sent:
            if body.get("touser") != user:
                continue
            if body["msgtype"] == "text":
                found.append(body["text"]["content"])
            elif body["msgtype"] == "image":
                found.append(f"<image {body['image']['media_id']}>")
            elif body["msgtype"] == "file":
                found.append(f"<file {body['file']['media_id']}>")
            else:
                card = body["template_card"]
                found.append(card["main_title"]["title"] + "\n" + card["sub_title_text"])
        return found
