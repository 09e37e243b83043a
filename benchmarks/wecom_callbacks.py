"""1,130 encrypted WeCom idea callbacks from distinct users, against `jindianzi run`.

    .venv/bin/python -m benchmarks.wecom_callbacks [--users 1130] [--concurrency 50]

Reports callbacks/s and the p50/p99 time to the empty 200, next to the same requests
against a bare aiohttp server that answers 200 at once (the yardstick: what loopback
HTTP itself costs), and checks that every idea was stored once and answered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto

from tests.wecom_fake import FakeWecomApi

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "callbacktoken"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
CORP = "wwbench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def requests(users: int, texts: list[str]) -> list[tuple[dict[str, str], bytes]]:
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
    built = []
    stamp = str(int(time.time()))
    for n in range(users):
        plain = (
            f"<xml><ToUserName>{CORP}</ToUserName><FromUserName>u{n}</FromUserName>"
            f"<CreateTime>{stamp}</CreateTime><MsgType>text</MsgType>"
            f"<Content><![CDATA[{texts[n % len(texts)]}(第{n}号)]]></Content>"
            f"<MsgId>{9_000_000 + n}</MsgId><AgentID>1000002</AgentID></xml>"
        )
        envelope = crypto.encrypt_message(plain, f"nonce{n}", stamp)
        sig = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        built.append(
            ({"msg_signature": sig, "timestamp": stamp, "nonce": f"nonce{n}"}, envelope.encode())
        )
    return built


async def fire(
    url: str, batch: list[tuple[dict[str, str], bytes]], concurrency: int
) -> tuple[float, list[float]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient, params: dict[str, str], body: bytes) -> None:
        async with gate:
            started = time.perf_counter()
            response = await client.post(url, params=params, content=body)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(one(client, p, b) for p, b in batch))
        return time.perf_counter() - start, sorted(latencies)


async def yardstick(
    batch: list[tuple[dict[str, str], bytes]], concurrency: int
) -> tuple[float, list[float]]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/wecom/callback", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        return await fire(f"http://127.0.0.1:{port}/wecom/callback", batch, concurrency)
    finally:
        await runner.cleanup()


async def run(users: int, concurrency: int) -> None:
    from nlp.training import load_corpus

    texts = [text for _, text in load_corpus() if len(text) > 8]
    batch = requests(users, texts)
    base = await yardstick(batch, concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "data" / "j.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("JINDIANZI_")}
        env["JINDIANZI_STORAGE_PATH"] = str(db)
        jindianzi = str(Path(sys.executable).parent / "jindianzi")
        await asyncio.to_thread(
            subprocess.run,
            [jindianzi, "export", f"{tmp}/x.csv"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
        with sqlite3.connect(db) as conn:
            for n in range(users):
                conn.execute(
                    "INSERT INTO people (employee_no, name, branch_id, wecom_userid,"
                    " created_at, updated_at) VALUES (?, ?, 'jj1', ?, 'x', 'x')",
                    (f"W{n:05d}", f"工人{n}", f"u{n}"),
                )
        port = free_port()
        async with FakeWecomApi() as api:
            env.update(
                {
                    "JINDIANZI_WECOM_CORP_ID": CORP,
                    "JINDIANZI_WECOM_AGENT_ID": "1000002",
                    "JINDIANZI_WECOM_SECRET": "app-secret",
                    "JINDIANZI_WECOM_TOKEN": TOKEN,
                    "JINDIANZI_WECOM_ENCODING_AES_KEY": AES_KEY,
                    "JINDIANZI_WECOM_API_BASE_URL": api.url,
                    "JINDIANZI_WECOM_LISTEN": f"127.0.0.1:{port}",
                }
            )
            proc = await asyncio.to_thread(
                subprocess.Popen,
                [jindianzi, "run"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                url = f"http://127.0.0.1:{port}/wecom/callback"
                for _ in range(200):
                    try:
                        async with httpx.AsyncClient() as client:
                            await client.get(url)
                        break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
                ours = await fire(url, batch, concurrency)
                answered_start = time.perf_counter()
                while len({body["touser"] for body in api.sent}) < users:
                    await asyncio.sleep(0.1)
                    if time.perf_counter() - answered_start > 600:
                        raise TimeoutError(f"{len(api.sent)} answered")
                drained = time.perf_counter() - answered_start
            finally:
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 30)
        with sqlite3.connect(db) as conn:
            stored = conn.execute(
                "SELECT count(*), count(DISTINCT author_id) FROM ideas"
            ).fetchone()
    assert stored == (users, users), stored

    def q(values: list[float], n: int) -> float:
        return statistics.quantiles(values, n=100)[n - 1] * 1000

    print(
        f"{users} encrypted callbacks from distinct users, {concurrency} at a time; every idea "
        f"stored once ({stored[0]}) and answered through message/send "
        f"({drained:.1f} s after the last 200)"
    )
    print()
    print("| measure | jindianzi run | bare aiohttp 200 (yardstick) | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| callbacks/s | {users / ours[0]:,.0f} | {users / base[0]:,.0f} | "
        f"{base[0] / ours[0]:.2f} |"
    )
    for n in (50, 99):
        print(
            f"| p{n} to the empty 200 | {q(ours[1], n):.1f} ms | {q(base[1], n):.1f} ms | "
            f"{q(ours[1], n) / q(base[1], n):.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1130)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.concurrency))


if __name__ == "__main__":
    main()
