"""Names wherever ids are asked: a branch, a department, a person or a party group found by
what people type.

People say 机掘二队, not jj2; 宣传部, not publicity; 张三, not E001. Each lookup takes the id
(any case), the full name, the name without its usual suffix (党支部), or a unique part of the
name, and returns every match: one is the answer, none is "no such", several are a choice to
offer. Full-width forms are folded first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from handlers import parsing
from storage import Branch, Department, PartyGroup, Person

T = TypeVar("T")
BRANCH_SUFFIXES = ("党支部", "支部")
GROUP_NAME_MAX = 16
"""The longest party group name (the schema checks it too)."""


def _key(text: str) -> str:
    return "".join(parsing.fold(text).split()).lower()


def _find(
    items: Sequence[T], text: str, ident: Callable[[T], str], names: Callable[[T], Sequence[str]]
) -> list[T]:
    key = _key(text)
    if not key:
        return []
    by_id = [item for item in items if ident(item).lower() == key]
    if by_id:
        return by_id
    exact = [item for item in items if key in (_key(n) for n in names(item))]
    if exact:
        return exact
    return [item for item in items if any(key in _key(n) for n in names(item))]


def _branch_names(branch: Branch) -> list[str]:
    short = branch.name
    for suffix in BRANCH_SUFFIXES:
        short = short.removesuffix(suffix)
    return [branch.name, short]


def short_branch_name(branch: Branch) -> str:
    """The name people say: 机掘二队 for 机掘二队党支部."""
    return _branch_names(branch)[1] or branch.name


def branches(items: Sequence[Branch], text: str) -> list[Branch]:
    """The branches `text` names: 'jj2', '机掘二队', '机掘二队党支部', '机掘'."""
    return _find(items, text, lambda b: b.id, _branch_names)


def departments(items: Sequence[Department], text: str) -> list[Department]:
    """The departments `text` names: 'publicity', '宣传部', '宣传'."""
    return _find(items, text, lambda d: d.id, lambda d: [d.name])


def people(items: Sequence[Person], text: str) -> list[Person]:
    """The people `text` names: a 工号 ('E001', any case) or a full name (two 张三 are two)."""
    key = _key(text)
    by_number = [p for p in items if p.employee_no.lower() == key]
    return by_number or [p for p in items if _key(p.name) == key]


def party_groups(items: Sequence[PartyGroup], text: str) -> list[PartyGroup]:
    """The party groups of `items` (one branch's, from `groups_of_branch`) that `text` names:
    the full name ('一组'), or a unique part of it ('一'); several when the part fits several."""
    return _find(items, text, lambda g: "", lambda g: [g.name])


def party_group_name(text: str) -> str | None:
    """A new party group's name as stored (folded, trimmed), or None when it is none: empty,
    longer than GROUP_NAME_MAX or with a space inside (commands read it as one word)."""
    name = parsing.fold(text).strip()
    if not name or len(name) > GROUP_NAME_MAX or any(c.isspace() for c in name):
        return None
    return name
