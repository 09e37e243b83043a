"""`jindianzi status`: one screen for an admin who hears "the bot is silent"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.instance import Holder, lease_holder
from storage import Repositories

if TYPE_CHECKING:
    from storage.leases import LeaseRecord

HEARTBEAT = "telegram_poll"
"""The heartbeat `bot.telegram` records at each poll of the group's bot (a mine's own bot:
`telegram_poll:<mine>`); named here so status needs no Telegram."""
CHANNELS = {"telegram": "Telegram", "wecom": "企业微信", "console": "控制台"}


def channel_label(channel: str) -> str:
    """What people read for a channel; a mine's own bot (`telegram:<mine>`) names the mine."""
    kind, _, mine = channel.partition(":")
    if kind == "telegram" and mine:
        return f"Telegram({mine} 矿的机器人)"
    return CHANNELS.get(channel, channel)


LEASE_WORK = (  # the longest matching prefix names what the holder of a lease does
    ("telegram-polling:", "Telegram 取消息"),
    ("outbox:telegram:", "Telegram 发件"),
    ("outbox:wecom:", "企业微信应用发件"),
    ("outbox:wecom-robot", "企业微信群机器人发件"),
)


def lease_lines(records: Sequence[LeaseRecord], tz: ZoneInfo) -> list[str]:
    """Who holds each lease (PostgreSQL, several processes), for `jindianzi status`."""
    held = [r for r in records if r.held]
    if not held:
        lines = ["运行中的机器人:没有(没有进程持有租约,jindianzi run 没有在运行)"]
    else:
        hosts = sorted({(r.host, r.pid) for r in held})
        lines = [f"运行中的机器人:{len(hosts)} 个进程持有租约(PostgreSQL,多进程)"]
    for record in records:
        work = next((w for prefix, w in LEASE_WORK if record.name.startswith(prefix)), "")
        label = f"{work}({record.name})" if work else record.name
        if record.held:
            lines.append(
                f"  {label}:{lease_holder(record).describe(tz)},心跳 {_at(record.heartbeat_at, tz)}"
            )
        else:
            lines.append(
                f"  {label}:空缺,上次由进程 {record.pid}(主机 {record.host})持有,"
                f"最后心跳 {_at(record.heartbeat_at, tz)};有进程在等待时几秒内接手"
            )
    return lines


def _at(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else "从未"


async def status_report(
    repos: Repositories,
    holder: Holder | None,
    now: datetime,
    tz: ZoneInfo,
    leases: Sequence[LeaseRecord] | None = None,
) -> str:
    """`leases` on PostgreSQL (who holds what), else `holder` of the SQLite instance lock."""
    lines = [f"金点子 运行状况({_at(now, tz)},{tz.key})"]
    if leases is not None:
        lines += lease_lines(leases, tz)
    else:
        lines.append(
            "运行中的机器人:"
            + (holder.describe(tz) if holder else "没有(jindianzi run 没有在运行)")
        )
    inbox = await repos.inbox.counts()
    channels = sorted({channel for channel, _ in inbox} | {"telegram", "wecom"})
    lines.append(
        "收件箱:"
        + ";".join(
            f"{channel_label(c)} 待处理 {inbox.get((c, 'pending'), 0)}"
            f" · 已搁置 {inbox.get((c, 'failed'), 0)}"
            for c in channels
        )
    )
    for failed in await repos.inbox.failures(5):
        lines.append(
            f"  搁置 {channel_label(failed.channel)} {failed.update_id}"
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
    own_bots = sorted(
        {name.removeprefix(HEARTBEAT + ":") for name in beats if name.startswith(HEARTBEAT + ":")}
        | {c.removeprefix("telegram:") for c in received if c.startswith("telegram:")}
    )
    for mine in own_bots:  # each mine's own bot
        lines.append(
            f"  {mine} 矿的机器人:上次取消息 {_at(beats.get(f'{HEARTBEAT}:{mine}'), tz)},"
            f"最近收到 {_at(received.get(f'telegram:{mine}'), tz)}"
        )
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
