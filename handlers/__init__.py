"""Channel-neutral conversation logic: one module per feature, composed by the router."""

from handlers import admin, groups, ideas, projects, registration, scores, supervision
from handlers.messages import Button, Incoming, IncomingAttachment, Outcome, Outgoing, Reply
from handlers.router import Router
from handlers.services import Services, Settings


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
        ]
    )


__all__ = [
    "Button",
    "Incoming",
    "IncomingAttachment",
    "Outcome",
    "Outgoing",
    "Reply",
    "Router",
    "Services",
    "Settings",
    "build_router",
]
