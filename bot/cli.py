"""The `jindianzi` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from bot.config import Config, ConfigError, MineConfig, config_path, load_config
from bot.instance import LockHeld, holding, instance_lock

if TYPE_CHECKING:
    from bot.app import App
    from handlers.services import Services
    from nlp import ModelClassifier
    from storage import Repositories

# Each command imports what it uses inside its own branch below: `classify` needs the
# classifier alone, the storage commands no channel, chart or scheduler library (DESIGN.md,
# issue 14: a cold start of `classify` paid 0.9 s for matplotlib, telegram, aiohttp, wechatpy
# and APScheduler it never used).
SCHEDULING = {"run", "jobs"}
"""The commands that need `schedule.<job>` checked against APScheduler's triggers."""

log = logging.getLogger("jindianzi")


class CliError(Exception):
    """A problem to print as one line, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ChineseHelpFormatter(argparse.HelpFormatter):
    """argparse's help with a Chinese usage heading."""

    def add_usage(
        self,
        usage: str | None,
        actions: Any,
        groups: Any,
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "用法: " if prefix is None else prefix)


_PLACEHOLDERS = {"COMMAND": "命令", "ACTION": "操作", "file": "文件", "name": "任务名"}


def _named(argument: str) -> str:
    return ", ".join(
        f"{_PLACEHOLDERS[a]} {a}" if a in _PLACEHOLDERS else a for a in argument.split(", ")
    )


def _choices(text: str) -> str:
    return "、".join(c.strip().strip("'") for c in text.split(","))


_ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"the following arguments are required: (.+)"),
        lambda m: f"缺少参数: {_named(m[1])}",
    ),
    (
        re.compile(r"argument (\S+): invalid choice: '?(.*?)'? \(choose from (.+)\)"),
        lambda m: f"没有“{m[2]}”这个{_PLACEHOLDERS.get(m[1], '选择')},可以用: {_choices(m[3])}",
    ),
    (re.compile(r"unrecognized arguments: (.+)"), lambda m: f"不认识的参数: {m[1]}"),
    (re.compile(r"argument (\S+): expected one argument"), lambda m: f"{m[1]} 后面要写一个值"),
    (re.compile(r"argument (\S+): expected .+"), lambda m: f"{m[1]} 后面的值个数不对"),
    (
        re.compile(r"ambiguous option: (\S+) could match (.+)"),
        lambda m: f"选项 {m[1]} 不明确,可能是: {_choices(m[2])}",
    ),
    (
        re.compile(r"argument (\S+): invalid \S+ value: (.+)"),
        lambda m: f"{m[1]} 的值 {m[2]} 不对",
    ),
    (
        re.compile(r"argument (\S+): not allowed with argument (\S+)"),
        lambda m: f"{m[1]} 和 {m[2]} 不能一起用",
    ),
]


def chinese_error(message: str) -> str:
    """argparse's English error message in Chinese (the ones this command line can raise)."""
    for pattern, render in _ERRORS:
        match = pattern.fullmatch(message)
        if match:
            return render(match)
    return f"参数不对: {message}"


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that speaks Chinese: usage, section titles, -h and errors.

    argparse's texts go through gettext with no Chinese catalogue shipped, so they are set
    here: a bad argument prints one Chinese line (where to look for help included) and exits
    with 2, never a traceback or argparse's English usage block."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        add_help = kwargs.pop("add_help", True)
        parents: Sequence[argparse.ArgumentParser] = kwargs.pop("parents", ())
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        kwargs["add_help"] = False  # added below, in Chinese
        super().__init__(*args, **kwargs)
        self._positionals.title = "位置参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="显示帮助并退出"
            )
        for parent in parents:  # as argparse does, after the titles: one 选项 section
            self._add_container_actions(parent)
            self._defaults.update(parent._defaults)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {chinese_error(message)}。用 {self.prog} -h 查看用法。\n")


