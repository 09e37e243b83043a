"""Key projects: idea review, projects made from ideas, progress, verified benefit, rewards."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.ideas import STATUS_LABELS
from handlers.messages import Button, Incoming, Reply
from handlers.money import format_yuan, parse_yuan
from handlers.notify import notify
from handlers.router import Command, Feature
from handlers.services import Services
from storage import Duplicate, Idea, Person
from storage.repos import Project

LEADERS = frozenset({"leader", "admin"})
PROJECT_STAFF = frozenset({"leader", "admin", "secretary"})
SIMPLE_MOVES = {"under_review": "审核中", "implemented": "已实施", "rewarded": "已奖励"}
NEXT_STATUSES = {
    "submitted": {"under_review", "adopted", "merged", "not_adopted"},
    "under_review": {"adopted", "merged", "not_adopted"},
    "adopted": {"implemented"},
    "implemented": {"rewarded"},
    "not_adopted": {"under_review"},
}
REVIEW_USAGE = (
    "用法:/review 编号 [under_review | adopt P项目号 | merge 编号 | reject 原因 | "
    "implemented | rewarded]"
)
NEW_USAGE = (
    "用法:/project new 标题 | 类别 | 负责人工号 | 支部编号,支部编号 | 预期年效益 [| 金点子编号 …]\n"
    "例如:/project new 井下锚杆回收复用 | repair_reuse | L001 | jj1,jj2 | 50万 | 1 3"
)


def project_number(text: str) -> int | None:
    clean = text.strip().upper().lstrip("P")
    return int(clean) if clean.isdigit() else None


def text_length_ok(text: str) -> bool:
    return sum(1 for ch in text if ch.isalnum()) >= 2 and len(text) <= 500


async def _tell_authors(services: Services, idea: Idea, text: str, key: str) -> None:
    authors = [idea.author_id, *await services.repos.ideas.merged_authors(idea.id)]
    recipients = []
    for author in dict.fromkeys(authors):
        recipients += await services.repos.people.identities_of(author)
    await notify(services, recipients, text, key=key)


async def _may_review(person: Person, idea: Idea) -> bool:
    if person.has_role("leader", "admin"):
        return True
    return person.has_role("secretary") and person.branch_id == idea.branch_id


async def move_idea(
    services: Services,
    person: Person,
    idea: Idea,
    status: str,
    reason: str,
    merged_into: int | None = None,
) -> str | None:
    """Move an idea along its lifecycle and tell its author; a refusal reason or None."""
    if status not in NEXT_STATUSES.get(idea.status, set()):
        now_label = STATUS_LABELS.get(idea.status, idea.status)
        return f"金点子 #{idea.id} 现在是“{now_label}”,不能直接改为“{STATUS_LABELS[status]}”。"
    event = await services.repos.ideas.move(
        idea, status, person.id, reason, services.now(), merged_into
    )
    why = f",原因:{reason}" if reason else ""
    await _tell_authors(
        services,
        idea,
        f"您的金点子 #{idea.id}「{idea.text[:20]}」有了新进展:{STATUS_LABELS[status]}{why}。",
        key=f"idea:{idea.id}:history:{event}",
    )
    return None


async def review(msg: Incoming, services: Services) -> list[Reply]:
    """审核金点子:/review 编号 [动作]"""
    person = msg.person
    assert person is not None
    number, _, rest = msg.args.strip().partition(" ")
    if not number.lstrip("#").isdigit():
        return [Reply(REVIEW_USAGE)]
    idea = await services.repos.ideas.get(int(number.lstrip("#")))
    if idea is None or idea.status == "withdrawn":
        return [Reply(f"没有编号为 #{number.lstrip('#')} 的金点子(或已撤回)。")]
    if not await _may_review(person, idea):
        return [Reply("只有党委领导或作者所在支部的书记可以审核这条金点子。")]
    action, _, detail = rest.strip().partition(" ")
    detail = detail.strip()
    if not action:
        history = await services.repos.ideas.history(idea.id)
        lines = [
            f"金点子 #{idea.id}({services.category_label(idea.category)} · "
            f"{STATUS_LABELS.get(idea.status, idea.status)}):{idea.text}"
        ]
        lines += [
            f"  {services.local(when).strftime('%m-%d')} {who} → {STATUS_LABELS[to]}"
            f"{(':' + why) if why else ''}"
            for to, why, who, when in history
        ]
        lines.append(
            "采纳:/review 编号 adopt P项目号;合并:/review 编号 merge 编号;"
            "不采纳:/review 编号 reject 原因"
        )
        buttons = tuple(
            Button(label, f"r:{idea.id}:{status}")
            for status, label in SIMPLE_MOVES.items()
            if status in NEXT_STATUSES.get(idea.status, ())
        )
        return [Reply("\n".join(lines), buttons=(buttons,) if buttons else ())]
    if action in SIMPLE_MOVES:
        refusal = await move_idea(services, person, idea, action, detail)
    elif action == "reject":
        if not text_length_ok(detail):
            return [Reply("不采纳要写明原因,例如:/review 12 reject 已有同类项目在做")]
        refusal = await move_idea(services, person, idea, "not_adopted", detail)
    elif action == "merge":
        target = (
            await services.repos.ideas.get(int(detail.lstrip("#")))
            if detail.lstrip("#").isdigit()
            else None
        )
        if target is None or target.id == idea.id or target.status == "withdrawn":
            return [Reply("请写上要合并到的另一条金点子的编号,例如:/review 12 merge 7")]
        refusal = await move_idea(
            services, person, idea, "merged", f"与 #{target.id} 合并", merged_into=target.id
        )
    elif action == "adopt":
        number_p = project_number(detail)
        project = await services.repos.projects.get(number_p) if number_p else None
        if project is None:
            return [Reply("请写上重点项目编号,例如:/review 12 adopt P07")]
        return [Reply(await _link(services, person, project, idea))]
    else:
        return [Reply(REVIEW_USAGE)]
    if refusal:
        return [Reply(refusal)]
    return [Reply(f"金点子 #{idea.id} 已更新,已通知作者。")]


async def on_button(msg: Incoming, services: Services) -> list[Reply]:
    person = msg.person
    assert person is not None
    parts = (msg.callback or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit() or parts[2] not in SIMPLE_MOVES:
        return [Reply("这个按钮已经失效了。")]
    idea = await services.repos.ideas.get(int(parts[1]))
    if idea is None or not await _may_review(person, idea):
        return [Reply("只有党委领导或作者所在支部的书记可以审核这条金点子。")]
    refusal = await move_idea(services, person, idea, parts[2], "")
    return [
        Reply(
            refusal or f"金点子 #{idea.id} 已改为“{SIMPLE_MOVES[parts[2]]}”,已通知作者。", edit=True
        )
    ]


async def _link(services: Services, person: Person, project: Project, idea: Idea) -> str:
    if await services.repos.projects.project_of(idea.id) is not None:
        return f"金点子 #{idea.id} 已经属于一个重点项目了,一条金点子只能进一个项目。"
    if idea.status not in ("submitted", "under_review"):
        return (
            f"金点子 #{idea.id} 现在是“{STATUS_LABELS.get(idea.status, idea.status)}”,不能再采纳。"
        )
    try:
        await services.repos.projects.link(project.id, idea.id)
    except Duplicate:
        return f"金点子 #{idea.id} 已经属于一个重点项目了。"
    await move_idea(services, person, idea, "adopted", f"纳入重点项目 {project.number}")
    return f"金点子 #{idea.id} 已纳入重点项目 {project.number},已通知作者。"


def _describe(services: Services, project: Project, names: dict[str, str]) -> str:
    branches = "、".join(names.get(b, b) for b in project.branches)
    progress = (f"{project.last_percent}% · " if project.last_percent is not None else "") + (
        project.last_progress or "还没有进展"
    )
    return (
        f"{project.number} {project.title}({services.category_label(project.category)})\n"
        f"  负责人:{project.lead_name};支部:{branches}\n"
        f"  最新进展:{progress}\n"
        f"  核实效益:{format_yuan(project.verified_fen)} / 预期年效益 "
        f"{format_yuan(project.expected_benefit_fen)}"
    )


async def project(msg: Incoming, services: Services) -> list[Reply]:
    """重点项目:/project new … | /project link P07 编号… | /project P07"""
    person = msg.person
    assert person is not None
    action, _, rest = msg.args.strip().partition(" ")
    if action == "new":
        return [await _new(services, person, rest)]
    if action == "link":
        return [await _link_command(services, person, rest)]
    found = await _project_arg(services, action)
    if found is None:
        return [Reply(f"没有这个重点项目。查看全部:/projects\n{NEW_USAGE}")]
    names = {b.id: b.name for b in await services.repos.org.branches()}
    lines = [_describe(services, found, names)]
    if found.idea_ids:
        lines.append("  金点子:" + "、".join(f"#{i}" for i in found.idea_ids))
    if found.rewarded_fen:
        lines.append(f"  已奖励:{format_yuan(found.rewarded_fen)}")
    return [Reply("\n".join(lines))]


async def _new(services: Services, person: Person, rest: str) -> Reply:
    if not person.has_role("leader", "admin"):
        return Reply("只有党委领导可以建立重点项目。")
    parts = [p.strip() for p in rest.split("|")]
    if len(parts) not in (5, 6) or not all(parts[:5]):
        return Reply(NEW_USAGE)
    title, category, lead_no, branch_text, amount = parts[:5]
    if len(title) > 60:
        return Reply("项目标题请控制在 60 字以内。")
    if category not in {c.id for c in services.classifier.categories}:
        labels = {c.label: c.id for c in services.classifier.categories}
        if category not in labels:
            return Reply("类别要写类别编号或名称,例如 repair_reuse 或 修旧利废。")
        category = labels[category]
    lead = await services.repos.people.by_employee_no(lead_no)
    if lead is None or not lead.has_role("leader"):
        return Reply(f"负责人要写党委委员(领导)的工号,“{lead_no}”不是。")
    branches = [b.strip() for b in branch_text.replace(",", ",").split(",") if b.strip()]
    known = {b.id for b in await services.repos.org.branches()}
    unknown = [b for b in branches if b not in known]
    if not branches or unknown:
        return Reply(f"支部编号不对:{'、'.join(unknown) or '没写'}。")
    fen = parse_yuan(amount)
    if isinstance(fen, str):
        return Reply(f"预期年效益:{fen}")
    ideas: list[Idea] = []
    for item in parts[5].replace(",", " ").split() if len(parts) == 6 else []:
        idea = (
            await services.repos.ideas.get(int(item.lstrip("#")))
            if item.lstrip("#").isdigit()
            else None
        )
        if idea is None:
            return Reply(f"没有编号为 {item} 的金点子。")
        if await services.repos.projects.project_of(idea.id) is not None:
            return Reply(f"金点子 #{idea.id} 已经属于一个重点项目了。")
        ideas.append(idea)
    project_id = await services.repos.projects.create(
        title=title,
        category=category,
        lead_id=lead.id,
        branches=branches,
        expected_fen=fen,
        person_id=person.id,
        now=services.now(),
    )
    created = await services.repos.projects.get(project_id)
    assert created is not None
    linked = [await _link(services, person, created, idea) for idea in ideas]
    return Reply(
        f"已建立重点项目 {created.number}「{title}」。" + "".join(f"\n{t}" for t in linked)
    )


async def _link_command(services: Services, person: Person, rest: str) -> Reply:
    if not person.has_role("leader", "admin"):
        return Reply("只有党委领导可以把金点子纳入重点项目。")
    number, _, items = rest.strip().partition(" ")
    found = await _project_arg(services, number)
    if found is None or not items.strip():
        return Reply("用法:/project link P07 金点子编号 …")
    lines = []
    for item in items.replace(",", " ").split():
        idea = (
            await services.repos.ideas.get(int(item.lstrip("#")))
            if item.lstrip("#").isdigit()
            else None
        )
        lines.append(
            f"没有编号为 {item} 的金点子。"
            if idea is None
            else await _link(services, person, found, idea)
        )
    return Reply("\n".join(lines))


async def projects(msg: Incoming, services: Services) -> list[Reply]:
    """重点项目一览:/projects"""
    found = await services.repos.projects.all()
    if not found:
        return [Reply("还没有重点项目。党委领导可以用 /project new 建立。")]
    names = {b.id: b.name for b in await services.repos.org.branches()}
    return [
        Reply(
            f"重点项目(共 {len(found)} 个):\n"
            + "\n".join(_describe(services, p, names) for p in found)
        )
    ]


async def _project_arg(services: Services, text: str) -> Project | None:
    """The project named by 'P07' (or '7'), if there is one."""
    number = project_number(text) if text else None
    return await services.repos.projects.get(number) if number else None


async def _project_member(services: Services, person: Person, found: Project) -> bool:
    if person.has_role("leader", "admin") or person.id == found.lead_id:
        return True
    return person.has_role("secretary") and person.branch_id in found.branches


async def progress(msg: Incoming, services: Services) -> list[Reply]:
    """报告项目进展:/progress P07 [百分比] 进展"""
    person = msg.person
    assert person is not None
    number, _, rest = msg.args.strip().partition(" ")
    found = await _project_arg(services, number)
    if found is None:
        return [Reply("用法:/progress P07 [百分比] 进展,例如:/progress P07 60 已完成第一批改造")]
    if not await _project_member(services, person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以报告进展。")]
    first, _, text = rest.strip().partition(" ")
    percent: int | None = None
    if first.rstrip("%").isdigit():
        percent = int(first.rstrip("%"))
        if not 0 <= percent <= 100:
            return [Reply("进度百分比要在 0 到 100 之间。")]
    else:
        text = rest.strip()
    if not text_length_ok(text.strip()):
        return [Reply("请写上进展内容(500 字以内)。")]
    await services.repos.projects.add_progress(
        found.id, person.id, percent, text.strip(), services.now()
    )
    return [Reply(f"已记录 {found.number} 的进展。")]


async def benefit(msg: Incoming, services: Services) -> list[Reply]:
    """申报项目效益:/benefit P07 金额 说明"""
    person = msg.person
    assert person is not None
    parts = msg.args.strip().split(" ", 2)
    found = await _project_arg(services, parts[0])
    if found is None or len(parts) < 3:
        return [Reply("用法:/benefit P07 金额 说明,例如:/benefit P07 4万 11月回收锚杆1740根")]
    if not await _project_member(services, person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以申报效益。")]
    fen = parse_yuan(parts[1])
    if isinstance(fen, str):
        return [Reply(fen)]
    if not text_length_ok(parts[2]):
        return [Reply("请写上效益的说明(哪个月、怎么算的)。")]
    claim = await services.repos.projects.claim(
        found.id, fen, parts[2].strip(), person.id, services.now()
    )
    leaders = await services.repos.people.identities_with_role("leader")
    await notify(
        services,
        leaders,
        f"💰 {found.number} 申报效益 {format_yuan(fen)}({person.name}):{parts[2]}\n"
        f"核实:/verify B{claim};不认可:/verify B{claim} reject 原因",
        key=f"benefit:{claim}:claimed",
    )
    return [
        Reply(
            f"已申报 {found.number} 效益 {format_yuan(fen)}(编号 B{claim}),等待党委领导核实。"
            "只有核实后的金额才会计入。"
        )
    ]


async def verify(msg: Incoming, services: Services) -> list[Reply]:
    """核实效益:/verify B编号 [reject 原因]"""
    person = msg.person
    assert person is not None
    number, _, rest = msg.args.strip().partition(" ")
    clean = number.upper().lstrip("B")
    claim = await services.repos.projects.benefit(int(clean)) if clean.isdigit() else None
    if claim is None:
        return [Reply("用法:/verify B编号 [reject 原因]")]
    if claim.claimed_by == person.id:
        return [Reply("不能核实自己申报的效益,请另一位党委领导核实。")]
    if claim.status != "claimed":
        return [Reply(f"B{claim.id} 已经处理过了。")]
    action, _, reason = rest.strip().partition(" ")
    if action == "reject":
        if not text_length_ok(reason):
            return [Reply("不认可要写明原因。")]
        await services.repos.projects.decide(
            claim.id, "rejected", person.id, reason, services.now()
        )
        return [Reply(f"B{claim.id} 未核实:{reason}")]
    if action:
        return [Reply("用法:/verify B编号 [reject 原因]")]
    await services.repos.projects.decide(claim.id, "verified", person.id, "", services.now())
    return [
        Reply(
            f"B{claim.id} 已核实:{format_yuan(claim.amount_fen)}。"
            f"建议奖励:/reward P{claim.project_id:02d}"
        )
    ]


def tier_share(tiers: tuple[tuple[int | None, float], ...], total_fen: int) -> float:
    """The workers' share for a project of this verified size: the first tier it fits."""
    for up_to, share in tiers:
        if up_to is None or total_fen <= up_to:
            return share
    return tiers[-1][1]


