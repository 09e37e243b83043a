"""A small organisation and roster stored through the repositories, as `bot/app.py`
(`repos.org.sync`) and `bot/roster.py` (`repos.people.upsert_roster` in a transaction) do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from storage import Branch, Department, Idea, Person, Repositories, Role, RosterEntry

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
"""Monday 2 March 2026, 09:00 in Shanghai."""


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """T0 plus an offset, in UTC."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


DEPARTMENTS = [
    Department("organization", "组织部"),
    Department("publicity", "宣传部"),
    Department("party_office", "党委办公室"),
]
BRANCHES = [
    Branch("zc1", "综采一队党支部", "organization"),
    Branch("jj1", "机掘一队党支部", "publicity"),
    Branch("jd", "机电队党支部", "party_office"),
]
ROSTER = [
    RosterEntry("E001", "张三", "jj1", (Role("worker"),), "zhangsan", "13800000001", "一组"),
    RosterEntry("E002", "李四", "zc1", (Role("worker"),), None, "13800000002"),
    RosterEntry("S001", "王书记", "jj1", (Role("secretary"),), None),
    RosterEntry("V001", "赵督导", "jd", (Role("supervisor", "publicity"),), "zhaodd"),
    RosterEntry("L001", "钱领导", "jd", (Role("leader"),), None),
    RosterEntry("A001", "孙管理", "jd", (Role("leader"), Role("admin")), None),
]


@dataclass(frozen=True)
class Staff:
    worker: Person  # E001 张三, jj1, party group 一组
    worker2: Person  # E002 李四, zc1
    secretary: Person  # S001, jj1
    supervisor: Person  # V001, supervisor of publicity (which supervises jj1)
    leader: Person  # L001
    admin: Person  # A001, admin and leader

    def branch(self, branch_id: str) -> Branch:
        return next(b for b in BRANCHES if b.id == branch_id)


async def seed_staff(repos: Repositories) -> Staff:
    await repos.org.sync(DEPARTMENTS, BRANCHES)
    async with repos.db.transaction():
        await repos.people.upsert_roster(ROSTER, T0)
    found = [await repos.people.by_employee_no(e.employee_no) for e in ROSTER]
    people = [p for p in found if p is not None]
    assert len(people) == len(ROSTER)
    return Staff(*people)


async def add_idea(
    repos: Repositories,
    author: Person,
    text: str,
    now: datetime,
    *,
    category: str = "other",
    confidence: float = 0.5,
    channel: str = "console",
) -> Idea:
    return await repos.ideas.add(
        author=author,
        text=text,
        category=category,
        confidence=confidence,
        channel=channel,
        now=now,
    )
