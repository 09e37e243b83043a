"""The life of a golden idea: submitted, classified, indexed for similarity, reviewed, moved
along its statuses; every step told to its authors."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import parsing
from handlers.messages import Incoming, IncomingAttachment, ReadAhead
from handlers.notify import notify
from handlers.rules import attachments, audience
from handlers.services import Services
from nlp import Prediction, similarity
from storage import Branch, Idea, Person, Recipient, WaitingIdea

STATUS_LABELS = {
    "submitted": "已提交",
    "under_review": "审核中",
    "adopted": "已采纳",
    "merged": "已合并",
    "not_adopted": "未采纳",
    "implemented": "已实施",
    "rewarded": "已奖励",
    "withdrawn": "已撤回",
}
NEXT_STATUSES = {
    "submitted": {"under_review", "adopted", "merged", "not_adopted"},
    "under_review": {"adopted", "merged", "not_adopted"},
    "adopted": {"implemented"},
    "implemented": {"rewarded"},
    "not_adopted": {"under_review"},
}
ADOPTED = {"adopted", "implemented", "rewarded"}
"""Statuses that count as adopted in the figures."""
UNCOUNTED = frozenset({"withdrawn"})
"""Statuses a person's or a group's idea count leaves out."""


def year_start(local: datetime) -> datetime:
    """The first moment of `local`'s year, in its zone: what "this year" counts from."""
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


