"""The web 看板's data and writes: one more face over the same rules as the chat.

Every function takes the services and the person looking, and returns only what that person
may see in chat, as handlers/access.py decides: the same predicates the chat commands ask.
An id outside the viewer's scope reads exactly like a missing one (None, or `NotFound` with
the same words), so a page cannot be used to find out which ids exist in other branches.

Writes go through the rule functions the chat commands use (handlers/rules/), so the same
checks apply, the same notices are queued and the same ledger rows record who did it; each
write is one transaction, and the outbox sender is woken after it as after a chat update.
Nothing here renders HTML or knows of HTTP: the web server (bot/web/) draws these results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from handlers import access, parsing
from handlers.quarter_pack import build as build_pack
from handlers.quarter_pack import pack_file_name
from handlers.rules import projects as project_rules
from handlers.rules import quarterly, rewards, scores, supervision
from handlers.rules.periods import Month, Quarter
from handlers.rules.quarter_pack import BranchPack, pack
from handlers.rules.quarterly import Flag
from handlers.rules.scores import PART_LABELS, PARTS
from handlers.services import Services
from storage import Branch, Department, Finding, Person, Project


class NotFound(LookupError):
    """An id that is missing or outside the viewer's scope: the two read the same."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _wrote(services: Services) -> None:
    """Wake the outbox sender after a write that may have queued notices (as the router does
    after an update)."""
    services.outbox_signal.set()


# -- 1. key projects as a board -----------------------------------------------------------

COLUMNS = ("not_started", "in_progress", "stalled", "done")
COLUMN_LABELS = {
    "not_started": "未开始",
    "in_progress": "推进中",
    "stalled": "停滞",
    "done": "已完成",
}
"""The board's columns, the way the case follows its projects: weekly dispatching moves them
on, and one with no progress for `stalled_days` is the quarterly review's 停滞 project."""


@dataclass(frozen=True, slots=True)
class BoardKeyPoint:
    title: str
    branch_id: str
    owner: str
    """The owning branch's name, with its party group (党小组) when a group owns it."""
    due_month: str
    percent: int | None
    """None: nothing reported on it yet."""
    last_text: str | None


@dataclass(frozen=True, slots=True)
class BoardKpi:
    name: str
    unit: str
    baseline: str
    target: str
    current: str | None
    done_percent: int | None
    """How far from baseline to target the current value has come (may pass 100 or go
    below 0); None before any value."""


@dataclass(frozen=True, slots=True)
class BoardProject:
    id: int
    number: str
    """'P07', as the chat names it."""
    title: str
    category: str
    category_label: str
    lead_id: int
    lead_name: str
    branches: tuple[tuple[str, str], ...]
    """(branch id, name) of the branches that take part."""
    key_points: tuple[BoardKeyPoint, ...]
    percent: int | None
    """The latest overall progress reported; None before any."""
    last_progress: str | None
    last_progress_at: datetime | None
    """Local time."""
    kpis: tuple[BoardKpi, ...]
    expected_fen: int
    verified_fen: int
    reward_proposed_fen: int
    """What the tier rule proposes for verified benefit not yet rewarded nor set aside."""
    reward_confirmed_fen: int
    """Rewards leaders have confirmed."""
    column: str
    """One of COLUMNS."""


@dataclass(frozen=True, slots=True)
class ProjectColumn:
    id: str
    label: str
    projects: tuple[BoardProject, ...]


@dataclass(frozen=True, slots=True)
class ProjectsBoard:
    columns: tuple[ProjectColumn, ...]
    """Every column of COLUMNS, in that order, empty ones included (a board keeps its shape)."""
    shown: int
    """Projects on the board after the filters."""
    in_scope: int
    """Projects the viewer may see at all."""
    total: int
    """Projects of the whole mine (the chat says "全矿共 N 个" too)."""


def _column(project: Project, points: Sequence[BoardKeyPoint], stalled: set[int]) -> str:
    if project.last_percent == 100:
        return "done"
    if project.id in stalled:
        return "stalled"
    if project.last_percent is None and all(k.percent is None for k in points):
        return "not_started"
    return "in_progress"


def _sees_projects(viewer: Person) -> bool:
    """/projects is for leaders and secretaries (a project's lead is a leader)."""
    return access.holds(viewer, access.PROJECT_STAFF)


