"""Typed repositories over the database, one module per aggregate.

The record types are re-exported here because callers imported them from `storage.repos`
when it was one module; new code imports them from `storage`.
"""

from __future__ import annotations

from storage.models import Benefit, GroupBinding, Project, RosterEntry
from storage.port import SqlDatabase
from storage.repos.achievements import AchievementRepo
from storage.repos.groups import GroupRepo
from storage.repos.ideas import AttachmentRepo, IdeaRepo, IdeaSearch
from storage.repos.jobs import JobRunRepo
from storage.repos.messaging import (
    ConversationRepo,
    HeartbeatRepo,
    InboxRepo,
    MenuRepo,
    OutboxRepo,
)
from storage.repos.mines import MineRepo
from storage.repos.org import OrgRepo
from storage.repos.party_groups import PartyGroupRepo
from storage.repos.people import PeopleRepo
from storage.repos.projects import ProjectRepo
from storage.repos.proofs import ProofRepo
from storage.repos.quarters import QuarterRepo
from storage.repos.scores import ScoreRepo
from storage.repos.supervision import FindingRepo, VisitRepo
from storage.repos.times import from_db_time, to_db_time
from storage.repos.web import WebRepo

__all__ = [
    "AchievementRepo",
    "AttachmentRepo",
    "Benefit",
    "ConversationRepo",
    "FindingRepo",
    "GroupBinding",
    "GroupRepo",
    "HeartbeatRepo",
    "IdeaRepo",
    "IdeaSearch",
    "InboxRepo",
    "JobRunRepo",
    "MenuRepo",
    "MineRepo",
    "OrgRepo",
    "OutboxRepo",
    "PartyGroupRepo",
    "PeopleRepo",
    "Project",
    "ProjectRepo",
    "ProofRepo",
    "QuarterRepo",
    "Repositories",
    "RosterEntry",
    "ScoreRepo",
    "VisitRepo",
    "WebRepo",
    "from_db_time",
    "to_db_time",
]


class Repositories:
    """Every repository over one database."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self.org = OrgRepo(db)
        self.mines = MineRepo(db)
        self.people = PeopleRepo(db)
        self.ideas = IdeaRepo(db)
        self.search = IdeaSearch(db)
        self.attachments = AttachmentRepo(db)
        self.inbox = InboxRepo(db)
        self.heartbeats = HeartbeatRepo(db)
        self.conversations = ConversationRepo(db)
        self.outbox = OutboxRepo(db)
        self.groups = GroupRepo(db)
        self.party_groups = PartyGroupRepo(db)
        self.menus = MenuRepo(db)
        self.findings = FindingRepo(db)
        self.visits = VisitRepo(db)
        self.job_runs = JobRunRepo(db)
        self.projects = ProjectRepo(db)
        self.scores = ScoreRepo(db)
        self.proofs = ProofRepo(db)
        self.achievements = AchievementRepo(db)
        self.quarters = QuarterRepo(db)
        self.web = WebRepo(db)
