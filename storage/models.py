"""Plain records the repositories return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
class Attachment:
    id: int
    idea_id: int | None
    kind: str
    file_ref: str


@dataclass(frozen=True, slots=True)
class Conversation:
    state: str
    data: dict[str, Any] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True)
class FindingEvent:
    action: str
    text: str
    person_name: str
    created_at: datetime