async def projects_board(
    services: Services,
    viewer: Person,
    *,
    lead_id: int | None = None,
    branch_id: str | None = None,
    category: str | None = None,
) -> ProjectsBoard | None:
    """The key projects the viewer may see in chat (/projects: leaders all; a project's lead
    and the secretaries of its branches theirs), as columns, filtered by lead, branch or
    category when given; None for those the chat refuses /projects."""
    if not _sees_projects(viewer):
        return None
    everything = await services.repos.projects.all()
    seen = [p for p in everything if project_rules.may_act(viewer, p)]
    found = [
        p
        for p in seen
        if (lead_id is None or p.lead_id == lead_id)
        and (branch_id is None or branch_id in p.branches)
        and (category is None or p.category == category)
    ]
    cards: dict[str, list[BoardProject]] = {c: [] for c in COLUMNS}
    for card in await _cards(services, found):
        cards[card.column].append(card)
    columns = tuple(ProjectColumn(c, COLUMN_LABELS[c], tuple(cards[c])) for c in COLUMNS)
    return ProjectsBoard(columns, len(found), len(seen), len(everything))


async def board_project(services: Services, viewer: Person, project_id: int) -> BoardProject | None:
    """One project's card; None when it is missing or not the viewer's to see (the same)."""
    project = await services.repos.projects.get(project_id)
    if project is None or not _sees_projects(viewer) or not project_rules.may_act(viewer, project):
        return None
    (card,) = await _cards(services, [project], one=project.id)
    return card


async def _cards(
    services: Services, found: Sequence[Project], one: int | None = None
) -> list[BoardProject]:
    """The board's cards of `found` (key points and KPIs read for `one` project only when
    given, else for all at once)."""
    repos = services.repos
    names = {b.id: b.name for b in await repos.org.branches()}
    points_of: dict[int, list[BoardKeyPoint]] = {}
    group_names: dict[int, str] = {}
    for point in await repos.projects.key_points(one):
        owner = names.get(point.branch_id, point.branch_id)
        if point.group_id is not None:
            if point.group_id not in group_names:
                group = await repos.party_groups.group(point.group_id)
                group_names[point.group_id] = group.name if group is not None else ""
            owner += group_names[point.group_id]
        points_of.setdefault(point.project_id, []).append(
            BoardKeyPoint(
                point.title,
                point.branch_id,
                owner,
                point.due_month,
                point.percent,
                point.last_text,
            )
        )
    kpis_of: dict[int, list[BoardKpi]] = {}
    for kpi in await repos.projects.kpis(one):
        done = project_rules.kpi_done(kpi)
        kpis_of.setdefault(kpi.project_id, []).append(
            BoardKpi(
                kpi.name,
                kpi.unit,
                kpi.baseline,
                kpi.target,
                kpi.current,
                project_rules.percent_of(done) if done is not None else None,
            )
        )
    stale = await project_rules.stale_projects(
        services, services.now(), services.settings.stalled_days
    )
    stalled = {p.id for p in stale}
    cards = []
    for project in found:
        points = points_of.get(project.id, [])
        proposal = await rewards.proposal(services, project)
        cards.append(
            BoardProject(
                id=project.id,
                number=project.number,
                title=project.title,
                category=project.category,
                category_label=services.category_label(project.category),
                lead_id=project.lead_id,
                lead_name=project.lead_name,
                branches=tuple((b, names.get(b, b)) for b in project.branches),
                key_points=tuple(points),
                percent=project.last_percent,
                last_progress=project.last_progress,
                last_progress_at=(
                    services.local(project.last_progress_at) if project.last_progress_at else None
                ),
                kpis=tuple(kpis_of.get(project.id, [])),
                expected_fen=project.expected_benefit_fen,
                verified_fen=project.verified_fen,
                reward_proposed_fen=proposal.proposed_fen,
                reward_confirmed_fen=project.rewarded_fen,
                column=_column(project, points, stalled),
            )
        )
    return cards


# -- 2. findings by department ------------------------------------------------------------

STATES = ("open", "escalated", "decided", "overdue", "done")
STATE_LABELS = {
    "open": "未解决",
    "escalated": "待党委协调",
    "decided": "例会已决定",
    "overdue": "已逾期",
    "done": "已解决",
}


