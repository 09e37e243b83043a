"""The document counts of the similar-idea search: one statement with the terms as one list
parameter on both backends, so its limits are not the placeholders'."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import Repositories
from tests.contract.seed import Staff

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
