"""The choices the 看板's project and findings boards offer in their filters.

The boards themselves come from handlers/board.py; a filter may only offer what the viewer
could find on the unfiltered board (the leads and branches of the projects they may see),
so a drop-down never names a project lead or branch outside their scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import board
from handlers.services import Services
from storage import Person


@dataclass(frozen=True, slots=True)
class ProjectFilters:
    leads: tuple[tuple[int, str], ...]
    """(person id, name) of the leads of the projects in the viewer's scope."""
    branches: tuple[tuple[str, str], ...]
    """(branch id, name) of the branches taking part in those projects."""
    categories: tuple[tuple[str, str], ...]
    """(category id, label) of every configured category."""


async def project_filters(services: Services, viewer: Person) -> ProjectFilters | None:
    """What /projects' filters offer this viewer; None when the board is not theirs."""
    everything = await board.projects_board(services, viewer)
    if everything is None:
        return None
    leads: dict[int, str] = {}
    branches: dict[str, str] = {}
    for column in everything.columns:
        for project in column.projects:
            leads.setdefault(project.lead_id, project.lead_name)
            branches.update(project.branches)
    order = {b.id: n for n, b in enumerate(await services.repos.org.branches())}
    return ProjectFilters(
        tuple(sorted(leads.items(), key=lambda lead: lead[1])),
        tuple(sorted(branches.items(), key=lambda b: order.get(b[0], len(order)))),
        tuple((c.id, c.label) for c in services.classifier.categories),
    )


@dataclass(frozen=True, slots=True)
class FindingFilters:
    departments: tuple[tuple[str, str], ...]
    """(department id, name) of every configured department."""
    states: tuple[tuple[str, str], ...]
    """(state, label) in board.STATES' order."""


async def finding_filters(services: Services) -> FindingFilters:
    """What /findings' filters offer: the departments and the states."""
    departments = await services.repos.org.department_names()
    return FindingFilters(
        tuple((d.id, d.name) for d in departments),
        tuple((s, board.STATE_LABELS[s]) for s in board.STATES),
    )
