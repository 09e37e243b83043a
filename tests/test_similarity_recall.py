"""The bounded similar-idea search finds what the original search over every term found."""

from __future__ import annotations

from bot.app import App
from nlp.training import load_corpus
from tests.support import recall, similar_before_and_after


async def test_bounded_search_keeps_the_original_hits(app: App) -> None:
    texts = [text for _, text in load_corpus()]
    new = texts[::5]  # a fifth of the shipped texts, submitted against the rest
    stored = [text for n, text in enumerate(texts) if n % 5]
    author = await app.repos.people.by_employee_no("E001")
    assert author is not None
    before, after = await similar_before_and_after(app, author, stored, new)
    share, hits = recall(before, after)
    assert hits >= 50  # the sample has similar ideas to find
    assert share >= 0.95, f"recall {share:.3f} of {hits} hits"
    assert all(len(a) <= 3 for a in after)
