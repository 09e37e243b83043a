"""The group office's view across mines (集团党委): each mine's year so far, read by the same
rules as that mine's own /stats, and the mines ranked by how much of their yearly benefit
target is verified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.rules.scores import figures
from handlers.services import MineView


@dataclass(frozen=True, slots=True)
class MineFigures:
    mine_id: str
    name: str
    year: int
    ideas: int
    """This year's ideas, withdrawn ones left out."""
    adopted: int
    verified_fen: int
    target_fen: int

    @property
    def adoption(self) -> float:
        return self.adopted / self.ideas if self.ideas else 0.0

    @property
    def done(self) -> float:
        """Verified benefit / the mine's yearly target."""
        return self.verified_fen / self.target_fen if self.target_fen else 0.0


async def mine_figures(mines: Sequence[MineView]) -> list[MineFigures]:
    """Every mine's figures, ranked: the largest share of the target verified first, then
    the most ideas, then the configured order."""
    found = []
    for view in mines:
        year = await figures(view.services, None)
        found.append(
            MineFigures(
                view.id,
                view.name,
                year.year,
                year.ideas_this_year,
                year.adopted,
                year.verified_fen,
                view.services.settings.yearly_target_fen,
            )
        )
    order = {view.id: n for n, view in enumerate(mines)}
    return sorted(found, key=lambda m: (-m.done, -m.ideas, order[m.mine_id]))