def _parser() -> argparse.ArgumentParser:
    # --config may come before the command or after it (`jindianzi run --config PATH`).
    common = ChineseArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="配置文件(默认 ./config.yaml 或 $JINDIANZI_CONFIG)",
    )
    common.add_argument(
        "--mine", default=argparse.SUPPRESS, metavar="ID", help="多个矿的部署:命令作用于这个矿"
    )
    parser = ChineseArgumentParser(prog="jindianzi", description="金点子: 煤矿合理化建议机器人")
    parser.add_argument("--config", help="配置文件(默认 ./config.yaml 或 $JINDIANZI_CONFIG)")
    parser.add_argument("--mine", metavar="ID", help="多个矿的部署:命令作用于这个矿")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="命令")
    commands.add_parser("run", parents=[common], help="启动所有已配置的渠道;没有凭据时打开控制台")
    console = commands.add_parser("console", parents=[common], help="在终端里和机器人对话")
    console.add_argument(
        "--as", dest="as_employee_no", metavar="EMPLOYEE_NO", help="以花名册里这个工号的身份对话"
    )
    classify = commands.add_parser(
        "classify", parents=[common], help="每行一条建议(stdin) → 每行一个 JSON(stdout)"
    )
    classify.add_argument("--explain", action="store_true", help="同时给出最有分量的词")
    nlp = commands.add_parser("nlp", parents=[common], help="分类模型")
    nlp_cmds = nlp.add_subparsers(dest="nlp_command", required=True, metavar="ACTION", title="操作")
    train = nlp_cmds.add_parser("train", parents=[common], help="用语料和人工更正重新训练模型")
    train.add_argument(
        "--ship",
        action="store_true",
        help="只用语料训练,写入随代码发布的 nlp/data/model.npz(开发者用)",
    )
    nlp_cmds.add_parser(
        "eval",
        parents=[common],
        help="开发集上的成绩、语料 5 折交叉验证,以及人工更正训练前后的分类",
    )
    nlp_cmds.add_parser(
        "compare", parents=[common], help="比较几组特征和训练参数(开发集与交叉验证,开发者用)"
    )
    roster = commands.add_parser("roster", parents=[common], help="花名册")
    roster_cmds = roster.add_subparsers(
        dest="roster_command", required=True, metavar="ACTION", title="操作"
    )
    roster_import = roster_cmds.add_parser(
        "import",
        parents=[common],
        help="导入 CSV: employee_no,name,branch_id,role[,wecom_userid[,phone]]",
    )
    roster_import.add_argument("file", type=Path, help="花名册 CSV 文件(UTF-8 或 GBK)")
    roster_codes = roster_cmds.add_parser(
        "codes", parents=[common], help="给还没在 Telegram 登记的人各发一个一次性邀请码"
    )
    roster_codes.add_argument("--branch", metavar="ID", help="只给这个支部的人")
    roster_codes.add_argument("--out", type=Path, metavar="FILE.csv", help="写入 CSV 文件")
    scores = commands.add_parser("scores", parents=[common], help="月度考核")
    scores_cmds = scores.add_subparsers(
        dest="scores_command", required=True, metavar="ACTION", title="操作"
    )
    scores_import = scores_cmds.add_parser(
        "import", parents=[common], help="导入基础分 CSV: branch_id,month,base"
    )
    scores_import.add_argument("file", type=Path, help="基础分 CSV 文件")
    jobs = commands.add_parser("jobs", parents=[common], help="定时任务")
    jobs_cmds = jobs.add_subparsers(
        dest="jobs_command", required=True, metavar="ACTION", title="操作"
    )
    jobs_cmds.add_parser("list", parents=[common], help="每个任务的时间和接下来三次运行时间")
    job_run = jobs_cmds.add_parser("run", parents=[common], help="现在运行一个任务并发出通知")
    job_run.add_argument("name", help="任务名(jindianzi jobs list 列出全部)")
    job_run.add_argument("--now", help="当作这个时间运行(ISO-8601,不带时区按配置的时区)")
    job_run.add_argument("--dry-run", action="store_true", help="只打印通知,不发送、不记账")
    job_run.add_argument("--force", action="store_true", help="这个周期已经运行过也再发一次")
    export = commands.add_parser(
        "export", parents=[common], help="导出金点子台账(.xlsx / .csv / .jsonl)"
    )
    export.add_argument("file", type=Path, help="导出到这个文件,格式看扩展名")
    export.add_argument(
        "--group", action="store_true", help="集团台账:各矿汇总和所有矿的金点子(多个矿的部署)"
    )
    backup = commands.add_parser("backup", parents=[common], help="在线备份数据库(运行中也一致)")
    backup.add_argument("file", type=Path, help="备份到这个文件")
    commands.add_parser(
        "status", parents=[common], help="机器人没反应时看这里:收件箱、发件箱、上次取消息、定时任务"
    )
    return parser


