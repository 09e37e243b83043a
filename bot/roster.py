"""Roster CSV import: every row is validated before anything is written."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from handlers.admin import merged_roles, parse_roles
from handlers.parsing import fold
from handlers.rules.identity import issue_code, normalise_phone
from handlers.rules.names import GROUP_NAME_MAX, party_group_name
from storage import Duplicate, Repositories, Role, RosterEntry

HEADER = ["employee_no", "name", "branch_id", "role", "wecom_userid", "phone", "party_group"]
REQUIRED = HEADER[:4]
COLUMN_NAMES = {
    "employee_no": "工号",
    "name": "姓名",
    "branch_id": "支部",
    "role": "角色",
    "wecom_userid": "企业微信账号",
    "phone": "手机号",
    "party_group": "党小组",
}
HEADER_ALIASES = {
    "employee_no": ("员工编号", "职工编号", "编号"),
    "name": ("名字",),
    "branch_id": ("支部编号", "所在支部", "党支部"),
    "role": ("roles", "职务", "身份", "角色们"),
    "wecom_userid": ("企业微信", "企业微信号", "企业微信ID", "企业微信userid"),
    "phone": ("手机", "手机号码", "电话", "联系电话"),
    "party_group": ("小组", "党小组名称", "所在党小组"),
}
"""Other names a header may give a column, besides its id and its COLUMN_NAMES name."""
_COLUMN_OF = {
    name.lower(): column
    for column in HEADER
    for name in (column, COLUMN_NAMES[column], *HEADER_ALIASES[column])
}
KNOWN_COLUMNS = "、".join(f"{COLUMN_NAMES[c]}({c})" for c in HEADER)
TELEGRAM = "telegram"
"""The channel code sheets are for: the one where a roster line alone binds nobody (the
group's bot; a mine's own bot is `telegram:<mine>`, counted too)."""
_PHONE_CHARS = re.compile(r"^[\d+\-\s()]+$")
_EMPLOYEE_NO = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_WECOM_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class RosterProblems(Exception):
    """Bad rows, each as 'line N: problem'; nothing was imported."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_roster(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterProblems((f"{path}: 读不了文件 ({exc.strerror})",)) from None
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China often saves GBK
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterProblems((f"{path}: 不是 UTF-8 或 GBK 编码的文本",))


def _column(cell: str) -> str | None:
    return _COLUMN_OF.get(fold(cell).strip().lower())


def _header(cells: list[str], line: int) -> list[str] | None:
    """The columns a header row names (Chinese or English, any order), or None if `cells`
    is a data row: a row naming any column is a header. Raises RosterProblems for a header
    naming a column nobody knows, naming one twice or leaving out a required one: the file
    is not read on a guess."""
    found = [_column(c) for c in cells]
    if not any(found):
        return None  # a person's row holds no column name (工号 are ASCII, roles no header)
    problems = [
        f"不认识的列名“{c}”" for c, column in zip(cells, found, strict=True) if c and not column
    ]
    named = [column for column in found if column]
    problems += [
        f"列名“{COLUMN_NAMES[c]}”重复了" for c in dict.fromkeys(named) if named.count(c) > 1
    ]
    missing = [f"{COLUMN_NAMES[c]}({c})" for c in REQUIRED if c not in named]
    if missing:
        problems.append(f"缺少列:{'、'.join(missing)}")
    if problems:
        raise RosterProblems((f"第 {line} 行: {';'.join(problems)}。列名可以是:{KNOWN_COLUMNS}",))
    return [column or "" for column in found]


def _phone(text: str) -> str | None:
    """The roster phone as stored (digits, no country code), or None if it is no phone."""
    if not _PHONE_CHARS.match(text):
        return None
    phone = normalise_phone(text)
    return phone if 5 <= len(phone) <= 15 else None


@dataclass
class _Person:
    """What the rows for one 工号 say so far, and the line of the first one."""

    line: int
    employee_no: str
    name: str
    branch_id: str
    roles: tuple[Role, ...]
    wecom: str | None
    phone: str | None
    party_group: str | None

    def entry(self) -> RosterEntry:
        return RosterEntry(
            self.employee_no,
            self.name,
            self.branch_id,
            self.roles,
            self.wecom,
            self.phone,
            self.party_group,
        )


