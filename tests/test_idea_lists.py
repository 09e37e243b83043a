"""Finding ideas without knowing their numbers: /ideas with filters and paging, /search, the
/review queue with its buttons, an idea's history, and withdrawing with a confirm step."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import App
from storage import IdeaFilter, IdeaScope
from storage.repos.ideas import listing_query, waiting_query
from tests.support import Chat, RecordingTransport, register_people

ANCHOR = "井下回收复用锚杆,每月能省好几万"
ANCHOR_AGAIN = "回收井下的旧锚杆复用,每月能省好几万元"
BELT = "主井皮带机托辊坏了别扔,拆下来修好再用"
LIGHTS = "巷道照明换成LED灯,每年节电十几万度"
SHIFT = "交接班记录改成电子台账,减少漏项"


@pytest.fixture
async def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    return await register_people(
        chat, "worker", "worker2", "secretary", "other_secretary", "supervisor", "leader"
    )


def sent_to(transport: RecordingTransport, chat_id: str) -> list[str]:
    return [str(p["text"]) for c, p in transport.sent if c == chat_id]


def labels(chat: Chat) -> list[str]:
    return [b["label"] for b in chat.last_buttons]


async def status_of(app: App, idea_id: int) -> str:
    idea = await app.repos.ideas.get(idea_id)
    assert idea is not None
    return idea.status


# -- the queries stay on indexes ----------------------------------------------------------------

SCOPES = {
    "worker": IdeaScope((), author_id=1),
    "secretary": IdeaScope(("jj1",)),
    "supervisor": IdeaScope(("jj1", "jj2", "kj1")),
    "leader": IdeaScope(None),
}


@pytest.mark.parametrize("scope", sorted(SCOPES))
@pytest.mark.parametrize(
    "filters",
    [IdeaFilter(), IdeaFilter(statuses=("under_review",)), IdeaFilter(terms=("锚杆", "回收"))],
    ids=["none", "status", "terms"],
)
async def test_list_queries_read_in_index_order(app: App, scope: str, filters: IdeaFilter) -> None:
    """No sort of the matching rows: a page stops after its rows, however many ideas match."""
    sql, params = listing_query(SCOPES[scope], filters, limit=11, offset=0)
    plan = await app.repos.db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    details = [str(r["detail"]) for r in plan]
    assert not any("TEMP B-TREE" in d for d in details), details


@pytest.mark.parametrize("scope", ["secretary", "leader"])
async def test_the_queue_query_reads_in_index_order(app: App, scope: str) -> None:
    sql, params = waiting_query(SCOPES[scope], after=0, limit=6)
    plan = await app.repos.db.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    details = [str(r["detail"]) for r in plan]
    assert not any("TEMP B-TREE" in d for d in details), details
    assert all("USING" in d or "SCALAR" in d or "SEARCH" in d for d in details), details