def _setup_logging(config: Config) -> None:
    """Log to a file in the data folder: the terminal is for people (and the console chat)."""
    root = logging.getLogger()
    root.handlers.clear()
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(config.storage.data_dir / "jindianzi.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def classify_stream(
    classifier: ModelClassifier, lines: TextIO, out: TextIO, *, explain: bool = False
) -> int:
    labels = {c.id: c.label for c in classifier.categories}
    count = 0
    for line in lines:
        text = line.rstrip("\r\n")
        prediction = classifier.classify(text)
        item: dict[str, object] = {
            "category": prediction.category,
            "label": labels[prediction.category],
            "confidence": prediction.confidence,
        }
        if explain:
            item["explain"] = [[word, weight] for word, weight in classifier.explain(text)]
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        out.flush()
        count += 1
    return count


def utc_now() -> datetime:
    return datetime.now(UTC)


def _moment(text: str | None, config: Config) -> datetime:
    if text is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--now 的时间格式不对: {text!r}(例如 2026-11-30T08:30)", 2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=config.tz)


def chosen_mine(args: argparse.Namespace, config: Config) -> MineConfig:
    """The mine `--mine` names; the only one when there is one; else a one-line error."""
    mines = config.each_mine()
    wanted = getattr(args, "mine", None)
    listed = "、".join(f"{m.id}({m.name})" for m in mines)
    if wanted is None:
        if len(mines) > 1:
            raise CliError(f"这个部署有 {len(mines)} 个矿,请用 --mine 指定:{listed}", 2)
        return mines[0]
    for mine in mines:
        if mine.id == wanted:
            return mine
    raise CliError(f"没有矿 {wanted!r},可用:{listed}", 2)


async def jobs_command(args: argparse.Namespace, config: Config) -> int:
    # The triggers (APScheduler's cron) for both; the jobs and the channels only for `run`.
    from scheduler.calendar import JOB_SPECS
    from scheduler.runner import describe, local_label, next_fires, trigger

    mine = chosen_mine(args, config)
    group, config = config, mine.config  # the mine's calendar; the group's channels

    if args.jobs_command == "list":
        now = utc_now()
        for name, fields in config.schedule.items():
            cron = trigger(fields, config.tz)
            fires = "  ".join(local_label(f, config.tz) for f in next_fires(cron, now, 3))
            print(f"{name:<18} {JOB_SPECS[name].title:<12} {describe(fields):<24} {fires}")
        return 0
    name = args.name
    if name not in config.schedule:
        raise CliError(f"没有名为 {name} 的定时任务,可用: {', '.join(config.schedule)}", 2)
    from bot import app as app_module
    from scheduler.runner import collect, run_job

    at = _moment(args.now, config)
    async with app_module.open_app(group, command="jobs run") as app:
        services = app.tenants.services[mine.id]
        if args.dry_run:
            async with services.repos.db.transaction():
                period, notices = await collect(services, name, at)
            print(f"{name} {period}: {len(notices)} 条通知(试运行,未发送)")
            for notice in notices:
                print(f"→ {', '.join(f'{c}:{i}' for c, i in notice.recipients)}")
                print(notice.text)
            return 0
        if app.leases.distributed:
            result = await run_job(services, name, at, force=args.force)
            if result.skipped:
                print(f"{name} {result.period} 已经运行过,没有重复发送(需要时加 --force)。")
                return 0
            return await deliver_leased(app, name, result.period, result.queued)
        lock = instance_lock(config.storage.path)
        holder = lock.holder()
        result = await run_job(services, name, at, force=args.force)
        if result.skipped:
            print(f"{name} {result.period} 已经运行过,没有重复发送(需要时加 --force)。")
            return 0
        try:
            if holder is not None:  # the running bot delivers; sending here could send twice
                raise LockHeld(holder)
            with holding(lock, "jobs run", utc_now()):
                await app.repos.outbox.release_claims()
                async with app_module.open_channels(app) as (_, transports):
                    delivered = await app.sender(transports).run_once()
        except LockHeld as exc:
            print(
                f"{name} {result.period}: 排队 {result.queued} 条,"
                f"由正在运行的 jindianzi run({exc.holder.describe(config.tz)})发送。"
            )
            return 0
        left = (await app.repos.outbox.counts()).get("pending", 0)
        print(
            f"{name} {result.period}: 排队 {result.queued} 条,已送达 {delivered} 条"
            + (f",{left} 条等待重试或等待渠道上线(jindianzi run 会继续发送)" if left else "")
            + "。"
        )
    return 0


