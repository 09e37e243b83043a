"""Splitting long replies at line ends, by characters or by bytes."""

from __future__ import annotations

import pytest

from bot.text import split_text


def utf8(text: str) -> int:
    return len(text.encode())


@pytest.mark.parametrize(("limit", "measure"), [(4096, len), (2048, utf8)])
def test_long_text_is_split_at_line_ends(limit: int, measure: object) -> None:
    assert callable(measure)
    lines = [f"第{i}条:" + "锚杆回收复用" * (i % 7 + 1) for i in range(900)]
    text = "\n".join(lines)
    pieces = split_text(text, limit, measure)
    assert len(pieces) > 1
    assert all(measure(p) <= limit for p in pieces)
    assert "\n".join(pieces) == text  # nothing lost, nothing added
    assert all(p.split("\n")[0].startswith("第") for p in pieces)  # cut between lines


def test_a_single_huge_line_is_cut_hard() -> None:
    text = "锚" * 5000
    pieces = split_text(text, 2048, utf8)
    assert "".join(pieces) == text and all(utf8(p) <= 2048 for p in pieces)


def test_short_text_is_one_piece() -> None:
    assert split_text("你好", 10) == ["你好"]
