"""Amounts of money: typed by people in yuan, stored as integer fen, shown as yuan or 万元."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from handlers.parsing import fold

MAX_YUAN = Decimal(1_000_000_000)
_AMOUNT = re.compile(r"^([0-9]+(?:\.[0-9]{1,2})?)(万)?(?:元)?$")
_LEADING = re.compile(r"\s*([+-]?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(万元|万|元)?(?=\s|$)(.*)", re.S)


def parse_yuan(text: str) -> int | str:
    """Fen for '40000', '4万', '4.5万元', '40,000', '5 万'; else the Chinese reason it is not
    an amount."""
    clean = re.sub(r"\s+", "", fold(text)).replace(",", "")
    if clean.startswith("-"):
        return "金额要大于 0。"
    match = _AMOUNT.match(clean)
    if match is None:
        return f"“{text[:20]}”不是金额,请写数字,例如 40000 或 4万。"
    try:
        yuan = Decimal(match.group(1)) * (10_000 if match.group(2) else 1)
    except InvalidOperation:
        return f"“{text[:20]}”不是金额。"
    if yuan <= 0:
        return "金额要大于 0。"
    if yuan > MAX_YUAN:
        return "金额超过 10 亿元,请核对。"
    return int(yuan * 100)


def take_amount(text: str) -> tuple[str, str]:
    """Split 'AMOUNT rest' where the amount may be written '5 万' or '40000元'; a text that
    does not start with a number gives its first word as the (bad) amount."""
    match = _LEADING.match(fold(text))
    if match is None:
        first, _, rest = text.strip().partition(" ")
        return first, rest.strip()
    return match.group(1) + (match.group(2) or ""), match.group(3).strip()


def format_yuan(fen: int) -> str:
    """12,345.50 元 below 10,000 yuan; 4.00 万元 from there."""
    if abs(fen) >= 1_000_000:
        return f"{fen / 1_000_000:,.2f} 万元"
    return f"{fen / 100:,.2f} 元"