def finding_state(finding: Finding, today: str) -> str:
    """Where a finding stands (one of STATES): overdue wins over decided, a decision over an
    escalation, as the Monday meeting follows them."""
    if finding.status != "open":
        return "done"
    if supervision.overdue(finding, today):
        return "overdue"
    if finding.decision:
        return "decided"
    if finding.escalated:
        return "escalated"
    return "open"


@dataclass(frozen=True, slots=True)
class BoardFinding:
    id: int
    branch_id: str
    branch_name: str
    department_id: str
    department_name: str
    """The supervising department."""
    text: str
    state: str
    """One of STATES."""
    state_label: str
    opened_at: datetime
    """Local time."""
    decision: str | None
    assigned_department: str | None
    assigned_department_name: str | None
    due: str | None
    """YYYY-MM-DD, local."""


@dataclass(frozen=True, slots=True)
class DepartmentFindings:
    department_id: str
    name: str
    counts: tuple[tuple[str, int], ...]
    """(state, findings) for every state of STATES, in that order, zeros included."""
    findings: tuple[BoardFinding, ...]
    """Oldest first."""


@dataclass(frozen=True, slots=True)
class FindingsBoard:
    departments: tuple[DepartmentFindings, ...]
    """The configured departments that have findings in the viewer's scope and filters."""
    counts: tuple[tuple[str, int], ...]
    """(state, findings) over all departments shown."""


FINDINGS_LIMIT = 100_000
"""Every finding of a mine: a year of weekly visits is a few thousand."""


async def findings_board(
    services: Services,
    viewer: Person,
    *,
    department_id: str | None = None,
    state: str | None = None,
    month: Month | None = None,
) -> FindingsBoard | None:
    """The findings the viewer may see in chat (/findings: leaders all, a supervisor their
    department's branches and those the meeting assigned to it, a secretary their branch),
    by supervising department, filtered by department, state (STATES) and the local month
    they were raised in; None for those the chat refuses /findings."""
    if not access.holds(viewer, access.STAFF):
        return None
    repos = services.repos
    allowed = await supervision.scope(services, viewer)
    everything = await repos.findings.search(
        branches=None, include_resolved=True, limit=FINDINGS_LIMIT
    )
    today = services.local(services.now()).date().isoformat()
    branches = {b.id: b.name for b in await repos.org.branches()}
    departments = list(await repos.org.department_names())
    dept_names = {d.id: d.name for d in departments}
    rows: dict[str, list[BoardFinding]] = {}
    for finding in everything:
        if not supervision.in_scope(viewer, allowed, finding):
            continue
        if department_id is not None and finding.department_id != department_id:
            continue
        opened = services.local(finding.created_at)
        if month is not None and Month.of(opened) != month:
            continue
        if state is not None and finding_state(finding, today) != state:
            continue
        rows.setdefault(finding.department_id, []).append(
            _board_finding(finding, services, branches, dept_names, today)
        )
    order = [d.id for d in departments] + sorted(set(rows) - set(dept_names))
    shown = []
    total: Counter[str] = Counter()
    for dept in order:
        if dept not in rows:
            continue
        counted = Counter(f.state for f in rows[dept])
        total.update(counted)
        shown.append(
            DepartmentFindings(
                dept,
                dept_names.get(dept, dept),
                tuple((s, counted[s]) for s in STATES),
                tuple(rows[dept]),
            )
        )
    return FindingsBoard(tuple(shown), tuple((s, total[s]) for s in STATES))


async def board_finding(services: Services, viewer: Person, finding_id: int) -> BoardFinding | None:
    """One finding as the board shows it (for a page that decides it); None when it is missing
    or outside the viewer's scope, as /findings 编号 answers both alike."""
    if not access.holds(viewer, access.STAFF):
        return None
    finding = await supervision.visible(services, viewer, finding_id)
    if finding is None:
        return None
    repos = services.repos
    branches = {b.id: b.name for b in await repos.org.branches()}
    departments = {d.id: d.name for d in await repos.org.department_names()}
    today = services.local(services.now()).date().isoformat()
    return _board_finding(finding, services, branches, departments, today)


# -- 3. monthly scores and the entry grid ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScorePart:
    part: str
    label: str
    value: float | None
    entered_by: str | None
    """The name of who entered the value that counts (the latest entry)."""
    entered_at: datetime | None
    """Local time."""


