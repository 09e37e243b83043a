"""Key projects in chat: /project, /projects, /progress, /benefit, /verify and
/reward; the rules are in handlers.rules.projects."""

from __future__ import annotations

from handlers import access, parsing
from handlers.messages import Member, Reply
from handlers.money import format_yuan, parse_yuan, take_amount
from handlers.router import Command, Feature, Subcommand
from handlers.rules import projects as rules
from handlers.rules.projects import NewProject, text_length_ok
from handlers.services import Services
from storage import Project, RewardShare

NEW_USAGE = (
    "用法:/project new 标题 | 类别 | 负责人工号 | 支部编号,支部编号 | 预期年效益 [| 金点子编号 …]\n"
    "例如:/project new 井下锚杆回收复用 | repair_reuse | L001 | jj1,jj2 | 50万 | 1 3"
)
LINK_USAGE = "用法:/project link P07 金点子编号 …"


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


async def project(msg: Member, services: Services) -> list[Reply]:
    """重点项目:/project new … | /project link P07 编号… | /project P07"""
    found = await rules.find(services, msg.args.strip().partition(" ")[0])
    if found is None:
        return [Reply(f"没有这个重点项目。查看全部:/projects\n{NEW_USAGE}")]
    if not rules.may_act(msg.person, found):
        return [Reply(f"{found.number} 没有本支部参与,详情请问项目负责人或党委领导。")]
    names = {b.id: b.name for b in await services.repos.org.branches()}
    lines = [_describe(services, found, names)]
    if found.idea_ids:
        lines.append("  金点子:" + "、".join(f"#{i}" for i in found.idea_ids))
    if found.rewarded_fen:
        lines.append(f"  已奖励:{format_yuan(found.rewarded_fen)}")
    return [Reply("\n".join(lines))]


async def _new(msg: Member, services: Services) -> list[Reply]:
    """建立重点项目"""
    parts = [p.strip() for p in msg.args.split("|")]
    if len(parts) not in (5, 6) or not all(parts[:5]):
        return [Reply(NEW_USAGE)]
    title, category, lead_no, branch_text, amount = parts[:5]
    if len(title) > 60:
        return [Reply("项目标题请控制在 60 字以内。")]
    if category not in {c.id for c in services.classifier.categories}:
        labels = {c.label: c.id for c in services.classifier.categories}
        if category not in labels:
            return [Reply("类别要写类别编号或名称,例如 repair_reuse 或 修旧利废。")]
        category = labels[category]
    branches = [b.strip() for b in branch_text.replace(",", ",").split(",") if b.strip()]
    refusal = await rules.check_new(services, lead_no, branches)
    if refusal:
        return [Reply(refusal)]
    fen = parse_yuan(amount)
    if isinstance(fen, str):
        return [Reply(f"预期年效益:{fen}")]
    numbers = parsing.fold_separators(parts[5]).replace(",", " ").split() if len(parts) == 6 else []
    found = await rules.unlinked_ideas(services, numbers)
    if isinstance(found, str):
        return [Reply(found)]
    created, linked = await rules.create(
        services, msg.person, NewProject(title, category, lead_no, branches, fen, found)
    )
    return [
        Reply(f"已建立重点项目 {created.number}「{title}」。" + "".join(f"\n{t}" for t in linked))
    ]


async def _link_command(msg: Member, services: Services) -> list[Reply]:
    """把金点子纳入重点项目"""
    number, _, items = msg.args.strip().partition(" ")
    found = await rules.find(services, number)
    if found is None or not items.strip():
        return [Reply(LINK_USAGE)]
    lines = []
    for item in parsing.fold_separators(items).replace(",", " ").split():
        idea_number = parsing.number(item)
        idea = await services.repos.ideas.get(idea_number) if idea_number is not None else None
        lines.append(
            f"没有编号为 {item} 的金点子。"
            if idea is None
            else await rules.link(services, msg.person, found, idea)
        )
    return [Reply("\n".join(lines))]


