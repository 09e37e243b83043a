"""Amounts of money: typed by people in yuan, stored as integer fen, shown as yuan or 万元."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

from handlers.parsing import decimal, fold

MAX_YUAN = Decimal(1_000_000_000)
_AMOUNT = re.compile(r"^([0-9]+(?:\.[0-9]{1,2})?)(万)?(?:元)?$")
_LEADING = re.compile(r"\s*([+-]?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(万元|万|元)?(?=\s|$)(.*)", re.S)
_TIMES = "×*✕✖"
"""Multiplication signs people type; the full-width ＊ arrives folded as *."""
_PRODUCT = re.compile(
    rf"\s*(?P<left>[^\s{_TIMES}]*)\s*[{_TIMES}]\s*(?P<right>(?:[0-9][^\s{_TIMES}]*)?)"
    r"(?:\s+(?P<yuan>元(?:/\S*)?)(?=\s|$))?(?P<rest>.*)",
    re.S,
)
_QUANTITY = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?)([^\s0-9.,|]{0,6})$")
_PRICE = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]{1,2})?)(元|万元|万)?(?:/[^\s0-9]{1,6})?$")


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


class Product(NamedTuple):
    """A benefit proved as quantity × unit price: '1740套×23元'."""

    quantity: str
    """A decimal as text: '1740'."""
    unit: str
    price_fen: int
    amount_fen: int


def take_product(text: str) -> tuple[str, str] | None:
    """('1740套×23元', 'rest') when `text` starts with a multiplication ('1740 × 23 元',
    '1740*23'); None when it does not (then it may be an amount)."""
    match = _PRODUCT.match(fold(text))
    if match is None:
        return None
    expression = f"{match['left']}×{match['right']}{match['yuan'] or ''}"
    return expression, match["rest"].strip()


def parse_product(text: str) -> Product | str:
    """The Product written '1740套×23元' (full-width ＊, '1740 × 23 元', '23元/套'), or the
    Chinese reason it is not one."""
    match = _PRODUCT.match(fold(text))
    if match is None or match["rest"].strip():
        return f"“{text[:20]}”看不懂,请写 数量×单价,例如 1740套×23元。"
    left, right = match["left"], match["right"] + (match["yuan"] or "")
    if not left:
        return "请在 × 前写上数量,例如 1740套×23元。"
    if not right:
        return "请在 × 后写上单价,例如 1740套×23元。"
    quantity = _QUANTITY.match(left)
    amount = decimal(quantity.group(1).replace(",", "")) if quantity else None
    if quantity is None or amount is None:
        return f"数量“{left[:20]}”要用数字 0-9 写,例如 1740套。"
    if amount <= 0:
        return "数量要大于 0。"
    price = _PRICE.match(right)
    if price is None:
        return f"单价“{right[:20]}”要用数字写,例如 23元。"
    price_fen = parse_yuan(price.group(1) + (price.group(2) or ""))
    if isinstance(price_fen, str):
        return f"单价:{price_fen}"
    fen = (amount * price_fen).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if fen > MAX_YUAN * 100:
        return "金额超过 10 亿元,请核对。"
    return Product(_plain(amount), quantity.group(2), price_fen, int(fen))


def _plain(value: Decimal) -> str:
    """'1740' for 1740, '2.5' for 2.50: a decimal without trailing zeros or an exponent."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_product(quantity: str, unit: str, price_fen: int, amount_fen: int) -> str:
    """'1,740 套 × 23.00 元 = 40,020.00 元': the calculation in full yuan, whatever the size."""
    whole, _, fraction = quantity.partition(".")
    shown = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return (
        f"{shown}{f' {unit}' if unit else ''} × {format_exact(price_fen)} = "
        f"{format_exact(amount_fen)}"
    )


def format_exact(fen: int) -> str:
    """'40,020.00 元' (never 万元): a calculation's figures as they add up."""
    return f"{fen / 100:,.2f} 元"


def format_yuan(fen: int) -> str:
    """12,345.50 元 below 10,000 yuan; 4.00 万元 from there."""
    if abs(fen) >= 1_000_000:
        return f"{fen / 1_000_000:,.2f} 万元"
    return f"{fen / 100:,.2f} 元"
