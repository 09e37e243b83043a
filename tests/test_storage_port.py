"""The storage port: its own errors instead of the driver's, named rows, stable imports."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage
from bot.app import App
from bot.roster import RosterProblems, import_roster
from storage import (
    ConstraintViolation,
    Duplicate,
    Idea,
    IdeaEvent,
    Person,
    Recipient,
    StorageError,
)
from storage.repos import Benefit, GroupBinding, Project, Repositories, RosterEntry

from .support import Clock


async def _person(app: App, employee_no: str) -> Person:
    person = await app.repos.people.by_employee_no(employee_no)
    assert person is not None
    return person


async def _idea(app: App, author: Person, text: str, clock: Clock) -> Idea:
    return await app.repos.ideas.add(
        author=author, text=text, category="other", confidence=0.5, channel="console", now=clock()
    )


async def test_linking_an_idea_twice_raises_duplicate(app: App, clock: Clock) -> None:
    repos = app.repos
    author = await _person(app, "E001")
    async with repos.db.transaction():
        idea = await _idea(app, author, "回收锚杆", clock)
        first = await repos.projects.create(
            title="锚杆复用",
            category="repair_reuse",
            lead_id=author.id,
            branches=["jj1"],
            expected_fen=0,
            person_id=author.id,
            now=clock(),
        )
        await repos.projects.link(first, idea.id)
        with pytest.raises(Duplicate):
            await repos.projects.link(first, idea.id)
        with pytest.raises(ConstraintViolation):  # no such project: not a duplicate
            await repos.projects.link(first + 1, idea.id + 1)
    assert await repos.projects.project_of(idea.id) == first
    assert issubclass(Duplicate, StorageError) and issubclass(ConstraintViolation, StorageError)


async def test_binding_a_taken_identity_raises_duplicate(app: App, clock: Clock) -> None:
    people = app.repos.people
    zhang, li = await _person(app, "E001"), await _person(app, "E002")
    await people.bind_identity(zhang.id, "telegram", "100", clock())
    with pytest.raises(Duplicate):  # the chat account is someone else's
        await people.bind_identity(li.id, "telegram", "100", clock())
    with pytest.raises(Duplicate):  # the person has an account on this channel
        await people.bind_identity(zhang.id, "telegram", "101", clock())
    assert await people.identities_of(zhang.id) == [("telegram", "100")]
    assert await people.identities_of(li.id) == []


async def test_roster_taking_anothers_wecom_userid_imports_nothing(
    app: App, tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("E900,新人,jj1,worker,zhangsan\n", encoding="utf-8")  # E001's userid
    before = await app.repos.people.count()
    with pytest.raises(RosterProblems):
        await import_roster(path, app.repos, clock())
    assert await app.repos.people.count() == before
    assert await app.repos.people.by_employee_no("E900") is None


async def test_rows_have_names_and_still_unpack(app: App, clock: Clock) -> None:
    repos = app.repos
    author, secretary = await _person(app, "E001"), await _person(app, "S001")
    await repos.people.bind_identity(author.id, "telegram", "100", clock())
    async with repos.db.transaction():
        idea = await _idea(app, author, "节约用电", clock)
        await repos.ideas.move(idea, "under_review", secretary.id, "看看", clock())
    [event] = await repos.ideas.history(idea.id)
    assert isinstance(event, IdeaEvent)
    assert (event.status, event.reason, event.actor_name) == ("under_review", "看看", "刘书记")
    status, reason, who, when = event  # callers written for bare tuples unpack them
    assert (status, reason, who, when) == (*event[:3], clock())
    [recipient] = await repos.people.identities_of(author.id)
    assert isinstance(recipient, Recipient) and recipient.chat_id == "100"
    names = await repos.org.department_names()
    assert names and dict(names)[names[0].id] == names[0].name
    documents, by_term = await repos.ideas.document_frequencies(["电"])
    assert documents == 0 and by_term == {}


def test_record_types_import_from_storage_and_from_storage_repos() -> None:
    for record in (Benefit, GroupBinding, Project, RosterEntry):
        assert getattr(storage, record.__name__) is record
    assert storage.Repositories is Repositories
