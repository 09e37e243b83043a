"""The 看板's assessment pages: the month's 100-point scores, the grid that enters a month's
scores for every branch of one's scope in one POST, the quarterly review pack, and the
downloads (the 台账 and the pack's workbook).

Data and every rule come from `handlers.board` (the same functions the chat's /score and
/quarter answer from) and who may see what from `handlers.access`; this module only reads
the request, renders, records the audit row and serves files.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy

from bot.web.pages import message, not_found, page, viewer
from handlers import access, board
from handlers.rules import quarterly
from handlers.rules.periods import Month, Quarter
from handlers.rules.scores import PART_LABELS

CELL = "cell:"
"""A grid input's name: `cell:<branch id>:<part>`."""
CELLS_AT_MOST = 2000
"""More inputs than any mine's branches × parts: a bigger POST is not a grid."""
TYPED_CHARS = 60
LEDGER_NAME = "金点子台账"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/scores", scores_page)
    router.add_get("/scores/grid", grid_page)
    router.add_post("/scores/grid", grid_submit)
    router.add_get("/quarter", quarter_page)
    router.add_get("/downloads", downloads_page)
    router.add_get("/downloads/ledger.xlsx", ledger_download)
    router.add_get("/downloads/quarter.xlsx", pack_download)


def _month(request: web.Request, text: str | None = None) -> Month | None:
    """The month asked for (`?month=2026-11`), the current local month when none is; None
    for one that cannot be read."""
    who = viewer(request)
    shown = (text if text is not None else request.query.get("month", "")).strip()
    if not shown:
        return Month.of(who.services.local(who.services.now()))
    found = Month.parse(shown[:7]) if len(shown) == 7 else None
    return found if found is not None and 2000 <= found.year <= 2100 else None


def _next(month: Month) -> Month:
    return Month(month.year + 1, 1) if month.number == 12 else Month(month.year, month.number + 1)


def _picker(request: web.Request, month: Month) -> dict[str, object]:
    """The month picker's links; no link past the current month (it takes nothing yet)."""
    who = viewer(request)
    now = Month.of(who.services.local(who.services.now()))
    return {
        "month": str(month),
        "month_label": f"{month.year} 年 {month.number} 月",
        "previous": str(month.previous()),
        "next": str(_next(month)) if month < now else "",
        "this_month": str(now),
    }


def _bad_month(request: web.Request) -> web.Response:
    return message(request, "月份要写成 2026-11 这样的年-月。", status=400, title="月份不对")


# -- monthly scores -----------------------------------------------------------------------------


async def scores_page(request: web.Request) -> web.Response:
    """The month's scores of every branch the viewer sees in chat, best first."""
    who = viewer(request)
    month = _month(request)
    if month is None:
        return _bad_month(request)
    found = await board.monthly_scores(who.services, who.person, month)
    if found is None:
        return not_found(request)
    grid = await board.score_grid(who.services, who.person, month)
    return page(
        request,
        "scores.html",
        {
            "scores": found,
            "may_enter": bool(grid.rows),
            "part_labels": PART_LABELS,
            **_picker(request, month),
        },
    )


# -- the entry grid -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shown:
    """One grid cell as the page draws it: the value to put in the input, and what happened."""

    value: str
    state: str
    """'' (nothing submitted), 'entered', 'unchanged' or 'problem'."""
    message: str = ""


