"""What the web 看板's pages show and do, channel-neutral: the data of each page for one
person (the scope decided by `handlers.access`, as in the chat) and the review steps taken
from the browser, through the same rule functions as /review.

`bot.web` only turns these into HTTP and HTML; nothing here knows of either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from handlers import access
from handlers.money import format_yuan
from handlers.rules import charts_data, ideas, listing, names, scores
from handlers.rules import group as group_rules
from handlers.rules import projects as project_rules
from handlers.rules import review as review_rules
from handlers.rules.periods import Month
from handlers.rules.projects import text_length_ok
from handlers.services import Services
from storage import IdeaFilter, IdeaLine, Person, Project, WebSession

PAGE_SIZE = 30
"""Ideas on one page of /ideas."""


# -- the campaign at a glance -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: drawn in the browser from `data()`, and shown as a table of the same
    numbers beside it (readable without JavaScript, and by a screen reader)."""

    id: str
    title: str
    kind: str
    """'line' (the year against its target), 'stack' (stacked bars), 'bars' (grouped bars)."""
    labels: Sequence[str]
    series: Sequence[Series]
    unit: str = ""
    note: str = ""
    colours: Sequence[str] = ()
    """One per series, as the chat's image of the same chart has them (empty: the
    library's own)."""

    def data(self) -> dict[str, object]:
        return {
            "title": self.title,
            "kind": self.kind,
            "unit": self.unit,
            "colours": list(self.colours),
            "labels": list(self.labels),
            "series": [{"name": s.name, "values": list(s.values)} for s in self.series],
        }

    def rows(self) -> list[tuple[str, list[float | None]]]:
        """The table: one row per label, one column per series."""
        return [
            (label, [s.values[n] if n < len(s.values) else None for s in self.series])
            for n, label in enumerate(self.labels)
        ]


@dataclass(frozen=True, slots=True)
class Overview:
    scope: str
    year: int
    figures: Sequence[tuple[str, str]]
    """(label, value) of the headline figures."""
    charts: Sequence[Chart]


async def overview(services: Services, person: Person) -> Overview:
    """The campaign at a glance, over what the person's /stats covers: leaders the whole
    mine (the year against its target, ideas by month and category, speed and adoption by
    branch, branches ranked); anyone else their own branch (against the mine's median, never
    another branch's name)."""
    if services.group and access.is_leader(person):
        return await group_overview(services)
    branch = access.own_branch_scope(person)
    found = await scores.figures(services, branch)
    branches = await services.repos.org.branches()
    short = {b.id: names.short_branch_name(b) for b in branches}
    scope = "全矿" if branch is None else short.get(branch, branch)
    speed = await scores.speed(services, branch, scores.year_start(services))
    review_days = speed.review.median_days if speed.review is not None else None
    figures = [
        ("本月金点子", f"{found.ideas_this_month} 条"),
        ("本季度", f"{found.ideas_this_quarter} 条"),
        ("本年", f"{found.ideas_this_year} 条"),
        ("采纳率", f"{found.adoption_rate:.0%}"),
        ("首次审核用时(中位数)", "暂无" if review_days is None else f"{review_days:.1f} 天"),
        ("核实效益", format_yuan(found.verified_fen)),
    ]
    months = await charts_data.monthly_categories(services, branch, scope)
    shown = [(cid, label) for cid, label in months.categories if cid in months.counts]
    palette = charts_data.category_colours([cid for cid, _ in months.categories])
    charts = [
        Chart(
            "months",
            months.title,
            "stack",
            months.months,
            [Series(label, months.counts[cid]) for cid, label in shown],
            "条",
            colours=[palette[cid] for cid, _ in shown],
        )
    ]
    if branch is None:
        target = charts_data.year_target(services, found)
        figures.append(("年度目标完成", f"{target.done:.0%}"))
        charts.insert(
            0,
            Chart(
                "year",
                f"{found.year} 年核实效益与年度目标",
                "line",
                [f"{n}月" for n, _, _ in found.monthly],
                [
                    Series("累计核实效益", [round(v, 2) for v in target.cumulative]),
                    Series("年度目标", [round(target.target, 2)] * len(found.monthly)),
                ],
                "万元",
                f"按目前进度,年底约 {target.projected:,.1f} 万元",
                colours=(charts_data.OURS, charts_data.TARGET),
            ),
        )
        speeds = sorted(await charts_data.branch_speeds(services), key=lambda s: s.review_days)
        charts.append(
            Chart(
                "speed",
                f"{found.year} 年各支部首次审核用时与采纳率",
                "bars",
                [s.name for s in speeds],
                [
                    Series("首次审核用时(天)", [s.review_days for s in speeds]),
                    Series("采纳率(%)", [round(s.adoption * 100, 1) for s in speeds]),
                ],
            )
        )
        ranked = found.by_branch.most_common()
        charts.append(
            Chart(
                "branches",
                f"{found.year} 年各支部金点子(从多到少)",
                "bars",
                [short.get(b, b) for b, _ in ranked],
                [Series("金点子", [n for _, n in ranked])],
                "条",
            )
        )
    else:
        _, closed = await charts_data.closed_scores(services)
        measures = await charts_data.against_median(services, branch, closed or None)
        charts.append(
            Chart(
                "compare",
                f"{scope}与全矿中位数",
                "bars",
                [f"{m.label}({m.unit})" for m in measures],
                [
                    Series(scope, [_percent(m.ours, m.unit) for m in measures]),
                    Series("全矿中位数", [_percent(m.median, m.unit) for m in measures]),
                ],
                colours=(charts_data.OURS, charts_data.MEDIAN),
            )
        )
    return Overview(scope, found.year, figures, charts)


