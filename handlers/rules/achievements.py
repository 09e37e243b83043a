"""Achievements (成果): the methods, awards and patents a project or an idea yields.

The case counts them by kind ("18 套经验管理法,19 套先进操作法", two awards, one patent), so
every list leads with the counts per kind. Whoever wrote a linked idea is told.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from handlers import access, parsing
from handlers.notify import notify
from handlers.rules import audience
from handlers.rules import projects as project_rules
from handlers.services import Services
from storage import Achievement, Idea, Person, Project

KINDS: dict[str, str] = {
    "management_method": "管理法",
    "operating_method": "操作法",
    "award": "奖项",
    "patent": "专利",
}
"""Kind id → the Chinese name people type and read, in the order lists show them."""

KIND_ALIASES: dict[str, str] = {
    "管理法": "management_method",
    "管理方法": "management_method",
    "经验管理法": "management_method",
    "操作法": "operating_method",
    "操作方法": "operating_method",
    "先进操作法": "operating_method",
    "奖项": "award",
    "获奖": "award",
    "奖": "award",
    "专利": "patent",
    "国家专利": "patent",
}

TITLE_MAX = 60
NOTE_MAX = 500


def kind_of(text: str) -> str | None:
    """The kind a typed word names (管理法, 操作法, 奖项, 专利 and their usual variants)."""
    word = "".join(parsing.fold(text).split())
    return KIND_ALIASES.get(word) or (word if word in KINDS else None)


def kind_names() -> str:
    return "、".join(KINDS.values())


def counts_line(counts: Mapping[str, int]) -> str:
    """'管理法 18 项、操作法 19 项、奖项 2 项、专利 1 项' (every kind, zeros too)."""
    return "、".join(f"{name} {counts.get(kind, 0)} 项" for kind, name in KINDS.items())


def count(found: Iterable[Achievement]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for a in found:
        counted[a.kind] = counted.get(a.kind, 0) + 1
    return counted


def source(achievement: Achievement) -> str:
    """'P01' or '#12' or 'P01 #12': what it was recorded against."""
    parts = []
    if achievement.project_id is not None:
        parts.append(f"P{achievement.project_id:02d}")
    if achievement.idea_id is not None:
        parts.append(f"#{achievement.idea_id}")
    return " ".join(parts)


def line(achievement: Achievement) -> str:
    """'C3 操作法「锚杆回收复用操作法」(P01)· 说明'."""
    note = f" · {achievement.note}" if achievement.note else ""
    return (
        f"C{achievement.id} {KINDS[achievement.kind]}「{achievement.title}」"
        f"({source(achievement)}){note}"
    )


def may_record(person: Person, project: Project | None) -> bool:
    """Leaders record any achievement; a project's lead records those of their project."""
    return access.may_record_achievement(person, project.lead_id if project else None)


async def visible(
    services: Services, person: Person, found: Sequence[Achievement]
) -> list[Achievement]:
    """What `person` may see of `found`: a leader everything; others the achievements of the
    projects they take part in and of their own branch's ideas."""
    if access.is_leader(person):
        return list(found)
    projects = {
        p.id for p in await services.repos.projects.all() if project_rules.may_act(person, p)
    }
    shown = []
    for a in found:
        if a.project_id is not None:
            if a.project_id in projects:
                shown.append(a)
            continue
        idea = await services.repos.ideas.get(a.idea_id) if a.idea_id is not None else None
        if idea is not None and access.may_review_idea(person, idea):
            shown.append(a)
    return shown


def duplicate(found: Sequence[Achievement], title: str, idea: Idea | None) -> Achievement | None:
    """An achievement of the same kind and title already recorded against the same target."""
    for a in found:
        if a.title == title and a.idea_id == (idea.id if idea else None):
            return a
    return None


async def record(
    services: Services,
    person: Person,
    kind: str,
    title: str,
    note: str,
    project: Project | None,
    idea: Idea | None,
) -> tuple[int, int]:
    """Store the achievement and tell the authors of its linked ideas; (its id, chats told)."""
    achievement_id = await services.repos.achievements.add(
        kind=kind,
        title=title,
        note=note,
        project_id=project.id if project else None,
        idea_id=idea.id if idea else None,
        person_id=person.id,
        now=services.now(),
    )
    idea_ids: Sequence[int] = (idea.id,) if idea else (project.idea_ids if project else ())
    authors: dict[int, list[int]] = {}
    for idea_id in idea_ids:
        found = idea if idea and idea.id == idea_id else await services.repos.ideas.get(idea_id)
        if found is not None and found.author_id != person.id:
            authors.setdefault(found.author_id, []).append(found.id)
    told = 0
    where = f"重点项目 P{project.id:02d}" if project else "采纳"
    for author_id, ideas in authors.items():
        numbers = "、".join(f"#{i}" for i in ideas)
        text = (
            f"🏅 您的金点子 {numbers} 有了成果:{KINDS[kind]}「{title}」"
            f"(C{achievement_id},{where},{person.name}记录)。谢谢您的金点子!"
        )
        told += await notify(
            services,
            await audience.person(services, author_id),
            text,
            key=f"achievement:{achievement_id}:{author_id}",
        )
    return achievement_id, told