@dataclass(frozen=True, slots=True)
class BoardScore:
    branch_id: str
    name: str
    parts: tuple[ScorePart, ...]
    """Every part of PARTS, in that order."""
    project: float | None
    """The key-project part (自评, 部门, 领导 weighted)."""
    total: float | None
    rank: int | None
    change: float | None
    """From the month before."""
    missing: tuple[str, ...]
    """Labels of the parts not entered yet."""
    comment: str


@dataclass(frozen=True, slots=True)
class MonthScores:
    month: str
    closed: bool
    project_weight: float
    part_weights: tuple[tuple[str, float], ...]
    ranked_of: int
    """How many branches of the whole mine have a total: a rank reads "of N"."""
    branches: tuple[BoardScore, ...]
    """The branches in the viewer's scope, best first, those without a total last."""


async def monthly_scores(services: Services, viewer: Person, month: Month) -> MonthScores | None:
    """The month's 100-point scores of the branches the viewer sees in chat (/score: leaders
    every branch, a supervisor their department's, a secretary their own); None for someone
    the chat does not show scores to."""
    if not access.holds(viewer, access.STAFF):
        return None
    repos = services.repos
    found = await scores.month_scores(services, month)
    of = scores.ranked_count(found)
    allowed = access.visible_branches(viewer, await repos.org.branches())
    if allowed is not None:
        found = [s for s in found if s.branch_id in allowed]
    who = await repos.scores.entered_by(str(month))
    settings = services.settings
    shown = []
    for s in found:
        parts = []
        for part in PARTS:
            name, at = who.get((s.branch_id, part), (None, None))
            parts.append(
                ScorePart(
                    part,
                    PART_LABELS[part],
                    s.parts.get(part),
                    name or None,
                    services.local(at) if at is not None else None,
                )
            )
        shown.append(
            BoardScore(
                s.branch_id,
                s.name,
                tuple(parts),
                s.project,
                s.total,
                s.rank,
                s.change,
                tuple(PART_LABELS[p] for p in s.missing),
                s.comment,
            )
        )
    return MonthScores(
        str(month),
        await repos.scores.is_closed(str(month)),
        settings.project_weight,
        settings.part_weights,
        of,
        tuple(shown),
    )


@dataclass(frozen=True, slots=True)
class GridCell:
    part: str
    label: str
    value: float | None
    """The value that counts now; None when not entered."""


@dataclass(frozen=True, slots=True)
class GridRow:
    branch_id: str
    name: str
    cells: tuple[GridCell, ...]
    """Only the parts this viewer may enter for this branch, in PARTS order."""


@dataclass(frozen=True, slots=True)
class ScoreGrid:
    month: str
    refusal: str | None
    """Why the month takes no entries (not yet come, closed), or None: then rows are shown
    read-only."""
    parts: tuple[tuple[str, str], ...]
    """(part, label) of the grid's columns: the parts the viewer may enter anywhere."""
    rows: tuple[GridRow, ...]
    """The branches with at least one cell the viewer may enter (`_grid_branches`)."""


def _grid_branches(viewer: Person, branches: Sequence[Branch]) -> list[Branch]:
    """The branches with a cell the viewer may enter: the grid's rows, in the order branches
    are listed (by id), which the row numbers of entry messages count."""
    return [b for b in branches if any(access.may_enter_score(viewer, p, b) for p in PARTS)]


async def score_grid(services: Services, viewer: Person, month: Month) -> ScoreGrid:
    """Which (branch, part) cells of `month` the viewer may enter, with their current values:
    a secretary their branch's 自评, a supervisor their department's branches' 部门评价, a
    leader every branch's 基础分, 部门评价 and 领导评价 (access.may_enter_score)."""
    repos = services.repos
    current = await repos.scores.month(str(month))
    rows = []
    columns: set[str] = set()
    for branch in _grid_branches(viewer, await repos.org.branches()):
        cells = tuple(
            GridCell(part, PART_LABELS[part], current.get(branch.id, {}).get(part))
            for part in PARTS
            if access.may_enter_score(viewer, part, branch)
        )
        columns.update(c.part for c in cells)
        rows.append(GridRow(branch.id, branch.name, cells))
    return ScoreGrid(
        str(month),
        await scores.month_refusal(services, month),
        tuple((p, PART_LABELS[p]) for p in PARTS if p in columns),
        tuple(rows),
    )


