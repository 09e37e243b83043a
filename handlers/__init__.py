"""Channel-neutral conversation logic: the router, the access rules, the rule core
(`handlers.rules`) and one chat module per feature, composed in `handlers.features`.

Importing this package loads only the neutral types; the feature modules load when the
router is built.
"""

from handlers.messages import Button, Incoming, IncomingAttachment, Member, Outcome, Reply
from handlers.router import Router
from handlers.services import Services, Settings

__all__ = [
    "Button",
    "Incoming",
    "IncomingAttachment",
    "Member",
    "Outcome",
    "Reply",
    "Router",
    "Services",
    "Settings",
]
