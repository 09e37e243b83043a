"""Splitting long replies to fit a platform's message limit; numbers for buttons typed as
text."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

NUMBERS_KEPT = 100
"""How many button labels a chat's numbers are remembered for (the least recent go first)."""


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Pieces of at most `limit` (by `measure`), cut at line ends where possible."""
    if measure(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if measure(current + line) <= limit:
            current += line
            continue
        if current:
            pieces.append(current.rstrip("\n"))
            current = ""
        while measure(line) > limit:  # a single line longer than the limit: cut it
            cut = _longest_prefix(line, limit, measure)
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current.strip():
        pieces.append(current.rstrip("\n"))
    return pieces


def _longest_prefix(line: str, limit: int, measure: Callable[[str], int]) -> int:
    low, high = 1, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(line[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def stable_numbers(
    labels: Sequence[str], held: Mapping[str, int]
) -> tuple[list[int], dict[str, int]]:
    """Numbers for a menu's buttons that stay the same for the same label in every menu of a
    chat: "撤回" keeps its number under every idea, whatever else the menu holds.

    `held` is the chat's label → number assignments, oldest first. A label keeps its number;
    a new one takes the smallest number no other label holds. Returns the numbers in button
    order and the assignments updated (this menu's labels most recent, at most NUMBERS_KEPT)."""
    taken = set(held.values())
    used: set[int] = set()
    numbers: list[int] = []
    fresh: dict[str, int] = {}
    for label in labels:
        number = held.get(label, fresh.get(label))
        if number is None or number in used:  # new, or the same label twice in one menu
            number = next(n for n in itertools.count(1) if n not in taken and n not in used)
            taken.add(number)
            fresh.setdefault(label, number)
        used.add(number)
        numbers.append(number)
    updated = {label: n for label, n in held.items() if label not in labels}
    for label, number in zip(labels, numbers, strict=True):
        updated.setdefault(label, held.get(label, number))
    while len(updated) > NUMBERS_KEPT:
        del updated[next(iter(updated))]
    return numbers, updated