@dataclass(frozen=True, slots=True)
class CellProblem:
    index: int
    """1-based position of the cell in what was submitted."""
    row: int | None
    """The branch's row in the viewer's grid (`score_grid`'s rows, 1-based), as the page
    shows it; None for a branch that is not on the viewer's grid (missing or not theirs)."""
    branch_id: str
    part: str
    message: str
    """Polite Chinese, naming the row, the branch and the part."""


@dataclass(frozen=True, slots=True)
class EnteredCell:
    row: int
    """The branch's row in the viewer's grid, 1-based."""
    branch_id: str
    branch_name: str
    part: str
    value: float
    previous: float | None
    """The value it replaced; None when the cell was empty."""


@dataclass(frozen=True, slots=True)
class ScoreEntry:
    month: str
    refusal: str | None
    """Why nothing at all was entered (the month not yet come or closed), or None."""
    entered: tuple[EnteredCell, ...]
    unchanged: int
    """Cells given with the value they already had, or left empty: not entered again, so
    the ledger's "who entered it" stays with who really did."""
    problems: tuple[CellProblem, ...]

    @property
    def message(self) -> str:
        """One line for the page's banner."""
        if self.refusal:
            return self.refusal
        said = f"已记录 {len(self.entered)} 项分数"
        if self.problems:
            said += f",{len(self.problems)} 项有问题未记录,请改正后再提交"
        return said + "。"


Cell = tuple[str, str, str]
"""(branch id, part, the value as typed: '85', '92.5', '85分', optionally with a note
after it as in chat, '85 项目推进快')."""


async def enter_scores(
    services: Services, viewer: Person, month: Month, cells: Sequence[Cell]
) -> ScoreEntry:
    """Enter a grid of scores: each cell checked on its own, the good ones entered through
    the chat's rule (scores.enter), the bad ones answered each with its own message.

    Per cell rather than all-or-nothing: an office entering 42 branches in one go should not
    lose 41 good figures to one mistyped one; each cell is an independent ledger entry, just
    as one /score command enters one part of one branch, and the page shows the bad cells
    again with what was typed. The month itself is checked once: a closed month takes
    nothing. The good cells commit together in one transaction.

    Notices: entering a part in chat (/score self|dept|leader|base) tells nobody; the month's
    notice with the rank goes to each branch group when the month is closed (/score close or
    the 1st's job). The grid enters through the same rule, so it tells nobody either, and the
    close that follows announces the grid's figures like any other. A value that differs from
    the one entered replaces it at once (the chat asks first; the grid showed the old value
    and `EnteredCell.previous` says what was replaced)."""
    refusal = await scores.month_refusal(services, month)
    if refusal:
        return ScoreEntry(str(month), refusal, (), 0, ())
    repos = services.repos
    listed = await repos.org.branches()
    branches = {b.id: b for b in listed}
    rows = {b.id: n for n, b in enumerate(_grid_branches(viewer, listed), start=1)}
    current = await repos.scores.month(str(month))
    problems: list[CellProblem] = []
    good: list[tuple[int, Branch, str, float, str]] = []
    unchanged = 0
    seen: set[tuple[str, str]] = set()
    for index, (branch_id, part, typed) in enumerate(cells, start=1):
        branch = branches.get(branch_id)
        label = PART_LABELS.get(part, "")
        row = rows.get(branch_id)
        if (
            branch is None
            or row is None
            or (label and not access.may_enter_score(viewer, part, branch))
        ):
            # a branch the viewer may not score reads like one that does not exist
            what = label or "分数"
            problems.append(
                CellProblem(
                    index,
                    None,
                    branch_id,
                    part,
                    f"第{index}项:没有找到您可以录入{what}的支部“{parsing.shown(branch_id)}”。",
                )
            )
            continue
        if not label:
            problems.append(
                CellProblem(
                    index,
                    row,
                    branch_id,
                    part,
                    f"第{row}行 {branch.name}:没有“{parsing.shown(part)}”这一项,"
                    f"可以填写的是{'、'.join(PART_LABELS.values())}。",
                )
            )
            continue
        where = f"第{row}行 {branch.name} {label}"
        if (branch.id, part) in seen:
            problems.append(
                CellProblem(index, row, branch.id, part, f"{where}:填写了两次,请只填写一次。")
            )
            continue
        seen.add((branch.id, part))
        figure, note = parsing.split_field(parsing.fold(typed))
        if not figure:
            unchanged += 1  # an empty cell leaves the score as it is
            continue
        value = scores.read_score(figure)
        if isinstance(value, str):
            problems.append(CellProblem(index, row, branch.id, part, f"{where}:{value}"))
            continue
        if current.get(branch.id, {}).get(part) == value and not note:
            unchanged += 1
            continue
        good.append((row, branch, part, value, note[:200]))
    entered = []
    if good:
        try:
            async with repos.db.transaction():
                for row, branch, part, value, note in good:
                    why = await scores.enter(
                        services, viewer.id, branch.id, month, part, value, note
                    )
                    if why:  # closed meanwhile: the whole grid is refused alike
                        raise _Closed(why)
                    previous = current.get(branch.id, {}).get(part)
                    entered.append(EnteredCell(row, branch.id, branch.name, part, value, previous))
        except _Closed as closed:
            return ScoreEntry(str(month), str(closed), (), 0, ())
        _wrote(services)
    return ScoreEntry(str(month), None, tuple(entered), unchanged, tuple(problems))


