"""Plain records the repositories return, and named rows for the smaller queries.

The rows are `NamedTuple`s so that callers written for bare tuples keep unpacking them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Branch:
    id: str
    name: str
    department_id: str


@dataclass(frozen=True, slots=True)
class Role:
    """A role held by a person; `department_id` is set for supervisors only."""

    role: str
    department_id: str | None = None

    def __str__(self) -> str:
        return f"{self.role}:{self.department_id}" if self.department_id else self.role


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    employee_no: str
    name: str
    branch_id: str
    wecom_userid: str | None
    roles: tuple[Role, ...] = ()

    def has_role(self, *names: str) -> bool:
        return any(r.role in names for r in self.roles)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    employee_no: str
    name: str
    branch_id: str
    roles: tuple[Role, ...]
    """Every role the person holds (at least one; one per role name)."""
    wecom_userid: str | None
    phone: str | None = None
    """Digits only, without the country code; matched to a phone shared in chat."""
    party_group: str | None = None
    """The name of the person's party group (党小组) in their branch; None leaves it as it is."""


@dataclass(frozen=True, slots=True)
class PartyGroup:
    """A party group (党小组) of one branch: its name is unique within the branch.

    Other records refer to a group by `id`; people name it within a branch ("一组")."""

    id: int
    branch_id: str
    name: str


class MemberActivity(NamedTuple):
    """One person of a branch with their party group and their ideas since a date."""

    person_id: int
    employee_no: str
    name: str
    group_id: int | None
    ideas: int
    adopted: int


class DepartmentName(NamedTuple):
    id: str
    name: str


class Recipient(NamedTuple):
    """Where a person or a group is reached: a private chat's id is the person's external id."""

    channel: str
    chat_id: str


@dataclass(frozen=True, slots=True)
class Idea:
    id: int
    author_id: int
    branch_id: str
    text: str
    category: str
    confidence: float
    confirmed: bool
    status: str
    channel: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IdeaScope:
    """Which ideas a person may see: those of `branches` (None: of every branch) and, when
    `author_id` is set, that person's own ideas besides."""

    branches: tuple[str, ...] | None
    author_id: int | None = None


@dataclass(frozen=True, slots=True)
class IdeaFilter:
    """What a list asks for within a scope; an empty field asks nothing of its column."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    """Created from `since` (inclusive) to `until` (exclusive)."""
    terms: tuple[str, ...] = ()
    """Words of the similarity index every idea listed holds."""


class IdeaLine(NamedTuple):
    """An idea with the names a list shows beside it."""

    idea: Idea
    author_name: str
    branch_name: str


class SavedList(NamedTuple):
    """The filter behind a list's paging buttons, and whose list it is."""

    person_id: int
    filter: str


class IdeaEvent(NamedTuple):
    """One status change of an idea."""

    status: str
    reason: str
    actor_name: str
    at: datetime


class CategoryCorrection(NamedTuple):
    """A person's change of an idea's category: a labelled example for training."""

    text: str
    old_category: str
    new_category: str


class IdeaText(NamedTuple):
    id: int
    text: str


class TermMatch(NamedTuple):
    """An indexed idea and its space-separated terms."""

    idea_id: int
    terms: str


class TermFrequencies(NamedTuple):
    """How many ideas are indexed, and in how many of them each term occurs."""

    documents: int
    by_term: dict[str, int]


class IdeaFact(NamedTuple):
    created_at: datetime
    category: str
    branch_id: str
    status: str


class SpeedFigure(NamedTuple):
    """How many days ideas took to reach a step: their count, mean and median."""

    branch_id: str | None
    """None for every branch in scope together."""
    step: str
    """'review' (the first change away from submitted) or 'adopted' (the first to adopted)."""
    ideas: int
    mean_days: float
    median_days: float


class WaitingIdea(NamedTuple):
    """An idea still waiting for its first review."""

    id: int
    branch_id: str
    created_at: datetime


class IdeaGroup(NamedTuple):
    """Ideas of one category and branch, and how many of them are adopted."""

    category: str
    branch_id: str
    ideas: int
    adopted: int


class BranchIdeaCounts(NamedTuple):
    """A branch's ideas since a moment, and those waiting for a first review."""

    new: int
    waiting: int


class BenefitSum(NamedTuple):
    """Verified benefit (fen) whose verification falls in one bucket of a period."""

    bucket: int
    amount_fen: int


class ScorePart(NamedTuple):
    """The latest value of one part of one branch's month."""

    month: str
    branch_id: str
    part: str
    value: float


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    idea_id: int | None
    kind: str
    file_ref: str


@dataclass(frozen=True, slots=True)
class Conversation:
    state: str
    data: dict[str, Any] = field(default_factory=dict)


class PendingUpdate(NamedTuple):
    update_id: str
    raw: str


class FailedUpdate(NamedTuple):
    """An update set aside after its last failed try (for `jindianzi status`)."""

    channel: str
    update_id: str
    attempts: int
    error: str
    at: datetime | None


class JobRun(NamedTuple):
    job: str
    period: str
    status: str
    ran_at: datetime
    notices: int


