"""What a list of ideas asks for: the words typed after /ideas and /search read as a status,
a category, a branch, a month, a page or search words, in any order; the request as kept
behind a list's paging buttons; and the storage filter it becomes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from handlers import parsing
from handlers.rules.ideas import STATUS_LABELS
from handlers.rules.periods import Month
from handlers.services import Services
from storage import Branch, IdeaFilter

STATUS_WORDS = {
    **{label: status for status, label in STATUS_LABELS.items()},
    **{status: status for status in STATUS_LABELS},
    "待审核": "submitted",
    "未审核": "submitted",
    "提交": "submitted",
    "审核": "under_review",
    "采纳": "adopted",
    "不采纳": "not_adopted",
    "合并": "merged",
    "撤回": "withdrawn",
    "实施": "implemented",
    "奖励": "rewarded",
}
"""Status words people type (the labels lists show, the English ids, the verbs)."""
SHOWN_STATUSES = "待审核、审核中、已采纳、不采纳、已合并、已撤回、已实施、已奖励"
_STATUS_LIKE = ("审核", "采纳", "合并", "撤回", "实施", "奖励", "提交")
_BRANCH_ID_LIKE = re.compile(r"[A-Za-z]{1,4}[0-9]{1,3}")
_MONTH_LIKE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*月?|([0-9]{1,2})\s*月(份)?")
MAX_PAGE = 500
"""Deeper pages are read past too many rows (OFFSET) to be worth it: a filter finds faster."""
_DATE_LIKE = re.compile(r"[0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2}日?")
_NUMBER_LIKE = re.compile(r"#?[0-9]+|第\s*([0-9]+)\s*页")


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A list as asked for: every field narrows it; `words` are searched for."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    month: str | None = None
    """'2026-11': ideas created in that local month."""
    words: tuple[str, ...] = ()
    page: int = 1

    def to_json(self) -> str:
        """The request without its page, the same text for the same request."""
        body = {
            "s": sorted(self.statuses),
            "c": sorted(self.categories),
            "b": sorted(self.branches),
            "m": self.month,
            "w": list(self.words),
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, page: int) -> ListRequest | None:
        try:
            body = json.loads(text)
            return cls(
                statuses=tuple(str(s) for s in body["s"]),
                categories=tuple(str(c) for c in body["c"]),
                branches=tuple(str(b) for b in body["b"]),
                month=str(body["m"]) if body["m"] is not None else None,
                words=tuple(str(w) for w in body["w"]),
                page=page,
            )
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def narrowed(self) -> bool:
        return bool(self.statuses or self.categories or self.branches or self.month or self.words)

    def token(self, person_id: int) -> str:
        """The short name of this person's request in paging buttons (64 bytes of callback
        data hold few search words)."""
        digest = hashlib.sha256(f"{person_id}:{self.to_json()}".encode()).hexdigest()
        return digest[:12]


def branch_names(branches: Sequence[Branch]) -> str:
    """Every branch as 'jj1 机掘一队', for a reply that must say which exist."""
    return "、".join(f"{b.id} {short_name(b.name)}" for b in branches)


def short_name(name: str) -> str:
    """'机掘一队党支部' → '机掘一队'."""
    return name.removesuffix("党支部").removesuffix("支部") or name


def find_branch(word: str, branches: Sequence[Branch]) -> Branch | None:
    """A branch by its id (any case) or its name, with or without 党支部."""
    for branch in branches:
        if word.lower() == branch.id.lower() or word in (branch.name, short_name(branch.name)):
            return branch
    return None


def _month(word: str, now: datetime) -> str | None:
    """'2026-11', '2026年11月' → '2026-11'; '11月' → the latest November up to `now`;
    '' for a word that is no month at all; None for one that is a month written wrong."""
    match = _MONTH_LIKE.fullmatch(word)
    if match is None:
        return ""
    if match.group(1) is not None:
        found = Month.parse(f"{match.group(1)}-{int(match.group(2)):02d}")
        return str(found) if found else None
    number = int(match.group(3))
    if not 1 <= number <= 12:
        return None
    year = now.year if number <= now.month else now.year - 1
    return str(Month(year, number))


def parse(
    services: Services, text: str, branches: Sequence[Branch], *, search_only: bool = False
) -> ListRequest | str:
    """The request in `text`, or a polite reply saying which word is wrong.

    With `search_only` (/search) every word but a page number is searched for."""
    categories = {c.id: c.id for c in services.classifier.categories}
    categories.update({c.label: c.id for c in services.classifier.categories})
    request = ListRequest()
    now = services.local(services.now())
    words: list[str] = []
    for word in parsing.fold_separators(text).replace(",", " ").split():
        number_like = _NUMBER_LIKE.fullmatch(word)
        if number_like or word.isnumeric():
            page = parsing.number(number_like[1] if number_like and number_like[1] else word)
            if page is None or page == 0:
                return f"页码要写正整数,“{parsing.shown(word)}”不对。例如:/ideas 2"
            if page > MAX_PAGE:
                return f"最多能翻到第 {MAX_PAGE} 页。请加上状态、支部、月份或关键词,缩小范围。"
            request = replace(request, page=page)
            continue
        if search_only:
            words.append(word)
            continue
        if _DATE_LIKE.fullmatch(word):
            return f"“{parsing.shown(word)}”是一个日期;请按月份筛选,例如 2026-11 或 11月。"
        month = _month(word, now)
        if month is None:
            return f"“{parsing.shown(word)}”不是一个月份,请写成 2026-11 或 11月。"
        if month:
            request = replace(request, month=month)
            continue
        status = STATUS_WORDS.get(word) or STATUS_WORDS.get(word.lower())
        if status is not None:
            request = replace(request, statuses=(*request.statuses, status))
            continue
        category = categories.get(word) or categories.get(word.lower())
        if category is not None:
            request = replace(request, categories=(*request.categories, category))
            continue
        branch = find_branch(word, branches)
        if branch is not None:
            request = replace(request, branches=(*request.branches, branch.id))
            continue
        if word.endswith(_STATUS_LIKE):
            return f"没有“{parsing.shown(word)}”这个状态。可以用:{SHOWN_STATUSES}。"
        if word.endswith("支部") or _BRANCH_ID_LIKE.fullmatch(word):
            return (
                f"没有“{parsing.shown(word)}”这个支部。支部可以写编号或名称:"
                f"{branch_names(branches)}。"
            )
        words.append(word)
    for word in words:
        if not services.classifier.terms(word):
            return f"“{parsing.shown(word)}”太短或太常见,没法搜索,请换一个词。"
    return replace(
        request,
        statuses=tuple(dict.fromkeys(request.statuses)),
        categories=tuple(dict.fromkeys(request.categories)),
        branches=tuple(dict.fromkeys(request.branches)),
        words=tuple(dict.fromkeys(words)),
    )


def storage_filter(services: Services, request: ListRequest) -> IdeaFilter:
    """The filter the repository reads: a local month as two instants, words as the terms
    of the similarity index."""
    since = until = None
    month = Month.parse(request.month) if request.month else None
    if month is not None:
        zone = services.settings.timezone
        since = datetime(month.year, month.number, 1, tzinfo=zone)
        following = (
            Month(month.year + 1, 1) if month.number == 12 else Month(month.year, month.number + 1)
        )
        until = datetime(following.year, following.number, 1, tzinfo=zone)
    terms: dict[str, None] = {}
    for word in request.words:
        terms.update(dict.fromkeys(t.lower() for t in services.classifier.terms(word)))
    return IdeaFilter(
        statuses=request.statuses,
        categories=request.categories,
        branches=request.branches,
        since=since,
        until=until,
        terms=tuple(terms),
    )


def describe(services: Services, request: ListRequest, branches: Sequence[Branch]) -> str:
    """'审核中、修旧利废、机掘一队、2026-11、“锚杆”' (empty when nothing narrows the list)."""
    names = {b.id: short_name(b.name) for b in branches}
    parts = [STATUS_LABELS.get(s, s) for s in request.statuses]
    parts += [services.category_label(c) for c in request.categories]
    parts += [names.get(b, b) for b in request.branches]
    parts += [request.month] if request.month else []
    parts += [f"“{w}”" for w in request.words]
    return "、".join(parts)
