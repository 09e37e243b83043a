"""Times in the database: UTC ISO-8601 text, shared by every repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def to_db_time(moment: datetime) -> str:
    """Times are stored as UTC ISO-8601 text, which sorts chronologically."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def bucket_case(column: str, boundaries: Sequence[datetime]) -> tuple[str, list[str]]:
    """A SQL expression giving the bucket i with boundaries[i] <= column < boundaries[i + 1]
    (the last bucket open-ended), and its parameters. Rows before boundaries[0] are the
    caller's WHERE to leave out. Boundaries are instants, so local months work in any zone."""
    if not boundaries:
        raise ValueError("no boundaries")
    stamps = [to_db_time(b) for b in boundaries[1:]]
    whens = "".join(f" WHEN {column} < ? THEN {i}" for i in range(len(stamps)))
    return (f"CASE{whens} ELSE {len(stamps)} END" if stamps else "0"), stamps
