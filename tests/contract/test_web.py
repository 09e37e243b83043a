"""Contract: the web 看板's one-time links, sessions and audit record (`repos.web`)."""

from __future__ import annotations

import hashlib

from storage import Repositories
from tests.contract.seed import Staff, at


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def test_a_link_is_used_once_and_only_before_it_expires(
    repos: Repositories, staff: Staff
) -> None:
    web = repos.web
    leader = staff.leader.id
    await web.add_link(digest("a"), "main", leader, at(), at(minutes=10))
    await web.add_link(digest("b"), "main", leader, at(), at(minutes=10))
    assert await web.link_state(digest("a"), at(minutes=1)) == "open"
    assert await web.link_state(digest("a"), at(minutes=1)) == "open"  # looking uses nothing
    assert await web.use_link(digest("a"), at(minutes=1)) == ("main", leader)
    assert await web.use_link(digest("a"), at(minutes=2)) is None
    assert await web.link_state(digest("a"), at(minutes=2)) == "used"
    assert await web.link_state(digest("b"), at(minutes=10)) == "expired"
    assert await web.use_link(digest("b"), at(minutes=10)) is None
    assert await web.link_state(digest("nope"), at()) == "unknown"
    assert await web.use_link(digest("nope"), at()) is None


async def test_only_hashes_are_stored(repos: Repositories, staff: Staff) -> None:
    await repos.web.add_link(digest("secret-token"), "main", staff.leader.id, at(), at(minutes=5))
    await repos.web.open_session(
        digest("secret-session"), "main", staff.leader.id, at(), at(hours=12), "Firefox"
    )
    for table in ("web_links", "web_sessions"):
        rows = await repos.db.fetchall(f"SELECT * FROM {table}")
        text = repr([tuple(r) for r in rows])
        assert "secret-token" not in text and "secret-session" not in text
        assert digest("secret-token") in text or digest("secret-session") in text


async def test_a_session_lives_until_it_expires_or_is_revoked(
    repos: Repositories, staff: Staff
) -> None:
    web = repos.web
    leader, admin = staff.leader.id, staff.admin.id
    first = await web.open_session(digest("s1"), "main", leader, at(), at(hours=12), "Edge")
    second = await web.open_session(digest("s2"), "main", leader, at(), at(hours=1), "Chrome")
    found = await web.session(digest("s1"), at(hours=2))
    assert found is not None and found.id == first and found.person_id == leader
    assert found.mine == "main" and found.user_agent == "Edge"
    assert await web.session(digest("s2"), at(hours=1)) is None  # expired
    assert [s.id for s in await web.live_sessions("main", at(minutes=30))] == [second, first]
    assert await web.live_sessions("other", at()) == []
    assert not await web.revoke(first, "other", admin, at(hours=3))  # another mine's id
    assert await web.revoke(first, "main", admin, at(hours=3))
    assert not await web.revoke(first, "main", admin, at(hours=3))
    assert await web.session(digest("s1"), at(hours=3)) is None
    row = await repos.db.fetchone("SELECT revoked_by FROM web_sessions WHERE id = ?", (first,))
    assert row is not None and row[0] == admin


async def test_last_seen_is_written_at_most_once_a_minute(
    repos: Repositories, staff: Staff
) -> None:
    web = repos.web
    session = await web.open_session(digest("s"), "main", staff.leader.id, at(), at(hours=1), "")
    await web.seen(session, at(minutes=0.5))
    found = await web.session(digest("s"), at(minutes=0.5))
    assert found is not None and found.last_seen_at == at()
    await web.seen(session, at(minutes=2))
    found = await web.session(digest("s"), at(minutes=2))
    assert found is not None and found.last_seen_at == at(minutes=2)


async def test_the_audit_record_keeps_who_did_what_per_mine(
    repos: Repositories, staff: Staff
) -> None:
    web = repos.web
    await web.audit("main", staff.leader.id, "review.adopt", "idea:3", "P01", at())
    await web.audit("main", staff.admin.id, "session.revoke", "session:9", "", at(minutes=1))
    await web.audit("other", staff.admin.id, "session.revoke", "session:1", "", at(minutes=2))
    found = await web.audits("main")
    assert [(a.person_id, a.action, a.target) for a in found] == [
        (staff.admin.id, "session.revoke", "session:9"),
        (staff.leader.id, "review.adopt", "idea:3"),
    ]
    assert found[1].detail == "P01" and found[1].at == at()