class MenuChoice(NamedTuple):
    """A numbered answer to a menu: the button's callback data and the menu's reference."""

    data: str
    ref: str


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Finding:
    id: int
    branch_id: str
    department_id: str
    text: str
    status: str
    escalated: bool
    project_ref: str | None
    raised_by: int
    created_at: datetime
    updated_at: datetime
    decision: str | None = None
    """The Monday meeting's decision, once a leader has recorded one."""
    assigned_department: str | None = None
    decision_due: str | None = None
    """The local day (YYYY-MM-DD) the decision is due."""


@dataclass(frozen=True, slots=True)
class FindingEvent:
    action: str
    text: str
    person_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GroupBinding:
    channel: str
    chat_id: str
    branch_id: str
    active: bool


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    title: str
    category: str
    lead_id: int
    lead_name: str
    expected_benefit_fen: int
    branches: tuple[str, ...]
    idea_ids: tuple[int, ...]
    verified_fen: int
    rewarded_fen: int
    last_progress: str | None
    last_percent: int | None
    last_progress_at: datetime | None
    created_at: datetime

    @property
    def number(self) -> str:
        return f"P{self.id:02d}"


@dataclass(frozen=True, slots=True)
class Benefit:
    id: int
    project_id: int
    amount_fen: int
    text: str
    claimed_by: int
    status: str
    decided_at: datetime | None
    created_at: datetime
    quantity: str | None = None
    """A decimal as text ('1740'), when the amount is quantity × unit price."""
    unit: str = ""
    unit_price_fen: int | None = None
    period: str | None = None
    """The month the benefit was made in, 'YYYY-MM'."""


@dataclass(frozen=True, slots=True)
class KeyPoint:
    """A part of a key project one branch owns, with its own progress."""

    id: int
    project_id: int
    branch_id: str
    title: str
    due_month: str
    percent: int | None
    """The latest percentage reported on it; None before any."""
    last_text: str | None
    last_at: datetime | None
    group_id: int | None = None
    """The party group of the branch that owns it; None: the branch as a whole."""


@dataclass(frozen=True, slots=True)
class Kpi:
    """A project's measure: baseline, target and the values recorded, oldest first (decimals
    as text)."""

    id: int
    project_id: int
    name: str
    unit: str
    baseline: str
    target: str
    values: tuple[tuple[str, datetime], ...]

    @property
    def current(self) -> str | None:
        return self.values[-1][0] if self.values else None


class VerifiedBenefit(NamedTuple):
    verified_at: datetime
    amount_fen: int
    project_id: int


class RewardShare(NamedTuple):
    """One recipient of a reward: a person, a branch, or a party group (`group_id`, with its
    branch in `branch_id`)."""

    person_id: int | None
    branch_id: str | None
    label: str
    amount_fen: int
    group_id: int | None = None


class PendingClaim(NamedTuple):
    """A verified benefit claim not yet fully rewarded nor set aside."""

    benefit_id: int
    project_id: int
    amount_fen: int
    rewarded_fen: int
    """The part of `amount_fen` that rewards have already taken as their basis."""
    verified_at: datetime

    @property
    def open_fen(self) -> int:
        return self.amount_fen - self.rewarded_fen


class RewardReceived(NamedTuple):
    """A reward naming a person, as that person sees it."""

    project_number: str
    title: str
    amount_fen: int
    at: datetime


@dataclass(frozen=True, slots=True)
class InviteCode:
    """An unused one-time code of one person, as stored: a salted hash, never the code."""

    id: int
    person_id: int
    salt: str
    code_hash: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class BindRequest:
    """A worker's request that their branch secretary vouch for a chat identity."""

    id: int
    person_id: int
    channel: str
    external_id: str
    status: str


@dataclass(frozen=True, slots=True)
class Achievement:
    """A result beyond money: a method (管理法 / 操作法), an award or a patent, recorded
    against a project (P01) or an idea (#12), or both when the idea belongs to a project."""

    id: int
    kind: str
    title: str
    note: str
    project_id: int | None
    idea_id: int | None
    person_id: int
    person_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class QuarterComment:
    """A leader's comment on one quarterly report (领导点评)."""

    id: int
    report_id: int
    person_id: int
    person_name: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class QuarterReport:
    """A secretary's report on one key project of the branch for one quarter (2026-Q4): the
    quarter's progress, the problems and the next steps, with the leaders' comments."""

    id: int
    quarter: str
    project_id: int
    branch_id: str
    progress: str
    problems: str
    next_steps: str
    person_id: int
    person_name: str
    reported_at: datetime
    comments: tuple[QuarterComment, ...] = ()


@dataclass(frozen=True, slots=True)
class WebSession:
    """A browser session of the web 看板: whose, of which mine, since and until when."""

    id: int
    mine: str
    person_id: int
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    user_agent: str


@dataclass(frozen=True, slots=True)
class WebAudit:
    """One write done through the web 看板."""

    at: datetime
    mine: str
    person_id: int | None
    action: str
    target: str
    detail: str