def _figure(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def _cells(
    form: MultiDictProxy[str | bytes | bytearray | web.FileField],
) -> list[board.Cell] | None:
    """The grid's inputs in the order the page lists them; None for a form that is no grid."""
    cells: list[board.Cell] = []
    for name, value in form.items():
        if not name.startswith(CELL):
            continue
        branch_id, _, part = name[len(CELL) :].rpartition(":")
        if not branch_id or not isinstance(value, str):
            return None
        cells.append((branch_id[:40], part[:20], value[:TYPED_CHARS]))
        if len(cells) > CELLS_AT_MOST:
            return None
    return cells


async def _render_grid(
    request: web.Request,
    month: Month,
    *,
    entry: board.ScoreEntry | None = None,
    typed: dict[tuple[str, str], str] | None = None,
    status: int = 200,
) -> web.Response:
    who = viewer(request)
    if not access.may_read_scores(who.person):
        return not_found(request)
    grid = await board.score_grid(who.services, who.person, month)
    shown: dict[tuple[str, str], Shown] = {}
    stray: list[str] = []
    if entry is not None and typed is not None:
        entered = {(e.branch_id, e.part) for e in entry.entered}
        problems: dict[tuple[str, str], str] = {}
        for problem in entry.problems:
            key = (problem.branch_id, problem.part)
            if problem.row is None or key not in typed or key in problems:
                stray.append(problem.message)
            else:
                problems[key] = problem.message
        for row in grid.rows:
            for cell in row.cells:
                key = (row.branch_id, cell.part)
                if key in problems:  # keep what was typed, so that it can be put right
                    shown[key] = Shown(typed[key], "problem", problems[key])
                elif key in entered:
                    shown[key] = Shown(_figure(cell.value), "entered")
                elif typed.get(key, "").strip() and not entry.refusal:
                    shown[key] = Shown(_figure(cell.value), "unchanged")
    for row in grid.rows:
        for cell in row.cells:
            shown.setdefault((row.branch_id, cell.part), Shown(_figure(cell.value), ""))
    return page(
        request,
        "score_grid.html",
        {
            "grid": grid,
            "shown": shown,
            "entry": entry,
            "stray": stray,
            "cell_prefix": CELL,
            **_picker(request, month),
        },
        status=status,
    )


async def grid_page(request: web.Request) -> web.Response:
    """One row per branch of the viewer's scope, one input per part they may enter."""
    month = _month(request)
    if month is None:
        return _bad_month(request)
    return await _render_grid(request, month)


async def grid_submit(request: web.Request) -> web.Response:
    """The whole grid in one POST: the good cells entered through the chat's rule, each bad
    one shown again beside its message with what was typed.

    One audit row per submission, not per cell: the score ledger (score_entries) already has
    one row per entered cell with who entered it and when, as /score writes it; the audit
    records the act — who submitted which month's grid, how many cells went in, which ones —
    so the two are not a second copy of each other, and a refused or empty grid leaves no
    audit row since it changed nothing."""
    who = viewer(request)
    if not access.may_read_scores(who.person):
        return not_found(request)
    form = await request.post()
    month_field = form.get("month", "")
    month = _month(request, month_field if isinstance(month_field, str) else "")
    if month is None:
        return _bad_month(request)
    cells = _cells(form)
    if cells is None:
        return message(request, "提交的表格不对,请重新打开录入页面。", status=400, title="无法录入")
    typed = {(b, p): v for b, p, v in cells}
    services = who.services
    async with services.repos.db.transaction():
        entry = await board.enter_scores(services, who.person, month, cells)
        if entry.entered:
            listed = ",".join(f"{e.branch_id}.{e.part}={e.value:g}" for e in entry.entered)
            await services.repos.web.audit(
                who.session.mine,
                who.person.id,
                "scores.grid",
                f"month:{month}",
                f"录入 {len(entry.entered)} 项:{listed}"[:1000],
                services.now(),
            )
    status = 409 if entry.refusal else (422 if entry.problems else 200)
    return await _render_grid(request, month, entry=entry, typed=typed, status=status)


# -- the quarterly review pack ------------------------------------------------------------------


async def quarter_page(request: web.Request) -> web.Response:
    """What the quarterly review pack holds: leaders every branch, a secretary their own."""
    who = viewer(request)
    text = request.query.get("quarter", "").strip()
    quarter = Quarter.parse(text[:7]) if text else None
    if text and quarter is None:
        return message(request, "季度要写成 2026-Q4 这样。", status=400, title="季度不对")
    found = await board.quarter_pack_view(who.services, who.person, quarter)
    if found is None:
        return not_found(request)
    period = Quarter.parse(found.quarter)
    assert period is not None
    latest = quarterly.under_review(who.services.local(who.services.now())).next()
    return page(
        request,
        "quarter.html",
        {
            "pack": found,
            "previous": str(period.previous()),
            "next": str(period.next()) if period < latest else "",
        },
    )


# -- downloads ----------------------------------------------------------------------------------


async def downloads_page(request: web.Request) -> web.Response:
    who = viewer(request)
    if not access.may_download(who.person):
        return not_found(request)
    found = await board.quarter_pack_view(who.services, who.person)
    return page(
        request,
        "downloads.html",
        {
            "ledger": access.may_download_ledger(who.person),
            "pack": found,
        },
    )


def attachment(body: bytes, file_name: str, ascii_name: str, content_type: str) -> web.Response:
    """A file to save, not to show: its Chinese name as RFC 6266 / RFC 5987 say (`filename*`
    in UTF-8, with an ASCII `filename` for the rare client that reads only that), and never
    kept in a cache since it holds people's names."""
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def ledger_download(request: web.Request) -> web.Response:
    """The mine's 台账, the workbook `jindianzi export FILE.xlsx` writes, built for this
    request in a private temporary directory that is removed before the answer goes out.

    The export is the CLI's own (`build_sheets`, `export_ledger`): it reads the database in
    chunks, awaiting each, so the loop keeps serving other pages while it runs; only the
    final read of the finished file goes to a worker thread."""
    from bot.export import build_sheets, export_ledger

    who = viewer(request)
    if not access.may_download_ledger(who.person):
        return not_found(request)
    services = who.services
    now = services.now()
    local = services.local(now)
    name = f"{LEDGER_NAME}-{local:%Y%m%d}.xlsx"
    folder = Path(tempfile.mkdtemp(prefix="jdz-ledger-"))
    try:
        path = folder / "ledger.xlsx"
        count = await export_ledger(path, await build_sheets(services), warn=lambda _line: None)
        body = await asyncio.to_thread(path.read_bytes)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    async with services.repos.db.transaction():
        await services.repos.web.audit(
            who.session.mine, who.person.id, "download.ledger", "ledger", f"{count} 条金点子", now
        )
    return attachment(body, name, f"ledger-{local:%Y%m%d}.xlsx", XLSX)


async def pack_download(request: web.Request) -> web.Response:
    """The quarterly review pack's workbook, as /quarter pack sends it in chat (leaders)."""
    who = viewer(request)
    text = request.query.get("quarter", "").strip()
    quarter = Quarter.parse(text[:7]) if text else None
    if text and quarter is None:
        return not_found(request)
    found = await board.quarter_pack_file(who.services, who.person, quarter)
    if found is None:
        return not_found(request)
    body = await asyncio.to_thread(found.path.read_bytes)
    services = who.services
    async with services.repos.db.transaction():
        await services.repos.web.audit(
            who.session.mine,
            who.person.id,
            "download.quarter_pack",
            f"quarter:{found.file_name[:7]}",
            found.file_name,
            services.now(),
        )
    return attachment(body, found.file_name, f"{found.file_name[:7]}-pack.xlsx", XLSX)