class _Closed(Exception):
    """The month was closed between the check and the entry: nothing is kept."""


# -- 4. the Monday meeting's agenda -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgendaItem:
    finding: BoardFinding
    days_open: int
    may_decide: bool
    """Whether this viewer may record the meeting's decision on it (a leader)."""


@dataclass(frozen=True, slots=True)
class AgendaSection:
    department_id: str
    name: str
    items: tuple[AgendaItem, ...]
    """By branch, oldest first within a branch."""


@dataclass(frozen=True, slots=True)
class Agenda:
    sections: tuple[AgendaSection, ...]
    """Escalated findings and those open longer than `long_open_days`, by department."""
    pending: tuple[BoardFinding, ...]
    """Decided at an earlier meeting, still open and not yet due: followed up."""
    departments: tuple[tuple[str, str], ...]
    """(id, name) of every department: the choices for a decision's 责任部门."""
    may_decide: bool


def _board_finding(
    finding: Finding,
    services: Services,
    branches: dict[str, str],
    departments: dict[str, str],
    today: str,
) -> BoardFinding:
    state = finding_state(finding, today)
    assigned = finding.assigned_department
    return BoardFinding(
        id=finding.id,
        branch_id=finding.branch_id,
        branch_name=branches.get(finding.branch_id, finding.branch_id),
        department_id=finding.department_id,
        department_name=departments.get(finding.department_id, finding.department_id),
        text=finding.text,
        state=state,
        state_label=STATE_LABELS[state],
        opened_at=services.local(finding.created_at),
        decision=finding.decision,
        assigned_department=assigned,
        assigned_department_name=departments.get(assigned, assigned) if assigned else None,
        due=finding.decision_due,
    )


async def agenda(services: Services, viewer: Person) -> Agenda | None:
    """The Monday political-work meeting's agenda as /agenda shows it to the viewer (leaders
    the whole agenda, a supervisor their department's part); None for those the chat does
    not show it to."""
    if not access.holds(viewer, access.OVERSIGHT):
        return None
    repos = services.repos
    now = services.now()
    scope = supervision.agenda_scope(viewer)
    sections = await supervision.build_agenda(services, now, scope)
    pending = await supervision.decided_pending(services, now, scope)
    today = services.local(now).date().isoformat()
    branches = {b.id: b.name for b in await repos.org.branches()}
    departments = list(await repos.org.department_names())
    names = {d.id: d.name for d in departments}
    decides = access.may_decide_finding(viewer)
    shown = tuple(
        AgendaSection(
            section.department_id,
            section.name,
            tuple(
                AgendaItem(
                    _board_finding(f, services, branches, names, today),
                    (now - f.created_at).days,
                    decides,
                )
                for part in section.branches
                for f in part.findings
            ),
        )
        for section in sections
    )
    return Agenda(
        shown,
        tuple(_board_finding(p.finding, services, branches, names, today) for p in pending),
        tuple((d.id, d.name) for d in departments),
        decides,
    )


@dataclass(frozen=True, slots=True)
class Decided:
    ok: bool
    message: str
    """The chat's own reply: what was recorded and who was told, or why not."""


def _no_finding(finding_id: int) -> NotFound:
    return NotFound(f"没有找到您负责范围内编号为 #{finding_id} 的问题。")


