"""How typed text becomes arguments: one normaliser for what people send and one parser for
the numbers in it.

Phones type full-width forms (`／findings`, `E001：5000，jj1：2200`, `｜`), and Python's
`str.isdigit()` is true for "①" and "²", which `int()` rejects; an id beyond 64 bits makes
SQLite raise. So the router folds the forms once, removes control characters, and every
number in an argument goes through `number`, which takes the digits 0-9 only and a bounded
value.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

MAX_ID = 2_147_483_647
"""No id, page or count in this system comes near it; anything longer is a typo."""

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20  # the ideographic space
_PUNCTUATION = {ord("、"): ord(","), ord("。"): ord(".")}
_DIGITS = re.compile(r"[0-9]{1,10}")


def fold(text: str) -> str:
    """Full-width ASCII forms (／，：｜１２) as their ASCII selves, for commands."""
    return text.translate(_FULL_WIDTH)


def fold_separators(text: str) -> str:
    """Also 、 and 。 as , and . (in lists of ids and amounts)."""
    return fold(text).translate(_PUNCTUATION)


def clean(text: str) -> str:
    """Text without control characters (NUL, BEL, ESC of ANSI sequences …); line breaks and
    tabs stay."""
    if text.isprintable():
        return text
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co")
    )


def is_command(text: str) -> bool:
    return fold(text[:1]) == "/"


def number(text: str, prefixes: str = "#") -> int | None:
    """'12' or '#12' → 12 (one prefix letter of `prefixes`, any case: 'P07' with 'P');
    None for anything else: '①', '²', '-3', '1.5', or more than ten digits."""
    clean_text = text.strip()
    if clean_text[:1].upper() in prefixes.upper() and clean_text[:1]:
        clean_text = clean_text[1:]
    if not _DIGITS.fullmatch(clean_text):
        return None
    value = int(clean_text)
    return value if value <= MAX_ID else None


_DECIMAL = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{1,6})?")


def decimal(text: str) -> Decimal | None:
    """'16.07' → Decimal('16.07'); None for '①', '1e3', 'nan', '1.2.3' or more than twelve
    digits before the point (a measure, a quantity: never a float's rounding)."""
    clean_text = text.strip()
    return Decimal(clean_text) if _DECIMAL.fullmatch(clean_text) else None


_AMOUNT = r"[+-]?[0-9][0-9.]*(?:\s*(?:万元|万|元))?"
_FIRST_SHARE = re.compile(r"\s*([^\s:,;]+)\s*:\s*(" + _AMOUNT + r"|[^\s,;]*)")
_NEXT_SHARE = re.compile(
    r"\s*[,;]\s*([^\s:,;]+)\s*:\s*(" + _AMOUNT + r"|[^\s,;]*)"
    r"|\s+([^\s:,;]+)\s*:\s*(" + _AMOUNT + ")"
)


def shares(text: str) -> tuple[list[tuple[str, str]], str]:
    """'E001:2000, jj1：3000 备注' → ([('E001', '2000'), ('jj1', '3000')], '备注').

    Shares are separated by commas or semicolons (full-width too: 'E001：5000；jj1：2200'),
    or spaces before one that has a number; an amount may be written '5 万'; what follows
    the last share is the note."""
    text = fold_separators(text)
    match = _FIRST_SHARE.match(text)
    found = []
    while match is not None:
        who, amount = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
        found.append((who, re.sub(r"\s+", "", amount)))
        position = match.end()
        match = _NEXT_SHARE.match(text, position)
    rest = text[position:] if found else text
    return found, rest.strip(" ,;\t\n")


def looks_like_percent(text: str) -> bool:
    """'60', '60%', '-5', '100.5%', '²%': a number the person meant as a percentage."""
    body = text.strip().lstrip("+-").removesuffix("%")
    return bool(body) and all(ch.isdigit() or ch == "." for ch in body)


def looks_like_project(text: str) -> bool:
    """'P07', 'p7', 'P²': a word the person meant as a key project's number."""
    return len(text) > 1 and text[0] in "Pp" and all(ch.isdigit() for ch in text[1:])


def percent(text: str) -> int | None:
    """A whole percentage 0-100 ('60' or '60%'); None otherwise."""
    value = number(text.strip().removesuffix("%"), prefixes="")
    return value if value is not None and value <= 100 else None


def shown(text: str, length: int = 20) -> str:
    """A piece of the person's input, quoted back in a reply."""
    text = clean(text).replace("\n", " ")
    return text if len(text) <= length else text[:length] + "…"


_FIELD_END = re.compile(r"[\s,:|]+")


def split_field(text: str) -> tuple[str, str]:
    """The first word of an argument and the rest: '1 说明', '1,说明', 'jj1:90', 'jj1|90'
    (a phone's ，：｜ arrive folded) → ('1', '说明'); the rest is kept as typed."""
    text = text.strip()
    match = _FIELD_END.search(text)
    if match is None:
        return text, ""
    return text[: match.start()], text[match.end() :].strip()
