"""The document counts of the similar-idea search: one statement with the terms as one list
parameter on both backends, so its limits are not the placeholders'."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage import Repositories
from storage.errors import StorageError
from storage.port import GROUP_SCOPE
from tests.contract.seed import Staff, add_idea

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def test_counts_of_many_terms_with_quotes_and_brackets(
    repos: Repositories, staff: Staff
) -> None:
    odd = ['"引号"', "it's", "a,b", "[方括号]", "{x}", "back\\slash", "%百分%", "?"]
    idea = await repos.ideas.add(
        author=staff.worker,
        text="有怪字符的建议",
        category="其他",
        confidence=0.5,
        channel="telegram",
        now=T0,
    )
    await repos.ideas.index_terms(idea.id, [*odd, "锚杆"])
    # More terms than SQLite's old chunk of 5,000 placeholders, nearly all unknown.
    asked = [*odd, "锚杆", *(f"词{n}" for n in range(6000))]
    found = await repos.search.frequencies(asked)
    assert found.documents == 1
    assert found.by_term == {t.lower(): 1 for t in [*odd, "锚杆"]}
    assert await repos.ideas.document_frequencies(asked) == found
    assert await repos.search.frequencies([]) == found._replace(by_term={})


async def idea(repos: Repositories, staff: Staff, text: str) -> int:
    return (await add_idea(repos, staff.worker, text, T0)).id


async def test_a_units_counts_are_summed_and_written_as_it_commits(
    repos: Repositories, staff: Staff
) -> None:
    first, second = await idea(repos, staff, "锚杆一"), await idea(repos, staff, "锚杆二")
    async with repos.db.transaction():
        await repos.ideas.index_terms(first, ["锚杆", "Pump"])
        await repos.ideas.index_terms(second, ["锚杆", "巷道"])
        # the unit's own reads do not see its counts: they are written when it commits
        assert await repos.ideas.document_frequencies(["锚杆"]) == (0, {})
    found = await repos.search.frequencies(["锚杆", "pump", "巷道", "别的"])
    assert found == (2, {"锚杆": 2, "pump": 1, "巷道": 1})


async def test_a_savepoint_rolled_back_takes_its_counts_and_a_released_one_keeps_them(
    repos: Repositories, staff: Staff
) -> None:
    kept, dropped, inner = [await idea(repos, staff, f"建议{n}") for n in range(3)]
    async with repos.db.transaction():
        await repos.ideas.index_terms(kept, ["锚杆"])
        with pytest.raises(RuntimeError):
            async with repos.db.transaction():
                await repos.ideas.index_terms(dropped, ["锚杆", "巷道"])
                raise RuntimeError("this update fails")
        async with repos.db.transaction(), repos.db.transaction():
            await repos.ideas.index_terms(inner, ["锚杆", "皮带"])
    found = await repos.search.frequencies(["锚杆", "巷道", "皮带"])
    assert found == (2, {"锚杆": 2, "皮带": 1})


async def test_a_unit_rolled_back_counts_nothing_and_alone_an_index_counts_at_once(
    repos: Repositories, staff: Staff
) -> None:
    with pytest.raises(RuntimeError):
        async with repos.db.transaction():
            await repos.ideas.index_terms(await idea(repos, staff, "建议甲"), ["锚杆"])
            raise RuntimeError("the unit fails")
    assert await repos.search.frequencies(["锚杆"]) == (0, {})
    await repos.ideas.index_terms(await idea(repos, staff, "建议乙"), ["锚杆"])
    assert await repos.search.frequencies(["锚杆"]) == (1, {"锚杆": 1})


async def test_units_side_by_side_do_not_wait_for_each_others_counts(
    repos: Repositories, staff: Staff
) -> None:
    """Every idea counts the total and its words: a unit holding those rows from its first
    idea to its commit made every other unit indexing a word wait for all of it."""
    if repos.db.dialect == "sqlite":
        pytest.skip("SQLite holds one writer at a time: units never run side by side")
    first, second = await idea(repos, staff, "建议一"), await idea(repos, staff, "建议二")
    indexed = asyncio.Event()
    release = asyncio.Event()

    async def slow_unit() -> None:
        async with repos.db.transaction():
            await repos.ideas.index_terms(first, ["锚杆", "巷道"])
            indexed.set()
            await release.wait()

    holder = asyncio.create_task(slow_unit())
    try:
        await indexed.wait()
        async with asyncio.timeout(5):
            async with repos.db.transaction():
                await repos.ideas.index_terms(second, ["锚杆"])
        assert await repos.search.frequencies(["锚杆", "巷道"]) == (1, {"锚杆": 1})
    finally:
        release.set()
        await holder
    assert await repos.search.frequencies(["锚杆", "巷道"]) == (2, {"锚杆": 2, "巷道": 1})


async def test_a_tally_names_plain_tables_and_columns_only(repos: Repositories) -> None:
    with pytest.raises(ValueError, match="not a plain table or column name"):
        await repos.db.tally("idea_term_docs; DROP TABLE ideas", "term", "docs", ["锚杆"])
    assert await repos.search.frequencies(["锚杆"]) == (0, {})


async def test_counts_go_with_a_transaction_sqlite_ended_by_itself(
    repos: Repositories, staff: Staff
) -> None:
    """On a full disk SQLite rolls the whole transaction back itself: the unit's counts go
    with it, not written on their own after it."""
    if repos.db.dialect != "sqlite":
        pytest.skip("only SQLite ends a transaction by itself inside a savepoint")
    first = await idea(repos, staff, "建议一")
    with pytest.raises(StorageError):
        async with repos.db.transaction():
            await repos.ideas.index_terms(first, ["锚杆"])
            with pytest.raises(RuntimeError):
                async with repos.db.transaction():
                    await repos.db.execute("ROLLBACK")  # what SQLite does on SQLITE_FULL
                    raise RuntimeError("database or disk is full")
    assert await repos.search.frequencies(["锚杆"]) == (0, {})


async def test_the_group_scope_counts_nothing(repos: Repositories) -> None:
    if repos.db.dialect == "sqlite":
        pytest.skip("SQLite's group scope is its one mine")
    with pytest.raises(StorageError, match="writes none"):
        await repos.db.scoped(GROUP_SCOPE).tally("idea_term_docs", "term", "docs", ["锚杆"])
    assert await repos.search.frequencies(["锚杆"]) == (0, {})