async def decide_agenda_item(
    services: Services,
    viewer: Person,
    finding_id: int,
    decision: str,
    department_id: str,
    due: str,
) -> Decided:
    """Record the Monday meeting's decision on a finding through the chat's rule
    (supervision.decide): the same checks, and the branch's secretaries, its group and the
    assigned department told as after /findings decide. Raises NotFound, with the chat's
    words, for a finding missing or outside the viewer's scope."""
    finding = await supervision.visible(services, viewer, finding_id)
    if finding is None:
        raise _no_finding(finding_id)
    names = dict(await services.repos.org.department_names())
    if department_id not in names:
        listed = "、".join(names.values())
        return Decided(False, f"请选择责任部门,可选:{listed}。")
    day = supervision.parse_due(due)
    if day is None:
        return Decided(False, f"“{parsing.shown(due)}”不是日期,请写成 2026-12-15。")
    repos = services.repos
    async with repos.db.transaction():
        before = await _decisions(services, finding.id)
        said = await supervision.decide(
            services,
            viewer,
            finding,
            decision.strip(),
            Department(department_id, names[department_id]),
            day,
        )
        ok = await _decisions(services, finding.id) > before
    if ok:
        _wrote(services)
    return Decided(ok, said)


async def _decisions(services: Services, finding_id: int) -> int:
    """How many decisions the finding's history holds: did this one go in?"""
    history = await services.repos.findings.history(finding_id)
    return sum(1 for e in history if e.action == "decide")


# -- 5. the quarterly review pack ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuarterPackView:
    quarter: str
    """'2026-Q4'."""
    label: str
    """'2026 年第四季度'."""
    due: str
    """When the secretaries' reports are due, as people read it ('1 月 10 日前')."""
    month_labels: tuple[str, str, str]
    branches: tuple[BranchPack, ...]
    """Per branch: the three monthly totals with average and rank, its reports on each key
    project (with the leaders' comments, or missing), findings, visits, verified benefit and
    flags; for a secretary their own branch only."""
    weakest: tuple[Flag, ...]
    """The lowest branches by the quarter's average, who explain themselves at the meeting."""
    stalled: tuple[Flag, ...]
    """Per branch of a key project with no progress for `stalled_days` (`project` set)."""
    reports_due: int
    reports_in: int
    may_download: bool
    """Whether `quarter_pack_file` gives this viewer the workbook (leaders, as in chat)."""


async def quarter_pack_view(
    services: Services, viewer: Person, quarter: Quarter | None = None
) -> QuarterPackView | None:
    """What the quarterly review pack holds for `quarter` (default: the quarter under review,
    as /quarter pack takes it), from the same rule that builds the chat's pack. Leaders read
    every branch; a secretary their own branch's part, as /quarter shows it them; None for
    anyone else, and for a quarter that has not begun."""
    if not (access.is_leader(viewer) or access.is_secretary(viewer)):
        return None
    reviewed = quarterly.under_review(services.local(services.now()))
    period = quarter or reviewed
    if period > reviewed.next():
        return None
    found = await pack(services, period)
    branches = found.branches
    if not access.is_leader(viewer):
        branches = [b for b in branches if b.branch.id == viewer.branch_id]
    flags = [f for b in branches for f in b.flags]
    return QuarterPackView(
        str(period),
        quarterly.label(period),
        quarterly.due_text(services, period),
        found.month_labels,
        tuple(branches),
        tuple(f for f in flags if f.project is None),
        tuple(f for f in flags if f.project is not None),
        sum(len(b.reports) for b in branches),
        sum(b.reported for b in branches),
        access.is_leader(viewer),
    )


@dataclass(frozen=True, slots=True)
class PackDownload:
    file_name: str
    """The name the chat's document carries ('2026-Q4-季度讲评会材料.xlsx')."""
    path: Path
    """The workbook the chat sends, written under `chart_dir` (a new one replaces it)."""
    chart: Path | None
    """The quarter's chart image; None when fewer than two branches are scored."""


async def quarter_pack_file(
    services: Services, viewer: Person, quarter: Quarter | None = None
) -> PackDownload | None:
    """The pack's workbook, built exactly as /quarter pack builds it, for a download; leaders
    only, as in chat (None for anyone else, and for a quarter that has not begun)."""
    if not access.is_leader(viewer):
        return None
    reviewed = quarterly.under_review(services.local(services.now()))
    period = quarter or reviewed
    if period > reviewed.next():
        return None
    files = await build_pack(services, period)
    return PackDownload(pack_file_name(period), files.workbook, files.chart)
