"""Calendar periods the campaign counts in: the month of the 100-point score and the quarter
of the review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_MONTH = re.compile(r"^((?:19|2[0-9])[0-9]{2})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^((?:19|2[0-9])[0-9]{2})-Q([1-4])$")
"""Years 1900-2999: what a campaign's records can name (a year 0 has no calendar)."""


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    number: int

    @classmethod
    def of(cls, local: datetime) -> Month:
        return cls(local.year, local.month)

    @classmethod
    def parse(cls, text: str) -> Month | None:
        """'2026-11' → Month; anything else → None."""
        match = _MONTH.match(text)
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    def __str__(self) -> str:
        return f"{self.year}-{self.number:02d}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.number == 1 else Month(self.year, self.number - 1)

    @property
    def quarter(self) -> Quarter:
        return Quarter(self.year, (self.number - 1) // 3 + 1)


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def of(cls, local: datetime) -> Quarter:
        return Month.of(local).quarter

    @classmethod
    def parse(cls, text: str) -> Quarter | None:
        """'2026-Q4' → Quarter; anything else → None."""
        match = _QUARTER.match(text)
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    @property
    def months(self) -> tuple[Month, Month, Month]:
        first = (self.number - 1) * 3 + 1
        return Month(self.year, first), Month(self.year, first + 1), Month(self.year, first + 2)

    def start(self, local: datetime) -> datetime:
        """Midnight of the quarter's first day, in `local`'s timezone (same year as `local`)."""
        return local.replace(
            year=self.year,
            month=self.months[0].number,
            day=1,
            hour=0,
            minute=0,
            second=0,
            microsecond=0,
        )
