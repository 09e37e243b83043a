"""Persistence: one aiosqlite database, numbered migrations and typed repositories.

Only this package speaks SQL or imports aiosqlite.
"""

from storage.db import Database, MigrationError
from storage.models import (
    Attachment,
    Branch,
    Conversation,
    Department,
    Finding,
    FindingEvent,
    Idea,
    OutboxMessage,
    Person,
    Role,
)
from storage.repos import GroupBinding, Repositories, RosterEntry

__all__ = [
    "Attachment",
    "Branch",
    "Conversation",
    "Database",
    "Department",
    "Finding",
    "FindingEvent",
    "GroupBinding",
    "Idea",
    "MigrationError",
    "OutboxMessage",
    "Person",
    "Repositories",
    "Role",
    "RosterEntry",
]