async def deliver_leased(app: App, name: str, period: str, queued: int) -> int:
    """`jobs run` on PostgreSQL: deliver the domains nobody is sending for right now (their
    lease is free), and leave the others to the `jindianzi run` that holds them."""
    from bot import app as app_module

    delivered, elsewhere = 0, []
    async with app_module.open_channels(app) as (_, transports):
        for domain in app_module.outbox_domains(app.config, transports):
            async with app.leases.once(domain.lease) as held:
                if not held:
                    elsewhere.append(domain.lease)
                    continue
                await domain.free_claims(app.repos)
                sender = app.sender(domain.transports, domain.only)
                delivered += await sender.run_once()
    left = (await app.repos.outbox.counts()).get("pending", 0)
    print(
        f"{name} {period}: 排队 {queued} 条,已送达 {delivered} 条"
        + (f",{left} 条由正在运行的 jindianzi run 发送或等待重试" if left else "")
        + (f"(正在运行的进程负责:{', '.join(elsewhere)})" if elsewhere else "")
        + "。"
    )
    return 0


async def code_sheet(args: argparse.Namespace, repos: Repositories, config: Config) -> None:
    from bot.roster import CODE_SHEET_HEADER, issue_code_sheet

    rows = await issue_code_sheet(repos, args.branch, utc_now(), config.tz)
    if not rows:
        print("没有需要邀请码的人:都已经在 Telegram 登记了。")
        return
    if args.out is None:
        writer = csv.writer(sys.stdout)
        writer.writerows([CODE_SHEET_HEADER, *rows])
        return
    try:
        with args.out.open("w", encoding="utf-8-sig", newline="") as sheet:  # Excel reads it
            csv.writer(sheet).writerows([CODE_SHEET_HEADER, *rows])
    except OSError as exc:
        raise CliError(f"写不了文件 {args.out}: {exc.strerror}", 2) from None
    print(f"已为 {len(rows)} 人生成邀请码,写入 {args.out}(7 天内有效,每个只能用一次)。")


MINE_COMMANDS = frozenset({"roster", "scores", "export"})
"""Commands on one mine's rows: `--mine` says which when there are several."""


def ledger_services(repos: Repositories, config: Config) -> Services:
    """A mine's services for the ledger: its categories' labels (no model: the export never
    classifies) and its settings, so the summary's figures come from the rules /stats uses."""
    import asyncio

    from bot import app as app_module
    from bot.export import LabelsOnly
    from handlers.services import Services

    return Services(
        repos=repos,
        classifier=LabelsOnly(config.categories),
        settings=app_module.build_settings(config),
        clock=utc_now,
        outbox_signal=asyncio.Event(),
    )


async def group_export(path: Path, config: Config) -> int:
    """The group's ledger: every mine's summary figures, then every mine's ideas."""
    from bot import app as app_module
    from bot.export import export_ledger, group_sheets
    from handlers.services import MineView

    if not config.mines:
        raise CliError("--group 只用于多个矿的部署(配置里有 mines)", 2)
    async with app_module.open_mines(config) as mines:
        views = [
            MineView(
                m.id,
                m.name,
                ledger_services(mines[m.id], m.config),
            )
            for m in config.mines
            if not m.group
        ]
        try:
            count = await export_ledger(path, group_sheets(views))
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
    print(f"已导出集团台账:{len(views)} 个矿,{count} 条金点子到 {path}。")
    return 0


