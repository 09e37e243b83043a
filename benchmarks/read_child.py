"""One measured read operation in a fresh process, for benchmarks.read_scale.

    python benchmarks/read_child.py OUT.json stats CONFIG EMPLOYEE_NO
    python benchmarks/read_child.py OUT.json cli ARG...

Run by path with PYTHONPATH naming the code under test (this change or an older worktree), so
it imports nothing of `benchmarks`. Writes one JSON object to OUT.json: the operation's seconds
(for stats: the router's dispatch of /stats and the figures alone), the process's peak resident
memory (VmHWM from /proc) and where `bot` was imported from.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any


def vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def stats(config_path: str, employee_no: str) -> dict[str, float]:
    from bot.app import open_app
    from bot.config import load_config
    from handlers.messages import Incoming
    from handlers.rules import scores

    config = load_config(Path(config_path))
    async with open_app(config) as app:
        chat = f"local-{employee_no}"
        msg = Incoming(
            channel="console",
            update_id=f"bench-{time.time_ns()}",
            chat_id=chat,
            sender_id=chat,
            text="/stats",
        )
        start = time.perf_counter()
        await app.router.dispatch(msg, app.services)
        dispatch = time.perf_counter() - start
        start = time.perf_counter()
        await scores.figures(app.services, None)
        alone = time.perf_counter() - start
    return {"seconds": dispatch, "figures_seconds": alone}


def main() -> int:
    out, mode, *args = sys.argv[1:]
    result: dict[str, Any] = {}
    code = 0
    start = time.perf_counter()
    if mode == "stats":
        result.update(asyncio.run(stats(*args)))
    else:
        from bot.cli import main as cli

        code = cli(args)
        result["seconds"] = time.perf_counter() - start
    import bot

    result.update(vmhwm_kb=vmhwm_kb(), code=str(Path(bot.__file__).parent.parent), rc=code)
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
