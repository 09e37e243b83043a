"""Every feature's table composed into one router."""

from __future__ import annotations

from handlers import (
    admin,
    forms,
    groups,
    ideas,
    project_forms,
    projects,
    registration,
    scores,
    supervision,
)
from handlers.router import Router


def build_router() -> Router:
    """The router with every feature's table."""
    return Router(
        [
            registration.FEATURE,
            ideas.FEATURE,
            groups.FEATURE,
            supervision.FEATURE,
            projects.FEATURE,
            scores.FEATURE,
            admin.FEATURE,
            forms.feature([*supervision.FORMS, *scores.FORMS, *project_forms.FORMS, *admin.FORMS]),
        ]
    )