def _merge(first: _Person, row: _Person) -> list[str]:
    """Why a later row for the same 工号 disagrees with the first (empty when it agrees);
    on agreement the roles are added and empty cells of the first row filled in."""
    at = f"第 {first.line} 行"
    problems = []
    if row.name != first.name:
        problems.append(f"工号 {row.employee_no} 在{at}是“{first.name}”,这里是“{row.name}”")
    if row.branch_id != first.branch_id:
        problems.append(
            f"工号 {row.employee_no} 在{at}属于支部 {first.branch_id},这里是 {row.branch_id}"
        )
    for label, mine, theirs in (
        ("企业微信账号", row.wecom, first.wecom),
        ("手机号", row.phone, first.phone),
        ("党小组", row.party_group, first.party_group),
    ):
        if mine and theirs and mine != theirs:
            problems.append(f"{label} {mine} 和{at}的 {theirs} 不一样")
    roles = merged_roles(first.roles, row.roles)
    if isinstance(roles, str):
        problems.append(roles.removesuffix("。"))
    if problems:
        return problems
    assert not isinstance(roles, str)
    first.roles = roles
    first.wecom = first.wecom or row.wecom
    first.phone = first.phone or row.phone
    first.party_group = first.party_group or row.party_group
    return []


def parse_roster(
    text: str,
    branches: set[str],
    departments: set[str],
    department_names: dict[str, str] | None = None,
) -> list[RosterEntry]:
    """Validate every row; raise RosterProblems listing all bad rows by line number.

    Columns are HEADER's order, or the order a header row gives them (工号,姓名,支部,角色,
    手机号,党小组 or the ids); roles by id or Chinese name, several in one cell separated by
    ; or 、, a supervisor's department by id or by name (`department_names`, name → id).
    Several rows for one 工号 are one person holding every role they list: their names and
    branches must agree (and their WeCom accounts, phones and party groups, where given)."""
    problems: list[str] = []
    people: dict[str, _Person] = {}
    wecom_seen: dict[str, tuple[str, int]] = {}
    columns = HEADER
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        header = _header(cells, line)
        if header is not None:  # a prefix of HEADER keeps the optional columns after it
            columns = HEADER if header == HEADER[: len(header)] else header
            continue
        least = max(columns.index(c) for c in REQUIRED) + 1
        if not least <= len(cells) <= len(columns):
            problems.append(
                f"第 {line} 行: 应该有 {least} 到 {len(columns)} 列"
                f"({','.join(COLUMN_NAMES.get(c, '空') for c in columns)}),现在是 {len(cells)} 列"
            )
            continue
        record = dict(zip(columns, cells, strict=False))
        employee_no, name = record["employee_no"], record["name"]
        branch_id, role_text = record["branch_id"], record["role"]
        wecom = record.get("wecom_userid") or None
        phone_text = record.get("phone") or ""
        phone = _phone(phone_text) if phone_text else None
        group_text = record.get("party_group") or ""
        group = party_group_name(group_text) if group_text else None
        row_problems = []
        if not _EMPLOYEE_NO.match(employee_no):
            row_problems.append(f"工号 {employee_no!r} 只能是 1-32 位字母、数字或短横线")
        if not name or len(name) > 32:
            row_problems.append("姓名不能为空,也不能超过 32 个字")
        if branch_id not in branches:
            row_problems.append(f"支部 {branch_id!r} 不在配置里")
        roles = parse_roles(role_text, departments, department_names)
        if isinstance(roles, str):
            row_problems.append(roles)
        if wecom is not None:
            owner = wecom_seen.get(wecom)
            if not _WECOM_ID.match(wecom):
                row_problems.append(f"企业微信账号 {wecom!r} 格式不对")
            elif owner is not None and owner[0] != employee_no:
                row_problems.append(f"企业微信账号 {wecom} 和第 {owner[1]} 行重复")
            else:
                wecom_seen.setdefault(wecom, (employee_no, line))
        if phone_text and phone is None:
            row_problems.append(f"手机号 {phone_text!r} 格式不对")
        if group_text and group is None:
            row_problems.append(
                f"党小组 {group_text!r} 不能有空格,也不能超过 {GROUP_NAME_MAX} 个字"
            )
        if row_problems or isinstance(roles, str):
            problems.append(f"第 {line} 行: " + ";".join(row_problems))
            continue
        person = _Person(line, employee_no, name, branch_id, roles, wecom, phone, group)
        first = people.setdefault(employee_no, person)
        if first is not person:
            merge_problems = _merge(first, person)
            if merge_problems:
                problems.append(f"第 {line} 行: " + ";".join(merge_problems))
    if problems:
        raise RosterProblems(tuple(problems))
    if not people:
        raise RosterProblems(("文件里没有任何人员",))
    return [p.entry() for p in people.values()]