DIGEST_DAYS = 7
DIGEST_SHOWN = 15


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def meaningful_chars(text: str) -> int:
    """Letters, digits and Chinese characters; emoji and punctuation do not count."""
    return sum(1 for ch in text if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Submission:
    idea: Idea
    prediction: Prediction
    similar: list[Idea]
    """Up to three earlier ideas like this one (for leaders to merge)."""
    unsure: bool
    """The classifier is not confident: ask the author to choose."""


async def submit(
    services: Services,
    person: Person,
    channel: str,
    text: str,
    files: Sequence[IncomingAttachment] = (),
    pending: Sequence[int] = (),
    ahead: ReadAhead | None = None,
) -> Submission | None:
    """Classify and store an idea with its attachments; None when the text is too short.

    The similar ideas come from `ahead` when the router's prepare step searched for this
    text before the write transaction; otherwise they are searched here, still on the
    read connection and before the idea is stored. Only the idea's own indexing is part
    of the write."""
    text = text.strip()
    if meaningful_chars(text) < services.settings.min_idea_chars:
        return None
    prediction = services.classifier.classify(text)
    words = services.classifier.terms(text)
    if ahead is not None and ahead.idea_text == text:
        similar = list(ahead.similar)
    else:
        similar = await similar_ideas(services, words)
    idea = await services.repos.ideas.add(
        author=person,
        text=text,
        category=prediction.category,
        confidence=prediction.confidence,
        channel=channel,
        now=services.now(),
    )
    await services.repos.ideas.index_terms(idea.id, words)
    await services.repos.attachments.attach(pending, idea.id, person.id)
    await attachments.keep(services, person.id, channel, files, idea_id=idea.id)
    unsure = prediction.confidence < services.settings.confidence_threshold
    return Submission(idea, prediction, similar, unsure)


def idea_text(msg: Incoming, services: Services) -> str | None:
    """The text this update would submit as an idea (plain text in a private chat, or
    `/idea …` anywhere), or None when it cannot be one."""
    if msg.kind != "message" or msg.callback is not None:
        return None
    text = msg.text.strip()
    if parsing.is_command(text):
        word, _, rest = parsing.fold(text).partition(" ")
        if word[1:].split("@", 1)[0].lower() != "idea":
            return None
        text = rest.strip()
    elif msg.chat_type != "private":
        return None
    if len(text) > services.settings.max_text_chars:
        return None
    if meaningful_chars(text) < services.settings.min_idea_chars:
        return None
    return text


async def prepare(msg: Incoming, services: Services) -> Incoming:
    """The router's prepare step for ideas: search the similar ones for the text the
    update may submit, on the read connection, before the write transaction begins.

    A wasted search (the text turns out to be an answer to a conversation, say) costs a
    few reads; a text `submit` does not recognise is searched again there."""
    text = idea_text(msg, services)
    if text is None:
        return msg
    similar = await similar_ideas(services, services.classifier.terms(text))
    return dataclasses.replace(msg, ahead=ReadAhead(text, tuple(similar)))


RARE_TERMS = 12
"""Candidates hold one or more of this many of the new idea's rarest terms…"""
PER_TERM = 50
"""…among the latest this many ideas holding each, so a common term costs no more than a
rare one…"""
CANDIDATES = 30
"""…and the ones with the most idf weight of those terms are scored."""
SIMILAR_SHOWN = 3


async def similar_ideas(
    services: Services, words: Sequence[str], indexed: int | None = None
) -> list[Idea]:
    """Up to three stored ideas like one with these words, best first.

    `indexed` is the id of the stored idea these words are of, when it is already indexed
    (the review queue): it is left out and its words are counted once.

    Bounded whatever the number of stored ideas: the document counts pick the idea's
    `RARE_TERMS` rarest terms (those carry most of the TF-IDF weight a similar idea must
    share), the latest `PER_TERM` live ideas holding each are ranked by the idf weight of
    those they hold, and the best `CANDIDATES` are scored by TF-IDF cosine, with the
    counts as they will be once this idea is indexed (as when the search ran after it).
    It reads the last commit: an idea sent in the same group of updates (see
    `bot.intake.process_stored`), a moment before, is not among the candidates."""
    search = services.repos.search
    own = {w.lower() for w in words}
    total, counts = await search.frequencies(own)
    rare = sorted((w for w in own if counts.get(w, 0) > 0), key=lambda w: (counts[w], w))
    weights = {w: math.log((2 + total) / (2 + counts[w])) + 1 for w in rare[:RARE_TERMS]}
    extra = 0 if indexed is None else 1
    candidates = await search.holding(weights, per_term=PER_TERM, limit=CANDIDATES + extra)
    candidates = [c for c in candidates if c.idea_id != indexed][:CANDIDATES]
    if not candidates:
        return []
    split = [(other_id, other.split()) for other_id, other in candidates]
    # Only the candidates' terms not counted above are read (the total with them): the
    # idea's own were, a moment ago, and the counts only grow.
    asked = {w.lower() for _, ws in split for w in ws} - own
    total, df = await search.frequencies(asked)
    df = {**counts, **df}
    if indexed is None:
        total += 1  # this idea, about to be indexed
        df.update({w: df.get(w, 0) + 1 for w in own})
    scored = similarity.best(words, split, total, df)
    threshold = services.settings.similarity_threshold
    found = [other_id for score, other_id in scored[:SIMILAR_SHOWN] if score >= threshold]
    return await search.ideas(found)


async def confirm(services: Services, idea: Idea) -> None:
    await services.repos.ideas.confirm(idea.id, services.now())


def withdraw_refusal(idea: Idea, person: Person) -> str | None:
    """Why `person` may not withdraw the idea (only its author, while nobody has reviewed
    it), or None."""
    if idea.author_id != person.id:
        return f"金点子 #{idea.id} 不是您提交的,只有作者本人可以撤回。"
    if idea.status == "withdrawn":
        return f"金点子 #{idea.id} 已经撤回了。"
    if idea.status != "submitted":
        return (
            f"金点子 #{idea.id} 已经有人审核(现在是“{status_label(idea.status)}”),不能撤回了。"
            "如需更正,请联系支部书记。"
        )
    return None


async def withdraw(services: Services, idea: Idea, person: Person) -> str | None:
    """Withdraw an idea nobody has reviewed yet, kept in its history; a refusal or None."""
    refusal = withdraw_refusal(idea, person)
    if refusal:
        return refusal
    await services.repos.ideas.move(idea, "withdrawn", person.id, "", services.now())
    return None


async def set_category(services: Services, idea: Idea, category: str, person: Person) -> bool:
    """Correct the category; False when there is no such category."""
    if category not in {c.id for c in services.classifier.categories}:
        return False
    await services.repos.ideas.change_category(idea, category, person.id, services.now())
    return True


async def tell_authors(services: Services, idea: Idea, text: str, key: str) -> None:
    """The idea's author and the authors of ideas merged into it."""
    authors = [idea.author_id, *await services.repos.ideas.merged_authors(idea.id)]
    recipients: list[Recipient] = []
    for author in dict.fromkeys(authors):
        recipients += await audience.person(services, author)
    await notify(services, recipients, text, key=key)


def may_move(idea: Idea, status: str) -> bool:
    return status in NEXT_STATUSES.get(idea.status, set())


async def move(
    services: Services,
    person: Person,
    idea: Idea,
    status: str,
    reason: str,
    merged_into: int | None = None,
) -> str | None:
    """Move an idea along its lifecycle and tell its authors; a refusal reason or None."""
    if not may_move(idea, status):
        return (
            f"金点子 #{idea.id} 现在是“{status_label(idea.status)}”,"
            f"不能直接改为“{STATUS_LABELS[status]}”。"
        )
    event = await services.repos.ideas.move(
        idea, status, person.id, reason, services.now(), merged_into
    )
    why = f",原因:{reason}" if reason else ""
    await tell_authors(
        services,
        idea,
        f"您的金点子 #{idea.id}「{idea.text[:20]}」有了新进展:{STATUS_LABELS[status]}{why}。",
        key=f"idea:{idea.id}:history:{event}",
    )
    return None


@dataclass(frozen=True, slots=True)
class BranchWeek:
    """A branch's week of ideas, for its secretaries."""

    branch: Branch
    recipients: tuple[Recipient, ...]
    new: list[Idea]
    """The newest DIGEST_SHOWN of the week, oldest first."""
    waiting: int
    new_count: int
    """Every idea of the week."""


OVERDUE_SHOWN = 10
"""The oldest ideas listed to the leaders among those waiting too long for a first review."""


@dataclass(frozen=True, slots=True)
class Overdue:
    """The ideas waiting longer than `days` for their first review, at a job's clock."""

    days: int
    count: int
    oldest: list[WaitingIdea]
    """The oldest OVERDUE_SHOWN, oldest first."""
    branch_names: dict[str, str]


async def overdue_reviews(services: Services, at: datetime) -> Overdue:
    """Ideas still submitted `review_overdue_days` after they came in, as of `at`."""
    days = services.settings.review_overdue_days
    repos = services.repos
    count, oldest = await repos.ideas.waiting_since(at - timedelta(days=days), OVERDUE_SHOWN)
    names = {b.id: b.name for b in await repos.org.branches()} if count else {}
    return Overdue(days, count, oldest, names)


async def weekly_digests(services: Services, at: datetime) -> list[BranchWeek]:
    """Each branch with a secretary: ideas of the last seven days and those awaiting review."""
    repos = services.repos
    since = at - timedelta(days=DIGEST_DAYS)
    counts = await repos.ideas.week_counts(since)
    newest = await repos.ideas.newest(since, per_branch=DIGEST_SHOWN)
    weeks = []
    for branch in await repos.org.branches():
        recipients = await audience.secretaries(services, branch.id)
        if not recipients:
            continue
        new, waiting = counts.get(branch.id, (0, 0))
        weeks.append(BranchWeek(branch, tuple(recipients), newest.get(branch.id, []), waiting, new))
    return weeks