async def _main(args: argparse.Namespace, config: Config) -> int:
    command = args.command
    if command == "nlp":
        from bot import nlp_commands

        if args.nlp_command == "train":
            path, size, learned = await nlp_commands.train(config, ship=args.ship)
            print(f"模型已训练:语料 {size} 条,人工更正 {learned} 条 → {path}")
        elif args.nlp_command == "compare":
            import asyncio  # loaded by asyncio.run already; named here for to_thread

            print(await asyncio.to_thread(nlp_commands.compare, config))
        else:
            print(await nlp_commands.evaluate(config))
        return 0
    if command == "jobs":
        return await jobs_command(args, config)
    from bot import app as app_module  # storage, the router and the classifier; no channel yet

    if command == "run":
        if config.storage.url is not None:  # PostgreSQL: processes share the work by leases
            async with app_module.open_app(config) as app:
                await app_module.run(app)
            return 0
        try:
            with holding(instance_lock(config.storage.path), "run", utc_now()):
                async with app_module.open_app(config) as app:
                    await app.repos.outbox.release_claims()  # the lock says: no other sender
                    await app_module.run(app)
        except LockHeld as exc:
            raise CliError(
                f"这个数据库已经有一个机器人在运行:{exc.holder.describe(config.tz)}。"
                "同一个数据库只能运行一个 jindianzi run。"
            ) from None
        return 0
    if command == "console":
        async with app_module.open_app(config) as app:
            await app_module.run_console(app, args.as_employee_no)
        return 0
    if command == "export" and args.group:
        return await group_export(args.file, config)
    mine = chosen_mine(args, config) if command in MINE_COMMANDS else config.each_mine()[0]
    async with app_module.open_storage(config, mine.id) as repos:
        if command == "scores":
            from bot.roster import import_base_scores

            count = await import_base_scores(args.file, repos, utc_now())
            print(f"已导入 {count} 条基础分。")
        elif command == "roster" and args.roster_command == "codes":
            await code_sheet(args, repos, config)
        elif command == "roster":
            from bot.roster import import_roster

            count = await import_roster(args.file, repos, utc_now())
            print(f"已导入 {count} 人。")
        elif command == "export":
            from bot.export import build_sheets, export_ledger

            services = ledger_services(repos, mine.config)
            try:
                sheets = await build_sheets(services)
                count = await export_ledger(args.file, sheets)
            except ValueError as exc:
                raise CliError(str(exc), 2) from None
            print(f"已导出 {count} 条金点子到 {args.file}。")
        elif command == "backup":
            await repos.db.backup(args.file)
            print(f"已备份到 {args.file}。")
        elif command == "status":
            from bot.status import status_report

            if repos.db.dialect == "postgresql":
                from storage.leases import lease_records
                from storage.pg import PgDatabase

                assert isinstance(repos.db, PgDatabase)
                records = await lease_records(repos.db)
                print(await status_report(repos, None, utc_now(), config.tz, records))
            else:
                holder = instance_lock(config.storage.path).holder()
                print(await status_report(repos, holder, utc_now(), config.tz))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr, sys.stdin):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    args = _parser().parse_args(argv)
    try:
        config = load_config(config_path(args.config), triggers=args.command in SCHEDULING)
    except ConfigError as exc:
        print(f"配置错误 {exc}", file=sys.stderr)
        return 2
    data_dir = config.storage.data_dir
    try:
        _setup_logging(config)
    except OSError as exc:
        print(f"数据目录 {data_dir} 不能写入:{exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "classify":  # stdin to stdout with one model: no event loop
            from bot.classifying import build_classifier

            classify_stream(build_classifier(config), sys.stdin, sys.stdout, explain=args.explain)
            return 0
        import asyncio  # every other command is async; `classify` starts faster without it

        return asyncio.run(_main(args, config))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _failed(exc, args.command, config)


def _failed(exc: Exception, command: str, config: Config) -> int:
    """Say what went wrong in a line (a roster's problems one per line); the exit code."""
    # Imported once something failed: `classify` needs neither the storage nor the roster.
    from bot.roster import RosterProblems
    from storage import SchemaTooNew, StorageError

    data_dir = config.storage.data_dir
    if isinstance(exc, SchemaTooNew):
        print(
            f"数据库 {config.storage.path} 的版本 {exc.found} 比这个程序认识的 {exc.known} 更新,"
            "请先升级 jindianzi 再打开它。",
            file=sys.stderr,
        )
        return 2
    if isinstance(exc, StorageError):
        log.error("storage: %s", exc)
        if config.storage.url is not None:
            print(f"PostgreSQL 数据库(storage.url)打不开或不能写入:{exc}", file=sys.stderr)
        else:
            print(f"数据目录 {data_dir} 里的数据库打不开或不能写入:{exc}", file=sys.stderr)
        return 2
    if isinstance(exc, BrokenPipeError):  # e.g. `jindianzi nlp eval | head`: the reader has gone
        sys.stderr.close()
        return 0
    if isinstance(exc, RosterProblems):
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("文件有错误,什么都没有导入。", file=sys.stderr)
        return 1
    if isinstance(exc, CliError):
        print(str(exc), file=sys.stderr)
        return exc.code
    if isinstance(exc, LookupError | NotImplementedError):
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    log.exception("command %s failed", command, exc_info=exc)
    print(
        f"出错了: {type(exc).__name__}: {exc}(详情见 {data_dir / 'jindianzi.log'})", file=sys.stderr
    )
    return 1