async def group_overview(services: Services) -> Overview:
    """The group office's overview, as its /stats: the group's year and every mine ranked by
    the share of its yearly target verified, each mine's figures by its own rules."""
    rows = await group_rules.mine_figures(services.group)
    year = services.local(services.now()).year
    ideas_ = sum(r.ideas for r in rows)
    adopted = sum(r.adopted for r in rows)
    verified = sum(r.verified_fen for r in rows)
    target = sum(r.target_fen for r in rows)
    figures = [
        ("矿", f"{len(rows)} 个"),
        ("本年金点子", f"{ideas_} 条"),
        ("采纳率", f"{adopted / ideas_:.0%}" if ideas_ else "0%"),
        ("核实效益", format_yuan(verified)),
        ("效益目标完成", f"{verified / target if target else 0:.0%}"),
    ]
    names_ = [r.name for r in rows]
    charts = [
        Chart(
            "mines",
            f"{year} 年各矿效益目标完成率(从高到低)",
            "bars",
            names_,
            [
                Series("完成率(%)", [round(r.done * 100, 1) for r in rows]),
                Series("采纳率(%)", [round(r.adoption * 100, 1) for r in rows]),
            ],
        ),
    ]
    ideas_chart = Series("金点子", [r.ideas for r in rows])
    charts.append(Chart("mine_ideas", f"{year} 年各矿金点子", "bars", names_, [ideas_chart], "条"))
    return Overview("集团", year, figures, charts)


