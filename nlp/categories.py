"""The categories an idea is sorted into, as the configuration names them (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    label: str
    keywords: tuple[str, ...] = ()
