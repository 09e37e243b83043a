"""Every feature's table composed into one router."""

from __future__ import annotations

from handlers import (
    achievements,
    admin,
    forms,
    groups,
    ideas,
    lists,
    party_groups,
    project_forms,
    projects,
    quarterly,
    registration,
    reviewing,
    scores,
    supervision,
    web_entry,
)
from handlers.router import Feature, Router


def build_router() -> Router:
    """The router with every feature's table."""
    return Router(features())


def features() -> list[Feature]:
    """Every feature's table, in the order the router composes them."""
    return [
        registration.FEATURE,
        ideas.FEATURE,
        lists.FEATURE,
        groups.FEATURE,
        party_groups.FEATURE,
        supervision.FEATURE,
        reviewing.FEATURE,
        projects.FEATURE,
        achievements.FEATURE,
        scores.FEATURE,
        quarterly.FEATURE,
        admin.FEATURE,
        web_entry.FEATURE,
        forms.feature(
            [
                *supervision.FORMS,
                *scores.FORMS,
                *project_forms.FORMS,
                *admin.FORMS,
                *reviewing.FORMS,
                *quarterly.FORMS,
            ]
        ),
    ]