def _percent(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return round(value * 100, 1) if unit == "%" else round(value, 1)


# -- ideas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdeaQuery:
    """What /ideas is asked for; every field may be empty."""

    branch: str = ""
    category: str = ""
    status: str = ""
    month: str = ""
    """YYYY-MM."""
    text: str = ""
    page: int = 1
    queue: bool = False
    """The review queue: ideas waiting for this person's first review, oldest first."""


@dataclass(frozen=True, slots=True)
class IdeaRow:
    id: int
    text: str
    category: str
    status: str
    status_label: str
    author: str
    branch: str
    submitted: str
    reviewable: bool
    """The person may review it (and it can still be reviewed)."""
    steps: frozenset[str]
    """The review steps open to it: adopt, merge, reject."""


@dataclass(frozen=True, slots=True)
class IdeaPage:
    query: IdeaQuery
    rows: Sequence[IdeaRow]
    has_next: bool
    waiting: int
    """Ideas in this person's review queue."""
    branches: Sequence[tuple[str, str]]
    """The branches the person may filter by: (id, name)."""
    categories: Sequence[tuple[str, str]]
    statuses: Sequence[tuple[str, str]]
    projects: Sequence[tuple[str, str]]
    """Key projects an idea may be adopted into: (number, title)."""
    notice: str = ""


STEPS = {"adopted": "adopt", "merged": "merge", "not_adopted": "reject"}


async def idea_page(services: Services, person: Person, query: IdeaQuery) -> IdeaPage:
    """One page of the ideas the person may see (`access.idea_scope`), filtered; or of their
    review queue (`access.review_scope`)."""
    repo = services.repos.ideas
    branches = await services.repos.org.branches()
    seen = access.visible_branches(person, branches)
    branch_options = [(b.id, b.name) for b in branches if seen is None or b.id in seen]
    review_scope = access.review_scope(person)
    waiting = await repo.count_waiting(review_scope)
    page = max(1, query.page)
    notice = ""
    if query.queue:
        found = await repo.waiting(review_scope, after=0, limit=PAGE_SIZE * page + 1)
        lines = found[PAGE_SIZE * (page - 1) :]
    else:
        request = listing.ListRequest(
            statuses=(query.status,) if query.status in ideas.STATUS_LABELS else (),
            categories=(query.category,) if query.category else (),
            branches=(query.branch,) if query.branch else (),
            month=query.month if Month.parse(query.month) is not None else None,
            words=tuple(query.text.split()),
        )
        if query.month and request.month is None:
            notice = "月份请写成 2026-11 这样的格式,这次没有按月份筛选。"
        filters: IdeaFilter = listing.storage_filter(services, request)
        scope = access.idea_scope(person, branches)
        lines = await repo.listing(
            scope, filters, limit=PAGE_SIZE + 1, offset=PAGE_SIZE * (page - 1)
        )
    rows = [_row(services, person, line) for line in lines[:PAGE_SIZE]]
    projects = [
        (p.number, p.title)
        for p in sorted(await services.repos.projects.all(), key=lambda p: p.id)
        if access.is_leader(person) or person.branch_id in p.branches
    ]
    return IdeaPage(
        query=IdeaQuery(
            query.branch, query.category, query.status, query.month, query.text, page, query.queue
        ),
        rows=rows,
        has_next=len(lines) > PAGE_SIZE,
        waiting=waiting,
        branches=branch_options,
        categories=[(c.id, c.label) for c in services.classifier.categories],
        statuses=list(ideas.STATUS_LABELS.items()),
        projects=projects,
        notice=notice,
    )


def _row(services: Services, person: Person, line: IdeaLine) -> IdeaRow:
    idea = line.idea
    nexts = ideas.NEXT_STATUSES.get(idea.status, set())
    steps = frozenset(step for status, step in STEPS.items() if status in nexts)
    return IdeaRow(
        id=idea.id,
        text=idea.text,
        category=services.category_label(idea.category),
        status=idea.status,
        status_label=ideas.status_label(idea.status),
        author=line.author_name,
        branch=listing.short_name(line.branch_name),
        submitted=services.local(idea.created_at).strftime("%Y-%m-%d"),
        reviewable=access.may_review_idea(person, idea) and bool(steps),
        steps=steps,
    )


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    found: bool
    """False: no such idea, or one the person may not review (answered alike: no
    enumeration of ids across scopes)."""
    done: bool = False
    text: str = ""


async def review_idea(
    services: Services,
    person: Person,
    idea_id: int,
    step: str,
    *,
    reason: str = "",
    target: int | None = None,
    project: str = "",
    cross_category: bool = False,
) -> ReviewOutcome:
    """One review step from the 看板's queue: adopt into a key project, merge into another
    idea, or reject with a reason. The same rules as /review: the same checks, the same
    history and the same notice to the authors (through the outbox). Call it inside the
    unit of work that records the write."""
    idea = await services.repos.ideas.get(idea_id)
    if idea is None or not access.may_review_idea(person, idea):
        return ReviewOutcome(found=False)
    if idea.status == "withdrawn":
        return ReviewOutcome(True, False, f"金点子 #{idea.id} 已经被作者撤回,不能再审核了。")
    if step == "reject":
        if not text_length_ok(reason.strip()):
            return ReviewOutcome(True, False, "不采纳要写明原因(至少两个字,500 字以内)。")
        refusal = await ideas.move(services, person, idea, "not_adopted", reason.strip())
        return _moved(idea.id, refusal, "改为“未采纳”")
    if step == "merge":
        into = await services.repos.ideas.get(target) if target is not None else None
        if into is not None and not access.may_review_idea(person, into):
            into = None  # another scope's idea is "not there", as on every page
        if not review_rules.merge_target_ok(idea, into):
            return ReviewOutcome(True, False, "请填写要合并到的另一条金点子的编号。")
        assert into is not None
        refusal = await review_rules.merge(services, person, idea, into)
        return _moved(idea.id, refusal, f"合并到 #{into.id}")
    if step == "adopt":
        found: Project | None = await project_rules.find(services, project.strip())
        if found is None:
            return ReviewOutcome(True, False, "请选择要纳入的重点项目。")
        if idea.category != found.category and not cross_category:
            return ReviewOutcome(
                True,
                False,
                f"金点子 #{idea.id} 的类别是“{services.category_label(idea.category)}”,"
                f"{found.number} 的类别是“{services.category_label(found.category)}”,两者不同。"
                "确定要纳入,请勾选“类别不同也纳入”再提交。",
            )
        text = await review_rules.adopt(services, person, idea, found)
        after = await services.repos.ideas.get(idea.id)
        return ReviewOutcome(True, after is not None and after.status == "adopted", text)
    return ReviewOutcome(True, False, "不认识这个审核动作。")


def _moved(idea_id: int, refusal: str | None, what: str) -> ReviewOutcome:
    if refusal:
        return ReviewOutcome(True, False, refusal)
    return ReviewOutcome(True, True, f"金点子 #{idea_id} 已{what},已通知作者。")


# -- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    name: str
    employee_no: str
    roles: str
    since: str
    last_seen: str
    browser: str
    own: bool = field(default=False)


async def session_rows(
    services: Services, sessions: Sequence[WebSession], current: int
) -> list[SessionRow]:
    """The mine's live 看板 sessions as an admin reads them (`current`: the reader's own)."""
    rows = []
    for s in sessions:
        person = await services.repos.people.by_id(s.person_id)
        rows.append(
            SessionRow(
                id=s.id,
                name=person.name if person else "(已不在花名册)",
                employee_no=person.employee_no if person else "",
                roles=access.role_names(r.role for r in person.roles) if person else "",
                since=_stamp(services, s.created_at),
                last_seen=_stamp(services, s.last_seen_at),
                browser=browser_name(s.user_agent),
                own=s.id == current,
            )
        )
    return rows


def _stamp(services: Services, moment: datetime) -> str:
    return services.local(moment).strftime("%Y-%m-%d %H:%M")


BROWSERS = (("Edg/", "Edge"), ("QQBrowser", "QQ浏览器"), ("MicroMessenger", "微信"),
            ("wxwork", "企业微信"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
            ("Safari/", "Safari"))  # fmt: skip
"""Tested in this order: Edge and the Chinese browsers also say Chrome and Safari."""


def browser_name(user_agent: str) -> str:
    """A browser's name an admin recognises, from its User-Agent."""
    for mark, name in BROWSERS:
        if mark in user_agent:
            return name
    return user_agent[:40] or "未知"