async def proposal(services: Services, found: Project) -> tuple[int, float, int]:
    """(verified benefit not yet rewarded, workers' share, proposed reward) in fen."""
    basis = found.verified_fen - await services.repos.projects.rewarded_basis(found.id)
    share = tier_share(services.settings.reward_tiers, found.verified_fen)
    return max(basis, 0), share, int(max(basis, 0) * share)


async def reward(msg: Incoming, services: Services) -> list[Reply]:
    """奖励建议与确认:/reward P07 [confirm 工号或支部:金额,… 备注]"""
    person = msg.person
    assert person is not None
    number, _, rest = msg.args.strip().partition(" ")
    found = await _project_arg(services, number)
    if found is None:
        return [Reply("用法:/reward P07 查看建议;/reward P07 confirm E001:2000,jj1:3000 备注")]
    basis, share, proposed = await proposal(services, found)
    action, _, detail = rest.strip().partition(" ")
    if not action:
        if basis <= 0:
            return [Reply(f"{found.number} 没有待奖励的核实效益。")]
        return [
            Reply(
                f"{found.number} 待奖励的核实效益 {format_yuan(basis)};按规则职工得 "
                f"{share:.0%},建议奖励 {format_yuan(proposed)},其余归企业。\n"
                f"确认:/reward {found.number} confirm 工号或支部编号:金额,… [备注]"
            )
        ]
    if action != "confirm":
        return [Reply("用法:/reward P07 confirm E001:2000,jj1:3000 备注")]
    if basis <= 0:
        return [Reply(f"{found.number} 没有待奖励的核实效益。")]
    targets, _, note = detail.strip().partition(" ")
    recipients: list[tuple[int | None, str | None, str, int]] = []
    for item in [t for t in targets.replace(",", ",").split(",") if t]:
        who, _, amount = item.partition(":")
        fen = parse_yuan(amount)
        if isinstance(fen, str):
            return [Reply(f"“{item}”:{fen}")]
        someone = await services.repos.people.by_employee_no(who)
        branch = await services.repos.org.branch(who) if someone is None else None
        if someone is None and branch is None:
            return [Reply(f"“{who}”既不是工号也不是支部编号。")]
        recipients.append(
            (
                someone.id if someone else None,
                branch.id if branch else None,
                someone.name if someone else branch.name if branch else who,
                fen,
            )
        )
    if not recipients:
        return [Reply("请写上获奖的人或支部和金额,例如:/reward P07 confirm E001:2000,jj1:3000")]
    if sum(r[3] for r in recipients) > basis:
        return [Reply("奖励总额不能超过待奖励的核实效益。")]
    reward_id = await services.repos.projects.record_reward(
        found.id, basis, recipients, note.strip(), person.id, services.now()
    )
    for person_id, _, label, fen in recipients:
        if person_id is not None:
            await notify(
                services,
                await services.repos.people.identities_of(person_id),
                f"🎉 {label},您参与的重点项目 {found.number}「{found.title}」获得奖励 "
                f"{format_yuan(fen)}。",
                key=f"reward:{reward_id}:{person_id}",
            )
    total = sum(r[3] for r in recipients)
    return [
        Reply(
            f"已记录 {found.number} 的奖励 {format_yuan(total)}(建议 {format_yuan(proposed)})"
            f"。系统只记账,不自动发放。"
        )
    ]


