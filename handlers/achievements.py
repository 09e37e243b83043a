"""Achievements in chat: /achievements lists them with counts per kind; /achievements add
records one against a project or an idea. The rules are in handlers.rules.achievements."""

from __future__ import annotations

from handlers import access, parsing
from handlers.messages import Member, Reply
from handlers.project_forms import project_or_refusal
from handlers.router import Command, Feature, Subcommand
from handlers.rules import achievements as rules
from handlers.rules import projects as project_rules
from handlers.services import Services
from storage import Idea, Project

ADD_USAGE = (
    "用法:/achievements add P01 操作法 | 锚杆回收复用操作法 | [说明],"
    "或 /achievements add #12 专利 | 名称 | [说明];类别:" + rules.kind_names()
)
LIST_USAGE = "查看:/achievements [管理法|操作法|奖项|专利] [P01]"


async def achievements(msg: Member, services: Services) -> list[Reply]:
    """成果(管理法、操作法、奖项、专利):/achievements [类别] [P01] | /achievements add …"""
    kind: str | None = None
    project: Project | None = None
    for word in parsing.fold(msg.args).split():
        if (named := rules.kind_of(word)) is not None and kind is None:
            kind = named
            continue
        found = await project_or_refusal(
            services, word, f"“{parsing.shown(word)}”不是成果类别或项目编号。{LIST_USAGE}"
        )
        if isinstance(found, str):
            return [Reply(found)]
        if not project_rules.may_act(msg.person, found):
            return [Reply(f"{found.number} 没有本支部参与,详情请问项目负责人或党委领导。")]
        project = found
    listed = await rules.visible(
        services,
        msg.person,
        await services.repos.achievements.listed(
            kind=kind, project_id=project.id if project else None
        ),
    )
    whole = access.is_leader(msg.person) or project is not None
    scope = (project.number if project else "全矿" if whole else "本支部参与的") + (
        rules.KINDS[kind] if kind else "成果"
    )
    if not listed:
        return [Reply(f"{scope}还没有记录。党委领导和项目负责人可以记录:{ADD_USAGE}")]
    counts = rules.count(listed)
    head = f"{scope}共 {len(listed)} 项" + ("" if kind else f":{rules.counts_line(counts)}")
    return [Reply("\n".join([head, *(f"  {rules.line(a)}" for a in listed)]))]


async def _add(msg: Member, services: Services) -> list[Reply]:
    """记录成果:/achievements add P01 操作法 | 名称 | [说明]"""
    target, _, rest = parsing.fold(msg.args).strip().partition(" ")
    if not target:
        return [Reply(ADD_USAGE)]
    project: Project | None = None
    idea: Idea | None = None
    if target.startswith("#") or target.isdigit():
        number = parsing.number(target)
        idea = await services.repos.ideas.get(number) if number is not None else None
        if idea is None:
            return [Reply(f"没有编号为 {parsing.shown(target)} 的金点子。{ADD_USAGE}")]
        in_project = await services.repos.projects.project_of(idea.id)
        project = await services.repos.projects.get(in_project) if in_project else None
    else:
        found = await project_or_refusal(services, target, ADD_USAGE)
        if isinstance(found, str):
            return [Reply(found)]
        project = found
    if not rules.may_record(msg.person, project):
        whose = f"{project.number} 的负责人或党委领导" if project else "党委领导"
        return [Reply(f"只有{whose}可以记录成果。")]
    fields = [f.strip() for f in rest.split("|")]
    if len(fields) < 2 or not fields[1]:
        return [Reply(f"缺少成果名称。{ADD_USAGE}")]
    if len(fields) > 3:
        return [Reply(f"最多三项:类别 | 名称 | 说明。{ADD_USAGE}")]
    kind = rules.kind_of(fields[0])
    if kind is None:
        shown = parsing.shown(fields[0]) if fields[0] else "(空)"
        return [Reply(f"成果类别“{shown}”不对,请写:{rules.kind_names()}。")]
    title, note = fields[1], fields[2] if len(fields) == 3 else ""
    if len(title) > rules.TITLE_MAX:
        return [Reply(f"成果名称请写在 {rules.TITLE_MAX} 字以内。")]
    if len(note) > rules.NOTE_MAX:
        return [Reply(f"说明请写在 {rules.NOTE_MAX} 字以内。")]
    same = rules.duplicate(
        await services.repos.achievements.listed(
            kind=kind, project_id=project.id if project else None
        ),
        title,
        idea,
    )
    if same is not None:
        return [Reply(f"这项成果已经记录过了:{rules.line(same)}。")]
    achievement_id, told = await rules.record(
        services, msg.person, kind, title, note, project, idea
    )
    against = " ".join(
        ([project.number] if project else []) + ([f"金点子 #{idea.id}"] if idea else [])
    )
    counts = await services.repos.achievements.counts()
    tell = f"已通知金点子作者({told} 个聊天)。" if told else ""
    return [
        Reply(
            f"已记录成果 C{achievement_id}:{rules.KINDS[kind]}「{title}」({against})。{tell}\n"
            f"全矿成果:{rules.counts_line(counts)}"
        )
    ]


FEATURE = Feature(
    commands=[
        Command(
            "achievements",
            achievements,
            access.PROJECT_STAFF,
            subcommands=(
                Subcommand(
                    "add",
                    _add,
                    "/achievements add P01 操作法 | 名称 | [说明]",
                    access.LEADERS,  # a project's lead is a committee member
                    "只有项目负责人或党委领导可以记录成果。",
                ),
            ),
        ),
    ],
)
