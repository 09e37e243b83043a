"""`jindianzi status`: one screen for an admin who hears "the bot is silent"."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.instance import Holder
from storage import Repositories

HEARTBEAT = "telegram_poll"
"""The heartbeat `bot.telegram` records at each poll; named here so status needs no Telegram."""
CHANNELS = {"telegram": "Telegram", "wecom": "企业微信", "console": "控制台"}


def _at(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else "从未"


async def status_report(
    repos: Repositories, holder: Holder | None, now: datetime, tz: ZoneInfo
) -> str:
    lines = [f"金点子 运行状况({_at(now, tz)},{tz.key})"]
    lines.append(
        "运行中的机器人:" + (holder.describe(tz) if holder else "没有(jindianzi run 没有在运行)")
    )
    inbox = await repos.inbox.counts()
    channels = sorted({channel for channel, _ in inbox} | {"telegram", "wecom"})
    lines.append(
        "收件箱:"
        + ";".join(
            f"{CHANNELS.get(c, c)} 待处理 {inbox.get((c, 'pending'), 0)}"
            f" · 已搁置 {inbox.get((c, 'failed'), 0)}"
            for c in channels
        )
    )
    for failed in await repos.inbox.failures(5):
        lines.append(
            f"  搁置 {CHANNELS.get(failed.channel, failed.channel)} {failed.update_id}"
            f"({failed.attempts} 次,{_at(failed.at, tz)}):{failed.error[:100]}"
        )
    out = await repos.outbox.summary(now)
    lines.append(
        f"发件箱:到期待发 {out['due']} · 发送中 {out['claimed']} · 等待重试 {out['waiting']}"
        f" · 发送失败 {out['failed']} · 已送达 {out['sent']}"
    )
    beats = await repos.heartbeats.all()
    received = await repos.inbox.last_received()
    lines.append(f"Telegram 上次取消息:{_at(beats.get(HEARTBEAT), tz)}")
    lines.append(
        f"最近收到:Telegram {_at(received.get('telegram'), tz)};"
        f"企业微信回调 {_at(received.get('wecom'), tz)}"
    )
    runs = await repos.job_runs.latest()
    lines.append("定时任务最近运行:" + ("" if runs else "还没有"))
    status_words = {"done": "已运行", "missed": "错过"}
    for run in runs:
        lines.append(
            f"  {run.job} {run.period} {status_words.get(run.status, run.status)}"
            f" {_at(run.ran_at, tz)} 通知 {run.notices} 条"
        )
    return "\n".join(lines)