CODE_SHEET_HEADER = ["employee_no", "name", "branch_id", "code", "expires"]


async def issue_code_sheet(
    repos: Repositories, branch_id: str | None, now: datetime, tz: tzinfo
) -> list[list[str]]:
    """Fresh one-time codes for everyone (of one branch) not yet on Telegram: rows to print.

    Each replaces the person's unused code; raises LookupError for an unknown branch."""
    if branch_id is not None and await repos.org.branch(branch_id) is None:
        known = ", ".join(b.id for b in await repos.org.branches())
        raise LookupError(f"没有编号为 {branch_id} 的支部,可用: {known}")
    rows = []
    async with repos.db.transaction():
        # Not on Telegram: on neither the group's bot nor the mine's own (telegram:<mine>).
        own = {p.id for p in await repos.people.unbound(f"{TELEGRAM}:{repos.db.mine}", branch_id)}
        for person in await repos.people.unbound(TELEGRAM, branch_id):
            if person.id not in own:
                continue
            code, expires = await issue_code(repos, person.id, None, now)
            until = expires.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            rows.append([person.employee_no, person.name, person.branch_id, code, until])
    return rows


async def import_roster(path: Path, repos: Repositories, now: datetime) -> int:
    """Import a roster file all-or-nothing; returns the number of people written."""
    text = read_roster(path)
    branches = {b.id for b in await repos.org.branches()}
    names = {d.name: d.id for d in await repos.org.department_names()}
    entries = parse_roster(text, branches, await repos.org.department_ids(), names)
    try:
        async with repos.db.transaction():
            admins = await repos.people.count_with_role("admin")
            written = await repos.people.upsert_roster(entries, now)
            if admins and not await repos.people.count_with_role("admin"):
                raise _NoAdminLeft
            return written
    except Duplicate:
        raise RosterProblems(("有企业微信账号已经属于花名册里的另一个人,请核对后再导入",)) from None
    except _NoAdminLeft:
        raise RosterProblems(
            ("导入后就没有管理员了:请在花名册里至少给一个人保留管理员(admin)角色",)
        ) from None


class _NoAdminLeft(Exception):
    """Raised inside the import's transaction to roll it back."""


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


async def import_base_scores(path: Path, repos: Repositories, now: datetime) -> int:
    """Base scores `branch_id,month,base` all-or-nothing; closed months are refused."""
    text = read_roster(path)
    branches = {b.id for b in await repos.org.branches()}
    problems: list[str] = []
    rows: list[tuple[str, str, float]] = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        cells = [c.strip() for c in row]
        line = reader.line_num
        if (
            not any(cells)
            or cells[0].startswith("#")
            or cells[:3] == ["branch_id", "month", "base"]
        ):
            continue
        if len(cells) != 3:
            problems.append(f"第 {line} 行: 应该有 3 列(支部编号,月份,基础分)")
            continue
        branch_id, month, value = cells
        reasons = []
        if branch_id not in branches:
            reasons.append(f"支部 {branch_id!r} 不在配置里")
        if not _MONTH.match(month):
            reasons.append(f"月份 {month!r} 要写成 YYYY-MM")
        elif await repos.scores.is_closed(month):
            reasons.append(f"{month} 已经结账")
        try:
            score = float(value)
            if not 0 <= score <= 100:
                raise ValueError
        except ValueError:
            reasons.append(f"基础分 {value!r} 要是 0 到 100 的数字")
            score = 0.0
        if reasons:
            problems.append(f"第 {line} 行: " + ";".join(reasons))
        else:
            rows.append((branch_id, month, score))
    if problems:
        raise RosterProblems(tuple(problems))
    if not rows:
        raise RosterProblems(("文件里没有任何分数",))
    async with repos.db.transaction():
        for branch_id, month, score in rows:
            await repos.scores.enter(branch_id, month, "base", score, "导入", None, now)
    return len(rows)
