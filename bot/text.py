"""Splitting long replies to fit a platform's message limit."""

from __future__ import annotations

from collections.abc import Callable


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


def is_number(text: str) -> bool:
    """Only 0–9: `str.isdigit()` is also true for "①" and "²", which `int()` refuses."""
    return text.isascii() and text.isdigit()