async def projects(msg: Member, services: Services) -> list[Reply]:
    """重点项目一览:/projects"""
    everything = await services.repos.projects.all()
    if not everything:
        return [Reply("还没有重点项目。党委领导可以用 /project new 建立。")]
    found = [p for p in everything if rules.may_act(msg.person, p)]
    if not found:
        return [Reply(f"全矿有 {len(everything)} 个重点项目,目前没有本支部参与的。")]
    names = {b.id: b.name for b in await services.repos.org.branches()}
    title = (
        f"重点项目(共 {len(found)} 个)"
        if len(found) == len(everything)
        else f"本支部参与的重点项目({len(found)} 个,全矿共 {len(everything)} 个)"
    )
    return [Reply(f"{title}:\n" + "\n".join(_describe(services, p, names) for p in found))]


async def progress(msg: Member, services: Services) -> list[Reply]:
    """报告项目进展:/progress P07 [百分比] 进展"""
    person = msg.person
    number, _, rest = msg.args.strip().partition(" ")
    found = await rules.find(services, number)
    if found is None:
        return [Reply("用法:/progress P07 [百分比] 进展,例如:/progress P07 60 已完成第一批改造")]
    if not rules.may_act(person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以报告进展。")]
    first, _, text = rest.strip().partition(" ")
    percent: int | None = None
    if parsing.looks_like_percent(first):
        percent = parsing.percent(first)
        if percent is None:
            return [Reply(f"进度百分比要在 0 到 100 之间(写整数),“{parsing.shown(first)}”不对。")]
    else:
        text = rest.strip()
    if not text_length_ok(text.strip()):
        return [Reply("请写上进展内容(500 字以内)。")]
    await rules.add_progress(services, person, found, percent, text.strip())
    return [Reply(f"已记录 {found.number} 的进展。")]


async def benefit(msg: Member, services: Services) -> list[Reply]:
    """申报项目效益:/benefit P07 金额 说明"""
    person = msg.person
    word, _, rest = msg.args.strip().partition(" ")
    found = await rules.find(services, word)
    amount, text = take_amount(rest)
    if found is None or not amount:
        if found is None and rules.project_number(word) is not None:
            return [Reply(f"还没有重点项目 {word.upper()}。查看全部:/projects")]
        return [Reply("用法:/benefit P07 金额 说明,例如:/benefit P07 4万 11月回收锚杆1740根")]
    if not rules.may_act(person, found):
        return [Reply(f"只有 {found.number} 的负责人、参与支部的书记或党委领导可以申报效益。")]
    fen = parse_yuan(amount)
    if isinstance(fen, str):
        return [Reply(fen)]
    if not text_length_ok(text):
        return [Reply("请写上效益的说明(哪个月、怎么算的)。")]
    claim = await rules.claim(services, person, found, fen, text)
    return [
        Reply(
            f"已申报 {found.number} 效益 {format_yuan(fen)}(编号 B{claim}),等待党委领导核实。"
            "只有核实后的金额才会计入。"
        )
    ]


async def verify(msg: Member, services: Services) -> list[Reply]:
    """核实效益:/verify B编号 [reject 原因]"""
    person = msg.person
    number, _, rest = msg.args.strip().partition(" ")
    claim_number = parsing.number(number, prefixes="B")
    claim = (
        await services.repos.projects.benefit(claim_number) if claim_number is not None else None
    )
    if claim is None:
        return [Reply("用法:/verify B编号 [reject 原因]")]
    refusal = rules.may_decide(person, claim)
    if refusal:
        return [Reply(refusal)]
    action, _, reason = rest.strip().partition(" ")
    if action == "reject":
        if not text_length_ok(reason):
            return [Reply("不认可要写明原因。")]
        await rules.decide(services, person, claim, verified=False, reason=reason)
        return [Reply(f"B{claim.id} 未核实:{reason}")]
    if action:
        return [Reply("用法:/verify B编号 [reject 原因]")]
    await rules.decide(services, person, claim, verified=True)
    return [
        Reply(
            f"B{claim.id} 已核实:{format_yuan(claim.amount_fen)}。"
            f"建议奖励:/reward P{claim.project_id:02d}"
        )
    ]


async def reward(msg: Member, services: Services) -> list[Reply]:
    """奖励建议与确认:/reward P07 [confirm 工号或支部:金额,… 备注]"""
    number, _, rest = msg.args.strip().partition(" ")
    found = await rules.find(services, number)
    if found is None:
        return [Reply("用法:/reward P07 查看建议;/reward P07 confirm E001:2000,jj1:3000 备注")]
    offer = await rules.proposal(services, found)
    action, _, detail = rest.strip().partition(" ")
    if not action:
        if offer.basis_fen <= 0:
            return [Reply(f"{found.number} 没有待奖励的核实效益。")]
        return [
            Reply(
                f"{found.number} 待奖励的核实效益 {format_yuan(offer.basis_fen)};按规则职工得 "
                f"{offer.share:.0%},建议奖励 {format_yuan(offer.proposed_fen)},其余归企业。\n"
                f"确认:/reward {found.number} confirm 工号或支部编号:金额,… [备注]"
            )
        ]
    if action != "confirm":
        return [Reply("用法:/reward P07 confirm E001:2000,jj1:3000 备注")]
    if offer.basis_fen <= 0:
        return [Reply(f"{found.number} 没有待奖励的核实效益。")]
    targets, note = parsing.shares(detail)
    shares: dict[tuple[int | None, str | None], RewardShare] = {}
    for who, amount in targets:
        fen = parse_yuan(amount)
        if isinstance(fen, str):
            return [Reply(f"“{parsing.shown(who)}:{parsing.shown(amount)}”:{fen}")]
        share = await rules.reward_share(services, who, fen)
        if share is None:
            return [Reply(f"“{parsing.shown(who)}”既不是工号也不是支部编号。")]
        if share.person_id == msg.person.id:
            return [Reply("不能给自己确认奖励,请另一位党委领导确认。")]
        key = (share.person_id, share.branch_id)
        if key in shares:  # named twice: one share of the sum
            share = share._replace(amount_fen=shares[key].amount_fen + fen)
        shares[key] = share
    if not shares:
        return [Reply("请写上获奖的人或支部和金额,例如:/reward P07 confirm E001:2000,jj1:3000")]
    refusal = await rules.record_reward(
        services, msg.person, found, offer.basis_fen, list(shares.values()), note
    )
    if refusal:
        return [Reply(refusal)]
    total = sum(r.amount_fen for r in shares.values())
    return [
        Reply(
            f"已记录 {found.number} 的奖励 {format_yuan(total)}"
            f"(建议 {format_yuan(offer.proposed_fen)})。系统只记账,不自动发放。"
        )
    ]


FEATURE = Feature(
    commands=[
        Command(
            "project",
            project,
            access.PROJECT_STAFF,
            subcommands=(
                Subcommand(
                    "new",
                    _new,
                    "/project new 标题 | 类别 | 负责人工号 | 支部编号,… | 预期年效益"
                    " [| 金点子编号 …]",
                    access.LEADERS,
                    "只有党委领导可以建立重点项目。",
                ),
                Subcommand(
                    "link",
                    _link_command,
                    "/project link P07 金点子编号 …",
                    access.LEADERS,
                    "只有党委领导可以把金点子纳入重点项目。",
                ),
            ),
        ),
        Command("projects", projects, access.PROJECT_STAFF),
        Command("progress", progress, access.PROJECT_STAFF),
        Command("benefit", benefit, access.PROJECT_STAFF),
        Command("verify", verify, access.LEADERS),
        Command("reward", reward, access.LEADERS),
    ],
)