async def reward_meeting_list(services: Services, since: datetime) -> str | None:
    """Projects whose benefit was verified since `since`, with their proposed rewards."""
    verified = await services.repos.projects.verified_since(since)
    if not verified:
        return None
    lines = ["🏅 安全办公会(矿长特别奖励):上次以来核实效益的重点项目"]
    for project_id in dict.fromkeys(b.project_id for b in verified):
        found = await services.repos.projects.get(project_id)
        if found is None:
            continue
        amount = sum(b.amount_fen for b in verified if b.project_id == project_id)
        basis, share, proposed = await proposal(services, found)
        lines.append(
            f"  {found.number} {found.title}:新核实 {format_yuan(amount)},"
            f"待奖励 {format_yuan(basis)},建议奖励 {format_yuan(proposed)}({share:.0%})"
        )
    return "\n".join(lines)


async def stale_projects(services: Services, now: datetime, days: int = 7) -> list[Project]:
    """Projects with no progress (or none since creation) for `days`."""
    cutoff = now - timedelta(days=days)
    return [
        p
        for p in await services.repos.projects.all()
        if (p.last_progress_at or p.created_at) < cutoff
    ]


FEATURE = Feature(
    commands=[
        Command("review", review, PROJECT_STAFF),
        Command("project", project, PROJECT_STAFF),
        Command("projects", projects, PROJECT_STAFF),
        Command("progress", progress, PROJECT_STAFF),
        Command("benefit", benefit, PROJECT_STAFF),
        Command("verify", verify, LEADERS),
        Command("reward", reward, LEADERS),
    ],
    callbacks={"r": on_button},
)
