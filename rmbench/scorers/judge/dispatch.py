"""Which mode judges a comparison set: the scorer's one mode, or RewardBench 2's dispatch.

RewardBench 2's authors judge its Ties subset with ratings (each response rated alone: Ties
rows have several correct answers, so there is no single best of four) and every other subset
best-of-4. Mode ``rewardbench2`` does both in one run, so
one run directory holds all six subsets and the suite's overall score:

* a set is a suite group (the mode compares within groups, since best-of-4 needs the group);
* a set of subset ``Ties`` is rated, one request per response, with the ratings template;
  a set of any other subset is judged best-of-4 under ``rotations`` rotations with the
  four-way template. The subset is :attr:`ScoringItem.subset`, which the runner fills;
* each sub-mode keeps its own counts; the report nests them under the sub-mode's name.

A rated Ties response is cached per (group, prompt, response) like every response of a mode
that compares within groups, so a response that a ``ref:N`` and a ``tied:N`` row share is rated
once per row (``-O mode=ratings`` alone rates it once per run). A deterministic judge gives it
the same rating both times, so the subset's score is the same as a ratings run's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from rmbench.errors import ScoringError
from rmbench.scorers.base import ScoringItem
from rmbench.scorers.judge.modes import (
    BestOf,
    Mode,
    Pairwise,
    Ratings,
    TransportStats,
    stats_dict,
)
from rmbench.scorers.judge.options import REWARDBENCH2

#: The subset RewardBench 2's authors judge by ratings.
RATED_SUBSET = "Ties"


class RewardBench2:
    """Ties rated, every other subset best-of-4 (see the module doc)."""

    name = REWARDBENCH2
    compares_within_group = True

    def __init__(self, rotations: int) -> None:
        self.ratings = Ratings()
        self.best_of = BestOf(rotations)

    @property
    def modes(self) -> tuple[Ratings, BestOf]:
        return self.ratings, self.best_of

    @property
    def stats(self) -> TransportStats:
        """What the judging cost, summed over both sub-modes."""
        total = TransportStats()
        for mode in self.modes:
            for f in fields(TransportStats):
                setattr(total, f.name, getattr(total, f.name) + getattr(mode.stats, f.name))
        return total

    def mode_for(self, members: Sequence[ScoringItem]) -> Ratings | BestOf:
        return self.ratings if members[0].subset == RATED_SUBSET else self.best_of

    def check(self, members: Sequence[ScoringItem]) -> None:
        item = members[0]
        subsets = sorted({m.subset for m in members})
        if len(subsets) > 1:
            raise ScoringError(
                f"{item.ref or item.key}: mode {self.name} picks a mode per subset, and these "
                f"responses compared with each other come from subsets {subsets}"
            )
        if self.mode_for(members) is self.best_of and len(members) != BestOf.size:
            raise ScoringError(
                f"{item.ref or item.key}: mode {self.name} judges subset {item.subset!r} "
                f"best-of-4, which needs exactly 4 responses, and this prompt has "
                f"{len(members)} (only subset {RATED_SUBSET!r} is rated)"
            )

    def report(self) -> dict[str, Any]:
        return {
            **stats_dict(self.stats),
            "ratings": {"subsets": [RATED_SUBSET], **stats_dict(self.ratings.stats)},
            "best-of-4": {
                "subsets": f"all but {RATED_SUBSET}",
                **stats_dict(self.best_of.stats),
            },
        }

    def summary(self) -> str:
        return (
            f"{RATED_SUBSET} by ratings: {self.ratings.summary()}; other subsets by best-of-4: "
            f"{self.best_of.summary()}"
        )


def make_mode(name: str, rotations: int) -> Mode | RewardBench2:
    if name == "pairwise":
        return Pairwise()
    if name == "ratings":
        return Ratings()
    if name == REWARDBENCH2:
        return RewardBench2(rotations)
    return BestOf(rotations)
