"""The xlsx ledger written by XlsxWriter (constant memory) against openpyxl (write-only).

    .venv/bin/python -m benchmarks.export_writers [--ideas 100000] [--rounds 3] [--keep DIR]

Seeds one database (benchmarks.seed, no similarity index: the export does not read it), then,
round by round and alternating which goes first, writes the whole ledger in a fresh process
with each writer: the same sheets, rows, cell formats, frozen header and autofilter, read from
storage the same way (`build_sheets`); only the writer differs. The openpyxl side is the
writer the ledger used before, brought up to the same cells (the yardstick); JSON lines of the
same run are shown as a third line, the read path alone. Reported: seconds of the export
(start-up excluded), the process's peak memory (VmHWM), the file's size; medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.seed import seed, write_config

WRITERS = ("xlsxwriter", "openpyxl", "jsonl")


def _vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def _openpyxl_xlsx(path: Path, sheets: list[Any]) -> int:
    """The ledger's sheets through openpyxl's write-only workbook, cell for cell as
    bot.export writes them with XlsxWriter."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from bot import export

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    count = 0
    for sheet in sheets:
        page = book.create_sheet(sheet.title)
        page.freeze_panes = "A2"
        rows = aiter(sheet.rows)
        sample: list[tuple[list[Any], dict[str, Any]]] = []
        async for row in rows:
            sample.append(([export._value(sheet, k, row) for k, _ in sheet.columns], row))
            if len(sample) == export._WIDTH_SAMPLE:
                break
        for index, width in enumerate(export._widths(sheet, [v for v, _ in sample]), start=1):
            page.column_dimensions[get_column_letter(index)].width = width
        header = []
        for _, name in sheet.columns:
            cell = WriteOnlyCell(page, value=name)
            cell.font = bold
            header.append(cell)
        page.append(header)
        formats = [
            export.MONEY_FORMAT
            if k in sheet.money
            else export.PERCENT_FORMAT
            if k in sheet.percent
            else None
            for k, _ in sheet.columns
        ]
        lines = 0

        def put(
            values: list[Any],
            row: dict[str, Any],
            page: Any = page,
            sheet: Any = sheet,
            formats: list[str | None] = formats,
        ) -> None:
            cells: list[Any] = []
            for index, value in enumerate(values):
                fmt = formats[index]
                if sheet.columns[index][0] == "value":
                    fmt = (
                        export.MONEY_FORMAT
                        if row.get("_money")
                        else export.PERCENT_FORMAT
                        if row.get("_percent")
                        else None
                    )
                    if row.get("_money"):
                        value = round(int(value) / 100, 2)
                if isinstance(value, datetime):
                    value, fmt = value.replace(tzinfo=None), export.TIME_FORMAT
                if value == "":
                    value = None
                if fmt is not None and value is not None:
                    cell = WriteOnlyCell(page, value=value)
                    cell.number_format = fmt
                    value = cell
                elif isinstance(value, str) and value.startswith("="):
                    cell = WriteOnlyCell(page, value=value)
                    cell.data_type = "s"
                    value = cell
                cells.append(value)
            page.append(cells)

        for values, row in sample:
            put(values, row)
            lines += 1
        async for row in rows:
            put([export._value(sheet, k, row) for k, _ in sheet.columns], row)
            lines += 1
        page.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{lines + 1}"
        if sheet.title == "金点子":
            count = lines
    book.save(path)
    return count


async def _child(writer: str, config_path: str, out: str) -> dict[str, Any]:
    from bot.app import build_settings, open_storage, utc_now
    from bot.config import load_config
    from bot.export import LabelsOnly, build_sheets, export_ledger
    from handlers.services import Services

    config = load_config(Path(config_path), {})
    async with open_storage(config) as repos:
        services = Services(
            repos, LabelsOnly(config.categories), build_settings(config), utc_now, asyncio.Event()
        )
        start = time.perf_counter()
        sheets = await build_sheets(services)
        if writer == "openpyxl":
            count = await _openpyxl_xlsx(Path(out), sheets)
        else:
            count = await export_ledger(Path(out), sheets)
        seconds = time.perf_counter() - start
    size = os.path.getsize(out)  # noqa: ASYNC240  (the export is done: nothing to wait for)
    return {"seconds": seconds, "ideas": count, "bytes": size}


def _run(writer: str, config: Path, work: Path) -> dict[str, Any]:
    out = work / ("x.jsonl" if writer == "jsonl" else f"x-{writer}.xlsx")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.export_writers", "child", writer, str(config), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        writer, config_arg, out = sys.argv[2:5]
        found = asyncio.run(_child(writer, config_arg, out))
        found["vmhwm_kb"] = _vmhwm_kb()
        print(json.dumps(found))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / f"ledger-{args.ideas}.db"
        config = write_config(work / f"ledger-{args.ideas}.yaml", db)
        if not db.exists():
            seeded = seed(db, args.ideas, config=config, terms=False)
            print(f"seeded {args.ideas:,} ideas in {seeded.seconds:.1f} s", file=sys.stderr)
        samples: dict[str, list[dict[str, Any]]] = {w: [] for w in WRITERS}
        for round_no in range(args.rounds):
            order = WRITERS if round_no % 2 == 0 else tuple(reversed(WRITERS))
            for writer in order:
                found = _run(writer, config, work)
                samples[writer].append(found)
                print(
                    f"  r{round_no + 1} {writer:<10} {found['seconds']:.2f} s"
                    f" {found['vmhwm_kb'] / 1024:.0f} MB {found['bytes'] / 1e6:.1f} MB file",
                    file=sys.stderr,
                    flush=True,
                )
        print("| writer | ideas | rounds | seconds (median) | peak memory (median) | file |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for writer, runs in samples.items():
            seconds = statistics.median(f["seconds"] for f in runs)
            memory = statistics.median(f["vmhwm_kb"] for f in runs) / 1024
            size = statistics.median(f["bytes"] for f in runs) / 1e6
            print(
                f"| {writer} | {args.ideas:,} | {args.rounds} | {seconds:.2f} s"
                f" | {memory:.0f} MB | {size:.1f} MB |"
            )


if __name__ == "__main__":
    main()
